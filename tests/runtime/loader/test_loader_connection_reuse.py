"""The connection kept between invocations: replaced when dead, idle too long or silent."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tapstack.loader.runtime.loader import MAX_IDLE_SECONDS
from tests.runtime.loader.loader_support import LOADER_USER, jsonl, put, record
from tests.runtime.loader.test_loader_exactly_once import run_in_thread, wait_until


def loader_connection_ids(database):
    rows = database.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND DB = %s",
        (LOADER_USER, database.name),
    )
    return sorted(row[0] for row in rows)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SilencingProxy:
    """A TCP relay to the database whose open connections can be made silent: bytes are
    dropped, nothing is closed - what a connection whose network path vanished while Lambda
    was frozen looks like. Connections opened afterwards relay normally."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._links: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            silent = threading.Event()
            self._links.append((client, upstream, silent))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._relay, args=(source, sink, silent), daemon=True
                ).start()

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket, silent: threading.Event) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            if silent.is_set():
                continue
            try:
                sink.sendall(data)
            except OSError:
                return

    def silence(self) -> None:
        for _, _, silent in self._links:
            silent.set()

    def close(self) -> None:
        self._listener.close()
        for client, upstream, _ in self._links:
            client.close()
            upstream.close()


def test_a_kept_connection_killed_by_the_server_is_replaced_on_the_next_invocation(
    make_loader, s3, database, mariadb
):
    loader = make_loader()
    loader.handle_event(put(s3, "incoming/one.jsonl", jsonl([record(1)])))
    [killed] = loader_connection_ids(database)
    with mariadb.root_cursor() as cursor:
        cursor.execute(f"KILL {int(killed)}")
    wait_until(lambda: loader_connection_ids(database) == [])

    result = loader.handle_event(put(s3, "incoming/two.jsonl", jsonl([record(2)])))["objects"][0]

    assert result["status"] == "loaded"
    [replacement] = loader_connection_ids(database)
    assert replacement != killed
    assert sorted(database.events()) == ["evt-000001", "evt-000002"]


def test_a_kept_connection_idle_for_longer_than_the_limit_is_replaced_without_being_used(
    make_loader, s3, database
):
    clock = Clock()
    loader = make_loader(clock=clock)
    loader.handle_event(put(s3, "incoming/one.jsonl", jsonl([record(1)])))
    [first] = loader_connection_ids(database)

    clock.now += MAX_IDLE_SECONDS - 1
    loader.handle_event(put(s3, "incoming/two.jsonl", jsonl([record(2)])))
    assert loader_connection_ids(database) == [first]  # recently used: kept

    clock.now += MAX_IDLE_SECONDS + 1
    loader.handle_event(put(s3, "incoming/three.jsonl", jsonl([record(3)])))

    wait_until(lambda: len(loader_connection_ids(database)) == 1)  # the idle one was closed
    [second] = loader_connection_ids(database)
    assert second != first
    assert MAX_IDLE_SECONDS == 60
    assert sorted(database.events()) == ["evt-000001", "evt-000002", "evt-000003"]


def test_a_kept_connection_that_went_silent_is_replaced_within_seconds_not_the_read_timeout(
    make_loader, s3, database, mariadb
):
    proxy = SilencingProxy(mariadb.host, mariadb.port)
    try:
        # The connection's read timeout stays at its 300 s default; only the ping is short.
        loader = make_loader(connect=database.loader_connect(port=proxy.port), ping_timeout=1)
        loader.handle_event(put(s3, "incoming/before.jsonl", jsonl([record(1)])))
        proxy.silence()
        event = put(s3, "incoming/after.jsonl", jsonl([record(2)]))
        results = {}

        started = time.monotonic()
        thread = run_in_thread(results, "after", lambda: loader.handle_event(event))
        thread.join(30)

        assert not thread.is_alive(), "the invocation hangs on the silent connection"
        assert time.monotonic() - started < 10
        assert results["after"]["objects"][0]["status"] == "loaded"
        assert sorted(database.events()) == ["evt-000001", "evt-000002"]
    finally:
        proxy.close()

"""Tests for the instance web server (tapstack/web/runtime/server.py).

Every test talks to a real server over HTTP on 127.0.0.1: most run it in-process with
make_server() on a thread, a few start the script as a subprocess exactly as systemd does.
The module is loaded from its file because on the instance it runs standalone, outside the
tapstack package.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.runtime.web import instance_server
from tests.runtime.web.instance_server import SERVER_PATH, QuietHandler, server

INSTANCE_ID = "i-0123456789abcdef0"


# --------------------------------------------------------------------------- helpers


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes and read until the server closes: shows exactly what went on the wire."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get_json(port: int, path: str) -> tuple[int, dict]:
    status, headers, body = call(port, "GET", path)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


@contextlib.contextmanager
def serving(settings, instance_id: str | None = INSTANCE_ID, clock=None):
    """Run make_server(settings) on a thread; yields the server (its port is server_port).

    The server probes the database once before it handles the first request; this waits
    for that (with a GET /livez), so a test can change the database right away.
    """
    with instance_server.serving(settings, instance_id, clock) as srv:
        call(srv.server_port, "GET", "/livez")
        yield srv


@pytest.fixture
def settings(tmp_path):
    return server.Settings(
        region="us-east-1",
        role="writer",
        bind="127.0.0.1",
        port=0,
        db_timeout=1.0,
        db_probe_interval=3600,  # only the start-up probe, unless a test calls refresh()
        maintenance_file=str(tmp_path / "maintenance"),
        imds_url=f"http://127.0.0.1:{closed_port()}",
    )


def mysql_packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


MYSQL_GREETING = mysql_packet(
    0,
    b"\x0a8.4.5-fake\x00"  # protocol 10, server version
    + (7).to_bytes(4, "little")  # connection id
    + b"abcdefgh\x00"  # scramble part 1, filler
    + (0xF7FF).to_bytes(2, "little")  # capabilities (low)
    + b"\xff\x02\x00"  # collation, status
    + (0x81FF).to_bytes(2, "little")  # capabilities (high, with PLUGIN_AUTH)
    + b"\x15"
    + b"\x00" * 10
    + b"ijklmnopqrst\x00mysql_native_password\x00",
)
MYSQL_OK = mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00")  # OK after the login


class FakeMySQL:
    """A TCP server on 127.0.0.1 that speaks just enough MySQL for the probe.

    It sends ``greeting`` to each client; if the client logs in, it answers ``login_reply``
    and records everything the client sent (``sessions``). down() makes it reset every
    connection at once (the database is unreachable) and up() brings it back; the port stays
    taken meanwhile, so no other process (tests run in parallel) can pick it up.
    """

    def __init__(self, greeting: bytes = MYSQL_GREETING, login_reply: bytes = MYSQL_OK):
        self.greeting, self.login_reply = greeting, login_reply
        self.sessions: list[bytes] = []
        self.connections = 0  # accepted, also while down
        self.port = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._up = threading.Event()
        self._up.set()

    def down(self) -> None:
        self._up.clear()

    def up(self) -> None:
        self._up.set()

    def start(self) -> FakeMySQL:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.02)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._running.set()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        self._thread = self._listener = None

    def _serve(self) -> None:
        assert self._listener is not None
        while self._running.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the 20 ms accept timeout: look at the running flag again
                continue
            self.connections += 1
            with conn:
                if self._up.is_set():
                    self.sessions.append(self._session(conn))
                else:  # close with a TCP reset
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _session(self, conn: socket.socket) -> bytes:
        received = b""
        conn.settimeout(1)
        try:
            conn.sendall(self.greeting)
            while chunk := conn.recv(4096):
                if not received and self.login_reply:
                    conn.sendall(self.login_reply)
                received += chunk
        except OSError:
            pass
        return received


@pytest.fixture
def database():
    """A fake MySQL server standing in for the database; yields its port."""
    fake = FakeMySQL().start()
    yield fake.port
    fake.stop()


@pytest.fixture
def fake_mysql():
    """Like ``database``, but yields the FakeMySQL itself (to take down, up and inspect)."""
    fake = FakeMySQL().start()
    yield fake
    fake.stop()


def with_db(settings, port: int, **changes):
    return server.Settings(**{**vars(settings), "db_host": "127.0.0.1", "db_port": port, **changes})


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeMetadata(QuietHandler):
    """IMDSv2: PUT /latest/api/token, then GET the instance id with that token."""

    token = "fake-imds-token"
    requests: list[tuple[str, str, http.client.HTTPMessage]] = []

    def do_PUT(self):
        self.requests.append(("PUT", self.path, self.headers))
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        ok = self.path == "/latest/api/token" and ttl is not None
        self._reply(200 if ok else 400, self.token if ok else "missing ttl")

    def do_GET(self):
        self.requests.append(("GET", self.path, self.headers))
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            self._reply(401, "unauthorized")  # what IMDSv2-only instances answer
        elif self.path == "/latest/meta-data/instance-id":
            self._reply(200, "i-0fedcba9876543210")
        else:
            self._reply(404, "not found")


@pytest.fixture
def fake_imds():
    FakeMetadata.requests = []
    imds = ThreadingHTTPServer(("127.0.0.1", 0), FakeMetadata)
    thread = threading.Thread(target=imds.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield imds
    imds.shutdown()
    imds.server_close()
    thread.join(timeout=5)


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPSTACK_")}
    env.update(overrides)
    return env


# --------------------------------------------------------------------------- the page


def test_index_page_shows_region_role_and_instance_id(settings):
    with serving(settings) as srv:
        status, headers, body = call(srv.server_port, "GET", "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "us-east-1" in page
    assert "writer" in page
    assert INSTANCE_ID in page
    assert "<h1>TapStack</h1>" in page


def test_index_page_html_escapes_the_values(settings):
    odd = server.Settings(**{**vars(settings), "project": "Tap & <Stack>"})
    with serving(odd, instance_id="<script>alert(1)</script>") as srv:
        _, _, body = call(srv.server_port, "GET", "/")
    page = body.decode()
    assert "Tap &amp; &lt;Stack&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page


# --------------------------------------------------------------------------- /health


def test_health_returns_200_when_no_database_is_configured(settings):
    with serving(settings) as srv:
        status, headers, _ = call(srv.server_port, "GET", "/health")
        _, report = get_json(srv.server_port, "/health")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert report["status"] == "ok"
    assert report["region"] == "us-east-1"
    assert report["role"] == "writer"
    assert report["instance_id"] == INSTANCE_ID
    assert report["database"] == {
        "configured": False,
        "reachable": None,
        "latency_ms": None,
        "error": None,
    }
    assert report["checks"]["maintenance"] is False


def test_health_returns_200_when_the_database_is_reachable(settings, database):
    with serving(with_db(settings, database)) as srv:
        status, report = get_json(srv.server_port, "/health")
    assert status == 200
    assert report["status"] == "ok"
    assert report["checks"] == {"database": True, "maintenance": False}
    db = report["database"]
    assert db["configured"] is True
    assert db["reachable"] is True
    assert isinstance(db["latency_ms"], float)
    assert db["error"] is None
    assert db["server_version"] == "8.4.5-fake"
    assert db["login"] is None  # no probe user: the probe only reads the greeting
    assert db["unreachable_for_seconds"] is None
    assert db["grace_seconds"] == 180.0


def test_health_returns_503_at_the_first_failed_probe_when_the_grace_is_zero(settings):
    with serving(with_db(settings, closed_port(), db_grace_seconds=0)) as srv:
        status, headers, body = call(srv.server_port, "GET", "/health")
    report = json.loads(body)
    assert status == 503
    assert headers["Cache-Control"] == "no-store"
    assert report["status"] == "unhealthy"
    assert report["database"]["configured"] is True
    assert report["database"]["reachable"] is False
    assert report["database"]["latency_ms"] is None
    assert report["database"]["error"]  # connection refused
    assert report["database"]["unreachable_for_seconds"] == 0.0
    assert report["database"]["grace_seconds"] == 0.0
    assert report["checks"]["database"] is False


def test_health_returns_503_while_the_maintenance_file_exists_and_recovers_once_removed(
    settings, database
):
    flag = Path(settings.maintenance_file)
    with serving(with_db(settings, database)) as srv:
        assert get_json(srv.server_port, "/health")[0] == 200
        flag.write_text("draining us-east-1\n")
        status, report = get_json(srv.server_port, "/health")
        assert status == 503
        assert report["status"] == "unhealthy"
        assert report["checks"]["maintenance"] is True
        assert report["database"]["reachable"] is True  # the database itself is fine
        flag.unlink()  # no probe in between: the maintenance file is checked on each request
        status, report = get_json(srv.server_port, "/health")
    assert status == 200
    assert report["checks"]["maintenance"] is False


# --------------------------------------------------------------------------- grace period


def health_with_probe(srv, clock: FakeClock, seconds: float) -> tuple[int, dict]:
    """Let ``seconds`` pass, run the probe the monitor would run, then GET /health."""
    clock.advance(seconds)
    srv.db_monitor.refresh()
    return get_json(srv.server_port, "/health")


def test_a_database_outage_within_the_grace_keeps_the_region_serving_as_degraded(
    settings, fake_mysql
):
    clock = FakeClock()
    with serving(with_db(settings, fake_mysql.port), clock=clock) as srv:
        assert get_json(srv.server_port, "/health")[1]["status"] == "ok"
        fake_mysql.down()  # an RDS Multi-AZ failover begins
        status, report = health_with_probe(srv, clock, 5)
        assert (status, report["status"]) == (200, "degraded")
        assert report["checks"] == {"database": True, "maintenance": False}
        db = report["database"]
        assert db["reachable"] is False
        assert db["error"]
        assert (db["unreachable_for_seconds"], db["grace_seconds"]) == (0.0, 180.0)
        status, report = health_with_probe(srv, clock, 120)  # a typical failover's length
        assert (status, report["status"]) == (200, "degraded")
        assert report["database"]["unreachable_for_seconds"] == 120.0
        fake_mysql.up()  # the standby took over the endpoint
        status, report = health_with_probe(srv, clock, 5)
    assert (status, report["status"]) == (200, "ok")
    assert report["database"]["reachable"] is True
    assert report["database"]["unreachable_for_seconds"] is None


def test_a_database_outage_longer_than_the_grace_fails_health_until_a_probe_succeeds(
    settings, fake_mysql
):
    clock = FakeClock()
    with serving(with_db(settings, fake_mysql.port, db_grace_seconds=60), clock=clock) as srv:
        fake_mysql.down()
        status, _ = health_with_probe(srv, clock, 5)
        assert status == 200
        status, report = health_with_probe(srv, clock, 59.9)
        assert (status, report["status"]) == (200, "degraded")
        clock.advance(0.1)  # the grace runs out between two probes: no probe needed
        status, report = get_json(srv.server_port, "/health")
        assert (status, report["status"]) == (503, "unhealthy")
        assert report["checks"] == {"database": False, "maintenance": False}
        assert report["database"]["unreachable_for_seconds"] == 60.0
        status, _ = health_with_probe(srv, clock, 600)
        assert status == 503
        fake_mysql.up()
        status, report = health_with_probe(srv, clock, 5)  # one good probe is enough
    assert (status, report["status"]) == (200, "ok")
    assert report["database"]["reachable"] is True


def test_the_grace_restarts_after_every_successful_probe(settings, fake_mysql):
    clock = FakeClock()
    with serving(with_db(settings, fake_mysql.port, db_grace_seconds=60), clock=clock) as srv:
        fake_mysql.down()
        assert health_with_probe(srv, clock, 5)[0] == 200
        assert health_with_probe(srv, clock, 50)[0] == 200
        fake_mysql.up()
        assert health_with_probe(srv, clock, 5)[1]["status"] == "ok"
        fake_mysql.down()  # a second, separate blip: counted from zero again
        status, report = health_with_probe(srv, clock, 5)
        assert report["database"]["unreachable_for_seconds"] == 0.0
        status, report = health_with_probe(srv, clock, 50)
    assert (status, report["status"]) == (200, "degraded")


def test_an_instance_that_never_reached_its_database_counts_the_grace_from_its_start(
    settings,
):
    clock = FakeClock()
    with serving(with_db(settings, closed_port(), db_grace_seconds=60), clock=clock) as srv:
        status, report = get_json(srv.server_port, "/health")  # after the start-up probe
        assert (status, report["status"]) == (200, "degraded")
        assert report["database"]["reachable"] is False
        assert report["database"]["unreachable_for_seconds"] == 0.0
        status, report = health_with_probe(srv, clock, 60)
    assert (status, report["status"]) == (503, "unhealthy")
    assert report["database"]["unreachable_for_seconds"] == 60.0


def test_the_maintenance_file_fails_health_at_once_also_within_the_grace(settings, fake_mysql):
    clock = FakeClock()
    flag = Path(settings.maintenance_file)
    with serving(with_db(settings, fake_mysql.port), clock=clock) as srv:
        fake_mysql.down()
        assert health_with_probe(srv, clock, 5)[0] == 200
        flag.write_text("draining\n")
        status, report = get_json(srv.server_port, "/health")
    assert (status, report["status"]) == (503, "unhealthy")
    assert report["checks"] == {"database": True, "maintenance": True}


def test_database_state_changes_are_logged_once_each(settings, fake_mysql, capsys):
    clock = FakeClock()
    with serving(with_db(settings, fake_mysql.port, db_grace_seconds=60), clock=clock) as srv:
        fake_mysql.down()
        for _ in range(3):
            health_with_probe(srv, clock, 30)
        fake_mysql.up()
        health_with_probe(srv, clock, 5)
        health_with_probe(srv, clock, 5)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [r for r in records if "event" in r]
    assert [e["event"] for e in events] == [
        "database_unreachable",
        "database_down",
        "database_reachable",
    ]
    assert events[0]["error"]
    assert events[1] == {
        "event": "database_down",
        "unreachable_for_seconds": 60.0,
        "grace_seconds": 60.0,
    }
    assert events[2] == {"event": "database_reachable", "unreachable_for_seconds": 65.0}


# --------------------------------------------------------------------------- the probe


def test_health_reads_the_last_probe_and_never_probes_per_request(settings, fake_mysql):
    with serving(with_db(settings, fake_mysql.port)) as srv:
        for _ in range(20):
            assert get_json(srv.server_port, "/health")[0] == 200
    assert fake_mysql.connections == 1  # the start-up probe; the next is an interval away


def test_the_monitor_probes_in_the_background_every_interval(settings, fake_mysql):
    def wait_for(reachable: bool) -> dict:
        deadline = time.monotonic() + 5
        while True:
            report = get_json(srv.server_port, "/health")[1]
            if report["database"]["reachable"] is reachable or time.monotonic() > deadline:
                return report
            time.sleep(0.02)

    with serving(with_db(settings, fake_mysql.port, db_probe_interval=0.05)) as srv:
        fake_mysql.down()
        assert wait_for(False)["status"] == "degraded"
        fake_mysql.up()
        assert wait_for(True)["status"] == "ok"
    assert fake_mysql.connections >= 2


def test_health_answers_at_once_while_a_probe_hangs(settings):
    """A database that accepts but never answers must not slow /health (Route 53: 2 s)."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        hanging = with_db(
            settings, black_hole.getsockname()[1], db_timeout=2.0, db_probe_interval=0.01
        )
        with serving(hanging) as srv:  # returns after the start-up probe timed out (2 s)
            timings = []  # meanwhile the next probe hangs for 2 s
            for _ in range(5):
                started = time.monotonic()
                status, report = get_json(srv.server_port, "/health")
                timings.append(time.monotonic() - started)
                time.sleep(0.1)
    assert status == 200
    assert report["database"]["reachable"] is False
    assert "timed out" in report["database"]["error"]
    assert max(timings) < 1.0  # half a probe's timeout: /health did not wait for it


def test_probe_counts_a_server_that_does_not_speak_mysql_as_unreachable(settings):
    impostor = FakeMySQL(greeting=b"SSH-2.0-OpenSSH_9.6\r\n", login_reply=b"").start()
    try:
        result = server.probe_mysql("127.0.0.1", impostor.port, 1.0)
    finally:
        impostor.stop()
    assert result["reachable"] is False
    assert "not a MySQL handshake" in result["error"]


def test_probe_counts_an_error_greeting_as_reachable():
    """A blocked host or a full server still proves that MySQL is up."""
    blocked = b"\xff" + (1129).to_bytes(2, "little") + b"Host '10.0.1.5' is blocked"
    fake = FakeMySQL(greeting=mysql_packet(0, blocked), login_reply=b"").start()
    try:
        result = server.probe_mysql("127.0.0.1", fake.port, 1.0, "tapstack_health")
    finally:
        fake.stop()
    assert result["reachable"] is True
    assert result["server_message"] == "1129 Host '10.0.1.5' is blocked"
    assert result["login"] is None


def test_probe_logs_in_with_an_empty_password_and_quits_when_given_a_user(fake_mysql):
    result = server.probe_mysql("127.0.0.1", fake_mysql.port, 1.0, "tapstack_health")
    assert result["reachable"] is True
    assert result["login"] == "ok"
    deadline = time.monotonic() + 5
    while not fake_mysql.sessions and time.monotonic() < deadline:
        time.sleep(0.01)
    sent = fake_mysql.sessions[0]
    response_length = int.from_bytes(sent[:3], "little")
    response, rest = sent[4 : 4 + response_length], sent[4 + response_length :]
    assert sent[3] == 1  # the handshake response follows the greeting (sequence 0)
    assert response[32:] == b"tapstack_health\x00\x00mysql_native_password\x00"
    assert rest == mysql_packet(0, b"\x01")  # COM_QUIT: the server counts no aborted connect


def test_probe_reports_a_refused_login_but_stays_reachable():
    denied = b"\xff" + (1045).to_bytes(2, "little") + b"#28000Access denied for user 'x'"
    fake = FakeMySQL(login_reply=mysql_packet(2, denied)).start()
    try:
        result = server.probe_mysql("127.0.0.1", fake.port, 1.0, "x")
    finally:
        fake.stop()
    assert result["reachable"] is True
    assert result["login"] == "refused"
    assert result["server_message"] == "1045 Access denied for user 'x'"


def test_a_greeting_without_an_answer_to_the_login_is_unreachable():
    """A server that accepts connections and greets but cannot serve them (hung, overloaded):
    with a probe user the handshake must complete."""
    silent = FakeMySQL(login_reply=b"").start()
    try:
        result = server.probe_mysql("127.0.0.1", silent.port, 0.5, "tapstack_health")
    finally:
        silent.stop()
    assert result["reachable"] is False
    assert result["login"].startswith("failed: ")
    assert result["error"].startswith("no answer to the login after the greeting: ")


# --------------------------------------------------------------------------- /livez


def test_livez_stays_200_while_health_fails_so_auto_scaling_keeps_the_instance(settings, tmp_path):
    maintenance = tmp_path / "maintenance"
    maintenance.write_text("draining\n")
    drained = server.Settings(**{**vars(settings), "maintenance_file": str(maintenance)})
    with serving(with_db(drained, closed_port())) as srv:
        health_status, _ = get_json(srv.server_port, "/health")
        live_status, live = get_json(srv.server_port, "/livez")
    assert health_status == 503
    assert live_status == 200
    assert live == {"status": "alive", "instance_id": INSTANCE_ID}


# --------------------------------------------------------------------------- HEAD, 404, 405


@pytest.mark.parametrize("path", ["/", "/health"])
def test_head_returns_the_same_status_and_headers_without_a_body(settings, path):
    with serving(settings) as srv:
        _, get_headers, get_body = call(srv.server_port, "GET", path)
        wire = raw_exchange(srv.server_port, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())
    head, _, body = wire.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert status_line.split()[1] == "200"
    assert body == b""  # read straight off the socket: nothing follows the headers
    assert headers["Content-Type"] == get_headers["Content-Type"]
    assert int(headers["Content-Length"]) == len(get_body) > 0


def test_head_health_returns_503_when_the_database_is_down(settings):
    with serving(with_db(settings, closed_port(), db_grace_seconds=0)) as srv:
        wire = raw_exchange(srv.server_port, b"HEAD /health HTTP/1.0\r\n\r\n")
    assert wire.startswith(b"HTTP/1.1 503 ")
    assert wire.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("path", ["/nope", "/health/extra", "/index.html"])
def test_unknown_paths_return_404_json(settings, path):
    with serving(settings) as srv:
        status, body = get_json(srv.server_port, path)
    assert status == 404
    assert body == {"error": "not found"}


def test_query_strings_do_not_change_routing(settings):
    with serving(settings) as srv:
        status, report = get_json(srv.server_port, "/health?source=alb")
    assert status == 200
    assert report["status"] == "ok"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_methods_other_than_get_and_head_return_405(settings, method):
    with serving(settings) as srv:
        status, headers, body = call(srv.server_port, method, "/health")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert json.loads(body) == {"error": "method not allowed"}


# --------------------------------------------------------------------------- HSTS


@pytest.mark.parametrize("proto", ["https", "HTTPS", " https "])
@pytest.mark.parametrize("path", ["/", "/health", "/livez", "/nope"])
def test_requests_that_reached_the_load_balancer_over_https_get_hsts(settings, proto, path):
    with serving(settings) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=5)
        conn.request("GET", path, headers={"X-Forwarded-Proto": proto})
        response = conn.getresponse()
        response.read()
        conn.close()
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("headers", [{"X-Forwarded-Proto": "http"}, {}])
def test_plain_http_requests_never_get_hsts(settings, headers):
    """RFC 6797 section 7.2: an HSTS host must not include the header over non-secure transport."""
    with serving(settings) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=5)
        conn.request("GET", "/", headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
    assert "Strict-Transport-Security" not in response.headers


# --------------------------------------------------------------------------- logging, robustness


def test_each_request_is_logged_to_stdout_as_one_json_line(settings, capsys):
    with serving(settings) as srv:
        capsys.readouterr()
        call(srv.server_port, "GET", "/health")
        call(srv.server_port, "POST", "/")
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/health", 200),
        ("POST", "/", 405),
    ]
    assert all(isinstance(r["duration_ms"], float) for r in records)
    assert err == ""


def test_server_keeps_serving_quietly_after_a_client_resets_the_connection(settings, capsys):
    with serving(settings) as srv:
        errors = threading.Event()
        original = srv.handle_error

        def spy(request, client_address):
            original(request, client_address)
            errors.set()

        srv.handle_error = spy
        client = socket.create_connection(("127.0.0.1", srv.server_port))
        client.sendall(b"GET /hea")  # half a request line, then a TCP reset
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()
        assert errors.wait(timeout=2), "the reset should reach the server's error handler"
        status, _, _ = call(srv.server_port, "GET", "/")
    assert status == 200
    out, err = capsys.readouterr()
    assert err == ""
    assert "Traceback" not in out
    assert '"event": "error"' not in out


# --------------------------------------------------------------------------- instance id


def test_instance_id_is_read_from_imdsv2_with_a_session_token(settings, fake_imds):
    imds_url = f"http://127.0.0.1:{fake_imds.server_port}"
    with serving(server.Settings(**{**vars(settings), "imds_url": imds_url}), None) as srv:
        _, _, body = call(srv.server_port, "GET", "/")
    assert srv.instance_id == "i-0fedcba9876543210"
    assert "i-0fedcba9876543210" in body.decode()
    (put_method, put_path, put_headers), (get_method, get_path, get_headers) = FakeMetadata.requests
    assert (put_method, put_path) == ("PUT", "/latest/api/token")
    assert int(put_headers["X-aws-ec2-metadata-token-ttl-seconds"]) > 0
    assert (get_method, get_path) == ("GET", "/latest/meta-data/instance-id")
    assert get_headers["X-aws-ec2-metadata-token"] == FakeMetadata.token


def test_instance_id_falls_back_to_the_hostname_when_metadata_is_unreachable(settings):
    with serving(settings, None) as srv:  # settings.imds_url points at a closed port
        _, report = get_json(srv.server_port, "/health")
    assert report["instance_id"] == socket.gethostname()


def test_instance_id_override_skips_the_metadata_service(settings, fake_imds):
    imds_url = f"http://127.0.0.1:{fake_imds.server_port}"
    pinned = server.Settings(**{**vars(settings), "imds_url": imds_url, "instance_id": "i-pin"})
    assert server.resolve_instance_id(pinned) == "i-pin"
    assert FakeMetadata.requests == []


# --------------------------------------------------------------------------- configuration


def test_settings_from_env_applies_the_documented_defaults():
    settings = server.Settings.from_env(
        {"TAPSTACK_REGION": "us-west-2", "TAPSTACK_ROLE": "standby"}
    )
    assert settings == server.Settings(region="us-west-2", role="standby")
    assert (settings.port, settings.bind, settings.db_port) == (8080, "0.0.0.0", 3306)
    assert (settings.db_timeout, settings.db_probe_interval) == (2.0, 5.0)
    assert settings.db_grace_seconds == 180.0  # outlasts an RDS Multi-AZ failover (60-120 s)
    assert settings.db_probe_user is None
    assert settings.maintenance_file == "/etc/tapstack/maintenance"
    assert settings.db_host is None and settings.instance_id is None
    assert settings.project == "TapStack"
    assert settings.db_read_user is None  # no /events unless configured
    assert (settings.db_auth, settings.db_read_timeout, settings.db_tls_ca) == ("iam", 3.0, None)


def test_settings_from_env_reads_every_variable():
    settings = server.Settings.from_env(
        {
            "TAPSTACK_REGION": "us-east-1",
            "TAPSTACK_ROLE": "writer",
            "TAPSTACK_PROJECT": "Demo",
            "TAPSTACK_PORT": "9000",
            "TAPSTACK_BIND": "127.0.0.1",
            "TAPSTACK_DB_HOST": "db.internal",
            "TAPSTACK_DB_PORT": "3307",
            "TAPSTACK_DB_TIMEOUT": "0.25",
            "TAPSTACK_DB_PROBE_INTERVAL": "7.5",
            "TAPSTACK_DB_PROBE_USER": "tapstack_health",
            "TAPSTACK_DB_GRACE_SECONDS": "240",
            "TAPSTACK_MAINTENANCE_FILE": "/tmp/drain",
            "TAPSTACK_INSTANCE_ID": "i-abc",
            "TAPSTACK_IMDS_URL": "http://127.0.0.1:1/",
        }
    )
    assert settings == server.Settings(
        region="us-east-1",
        role="writer",
        project="Demo",
        port=9000,
        bind="127.0.0.1",
        db_host="db.internal",
        db_port=3307,
        db_timeout=0.25,
        db_probe_interval=7.5,
        db_probe_user="tapstack_health",
        db_grace_seconds=240.0,
        maintenance_file="/tmp/drain",
        instance_id="i-abc",
        imds_url="http://127.0.0.1:1",
    )


def read_env(tmp_path, **overrides: str) -> dict[str, str]:
    ca, password = tmp_path / "ca.pem", tmp_path / "password"
    ca.write_text("a CA bundle")
    password.write_text("secret\n")
    env = {
        "TAPSTACK_REGION": "us-east-1",
        "TAPSTACK_ROLE": "standby",
        "TAPSTACK_DB_HOST": "db.internal",
        "TAPSTACK_DB_NAME": "tapstack",
        "TAPSTACK_DB_READ_USER": "tapstack_reader",
        "TAPSTACK_DB_TLS_CA": str(ca),
        "TAPSTACK_DB_PASSWORD_FILE": str(password),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_settings_from_env_reads_the_event_read_variables(tmp_path):
    env = read_env(tmp_path, TAPSTACK_DB_AUTH="password", TAPSTACK_DB_READ_TIMEOUT="1.5")
    settings = server.Settings.from_env(env)
    assert (settings.db_name, settings.db_read_user) == ("tapstack", "tapstack_reader")
    assert (settings.db_auth, settings.db_read_timeout) == ("password", 1.5)
    assert settings.db_tls_ca == env["TAPSTACK_DB_TLS_CA"]
    assert settings.db_password_file == env["TAPSTACK_DB_PASSWORD_FILE"]


def test_iam_authentication_is_the_default_and_needs_no_password_file(tmp_path):
    settings = server.Settings.from_env(read_env(tmp_path, TAPSTACK_DB_PASSWORD_FILE=None))
    assert settings.db_auth == "iam"


def test_password_authentication_may_go_without_tls(tmp_path):
    env = read_env(tmp_path, TAPSTACK_DB_AUTH="password", TAPSTACK_DB_TLS_CA=None)
    assert server.Settings.from_env(env).db_tls_ca is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TAPSTACK_DB_AUTH": "kerberos"}, "TAPSTACK_DB_AUTH must be 'iam' or 'password'"),
        ({"TAPSTACK_DB_TLS_CA": None}, "with TAPSTACK_DB_AUTH=iam needs TAPSTACK_DB_TLS_CA"),
        (
            {"TAPSTACK_DB_AUTH": "password", "TAPSTACK_DB_PASSWORD_FILE": None},
            "TAPSTACK_DB_AUTH=password needs TAPSTACK_DB_PASSWORD_FILE",
        ),
        ({"TAPSTACK_DB_HOST": None}, "needs TAPSTACK_DB_HOST"),
        ({"TAPSTACK_DB_NAME": None}, "needs TAPSTACK_DB_NAME"),
        ({"TAPSTACK_DB_NAME": "tap`stack"}, "TAPSTACK_DB_NAME must be a database name"),
        ({"TAPSTACK_DB_READ_USER": "r" * 33}, "TAPSTACK_DB_READ_USER must be a MySQL user"),
        ({"TAPSTACK_DB_TLS_CA": "/nonexistent/ca.pem"}, "TAPSTACK_DB_TLS_CA: cannot read"),
        (
            {"TAPSTACK_DB_AUTH": "password", "TAPSTACK_DB_PASSWORD_FILE": "/nonexistent/pw"},
            "TAPSTACK_DB_PASSWORD_FILE: cannot read",
        ),
        ({"TAPSTACK_DB_READ_TIMEOUT": "0"}, "TAPSTACK_DB_READ_TIMEOUT must be a positive"),
    ],
)
def test_settings_from_env_rejects_unusable_read_settings(tmp_path, overrides, message):
    with pytest.raises(server.SettingsError, match=message):
        server.Settings.from_env(read_env(tmp_path, **overrides))


def test_main_returns_2_when_the_ca_bundle_holds_no_certificate(tmp_path, monkeypatch, capsys):
    for name, value in read_env(tmp_path, TAPSTACK_PORT="0", TAPSTACK_INSTANCE_ID="i-1").items():
        monkeypatch.setenv(name, value)
    assert server.main([]) == 2
    assert "TAPSTACK_DB_TLS_CA: no CA bundle in" in capsys.readouterr().err


def test_the_variables_the_server_reads_are_exactly_its_env_constants():
    """The infrastructure imports the ENV_* names to write the unit's environment: a variable
    read under any other name would never be set."""

    class Recording(dict):
        def get(self, name, default=None):
            read.add(name)
            return super().get(name, default)

    read: set[str] = set()
    server.Settings.from_env(Recording({server.ENV_REGION: "r", server.ENV_ROLE: server.WRITER}))
    constants = {v for k, v in vars(server).items() if k.startswith("ENV_")}

    assert read == constants
    assert all(name.startswith("TAPSTACK_") and name in server.__doc__ for name in constants)
    assert server.ROLES == ("writer", "standby")


def test_the_role_primary_of_earlier_versions_is_refused():
    with pytest.raises(server.SettingsError, match="'writer' or 'standby', got 'primary'"):
        server.Settings.from_env({server.ENV_REGION: "r", server.ENV_ROLE: "primary"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TAPSTACK_ROLE": "leader"}, "TAPSTACK_ROLE"),
        ({"TAPSTACK_ROLE": ""}, "TAPSTACK_ROLE"),
        ({"TAPSTACK_REGION": ""}, "TAPSTACK_REGION"),
        ({"TAPSTACK_PORT": "http"}, "TAPSTACK_PORT"),
        ({"TAPSTACK_DB_PORT": "70000"}, "TAPSTACK_DB_PORT"),
        ({"TAPSTACK_DB_TIMEOUT": "soon"}, "TAPSTACK_DB_TIMEOUT"),
        ({"TAPSTACK_DB_TIMEOUT": "0"}, "TAPSTACK_DB_TIMEOUT"),
        ({"TAPSTACK_DB_TIMEOUT": "nan"}, "TAPSTACK_DB_TIMEOUT"),
        ({"TAPSTACK_DB_PROBE_INTERVAL": "0"}, "TAPSTACK_DB_PROBE_INTERVAL"),
        ({"TAPSTACK_DB_GRACE_SECONDS": "-1"}, "TAPSTACK_DB_GRACE_SECONDS"),
        ({"TAPSTACK_DB_GRACE_SECONDS": "inf"}, "TAPSTACK_DB_GRACE_SECONDS"),
        ({"TAPSTACK_DB_GRACE_SECONDS": "3m"}, "TAPSTACK_DB_GRACE_SECONDS"),
        ({"TAPSTACK_DB_PROBE_USER": "x" * 33}, "TAPSTACK_DB_PROBE_USER"),
        ({"TAPSTACK_DB_PROBE_USER": "h\u00e9alth"}, "TAPSTACK_DB_PROBE_USER"),
    ],
)
def test_settings_from_env_rejects_invalid_values(overrides, message):
    env = {"TAPSTACK_REGION": "us-east-1", "TAPSTACK_ROLE": "writer", **overrides}
    with pytest.raises(server.SettingsError, match=message):
        server.Settings.from_env(env)


def test_settings_from_env_accepts_a_grace_of_zero_which_disables_it():
    env = {"TAPSTACK_REGION": "r", "TAPSTACK_ROLE": "writer", "TAPSTACK_DB_GRACE_SECONDS": "0"}
    assert server.Settings.from_env(env).db_grace_seconds == 0.0


def test_main_returns_2_and_explains_when_the_role_is_invalid(monkeypatch, capsys):
    monkeypatch.setenv("TAPSTACK_REGION", "us-east-1")
    monkeypatch.setenv("TAPSTACK_ROLE", "secondary")
    assert server.main([]) == 2
    err = capsys.readouterr().err
    assert "TAPSTACK_ROLE must be 'writer' or 'standby', got 'secondary'" in err


def test_main_rejects_command_line_arguments(capsys):
    assert server.main(["--port", "80"]) == 2
    assert "environment" in capsys.readouterr().err


# --------------------------------------------------------------------------- as systemd runs it


@contextlib.contextmanager
def running_script(env):
    """The server script started as systemd starts it; killed if it hangs past 10 s, so a
    hung server never hangs the suite."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_PATH)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(10, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_script_serves_requests_and_exits_0_on_sigterm(tmp_path):
    env = child_env(
        TAPSTACK_REGION="us-west-2",
        TAPSTACK_ROLE="standby",
        TAPSTACK_BIND="127.0.0.1",
        TAPSTACK_PORT="0",
        TAPSTACK_INSTANCE_ID="i-subprocess",
        TAPSTACK_MAINTENANCE_FILE=str(tmp_path / "maintenance"),
    )
    with running_script(env) as proc:
        started = json.loads(proc.stdout.readline())
        assert started["event"] == "started"
        port = started["port"]
        status, _, body = call(port, "GET", "/")
        assert status == 200
        assert all(v in body.decode() for v in ("us-west-2", "standby", "i-subprocess"))
        status, report = get_json(port, "/health")
        assert status == 200
        assert report["role"] == "standby"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert {"method": "GET", "path": "/health", "status": 200} in [
        {k: r.get(k) for k in ("method", "path", "status")} for r in records
    ]
    assert records[-1] == {"event": "stopped"}


@pytest.mark.parametrize(
    ("grace", "expected_status", "expected_state"),
    [(None, 200, "degraded"), ("0", 503, "unhealthy")],
)
def test_script_applies_the_database_grace_from_its_environment(
    tmp_path, grace, expected_status, expected_state
):
    env = child_env(
        TAPSTACK_REGION="us-east-1",
        TAPSTACK_ROLE="writer",
        TAPSTACK_BIND="127.0.0.1",
        TAPSTACK_PORT="0",
        TAPSTACK_INSTANCE_ID="i-subprocess",
        TAPSTACK_MAINTENANCE_FILE=str(tmp_path / "maintenance"),
        TAPSTACK_DB_HOST="127.0.0.1",
        TAPSTACK_DB_PORT=str(closed_port()),
        **({} if grace is None else {"TAPSTACK_DB_GRACE_SECONDS": grace}),
    )
    with running_script(env) as proc:
        started = json.loads(proc.stdout.readline())
        unreachable = json.loads(proc.stdout.readline())  # the start-up probe, before serving
        status, report = get_json(started["port"], "/health")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=5)
    assert unreachable["event"] == "database_unreachable"
    assert started["event"] == "started"
    assert (status, report["status"]) == (expected_status, expected_state)
    assert report["database"]["grace_seconds"] == (180.0 if grace is None else 0.0)
    assert proc.returncode == 0


def test_script_exits_2_with_a_message_when_the_role_is_invalid():
    env = child_env(TAPSTACK_REGION="us-east-1", TAPSTACK_ROLE="leader", TAPSTACK_PORT="0")
    result = subprocess.run(
        [sys.executable, str(SERVER_PATH)],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    assert "TAPSTACK_ROLE" in result.stderr
    assert "'leader'" in result.stderr
    assert result.stdout == ""

"""Each region's web tier in the drill: the real web server runtime behind a stable address.

:class:`WebTier` runs ``tapstack/web/runtime/server.py`` - the file the instances run - as a
child process with the ``TAPSTACK_*`` environment the launch template writes, pointed at the
region's MariaDB. In front of it, :class:`LoadBalancer` stands in for the ALB: a TCP forwarder
on a port that never changes, so Route 53's record (modelled) and its health check keep one
target while a deploy replaces the server process (a new database endpoint after a rebuild, a
new role after a promotion): the new process starts, answers ``/livez``, takes the traffic,
and only then does the old one stop, as a rolling update keeps instances in service.

A region loss kills both (SIGKILL for the server process, the listening socket closed): a
client or a health checker then gets "connection refused", as from a region that is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tapstack.web.runtime import server as web_server

#: The web server's source: the file the launch template ships to every instance.
SERVER_PATH = Path(web_server.__file__)
#: The web tier's probe account (``tapstack.web.infrastructure`` sets the same).
PROBE_USER = "tapstack_health"
_CHUNK = 64 * 1024


class WebTierError(RuntimeError):
    """A web server process did not start or answer."""


def web_python(root: Path) -> str:
    """The interpreter the web server runs on: the project's 3.9 runtime virtualenv (Amazon
    Linux 2023's system Python) when it exists, else this interpreter."""
    candidate = root / ".venv-web" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


class LoadBalancer:
    """A TCP forwarder on ``127.0.0.1:port`` to the current backend port (the ALB, modelled as
    far as the drill needs: one stable address, backends swapped without dropping it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.backend: int | None = None
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        backend = self.backend
        try:
            if backend is None:
                raise OSError("no backend")
            upstream = socket.create_connection(("127.0.0.1", backend), timeout=4)
        except OSError:
            client.close()  # no target answers: the client sees the connection drop
            return
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@dataclass(frozen=True)
class DatabaseAccess:
    """What the web tier reads with: the database and its read-only account."""

    name: str
    read_user: str
    password_file: Path


class WebTier:
    """One region's web server process (the real runtime) behind a :class:`LoadBalancer`."""

    def __init__(
        self,
        region: str,
        *,
        port: int,
        workdir: Path,
        python: str,
        access: DatabaseAccess,
        probe_interval: float = 1.0,
    ) -> None:
        self.region = region
        self.balancer = LoadBalancer(port)
        self.workdir = workdir
        self.python = python
        self.access = access
        self.probe_interval = probe_interval
        self.role: str | None = None
        #: The database ``(host, port)`` the running process reads from.
        self.database: tuple[str, int] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._generation = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.balancer.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def deploy(self, *, role: str, db_host: str, db_port: int) -> None:
        """Start a server process with this role and database, move the traffic to it once
        it answers, then stop the previous one (SIGTERM): a rolling update."""
        previous = self._process
        self._process, port = self._launch(role, db_host, db_port)
        self.balancer.backend = port
        if not self.balancer.listening:
            self.balancer.start()
        self.role, self.database = role, (db_host, db_port)
        if previous is not None and previous.poll() is None:
            previous.send_signal(signal.SIGTERM)
            try:
                previous.wait(timeout=10)
            except subprocess.TimeoutExpired:
                previous.kill()
                previous.wait()

    def kill(self) -> None:
        """Lose the region's web tier: the process SIGKILLed, the load balancer gone."""
        self.balancer.stop()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        self.balancer.stop()
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _environment(self, role: str, db_host: str, db_port: int) -> dict[str, str]:
        self._generation += 1
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            web_server.ENV_REGION: self.region,
            web_server.ENV_ROLE: role,
            web_server.ENV_BIND: "127.0.0.1",
            web_server.ENV_PORT: "0",  # a free port, read from the "started" log line
            web_server.ENV_DB_HOST: db_host,
            web_server.ENV_DB_PORT: str(db_port),
            web_server.ENV_DB_PROBE_INTERVAL: f"{self.probe_interval:g}",
            web_server.ENV_DB_PROBE_USER: PROBE_USER,
            web_server.ENV_MAINTENANCE_FILE: str(self.workdir / "maintenance"),
            web_server.ENV_INSTANCE_ID: f"lab-{self.region}-{self._generation}",
            web_server.ENV_DB_NAME: self.access.name,
            web_server.ENV_DB_READ_USER: self.access.read_user,
            web_server.ENV_DB_AUTH: "password",
            web_server.ENV_DB_PASSWORD_FILE: str(self.access.password_file),
        }

    def _launch(self, role: str, db_host: str, db_port: int) -> tuple[subprocess.Popen[bytes], int]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"web-{self.region}-{self._generation + 1}.log"
        process = subprocess.Popen(
            [self.python, str(SERVER_PATH)],
            env=self._environment(role, db_host, db_port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            port = _started_port(process, log)
            _wait_live(port)
        except BaseException:
            process.kill()
            process.wait()
            raise
        return process, port


def _started_port(process: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> int:
    """Read the server's log until its ``started`` line; keep copying the log to ``log``."""
    assert process.stdout is not None
    found: list[int] = []
    ready = threading.Event()

    def copy(stream: IO[bytes]) -> None:
        with log.open("ab") as sink:
            for line in stream:
                sink.write(line)
                sink.flush()
                if not found:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if record.get("event") == "started":
                            found.append(int(record["port"]))
                            ready.set()
        ready.set()

    threading.Thread(target=copy, args=(process.stdout,), daemon=True).start()
    if not ready.wait(timeout) or not found:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise WebTierError(f"the web server did not start (exit {process.poll()}): {tail}")
    return found[0]


def _wait_live(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}{web_server.LIVENESS_PATH}", timeout=1
            ):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise WebTierError(
                    f"the web server on port {port} never answered: {error}"
                ) from None
            time.sleep(0.05)

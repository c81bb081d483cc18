"""TapStack instance web server.

Runs on every web EC2 instance as ``/usr/bin/python3 /opt/tapstack/server.py`` under systemd.
Standard library only and Python 3.9 compatible (the system python3 of Amazon Linux 2023).

Configured only through environment variables:

    TAPSTACK_REGION              AWS region shown on the page (required)
    TAPSTACK_ROLE                ``writer`` or ``standby`` (required; anything else exits 2)
    TAPSTACK_PROJECT             display name (default ``TapStack``)
    TAPSTACK_BIND                listen address (default ``0.0.0.0``)
    TAPSTACK_PORT                listen port (default ``8080``)
    TAPSTACK_DB_HOST             database endpoint probed for /health
    TAPSTACK_DB_PORT             its port (default 3306)
    TAPSTACK_DB_TIMEOUT          time allowed for one whole probe, in seconds (default 2)
    TAPSTACK_DB_PROBE_INTERVAL   seconds between probes, +-20% jitter (default 5)
    TAPSTACK_DB_PROBE_USER       account the probe logs in as, with an empty password
                                 (default: none, the probe only reads the server greeting)
    TAPSTACK_DB_GRACE_SECONDS    how long the database may be unreachable before /health
                                 fails (default 180; 0 fails at the first failed probe)
    TAPSTACK_MAINTENANCE_FILE    while this file exists /health fails (drains the region)
    TAPSTACK_INSTANCE_ID         instance id override; otherwise read from IMDSv2
    TAPSTACK_IMDS_URL            metadata base URL (default http://169.254.169.254)

``GET /`` serves a small HTML page; ``GET /health`` a JSON report of the region's health,
which Route 53 uses to decide which region gets traffic; ``GET /livez`` answers 200 as long
as the process serves, which the load balancer (and so Auto Scaling) uses, so that a database
outage or a drained region does not make Auto Scaling replace healthy instances. HEAD works
for all three. Each request is logged to stdout as one JSON line, and so is each change of
the database's state (``database_unreachable``, ``database_down``, ``database_reachable``).

What "this region cannot serve" means
-------------------------------------
/health answers 503 ("unhealthy"), and Route 53 moves traffic away, when the maintenance file
exists (at once), or when the region's database has failed every probe for the grace
(TAPSTACK_DB_GRACE_SECONDS). Within the grace it answers 200 "degraded" (database.reachable
false, unreachable_for_seconds, grace_seconds): the region keeps its traffic. The first good
probe makes it "ok" again. Why: an RDS Multi-AZ failover or maintenance reboot takes typically
60-120 s (plus the endpoint's DNS change) and RDS recovers by itself, while Route 53 acts after
interval x threshold (10 s x 3); without a grace each such event would send users to the
read-only region. A database outage RDS does not fix still fails over, after up to one probe
interval + the grace + Route 53's detection (6 + 180 + 30 s by default) plus the record's TTL.
A region down as a whole (ALB or instances unreachable) fails Route 53's checks directly,
without the grace. Planned database downtime longer than the grace fails over too: drain.
The grace counts from the first failed probe after a good one; a process that never reached
its database counts from its start (degraded, then unhealthy). Each instance has its own clock.

The database probe
------------------
A background thread probes every TAPSTACK_DB_PROBE_INTERVAL (+-20% jitter, so a fleet does not
probe in step), however many health checks arrive; /health only reads the last result and never
waits for the database (Route 53 wants an answer within 2 s). The first probe runs before the
server handles requests. The probe speaks the MySQL protocol: the database is reachable when a
MySQL server answers the connection with its greeting, or with an error such as "host blocked"
or "too many connections" (reported as server_message); a bare TCP accept is not enough.
How it ends matters to the server (checked on MariaDB 10.11, whose host cache MySQL shares): a
connection closed during the handshake, before or after the greeting, is an aborted connect
and, with skip_name_resolve off, a host connect error: max_connect_errors of them block the
host. A refused login is an aborted connect and an "Access denied" log line, but no connect
error. A login that succeeds and ends with COM_QUIT counts nothing. So without
TAPSTACK_DB_PROBE_USER the probe closes after the greeting; with it, it logs in as that
account with an empty password and quits, which is clean once the account exists (for example
CREATE USER 'tapstack_health'@'%' IDENTIFIED BY '', no privileges). The outcome is reported
as login. With a probe user the handshake must complete: a greeting followed by no answer to
the login (a server that accepts connections but cannot serve them) is unreachable; an
answer of any kind (accepted, refused, or a request for a password) is reachable. The web
tier sets TAPSTACK_DB_PROBE_USER=tapstack_health: no such account exists unless an operator
creates it, so the login is refused, which completes the handshake and never blocks the host
(refused logins are not connect errors); RDS MySQL does not log them at its default
log_error_verbosity.
"""

from __future__ import annotations

import html
import http.client
import json
import math
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

# The environment contract: tapstack/web/infrastructure.py writes these variables and imports
# their names from here (this file ships alone, so it cannot import them from the package).
ENV_REGION = "TAPSTACK_REGION"
ENV_ROLE = "TAPSTACK_ROLE"
ENV_PROJECT = "TAPSTACK_PROJECT"
ENV_BIND = "TAPSTACK_BIND"
ENV_PORT = "TAPSTACK_PORT"
ENV_DB_HOST = "TAPSTACK_DB_HOST"
ENV_DB_PORT = "TAPSTACK_DB_PORT"
ENV_DB_TIMEOUT = "TAPSTACK_DB_TIMEOUT"
ENV_DB_PROBE_INTERVAL = "TAPSTACK_DB_PROBE_INTERVAL"
ENV_DB_PROBE_USER = "TAPSTACK_DB_PROBE_USER"
ENV_DB_GRACE_SECONDS = "TAPSTACK_DB_GRACE_SECONDS"
ENV_MAINTENANCE_FILE = "TAPSTACK_MAINTENANCE_FILE"
ENV_INSTANCE_ID = "TAPSTACK_INSTANCE_ID"
ENV_IMDS_URL = "TAPSTACK_IMDS_URL"
#: Values of TAPSTACK_ROLE: what the region does today (as the loader's ROLE).
#: Deep health (database, maintenance): Route 53 moves traffic between regions on it.
HEALTH_PATH = "/health"
#: Process liveness: the target group (and so Auto Scaling) replaces instances on it only.
LIVENESS_PATH = "/livez"

WRITER = "writer"
STANDBY = "standby"
ROLES = (WRITER, STANDBY)
DB_PROBE_JITTER = 0.2  # each wait between probes is the interval +-20%
# socket.timeout only became an alias of TimeoutError in Python 3.10.
DISCONNECTS = (ConnectionError, socket.timeout)
_LOG_LOCK = threading.Lock()

# MySQL client/server protocol: client capabilities LONG_PASSWORD | PROTOCOL_41 |
# SECURE_CONNECTION | PLUGIN_AUTH, the largest packet a handshake may plausibly need, the
# utf8mb4_general_ci collation id, and the plugin named in the login (servers switch to the
# account's own plugin when it differs; an empty response means "no password" to all).
_MYSQL_CAPABILITIES = 0x00000001 | 0x00000200 | 0x00008000 | 0x00080000
_MYSQL_MAX_HANDSHAKE_PACKET = 64 * 1024
_MYSQL_UTF8MB4 = 45
_MYSQL_AUTH_PLUGIN = b"mysql_native_password"
_MYSQL_COM_QUIT = b"\x01"


class SettingsError(ValueError):
    """The environment does not describe a valid configuration."""


@dataclass(frozen=True)
class Settings:
    region: str
    role: str
    project: str = "TapStack"
    port: int = 8080
    bind: str = "0.0.0.0"  # noqa: S104 - instances sit in private subnets behind the ALB
    db_host: str | None = None
    db_port: int = 3306
    db_timeout: float = 2.0
    db_probe_interval: float = 5.0
    db_probe_user: str | None = None
    db_grace_seconds: float = 180.0
    maintenance_file: str = "/etc/tapstack/maintenance"
    instance_id: str | None = None
    imds_url: str = "http://169.254.169.254"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        def port(name: str, default: int) -> int:
            raw = get(name, str(default))
            if not raw.isdecimal() or int(raw) > 65535:
                raise SettingsError(f"{name} must be a port number (0-65535), got {raw!r}")
            return int(raw)

        def seconds(name: str, default: float, *, zero_ok: bool = False) -> float:
            raw = get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
                kind = "a number of seconds >= 0" if zero_ok else "a positive number of seconds"
                raise SettingsError(f"{name} must be {kind}, got {raw!r}")
            return value

        role, region = get(ENV_ROLE), get(ENV_REGION)
        if role not in ROLES:
            raise SettingsError(f"{ENV_ROLE} must be {' or '.join(map(repr, ROLES))}, got {role!r}")
        if not region:
            raise SettingsError(f"{ENV_REGION} must be set (for example us-east-1)")
        probe_user = get(ENV_DB_PROBE_USER) or None
        if probe_user is not None and not (
            len(probe_user) <= 32 and probe_user.isascii() and probe_user.isprintable()
        ):
            raise SettingsError(
                f"{ENV_DB_PROBE_USER} must be a MySQL user name (printable ASCII, at most "
                f"32 characters), got {probe_user!r}"
            )
        return cls(
            region=region,
            role=role,
            project=get(ENV_PROJECT, cls.project),
            port=port(ENV_PORT, cls.port),
            bind=get(ENV_BIND, cls.bind),
            db_host=get(ENV_DB_HOST) or None,
            db_port=port(ENV_DB_PORT, cls.db_port),
            db_timeout=seconds(ENV_DB_TIMEOUT, cls.db_timeout),
            db_probe_interval=seconds(ENV_DB_PROBE_INTERVAL, cls.db_probe_interval),
            db_probe_user=probe_user,
            db_grace_seconds=seconds(ENV_DB_GRACE_SECONDS, cls.db_grace_seconds, zero_ok=True),
            maintenance_file=get(ENV_MAINTENANCE_FILE, cls.maintenance_file),
            instance_id=get(ENV_INSTANCE_ID) or None,
            imds_url=get(ENV_IMDS_URL, cls.imds_url).rstrip("/"),
        )


def log(record: dict[str, Any]) -> None:
    """Write one JSON line to stdout (thread safe, flushed so journald sees it at once)."""
    line = json.dumps(record, sort_keys=True)
    with _LOG_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fetch_instance_id(imds_url: str, timeout: float = 1.0) -> str | None:
    """Read the instance id from instance metadata with IMDSv2; None on any failure."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    token_headers = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    try:
        request = urllib.request.Request(  # noqa: S310 - URL comes from the unit file
            imds_url + "/latest/api/token", method="PUT", headers=token_headers
        )
        with opener.open(request, timeout=timeout) as response:
            token = response.read().decode("utf-8").strip()
        request = urllib.request.Request(  # noqa: S310
            imds_url + "/latest/meta-data/instance-id",
            headers={"X-aws-ec2-metadata-token": token},
        )
        with opener.open(request, timeout=timeout) as response:
            return response.read().decode("utf-8").strip() or None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def resolve_instance_id(settings: Settings) -> str:
    return settings.instance_id or fetch_instance_id(settings.imds_url) or socket.gethostname()


# --------------------------------------------------------------------------- database probe


class NotMySQLError(Exception):
    """The endpoint answered, but not with the MySQL protocol."""


class _MySQLConnection:
    """Just enough of the MySQL wire protocol for a probe, every step within one deadline."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.sock = socket.create_connection(address, timeout=timeout)

    def close(self) -> None:
        self.sock.close()

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        return remaining

    def _recv_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            self.sock.settimeout(self._remaining())
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionAbortedError("the server closed the connection")
            data += chunk
        return data

    def read_packet(self) -> tuple[int, bytes]:
        header = self._recv_exact(4)
        length, sequence = int.from_bytes(header[:3], "little"), header[3]
        if length > _MYSQL_MAX_HANDSHAKE_PACKET:
            raise NotMySQLError(f"a {length}-byte first packet is not a MySQL handshake")
        return sequence, self._recv_exact(length)

    def write_packet(self, sequence: int, payload: bytes) -> None:
        self.sock.settimeout(self._remaining())
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([sequence & 0xFF]) + payload)


def _error_text(payload: bytes) -> str:
    """``<code> <message>`` of an ERR packet (0xff, 2-byte code, optional #SQLSTATE, text)."""
    code = int.from_bytes(payload[1:3], "little")
    message = payload[9:] if payload[3:4] == b"#" else payload[3:]
    return f"{code} {message.decode('utf-8', 'replace')}"


def _login(conn: _MySQLConnection, sequence: int, user: str) -> tuple[str, str | None]:
    """Log in as ``user`` with an empty password; COM_QUIT if accepted. (outcome, ERR text)."""
    response = (
        struct.pack("<IIB23x", _MYSQL_CAPABILITIES, 1 << 24, _MYSQL_UTF8MB4)
        + user.encode("ascii")
        + b"\0"
        + b"\0"  # auth response: zero bytes long, i.e. no password
        + _MYSQL_AUTH_PLUGIN
        + b"\0"
    )
    conn.write_packet(sequence + 1, response)
    for _ in range(3):
        sequence, reply = conn.read_packet()
        if reply[:1] == b"\x00":  # OK: logged in; COM_QUIT so the server counts no abort
            conn.write_packet(0, _MYSQL_COM_QUIT)
            return "ok", None
        if reply[:1] == b"\xff":  # ERR: access denied, or the server requires TLS
            return "refused", _error_text(reply)
        if reply[:1] != b"\xfe":  # more data wanted: the account has a password
            break
        conn.write_packet(sequence + 1, b"")  # auth switch: again no password
    return "incomplete", None


def probe_mysql(host: str, port: int, timeout: float, user: str | None = None) -> dict[str, Any]:
    """Probe a MySQL server once; ``reachable`` is whether a MySQL server answered."""
    started = time.monotonic()
    result: dict[str, Any] = {
        "reachable": False,
        "latency_ms": None,
        "error": None,
        "server_version": None,
        "server_message": None,
        "login": None,
    }
    try:
        conn = _MySQLConnection((host, port), timeout)
    except OSError as exc:
        result["error"] = str(exc) or type(exc).__name__
        return result
    try:
        sequence, greeting = conn.read_packet()
        if greeting[:1] == b"\xff":  # e.g. 1129 host blocked, 1040 too many connections
            result["server_message"] = _error_text(greeting)
        elif greeting[:1] == b"\x0a" and b"\0" in greeting[1:]:  # protocol version 10
            result["server_version"] = greeting[1 : greeting.index(b"\0", 1)].decode(
                "utf-8", "replace"
            )
        else:
            raise NotMySQLError("the greeting is not the MySQL protocol")
        result["reachable"] = True
        result["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
        if user is not None and result["server_version"] is not None:
            result["login"], result["server_message"] = _login(conn, sequence, user)
    except (OSError, NotMySQLError) as exc:
        if result["reachable"]:
            # A greeting, then no answer to the login: the server accepts connections but
            # cannot serve them (a hung or overloaded server). Only a completed handshake
            # counts as reachable when a probe user is configured.
            result["login"] = f"failed: {exc or type(exc).__name__}"
            result["reachable"] = False
            result["error"] = f"no answer to the login after the greeting: {result['login'][8:]}"
        else:
            result["error"] = str(exc) or type(exc).__name__
    finally:
        conn.close()
    return result


class DatabaseMonitor:
    """Probes the database in the background and applies the grace period (module docstring).

    ``clock`` (monotonic seconds) times the grace; tests pass a fake one. ``refresh()`` runs
    one probe now; ``start()`` runs one and then keeps probing on a daemon thread.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self.configured = settings.db_host is not None
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None
        self._checked_at: float | None = None
        self._down_since: float | None = clock()  # never reached yet: the grace runs from start
        self._down_logged = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Probe now and record the result (and log when the database's state changes)."""
        s = self.settings
        assert s.db_host is not None  # only called when configured
        result = probe_mysql(s.db_host, s.db_port, s.db_timeout, s.db_probe_user)
        now, events = self.clock(), []
        with self._lock:
            previous, down_since = self._last, self._down_since
            self._last, self._checked_at = result, now
            if result["reachable"]:
                self._down_since, self._down_logged = None, False
                if previous is not None and not previous["reachable"]:
                    assert down_since is not None
                    since = _age(now, down_since)
                    events.append({"event": "database_reachable", "unreachable_for_seconds": since})
            else:
                if down_since is None:
                    self._down_since = down_since = now
                if previous is None or previous["reachable"]:
                    events.append({"event": "database_unreachable", "error": result["error"]})
                if self._expired(now - down_since) and not self._down_logged:
                    self._down_logged = True
                    since = _age(now, down_since)
                    events.append(
                        {
                            "event": "database_down",
                            "unreachable_for_seconds": since,
                            "grace_seconds": s.db_grace_seconds,
                        }
                    )
        for event in events:
            log(event)

    def _expired(self, unreachable_for: float) -> bool:
        return unreachable_for >= self.settings.db_grace_seconds

    def start(self) -> None:
        """Probe once now, then every interval (+-jitter) on a daemon thread."""
        if not self.configured or self._thread is not None:
            return
        self._probe_logging_errors()
        self._thread = threading.Thread(target=self._run, name="db-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.db_timeout + 5)

    def _run(self) -> None:
        interval, jitter = self.settings.db_probe_interval, DB_PROBE_JITTER
        while not self._stop.wait(interval * random.uniform(1 - jitter, 1 + jitter)):  # noqa: S311
            self._probe_logging_errors()

    def _probe_logging_errors(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a bug must not stop the monitor
            log({"event": "error", "where": "database probe", "error": repr(exc)})

    def status(self) -> tuple[str, dict[str, Any]]:
        """(``ok`` | ``degraded`` | ``down``, the report's ``database`` object)."""
        if not self.configured:
            return "ok", {"configured": False, "reachable": None, "latency_ms": None, "error": None}
        now = self.clock()
        with self._lock:
            last, checked_at, down_since = self._last, self._checked_at, self._down_since
        report: dict[str, Any] = {"configured": True}
        if last is None:
            report.update(reachable=None, latency_ms=None, error="not probed yet")
            report.update(server_version=None, server_message=None, login=None)
        else:
            report.update(last)
        report["checked_seconds_ago"] = None if checked_at is None else _age(now, checked_at)
        report["unreachable_for_seconds"] = None if down_since is None else _age(now, down_since)
        report["grace_seconds"] = self.settings.db_grace_seconds
        if down_since is None:
            return "ok", report
        return ("down" if self._expired(now - down_since) else "degraded"), report


def _age(now: float, since: float) -> float:
    return round(max(0.0, now - since), 1)


class TapStackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        settings: Settings,
        instance_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.instance_id = settings, instance_id
        self.db_monitor = DatabaseMonitor(settings, clock)
        super().__init__((settings.bind, settings.port), Handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Probe the database once (requests wait in the backlog meanwhile), then serve."""
        self.db_monitor.start()
        try:
            super().serve_forever(poll_interval)
        finally:
            self.db_monitor.stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, DISCONNECTS):  # clients going away is normal, not an error
            log({"event": "error", "client": client_address[0], "error": repr(error)})


class Handler(BaseHTTPRequestHandler):
    server: TapStackServer
    protocol_version = "HTTP/1.1"
    server_version = "TapStack"
    timeout = 75  # idle keep-alive timeout; must exceed the ALB idle timeout (60 s) to avoid 502s

    def parse_request(self) -> bool:
        self._started = time.monotonic()
        return super().parse_request()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method other than GET and HEAD
            return self._method_not_allowed
        raise AttributeError(name)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            self._send(200, "text/html; charset=utf-8", self._page().encode("utf-8"))
        elif path == HEALTH_PATH:
            code, report = self._health()
            self._send(code, "application/json", json.dumps(report).encode("utf-8"))
        elif path == LIVENESS_PATH:
            alive = {"status": "alive", "instance_id": self.server.instance_id}
            self._send(200, "application/json", json.dumps(alive).encode("utf-8"))
        else:
            self._send(404, "application/json", b'{"error": "not found"}')

    do_HEAD = do_GET

    def _method_not_allowed(self) -> None:
        self._send(405, "application/json", b'{"error": "method not allowed"}', "GET, HEAD")

    def _page(self) -> str:
        s, title = self.server.settings, html.escape(self.server.settings.project)
        fields = (("Region", s.region), ("Instance", self.server.instance_id), ("Role", s.role))
        rows = "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in fields)
        return (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><table>{rows}</table></body></html>\n"
        )

    def _health(self) -> tuple[int, dict[str, Any]]:
        s = self.server.settings
        db_state, database = self.server.db_monitor.status()
        maintenance = os.path.exists(s.maintenance_file)  # never cached: draining is immediate
        db_ok = db_state != "down"  # within the grace the region keeps its traffic
        healthy = db_ok and not maintenance
        status = "unhealthy" if not healthy else ("degraded" if db_state == "degraded" else "ok")
        return (200 if healthy else 503), {
            "status": status,
            "region": s.region,
            "role": s.role,
            "instance_id": self.server.instance_id,
            "database": database,
            "checks": {"database": db_ok, "maintenance": maintenance},
        }

    def _send(self, code: int, content_type: str, body: bytes, allow: str = "") -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if allow:
                self.send_header("Allow", allow)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except DISCONNECTS:
            self.close_connection = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        started = getattr(self, "_started", None)
        duration = None if started is None else round((time.monotonic() - started) * 1000, 2)
        method, path = getattr(self, "command", None), getattr(self, "path", None)
        status = int(code) if isinstance(code, int) else code  # HTTPStatus is an int
        log({"method": method, "path": path, "status": status, "duration_ms": duration})

    def log_message(self, format: str, *args: Any) -> None:
        pass  # every response is already logged as JSON by log_request; keep stderr quiet


def make_server(
    settings: Settings,
    instance_id: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TapStackServer:
    """Bind (port 0 picks a free port) without serving; looks up the instance id if not given.

    The database monitor starts with ``serve_forever()``; ``clock`` times its grace period.
    """
    return TapStackServer(settings, instance_id or resolve_instance_id(settings), clock)


def main(argv: list[str] | None = None) -> int:
    if sys.argv[1:] if argv is None else argv:
        print("usage: server.py  (configured by TAPSTACK_* environment variables)", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        server = make_server(settings)
    except SettingsError as exc:
        print(f"tapstack server: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tapstack server: cannot listen on port {settings.port}: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, _frame: Any) -> None:
        log({"event": "stopping", "signal": signum})
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() blocks

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log({"event": "started", "port": server.server_address[1], "instance": server.instance_id})
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log({"event": "stopped"})
    return 0


if __name__ == "__main__":
    sys.exit(main())

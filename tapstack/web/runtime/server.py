"""TapStack instance web server.

Runs on every web EC2 instance as ``/usr/bin/python3 /opt/tapstack/server.py`` under systemd.
Standard library only and Python 3.9 compatible (the system python3 of Amazon Linux 2023).

Configured only through environment variables:

    TAPSTACK_REGION            AWS region shown on the page (required)
    TAPSTACK_ROLE              ``primary`` or ``standby`` (required; anything else exits 2)
    TAPSTACK_PROJECT           display name (default ``TapStack``)
    TAPSTACK_BIND, _PORT       listen address (default ``0.0.0.0`` and ``8080``)
    TAPSTACK_DB_HOST, _PORT    database endpoint probed by /health (port default 3306)
    TAPSTACK_DB_TIMEOUT        TCP connect timeout in seconds (default 0.5)
    TAPSTACK_MAINTENANCE_FILE  while this file exists /health fails (drains the region)
    TAPSTACK_INSTANCE_ID       instance id override; otherwise read from IMDSv2
    TAPSTACK_IMDS_URL          metadata base URL (default http://169.254.169.254)

``GET /`` serves a small HTML page; ``GET /health`` a JSON report of the region's health
(503 when the database is unreachable or the maintenance file exists), which Route 53 uses to
decide which region gets traffic; ``GET /livez`` answers 200 as long as the process serves,
which the load balancer (and so Auto Scaling) uses, so that a database outage or a drained
region does not make Auto Scaling replace healthy instances. HEAD works for all three. Each
request is logged to stdout as one JSON line.
"""

from __future__ import annotations

import html
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROLES = ("primary", "standby")
DB_CACHE_SECONDS = 2.0
# socket.timeout only became an alias of TimeoutError in Python 3.10.
DISCONNECTS = (ConnectionError, socket.timeout)
_LOG_LOCK = threading.Lock()


class ConfigError(ValueError):
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
    db_timeout: float = 0.5
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
                raise ConfigError(f"{name} must be a port number (0-65535), got {raw!r}")
            return int(raw)

        role, region = get("TAPSTACK_ROLE"), get("TAPSTACK_REGION")
        if role not in ROLES:
            raise ConfigError(f"TAPSTACK_ROLE must be 'primary' or 'standby', got {role!r}")
        if not region:
            raise ConfigError("TAPSTACK_REGION must be set (for example us-east-1)")
        try:
            db_timeout = float(get("TAPSTACK_DB_TIMEOUT", "0.5"))
        except ValueError:
            db_timeout = -1.0
        if not db_timeout > 0:  # also rejects nan
            raise ConfigError("TAPSTACK_DB_TIMEOUT must be a positive number of seconds")
        return cls(
            region=region,
            role=role,
            project=get("TAPSTACK_PROJECT", cls.project),
            port=port("TAPSTACK_PORT", cls.port),
            bind=get("TAPSTACK_BIND", cls.bind),
            db_host=get("TAPSTACK_DB_HOST") or None,
            db_port=port("TAPSTACK_DB_PORT", cls.db_port),
            db_timeout=db_timeout,
            maintenance_file=get("TAPSTACK_MAINTENANCE_FILE", cls.maintenance_file),
            instance_id=get("TAPSTACK_INSTANCE_ID") or None,
            imds_url=get("TAPSTACK_IMDS_URL", cls.imds_url).rstrip("/"),
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


class DatabaseProbe:
    """TCP-connect check of the database, cached so a flood of health checks cannot hammer it."""

    def __init__(self, settings: Settings, ttl: float = DB_CACHE_SECONDS) -> None:
        self.address = (settings.db_host, settings.db_port) if settings.db_host else None
        self.timeout, self.ttl = settings.db_timeout, ttl
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0

    def check(self) -> dict[str, Any]:
        if self.address is None:
            return {"configured": False, "reachable": None, "latency_ms": None, "error": None}
        with self._lock:  # concurrent health checks wait for one probe instead of each probing
            if self._cached is None or time.monotonic() - self._cached_at >= self.ttl:
                self._cached, self._cached_at = self._probe(), time.monotonic()
            return dict(self._cached)

    def _probe(self) -> dict[str, Any]:
        assert self.address is not None  # check() returns early otherwise
        started = time.monotonic()
        try:
            socket.create_connection(self.address, timeout=self.timeout).close()
        except OSError as exc:
            error = str(exc) or type(exc).__name__
            return {"configured": True, "reachable": False, "latency_ms": None, "error": error}
        latency = round((time.monotonic() - started) * 1000, 2)
        return {"configured": True, "reachable": True, "latency_ms": latency, "error": None}


class TapStackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, settings: Settings, instance_id: str):
        self.settings, self.instance_id = settings, instance_id
        self.db_probe = DatabaseProbe(settings)
        super().__init__((settings.bind, settings.port), Handler)

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
        elif path == "/health":
            code, report = self._health()
            self._send(code, "application/json", json.dumps(report).encode("utf-8"))
        elif path == "/livez":
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
        database = self.server.db_probe.check()
        maintenance = os.path.exists(s.maintenance_file)  # never cached: draining is immediate
        db_ok = not database["configured"] or bool(database["reachable"])
        healthy = db_ok and not maintenance
        return (200 if healthy else 503), {
            "status": "ok" if healthy else "unhealthy",
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


def make_server(settings: Settings, instance_id: str | None = None) -> TapStackServer:
    """Bind (port 0 picks a free port) without serving; looks up the instance id if not given."""
    return TapStackServer(settings, instance_id or resolve_instance_id(settings))


def main(argv: list[str] | None = None) -> int:
    if sys.argv[1:] if argv is None else argv:
        print("usage: server.py  (configured by TAPSTACK_* environment variables)", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        server = make_server(settings)
    except ConfigError as exc:
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

"""Tests for the instance web server (tapstack/web/runtime/server.py).

Every test talks to a real server over HTTP on 127.0.0.1: most run it in-process with
make_server() on a thread, a few start the script as a subprocess exactly as systemd does.
The module is loaded from its file because on the instance it runs standalone, outside the
tapstack package.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SERVER_PATH = Path(__file__).resolve().parents[3] / "tapstack" / "web" / "runtime" / "server.py"
INSTANCE_ID = "i-0123456789abcdef0"


def _load_server_module():
    spec = importlib.util.spec_from_file_location("tapstack_instance_server", SERVER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while building Settings
    spec.loader.exec_module(module)
    return module


server = _load_server_module()


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
def serving(settings, instance_id: str | None = INSTANCE_ID):
    """Run make_server(settings) on a thread; yields the server (its port is server_port)."""
    srv = server.make_server(settings, instance_id)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def settings(tmp_path):
    return server.Settings(
        region="us-east-1",
        role="primary",
        bind="127.0.0.1",
        port=0,
        maintenance_file=str(tmp_path / "maintenance"),
        imds_url=f"http://127.0.0.1:{closed_port()}",
    )


@pytest.fixture
def database():
    """A plain TCP listener standing in for the database; yields its port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def with_db(settings, port: int):
    return server.Settings(**{**vars(settings), "db_host": "127.0.0.1", "db_port": port})


class FakeMetadata(BaseHTTPRequestHandler):
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

    def _reply(self, code: int, text: str):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


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
    assert "primary" in page
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
    assert report["role"] == "primary"
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
    assert report["database"]["configured"] is True
    assert report["database"]["reachable"] is True
    assert isinstance(report["database"]["latency_ms"], float)
    assert report["database"]["error"] is None


def test_health_returns_503_when_the_database_is_unreachable(settings):
    with serving(with_db(settings, closed_port())) as srv:
        status, headers, body = call(srv.server_port, "GET", "/health")
    report = json.loads(body)
    assert status == 503
    assert headers["Cache-Control"] == "no-store"
    assert report["status"] == "unhealthy"
    assert report["database"]["configured"] is True
    assert report["database"]["reachable"] is False
    assert report["database"]["latency_ms"] is None
    assert report["database"]["error"]
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
        flag.unlink()  # well inside the 2 s database cache: maintenance must not be cached
        status, report = get_json(srv.server_port, "/health")
    assert status == 200
    assert report["checks"]["maintenance"] is False


def test_health_reuses_the_database_result_for_two_seconds(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    db_port = listener.getsockname()[1]
    with serving(with_db(settings, db_port)) as srv:
        assert get_json(srv.server_port, "/health")[0] == 200
        listener.close()  # the database goes away...
        status, report = get_json(srv.server_port, "/health")
    assert status == 200  # ...but the cached result is served instead of probing again
    assert report["database"]["reachable"] is True
    assert server.DB_CACHE_SECONDS == 2.0


def test_database_probe_checks_again_once_the_cache_has_expired(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    probe = server.DatabaseProbe(with_db(settings, listener.getsockname()[1]), ttl=0)
    assert probe.check()["reachable"] is True
    listener.close()
    assert probe.check()["reachable"] is False


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


def test_head_health_returns_503_when_the_database_is_unreachable(settings):
    with serving(with_db(settings, closed_port())) as srv:
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
    assert settings.maintenance_file == "/etc/tapstack/maintenance"
    assert settings.db_host is None and settings.instance_id is None
    assert settings.project == "TapStack"


def test_settings_from_env_reads_every_variable():
    settings = server.Settings.from_env(
        {
            "TAPSTACK_REGION": "us-east-1",
            "TAPSTACK_ROLE": "primary",
            "TAPSTACK_PROJECT": "Demo",
            "TAPSTACK_PORT": "9000",
            "TAPSTACK_BIND": "127.0.0.1",
            "TAPSTACK_DB_HOST": "db.internal",
            "TAPSTACK_DB_PORT": "3307",
            "TAPSTACK_DB_TIMEOUT": "0.25",
            "TAPSTACK_MAINTENANCE_FILE": "/tmp/drain",
            "TAPSTACK_INSTANCE_ID": "i-abc",
            "TAPSTACK_IMDS_URL": "http://127.0.0.1:1/",
        }
    )
    assert settings == server.Settings(
        region="us-east-1",
        role="primary",
        project="Demo",
        port=9000,
        bind="127.0.0.1",
        db_host="db.internal",
        db_port=3307,
        db_timeout=0.25,
        maintenance_file="/tmp/drain",
        instance_id="i-abc",
        imds_url="http://127.0.0.1:1",
    )


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
    ],
)
def test_settings_from_env_rejects_invalid_values(overrides, message):
    env = {"TAPSTACK_REGION": "us-east-1", "TAPSTACK_ROLE": "primary", **overrides}
    with pytest.raises(server.ConfigError, match=message):
        server.Settings.from_env(env)


def test_main_returns_2_and_explains_when_the_role_is_invalid(monkeypatch, capsys):
    monkeypatch.setenv("TAPSTACK_REGION", "us-east-1")
    monkeypatch.setenv("TAPSTACK_ROLE", "secondary")
    assert server.main([]) == 2
    err = capsys.readouterr().err
    assert "TAPSTACK_ROLE must be 'primary' or 'standby', got 'secondary'" in err


def test_main_rejects_command_line_arguments(capsys):
    assert server.main(["--port", "80"]) == 2
    assert "environment" in capsys.readouterr().err


# --------------------------------------------------------------------------- as systemd runs it


def test_script_serves_requests_and_exits_0_on_sigterm(tmp_path):
    env = child_env(
        TAPSTACK_REGION="us-west-2",
        TAPSTACK_ROLE="standby",
        TAPSTACK_BIND="127.0.0.1",
        TAPSTACK_PORT="0",
        TAPSTACK_INSTANCE_ID="i-subprocess",
        TAPSTACK_MAINTENANCE_FILE=str(tmp_path / "maintenance"),
    )
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_PATH)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(10, proc.kill)  # never let a hung server hang the suite
    watchdog.start()
    try:
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
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert {"method": "GET", "path": "/health", "status": 200} in [
        {k: r.get(k) for k in ("method", "path", "status")} for r in records
    ]
    assert records[-1] == {"event": "stopped"}


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

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
    TAPSTACK_DB_NAME             database holding the ``events`` table (required for reads)
    TAPSTACK_DB_READ_USER        read-only account /events reads as; unset: no /events
    TAPSTACK_DB_AUTH             ``iam`` (default: an RDS IAM token from the instance role)
                                 or ``password`` (read from TAPSTACK_DB_PASSWORD_FILE)
    TAPSTACK_DB_PASSWORD_FILE    file holding the password (``password`` only; one line)
    TAPSTACK_DB_TLS_CA           CA bundle the database's certificate must chain to, and
                                 which turns TLS on (required for ``iam``, optional otherwise)
    TAPSTACK_DB_READ_TIMEOUT     time allowed for one whole read, in seconds (default 3)
    TAPSTACK_MAINTENANCE_FILE    while this file exists /health fails (drains the region)
    TAPSTACK_INSTANCE_ID         instance id override; otherwise read from IMDSv2
    TAPSTACK_IMDS_URL            metadata base URL (default http://169.254.169.254)

``GET /`` serves a small HTML page; ``GET /health`` a JSON report of the region's health,
which Route 53 uses to decide which region gets traffic; ``GET /livez`` answers 200 as long
as the process serves, which the load balancer (and so Auto Scaling) uses, so that a database
outage or a drained region does not make Auto Scaling replace healthy instances. HEAD works
for all of them. Each request is logged to stdout as one JSON line (with ``error`` when a read
failed), and so is each change of the database's state (``database_unreachable``,
``database_down``, ``database_reachable``). A request that reached the load balancer over
HTTPS (``X-Forwarded-Proto: https``) gets ``Strict-Transport-Security: max-age=31536000;
includeSubDomains``; plain HTTP never does (RFC 6797, section 7.2).

Reading the events
------------------
With TAPSTACK_DB_READ_USER set, the server reads the ``events`` table the loader writes, from
its region's database (the writer's instances from the writer, the standby's from its read
replica: TAPSTACK_DB_HOST is the region's own instance):

* ``GET /events/<id>`` (the id percent-encoded): 200 and the row as JSON, ``{"id",
  "occurred_at" (ISO-8601 UTC, microseconds, ``Z``), "type", "payload" (an object)}``; 404
  ``{"error": "not found", "id"}``; 400 ``{"error"}`` for an id no event can have (empty,
  over 64 characters, non-printable, surrounding whitespace).
* ``GET /events?latest=N`` (1-100, default 10): 200 ``{"region", "role", "events": [...]}``,
  newest first by ``occurred_at`` then ``id``; 400 ``{"error"}`` for any other N or any other
  query parameter.
* When the database cannot answer: 503 ``{"error": "database unavailable", "reason"}`` within
  TAPSTACK_DB_READ_TIMEOUT (connect, TLS, login and query share that one deadline), also when
  more than 8 reads already wait. Without TAPSTACK_DB_READ_USER, /events answers 404.

Queries are server-side prepared statements (COM_STMT_PREPARE/EXECUTE): the id and N travel as
parameters, never inside the SQL text. Idle connections (at most 4, each at most 5 minutes old)
are reused; a read that fails on a reused connection is retried once on a new one.

How the instances authenticate
------------------------------
RDS IAM database authentication, so that no password exists anywhere: the account
(``tapstack_reader``, created by ``python -m tapstack bootstrap-database`` with ``IDENTIFIED
WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL`` and ``SELECT`` on ``events`` only; it
replicates to the replica) logs in with a token the server signs itself: a SigV4 presigned
``connect`` request for service ``rds-db`` (what ``aws rds generate-db-auth-token`` computes,
valid 15 minutes: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html),
signed with the instance role's credentials from IMDSv2 (cached until 5 minutes before they
expire). The role may only ``rds-db:connect`` as that account on this region's instance
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html).
The token is sent as a ``mysql_clear_password`` response, which this client sends only inside
TLS; TLS verifies the certificate against TAPSTACK_DB_TLS_CA (the Amazon RDS CA bundle the
loader ships, installed beside this file at boot) and its name against TAPSTACK_DB_HOST.

The MySQL client is this file's own (TLS by SSLRequest; mysql_native_password,
caching_sha2_password and clear-password logins; prepared statements with string results),
about 200 lines on top of the probe's handshake: the server stays one standard-library file
that runs on the system Python, is tested as it ships, and is installed as one file whose
SHA-256 the boot script checks. A vendored PyMySQL would be a second artifact to pin, ship
and verify for the little of it this server uses. ``password`` authentication exists for
local servers (MariaDB has no IAM plugin).

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

import contextlib
import hashlib
import hmac
import html
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
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
ENV_DB_NAME = "TAPSTACK_DB_NAME"
ENV_DB_READ_USER = "TAPSTACK_DB_READ_USER"
ENV_DB_AUTH = "TAPSTACK_DB_AUTH"
ENV_DB_PASSWORD_FILE = "TAPSTACK_DB_PASSWORD_FILE"  # noqa: S105 - a variable name
ENV_DB_TLS_CA = "TAPSTACK_DB_TLS_CA"
ENV_DB_READ_TIMEOUT = "TAPSTACK_DB_READ_TIMEOUT"
ENV_MAINTENANCE_FILE = "TAPSTACK_MAINTENANCE_FILE"
ENV_INSTANCE_ID = "TAPSTACK_INSTANCE_ID"
ENV_IMDS_URL = "TAPSTACK_IMDS_URL"
#: Values of TAPSTACK_ROLE: what the region does today (as the loader's ROLE).
#: Deep health (database, maintenance): Route 53 moves traffic between regions on it.
HEALTH_PATH = "/health"
#: Process liveness: the target group (and so Auto Scaling) replaces instances on it only.
LIVENESS_PATH = "/livez"
#: The event reads: EVENTS_PATH?latest=N and EVENTS_PATH/<id>.
EVENTS_PATH = "/events"
#: The loader's table and its columns (tapstack.loader.runtime.schema.EVENTS; a test checks).
EVENTS_TABLE = "events"
EVENT_COLUMNS = ("id", "occurred_at", "type", "payload")
MAX_EVENT_ID = 64
LATEST_DEFAULT, LATEST_MAX = 10, 100
#: Values of TAPSTACK_DB_AUTH.
AUTH_IAM, AUTH_PASSWORD = "iam", "password"
AUTH_MODES = (AUTH_IAM, AUTH_PASSWORD)
HSTS = "max-age=31536000; includeSubDomains"
DB_READS_AT_ONCE = 8  # more wait for a slot within the read timeout, then get 503
DB_IDLE_CONNECTIONS = 4
DB_IDLE_SECONDS = 300.0
RDS_TOKEN_SECONDS = 900  # the longest an RDS IAM token may be valid
CREDENTIALS_REFRESH_SECONDS = 300  # fetch new role credentials this long before they expire

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
# Reads add CONNECT_WITH_DB and PLUGIN_AUTH_LENENC_CLIENT_DATA (an IAM token is ~1 KB long);
# CLIENT_SSL when TLS is on. Result packets may be up to one MySQL packet (16 MiB - 1).
_MYSQL_READ_CAPABILITIES = _MYSQL_CAPABILITIES | 0x00000008 | 0x00200000
_MYSQL_SSL = 0x00000800
_MYSQL_MAX_PACKET = 0xFFFFFF - 1
_MYSQL_STRING_TYPES = {0x0F, 0xF5, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE}
_CLEAR, _NATIVE, _SHA2 = "mysql_clear_password", "mysql_native_password", "caching_sha2_password"


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
    db_name: str | None = None
    db_read_user: str | None = None
    db_auth: str = AUTH_IAM
    db_password_file: str | None = None
    db_tls_ca: str | None = None
    db_read_timeout: float = 3.0
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
        probe_user = _user_name(ENV_DB_PROBE_USER, get(ENV_DB_PROBE_USER))
        reads = _read_settings(get, seconds(ENV_DB_READ_TIMEOUT, cls.db_read_timeout))
        return cls(
            **reads,
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


def _user_name(variable: str, name: str) -> str | None:
    if name and not (len(name) <= 32 and name.isascii() and name.isprintable()):
        raise SettingsError(
            f"{variable} must be a MySQL user name (printable ASCII, at most 32 characters), "
            f"got {name!r}"
        )
    return name or None


def _read_settings(get: Callable[..., str], timeout: float) -> dict[str, Any]:
    """The /events settings, checked together: what each authentication mode needs."""
    user = _user_name(ENV_DB_READ_USER, get(ENV_DB_READ_USER))
    name, auth = get(ENV_DB_NAME) or None, get(ENV_DB_AUTH, AUTH_IAM)
    ca, password_file = get(ENV_DB_TLS_CA) or None, get(ENV_DB_PASSWORD_FILE) or None
    if auth not in AUTH_MODES:
        raise SettingsError(f"{ENV_DB_AUTH} must be 'iam' or 'password', got {auth!r}")
    if user is not None:
        needs = {ENV_DB_HOST: get(ENV_DB_HOST), ENV_DB_NAME: name}
        if auth == AUTH_IAM:  # the token travels as a clear-text password: inside TLS only
            needs[ENV_DB_TLS_CA] = ca
        else:
            needs[ENV_DB_PASSWORD_FILE] = password_file
        for variable, value in needs.items():
            if not value:
                raise SettingsError(
                    f"{ENV_DB_READ_USER} with {ENV_DB_AUTH}={auth} needs {variable}"
                )
        if not re.fullmatch(r"[A-Za-z0-9_$]{1,64}", name or ""):
            raise SettingsError(f"{ENV_DB_NAME} must be a database name, got {name!r}")
        files = {ENV_DB_TLS_CA: ca, ENV_DB_PASSWORD_FILE: password_file}
        for variable, path in files.items():
            used = variable != ENV_DB_PASSWORD_FILE or auth == AUTH_PASSWORD
            if path and used and not os.access(path, os.R_OK):
                raise SettingsError(f"{variable}: cannot read {path!r}")
    return {
        "db_name": name,
        "db_read_user": user,
        "db_auth": auth,
        "db_password_file": password_file,
        "db_tls_ca": ca,
        "db_read_timeout": timeout,
    }


def log(record: dict[str, Any]) -> None:
    """Write one JSON line to stdout (thread safe, flushed so journald sees it at once)."""
    line = json.dumps(record, sort_keys=True)
    with _LOG_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class _Metadata:
    """One IMDSv2 session: a token first, then GETs that present it (never through a proxy)."""

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        self.base_url, self.timeout = base_url, timeout
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(  # noqa: S310 - URL comes from the unit file
            base_url + "/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        with self.opener.open(request, timeout=timeout) as response:
            self.token = response.read().decode("utf-8").strip()

    def get(self, path: str) -> str:
        request = urllib.request.Request(  # noqa: S310
            self.base_url + path, headers={"X-aws-ec2-metadata-token": self.token}
        )
        with self.opener.open(request, timeout=self.timeout) as response:
            return str(response.read().decode("utf-8").strip())


def fetch_instance_id(imds_url: str, timeout: float = 1.0) -> str | None:
    """Read the instance id from instance metadata with IMDSv2; None on any failure."""
    try:
        return _Metadata(imds_url, timeout).get("/latest/meta-data/instance-id") or None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def resolve_instance_id(settings: Settings) -> str:
    return settings.instance_id or fetch_instance_id(settings.imds_url) or socket.gethostname()


# --------------------------------------------------------------------------- database probe


class NotMySQLError(Exception):
    """The endpoint answered, but not with the MySQL protocol."""


class MySQLError(Exception):
    """The server answered with an error (its code and message are the text)."""


class _MySQLConnection:
    """Just enough of the MySQL wire protocol for the probe and the event reads, every step
    within one deadline (``deadline``, monotonic seconds, may be moved on for a new read)."""

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

    def read_packet(self, limit: int = _MYSQL_MAX_HANDSHAKE_PACKET) -> tuple[int, bytes]:
        header = self._recv_exact(4)
        length, sequence = int.from_bytes(header[:3], "little"), header[3]
        if length > limit:
            raise NotMySQLError(f"a {length}-byte packet: not a MySQL handshake, or too large")
        return sequence, self._recv_exact(length)

    def write_packet(self, sequence: int, payload: bytes) -> None:
        self.sock.settimeout(self._remaining())
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([sequence & 0xFF]) + payload)

    def reply(self) -> tuple[int, bytes]:
        """The next packet, unless it is an ERR packet, which raises MySQLError."""
        sequence, packet = self.read_packet(_MYSQL_MAX_PACKET)
        if packet[:1] == b"\xff":
            raise MySQLError(_error_text(packet))
        return sequence, packet

    def login(
        self,
        user: str,
        password: str,
        database: str,
        tls: ssl.SSLContext | None,
        host: str,
        plugin: str,
    ) -> None:
        """Read the greeting, switch to TLS when ``tls`` is given, and log in."""
        salt, server_capabilities = _greeting(self.reply()[1])
        capabilities, sequence = _MYSQL_READ_CAPABILITIES, 1
        if tls is not None:
            if not server_capabilities & _MYSQL_SSL:
                raise MySQLError("the server does not offer TLS")
            capabilities |= _MYSQL_SSL
            self.write_packet(1, struct.pack("<IIB23x", capabilities, 1 << 24, _MYSQL_UTF8MB4))
            self.sock.settimeout(self._remaining())
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
            sequence = 2
        auth = self._auth_response(plugin, password, salt)
        self.write_packet(
            sequence,
            struct.pack("<IIB23x", capabilities, 1 << 24, _MYSQL_UTF8MB4)
            + user.encode("utf-8")
            + b"\0"
            + _lenenc_int(len(auth))
            + auth
            + database.encode("utf-8")
            + b"\0"
            + plugin.encode("ascii")
            + b"\0",
        )
        for _ in range(4):
            sequence, packet = self.reply()
            if packet[:1] == b"\x00":
                return
            if packet[:1] == b"\xfe":  # auth switch: the account's plugin and a new salt
                name, _, salt = packet[1:].partition(b"\0")
                plugin = name.decode("ascii", "replace")
                self.write_packet(sequence + 1, self._auth_response(plugin, password, salt))
            elif packet == b"\x01\x04":  # caching_sha2 full authentication
                self.write_packet(sequence + 1, self._auth_response(_CLEAR, password, b""))
            elif packet != b"\x01\x03":  # anything but caching_sha2's "fast auth ok"
                raise NotMySQLError("unexpected packet during the login")
        raise NotMySQLError("the login did not finish")

    def _auth_response(self, plugin: str, password: str, salt: bytes) -> bytes:
        secret, salt = password.encode("utf-8"), salt[:20]
        if plugin == _CLEAR:
            if not isinstance(self.sock, ssl.SSLSocket):
                raise MySQLError("the server asks for a clear-text password, sent only over TLS")
            return secret + b"\0"
        if plugin == _NATIVE and secret:
            first = hashlib.sha1(secret).digest()  # noqa: S324 - the protocol's scramble
            mask = hashlib.sha1(salt + hashlib.sha1(first).digest()).digest()  # noqa: S324
            return bytes(a ^ b for a, b in zip(first, mask))
        if plugin == _SHA2 and secret:
            first = hashlib.sha256(secret).digest()
            mask = hashlib.sha256(hashlib.sha256(first).digest() + salt).digest()
            return bytes(a ^ b for a, b in zip(first, mask))
        if plugin in (_NATIVE, _SHA2):
            return b""
        raise MySQLError(f"unsupported authentication plugin {plugin!r}")

    def execute(self, sql: str, params: list[Any]) -> list[list[bytes | None]]:
        """Prepare ``sql``, execute it with ``params`` bound, close it; string columns only."""
        self.write_packet(0, b"\x16" + sql.encode("utf-8"))  # COM_STMT_PREPARE
        statement, columns, count = struct.unpack_from("<IHH", self.reply()[1], 1)
        for definitions in (count, columns):  # parameter, then column definitions, each + EOF
            for _ in range(definitions + (1 if definitions else 0)):
                self.reply()
        self.write_packet(0, _execute_packet(statement, params))
        columns = _lenenc(self.reply()[1], 0)[0]
        for _ in range(columns):
            kind = _column_type(self.reply()[1])
            if kind not in _MYSQL_STRING_TYPES:
                raise NotMySQLError(f"column type {kind} is not a string")
        self.reply()  # EOF after the column definitions
        rows = []
        while True:
            packet = self.reply()[1]
            if packet[:1] == b"\xfe" and len(packet) < 9:  # EOF: the last row was sent
                break
            rows.append(_binary_row(packet, columns))
        self.write_packet(0, b"\x19" + struct.pack("<I", statement))  # COM_STMT_CLOSE
        return rows

    def quit(self) -> None:
        """COM_QUIT and close: a logged-in connection that ends so counts as no abort."""
        with contextlib.suppress(OSError):
            self.write_packet(0, _MYSQL_COM_QUIT)
        self.close()


def _greeting(packet: bytes) -> tuple[bytes, int]:
    """(salt, capabilities) of a protocol-10 server greeting."""
    if packet[:1] != b"\x0a" or b"\0" not in packet[1:]:
        raise NotMySQLError("the greeting is not the MySQL protocol")
    at = packet.index(b"\0", 1) + 1  # after the version: thread id, salt part 1, filler
    salt = packet[at + 4 : at + 12]
    capabilities = int.from_bytes(packet[at + 13 : at + 15], "little")
    capabilities |= int.from_bytes(packet[at + 18 : at + 20], "little") << 16
    return salt + packet[at + 31 : at + 43], capabilities


def _lenenc_int(value: int) -> bytes:
    if value < 251:
        return bytes([value])
    if value < 1 << 16:
        return b"\xfc" + value.to_bytes(2, "little")
    if value < 1 << 24:
        return b"\xfd" + value.to_bytes(3, "little")
    return b"\xfe" + value.to_bytes(8, "little")


def _lenenc(data: bytes, at: int) -> tuple[int, int]:
    """(length-encoded integer at ``at``, the position after it)."""
    first = data[at]
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first, 0)
    if size == 0:
        return first, at + 1
    return int.from_bytes(data[at + 1 : at + 1 + size], "little"), at + 1 + size


def _column_type(definition: bytes) -> int:
    at = 0
    for _ in range(6):  # catalog, schema, table, org_table, name, org_name
        length, at = _lenenc(definition, at)
        at += length
    return definition[at + 7]  # after 0x0c, character set (2), column length (4)


def _execute_packet(statement: int, params: list[Any]) -> bytes:
    """COM_STMT_EXECUTE with integers as LONGLONG and everything else as VAR_STRING."""
    packet = b"\x17" + struct.pack("<IBI", statement, 0, 1)
    if not params:
        return packet
    types, values = b"", b""
    for value in params:
        if isinstance(value, int):
            types, values = types + b"\x08\x00", values + struct.pack("<q", value)
        else:
            data = str(value).encode("utf-8")
            types, values = types + b"\xfd\x00", values + _lenenc_int(len(data)) + data
    return packet + bytes((len(params) + 7) // 8) + b"\x01" + types + values


def _binary_row(packet: bytes, columns: int) -> list[bytes | None]:
    """A binary-protocol row of string columns: 0x00, the NULL bitmap (offset 2), values."""
    row: list[bytes | None] = []
    at = 1 + (columns + 9) // 8
    for column in range(columns):
        if packet[1 + (column + 2) // 8] & (1 << ((column + 2) % 8)):
            row.append(None)
            continue
        length, at = _lenenc(packet, at)
        row.append(packet[at : at + length])
        at += length
    return row


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


# --------------------------------------------------------------------------- event reads


class DatabaseUnavailable(Exception):
    """The database could not answer a read; the text says why (it is shown to the client)."""


class BadRequest(ValueError):
    """The request cannot be answered as asked; the text says why."""


class InstanceCredentials:
    """The instance role's temporary credentials from IMDSv2, fetched again
    CREDENTIALS_REFRESH_SECONDS before they expire (EC2 renews them well before that)."""

    PATH = "/latest/meta-data/iam/security-credentials/"

    def __init__(self, imds_url: str, clock: Callable[[], float] = time.time) -> None:
        self.imds_url, self.clock = imds_url, clock
        self._lock = threading.Lock()
        self._cached: tuple[tuple[str, str, str], float] | None = None

    def get(self) -> tuple[str, str, str]:
        with self._lock:
            if self._cached is None or self._cached[1] - self.clock() < CREDENTIALS_REFRESH_SECONDS:
                self._cached = self._fetch()
            return self._cached[0]

    def _fetch(self) -> tuple[tuple[str, str, str], float]:
        try:
            metadata = _Metadata(self.imds_url)
            role = metadata.get(self.PATH).splitlines()[0]
            data = json.loads(metadata.get(self.PATH + role))
            expires = datetime.strptime(data["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
            keys = (data["AccessKeyId"], data["SecretAccessKey"], data["Token"])
        except (OSError, ValueError, KeyError, IndexError, http.client.HTTPException) as exc:
            raise DatabaseUnavailable(f"no instance role credentials from IMDS: {exc}") from None
        return keys, expires.replace(tzinfo=timezone.utc).timestamp()


def rds_auth_token(
    host: str, port: int, user: str, region: str, keys: tuple[str, str, str], now: datetime
) -> str:
    """An RDS IAM authentication token: a SigV4 presigned ``connect`` URL for ``rds-db``
    without its scheme, as ``generate_db_auth_token`` makes it (a test checks against it)."""
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{stamp[:8]}/{region}/rds-db/aws4_request"
    access_key, secret_key, session_token = keys
    query = {
        "Action": "connect",
        "DBUser": user,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(RDS_TOKEN_SECONDS),
        "X-Amz-SignedHeaders": "host",
    }
    if session_token:
        query["X-Amz-Security-Token"] = session_token
    quote = urllib.parse.quote
    encoded = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items()]
    canonical = "&".join(f"{k}={v}" for k, v in sorted(encoded))
    digest = hashlib.sha256
    request = f"GET\n/\n{canonical}\nhost:{host}:{port}\n\nhost\n{digest(b'').hexdigest()}"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest(request.encode()).hexdigest()}"
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (stamp[:8], region, "rds-db", "aws4_request", to_sign):
        key = hmac.new(key, part.encode("utf-8"), digest).digest()
    url_query = "&".join(f"{k}={v}" for k, v in encoded)  # in botocore's order
    return f"{host}:{port}/?{url_query}&X-Amz-Signature={key.hex()}"


def _tls_context(ca_file: str) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{ENV_DB_TLS_CA}: no CA bundle in {ca_file!r}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


_SELECT_EVENTS = (  # EVENTS_TABLE and its EVENT_COLUMNS, in this order
    "SELECT `id`, DATE_FORMAT(`occurred_at`, '%Y-%m-%dT%H:%i:%s.%fZ'), `type`, "
    "CAST(`payload` AS CHAR) FROM `events`"
)


class EventReader:
    """Reads events from the region's database: a few reads at once, each within
    ``db_read_timeout``, over reused connections (module docstring)."""

    def __init__(self, settings: Settings, credentials: InstanceCredentials | None = None) -> None:
        self.settings = settings
        self.tls = _tls_context(settings.db_tls_ca) if settings.db_tls_ca else None
        self.credentials = credentials or InstanceCredentials(settings.imds_url)
        self._slots = threading.BoundedSemaphore(DB_READS_AT_ONCE)
        self._idle: list[tuple[float, _MySQLConnection]] = []
        self._lock = threading.Lock()

    def event(self, event_id: str) -> dict[str, Any] | None:
        rows = self._query(_SELECT_EVENTS + " WHERE `id` = ?", [event_id])
        return _event(rows[0]) if rows else None

    def latest(self, count: int) -> list[dict[str, Any]]:
        order = " ORDER BY `occurred_at` DESC, `id` DESC LIMIT ?"
        return [_event(row) for row in self._query(_SELECT_EVENTS + order, [count])]

    def _query(self, sql: str, params: list[Any]) -> list[list[bytes | None]]:
        timeout = self.settings.db_read_timeout
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise DatabaseUnavailable(f"more than {DB_READS_AT_ONCE} reads waiting")
        try:
            reused = self._take()
            if reused is not None:
                try:
                    return self._run(reused, sql, params, deadline)
                except (OSError, NotMySQLError, MySQLError):
                    pass  # the server may have closed it meanwhile: once more, on a new one
            return self._run(self._connect(deadline), sql, params, deadline)
        except (OSError, NotMySQLError, MySQLError) as exc:
            raise DatabaseUnavailable(str(exc) or type(exc).__name__) from None
        finally:
            self._slots.release()

    def _run(self, conn: _MySQLConnection, sql: str, params: list[Any], deadline: float) -> Any:
        conn.deadline = deadline
        try:
            rows = conn.execute(sql, params)
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < DB_IDLE_CONNECTIONS:
                self._idle.append((time.monotonic(), conn))
                return rows
        conn.quit()
        return rows

    def _take(self) -> _MySQLConnection | None:
        with self._lock:
            while self._idle:
                since, conn = self._idle.pop()
                if time.monotonic() - since < DB_IDLE_SECONDS:
                    return conn
                conn.quit()
        return None

    def _connect(self, deadline: float) -> _MySQLConnection:
        s = self.settings
        assert s.db_host and s.db_name and s.db_read_user  # Settings checked them
        if s.db_auth == AUTH_IAM:
            keys = self.credentials.get()
            now = datetime.now(timezone.utc)
            password = rds_auth_token(s.db_host, s.db_port, s.db_read_user, s.region, keys, now)
            plugin = _CLEAR
        else:
            assert s.db_password_file is not None
            with open(s.db_password_file, encoding="utf-8") as file:
                password, plugin = file.read().rstrip("\r\n"), _NATIVE
        conn = _MySQLConnection((s.db_host, s.db_port), max(deadline - time.monotonic(), 0.001))
        conn.deadline = deadline
        try:
            conn.login(s.db_read_user, password, s.db_name, self.tls, s.db_host, plugin)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.quit()


def _event(row: list[bytes | None]) -> dict[str, Any]:
    event_id, occurred_at, kind, payload = (bytes(value or b"").decode("utf-8") for value in row)
    return {
        "id": event_id,
        "occurred_at": occurred_at,
        "type": kind,
        "payload": json.loads(payload),
    }


def parse_latest(query: str) -> int:
    """N of ``latest=N`` (default LATEST_DEFAULT); BadRequest for anything else."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"latest"})
    if unknown:
        raise BadRequest(f"unknown query parameter(s) {', '.join(unknown)}: only latest is allowed")
    values = params.get("latest", [str(LATEST_DEFAULT)])
    if (
        len(values) != 1
        or not re.fullmatch(r"[0-9]{1,3}", values[0])
        or not (1 <= int(values[0]) <= LATEST_MAX)
    ):
        raise BadRequest(f"latest must be a whole number from 1 to {LATEST_MAX}, got {values}")
    return int(values[0])


def parse_event_id(raw: str) -> str:
    """The id in ``/events/<id>``, percent-decoded; BadRequest when no event can have it."""
    try:
        event_id = urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the event id is not UTF-8") from None
    if (
        not 0 < len(event_id) <= MAX_EVENT_ID
        or not event_id.isprintable()
        or (event_id.strip() != event_id)
    ):
        raise BadRequest(
            f"an event id is 1 to {MAX_EVENT_ID} printable characters, without whitespace "
            "at either end"
        )
    return event_id


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
        self.reader = EventReader(settings) if settings.db_read_user else None
        super().__init__((settings.bind, settings.port), Handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Probe the database once (requests wait in the backlog meanwhile), then serve."""
        self.db_monitor.start()
        try:
            super().serve_forever(poll_interval)
        finally:
            self.db_monitor.stop()
            if self.reader is not None:
                self.reader.close()

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
        self._note: dict[str, Any] = {}  # added to the request's log line
        return super().parse_request()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method other than GET and HEAD
            return self._method_not_allowed
        raise AttributeError(name)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == EVENTS_PATH or path.startswith(EVENTS_PATH + "/"):
            code, body = self._events(path, url.query)
            self._send(code, "application/json", json.dumps(body).encode("utf-8"))
        elif path == "/":
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

    def _events(self, path: str, query: str) -> tuple[int, dict[str, Any]]:
        reader, s = self.server.reader, self.server.settings
        if reader is None:
            return 404, {"error": "not found", "reason": f"reads need {ENV_DB_READ_USER}"}
        try:
            if path == EVENTS_PATH:
                events = reader.latest(parse_latest(query))
                return 200, {"region": s.region, "role": s.role, "events": events}
            event_id = parse_event_id(path[len(EVENTS_PATH) + 1 :])
            event = reader.event(event_id)
        except BadRequest as exc:
            return 400, {"error": str(exc)}
        except DatabaseUnavailable as exc:
            self._note = {"error": str(exc)}
            return 503, {"error": "database unavailable", "reason": str(exc)}
        return (200, event) if event is not None else (404, {"error": "not found", "id": event_id})

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
            if self.headers.get("X-Forwarded-Proto", "").strip().lower() == "https":
                self.send_header("Strict-Transport-Security", HSTS)  # never over plain HTTP
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
        note = getattr(self, "_note", {})
        log({"method": method, "path": path, "status": status, "duration_ms": duration, **note})

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

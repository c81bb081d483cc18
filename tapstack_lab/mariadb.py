"""A throwaway MariaDB server for tests, benchmarks and demos.

``LocalMariaDB`` starts a private ``mariadbd`` on ``127.0.0.1`` and a free port, with its own
temporary data directory and unix socket, and removes everything again on exit (also when
the ``with`` block raises)::

    with LocalMariaDB() as db:
        conn = db.connect()                 # root, no password, over TCP
        db.create_database("scratch")

It never touches a system MariaDB/MySQL service, its configuration files (``--no-defaults``)
or its data. When run as root the server runs as root (``--user=root``); otherwise it runs
as the current user.

Server settings and why
-----------------------
Every instance uses the same settings, so all benchmark methods run against the same server:

* ``--skip-log-bin`` and ``--skip-name-resolve``: no binary log, no DNS lookups on connect.
  A binary log is kept only when ``settings`` name ``log-bin`` (a replication source, see
  :mod:`tapstack_lab.replication`).
* ``--local-infile=1``: allows ``LOAD DATA LOCAL INFILE`` (the benchmark's reference method).
* ``character-set-server=utf8mb4`` (``--no-defaults`` would otherwise give latin1) and
  ``max-allowed-packet=64M`` (the RDS for MySQL default).
* ``innodb_flush_log_at_trx_commit`` stays at its default of 1: every commit is flushed to
  disk, as on RDS, so a per-row-commit loader pays the same price it would in production.
* ``innodb-buffer-pool-size`` (default 256M, configurable) and ``innodb-log-file-size=256M``
  so a benchmark data set fits in memory and bulk loads do not stall on redo checkpoints.
* ``innodb-fast-shutdown=2``: the data is thrown away, so shutdown skips flushing it.

``kill()`` ends the server as a crash would (SIGKILL) and ``shutdown()`` stops it cleanly;
both keep its directory, and ``restart()`` brings it back on the same data and port.

``python -m tapstack_lab.mariadb`` starts a server, prints how to connect and waits for
Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pymysql

from tapstack_lab.lifecycle import Lifecycle

INSTALL_HINT = (
    "install mariadb-server: sudo apt-get install mariadb-server "
    "(or run `make setup`); the system service does not need to run"
)
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin")

DEFAULT_SETTINGS: Mapping[str, str] = {
    "character-set-server": "utf8mb4",
    "collation-server": "utf8mb4_general_ci",
    "max-allowed-packet": "64M",
    "innodb-buffer-pool-size": "256M",
    "innodb-log-file-size": "256M",
    "innodb-fast-shutdown": "2",
}


# The throwaway TLS certificates (see ``LocalMariaDB._make_certificates``).
_OPENSSL_CONFIG = """\
[req]
distinguished_name = subject
prompt = no

[subject]
CN = unused

[ca_certificate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_certificate]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


class MariaDBNotInstalledError(RuntimeError):
    """The MariaDB server binaries are not available on this machine."""


class MariaDBStartError(RuntimeError):
    """The private server did not start; the message includes the server's error log."""


def find_binary(name: str) -> str:
    """Return the path of a MariaDB binary, also looking in sbin directories not on PATH."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_BIN_DIRS])
    found = shutil.which(name, path=search)
    if found is None:
        raise MariaDBNotInstalledError(f"`{name}` not found: {INSTALL_HINT}")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free right now (the server start retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalMariaDB(Lifecycle):
    """A private MariaDB server that lives for the duration of a ``with`` block."""

    host = "127.0.0.1"
    root_user = "root"

    def __init__(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        tls: bool = False,
        startup_timeout: float = 60.0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Configure (but do not start) a server.

        ``settings`` are extra ``mariadbd`` options without the leading dashes, e.g.
        ``{"innodb-buffer-pool-size": "1G"}``; they override ``DEFAULT_SETTINGS``.
        ``tls=True`` makes a throwaway CA and server certificate (``openssl`` CLI) for
        ``127.0.0.1``/``localhost`` and enables TLS; the CA is then at ``tls_ca_path``.
        """
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.tls = tls
        self.startup_timeout = startup_timeout
        self._base_dir = base_dir
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    # ----------------------------------------------------------------- paths
    @property
    def root_dir(self) -> Path:
        if self._root is None:
            raise RuntimeError("the server is not running")
        return self._root

    @property
    def datadir(self) -> Path:
        return self.root_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.root_dir / "mariadb.sock"

    @property
    def error_log(self) -> Path:
        return self.root_dir / "error.log"

    @property
    def tls_ca_path(self) -> Path:
        if not self.tls:
            raise RuntimeError("this server was started without tls=True")
        return self.root_dir / "tls" / "ca.pem"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._root is not None:
            raise RuntimeError("the server is already started")
        mariadbd = find_binary("mariadbd")
        install_db = find_binary("mariadb-install-db")
        self._root = Path(tempfile.mkdtemp(prefix="tapstack-mariadb-", dir=self._base_dir))
        try:
            self._install(install_db)
            if self.tls:
                self._make_certificates()
            for attempt in range(3):
                self.port = free_port(self.host)
                self._launch(mariadbd)
                try:
                    self._wait_until_ready()
                    return
                except MariaDBStartError:
                    port_taken = "Address already in use" in self._log_tail()
                    self._kill()
                    if not port_taken or attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash would; its directory stays, and
        :meth:`restart` brings it back. Nothing happens when it is not running."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def shutdown(self) -> None:
        """Stop the server cleanly but keep its directory (:meth:`restart` brings it back)."""
        self._kill()

    def restart(self) -> None:
        """Start a stopped or killed server again on its data directory and port: what it held
        when it went down, crash-recovered, under its current ``settings``."""
        if self._root is None:
            raise RuntimeError("the server was never started or was stopped for good")
        if self.running:
            raise RuntimeError("the server is running")
        self._launch(find_binary("mariadbd"))
        try:
            self._wait_until_ready()
        except MariaDBStartError:
            self._kill()
            raise

    def stop(self) -> None:
        """Stop the server (if running) and delete its directory. Safe to call twice."""
        try:
            self._kill()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None

    def _install(self, install_db: str) -> None:
        command = [
            install_db,
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            f"--datadir={self.datadir}",
            # Its own temporary directory: bootstraps that run at once (pytest -n) otherwise
            # collide on temporary tables in the shared /tmp ("Unknown table
            # 'mysql.tmp_user_sys'"; 4 failures in 24 parallel runs here, none with it).
            f"--tmpdir={self.root_dir}",
            *self._user_option(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MariaDBStartError(
                f"mariadb-install-db failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    def _make_certificates(self) -> None:
        """A throwaway CA and a server certificate for ``127.0.0.1``/``localhost``, with the
        extensions strict verification requires (``VERIFY_X509_STRICT``, the default from
        Python 3.13 on, Lambda's included): a CA with critical basic constraints, key usage
        and a subject key identifier; a server certificate that names its issuer's key."""
        openssl = shutil.which("openssl")
        if openssl is None:
            raise MariaDBNotInstalledError("tls=True needs the `openssl` command line tool")
        tls = self.root_dir / "tls"
        tls.mkdir()
        # Its own configuration: the machine's openssl.cnf decides nothing here.
        (tls / "openssl.cnf").write_text(_OPENSSL_CONFIG)
        config = ["-config", "openssl.cnf"]
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        steps = [
            [
                "req",
                *config,
                "-x509",
                *ec,
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=TapStack throwaway test CA",
                "-extensions",
                "ca_certificate",
            ],
            [
                "req",
                *config,
                *ec,
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            [
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "server_certificate",
            ],
        ]
        for step in steps:
            result = subprocess.run(
                [openssl, *step], cwd=tls, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise MariaDBStartError(
                    f"openssl {step[0]} failed ({result.returncode}):\n{result.stderr[-2000:]}"
                )

    def _user_option(self) -> list[str]:
        return ["--user=root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []

    def _launch(self, mariadbd: str) -> None:
        options = {
            **self.settings,
            "datadir": str(self.datadir),
            "tmpdir": str(self.root_dir),
            "socket": str(self.socket_path),
            "port": str(self.port),
            "bind-address": self.host,
            "pid-file": str(self.root_dir / "mariadb.pid"),
            "log-error": str(self.error_log),
            "local-infile": "1",
        }
        if self.tls:
            tls = self.root_dir / "tls"
            options.update(
                {
                    "ssl-ca": str(tls / "ca.pem"),
                    "ssl-cert": str(tls / "server.pem"),
                    "ssl-key": str(tls / "server.key"),
                }
            )
        command = [
            mariadbd,
            "--no-defaults",
            *(f"--{name}={value}" for name, value in options.items()),
            *([] if "log-bin" in self.settings else ["--skip-log-bin"]),
            "--skip-name-resolve",
            *self._user_option(),
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise MariaDBStartError(f"mariadbd exited during startup:\n{self._log_tail()}")
            try:
                self.connect(connect_timeout=2).close()
                return
            except pymysql.err.OperationalError as error:
                last_error = error
                time.sleep(0.05)
        raise MariaDBStartError(
            f"mariadbd did not accept connections within {self.startup_timeout:.0f}s "
            f"({last_error}):\n{self._log_tail()}"
        )

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            return self.error_log.read_text(errors="replace")[-limit:]
        except OSError:
            return "(no error log)"

    # ------------------------------------------------------------- clients
    def connect(
        self,
        database: str | None = None,
        *,
        user: str = "root",
        password: str = "",
        **options: Any,
    ) -> pymysql.connections.Connection[Any]:
        """Open a pymysql connection over TCP (root with no password unless told otherwise)."""
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": user,
            "password": password,
            "database": database,
            "charset": "utf8mb4",
            "autocommit": True,
        }
        params.update(options)
        return pymysql.connect(**params)

    @contextlib.contextmanager
    def root_cursor(self, database: str | None = None) -> Iterator[Any]:
        """``with db.root_cursor() as cur: cur.execute(...)`` on a short-lived root connection."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        with self.root_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{_identifier(name)}` CHARACTER SET utf8mb4")

    def drop_database(self, name: str) -> None:
        with self.root_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{_identifier(name)}`")

    def client_command(self, database: str | None = None) -> list[str]:
        """The ``mariadb`` command line that connects to this server as root."""
        command = ["mariadb", "--no-defaults", f"-h{self.host}", f"-P{self.port}", "-uroot"]
        return [*command, database] if database else command


def _identifier(name: str) -> str:
    if not name or "`" in name or len(name) > 64:
        raise ValueError(f"not a usable database name: {name!r}")
    return name


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tapstack_lab.mariadb",
        description="Start a throwaway MariaDB server and wait for Ctrl-C.",
    )
    parser.add_argument("--database", default="tapstack", help="database to create")
    parser.add_argument("--tls", action="store_true", help="enable TLS with a throwaway CA")
    args = parser.parse_args(argv)
    try:
        with LocalMariaDB(tls=args.tls) as db:
            db.create_database(args.database)
            print(f"MariaDB listening on {db.host}:{db.port} (root, no password)")
            print(f"  connect: {' '.join(db.client_command(args.database))}")
            if args.tls:
                print(f"  TLS CA:  {db.tls_ca_path}")
            print("Press Ctrl-C to stop; the data directory is deleted on exit.", flush=True)
            signal.signal(signal.SIGTERM, _interrupt)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    except MariaDBNotInstalledError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

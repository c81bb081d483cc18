"""Two MariaDB servers, one per region, with real asynchronous GTID replication.

The first building block of the failover lab (issue 12): a writer region and a replica region,
each a private :class:`~tapstack_lab.mariadb.LocalMariaDB`, the replica connected to the
writer with ``CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`` and ``read_only=ON``::

    with ReplicatedPair(snapshot_dir=tmp) as pair:      # us-east-1 writes, us-west-2 replicates
        conn = pair.connect("us-east-1")                # the application user (no READ ONLY ADMIN)
        ...
        pair.wait_caught_up()                           # the replica applied every commit so far
        pair.kill("us-east-1")                          # an unplanned region loss (SIGKILL)
        pair.promote("us-west-2")                       # the replica becomes a standalone writer
        pair.restart("us-east-1")                       # back with its stale data, still writable
        assert pair.writers() == ["us-east-1", "us-west-2"]     # split brain, visible
        snapshot = pair.rebuild_as_replica("us-east-1", source="us-west-2")

What is real and what is not:

* Replication is MariaDB's own: binary log in ROW format, GTIDs in strict mode, the replica's
  IO and SQL threads, ``log_slave_updates`` so a promoted replica's binary log holds every
  transaction (a replica rebuilt from it starts at the right GTID). Lag is what the servers
  report: ``Seconds_Behind_Master`` and the GTID positions.
* Both servers run on one machine, so the link between the regions has loopback latency: the
  writer's binary log reaches the replica within a millisecond or so, and an unplanned loss
  typically loses no or very few acknowledged rows. The lab measures the loss; it does not
  model a slow link.
* ``promote`` applies what the replica already received (its relay log) before it stops
  replication, then makes the server writable; a replica whose replication stopped on an
  error is not promoted (that would hide a gap).
* ``rebuild_as_replica`` builds the region a fresh server (a new *generation*, as the AWS path
  replaces the RDS instance): privileges and every non-system database copied from the
  writer with ``mariadb-dump --single-transaction --gtid --master-data``, then replication from
  the dump's GTID position. The stale server's data directory is moved into ``snapshot_dir``
  and kept; the caller owns it.

Each region's server keeps its role across :meth:`ReplicatedPair.restart`: a promoted
replica comes back writable, a writer that was lost comes back writable with what it had.
The role is a server option (``read-only``), as it is in an RDS parameter group.

``python -m tapstack_lab.replication`` measures promotion, rebuild and lag under a steady
insert load and prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from tapstack.operations.provider import DatabaseState
from tapstack_lab.lifecycle import Lifecycle
from tapstack_lab.mariadb import LocalMariaDB, find_binary

WRITER_REGION = "us-east-1"
REPLICA_REGION = "us-west-2"

#: Server options every region's server runs with (``LocalMariaDB``'s defaults apply too).
REPLICATION_SETTINGS: Mapping[str, str] = {
    "log-bin": "binlog",
    "relay-log": "relay-bin",  # not named after the host: the data directory is portable
    "binlog-format": "ROW",
    "log-slave-updates": "ON",
    "gtid-strict-mode": "ON",
    # Two servers share the machine (and a test run): small buffers and redo logs.
    "innodb-buffer-pool-size": "64M",
    "innodb-log-file-size": "48M",
}

#: Databases that belong to the server, never copied by a rebuild.
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

#: The privilege tables a rebuild copies, so every account of the writer (the loader's too)
#: exists on the rebuilt replica, as on a physical copy. ``mysql.user`` is a view of these.
PRIVILEGE_TABLES = (
    "global_priv",
    "db",
    "tables_priv",
    "columns_priv",
    "procs_priv",
    "proxies_priv",
    "roles_mapping",
)

# MariaDB's error for a write refused by read_only (ER_OPTION_PREVENTS_STATEMENT).
READ_ONLY_ERROR = 1290

_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")


class ReplicationError(RuntimeError):
    """A replication step was refused or failed; the message says which region and why."""


def gtid_position(text: str | None) -> dict[int, int]:
    """``"0-1-42,1-2-7"`` as ``{domain: sequence number}`` (one GTID per replication domain)."""
    position: dict[int, int] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        match = _GTID.match(part)
        if match is None:
            raise ValueError(f"not a GTID position: {text!r}")
        position[int(match.group(1))] = int(match.group(3))
    return position


def transactions_behind(source: str | None, applied: str | None) -> int:
    """How many of ``source``'s transactions ``applied`` lacks, domain by domain (sequence
    numbers grow by one per transaction in a domain under ``gtid_strict_mode``)."""
    have = gtid_position(applied)
    return sum(max(0, seq - have.get(domain, 0)) for domain, seq in gtid_position(source).items())


@dataclass(frozen=True)
class ReplicaLag:
    """One replica's replication as its server reports it now."""

    region: str
    #: The region it replicates from; ``None`` when its source is no region's current server.
    source: str | None
    #: ``Seconds_Behind_Master``: ``None`` while the replica is not connected or not applying.
    seconds: int | None
    #: The source's ``@@gtid_binlog_pos`` (what it committed); ``None`` when it is down.
    source_position: str | None
    #: The replica's ``@@gtid_slave_pos`` (what it applied).
    applied_position: str
    io_running: bool
    sql_running: bool
    #: The replication error the replica reports, if any (IO or SQL thread).
    error: str | None = None

    @property
    def transactions_behind(self) -> int | None:
        """Transactions the source committed that the replica has not applied (``None`` when
        the source cannot be asked)."""
        if self.source_position is None:
            return None
        return transactions_behind(self.source_position, self.applied_position)

    @property
    def caught_up(self) -> bool:
        """The replica has applied everything its source committed."""
        return self.transactions_behind == 0


@dataclass
class _Region:
    """One region's current server and what the pair set it up as."""

    name: str
    server: LocalMariaDB
    server_id: int
    generation: int
    #: The region it was set up to replicate from; ``None`` for a standalone server.
    source: str | None


@dataclass(frozen=True)
class _Probe:
    read_only: bool
    #: ``SHOW SLAVE STATUS`` as a dict; ``None`` when no replication is configured.
    replication: dict[str, Any] | None


class ReplicatedPair(Lifecycle):
    """A writer region and a replica region, each its own MariaDB server, replicating with GTIDs.

    ``snapshot_dir`` receives the data directories :meth:`rebuild_as_replica` sets aside; it
    is created when missing and never emptied. ``base_dir`` is where the servers' own
    (temporary) directories go. ``settings`` are extra server options for every server.
    """

    def __init__(
        self,
        *,
        snapshot_dir: str | Path,
        writer: str = WRITER_REGION,
        replica: str = REPLICA_REGION,
        settings: Mapping[str, str] | None = None,
        base_dir: str | Path | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if not writer or not replica or writer == replica:
            raise ValueError(
                f"writer and replica must be two different regions, got {writer!r} and {replica!r}"
            )
        self.regions: tuple[str, str] = (writer, replica)
        self.snapshot_dir = Path(snapshot_dir)
        self.settings = {**REPLICATION_SETTINGS, **(settings or {})}
        self.base_dir = base_dir
        self.startup_timeout = startup_timeout
        self.app_user = "tapstack_app"
        self.app_password = secrets.token_urlsafe(16)
        self.replication_user = "tapstack_repl"
        self.replication_password = secrets.token_urlsafe(16)
        self.snapshots: list[Path] = []
        self._regions: dict[str, _Region] = {}
        self._retired: list[LocalMariaDB] = []
        self._next_server_id = 1

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start both servers and connect the replica to the writer."""
        if self._regions:
            raise RuntimeError("the pair is already started")
        writer, replica = self.regions
        try:
            self._regions[writer] = self._new_region(writer, generation=0, read_only=False)
            with self._admin(writer) as cursor:
                cursor.execute(
                    f"CREATE USER '{self.replication_user}'@'%%' IDENTIFIED BY %s",
                    (self.replication_password,),
                )
                cursor.execute(f"GRANT REPLICATION SLAVE ON *.* TO '{self.replication_user}'@'%'")
                # Application rights without READ ONLY ADMIN: read_only applies to this user.
                cursor.execute(
                    f"CREATE USER '{self.app_user}'@'%%' IDENTIFIED BY %s", (self.app_password,)
                )
                cursor.execute(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER "
                    f"ON *.* TO '{self.app_user}'@'%'"
                )
            self._regions[replica] = self._new_region(replica, generation=0, read_only=True)
            # A fresh writer's binary log holds every transaction since its install: the
            # replica starts from the empty position and replays all of it (the users too).
            self._replicate(replica, source=writer, position="")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every server the pair started (current and replaced) and delete their
        directories; the snapshots stay. Safe to call twice."""
        servers = [region.server for region in self._regions.values()] + self._retired
        self._regions.clear()
        self._retired.clear()
        errors: list[BaseException] = []
        for server in servers:
            try:
                server.stop()
            except Exception as error:  # stop the others anyway
                errors.append(error)
        if errors:
            raise errors[0]

    # ----------------------------------------------------------------- state
    def server(self, region: str) -> LocalMariaDB:
        """The region's current server (a rebuild replaces it)."""
        return self._region(region).server

    def endpoint(self, region: str) -> tuple[str, int]:
        """``(host, port)`` of the region's current server; a rebuild gives a new port."""
        server = self.server(region)
        return server.host, server.port

    def running(self, region: str) -> bool:
        return self.server(region).running

    def connect(
        self, region: str, database: str | None = None, *, admin: bool = False, **options: Any
    ) -> pymysql.connections.Connection[Any]:
        """A connection to the region's server as the application user (``read_only`` applies
        to it), or as root with ``admin=True``."""
        server = self.server(region)
        if admin:
            return server.connect(database, **options)
        return server.connect(database, user=self.app_user, password=self.app_password, **options)

    def writers(self) -> list[str]:
        """The regions whose server is up and accepts the application's writes
        (``read_only`` off). A writable server that also replicates counts: clients can
        write to it, so it is a second writer all the same."""
        return [
            name for name in self.regions if self.running(name) and not self._probe(name).read_only
        ]

    def role(self, region: str) -> str:
        """``writer``, ``replica`` (replication configured), ``read-only`` (neither), or
        ``down``."""
        if not self.running(region):
            return "down"
        probe = self._probe(region)
        if probe.replication is not None:
            return "replica"
        return "read-only" if probe.read_only else "writer"

    def describe(self, region: str) -> DatabaseState:
        """The region's database as the failover commands' provider reports one: its
        generation in the identifier, the region it was set up to replicate from, and
        ``status`` ``available`` or ``stopped`` (killed)."""
        entry = self._region(region)
        identifier = f"lab-{region}-g{entry.generation}"
        if not entry.server.running:
            return DatabaseState(
                region=region, identifier=identifier, status="stopped", source=entry.source
            )
        replication: str | None = None
        if entry.source is not None:
            lag = self._lag(region)
            if lag is None:
                replication = "stopped"
            elif lag.error and not lag.sql_running:
                # The applier stopped on an error: a gap. An IO error alone (the source does
                # not answer: a lost region) leaves the replica "connecting", as it retries.
                replication = "error"
            elif lag.io_running and lag.sql_running:
                replication = "replicating"
            else:
                replication = "connecting" if lag.sql_running else "stopped"
        return DatabaseState(
            region=region,
            identifier=identifier,
            source=entry.source,
            replication=replication,
        )

    def lag(self) -> dict[str, ReplicaLag]:
        """Every running replica's lag, by region (a replica that is down is left out)."""
        lags = {}
        for name in self.regions:
            if self.running(name):
                lag = self._lag(name)
                if lag is not None:
                    lags[name] = lag
        return lags

    def gtid_binlog_pos(self, region: str) -> str:
        """What the region's server committed to its binary log (``@@gtid_binlog_pos``)."""
        with self._admin(region) as cursor:
            cursor.execute("SELECT @@gtid_binlog_pos")
            return str(cursor.fetchone()[0])

    def wait_caught_up(self, timeout: float = 30.0) -> dict[str, ReplicaLag]:
        """Wait until every running replica has applied everything its source had committed
        when the call began (``MASTER_GTID_WAIT`` on its source's ``@@gtid_binlog_pos``);
        return their lag then. Raise :class:`ReplicationError` when a replica stops on an
        error or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        replicas = list(self.lag().values())
        if not replicas:
            raise ReplicationError("no running replica to wait for")
        for lag in replicas:
            if lag.source is None or lag.source_position is None:
                raise ReplicationError(
                    f"{lag.region} cannot catch up: its source is down or no region's server"
                )
            self._wait_for_position(lag.region, lag.source_position, deadline)
        return self.lag()

    # --------------------------------------------------------------- changes
    def kill(self, region: str) -> None:
        """Lose the region's server at once (SIGKILL): an unplanned region loss. Its data
        stays as the crash left it; :meth:`restart` brings it back."""
        self.server(region).kill()

    def restart(self, region: str) -> None:
        """Bring a killed region's server back on its own data and port, in the role it had:
        a lost writer comes back writable with its stale data."""
        server = self.server(region)
        if server.running:
            raise ReplicationError(f"cannot restart {region}: its server is running")
        server.restart()

    def promote(self, region: str, *, drain_timeout: float = 30.0) -> str:
        """Make the replica ``region`` a standalone writer: apply what it already received,
        stop and reset replication, turn ``read_only`` off. Return its ``@@gtid_binlog_pos``
        then (what the new writer holds). The old writer is not touched."""
        if not self.running(region):
            raise ReplicationError(f"cannot promote {region}: its server is down")
        probe = self._probe(region)
        if probe.replication is None:
            raise ReplicationError(f"cannot promote {region}: it is not a replica")
        status = probe.replication
        if status["Last_SQL_Errno"]:
            raise ReplicationError(
                f"cannot promote {region}: replication stopped on an error, a gap would be "
                f"hidden ({status['Last_SQL_Errno']}: {status['Last_SQL_Error']})"
            )
        with self._admin(region) as cursor:
            cursor.execute("STOP SLAVE IO_THREAD")
            self._drain_relay_log(region, cursor, time.monotonic() + drain_timeout)
            cursor.execute("STOP SLAVE")
            cursor.execute("RESET SLAVE ALL")
            self._set_read_only(region, cursor, False)
            cursor.execute("SELECT @@gtid_binlog_pos")
            position = str(cursor.fetchone()[0])
        self._region(region).source = None
        return position

    def generation(self, region: str) -> int:
        """The region's current server generation (0 at start, one more per rebuild unless
        the rebuild names one)."""
        return self._region(region).generation

    def rebuild_as_replica(
        self,
        region: str,
        source: str,
        *,
        timeout: float = 120.0,
        generation: int | None = None,
        switch: Callable[[], None] | None = None,
    ) -> Path:
        """Replace ``region``'s server with a fresh one that replicates from ``source``.

        ``source`` must be a standalone writer. The new server (the region's next generation,
        on a new port) gets ``source``'s privileges and databases from a consistent dump and
        replicates from the dump's GTID position; from then on the pair reports it as the
        region's server. ``switch`` (optional) runs next, while the old server still runs
        (move its clients to :meth:`endpoint`). Then the old server (running or not) is
        stopped and its data directory moved into ``snapshot_dir``. Return the snapshot's
        path. ``generation``: the new server's generation (default: one more; it
        must be higher than the current one), as a configuration names it.
        """
        entry = self._region(region)
        self._region(source)
        if region == source:
            raise ReplicationError(f"cannot rebuild {region} as a replica of itself")
        if not self.running(source):
            raise ReplicationError(f"cannot rebuild {region} from {source}: {source} is down")
        probe = self._probe(source)
        if probe.read_only or probe.replication is not None:
            raise ReplicationError(
                f"cannot rebuild {region} from {source}: {source} is not a writer "
                f"(read_only={'ON' if probe.read_only else 'OFF'}, "
                f"{'replicating' if probe.replication is not None else 'standalone'})"
            )
        if generation is None:
            generation = entry.generation + 1
        if generation <= entry.generation:
            raise ReplicationError(
                f"cannot rebuild {region} as generation {generation}: it runs generation "
                f"{entry.generation} (a rebuild makes a younger one)"
            )
        # As CloudFormation replaces an instance: the new one first, then its users move
        # (``switch``), then the old one goes (kept here as the snapshot).
        self._regions[region] = self._new_region(region, generation=generation, read_only=True)
        try:
            position = self._copy(source, region, timeout=timeout)
            self._replicate(region, source=source, position=position)
        except BaseException:
            self._regions[region].server.stop()
            self._regions[region] = entry
            raise
        if switch is not None:
            switch()
        return self._set_aside(entry)

    # --------------------------------------------------------------- helpers
    def _region(self, region: str) -> _Region:
        try:
            return self._regions[region]
        except KeyError:
            known = ", ".join(self.regions)
            raise ReplicationError(
                f"no region {region!r} in this pair (regions: {known})"
                + ("" if self._regions else "; the pair is not started")
            ) from None

    def _new_region(self, name: str, *, generation: int, read_only: bool) -> _Region:
        # A new server ID for every server: a replica skips events carrying its own ID, so a
        # rebuilt server must never reuse the ID of the one its data came from.
        server_id = self._next_server_id
        self._next_server_id += 1
        settings = {
            **self.settings,
            "server-id": str(server_id),
            "read-only": "ON" if read_only else "OFF",
        }
        server = LocalMariaDB(
            settings=settings, base_dir=self.base_dir, startup_timeout=self.startup_timeout
        )
        server.start()
        return _Region(
            name=name, server=server, server_id=server_id, generation=generation, source=None
        )

    @contextlib.contextmanager
    def _admin(self, region: str) -> Iterator[Any]:
        with self.server(region).root_cursor() as cursor:
            yield cursor

    def _probe(self, region: str) -> _Probe:
        with self._admin(region) as cursor:
            cursor.execute("SELECT @@read_only")
            read_only = bool(cursor.fetchone()[0])
            status = _slave_status(cursor)
        return _Probe(read_only=read_only, replication=status)

    def _source_of(self, port: int) -> str | None:
        for name, entry in self._regions.items():
            if entry.server.port == port:
                return name
        return None

    def _lag(self, region: str) -> ReplicaLag | None:
        with self._admin(region) as cursor:
            status = _slave_status(cursor)
            if status is None:
                return None
            source = self._source_of(int(status["Master_Port"]))
            # The source's position first, the replica's after: caught up then means the
            # replica had applied all the source had committed when it was asked.
            source_position = None
            if source is not None and self.running(source):
                with contextlib.suppress(pymysql.err.OperationalError):
                    source_position = self.gtid_binlog_pos(source)
            cursor.execute("SELECT @@gtid_slave_pos")
            applied = str(cursor.fetchone()[0])
            status = _slave_status(cursor) or status
        seconds = status["Seconds_Behind_Master"]
        error = status["Last_SQL_Error"] or status["Last_IO_Error"] or None
        return ReplicaLag(
            region=region,
            source=source,
            seconds=None if seconds is None else int(seconds),
            source_position=source_position,
            applied_position=applied,
            io_running=status["Slave_IO_Running"] == "Yes",
            sql_running=status["Slave_SQL_Running"] == "Yes",
            error=error,
        )

    def _wait_for_position(self, region: str, position: str, deadline: float) -> None:
        # In short waits, so a replica that stops on an error fails now, not at the deadline.
        with self._admin(region) as cursor:
            while True:
                left = deadline - time.monotonic()
                cursor.execute(
                    "SELECT MASTER_GTID_WAIT(%s, %s)", (position, max(0.0, min(left, 0.5)))
                )
                if cursor.fetchone()[0] == 0:
                    return
                status = _slave_status(cursor)
                if status is None or status["Slave_SQL_Running"] != "Yes":
                    error = status and (status["Last_SQL_Error"] or "SQL thread stopped")
                    raise ReplicationError(
                        f"{region} stopped replicating before reaching {position}: "
                        f"{error or 'replication was reset'}"
                    )
                if time.monotonic() >= deadline:
                    cursor.execute("SELECT @@gtid_slave_pos")
                    applied = cursor.fetchone()[0]
                    raise ReplicationError(
                        f"{region} did not reach {position} in time: it applied {applied} "
                        f"({transactions_behind(position, applied)} transaction(s) behind)"
                    )

    def _drain_relay_log(self, region: str, cursor: Any, deadline: float) -> None:
        """Wait until the SQL thread applied everything the IO thread received."""
        while True:
            status = _slave_status(cursor)
            if status is None or status["Slave_SQL_Running"] != "Yes":
                return
            applied_all = (
                status["Relay_Master_Log_File"] == status["Master_Log_File"]
                and status["Exec_Master_Log_Pos"] == status["Read_Master_Log_Pos"]
            ) or "read all relay log" in str(status["Slave_SQL_Running_State"])
            if applied_all:
                return
            if time.monotonic() >= deadline:
                raise ReplicationError(
                    f"cannot promote {region}: its relay log was not applied in time "
                    f"({status['Slave_SQL_Running_State']})"
                )
            time.sleep(0.02)

    def _set_read_only(self, region: str, cursor: Any, read_only: bool) -> None:
        cursor.execute(f"SET GLOBAL read_only = {'ON' if read_only else 'OFF'}")
        # The option the server restarts with: the role survives a restart.
        self.server(region).settings["read-only"] = "ON" if read_only else "OFF"

    def _replicate(self, region: str, *, source: str, position: str) -> None:
        host, port = self.endpoint(source)
        with self._admin(region) as cursor:
            cursor.execute("SET GLOBAL gtid_slave_pos = %s", (position,))
            cursor.execute(
                "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
                "MASTER_PASSWORD = %s, MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos",
                (host, port, self.replication_user, self.replication_password),
            )
            cursor.execute("START SLAVE")
            self._set_read_only(region, cursor, True)
        self._region(region).source = source
        deadline = time.monotonic() + 10.0
        while True:
            lag = self._lag(region)
            if lag is not None and lag.io_running and lag.sql_running:
                return
            if (lag is not None and lag.error) or time.monotonic() >= deadline:
                raise ReplicationError(
                    f"{region} did not start replicating from {source}: "
                    f"{(lag and lag.error) or 'the IO thread did not connect'}"
                )
            time.sleep(0.02)

    def _set_aside(self, entry: _Region) -> Path:
        """Stop the region's server and move its data directory into the snapshots."""
        entry.server.shutdown()
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        snapshot = self.snapshot_dir / f"{entry.name}-g{entry.generation}-{stamp}"
        shutil.move(str(entry.server.datadir), snapshot)
        self.snapshots.append(snapshot)
        # Its remaining directory (socket, logs) goes when the pair stops.
        self._retired.append(entry.server)
        return snapshot

    def _copy(self, source: str, region: str, *, timeout: float) -> str:
        """Copy ``source``'s privileges and databases into ``region``'s fresh server without
        writing its binary log; return the GTID position the copy is consistent with."""
        with self._admin(source) as cursor:
            cursor.execute("SHOW DATABASES")
            databases = sorted(
                row[0] for row in cursor.fetchall() if row[0] not in SYSTEM_DATABASES
            )
        source_server, target = self.server(source), self.server(region)
        dump = [
            find_binary("mariadb-dump"),
            "--no-defaults",
            f"--host={source_server.host}",
            f"--port={source_server.port}",
            "--user=root",
        ]
        load = [
            find_binary("mariadb"),
            "--no-defaults",
            f"--host={target.host}",
            f"--port={target.port}",
            "--user=root",
            "--init-command=SET SESSION sql_log_bin = 0",
        ]
        # Accounts first: a dump of the privilege tables (what a physical copy would hold).
        _pipe([*dump, "mysql", *PRIVILEGE_TABLES], [*load, "mysql"], timeout=timeout)
        with self._admin(region) as cursor:
            cursor.execute("FLUSH PRIVILEGES")
        if databases:
            # One consistent snapshot of the data, and the GTID position it ends at, which the
            # dump sets as gtid_slave_pos (``--gtid --master-data=1``).
            _pipe(
                [
                    *dump,
                    "--single-transaction",
                    "--gtid",
                    "--master-data=1",
                    "--routines",
                    "--events",
                    "--triggers",
                    "--databases",
                    *databases,
                ],
                load,
                timeout=timeout,
            )
            with self._admin(region) as cursor:
                cursor.execute("SELECT @@gtid_slave_pos")
                return str(cursor.fetchone()[0])
        # No data to be consistent with: the writer's position now.
        return self.gtid_binlog_pos(source)


def _slave_status(cursor: Any) -> dict[str, Any] | None:
    cursor.execute("SHOW SLAVE STATUS")
    row = cursor.fetchone()
    if row is None:
        return None
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _pipe(producer: Sequence[str], consumer: Sequence[str], *, timeout: float) -> None:
    """Run ``producer | consumer``; raise :class:`ReplicationError` with their stderr."""
    with tempfile.TemporaryFile() as dump_errors:
        dumper = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=dump_errors)
        try:
            loaded = subprocess.run(
                consumer, stdin=dumper.stdout, capture_output=True, timeout=timeout, check=False
            )
        finally:
            if dumper.stdout is not None:
                dumper.stdout.close()
            try:
                dumper.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                dumper.kill()
                dumper.wait()
        dump_errors.seek(0)
        dumped_error = dump_errors.read().decode(errors="replace").strip()
    if dumper.returncode != 0 or loaded.returncode != 0:
        raise ReplicationError(
            f"copying with {Path(producer[0]).name} failed "
            f"(dump {dumper.returncode}, load {loaded.returncode}): "
            f"{dumped_error[-1000:]} {loaded.stderr.decode(errors='replace').strip()[-1000:]}"
        )


# ------------------------------------------------------------------ a steady workload
_TABLE = re.compile(r"^\w{1,64}(\.\w{1,64})?$")


def qualified_table(name: str) -> str:
    """``database.table`` (or ``table``) as a quoted SQL identifier; anything else is refused."""
    if not _TABLE.match(name):
        raise ValueError(f"not a table name (database.table, letters, digits, _): {name!r}")
    return ".".join(f"`{part}`" for part in name.split("."))


def create_events_table(conn: pymysql.connections.Connection[Any], table: str) -> None:
    """Create ``table`` (and its database) with the columns :class:`InsertLoad` writes."""
    name = qualified_table(table)
    with conn.cursor() as cursor:
        if "." in table:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {name.split('.')[0]}")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {name} ("
            " id BIGINT NOT NULL PRIMARY KEY,"
            " written_at DATETIME(6) NOT NULL,"
            " payload VARCHAR(64) NOT NULL"
            ") ENGINE=InnoDB"
        )


class InsertLoad:
    """A steady writer: one thread inserting numbered rows (``first_id`` on) at ``rate`` per
    second into ``table`` (``database.table``), each its own autocommitted transaction.

    ``connect`` is called for a connection (again after an error: it may point at a new
    writer). Every row whose commit returned is *acknowledged*, with the time it was
    (``time.monotonic()``); failures are counted and the load keeps going until :meth:`stop`.
    """

    def __init__(
        self,
        connect: Callable[[], pymysql.connections.Connection[Any]],
        *,
        table: str,
        rate: float = 200.0,
        first_id: int = 1,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be above 0 rows per second, got {rate}")
        self.connect = connect
        self.table = qualified_table(table)
        self.rate = rate
        #: Acknowledged row ids and when their commit returned (read it once the load
        #: stopped; while it runs, :meth:`acknowledged_ids`).
        self.acknowledged: dict[int, float] = {}
        self._lock = threading.Lock()
        self.errors: list[str] = []
        self._next_id = first_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> InsertLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the load is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="insert-load", daemon=True)
        self._thread.start()

    def acknowledged_ids(self) -> set[int]:
        """The rows acknowledged so far (safe while the load runs)."""
        with self._lock:
            return set(self.acknowledged)

    def stop(self) -> None:
        """Stop inserting (the row in flight completes or fails first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        conn: pymysql.connections.Connection[Any] | None = None
        began = time.monotonic()
        sent = 0
        sql = f"INSERT INTO {self.table} (id, written_at, payload) VALUES (%s, NOW(6), %s)"  # noqa: S608 - validated identifier
        while not self._stop.is_set():
            pause = began + sent / self.rate - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                break
            sent += 1
            try:
                if conn is None:
                    conn = self.connect()
                row_id = self._next_id
                with conn.cursor() as cursor:
                    cursor.execute(sql, (row_id, f"row {row_id}"))
                with self._lock:
                    self.acknowledged[row_id] = time.monotonic()
                self._next_id += 1
            except pymysql.err.MySQLError as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                # The row may or may not have committed: never reuse its id.
                self._next_id += 1
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                self._stop.wait(0.05)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def row_ids(conn: pymysql.connections.Connection[Any], table: str) -> set[int]:
    """Every ``id`` in ``table``."""
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {qualified_table(table)}")  # noqa: S608 - validated identifier
        return {int(row[0]) for row in cursor.fetchall()}


# ------------------------------------------------------------------ measurements
def measure(rows: int = 10_000, rate: float = 200.0, load_seconds: float = 5.0) -> list[str]:
    """Run the figures the lab cares about on a fresh pair and return them as lines."""
    lines: list[str] = []
    table = "lab.events"
    with tempfile.TemporaryDirectory(prefix="tapstack-replication-") as scratch:
        began = time.monotonic()
        with ReplicatedPair(snapshot_dir=Path(scratch) / "snapshots") as pair:
            writer, replica = pair.regions
            lines.append(f"pair started in {time.monotonic() - began:.2f} s")
            with contextlib.closing(pair.connect(writer)) as conn, conn.cursor() as cursor:
                create_events_table(conn, table)
                batch = [(-i, f"seed {i}") for i in range(1, rows + 1)]
                for start in range(0, rows, 1000):
                    conn.begin()
                    cursor.executemany(
                        f"INSERT INTO {table} (id, written_at, payload) VALUES (%s, NOW(6), %s)",  # noqa: S608 - constant identifier
                        batch[start : start + 1000],
                    )
                    conn.commit()
            pair.wait_caught_up()

            load = InsertLoad(lambda: pair.connect(writer), table=table, rate=rate)
            seconds: list[int] = []
            behind: list[int] = []
            with load:
                loaded_from = time.monotonic()
                end = loaded_from + load_seconds
                while time.monotonic() < end:
                    lag = pair.lag()[replica]
                    seconds.append(lag.seconds or 0)
                    behind.append(lag.transactions_behind or 0)
                    time.sleep(0.1)
                at_kill = pair.lag()[replica]
                pair.kill(writer)
                killed_at = time.monotonic()  # no commit can be acknowledged after this
            acked, loaded_for = len(load.acknowledged), killed_at - loaded_from
            lines.append(
                f"steady load: {acked} rows acknowledged in {loaded_for:.1f} s "
                f"({acked / loaded_for:.0f}/s); replica lag sampled {len(seconds)}x: "
                f"Seconds_Behind_Master max {max(seconds)}, "
                f"transactions behind max {max(behind)}, mean {sum(behind) / len(behind):.2f}"
            )
            began = time.monotonic()
            pair.promote(replica)
            lines.append(
                f"promote {replica} ({rows} + {acked} rows): {time.monotonic() - began:.3f} s"
            )
            with contextlib.closing(pair.connect(replica)) as conn:
                present = row_ids(conn, table)
            missing = sorted(set(load.acknowledged) - present)
            rpo = killed_at - min(load.acknowledged[i] for i in missing) if missing else 0.0
            lines.append(
                f"unplanned loss: {len(missing)} acknowledged row(s) missing on {replica} "
                f"(RPO {rpo * 1000:.1f} ms); lag just before the kill: "
                f"{at_kill.transactions_behind} transaction(s), {at_kill.seconds} s"
            )
            began = time.monotonic()
            pair.restart(writer)
            lines.append(
                f"restart {writer} (crash recovery): {time.monotonic() - began:.2f} s; "
                f"writers: {', '.join(pair.writers())}"
            )
            began = time.monotonic()
            snapshot = pair.rebuild_as_replica(writer, source=replica)
            lines.append(
                f"rebuild {writer} as a replica of {replica} ({len(present)} rows): "
                f"{time.monotonic() - began:.2f} s; snapshot {snapshot.name}; "
                f"writers: {', '.join(pair.writers())}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tapstack_lab.replication",
        description="Measure promotion, rebuild and replica lag on two local MariaDB servers.",
    )
    parser.add_argument("--rows", type=int, default=10_000, help="rows before the load")
    parser.add_argument("--rate", type=float, default=200.0, help="load, rows per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the load runs")
    args = parser.parse_args(argv)
    for line in measure(rows=args.rows, rate=args.rate, load_seconds=args.seconds):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Everything the loader says to MySQL/MariaDB.

Works with RDS for MySQL 8.x (production) and MariaDB 10.6+ (local tests and benchmarks);
the few differences are in ``Dialect``.

Manifest states (``tapstack_load_manifest.status``), one row per object version:

``loading``      an invocation holds the key's lock and is loading this version
``failed``       the last attempt raised (``error`` says why); the next attempt resumes
``loaded``       done; redeliveries skip it
``quarantined``  the object could not be parsed; copied to ``quarantine/``; nothing loaded
``skipped``      the version no longer exists in S3 (overwritten or deleted before loading);
                 nothing of it was loaded
``superseded``   a newer version of the same key is (being) loaded, so this one is not: it
                 would overwrite the newer rows (see ``loader``); ``error`` names the newer one
``partial``      the version disappeared from S3 after earlier attempts had committed
                 its records up to ``last_record``; those rows stay, the rest never loads

Every state but ``loading`` and ``failed`` is final: redeliveries skip the version.
``sequencer`` is the S3 event's sequencer (NULL when the event had none) and ``key_id``
groups the versions of one key; the named lock is per key (``lock_name``).

``last_record`` is the checkpoint: every valid record with a number up to it is committed.
It is updated in the same transaction as each batch, so after a crash the retry resumes
exactly after the last committed batch and no record is written twice.

Counts: ``rows_inserted`` and ``rows_updated`` are rows of the target table the version
created and changed (MySQL's affected-rows rules, see ``isolation.upsert_counts``; a record
that sets a row to what it already holds counts in neither), ``records_rejected`` the
records in its ``rejected/`` report. They replace ``rows_loaded`` (which counted writes, so
an id repeated in a file counted each time) and ``rows_rejected``: bootstrap renames the old
columns (``upgrade_manifest``), keeping what they held as ``legacy_rows_written``.

Records the database refused (``isolation``) are kept in ``tapstack_load_refused`` (record
number and reason), committed with their batch: an attempt that resumes after that batch
still puts them in the report, and a batch is never isolated twice.
"""

from __future__ import annotations

import hashlib
import queue
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .events import ObjectRef
from .isolation import is_data_error, isolate_refused, upsert_counts
from .schema import MANIFEST_COLUMNS, MANIFEST_TABLE, REFUSED_COLUMNS, REFUSED_TABLE, Table

__all__ = [
    "REPLICA_EXPLANATION",
    "SESSION_SQL_MODE",
    "BatchWriter",
    "Dialect",
    "LockTimeout",
    "Manifest",
    "ManifestEntry",
    "MissingSchemaError",
    "NotBootstrappedError",
    "OtherVersion",
    "PreparedBatch",
    "PreparedUpsert",
    "ReadOnlyWriterError",
    "acquire_object_lock",
    "check_schema",
    "not_bootstrapped",
    "ping",
    "prepare_session",
    "read_only_reason",
    "release_object_lock",
    "upgrade_manifest",
]

# Strict: a value that does not fit is an error, never silently truncated.
SESSION_SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION"
)
ER_LOCK_DEADLOCK = 1213
BOOTSTRAP_HINT = (
    "run `python -m tapstack bootstrap-database` once (it invokes the writer's loader with "
    '{"tapstack_action": "bootstrap"})'
)
#: What a read-only database means in the standby region.
REPLICA_EXPLANATION = (
    "this is a replica; the rows and the manifest arrive through replication from the writer"
)
#: Server errors that mean the loader's database user does not exist (yet) or may not use
#: the database: 1045 access denied (no such user: IAM tokens are checked only for users
#: that bootstrap created), 1044 access denied to the database, 1049 unknown database.
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED = 1045
ER_BAD_DB = 1049
NOT_BOOTSTRAPPED_ERRORS = (ER_DBACCESS_DENIED, ER_ACCESS_DENIED, ER_BAD_DB)


class MissingSchemaError(RuntimeError):
    """The target or manifest table does not exist (or lacks columns)."""


class NotBootstrappedError(RuntimeError):
    """The server refused the loader's user or database: most likely the bootstrap has not
    run yet. The message keeps the server's error and says how to bootstrap."""


class ReadOnlyWriterError(RuntimeError):
    """The writer region's database is read-only: the object is not loaded and the invocation
    fails, so that Lambda retries it (and dead-letters it after its retries)."""


class LockTimeout(RuntimeError):
    """Another invocation held the object's lock for longer than we may wait."""


@dataclass(frozen=True)
class Dialect:
    """Server flavour; decides the upsert syntax and the IAM user syntax."""

    version: str

    @property
    def is_mariadb(self) -> bool:
        return "mariadb" in self.version.lower()

    @property
    def uses_row_alias(self) -> bool:
        """MySQL 8.0.19+ deprecates VALUES(col) in ON DUPLICATE KEY UPDATE for a row alias."""
        if self.is_mariadb:
            return False
        match = re.match(r"(\d+)\.(\d+)\.(\d+)", self.version)
        if match is None:
            return False
        return tuple(map(int, match.groups())) >= (8, 0, 19)

    def upsert_prefix_suffix(self, table: Table) -> tuple[str, str]:
        """``INSERT ... VALUES`` and ``ON DUPLICATE KEY UPDATE ...`` around the row tuples
        (``(?, ?, ...)`` placeholders in ``PreparedUpsert``)."""
        columns = ", ".join(f"`{name}`" for name in table.column_names)
        updates = [name for name in table.column_names if name not in table.primary_key]
        if self.uses_row_alias:
            assignments = ", ".join(f"`{n}` = `new_row`.`{n}`" for n in updates)
            suffix = f" AS `new_row` ON DUPLICATE KEY UPDATE {assignments}"
        else:
            assignments = ", ".join(f"`{n}` = VALUES(`{n}`)" for n in updates)
            suffix = f" ON DUPLICATE KEY UPDATE {assignments}"
        return f"INSERT INTO `{table.name}` ({columns}) VALUES ", suffix  # noqa: S608 - constant identifiers


def prepare_session(conn: Any) -> Dialect:
    """Set the session up for loading and return the server's dialect."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SET SESSION sql_mode = %s, SESSION time_zone = '+00:00'", (SESSION_SQL_MODE,)
        )
        cursor.execute("SELECT VERSION()")
        (version,) = cursor.fetchone()
    conn.commit()
    return Dialect(str(version))


def read_only_reason(conn: Any) -> str | None:
    """Why the server does not accept writes (``the database is read-only (read_only=ON)``),
    or ``None``. What that means depends on the region's role: a standby's database is a
    replica (``REPLICA_EXPLANATION``); a writer's is in maintenance or a switchover."""
    with conn.cursor() as cursor:
        # SHOW VARIABLES works on both servers and skips variables one of them lacks
        # (MariaDB has no super_read_only); it needs no privilege.
        cursor.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
            "('read_only', 'super_read_only', 'innodb_read_only')"
        )
        settings = {name.lower(): str(value).upper() for name, value in cursor.fetchall()}
    conn.commit()
    # Anything but "off" counts: MariaDB 11 turns read_only into a set of values
    # (e.g. NO_LOCK), none of which accepts the loader's writes.
    enabled = sorted(
        (name, value) for name, value in settings.items() if value not in ("OFF", "0", "")
    )
    if not enabled:
        return None
    return f"the database is read-only ({', '.join(f'{n}={v}' for n, v in enabled)})"


def not_bootstrapped(error: BaseException) -> NotBootstrappedError | None:
    """``error`` from opening a connection, as a ``NotBootstrappedError`` that says how to
    bootstrap when the server refused the user or the database; ``None`` otherwise."""
    code = error.args[0] if error.args else None
    if code not in NOT_BOOTSTRAPPED_ERRORS:
        return None
    return NotBootstrappedError(
        f"the database refused the loader's user ({error}): if the database was never "
        f"bootstrapped, {BOOTSTRAP_HINT}; if it was, check that the function's role may "
        "rds-db:connect as this user and that DB_USER and DB_NAME name what bootstrap created"
    )


def ping(conn: Any, timeout: float) -> None:
    """``conn.ping()`` that gives up after ``timeout`` seconds instead of the connection's
    read timeout (minutes), so a socket that died silently while Lambda was frozen fails fast.

    pymysql applies its private ``_read_timeout``/``_write_timeout`` to the socket on every
    read and write; they are lowered for the ping only. Other connections are pinged as is.
    """
    if not (hasattr(conn, "_read_timeout") and hasattr(conn, "_write_timeout")):
        conn.ping(reconnect=False)
        return
    saved = conn._read_timeout, conn._write_timeout
    conn._read_timeout = conn._write_timeout = timeout
    try:
        conn.ping(reconnect=False)
    finally:
        conn._read_timeout, conn._write_timeout = saved


def check_schema(conn: Any, table: Table) -> None:
    """Raise ``MissingSchemaError`` unless both tables exist with the expected columns."""
    expected = {
        table.name: set(table.column_names),
        MANIFEST_TABLE: set(MANIFEST_COLUMNS),
        REFUSED_TABLE: set(REFUSED_COLUMNS),
    }
    with conn.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        (database,) = cursor.fetchone()
        if database is None:
            raise MissingSchemaError("the connection has no default database (set DB_NAME)")
        cursor.execute(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s, %s, %s)",
            (table.name, MANIFEST_TABLE, REFUSED_TABLE),
        )
        found: dict[str, set[str]] = {}
        for table_name, column in cursor.fetchall():
            found.setdefault(table_name, set()).add(column)
    conn.commit()
    problems = []
    for name, columns in expected.items():
        if name not in found:
            problems.append(f"table `{database}`.`{name}` does not exist")
        elif columns - found[name]:
            missing = ", ".join(sorted(columns - found[name]))
            problems.append(f"table `{database}`.`{name}` lacks column(s) {missing}")
    if problems:
        raise MissingSchemaError("; ".join(problems) + f". To create the schema, {BOOTSTRAP_HINT}")


def lock_name(key_id: str) -> str:
    # MySQL limits lock names to 64 characters.
    return "tapstack-load:" + hashlib.sha256(key_id.encode()).hexdigest()[:40]


def acquire_object_lock(conn: Any, key_id: str, timeout: float) -> None:
    """Take the named lock of an object key (every version of it) on this connection; it is
    released when the connection closes, so a crashed invocation never leaves it held."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", (lock_name(key_id), max(0, int(timeout))))
        (granted,) = cursor.fetchone()
    conn.commit()
    if granted != 1:
        raise LockTimeout(
            "another invocation is still loading this object (a version of this key) after "
            f"waiting {timeout:.0f}s"
        )


def release_object_lock(conn: Any, key_id: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute("SELECT RELEASE_LOCK(%s)", (lock_name(key_id),))
        cursor.fetchall()
    conn.commit()


#: Columns of manifests made before rows_inserted/rows_updated: (old, new, definition).
_RENAMED_COLUMNS = (
    (
        "rows_loaded",
        "legacy_rows_written",
        "BIGINT NOT NULL DEFAULT 0 COMMENT 'writes counted before rows_inserted/rows_updated "
        "existed (an id repeated in a file counted each time)'",
    ),
    ("rows_rejected", "records_rejected", "BIGINT NOT NULL DEFAULT 0"),
)
_ADDED_COLUMNS = (
    ("rows_inserted", "BIGINT NOT NULL DEFAULT 0 AFTER `status`"),
    ("rows_updated", "BIGINT NOT NULL DEFAULT 0 AFTER `rows_inserted`"),
)


def upgrade_manifest(cursor: Any) -> list[str]:
    """Bring a manifest made by an earlier loader to today's columns (bootstrap runs it as the
    master user; the loader's user may not ALTER). Returns the changes made; none when the
    manifest is current, so running it again changes nothing."""
    cursor.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (MANIFEST_TABLE,),
    )
    columns = {str(name) for (name,) in cursor.fetchall()}
    changes = [
        f"CHANGE COLUMN `{old}` `{new}` {definition}"
        for old, new, definition in _RENAMED_COLUMNS
        if old in columns and new not in columns
    ]
    changes += [
        f"ADD COLUMN `{name}` {definition}"
        for name, definition in _ADDED_COLUMNS
        if name not in columns
    ]
    if columns and changes:
        cursor.execute(f"ALTER TABLE `{MANIFEST_TABLE}` " + ", ".join(changes))
    return changes if columns else []


@dataclass(frozen=True)
class ManifestEntry:
    status: str
    rows_inserted: int
    rows_updated: int
    records_rejected: int
    last_record: int
    attempts: int
    report_key: str | None
    error: str | None


def _identity(ref: ObjectRef) -> tuple[Any, ...]:
    """key_id, bucket, object_key, version_id, etag, size_bytes, sequencer."""
    return (ref.key_id, ref.bucket, ref.key, ref.version_id, ref.etag, ref.size, ref.sequencer)


@dataclass(frozen=True)
class OtherVersion:
    """Another version of the same key, as the manifest knows it."""

    version_id: str | None
    etag: str
    sequencer: str | None
    status: str


class Manifest:
    """Reads and writes the manifest row of one object version (under its key's lock)."""

    def __init__(self, conn: Any, object_id: str) -> None:
        self.conn = conn
        self.object_id = object_id

    def other_versions(self, key_id: str, statuses: tuple[str, ...]) -> list[OtherVersion]:
        """The key's other versions whose status is one of ``statuses``."""
        marks = ", ".join(["%s"] * len(statuses))
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"SELECT version_id, etag, sequencer, status FROM `{MANIFEST_TABLE}` "  # noqa: S608 - constant identifiers
                f"WHERE key_id = %s AND object_id <> %s AND status IN ({marks})",
                (key_id, self.object_id, *statuses),
            )
            rows = cursor.fetchall()
        self.conn.commit()
        return [OtherVersion(*row) for row in rows]

    def get(self) -> ManifestEntry | None:
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"SELECT status, rows_inserted, rows_updated, records_rejected, last_record, "  # noqa: S608 - constant identifiers
                f"attempts, report_key, error FROM `{MANIFEST_TABLE}` WHERE object_id = %s",
                (self.object_id,),
            )
            row = cursor.fetchone()
        self.conn.commit()
        return ManifestEntry(*row) if row else None

    def begin_attempt(self, ref: ObjectRef) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO `{MANIFEST_TABLE}` (object_id, key_id, bucket, object_key, "  # noqa: S608 - constant identifiers
                "version_id, etag, size_bytes, sequencer, status, attempts, started_at, "
                "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'loading', 1, "
                "UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE "
                "status = 'loading', attempts = attempts + 1, error = NULL, "
                "sequencer = COALESCE(sequencer, %s), updated_at = UTC_TIMESTAMP(6)",
                (self.object_id, *_identity(ref), ref.sequencer),
            )
        self.conn.commit()

    def mark_superseded(self, ref: ObjectRef, reason: str) -> None:
        """Final state, without an attempt: a newer version of the key is (being) loaded."""
        reason = reason[:4000]
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO `{MANIFEST_TABLE}` (object_id, key_id, bucket, object_key, "  # noqa: S608 - constant identifiers
                "version_id, etag, size_bytes, sequencer, status, error, started_at, "
                "updated_at, finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                "'superseded', %s, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) "
                "ON DUPLICATE KEY UPDATE status = 'superseded', error = %s, "
                "sequencer = COALESCE(sequencer, %s), updated_at = UTC_TIMESTAMP(6), "
                "finished_at = UTC_TIMESTAMP(6)",
                (self.object_id, *_identity(ref), reason, reason, ref.sequencer),
            )
        self.conn.commit()

    def note_skipped_delivery(self) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"UPDATE `{MANIFEST_TABLE}` SET skipped_deliveries = skipped_deliveries + 1, "  # noqa: S608 - constant identifiers
                "updated_at = UTC_TIMESTAMP(6) WHERE object_id = %s",
                (self.object_id,),
            )
        self.conn.commit()

    def checkpoint_sql(self) -> str:
        """The UPDATE run inside each batch's transaction (parameters: rows inserted, rows
        updated, last record, records rejected)."""
        return (
            f"UPDATE `{MANIFEST_TABLE}` SET rows_inserted = rows_inserted + %s, "  # noqa: S608 - constant identifiers
            "rows_updated = rows_updated + %s, last_record = %s, records_rejected = %s, "
            "updated_at = UTC_TIMESTAMP(6) WHERE object_id = " + self.conn.escape(self.object_id)
        )

    def refused_sql(self) -> str:
        """The INSERT of one refused record, run in its batch's transaction (parameters:
        record number, reason)."""
        return (
            f"INSERT INTO `{REFUSED_TABLE}` (object_id, record_number, reason, refused_at) "  # noqa: S608 - constant identifiers
            f"VALUES ({self.conn.escape(self.object_id)}, %s, %s, UTC_TIMESTAMP(6)) "
            "ON DUPLICATE KEY UPDATE reason = VALUES(reason)"
        )

    def refused_records(self, page: int = 1000) -> Iterator[tuple[int, str]]:
        """(record number, reason) of every record of this version the database refused, in
        record order, read a page at a time."""
        after = 0
        while True:
            with self.conn.cursor() as cursor:
                cursor.execute(
                    f"SELECT record_number, reason FROM `{REFUSED_TABLE}` "  # noqa: S608 - constant identifiers
                    "WHERE object_id = %s AND record_number > %s "
                    "ORDER BY record_number LIMIT %s",
                    (self.object_id, after, page),
                )
                rows = cursor.fetchall()
            self.conn.commit()
            for number, reason in rows:
                yield int(number), str(reason)
                after = number
            if len(rows) < page:
                return

    def finish(
        self,
        status: str,
        *,
        records_rejected: int = 0,
        last_record: int | None = None,
        report_key: str | None = None,
        error: str | None = None,
    ) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"UPDATE `{MANIFEST_TABLE}` SET status = %s, records_rejected = %s, "  # noqa: S608 - constant identifiers
                "last_record = COALESCE(%s, last_record), report_key = %s, error = %s, "
                "updated_at = UTC_TIMESTAMP(6), finished_at = UTC_TIMESTAMP(6) "
                "WHERE object_id = %s",
                (status, records_rejected, last_record, report_key, error, self.object_id),
            )
        self.conn.commit()

    def mark_failed(self, error: str) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"UPDATE `{MANIFEST_TABLE}` SET status = 'failed', error = %s, "  # noqa: S608 - constant identifiers
                "updated_at = UTC_TIMESTAMP(6) WHERE object_id = %s AND status = 'loading'",
                (error[:4000], self.object_id),
            )
        self.conn.commit()


#: Rows per prepared upsert statement, largest first: a batch of ``n`` rows is written as
#: statements of these sizes (2,345 rows: 2 x 1,000, 3 x 100, 4 x 10 and 5 x 1), each prepared
#: once per connection. Measured on MariaDB 10.11 (``bench/loader.py``'s records, the server
#: alone): 1,000-row statements cost the server 11.7-12.9 microseconds a row, 10,000-row ones
#: 11.4-12.5, multi-row text INSERTs 15.1-15.2 and LOAD DATA 12.7-13.6; a prepared
#: 10,000-row statement holds 17.8 MiB of the session's memory, a 1,000-row one 1.9 MiB.
STATEMENT_ROWS = (1000, 100, 10, 1)
#: The placeholders one statement may have (MySQL and MariaDB: ER_PS_MANY_PARAM, 1390).
MAX_PLACEHOLDERS = 65535
_COM_STMT_PREPARE = 0x16
_COM_STMT_EXECUTE = 0x17
_MYSQL_TYPE_STRING = b"\xfe\x00"  # parameter type (0xfe) and flags (signed)
_CLIENT_DEPRECATE_EOF = 1 << 24


class PreparedUpsert:
    """The table's multi-row upsert as server-side prepared statements (the binary
    protocol), one per size in ``STATEMENT_ROWS``, prepared on first use and kept for the
    life of the connection (which closes them).

    Compared with a multi-row ``INSERT`` of escaped literals, the server parses the
    statement once instead of lexing every value of every batch, and the client sends each
    value as its length and UTF-8 bytes (``schema.Table.encode_row``), escaping nothing.
    Errors are the same server errors, raised by pymysql with their codes, so a data error
    is still ``isolation``'s to resolve.

    pymysql has no prepared statements; the packets are sent and read through its
    connection's ``_execute_command``, ``_read_packet`` and ``_read_query_result`` (PyMySQL
    1.2.4, pinned in pyproject.toml and bundled; the loader's tests run every path against
    MariaDB with that version).
    https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_prepare.html
    https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_execute.html
    """

    def __init__(
        self, conn: Any, table: Table, dialect: Dialect, sizes: Sequence[int] = STATEMENT_ROWS
    ) -> None:
        self.conn = conn
        self.columns = len(table.column_names)
        self.sizes = tuple(size for size in sizes if size * self.columns <= MAX_PLACEHOLDERS)
        if not self.sizes or self.sizes[-1] != 1:
            raise ValueError("the statement sizes must end with 1 and fit the placeholder limit")
        self._prefix, self._suffix = dialect.upsert_prefix_suffix(table)
        self._row = "(" + ",".join("?" * self.columns) + ")"
        self._heads: dict[int, bytes] = {}  # rows -> the execute packet up to the values
        self.statements_prepared = 0
        self.statements_executed = 0

    def write(self, values: Any, ends: Sequence[int], low: int, high: int) -> tuple[int, int]:
        """Upsert rows ``low`` to ``high - 1`` of a batch and return (inserted, updated).

        ``values`` holds the batch's encoded rows one after another; row ``i`` ends at
        ``ends[i]`` (and starts at ``ends[i - 1]``, or 0)."""
        inserted = updated = 0
        at = low
        with memoryview(values) as view:
            while at < high:
                size = next(size for size in self.sizes if size <= high - at)
                begin = ends[at - 1] if at else 0
                affected = self._execute(self._head(size), view[begin : ends[at + size - 1]])
                new, changed = upsert_counts(self.conn, affected, size)
                inserted += new
                updated += changed
                at += size
        return inserted, updated

    def _execute(self, head: bytes, rows: memoryview) -> int:
        self.conn._execute_command(_COM_STMT_EXECUTE, head + rows)
        self.statements_executed += 1
        return int(self.conn._read_query_result())

    def _head(self, rows: int) -> bytes:
        head = self._heads.get(rows)
        if head is None:
            statement, params = self._prepare(rows)
            # Statement id, no cursor, one iteration, no NULLs, types bound, all strings.
            head = (
                struct.pack("<IBI", statement, 0, 1)
                + bytes((params + 7) // 8)
                + b"\x01"
                + _MYSQL_TYPE_STRING * params
            )
            self._heads[rows] = head
        return head

    def _prepare(self, rows: int) -> tuple[int, int]:
        conn = self.conn
        sql = self._prefix + ",".join([self._row] * rows) + self._suffix
        conn._execute_command(_COM_STMT_PREPARE, sql)
        reply = conn._read_packet().get_all_data()  # an error packet raises
        statement, columns, params = struct.unpack_from("<IHH", reply, 1)
        if params != rows * self.columns:
            raise RuntimeError(f"the server counted {params} parameters, not {rows * self.columns}")
        eof = not conn.client_flag & _CLIENT_DEPRECATE_EOF
        for definitions in (params, columns):  # each followed by an EOF packet
            for _ in range(definitions + (1 if definitions and eof else 0)):
                conn._read_packet()
        self.statements_prepared += 1
        return statement, params


@dataclass(frozen=True)
class PreparedBatch:
    values: bytes | bytearray  # the rows' parameters, one row after another (``encode_row``)
    ends: Sequence[int]  # where each row ends in ``values``
    last_record: int
    rows_rejected: int  # rejected so far in this attempt, for the manifest
    #: Each row's record number, to refuse records alone (``isolation``); without them, a
    #: data error fails the batch as a whole.
    numbers: Sequence[int] | None = None

    @property
    def rows(self) -> int:
        return len(self.ends)


class BatchWriter:
    """Commits prepared batches in order on a background thread.

    Parsing and validating the next batch (Python) overlaps with the database inserting the
    previous one, instead of waiting for each other. Each batch is one transaction: its
    upserts (``PreparedUpsert``) and the manifest checkpoint commit together or not at all.
    ``submit`` returns once the writer has taken the batch, so at most two batches are alive
    whatever the object's size or the database's stalls: the one being written and the one
    being filled or handed over. (With a queue of one batch that ``submit`` left behind, a
    stall let a third one fill: ``bench/loader.py --memory-up`` measured a peak Python heap
    of 8.5 MiB at 1,000,000 records and 12.1 MiB at 10,000,000.) The connection belongs to
    the writer between ``start`` and ``close``; nobody else may use it meanwhile.

    A batch the database refuses for its data (``isolation``) is written without the records
    at fault, which are saved with ``refused_sql`` (record number, reason) in the same
    transaction and counted in ``records_refused``.
    """

    _STOP = object()

    def __init__(
        self,
        upsert: PreparedUpsert,
        checkpoint_sql: str,
        *,
        refused_sql: str | None = None,
    ) -> None:
        self.upsert = upsert
        self.conn = upsert.conn
        self.checkpoint_sql = checkpoint_sql
        self.refused_sql = refused_sql
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self.rows_committed = 0
        self.batches_committed = 0
        self.deadlocks_retried = 0
        self.rows_inserted = 0
        self.rows_updated = 0
        self.records_refused = 0
        self.batches_isolated = 0

    def start(self) -> BatchWriter:
        self._thread.start()
        return self

    def submit(self, batch: PreparedBatch) -> None:
        """Hand ``batch`` to the writer; returns once the writer has taken it (it then writes
        it while the caller fills the next one). Raises if an earlier batch failed."""
        self._raise_if_failed()
        self._queue.put(batch)
        self._queue.join()  # the writer marks each batch done as it takes it

    def close(self) -> None:
        """Wait until every submitted batch is committed; raise if one failed."""
        self._queue.put(self._STOP)
        self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stop after the batch in flight (if any) and discard queued ones; never raises."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
        self._queue.put(self._STOP)
        self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            self._queue.task_done()  # taken: submit returns
            if batch is self._STOP:
                return
            if self._error is not None:
                continue  # drain until told to stop
            try:
                self._commit(batch)
            except BaseException as error:  # re-raised on the caller's thread
                self._error = error
                continue
            self.rows_committed += batch.rows
            self.batches_committed += 1

    def _commit(self, batch: PreparedBatch) -> None:
        """One transaction: the batch and its checkpoint. An InnoDB deadlock (1213) rolls
        the whole transaction back, so the batch is simply run again, once."""
        for attempt in (1, 2):
            try:
                with self.conn.cursor() as cursor:
                    inserted, updated, refused = self._write(cursor, batch)
                    cursor.execute(
                        self.checkpoint_sql,
                        (
                            inserted,
                            updated,
                            batch.last_record,
                            batch.rows_rejected + self.records_refused + refused,
                        ),
                    )
                self.conn.commit()
            except Exception as error:
                if attempt == 2 or getattr(error, "args", ())[:1] != (ER_LOCK_DEADLOCK,):
                    raise
                self.conn.rollback()
                self.deadlocks_retried += 1
                continue
            self.rows_inserted += inserted
            self.rows_updated += updated
            self.records_refused += refused
            self.batches_isolated += int(refused > 0)
            return

    def _write(self, cursor: Any, batch: PreparedBatch) -> tuple[int, int, int]:
        """Upsert the batch's rows; on a data error, isolate the refused records. Returns
        (rows inserted, rows updated, records refused)."""
        try:
            inserted, updated = self.upsert.write(batch.values, batch.ends, 0, batch.rows)
        except Exception as error:
            if batch.numbers is None or self.refused_sql is None or not is_data_error(error):
                raise
            return self._isolate(cursor, batch, batch.numbers)
        return inserted, updated, 0

    def _isolate(
        self, cursor: Any, batch: PreparedBatch, numbers: Sequence[int]
    ) -> tuple[int, int, int]:
        # The failed statement wrote nothing, but the batch's earlier statements did: the
        # batch starts afresh.
        self.conn.rollback()

        def write(low: int, high: int) -> tuple[int, int]:
            return self.upsert.write(batch.values, batch.ends, low, high)

        refused, inserted, updated = isolate_refused(cursor, write, batch.rows)
        for index, reason in refused:
            cursor.execute(self.refused_sql, (numbers[index], reason))
        return inserted, updated, len(refused)

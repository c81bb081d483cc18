"""Load JSON records from S3 objects into the target table, exactly once per object version.

For each object named in an S3 event the loader:

1. checks that the database accepts writes. In the standby region a read-only database is
   a replica: the object is skipped (its rows arrive by replication). In the writer region
   it is a maintenance window, a switchover under way or a ROLE that no longer matches the
   database: the invocation fails (``ReadOnlyWriterError``, metric ``ReadOnlyWriter``), so
   Lambda retries it and, after its retries, dead-letters it - nothing is skipped silently;
2. takes a named lock for the object key - bucket and key, shared by all its versions
   (``GET_LOCK`` on its own connection, so a second invocation for the same object waits,
   then sees it loaded and skips, and two versions of a key never load at the same time;
   the server releases the lock if the holder dies);
3. reads the manifest row: ``loaded``/``quarantined``/``skipped``/``superseded``/``partial``
   versions are not touched again; ``loading``/``failed`` ones resume after their
   checkpoint - unless a newer version of the key is loaded (see below);
4. streams the object from S3 (``GetObject`` with the event's ``versionId``, or ``If-Match``
   its ETag when the bucket is unversioned, so it loads exactly the version the event names),
   decompressing gzip on the fly (``compression``), and validates every record against the
   table schema. Valid records go out in batches, one transaction per batch together with
   the manifest checkpoint; invalid ones are spooled to a temporary file (``rejects``) and
   uploaded to ``rejected/`` at the end. A record the database refuses is found in its batch
   and rejected alone while the rest of the batch commits (``isolation``); whatever a record
   contains, it ends loaded or rejected with a reason, never as the object's failure;
5. marks the manifest row ``loaded`` with its counts: rows inserted, rows updated, records
   rejected (``isolation.upsert_counts``).

An older version never overwrites a newer one
---------------------------------------------
S3 delivers events late, twice and out of order, so the event of an older version of a key
can arrive after a newer version was loaded. Under the key's lock, before writing anything,
the loader compares this version with the key's other versions in the manifest that have
(or will have) rows in the table - status ``loading``, ``failed``, ``loaded`` or
``partial``:

* both have an S3 event ``sequencer`` (stored in the manifest): if the other one is greater
  (hex values compared after left-padding the shorter with zeros, S3's rule), this version
  is marked ``superseded`` and nothing of it is written - not even ids the newer version
  lacks: the newer version replaced the object;
* either has no sequencer (``tapstack redrive`` sends none; a version loaded from such an
  event stores none): the order is asked of S3 instead - this version loads only if it is
  the key's current version (``HeadObject``: the same version id, or the same ETag when the
  bucket is unversioned); otherwise it is ``superseded``. The current version is the newest
  one, and a newer upload has its own event.

Versions that wrote nothing (``quarantined``, ``skipped``, ``superseded``) do not count:
loading an older version after them leaves the table as processing the events in order
would have. A version whose ``failed`` attempt committed some batches and is then
superseded keeps those rows (they predate the newer version's, which replaced them).

Versions that disappear
-----------------------
A version deleted or overwritten (unversioned bucket) before it is read is ``skipped``. If
it disappears after earlier attempts committed some of its batches, it is marked
``partial`` instead, with an ERROR log naming the object and the number of committed
records: those rows stay and the rest can never be read.

Connections
-----------
The connection is kept between invocations. It is replaced without being used when it has
been idle for more than ``MAX_IDLE_SECONDS`` (Lambda may have frozen the environment and
the network path may have dropped it silently), and otherwise checked with a ping that gives
up after ``PING_TIMEOUT_SECONDS`` instead of the read timeout (minutes).

Files that cannot be parsed load nothing
----------------------------------------
An object of a format the loader does not read (any key under ``incoming/`` without a
supported suffix) is quarantined with the reason before anything is read.

A JSON array whose structure is broken anywhere - even in its last byte - must not load its
first records. A single transaction per file would guarantee that, but would make a
large file one huge transaction (long-held row locks, a large undo log, replica lag) and
would make resuming after a crash impossible. Instead, a ``.json`` object is read twice: a
cheap streaming structure pass (decode every element, keep nothing) and, only if that
passes, the loading pass. Both passes read the same object version (``VersionId`` or
``If-Match``), so they see the same bytes. The price is a second GET and a second parse of
``.json`` objects, so JSON Lines is the recommended format for large files.

A gzip object is checked whole the same way (decompressed and discarded) before its first
batch, so a corrupt or truncated stream, or a gzip bomb, loads nothing; a JSON array's
structure pass does both at once.

JSON Lines needs no structure pass: lines are independent, so a line that is not JSON is a
rejected record. Only an object in which no line at all is valid JSON (binary data, UTF-16,
a pretty-printed document) is quarantined - and such an object has no valid record, so it
loads nothing by construction.

Record numbers in ``rejected/`` are line numbers (JSON Lines; blank lines count) or
1-based element numbers (JSON arrays).

Decoding
--------
A JSON Lines line in the form producers write - the compact JSON of a record with every
column, in column order, as orjson or ``json.dumps(separators=(",", ":"))`` writes it - is
encoded into its row from the fields' raw text (``schema.Table.encode_line``): the strings
as they stand and the payload checked by one orjson round trip, without decoding the record
into a dictionary first. Every other line (other key order, whitespace, escapes in a string
field, a missing payload, anything invalid) is decoded and validated in full, which also
gives each rejected line its reason; the shortcut returns the very row the full path would,
or nothing (``test_loader_compact_lines`` checks it on generated lines). Measured on
``bench/loader.py``'s 200,000 records through ``_validate_records`` without a database (CPU
time, best of five alternated runs): 6.9 microseconds per record with the shortcut, 8.2
without it.

Writing
-------
Each batch of up to ``batch_size`` rows (10,000) is one transaction: its rows are upserted
with server-side prepared multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` statements of
1,000, 100, 10 and 1 rows (``database.PreparedUpsert``: the server parses each statement
once per connection and each value travels as its length and bytes, escaped by nobody),
followed by the manifest checkpoint ``UPDATE`` and ``COMMIT``. A background thread
(``database.BatchWriter``) runs them while the main thread decodes and validates the next
batch, so Python and the database work at the same time; a batch that hits an InnoDB
deadlock (1213, which rolls the whole transaction back) is run again once.

Measured on MariaDB 10.11 with the server alone (``bench/loader.py``'s records): prepared
statements cost the server 11.7-12.9 microseconds a row, ``LOAD DATA LOCAL INFILE`` 12.7-13.6
and the multi-row text ``INSERT`` this loader used before 15.1-15.2. ``LOAD DATA`` would
also need ``local_infile=1`` on the server and the client (which lets the server read any
file the function can), turns data errors into warnings unless ``REPLACE`` is given, and
``REPLACE`` needs the ``DELETE`` privilege; prepared statements need only ``SELECT, INSERT,
UPDATE`` and fail loudly in strict mode.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from array import array
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics
from botocore.exceptions import ClientError

from .compression import DEFAULT_MAX_DECOMPRESSED_BYTES, open_decompressed
from .contract import (
    METRIC_DURATION,
    METRIC_OBJECTS_QUARANTINED,
    METRIC_OBJECTS_SKIPPED,
    METRIC_READ_ONLY_WRITER,
    METRIC_RECORDS_REJECTED,
    METRIC_ROWS_INSERTED,
    METRIC_ROWS_UPDATED,
    ROLES,
    STANDBY,
    SUFFIXES,
    WRITER,
)
from .database import (
    REPLICA_EXPLANATION,
    BatchWriter,
    Dialect,
    Manifest,
    ManifestEntry,
    OtherVersion,
    PreparedBatch,
    PreparedUpsert,
    ReadOnlyWriterError,
    acquire_object_lock,
    check_schema,
    not_bootstrapped,
    ping,
    prepare_session,
    read_only_reason,
    release_object_lock,
)
from .events import UNSUPPORTED, IgnoredRecord, ObjectRef, parse_event, sequencer_is_newer
from .formats import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_RECORD_BYTES,
    MalformedObject,
    ParseFailure,
    iter_json_array,
    iter_json_lines,
)
from .observability import loader_logger, publish_object_metrics
from .rejects import NO_RECORD, report_line
from .schema import EVENTS, RecordError, Table

__all__ = [
    "DEFAULT_BATCH_MAX_BYTES",
    "DEFAULT_BATCH_SIZE",
    "MAX_IDLE_SECONDS",
    "PING_TIMEOUT_SECONDS",
    "Loader",
    "ObjectResult",
]

#: Each batch is a transaction, and each commit waits for the redo log to reach the disk
#: (innodb_flush_log_at_trx_commit=1, as on RDS): 10,000 rows of the benchmark (about 3 MB
#: of SQL) halve the commits of 5,000 and loaded faster; 20,000 measured no faster again and
#: the process's peak memory grows with the batch (about six batches' bytes are alive at once:
#: rows, statement, queue, driver).
DEFAULT_BATCH_SIZE = 10_000
# Of encoded rows; a statement holds at most a batch (far below max_allowed_packet: 16 MiB
# MariaDB, 64 MiB RDS).
DEFAULT_BATCH_MAX_BYTES = 4 << 20
DEFAULT_LOCK_TIMEOUT = 60.0
#: A kept connection idle for longer is replaced without being used: after a Lambda freeze
#: its socket may be dead without either side knowing, and a read on it would wait for the
#: read timeout. Reconnecting costs tens of milliseconds.
MAX_IDLE_SECONDS = 60.0
#: The liveness ping of a kept connection gives up after this long (a healthy one answers in
#: about a millisecond).
PING_TIMEOUT_SECONDS = 5.0

#: Manifest states after which a version is never touched again.
_FINAL_STATES = ("loaded", "quarantined", "skipped", "superseded", "partial")
#: Manifest states of versions whose rows are, or will be, in the table.
_HAS_ROWS = ("loading", "failed", "loaded", "partial")


_GC_THRESHOLD_WHILE_LOADING = 50_000
_SWITCH_INTERVAL_WHILE_LOADING = 0.001  # seconds; CPython's default is 0.005
_tuning_lock = threading.Lock()
_tuning_users = 0
_saved_tuning: tuple[tuple[int, int, int], float] = ((700, 10, 10), 0.005)


@contextlib.contextmanager
def _tuned_for_loading() -> Iterator[None]:
    """Tune the interpreter for loading while records are decoded; restored afterwards.

    * The cyclic garbage collector runs less often. Decoding allocates millions of
      short-lived containers (the records) that reference counting frees; with the default
      threshold of 700 allocations the collector keeps re-scanning them and the long-lived
      boto3/botocore object graph, which costs about a quarter of the loader's CPU time.
      Collection still happens, just less often.
    * The GIL is handed over after 1 ms instead of 5 ms. The batch writer's thread needs the
      GIL after each statement's reply to send the next one, while the main thread decodes
      without pause: with the default, each reply could wait up to 5 ms, and the database
      with it (a 10,000-row batch is 10 statements, a checkpoint and a commit). Measured
      with ``bench/loader.py``'s records (200,000, in one process, 2 runs each): 46,488 and
      48,747 rows/s with 5 ms, 56,965 and 61,347 with 1 ms, 60,157 and 59,730 with 0.2 ms.
    """
    global _tuning_users, _saved_tuning
    with _tuning_lock:
        if _tuning_users == 0:
            _saved_tuning = gc.get_threshold(), sys.getswitchinterval()
            threshold = _saved_tuning[0]
            gc.set_threshold(max(threshold[0], _GC_THRESHOLD_WHILE_LOADING), *threshold[1:])
            sys.setswitchinterval(min(_saved_tuning[1], _SWITCH_INTERVAL_WHILE_LOADING))
        _tuning_users += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0:
                gc.set_threshold(*_saved_tuning[0])
                sys.setswitchinterval(_saved_tuning[1])


#: glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (mallopt), and the value given to both.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_ALLOCATOR_THRESHOLD = 128 << 10
_allocator_tuned: bool | None = None


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds at 128 KiB for this process; once, idempotent.
    Returns whether glibc took them (False elsewhere: another C library, or no mallopt).

    By default glibc raises its mmap threshold each time a large block is freed (up to
    32 MiB), so after the first batch the batch buffers and statement packets (hundreds of
    KiB to a few MiB) come from the heap instead of their own mappings and stay there,
    fragmented. With the thresholds fixed they are mapped and returned whole. Measured with
    ``bench/loader.py``'s records, peak RSS growth of the loading process for 100,000 and
    1,000,000 records, runs alternated: 16.4/22.2 and 16.8/20.6 MiB by default, 12.7/15.4
    and 13.8/15.4 MiB with both thresholds at 128 KiB (and no slower: 55,000-67,000 rows/s
    by default, 67,000-75,000 tuned, in the same minutes).
    https://man7.org/linux/man-pages/man3/mallopt.3.html
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        try:
            mallopt = ctypes.CDLL(None).mallopt
            _allocator_tuned = bool(
                mallopt(_M_MMAP_THRESHOLD, _ALLOCATOR_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _ALLOCATOR_THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc
            _allocator_tuned = False
    return _allocator_tuned


class ObjectGone(Exception):
    """The object version named by the event can no longer be read."""


@dataclass
class ObjectResult:
    """What happened to one object. ``rows_inserted``/``rows_updated``: rows of the table this
    invocation created/changed (a record that sets a row to what it holds counts in neither;
    see ``isolation.upsert_counts``); ``records_rejected``: records in the object's
    ``rejected/`` report (all of them, also those of earlier attempts)."""

    bucket: str | None
    key: str | None
    status: str  # loaded | quarantined | skipped | superseded | partial | ignored
    version_id: str | None = None
    reason: str | None = None
    rows_inserted: int = 0
    rows_updated: int = 0
    records_rejected: int = 0
    resumed_after: int = 0
    report_key: str | None = None
    duration_ms: int = 0


class _RejectSpool:
    """Rejected records as JSON Lines in a temporary file (memory stays bounded)."""

    def __init__(self, number_field: str) -> None:
        self.number_field = number_field
        self.count = 0
        self.first_reason: str | None = None
        # Closed by close(); the loader calls it in a finally block.
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="tapstack-rejected-")  # noqa: SIM115

    def add(
        self, number: int, reason: str, *, record: Any = NO_RECORD, text: str | None = None
    ) -> None:
        """One rejected record: its decoded ``record`` if it has one (``text``, the line as
        read, stands in when the record cannot be written as strict JSON)."""
        self.add_line(report_line(self.number_field, number, reason, record=record, text=text))
        if self.first_reason is None:
            self.first_reason = f"{self.number_field.replace('_', ' ')} {number}: {reason}"

    def add_line(self, line: bytes) -> None:
        self._file.write(line)
        self.count += 1

    def rewind(self) -> IO[bytes]:
        self._file.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()


class _Batches:
    """Valid rows gathered into batches that are handed to a ``BatchWriter``.

    A batch is its rows' parameters one after another (``Table.encode_row``) with where each
    row ends and its record number, in compact arrays rather than a list of row objects.
    Each batch is checkpointed with the number of its last record and the number of records
    rejected so far, so that an attempt that resumes starts right after it.
    """

    __slots__ = (
        "batch_size",
        "ends",
        "last_valid",
        "max_bytes",
        "numbers",
        "spool",
        "values",
        "writer",
        "written",
    )

    def __init__(
        self,
        writer: BatchWriter,
        spool: _RejectSpool,
        batch_size: int,
        max_bytes: int,
        resume_after: int,
    ) -> None:
        self.writer = writer
        self.spool = spool
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.values = bytearray()  # the batch being filled
        self.ends = array("q")
        self.numbers = array("q")
        self.last_valid = resume_after  # the number of the last row added
        self.written = 0  # rows submitted so far

    def add(self, number: int, row: bytes) -> None:
        """Add record ``number``'s row; submit the batch once it is full."""
        values = self.values
        values += row
        self.ends.append(len(values))
        self.numbers.append(number)
        self.last_valid = number
        if len(self.numbers) >= self.batch_size or len(values) >= self.max_bytes:
            self.flush()

    def flush(self) -> None:
        """Submit the rows gathered so far as one batch."""
        batch = PreparedBatch(
            self.values, self.ends, self.last_valid, self.spool.count, self.numbers
        )
        self.writer.submit(batch)
        self.written += batch.rows
        self.values, self.ends, self.numbers = bytearray(), array("q"), array("q")


class Loader:
    """Loads S3 objects named in S3 events into MySQL.

    ``connect`` returns a new DB-API (pymysql) connection to the target database with
    autocommit off; the loader keeps one open and reuses it across invocations. ``s3`` is a
    boto3 S3 client. ``role`` is the region's (``ROLE``): only a standby skips objects while
    its database is read-only; a writer fails. ``logger`` defaults to
    ``observability.loader_logger()``; without ``metrics`` (``observability.loader_metrics``)
    no metric is published. Everything else has production defaults.
    """

    def __init__(
        self,
        *,
        connect: Callable[[], Any],
        s3: Any,
        role: str = WRITER,
        table: Table = EVENTS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        logger: Logger | None = None,
        metrics: EphemeralMetrics | None = None,
        max_idle: float = MAX_IDLE_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        tune_allocator()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self._connect = connect
        self.role = role
        self.s3 = s3
        self.table = table
        self.batch_size = batch_size
        self.batch_max_bytes = batch_max_bytes
        self.chunk_size = chunk_size
        self.max_record_bytes = max_record_bytes
        self.max_decompressed_bytes = max_decompressed_bytes
        self.lock_timeout = lock_timeout
        self.log = logger or loader_logger()
        self.metrics = metrics
        self.max_idle = max_idle
        self.ping_timeout = ping_timeout
        self._clock = clock
        self._conn: Any = None
        self._last_used = 0.0
        self._dialect: Dialect | None = None
        self._upsert: PreparedUpsert | None = None  # the connection's prepared statements
        self._schema_checked = False

    # ------------------------------------------------------------ events
    def handle_event(self, event: Any, *, lock_timeout: float | None = None) -> dict[str, Any]:
        """Process every record of an S3 event; raises on the first real failure."""
        results = []
        for item in parse_event(event):
            if isinstance(item, IgnoredRecord):
                result = ObjectResult(item.bucket, item.key, "ignored", reason=item.reason)
                self._emit(result)
            else:
                result = self.load_object(item, lock_timeout=lock_timeout)
            results.append(asdict(result))
        return {"objects": results}

    def load_object(self, ref: ObjectRef, *, lock_timeout: float | None = None) -> ObjectResult:
        started = time.monotonic()
        try:
            result = self._load(ref, self.lock_timeout if lock_timeout is None else lock_timeout)
        except BaseException as error:
            self._discard_connection()
            duration_ms = int((time.monotonic() - started) * 1000)
            self.log.error(
                "object failed; the invocation raises so Lambda retries it",
                bucket=ref.bucket,
                key=ref.key,
                version_id=ref.version_id,
                error=f"{type(error).__name__}: {error}",
                duration_ms=duration_ms,
            )
            if isinstance(error, ReadOnlyWriterError) and self.metrics is not None:
                publish_object_metrics(
                    self.metrics,
                    {METRIC_READ_ONLY_WRITER: 1, METRIC_DURATION: duration_ms},
                    status="failed",
                    bucket=ref.bucket,
                    key=ref.key,
                    version_id=ref.version_id,
                )
            raise
        self._last_used = self._clock()
        result.duration_ms = int((time.monotonic() - started) * 1000)
        self._emit(result)
        return result

    def close(self) -> None:
        self._discard_connection()

    # -------------------------------------------------------- connection
    def _connection(self) -> Any:
        if self._conn is not None:
            idle = self._clock() - self._last_used
            if idle > self.max_idle:
                self.log.debug("replacing an idle database connection", idle_s=round(idle, 1))
                self._discard_connection()
            else:
                try:
                    ping(self._conn, self.ping_timeout)
                    return self._conn
                except Exception:  # a dead cached connection is simply replaced
                    self._discard_connection()
        try:
            conn = self._connect()
        except Exception as error:
            refused = not_bootstrapped(error)
            if refused is not None:
                raise refused from error
            raise
        try:
            self._dialect = prepare_session(conn)
        except BaseException:
            conn.close()
            raise
        self._upsert = PreparedUpsert(conn, self.table, self._dialect)
        self._conn = conn
        self._last_used = self._clock()
        self._schema_checked = False
        return conn

    def _discard_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._upsert = None
        if conn is not None:
            # Closing also releases the named lock and rolls back; a broken connection
            # may fail to close, which changes nothing.
            with contextlib.suppress(Exception):
                conn.close()

    # -------------------------------------------------------------- load
    def _load(self, ref: ObjectRef, lock_timeout: float) -> ObjectResult:
        conn = self._connection()
        read_only = read_only_reason(conn)
        if read_only is not None:
            if self.role == STANDBY:
                reason = f"{read_only}: {REPLICA_EXPLANATION}"
                return ObjectResult(ref.bucket, ref.key, "skipped", ref.version_id, reason)
            raise ReadOnlyWriterError(
                f"{read_only}, but this region is the writer (ROLE={self.role}): {ref.uri} "
                "was not loaded. The invocation fails so that Lambda retries it, and "
                "dead-letters it after its retries. A writer's database is read-only during "
                "maintenance or a switchover; if it stays so, check that ROLE matches the "
                "database, and once it accepts writes, load what is left with "
                "`python -m tapstack redrive`"
            )
        if not self._schema_checked:
            check_schema(conn, self.table)
            self._schema_checked = True
        acquire_object_lock(conn, ref.key_id, lock_timeout)
        result = self._load_locked(conn, ref)
        release_object_lock(conn, ref.key_id)
        return result

    def _load_locked(self, conn: Any, ref: ObjectRef) -> ObjectResult:
        manifest = Manifest(conn, ref.object_id)
        entry = manifest.get()
        if entry is not None and entry.status in _FINAL_STATES:
            manifest.note_skipped_delivery()
            return ObjectResult(
                ref.bucket,
                ref.key,
                "skipped",
                ref.version_id,
                f"already {entry.status} (manifest)",
                report_key=entry.report_key,
            )
        newer = self._newer_version(ref, manifest)
        if newer is not None:
            manifest.mark_superseded(ref, newer)
            return ObjectResult(ref.bucket, ref.key, "superseded", ref.version_id, newer)
        resume_after = entry.last_record if entry is not None else 0
        manifest.begin_attempt(ref)
        try:
            return self._load_attempt(conn, ref, manifest, resume_after)
        except ObjectGone as gone:
            return self._gone(ref, manifest, gone)
        except BaseException as error:
            self._record_failure(conn, manifest, error)
            raise

    def _newer_version(self, ref: ObjectRef, manifest: Manifest) -> str | None:
        """Why this version must not load because a newer one of the key has rows, or None
        (the rules are in the module docstring)."""
        others = manifest.other_versions(ref.key_id, _HAS_ROWS)
        if not others:
            return None
        if ref.sequencer is not None:
            for other in others:
                if other.sequencer is not None and sequencer_is_newer(
                    other.sequencer, ref.sequencer
                ):
                    return (
                        f"a newer version of {ref.uri} is {other.status} "
                        f"({_version_token(other)}, sequencer {other.sequencer} > "
                        f"{ref.sequencer}); loading {ref.version_token} would overwrite its rows"
                    )
            if all(other.sequencer is not None for other in others):
                return None
        if self._is_current_version(ref):
            return None
        other = next((o for o in others if o.sequencer is None), others[0])
        return (
            f"{ref.version_token} is no longer the current version of {ref.uri} in S3 and "
            f"{_version_token(other)} is {other.status}; without sequencers on both events "
            "only the current version may load"
        )

    def _is_current_version(self, ref: ObjectRef) -> bool:
        try:
            head = self.s3.head_object(Bucket=ref.bucket, Key=ref.key)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("404", "NoSuchKey") or status == 404:
                return False  # deleted: no version of the key is current
            raise
        if ref.version_id:
            return bool(head.get("VersionId") == ref.version_id)
        return str(head.get("ETag") or "").strip('"') == ref.etag

    def _gone(self, ref: ObjectRef, manifest: Manifest, gone: ObjectGone) -> ObjectResult:
        """The version disappeared: ``skipped`` if nothing of it was committed, else
        ``partial``."""
        entry: ManifestEntry | None = manifest.get()
        if entry is None or entry.last_record == 0:  # no batch was ever committed
            manifest.finish("skipped", error=str(gone))
            return ObjectResult(ref.bucket, ref.key, "skipped", ref.version_id, str(gone))
        committed = entry.last_record
        reason = (
            f"{gone}; its records up to {committed} were committed by earlier attempts "
            f"({entry.rows_inserted} rows inserted, {entry.rows_updated} updated) and stay "
            "in the table, the rest can never be loaded"
        )
        manifest.finish(
            "partial",
            records_rejected=entry.records_rejected,
            last_record=entry.last_record,
            error=reason,
        )
        self.log.error(
            "object partly loaded: its version disappeared from S3 after some of its records "
            "were committed",
            uri=ref.uri,
            version_id=ref.version_id,
            etag=ref.etag,
            last_committed_record=committed,
            rows_inserted=entry.rows_inserted,
            rows_updated=entry.rows_updated,
            reason=str(gone),
        )
        return ObjectResult(ref.bucket, ref.key, "partial", ref.version_id, reason)

    def _record_failure(self, conn: Any, manifest: Manifest, error: BaseException) -> None:
        """Best effort: the original error is what matters and is re-raised by the caller."""
        try:
            conn.rollback()
            manifest.mark_failed(f"{type(error).__name__}: {error}")
        except Exception as secondary:
            self.log.warning(
                "could not record the failure in the manifest",
                error=f"{type(secondary).__name__}: {secondary}",
            )

    def _load_attempt(
        self, conn: Any, ref: ObjectRef, manifest: Manifest, resume_after: int
    ) -> ObjectResult:
        try:
            self._check_whole(ref)
        except MalformedObject as broken:
            return self._quarantine(ref, manifest, broken)
        spool = _RejectSpool("line" if ref.format == "jsonl" else "record_number")
        try:
            try:
                writer, last_number, parsed = self._stream_rows(
                    conn, ref, manifest, spool, resume_after, gzip_checked=_checks_gzip(ref)
                )
            except _UncheckedGzip:  # stored gzip under a plain name: check it whole first
                try:
                    self._verify_gzip(ref)
                except MalformedObject as broken:
                    return self._quarantine(ref, manifest, broken)
                spool.close()
                spool = _RejectSpool(spool.number_field)
                writer, last_number, parsed = self._stream_rows(
                    conn, ref, manifest, spool, resume_after, gzip_checked=True
                )
            if ref.format == "jsonl" and parsed == 0 and spool.count > 0:
                problem = MalformedObject(
                    f"no line is valid JSON ({spool.count} non-blank lines; first problem: "
                    f"{spool.first_reason})",
                    {"lines": spool.count},
                )
                return self._quarantine(ref, manifest, problem)
            self._report_refused(ref, manifest, spool)
            report_key = None
            if spool.count:
                report_key = ref.rejected_key
                self._upload_rejected(ref, spool)
        finally:
            spool.close()
        manifest.finish(
            "loaded", records_rejected=spool.count, last_record=last_number, report_key=report_key
        )
        return ObjectResult(
            ref.bucket,
            ref.key,
            "loaded",
            ref.version_id,
            rows_inserted=writer.rows_inserted,
            rows_updated=writer.rows_updated,
            records_rejected=spool.count,
            resumed_after=resume_after,
            report_key=report_key,
        )

    def _check_whole(self, ref: ObjectRef) -> None:
        """Raise ``MalformedObject`` for what must load nothing: an unsupported format, a
        JSON array whose structure breaks anywhere, a gzip stream that breaks anywhere."""
        if ref.format == UNSUPPORTED:
            raise MalformedObject(
                f"{ref.key.rpartition('/')[2]!r} names no supported format: the loader reads "
                f"keys ending in {', '.join(SUFFIXES)} (or stored with Content-Encoding: "
                "gzip); nothing was loaded",
                {"key": ref.key},
            )
        if ref.format == "json":
            self._verify_array(ref)
        elif ref.compression == "gzip":
            self._verify_gzip(ref)

    def _stream_rows(
        self,
        conn: Any,
        ref: ObjectRef,
        manifest: Manifest,
        spool: _RejectSpool,
        resume_after: int,
        *,
        gzip_checked: bool,
    ) -> tuple[BatchWriter, int, int]:
        """Validate every record and upsert the valid ones after ``resume_after``.

        Returns (the writer, with its counts; last record number seen; records that parsed
        as JSON). Raises ``_UncheckedGzip`` before anything is written if the object turns
        out to be gzip and ``gzip_checked`` is false.
        """
        assert self._upsert is not None and self._upsert.conn is conn
        writer = BatchWriter(
            self._upsert,
            manifest.checkpoint_sql(),
            refused_sql=manifest.refused_sql(),
        ).start()
        batches = _Batches(writer, spool, self.batch_size, self.batch_max_bytes, resume_after)
        try:
            with _tuned_for_loading():
                number, parsed = self._validate_records(
                    ref, spool, resume_after, batches, gzip_checked
                )
            if batches.numbers:
                batches.flush()
            writer.close()
            self._log_writer(ref, writer)
        except MalformedObject as problem:
            writer.abort()
            raise RuntimeError(
                f"{ref.uri} changed between the structure check and the load: {problem}"
            ) from problem
        except BaseException:
            writer.abort()
            raise
        return writer, max(number, batches.last_valid), parsed

    def _report_refused(self, ref: ObjectRef, manifest: Manifest, spool: _RejectSpool) -> None:
        """Add the records the database refused (``isolation``; in this attempt or an earlier
        one) to the report, with the record as read: one more pass over the object, only
        when there are any, instead of holding every batch's records until it commits."""
        refused = manifest.refused_records()
        pending = next(refused, None)
        if pending is None:
            return
        for items in self._records(ref, gzip_checked=True):
            for number, value, text in items:
                if number < pending[0]:
                    continue
                record = NO_RECORD if type(value) is ParseFailure else value
                spool.add(number, pending[1], record=record, text=text)
                pending = next(refused, None)
                if pending is None:
                    return

    def _log_writer(self, ref: ObjectRef, writer: BatchWriter) -> None:
        if writer.deadlocks_retried:
            self.log.warning(
                "batches were run again after an InnoDB deadlock",
                uri=ref.uri,
                batches=writer.deadlocks_retried,
            )
        if writer.records_refused:
            self.log.warning(
                "the database refused records the loader's validation accepted; they are "
                "rejected alone and the rest of their batches committed",
                uri=ref.uri,
                records_refused=writer.records_refused,
                batches=writer.batches_isolated,
            )

    def _validate_records(
        self,
        ref: ObjectRef,
        spool: _RejectSpool,
        resume_after: int,
        batches: _Batches,
        gzip_checked: bool,
    ) -> tuple[int, int]:
        """Spool the records that fail and add the valid ones after ``resume_after`` to
        ``batches``. Returns (last record number seen, records that parsed as JSON)."""
        encode = self.table.encode_row
        add = batches.add
        number = 0
        parsed = 0
        for items in self._records(ref, gzip_checked, self.table.encode_line):
            for number, value, text in items:
                if type(value) is bytes:  # the row of a compact line (Table.encode_line)
                    parsed += 1
                    if number > resume_after:
                        add(number, value)
                    continue
                if type(value) is ParseFailure:
                    spool.add(number, value.reason, text=text)
                    continue
                parsed += 1
                try:
                    row = encode(value)
                except RecordError as error:
                    spool.add(number, str(error), record=value, text=text)
                    continue
                except Exception as error:  # no record may fail the object
                    spool.add(number, _unexpected(error), record=value, text=text)
                    continue
                if number <= resume_after:
                    continue  # committed by an earlier attempt
                add(number, row)
        return number, parsed

    # --------------------------------------------------------------- S3
    def _records(
        self,
        ref: ObjectRef,
        gzip_checked: bool,
        encode_line: Callable[[str], bytes | None] | None = None,
    ) -> Iterator[list[tuple[int, Any, Any]]]:
        """The object's records (``formats``); with ``encode_line``, the JSON Lines lines it
        takes come as their rows (``bytes``) instead of their values."""
        body = self._open(ref)
        if isinstance(body, _Decompressed) and not gzip_checked:
            body.close()
            raise _UncheckedGzip(ref.uri)
        try:
            if ref.format == "jsonl":
                yield from iter_json_lines(
                    body,
                    chunk_size=self.chunk_size,
                    max_record_bytes=self.max_record_bytes,
                    encode_line=encode_line,
                )
            else:
                yield from iter_json_array(
                    body, chunk_size=self.chunk_size, max_record_bytes=self.max_record_bytes
                )
        finally:
            body.close()

    def _verify_array(self, ref: ObjectRef) -> int:
        """The structure pass over a JSON array: raises ``MalformedObject``, keeps nothing."""
        count = 0
        body = self._open(ref)
        try:
            with _tuned_for_loading():
                for items in iter_json_array(
                    body, chunk_size=self.chunk_size, max_record_bytes=self.max_record_bytes
                ):
                    count += len(items)
        finally:
            body.close()
        return count

    def _verify_gzip(self, ref: ObjectRef) -> None:
        """The gzip pass over JSON Lines: decompress everything, keep nothing (raises
        ``MalformedObject`` for a corrupt stream or one beyond the size limit)."""
        body = self._open(ref)
        try:
            while body.read(self.chunk_size):
                pass
        finally:
            body.close()

    def _open(self, ref: ObjectRef) -> Any:
        """The object's bytes as parsed: decompressed when it is gzip (``compression``)."""
        params: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            params["VersionId"] = ref.version_id
        elif ref.etag:
            params["IfMatch"] = f'"{ref.etag}"'
        try:
            response = self.s3.get_object(**params)
        except ClientError as error:
            gone = _gone_reason(error, ref)
            if gone is None:
                raise
            raise ObjectGone(gone) from error
        encoding = str(response.get("ContentEncoding") or "").lower()
        body = response["Body"]
        try:
            stream, compressed = open_decompressed(
                body,
                declared=ref.compression == "gzip" or "gzip" in encoding,
                max_bytes=self.max_decompressed_bytes,
            )
        except BaseException:
            body.close()
            raise
        return _Decompressed(stream) if compressed else stream

    def _upload_rejected(self, ref: ObjectRef, spool: _RejectSpool) -> None:
        self.s3.upload_fileobj(
            spool.rewind(),
            ref.bucket,
            ref.rejected_key,
            ExtraArgs={
                "ContentType": "application/x-ndjson",
                "Metadata": _source_metadata(ref),
            },
        )

    def _quarantine(
        self, ref: ObjectRef, manifest: Manifest, problem: MalformedObject
    ) -> ObjectResult:
        source: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        extra: dict[str, Any] = {"MetadataDirective": "REPLACE", "Metadata": _source_metadata(ref)}
        if ref.version_id:
            source["VersionId"] = ref.version_id
        elif ref.etag:
            extra["CopySourceIfMatch"] = f'"{ref.etag}"'
        try:
            self.s3.copy(source, ref.bucket, ref.quarantine_key, ExtraArgs=extra)
        except ClientError as error:
            gone = _gone_reason(error, ref)
            if gone is None:
                raise
            raise ObjectGone(gone) from error
        reason = {
            "source": {
                "bucket": ref.bucket,
                "key": ref.key,
                "versionId": ref.version_id,
                "eTag": ref.etag,
            },
            "reason": problem.reason,
            "location": problem.location,
            "quarantinedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "loaded": 0,
        }
        self.s3.put_object(
            Bucket=ref.bucket,
            Key=ref.quarantine_reason_key,
            Body=json.dumps(reason, indent=2, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
        manifest.finish("quarantined", report_key=ref.quarantine_key, error=problem.reason)
        return ObjectResult(
            ref.bucket,
            ref.key,
            "quarantined",
            ref.version_id,
            problem.reason,
            report_key=ref.quarantine_key,
        )

    # ----------------------------------------------------------- metrics
    def _emit(self, result: ObjectResult) -> None:
        """The per-object log line and, with ``metrics``, its EMF metrics document."""
        fields = {k: v for k, v in asdict(result).items() if v is not None}
        log = self.log.warning if result.status in _WARNINGS else self.log.info
        log(_MESSAGES[result.status], **fields)
        if self.metrics is None:
            return
        publish_object_metrics(
            self.metrics,
            {
                METRIC_ROWS_INSERTED: result.rows_inserted,
                METRIC_ROWS_UPDATED: result.rows_updated,
                METRIC_RECORDS_REJECTED: result.records_rejected,
                METRIC_OBJECTS_SKIPPED: int(result.status in ("skipped", "superseded", "ignored")),
                METRIC_OBJECTS_QUARANTINED: int(result.status == "quarantined"),
                METRIC_DURATION: result.duration_ms,
            },
            status=result.status,
            bucket=result.bucket,
            key=result.key,
            version_id=result.version_id,
        )


_MESSAGES = {
    "loaded": "object loaded",
    "quarantined": "object quarantined: it cannot be parsed, nothing was loaded",
    "skipped": "object skipped",
    "superseded": "object skipped: a newer version of its key is loaded",
    "partial": "object partly loaded: its version disappeared from S3",
    "ignored": "event record ignored",
}
_WARNINGS = ("quarantined", "partial")  # partial also logs an ERROR


def _version_token(other: OtherVersion) -> str:
    return f"version:{other.version_id}" if other.version_id else f"etag:{other.etag}"


def _gone_reason(error: ClientError, ref: ObjectRef) -> str | None:
    """Why the event's object version can no longer be read, or ``None`` for real errors."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("NoSuchKey", "NoSuchVersion") or status == 404:
        return f"{ref.uri} ({ref.version_token}) no longer exists"
    if code == "PreconditionFailed" or status == 412:
        return (
            f"{ref.uri} was overwritten after this event (its ETag is no longer {ref.etag}); "
            "the newer upload has its own event"
        )
    return None


#: S3 allows 2 KB of user-defined metadata (names and values, as sent).
_METADATA_BUDGET = 2048


def _source_metadata(ref: ObjectRef) -> dict[str, str]:
    """The source version of a report or quarantine copy, and its key: percent-encoded (S3
    metadata is sent as HTTP headers) when it fits S3's 2 KB of user metadata; its SHA-256
    always, which also names the shortened keys (``events.derived_key``)."""
    metadata = {"source-etag": ref.etag}
    if ref.version_id:
        metadata["source-version-id"] = ref.version_id
    metadata["source-key-sha256"] = hashlib.sha256(ref.key.encode("utf-8")).hexdigest()
    quoted = urllib.parse.quote(ref.key, safe="/")
    used = sum(len(name) + len(value) for name, value in metadata.items())
    if used + len("source-key") + len(quoted) <= _METADATA_BUDGET:
        metadata["source-key"] = quoted
    return metadata


class _UncheckedGzip(Exception):
    """The object turned out to be gzip (stored Content-Encoding or magic number) before its
    stream was checked whole: the loader checks it, then loads it."""


class _Decompressed:
    """A decompressed stream (``compression``), marked as such for ``_records``."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stream.close()


def _checks_gzip(ref: ObjectRef) -> bool:
    """Whether ``_check_whole`` has checked the object's gzip stream, if it is one: a JSON
    array's structure pass reads it all; a ``.gz`` key's gzip pass too."""
    return ref.format == "json" or ref.compression == "gzip"


def _unexpected(error: BaseException) -> str:
    """The reason of a record whose validation raised something unforeseen."""
    return f"the record could not be validated ({type(error).__name__}: {error})"[:1000]

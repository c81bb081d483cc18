"""Objects in the drill: each region's data bucket in emulated S3, replication between them,
and each region's loader function (the real loader runtime) fed by the buckets' events.

What is real: the buckets and objects (the moto server of :mod:`tapstack_lab.emulator`), the
loader (:class:`tapstack.loader.runtime.loader.Loader`, its manifest, its read-only checks)
and the events it gets (shaped as S3 sends them, :func:`tapstack_lab.datapath.s3_event`;
re-drive events from :func:`tapstack.loader.redrive.object_created_events`).

What is modelled, in this module:

* S3 replication (moto does not replicate): :class:`Replication` copies each new object of a
  bucket whose rule is on to the other region's bucket within ``period`` seconds (0.25 s
  here; S3 Replication Time Control promises 99.99% within 15 minutes, typically seconds).
  A replica is never replicated again, as in S3. An object written while its bucket had no
  rule has status ``NONE`` until Batch Replication (:meth:`Replication.replicate_existing`)
  copies it. Replicas trigger the destination bucket's notification, as in S3.
* Lambda's asynchronous invocation (:class:`LoaderFunction`): events wait in a queue; an
  invocation that raises is retried twice (after ``retry_delays``; Lambda waits about 1 and
  2 minutes, the lab 1 and 2 seconds), then goes to the dead-letter queue. Reserved
  concurrency 0 (``pause``) holds the events until ``resume``. A deploy (``configure``)
  gives the function a new role or database endpoint, as a new version would.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql

from tapstack.loader.redrive import object_created_events
from tapstack.loader.runtime.connections import connection_factory
from tapstack.loader.runtime.loader import Loader
from tapstack.loader.runtime.observability import loader_logger
from tapstack_lab.datapath import stored_object_event

#: MariaDB's error for a write refused by read_only (ER_OPTION_PREVENTS_STATEMENT).
READ_ONLY_ERROR = 1290
#: The longest one lab invocation may wait on its database (its read timeout).
INVOCATION_SECONDS = 30.0


@dataclass(frozen=True)
class Invocation:
    """One invocation of a region's loader and what came of it."""

    started: float
    ended: float
    region: str
    role: str
    attempt: int
    #: Per object: (key, status, rows inserted + rows updated) as the loader returned them.
    objects: tuple[tuple[str, str, int], ...] = ()
    error: str | None = None
    #: The MySQL error number behind ``error``, when there was one.
    errno: int | None = None
    redrive: bool = False


@dataclass
class _Pending:
    event: dict[str, Any]
    attempt: int = 0
    not_before: float = 0.0
    redrive: bool = False
    done: threading.Event | None = None


class LoaderFunction:
    """A region's loader function: the real loader, invoked asynchronously from a queue."""

    def __init__(
        self,
        region: str,
        s3: Any,
        *,
        database: str,
        user: str,
        password: str,
        record: Callable[[Invocation], None],
        retry_delays: tuple[float, ...] = (1.0, 2.0),
    ) -> None:
        self.region = region
        self.s3 = s3
        self.database = database
        self.user = user
        self.password = password
        self.record = record
        self.retry_delays = retry_delays
        self.role = "standby"
        self.dead_letters: list[dict[str, Any]] = []
        self._endpoint: tuple[str, int] | None = None
        self._loader: Loader | None = None
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._paused = False
        self._busy = False
        self._stopped = False
        self._log = io.StringIO()
        self._thread = threading.Thread(target=self._run, name=f"loader {region}", daemon=True)
        self._thread.start()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """The database ``(host, port)`` the function was deployed with."""
        return self._endpoint

    def configure(self, *, role: str, host: str, port: int) -> None:
        """A deploy: the next invocation runs with this role against this endpoint."""
        with self._cond:
            self.role = role
            self._endpoint = (host, port)
            old, self._loader = self._loader, None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()

    def invoke_async(self, event: dict[str, Any], *, redrive: bool = False) -> threading.Event:
        """Queue an event; the returned flag is set once it ended (loaded, skipped or
        dead-lettered)."""
        done = threading.Event()
        with self._cond:
            self._queue.append(_Pending(event, redrive=redrive, done=done))
            self._cond.notify_all()
        return done

    def pause(self, timeout: float = 10.0) -> float:
        """Reserved concurrency 0: no new invocation starts. Wait up to ``timeout`` for the
        one under way; return how long it may still take: 0 once it ended, else the
        invocation's own limit (its database read timeout, :data:`INVOCATION_SECONDS`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._paused = True
            while self._busy and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return INVOCATION_SECONDS if self._busy else 0.0

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def backlog(self) -> int:
        with self._cond:
            return len(self._queue)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        if self._loader is not None:
            with contextlib.suppress(Exception):
                self._loader.close()

    def _next(self) -> _Pending | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                ready = [p for p in self._queue if p.not_before <= now]
                if ready and not self._paused and self._endpoint is not None:
                    self._queue.remove(ready[0])
                    self._busy = True
                    return ready[0]
                self._cond.wait(0.05)
            return None

    def _run(self) -> None:
        while (pending := self._next()) is not None:
            try:
                self._invoke(pending)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _current_loader(self) -> Loader:
        if self._loader is None:
            assert self._endpoint is not None
            host, port = self._endpoint
            password = self.password
            self._loader = Loader(
                connect=connection_factory(
                    host=host,
                    port=port,
                    user=self.user,
                    password=lambda: password,
                    database=self.database,
                    ssl_context=None,
                    connect_timeout=2.0,
                    read_timeout=INVOCATION_SECONDS,
                ),
                s3=self.s3,
                role=self.role,
                logger=loader_logger(stream=self._log),
            )
        return self._loader

    def _invoke(self, pending: _Pending) -> None:
        started, role = time.monotonic(), self.role
        try:
            result = self._current_loader().handle_event(pending.event, lock_timeout=10.0)
        except Exception as error:
            errno = _errno(error)
            self.record(
                Invocation(
                    started,
                    time.monotonic(),
                    self.region,
                    role,
                    pending.attempt,
                    error=f"{type(error).__name__}: {error}",
                    errno=errno,
                    redrive=pending.redrive,
                )
            )
            self._retry(pending)
            return
        objects = tuple(
            (
                str(o["key"]),
                str(o["status"]),
                int(o.get("rows_inserted") or 0) + int(o.get("rows_updated") or 0),
            )
            for o in result["objects"]
        )
        self.record(
            Invocation(
                started,
                time.monotonic(),
                self.region,
                role,
                pending.attempt,
                objects=objects,
                redrive=pending.redrive,
            )
        )
        if pending.done is not None:
            pending.done.set()

    def _retry(self, pending: _Pending) -> None:
        if pending.attempt < len(self.retry_delays):
            delay = self.retry_delays[pending.attempt]
            pending.attempt += 1
            pending.not_before = time.monotonic() + delay
            with self._cond:
                self._queue.append(pending)
            return
        self.dead_letters.append(pending.event)
        if pending.done is not None:
            pending.done.set()


def _errno(error: BaseException) -> int | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, pymysql.err.MySQLError) and seen.args and isinstance(seen.args[0], int):
            return int(seen.args[0])
        seen = seen.__cause__ or seen.__context__
    return None


@dataclass
class _Object:
    region: str
    key: str
    #: ``COMPLETED``, ``NONE`` (no rule when it was written), ``REPLICA`` (a copy).
    status: str


@dataclass(frozen=True)
class BatchJob:
    job_id: str
    source: str
    copied: int
    failed: int = 0


@dataclass
class Replication:
    """S3 cross-region replication between the regions' buckets, modelled (module docstring)."""

    buckets: dict[str, str]
    s3: Callable[[str], Any]
    notify: Callable[[str, str], None]
    period: float = 0.25
    #: Regions whose bucket has a replication rule to the other region's.
    rules: set[str] = field(default_factory=set)
    jobs: dict[str, BatchJob] = field(default_factory=dict)
    _pending: list[_Object] = field(default_factory=list)
    _objects: list[_Object] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def other(self, region: str) -> str:
        return next(r for r in self.buckets if r != region)

    def written(self, region: str, key: str) -> None:
        """A client wrote ``key`` into ``region``'s bucket."""
        with self._lock:
            item = _Object(region, key, "PENDING" if region in self.rules else "NONE")
            self._objects.append(item)
            if item.status == "PENDING":
                self._pending.append(item)

    def start(self) -> None:
        threading.Thread(target=self._run, name="s3-replication", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def replicate_existing(self, source: str) -> BatchJob:
        """S3 Batch Replication: copy every object of ``source``'s bucket whose status is
        ``NONE`` (written while it had no rule)."""
        with self._lock:
            todo = [o for o in self._objects if o.region == source and o.status == "NONE"]
        copied = sum(self._copy(o) for o in todo)
        job = BatchJob(f"lab-batch-{next(self._ids)}", source, copied, len(todo) - copied)
        self.jobs[job.job_id] = job
        return job

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            with self._lock:
                due, self._pending = self._pending, []
            failed = [o for o in due if not self._copy(o)]
            with self._lock:
                self._pending[:0] = failed

    def _copy(self, item: _Object) -> bool:
        destination = self.other(item.region)
        try:
            body = self.s3(item.region).get_object(Bucket=self.buckets[item.region], Key=item.key)
            self.s3(destination).put_object(
                Bucket=self.buckets[destination], Key=item.key, Body=body["Body"].read()
            )
        except Exception:
            return False
        with self._lock:
            item.status = "COMPLETED"
            self._objects.append(_Object(destination, item.key, "REPLICA"))
        self.notify(destination, item.key)
        return True


class Buckets:
    """The regions' data buckets, their notifications and replication."""

    def __init__(
        self,
        s3: Callable[[str], Any],
        buckets: dict[str, str],
        loaders: dict[str, LoaderFunction],
        *,
        replication_period: float = 0.25,
    ) -> None:
        self.s3 = s3
        self.names = buckets
        self.loaders = loaders
        self.replication = Replication(buckets, s3, self._notify, period=replication_period)

    def create(self, replicating: str) -> None:
        for region, bucket in self.names.items():
            client = self.s3(region)
            options = {}
            if region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": region}
            client.create_bucket(Bucket=bucket, **options)
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        self.replication.rules.add(replicating)
        self.replication.start()

    def put(self, region: str, key: str, body: bytes) -> None:
        """A client's upload: the object, then its bucket's notification and replication."""
        self.s3(region).put_object(Bucket=self.names[region], Key=key, Body=body)
        self.replication.written(region, key)
        self._notify(region, key)

    def redrive(self, region: str, timeout: float = 120.0) -> int:
        """``tapstack redrive``: an event for the latest version of every object under
        ``incoming/``, sent to the region's loader; wait until each ended. Return how many
        objects were sent."""
        sent, waits = 0, []
        for event in object_created_events(self.s3(region), self.names[region], region=region):
            sent += len(event["Records"])
            waits.append(self.loaders[region].invoke_async(event, redrive=True))
        deadline = time.monotonic() + timeout
        for done in waits:
            done.wait(max(0.0, deadline - time.monotonic()))
        return sent

    def stop(self) -> None:
        self.replication.stop()

    def _notify(self, region: str, key: str) -> None:
        client, bucket = self.s3(region), self.names[region]
        event = stored_object_event(client, bucket=bucket, key=key, region=region)
        self.loaders[region].invoke_async(event)

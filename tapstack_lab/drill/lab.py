"""The drill's two regions on one machine, composed from real parts and one model.

:class:`Lab` starts, per region: a MariaDB server (``ReplicatedPair``: real GTID replication
from the writer to the replica), the web server runtime behind a stable
address (:mod:`tapstack_lab.drill.web`), a data bucket in emulated S3 and the loader function
(:mod:`tapstack_lab.drill.objects`); and, over both, **a model of Route 53**
(:class:`~tapstack_lab.route53_model.Prober`) probing each region's ``/health`` with the
configuration's interval and failure threshold, answering with the alias records' TTL.

The lab's "CloudFormation" is :meth:`Lab.deploy_region`: it reads the configuration file the
operator commands edit and converges the region on it (promote the replica of the configured
writer; rebuild a standby whose ``database_generation`` moved; the loader's and the web
tier's role and database endpoint), as the regional stack's deploy does on AWS.

``scale`` compresses time for the short drill in ``make test``: the health check's interval,
the record's TTL and the lag datapoints' period are multiplied by it. ``make drill`` runs at
``scale=1``: the configured seconds.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapstack.config import TapStackConfig, load_config
from tapstack.loader.runtime.bootstrap import PasswordAuthentication, bootstrap_database
from tapstack.naming import Names, Slot, writer_region
from tapstack.operations.provider import LagSample, Unreachable
from tapstack.web.runtime import server as web_server
from tapstack_lab.drill.objects import Buckets, Invocation, LoaderFunction
from tapstack_lab.drill.web import DatabaseAccess, WebTier, web_python
from tapstack_lab.emulator import Emulator
from tapstack_lab.mariadb import free_port
from tapstack_lab.replication import ReplicatedPair
from tapstack_lab.route53_model import (
    ALIAS_TTL_SECONDS,
    HealthCheckSettings,
    Prober,
    RegionEndpoint,
    Role,
)

ROOT = Path(__file__).resolve().parents[2]
#: One ReplicaLag datapoint per this many seconds (CloudWatch: 60), times ``scale``.
LAG_PERIOD_SECONDS = 1.0
#: The sampler's period (health, answer, lag, writers) for the timeline and the picture.
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class Sample:
    """The lab's state at one moment (``time.monotonic()``)."""

    at: float
    healthy: dict[str, bool]
    answer: str
    #: Per replica: (Seconds_Behind_Master or None, transactions behind or None).
    lag: dict[str, tuple[int | None, int | None]]
    #: Regions whose database is up with read_only off.
    writable: tuple[str, ...]
    #: Regions whose loader may run (not paused) with role writer.
    loading: tuple[str, ...]
    configured_writer: str
    #: Regions whose health check is drained (it asks for the drain path).
    drained: tuple[str, ...] = ()


@dataclass
class Record:
    """Everything the drill measures from, in the order it happened."""

    samples: list[Sample] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    #: (time, text): kills, restarts, deploys, command boundaries.
    marks: list[tuple[float, str]] = field(default_factory=list)
    #: Event ids present on a database when it was promoted, by region, with the time.
    promoted: list[tuple[float, str, set[str]]] = field(default_factory=list)
    #: The other database's event ids at that moment (when it answered).
    writer_at_promotion: list[tuple[float, str, set[str]]] = field(default_factory=list)
    #: (time, region): the configuration's writer_region from then on.
    configured_writers: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configured_writer_at(self, at: float) -> str | None:
        """The writer region the configuration named at ``at``."""
        with self.lock:
            return next((r for t, r in reversed(self.configured_writers) if t <= at), None)

    def configuration(self, writer: str) -> None:
        with self.lock:
            if not self.configured_writers or self.configured_writers[-1][1] != writer:
                self.configured_writers.append((time.monotonic(), writer))

    def mark(self, text: str) -> None:
        with self.lock:
            self.marks.append((time.monotonic(), text))

    def invocation(self, item: Invocation) -> None:
        with self.lock:
            self.invocations.append(item)


class Lab:
    """Two regions with real parts and modelled Route 53; see the module docstring."""

    def __init__(self, workdir: Path, *, config_path: Path, scale: float = 1.0) -> None:
        if not scale > 0:
            raise ValueError(f"scale: {scale!r} must be > 0")
        self.workdir = workdir
        self.scale = scale
        self.config_path = workdir / "config.yaml"
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config_path, self.config_path)
        self.config: TapStackConfig = load_config(self.config_path)
        self.regions = (self.config.primary.region, self.config.secondary.region)
        self.record = Record()
        self.record.configuration(self.writer())
        self.lost: set[str] = set()
        self.lag_samples: dict[str, list[LagSample]] = {r: [] for r in self.regions}
        self.password = secrets.token_urlsafe(18)
        self.reader_password = secrets.token_urlsafe(18)
        self._stop = threading.Event()
        self._stack = contextlib.ExitStack()
        self.emulator: Emulator
        self.pair: ReplicatedPair
        self.buckets: Buckets
        self.loaders: dict[str, LoaderFunction] = {}
        self.web: dict[str, WebTier] = {}
        self.prober: Prober

    # ----------------------------------------------------------------- figures
    @property
    def settings(self) -> HealthCheckSettings:
        """The health check as configured, its interval times ``scale``."""
        dns = self.config.dns
        return HealthCheckSettings(
            interval=dns.health_check_interval_seconds * self.scale,
            failure_threshold=dns.health_check_failure_threshold,
        )

    @property
    def ttl(self) -> float:
        return ALIAS_TTL_SECONDS * self.scale

    @property
    def database(self) -> str:
        """The database the loader writes and the web tier reads (``database.database_name``)."""
        return self.config.database.database_name

    def writer(self) -> str:
        return writer_region(self.config)

    def other(self, region: str) -> str:
        return next(r for r in self.regions if r != region)

    # --------------------------------------------------------------- lifecycle
    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.emulator = self._stack.enter_context(Emulator())
        clients = self.emulator.clients()
        writer, standby = self.writer(), self.other(self.writer())
        self.pair = self._stack.enter_context(
            ReplicatedPair(snapshot_dir=self.workdir / "snapshots", writer=writer, replica=standby)
        )
        self._bootstrap(writer)
        password_file = self.workdir / "web-db-password"
        password_file.write_text(self.reader_password)
        password_file.chmod(0o600)
        access = DatabaseAccess(self.database, self.config.web.database_user, password_file)
        for region in self.regions:
            self.loaders[region] = LoaderFunction(
                region,
                clients("s3", region),
                database=self.database,
                user=self.config.loader.database_user,
                password=self.password,
                record=self.record.invocation,
            )
            self.web[region] = WebTier(
                region,
                port=free_port(),
                workdir=self.workdir / "web",
                python=web_python(ROOT),
                access=access,
            )
        buckets = {r: Names(self.config, r).data_bucket for r in self.regions}
        self.buckets = Buckets(lambda region: clients("s3", region), buckets, self.loaders)
        self.buckets.create(replicating=self.config.primary.region)
        self.pair.wait_caught_up()
        for region in (writer, standby):
            self.deploy_region(region)
        self.prober = Prober(
            [
                RegionEndpoint(
                    region,
                    Role.PRIMARY if self._slot(region) is Slot.PRIMARY else Role.SECONDARY,
                    self.web[region].url + web_server.HEALTH_PATH,
                )
                for region in self.regions
            ],
            self.settings,
            ttl=self.ttl,
        )
        self.prober.start()
        threading.Thread(target=self._sample, name="drill sampler", daemon=True).start()
        threading.Thread(target=self._lag_datapoints, name="drill lag", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(AttributeError):
            self.prober.stop()
        for web in self.web.values():
            web.stop()
        for loader in self.loaders.values():
            loader.stop()
        with contextlib.suppress(AttributeError):
            self.buckets.stop()
        self._stack.close()

    def _bootstrap(self, writer: str) -> None:
        """``bootstrap_database`` in password mode, as ``bootstrap-database`` runs it: the
        schema, the loader's account and the web tier's reader (SELECT on events only); they
        replicate to the replica."""
        with contextlib.closing(self.pair.connect(writer, admin=True)) as conn:
            bootstrap_database(
                conn,
                database=self.database,
                loader_user=self.config.loader.database_user,
                auth=PasswordAuthentication(password=self.password),
                reader_user=self.config.web.database_user,
                reader_auth=PasswordAuthentication(password=self.reader_password),
            )

    # ------------------------------------------------------------ region loss
    def lose(self, region: str) -> float:
        """Unplanned loss of the region's database and web tier (SIGKILL); return when."""
        at = time.monotonic()
        self.lost.add(region)
        self.web[region].kill()
        self.pair.kill(region)
        with self.record.lock:
            self.record.marks.append((at, f"{region} lost (MariaDB and web server SIGKILLed)"))
        return at

    def recover(self, region: str) -> float:
        """The lost region comes back as it was: its database restarts on its stale data
        (writable, as a returning RDS writer is), its web tier with the role it had."""
        self.pair.restart(region)
        self.lost.discard(region)
        host, port = self.pair.endpoint(region)
        self.web[region].deploy(role=self.web[region].role or "writer", db_host=host, db_port=port)
        at = time.monotonic()
        self.record.mark(f"{region} back (stale database restarted)")
        return at

    # ---------------------------------------------------------------- deploys
    def deploy_region(self, region: str) -> None:
        """Converge ``region`` on the configuration file: see the module docstring."""
        self.config = load_config(self.config_path)
        if region in self.lost:
            raise Unreachable(f"{region} does not answer: its region is lost")
        writer = self.writer()
        if region == writer:
            if self.pair.role(region) == "replica":
                self._promote(region)
            role = "writer"
        else:
            role = "standby"
            wanted = self._section(region).database_generation
            if wanted != self.pair.generation(region):
                # The region's users move to the new replica before the old server goes.
                self.pair.rebuild_as_replica(
                    region,
                    source=writer,
                    generation=wanted,
                    switch=lambda: self._roll(region, role),
                )
                self.record.mark(f"{region} rebuilt as a replica of {writer}")
        if self._slot(region) is Slot.PRIMARY:
            self.buckets.replication.rules.add(region)  # its stack owns the rule
        self._roll(region, role)
        self.record.mark(f"{region} deployed ({role})")

    def _roll(self, region: str, role: str) -> None:
        """The region's loader and web tier take ``role`` and the current database endpoint
        (a no-op when both are what they run with)."""
        host, port = self.pair.endpoint(region)
        loader, web = self.loaders[region], self.web[region]
        if (loader.role, loader.endpoint) != (role, (host, port)):
            loader.configure(role=role, host=host, port=port)
        if (web.role, web.database) != (role, (host, port)) or not web.running:
            web.deploy(role=role, db_host=host, db_port=port)

    def _promote(self, region: str) -> None:
        other = self.other(region)
        before: set[str] | None = None
        if other not in self.lost and self.pair.running(other):
            with contextlib.suppress(Exception):
                before = self.event_ids(other)
        now = time.monotonic()
        self.pair.promote(region)
        promoted = self.event_ids(region)
        with self.record.lock:
            self.record.promoted.append((now, region, promoted))
            if before is not None:
                self.record.writer_at_promotion.append((now, other, before))
        self.record.mark(f"{region} promoted")

    def _section(self, region: str) -> Any:
        slot = self._slot(region)
        return self.config.primary if slot is Slot.PRIMARY else self.config.secondary

    def _slot(self, region: str) -> Slot:
        return Names(self.config, region).slot

    # ------------------------------------------------------------------ reads
    def event_ids(self, region: str) -> set[str]:
        with self.pair.server(region).root_cursor(self.database) as cursor:
            cursor.execute("SELECT id FROM events")
            return {str(row[0]) for row in cursor.fetchall()}

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with contextlib.suppress(Exception):
                sample = self._sample_once()
                with self.record.lock:
                    self.record.samples.append(sample)

    def _sample_once(self) -> Sample:
        lag: dict[str, tuple[int | None, int | None]] = {}
        with contextlib.suppress(Exception):
            for region, replica in self.pair.lag().items():
                lag[region] = (replica.seconds, replica.transactions_behind)
        writable: tuple[str, ...] = ()
        with contextlib.suppress(Exception):
            writable = tuple(self.pair.writers())
        loading = tuple(r for r, f in self.loaders.items() if not f.paused and f.role == "writer")
        return Sample(
            at=time.monotonic(),
            healthy={r: self.prober.healthy(r) for r in self.regions},
            answer=self.prober.answer().region,
            lag=lag,
            writable=writable,
            loading=loading,
            configured_writer=self.writer(),
            drained=tuple(
                r for r in self.regions if self.prober.resource_path(r) != web_server.HEALTH_PATH
            ),
        )

    def _lag_datapoints(self) -> None:
        """ReplicaLag, one datapoint per period per replica: ``Seconds_Behind_Master``, except
        that a replica that has not applied every transaction its source committed reports
        at least 1 (the lab rounds a lag under a second up; RDS reports whole seconds too)."""
        while not self._stop.wait(LAG_PERIOD_SECONDS * self.scale):
            with contextlib.suppress(Exception):
                at = datetime.now(UTC)
                for region, replica in self.pair.lag().items():
                    if replica.seconds is None:
                        seconds = -1.0  # replication not running
                    elif replica.caught_up:
                        seconds = 0.0
                    else:
                        seconds = float(max(replica.seconds, 1))
                    self.lag_samples[region].append(LagSample(at, seconds))

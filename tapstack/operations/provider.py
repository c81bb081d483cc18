"""The steps a failover is made of, as a small interface the orchestration calls.

:class:`Provider` bundles five parts: the database role, traffic, deploy, objects (re-drive,
and replication of the objects live replication did not copy) and monitoring. The AWS
provider (:mod:`tapstack.operations.aws_provider`) is the product; the failover lab plugs a
local one into the same orchestration. Every part names regions by
their code and reports failures as :class:`ProviderError` (:class:`Unreachable` when the
region or the API cannot be reached), never as an SDK's own exception, so the
orchestration stays free of any SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tapstack.config import TapStackConfig
from tapstack.operations.config_file import ConfigChange


class ProviderError(RuntimeError):
    """A step failed; ``str(error)`` is one line for people."""


class Unreachable(ProviderError):
    """The region (or the API behind a step) cannot be reached: the region may be lost."""


class NoCredentials(ProviderError):
    """No usable credentials: nothing anywhere can be read."""


@dataclass(frozen=True)
class DatabaseState:
    """One region's database as the provider sees it now."""

    region: str
    identifier: str
    exists: bool = True
    #: The engine's lifecycle status (``available``, ``modifying``, ``rebooting``...).
    status: str = "available"
    #: The writer this database replicates from; ``None`` for a standalone (writer) database.
    source: str | None = None
    #: Replication health of a replica (``replicating``, ``error``...); ``None`` for a writer.
    replication: str | None = None
    deletion_protection: bool = False

    @property
    def is_writer(self) -> bool:
        """Standalone: it accepts writes once it is available."""
        return self.exists and self.source is None

    @property
    def writable(self) -> bool:
        return self.is_writer and self.status == "available"

    @property
    def is_replica(self) -> bool:
        return self.exists and self.source is not None


@dataclass(frozen=True)
class LagSample:
    """A replica-lag datapoint: the period it starts at and the lag in seconds."""

    at: datetime
    seconds: float


@dataclass(frozen=True)
class HealthState:
    """One region's failover health check."""

    region: str
    health_check_id: str
    #: ``PRIMARY`` or ``SECONDARY``: the region's failover record.
    failover: str
    #: Route 53's effective view of the check now: what the checkers report, ``False`` while
    #: drained (the drain path fails on every endpoint), the reverse when ``inverted``;
    #: ``None`` when nobody answered.
    healthy: bool | None
    #: Drained: the check asks for a path the server never serves, so the region fails it
    #: whether its endpoint answers or not.
    drained: bool = False
    #: When the drain began (ISO 8601), as recorded with the drain.
    drained_since: str | None = None
    #: The check is ``Inverted`` (a drain by an older version): Route 53 treats a failing
    #: endpoint as healthy. ``restore`` clears it.
    inverted: bool = False

    @property
    def serving(self) -> bool:
        """Whether Route 53 may answer with this region."""
        return bool(self.healthy) and not self.drained


@dataclass(frozen=True)
class ReplicationJob:
    """An S3 Batch Replication job as the provider sees it now."""

    job_id: str
    #: The job's status (``New``, ``Preparing``, ``Ready``, ``Active``, ``Complete``,
    #: ``Failed``, ``Cancelled``...).
    status: str
    #: Objects the job found to replicate; ``None`` while its manifest is being generated.
    total: int | None = None
    succeeded: int = 0
    failed: int = 0
    #: Why the job failed, when it did.
    reason: str | None = None
    #: Where its completion report lands (failed tasks), e.g. ``s3://bucket/prefix/``.
    report: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("Complete", "Failed", "Cancelled")

    @property
    def progress(self) -> str:
        if self.total is None:
            return f"{self.status}, listing the objects to replicate"
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.status}, {self.succeeded}/{self.total} object(s) replicated{failed}"


class DatabaseRole(Protocol):
    """Which database writes, and the writes themselves."""

    def describe(self, region: str) -> DatabaseState:
        """The region's database as configured (its current generation's identifier;
        ``exists=False`` when there is none)."""

    def instances(self, region: str) -> list[DatabaseState]:
        """Every TapStack database in the region, whatever its generation: a stale writer
        keeps its old identifier until its region is rebuilt."""

    def replica_lag(self, region: str, since: datetime) -> list[LagSample]:
        """The region's replica-lag datapoints starting at ``since`` or later, oldest first."""

    def pause_writes(self, region: str) -> float:
        """Stop the region's writes (new events wait) and return how many seconds writes
        already under way may still take."""

    def resume_writes(self, region: str) -> None:
        """Let the region's writes run again (waiting events are delivered)."""

    def snapshot(self, region: str, identifier: str) -> str:
        """Start a snapshot of the database ``identifier``; return the snapshot's identifier."""

    def snapshot_ready(self, region: str, snapshot: str) -> bool:
        """Whether the snapshot is complete."""

    def release_deletion_protection(self, region: str, identifier: str) -> None:
        """Let the database be deleted (by its stack, when the stack replaces it)."""


class Traffic(Protocol):
    """Where clients go: Route 53's failover records and their health checks."""

    def health(self, region: str) -> HealthState:
        """The region's failover health check."""

    def drain(self, region: str) -> None:
        """Route 53 treats the region as unhealthy (within the check's failure threshold),
        whatever its instances say and whether or not its endpoint answers; the drain is
        recorded with the check."""

    def restore(self, region: str) -> None:
        """Undo :meth:`drain` (idempotent: also after a partial drain)."""

    def route53_answer(self) -> str | None:
        """The region Route 53's own answer for the public name points at, if known."""

    def public_answer(self) -> str | None:
        """The region the public name resolves to from here (through resolvers' caches)."""


class Deploy(Protocol):
    """Configuration changes, deployed one region at a time."""

    def write_config(
        self, *, writer_region: str | None = None, rebuild: str | None = None
    ) -> ConfigChange:
        """Make ``writer_region`` the writer and/or have ``rebuild``'s database rebuilt as a
        replica on its next deploy, in one reviewable edit of the configuration; return
        the change, validated (see :func:`tapstack.operations.config_file.edit_config`)."""

    def restore_config(self, change: ConfigChange) -> TapStackConfig:
        """Undo :meth:`write_config`: put the file's previous text back; return the
        configuration it describes."""

    def deploy_region(self, region: str) -> None:
        """Synthesize the current configuration and deploy the region's regional stack
        alone (nothing in the other region is read or changed)."""

    def deploy_storage(self, region: str) -> None:
        """Synthesize the current configuration and deploy, alone, the stack that owns the
        region's data bucket and its replication rule (the secondary region's
        ``<prefix>-secondary-storage``; the primary region's regional stack)."""


class Redrive(Protocol):
    """Objects: those stored but never loaded, and those live replication did not copy."""

    def redrive(self, region: str) -> int:
        """Send the region's loader every object under ``incoming/``; return how many (the
        loader skips the ones it loaded before)."""

    def replicate_existing(self, source_region: str) -> str:
        """Start an S3 Batch Replication job on ``source_region``'s data bucket for every
        object its replication rule covers that was never replicated or failed to (written
        before the rule existed, or while the other region was down); return the job's ID."""

    def replication_job(self, source_region: str, job_id: str) -> ReplicationJob:
        """The job's status and progress."""

    def replicates(self, region: str) -> bool:
        """Whether the region's data bucket has a replication configuration."""


class Monitoring(Protocol):
    """What ``status`` reports besides roles and traffic."""

    def loader_backlog(self, region: str) -> int:
        """Events in the loader's dead-letter queue."""

    def alarms(self, region: str) -> list[str]:
        """Names of the region's alarms in ALARM."""


@dataclass(frozen=True)
class Provider:
    """The five parts the orchestration needs."""

    database: DatabaseRole
    traffic: Traffic
    deploy: Deploy
    objects: Redrive
    monitoring: Monitoring

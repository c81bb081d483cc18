"""A recording fake provider for the orchestration's tests: regions in memory, a fake clock,
the configuration file edited for real (a copy of config/default.yaml)."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from tapstack.config import TapStackConfig, load_config
from tapstack.naming import Names, writer_region
from tapstack.operations import config_file
from tapstack.operations.orchestration import Session
from tapstack.operations.provider import (
    DatabaseState,
    HealthState,
    LagSample,
    Provider,
    ProviderError,
    ReplicationJob,
    Unreachable,
)
from tests.support import DEFAULT_CONFIG

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """Monotonic seconds and wall-clock time that only ``sleep`` advances."""

    seconds: float = 0.0

    def __call__(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)


@dataclass
class World:
    """What the fake AWS holds, and every changing call made to it, in order."""

    path: Path
    clock: Clock
    config: TapStackConfig
    databases: dict[str, list[DatabaseState]] = field(default_factory=dict)
    drained: set[str] = field(default_factory=set)
    #: Regions whose endpoints fail their health check.
    unhealthy: set[str] = field(default_factory=set)
    #: Regions whose database API does not answer (a lost region).
    unreachable: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    #: Steps that raise: call name -> error.
    failing: dict[str, ProviderError] = field(default_factory=dict)
    #: Seconds a promotion takes after the deploy (the database is "modifying" meanwhile).
    promotion_seconds: float = 30.0
    promoted_at: dict[str, float] = field(default_factory=dict)
    public_resolves: bool = True
    #: Regions whose answers never move (a drill that times out).
    stuck_answer: str | None = None
    loader_timeout: float = 120.0
    #: S3 Batch Replication: seconds a job takes, how it ends, and how many objects fail.
    job_seconds: float = 90.0
    job_status: str = "Complete"
    job_failed: int = 0
    jobs_started: dict[str, float] = field(default_factory=dict)
    #: Regions whose data bucket has no replication configuration.
    not_replicating: set[str] = field(default_factory=set)

    def record(self, *call: str) -> None:
        if call[0] in self.failing:
            raise self.failing[call[0]]
        self.calls.append(call)

    def changes(self) -> list[tuple[str, ...]]:
        return list(self.calls)

    def configured(self, region: str) -> str:
        return Names(self.config, region).db_instance


class FakeDatabase:
    def __init__(self, world: World) -> None:
        self.world = world

    def describe(self, region: str) -> DatabaseState:
        if "describe" in self.world.failing and region in str(self.world.failing["describe"]):
            raise self.world.failing["describe"]
        if region in self.world.unreachable:
            raise Unreachable(f"cannot reach AWS: rds {region}")
        identifier = self.world.configured(region)
        for state in self.world.databases.get(region, []):
            if state.identifier == identifier:
                return self._promoting(state)
        return DatabaseState(region, identifier, exists=False, status="missing")

    def _promoting(self, state: DatabaseState) -> DatabaseState:
        started = self.world.promoted_at.get(state.region)
        if started is not None and self.world.clock() - started < self.world.promotion_seconds:
            return DatabaseState(state.region, state.identifier, status="modifying")
        return state

    def instances(self, region: str) -> list[DatabaseState]:
        return list(self.world.databases.get(region, []))

    def replica_lag(self, region: str, since: datetime) -> list[LagSample]:
        now = self.world.clock.now()
        samples, at = [], since
        while at + timedelta(seconds=60) <= now:
            samples.append(LagSample(at, 0.0))
            at += timedelta(seconds=60)
        return samples

    def pause_writes(self, region: str) -> float:
        self.world.record("pause_writes", region)
        self.world.paused.add(region)
        return self.world.loader_timeout

    def resume_writes(self, region: str) -> None:
        self.world.record("resume_writes", region)
        self.world.paused.discard(region)

    def snapshot(self, region: str, identifier: str) -> str:
        self.world.record("snapshot", region, identifier)
        return f"{identifier}-stale"

    def snapshot_ready(self, region: str, snapshot: str) -> bool:
        return True

    def release_deletion_protection(self, region: str, identifier: str) -> None:
        self.world.record("release_deletion_protection", region, identifier)


class FakeTraffic:
    def __init__(self, world: World) -> None:
        self.world = world

    def health(self, region: str) -> HealthState:
        failover = "PRIMARY" if region == writer_region(self.world.config) else "SECONDARY"
        drained = region in self.world.drained
        healthy = region not in self.world.unhealthy and not drained
        return HealthState(region, f"hc-{region}", failover, healthy, drained)

    def drain(self, region: str) -> None:
        self.world.record("drain", region)
        self.world.drained.add(region)

    def restore(self, region: str) -> None:
        self.world.record("restore", region)
        self.world.drained.discard(region)

    def route53_answer(self) -> str | None:
        if self.world.stuck_answer:
            return self.world.stuck_answer
        writer = writer_region(self.world.config)
        other = SECONDARY if writer == PRIMARY else PRIMARY
        return next((r for r in (writer, other) if r not in self.world.drained), None)

    def public_answer(self) -> str | None:
        return self.route53_answer() if self.world.public_resolves else None


class FakeDeploy:
    def __init__(self, world: World) -> None:
        self.world = world

    def write_config(
        self, *, writer_region: str | None = None, rebuild: str | None = None
    ) -> config_file.ConfigChange:
        self.world.record("write_config", str(writer_region), str(rebuild))
        change = config_file.edit_config(
            self.world.path, writer_region=writer_region, rebuild=rebuild
        )
        config_file.write(change)
        self.world.config = change.config
        return change

    def restore_config(self, change: config_file.ConfigChange) -> TapStackConfig:
        self.world.record("restore_config", str(change.path))
        self.world.config = config_file.revert(change)
        return self.world.config

    def deploy_storage(self, region: str) -> None:
        self.world.record("deploy_storage", region)

    def deploy_region(self, region: str) -> None:
        """What CloudFormation does: the writer's replica is promoted in place; a standby
        whose generation changed gets a new replica and its old instance is deleted."""
        self.world.record("deploy_region", region)
        config = self.world.config
        identifier = self.world.configured(region)
        if region == writer_region(config):
            states = self.world.databases[region]
            self.world.databases[region] = [
                DatabaseState(region, s.identifier) if s.identifier == identifier else s
                for s in states
            ]
            self.world.promoted_at[region] = self.world.clock()
        else:
            writer = Names(config, writer_region(config)).db_instance
            self.world.databases[region] = [
                DatabaseState(region, identifier, source=writer, replication="replicating")
            ]


class FakeRedrive:
    def __init__(self, world: World) -> None:
        self.world = world

    def redrive(self, region: str) -> int:
        self.world.record("redrive", region)
        return 3

    def replicates(self, region: str) -> bool:
        return region not in self.world.not_replicating

    def replicate_existing(self, source_region: str) -> str:
        self.world.record("replicate_existing", source_region)
        job_id = f"job-{len(self.world.jobs_started) + 1}"
        self.world.jobs_started[job_id] = self.world.clock()
        return job_id

    def replication_job(self, source_region: str, job_id: str) -> ReplicationJob:
        """Preparing (no total yet), then Active, then the configured end."""
        elapsed = self.world.clock() - self.world.jobs_started[job_id]
        if elapsed < self.world.job_seconds / 3:
            return ReplicationJob(job_id, "Preparing")
        if elapsed < self.world.job_seconds:
            return ReplicationJob(job_id, "Active", total=5, succeeded=2)
        failed = self.world.job_failed
        return ReplicationJob(
            job_id,
            self.world.job_status,
            total=5,
            succeeded=5 - failed,
            failed=failed,
            reason="AccessDenied: the role may not read the replication configuration"
            if self.world.job_status == "Failed"
            else None,
            report=f"s3://logs-{source_region}/batch-replication/job-{job_id}/",
        )


class FakeMonitoring:
    def __init__(self, world: World) -> None:
        self.world = world

    def loader_backlog(self, region: str) -> int:
        return 0

    def alarms(self, region: str) -> list[str]:
        return []


def world(tmp_path: Path) -> World:
    """Both regions healthy: us-east-1 writes, us-west-2 holds its replica."""
    path = tmp_path / "config.yaml"
    shutil.copy(DEFAULT_CONFIG, path)
    config = load_config(path)
    primary, secondary = Names(config, PRIMARY), Names(config, SECONDARY)
    return World(
        path=path,
        clock=Clock(),
        config=config,
        databases={
            PRIMARY: [DatabaseState(PRIMARY, primary.db_instance, deletion_protection=True)],
            SECONDARY: [
                DatabaseState(
                    SECONDARY,
                    secondary.db_instance,
                    source=primary.db_instance_arn,
                    replication="replicating",
                )
            ],
        },
    )


def provider(state: World) -> Provider:
    return Provider(
        database=FakeDatabase(state),
        traffic=FakeTraffic(state),
        deploy=FakeDeploy(state),
        objects=FakeRedrive(state),
        monitoring=FakeMonitoring(state),
    )


def session(
    state: World, *, yes: bool = False, answers: list[str] | None = None
) -> tuple[Session, io.StringIO]:
    """A session on the fake; ``answers`` are typed at the prompts in order (``None``: no
    terminal)."""
    output = io.StringIO()
    prompts = iter(answers) if answers is not None else None

    def confirm(question: str) -> str:
        assert prompts is not None
        output.write(question + "\n")
        return next(prompts)

    made = Session(
        config=state.config,
        provider=provider(state),
        console=Console(file=output, width=200, color_system=None),
        confirm=confirm if answers is not None else None,
        yes=yes,
        clock=state.clock,
        sleep=state.clock.sleep,
        now=state.clock.now,
    )
    return made, output

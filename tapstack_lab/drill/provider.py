"""The local provider: the operator commands' :class:`~tapstack.operations.provider.Provider`
over the lab, so that ``failover``, ``failback`` and ``switchover`` run the SAME orchestration
code (:mod:`tapstack.operations.orchestration`) as on AWS.

============  =======================================  ==========================================
part          on AWS (``aws_provider``)                in the lab
============  =======================================  ==========================================
database      RDS: describe, ReplicaLag, snapshots,    the MariaDB pair: its servers' roles and
              the loader's reserved concurrency        replication, ReplicaLag datapoints the lab
                                                       samples, ``mariadb-dump`` snapshots, the
                                                       lab loader's pause
traffic       Route 53 health checks and records       the Route 53 model (a model): the check's
                                                       path is the drain, its answer and a client
                                                       resolver with the record's TTL
deploy        the configuration file, then ``cdk       the configuration file (the same editor),
              deploy`` of one regional stack           then :meth:`Lab.deploy_region`
objects       ``tapstack redrive``, S3 Batch           re-drive through the real loader, the
              Replication                              modelled replication's batch copy
monitoring    the DLQ's depth, alarms in ALARM         the lab loader's dead letters; no alarms
============  =======================================  ==========================================
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

from tapstack.config import TapStackConfig
from tapstack.operations import config_file
from tapstack.operations.aws_provider import DRAIN_PATH
from tapstack.operations.provider import (
    DatabaseState,
    HealthState,
    LagSample,
    Provider,
    ProviderError,
    ReplicationJob,
    Unreachable,
)
from tapstack.web.runtime import server as web_server
from tapstack_lab.drill.lab import Lab
from tapstack_lab.mariadb import find_binary
from tapstack_lab.route53_model import CachingResolver, Role


class LabDatabase:
    """The database role over the lab's MariaDB pair."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.snapshots: dict[str, str] = {}
        self.released: list[str] = []

    def describe(self, region: str) -> DatabaseState:
        state = self.lab.pair.describe(region)
        if state.source is None:
            return state
        # The source as RDS names it: the writer's identifier, not its region.
        source = self.lab.pair.describe(state.source).identifier
        return DatabaseState(
            region=state.region,
            identifier=state.identifier,
            status=state.status,
            source=source,
            replication=state.replication,
        )

    def instances(self, region: str) -> list[DatabaseState]:
        return [self.describe(region)]

    def replica_lag(self, region: str, since: datetime) -> list[LagSample]:
        return [s for s in list(self.lab.lag_samples[region]) if s.at >= since]

    def pause_writes(self, region: str) -> float:
        return self.lab.loaders[region].pause()

    def resume_writes(self, region: str) -> None:
        self.lab.loaders[region].resume()

    def snapshot(self, region: str, identifier: str) -> str:
        """A consistent logical copy (``mariadb-dump --single-transaction``) of the region's
        database, kept in the lab's snapshot directory."""
        if not self.lab.pair.running(region):
            raise Unreachable(f"{identifier} does not answer: cannot snapshot it")
        name = f"{identifier}-stale-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        server = self.lab.pair.server(region)
        path = self.lab.workdir / "snapshots" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            done = subprocess.run(
                [
                    find_binary("mariadb-dump"),
                    "--no-defaults",
                    f"--host={server.host}",
                    f"--port={server.port}",
                    "--user=root",
                    "--single-transaction",
                    "--databases",
                    self.lab.database,
                ],
                stdout=out,
                stderr=subprocess.PIPE,
                timeout=120,
                check=False,
            )
        if done.returncode != 0:
            raise ProviderError(f"snapshot of {identifier} failed: {done.stderr.decode()[-500:]}")
        self.snapshots[name] = str(path)
        return name

    def snapshot_ready(self, region: str, snapshot: str) -> bool:
        return snapshot in self.snapshots

    def release_deletion_protection(self, region: str, identifier: str) -> None:
        self.released.append(identifier)  # the lab's servers have none


class LabTraffic:
    """Traffic over the Route 53 model: the drain points the check at a path never served."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.drained_since: dict[str, str] = {}
        self._resolver: CachingResolver | None = None

    def health(self, region: str) -> HealthState:
        prober = self.lab.prober
        role = next(r for r in Role if prober.endpoint(r).region == region)
        drained = prober.resource_path(region) == DRAIN_PATH
        return HealthState(
            region,
            f"lab-health-check-{region}",
            role.value,
            prober.healthy(region),
            drained=drained,
            drained_since=self.drained_since.get(region) if drained else None,
        )

    def drain(self, region: str) -> None:
        self.drained_since.setdefault(region, datetime.now(UTC).isoformat(timespec="seconds"))
        self.lab.prober.set_resource_path(region, DRAIN_PATH)
        self.lab.record.mark(f"{region} drained")

    def restore(self, region: str) -> None:
        self.drained_since.pop(region, None)
        self.lab.prober.set_resource_path(region, web_server.HEALTH_PATH)
        self.lab.record.mark(f"{region} restored")

    def route53_answer(self) -> str | None:
        return self.lab.prober.answer().region

    def public_answer(self) -> str | None:
        if self._resolver is None:
            self._resolver = self.lab.prober.client()
        target = self._resolver.resolve(time.monotonic())
        return next((r for r, w in self.lab.web.items() if w.url == target), None)


class LabDeploy:
    """The configuration file, edited as on AWS; the lab converges a region on it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def write_config(
        self, *, writer_region: str | None = None, rebuild: str | None = None
    ) -> config_file.ConfigChange:
        change = config_file.edit_config(
            self.lab.config_path, writer_region=writer_region, rebuild=rebuild
        )
        config_file.write(change)
        self.lab.config = change.config
        self.lab.record.configuration(self.lab.writer())
        return change

    def restore_config(self, change: config_file.ConfigChange) -> TapStackConfig:
        self.lab.config = config_file.revert(change)
        self.lab.record.configuration(self.lab.writer())
        return self.lab.config

    def deploy_region(self, region: str) -> None:
        self.lab.deploy_region(region)

    def deploy_storage(self, region: str) -> None:
        self.lab.buckets.replication.rules.add(region)
        self.lab.record.mark(f"{region}'s bucket replicates to {self.lab.other(region)}")


class LabObjects:
    """Re-drive through the real loader; Batch Replication over the modelled replication."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.redriven: list[tuple[str, int]] = []

    def redrive(self, region: str) -> int:
        sent = self.lab.buckets.redrive(region)
        self.redriven.append((region, sent))
        return sent

    def replicate_existing(self, source_region: str) -> str:
        return self.lab.buckets.replication.replicate_existing(source_region).job_id

    def replication_job(self, source_region: str, job_id: str) -> ReplicationJob:
        job = self.lab.buckets.replication.jobs.get(job_id)
        if job is None:
            raise ProviderError(f"no Batch Replication job {job_id} in {source_region}")
        return ReplicationJob(
            job_id,
            "Complete",
            total=job.copied + job.failed,
            succeeded=job.copied,
            failed=job.failed,
        )

    def replicates(self, region: str) -> bool:
        return region in self.lab.buckets.replication.rules


class LabMonitoring:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def loader_backlog(self, region: str) -> int:
        return len(self.lab.loaders[region].dead_letters)

    def alarms(self, region: str) -> list[str]:
        return []


def lab_provider(lab: Lab) -> Provider:
    """The five parts over ``lab``."""
    return Provider(
        database=LabDatabase(lab),
        traffic=LabTraffic(lab),
        deploy=LabDeploy(lab),
        objects=LabObjects(lab),
        monitoring=LabMonitoring(lab),
    )

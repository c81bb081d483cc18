"""The AWS provider: the failover steps as AWS API calls and CDK deploys.

- Database role: RDS (``DescribeDBInstances``; the writer is the instance without
  ``ReadReplicaSourceDBInstanceIdentifier``), CloudWatch ``ReplicaLag``, and writes paused
  by setting the loader's reserved concurrency to 0 (S3's asynchronous invocations then wait
  in Lambda's retry queue, for up to six hours) and resumed by restoring the configured
  reservation (or deleting it).
- Traffic: the region's failover record names its health check; a drain points the check's
  ``ResourcePath`` (``UpdateHealthCheck``) at :data:`DRAIN_PATH`, a path the web server never
  serves (it answers 404), so every checker fails the region within the check's failure
  threshold, globally, whatever any instance (even one launched during the drain) does -
  and a region that is down stays failing. (Never ``Inverted``: an inverted check is
  *healthy* while its endpoint fails, which would send clients to a lost region.) The drain
  is recorded on the check itself (the path, and a ``tapstack:drained`` tag with its start
  time); ``restore`` sets the path back to the server's
  :data:`~tapstack.web.runtime.server.HEALTH_PATH`, clears ``Inverted`` (set by drains of
  older versions) and removes the tag.
- Deploy: the configuration file edit (:mod:`tapstack.operations.config_file`), ``cdk
  synth`` of the changed file, then ``cdk deploy STACK --exclusively``.
- Objects: re-drive with :func:`tapstack.loader.redrive.redrive`; S3 Batch Replication
  (``s3control`` ``CreateJob`` with the ``S3ReplicateObject`` operation and a manifest S3
  generates from the bucket's replication configuration, then ``DescribeJob``), run as the
  role the bucket's stack creates for it.

SDK errors become :class:`~tapstack.operations.provider.ProviderError` with one line of text
(:class:`~tapstack.operations.provider.Unreachable` for missing connectivity).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from tapstack.aws import ClientFactory
from tapstack.config import TapStackConfig
from tapstack.naming import HOSTED_ZONE_ID, Names, stack_name
from tapstack.operations import config_file
from tapstack.operations.provider import (
    DatabaseState,
    HealthState,
    LagSample,
    NoCredentials,
    Provider,
    ProviderError,
    ReplicationJob,
    Unreachable,
)
from tapstack.storage.contract import BATCH_REPORT_PREFIX, batch_role_output, bucket_stack
from tapstack.web.runtime.server import HEALTH_PATH

P = ParamSpec("P")
R = TypeVar("R")
#: The tag a drain leaves on the health check: when it began.
DRAINED_TAG = "tapstack:drained"
#: A drained health check's ``ResourcePath``: the web server answers 404 for it, so the check
#: fails on every endpoint (and a region that is down keeps failing it).
DRAIN_PATH = "/tapstack-drained"
#: Resolves a host name: ``socket.getaddrinfo``'s signature.
Resolver = Callable[..., list[Any]]


def error_text(exc: BaseException) -> str:
    """One line: ``Operation: Code: message`` for AWS errors, else the exception's first line."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message", "")).strip().splitlines()
        if not message or message[0].startswith("<") or str(error.get("Code")) == "404":
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return f"{exc.operation_name}: HTTP {status} (the endpoint does not implement it)"
        return f"{exc.operation_name}: {error.get('Code')}: {message[0]}"
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def translated(call: Callable[P, R]) -> Callable[P, R]:
    """Raise SDK errors as :class:`ProviderError` (``Unreachable`` for connectivity)."""

    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
            raise Unreachable(f"cannot reach AWS: {error_text(exc)}") from exc
        except NoCredentialsError as exc:
            raise NoCredentials(f"no usable AWS credentials ({exc})") from exc
        except (BotoCoreError, ClientError) as exc:
            raise ProviderError(error_text(exc)) from exc

    return wrapper


@dataclass
class Current:
    """The configuration as it stands: the deploy part replaces it after each edit, and
    the other parts name resources (the database's generation) from it."""

    config: TapStackConfig

    def names(self, region: str) -> Names:
        return Names(self.config, region)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# ---------------------------------------------------------------------------------------
# Database role
# ---------------------------------------------------------------------------------------


@dataclass
class AwsDatabase:
    """RDS instances, their replica lag, and the loader's writes."""

    current: Current
    clients: ClientFactory
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    @translated
    def describe(self, region: str) -> DatabaseState:
        identifier = self.current.names(region).db_instance
        try:
            found = self.clients("rds", region).describe_db_instances(
                DBInstanceIdentifier=identifier
            )["DBInstances"]
        except ClientError as exc:
            if _code(exc) not in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
                raise
            return DatabaseState(region, identifier, exists=False, status="missing")
        return _state(region, found[0])

    @translated
    def instances(self, region: str) -> list[DatabaseState]:
        """The instances named ``<prefix>-mysql-...`` in the region."""
        prefix = f"{self.current.config.prefix}-mysql-"
        paginator = self.clients("rds", region).get_paginator("describe_db_instances")
        return [
            _state(region, instance)
            for page in paginator.paginate()
            for instance in page.get("DBInstances", [])
            if instance["DBInstanceIdentifier"].startswith(prefix)
        ]

    @translated
    def replica_lag(self, region: str, since: datetime) -> list[LagSample]:
        """One-minute ``AWS/RDS ReplicaLag`` (seconds) from ``since``: the maximum, or the
        minimum when that is negative (``-1``: replication is not running; a maximum alone
        hides it in a minute that also has a 0)."""
        response = self.clients("cloudwatch", region).get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName="ReplicaLag",
            Dimensions=[
                {"Name": "DBInstanceIdentifier", "Value": self.current.names(region).db_instance}
            ],
            StartTime=since,
            EndTime=max(self.now(), since),
            Period=60,
            Statistics=["Maximum", "Minimum"],
        )
        points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return [_lag(p) for p in points if p["Timestamp"] >= since]

    @translated
    def pause_writes(self, region: str) -> float:
        """Reserved concurrency 0: new invocations are throttled and S3's asynchronous events
        wait in Lambda's queue; returns the function's timeout (invocations under way)."""
        function = self.current.names(region).loader_function
        client = self.clients("lambda", region)
        client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
        return float(client.get_function_configuration(FunctionName=function)["Timeout"])

    @translated
    def resume_writes(self, region: str) -> None:
        """The configured reservation again (``loader.reserved_concurrency``), or none."""
        function = self.current.names(region).loader_function
        client = self.clients("lambda", region)
        reserved = self.current.config.loader.reserved_concurrency
        if reserved is None:
            client.delete_function_concurrency(FunctionName=function)
        else:
            client.put_function_concurrency(
                FunctionName=function, ReservedConcurrentExecutions=reserved
            )

    @translated
    def snapshot(self, region: str, identifier: str) -> str:
        snapshot = f"{identifier}-stale-{self.now():%Y%m%d-%H%M%S}"
        self.clients("rds", region).create_db_snapshot(
            DBSnapshotIdentifier=snapshot,
            DBInstanceIdentifier=identifier,
            Tags=[{"Key": "tapstack:reason", "Value": "stale writer kept by tapstack failback"}],
        )
        return snapshot

    @translated
    def snapshot_ready(self, region: str, snapshot: str) -> bool:
        found = self.clients("rds", region).describe_db_snapshots(DBSnapshotIdentifier=snapshot)
        status = found["DBSnapshots"][0]["Status"] if found["DBSnapshots"] else "missing"
        if status in ("failed", "error", "incompatible-restore"):
            raise ProviderError(f"snapshot {snapshot} is {status}: it will never be ready")
        return bool(status == "available")

    @translated
    def release_deletion_protection(self, region: str, identifier: str) -> None:
        self.clients("rds", region).modify_db_instance(
            DBInstanceIdentifier=identifier,
            DeletionProtection=False,
            ApplyImmediately=True,
        )


def _lag(point: dict[str, Any]) -> LagSample:
    minimum = float(point.get("Minimum", 0.0))
    seconds = minimum if minimum < 0 else float(point.get("Maximum", minimum))
    return LagSample(point["Timestamp"], seconds)


def _state(region: str, instance: dict[str, Any]) -> DatabaseState:
    """A ``DescribeDBInstances`` entry: a writer has no ReadReplicaSourceDBInstanceIdentifier."""
    replication = next(
        (
            info.get("Status")
            for info in instance.get("StatusInfos", [])
            if info.get("StatusType") == "read replication"
        ),
        None,
    )
    return DatabaseState(
        region,
        instance["DBInstanceIdentifier"],
        status=instance.get("DBInstanceStatus", "unknown"),
        source=instance.get("ReadReplicaSourceDBInstanceIdentifier"),
        replication=replication,
        deletion_protection=bool(instance.get("DeletionProtection")),
    )


# ---------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------

#: Route 53 is global; its API lives in us-east-1.
ROUTE53_REGION = "us-east-1"
#: Route 53 considers an endpoint healthy when more than 18% of its checkers report it so.
HEALTHY_SHARE = 0.18


@dataclass
class AwsTraffic:
    """Route 53: the failover records, their health checks and Route 53's answers."""

    current: Current
    clients: ClientFactory
    resolve: Resolver = socket.getaddrinfo
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    outputs_file: Path | None = None
    #: The zone's ID when known; found on first use otherwise (see :meth:`zone_id`).
    hosted_zone_id: str | None = None

    @property
    def route53(self) -> Any:
        return self.clients("route53", ROUTE53_REGION)

    @translated
    def health(self, region: str) -> HealthState:
        record = self._record(region)
        check_id = record["HealthCheckId"]
        check = self.route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]
        observations = self.route53.get_health_check_status(HealthCheckId=check_id)
        reports = [
            o.get("StatusReport", {}).get("Status", "")
            for o in observations.get("HealthCheckObservations", [])
        ]
        healthy = None
        if reports:
            healthy = sum(r.startswith("Success") for r in reports) / len(reports) > HEALTHY_SHARE
        tags = self.route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id)
        since = {t["Key"]: t["Value"] for t in tags["ResourceTagSet"].get("Tags", [])}
        settings = check["HealthCheckConfig"]
        drained = settings.get("ResourcePath") == DRAIN_PATH
        inverted = bool(settings.get("Inverted"))
        if drained:
            healthy = False  # the drain path fails on every endpoint, answering or not
        elif inverted and healthy is not None:
            healthy = not healthy  # Route 53 inverts what the checkers see
        return HealthState(
            region,
            check_id,
            record.get("Failover", "?"),
            healthy,
            drained=drained,
            drained_since=since.get(DRAINED_TAG),
            inverted=inverted,
        )

    @translated
    def drain(self, region: str) -> None:
        """The check asks for :data:`DRAIN_PATH` (404): the region fails it, up or down."""
        check_id = self._record(region)["HealthCheckId"]
        self.route53.change_tags_for_resource(
            ResourceType="healthcheck",
            ResourceId=check_id,
            AddTags=[{"Key": DRAINED_TAG, "Value": self.now().isoformat(timespec="seconds")}],
        )
        self.route53.update_health_check(HealthCheckId=check_id, ResourcePath=DRAIN_PATH)

    @translated
    def restore(self, region: str) -> None:
        """The server's health path again, never inverted (a drain by an older version set
        ``Inverted``); idempotent."""
        check_id = self._record(region)["HealthCheckId"]
        self.route53.update_health_check(
            HealthCheckId=check_id, ResourcePath=HEALTH_PATH, Inverted=False
        )
        self.route53.change_tags_for_resource(
            ResourceType="healthcheck", ResourceId=check_id, RemoveTagKeys=[DRAINED_TAG]
        )

    @translated
    def route53_answer(self) -> str | None:
        """Route 53's own answer (``TestDNSAnswer``), mapped to the region whose load
        balancer has those addresses."""
        answer = self.route53.test_dns_answer(
            HostedZoneId=self.zone_id(), RecordName=self.current.config.dns.fqdn, RecordType="A"
        )
        return self._region_of(set(answer.get("RecordData", [])))

    @translated
    def public_answer(self) -> str | None:
        """What this machine's resolver answers for the public name, mapped to a region."""
        return self._region_of(self._addresses(self.current.config.dns.fqdn))

    def zone_id(self) -> str:
        """The configured zone, else the regional stacks' ``HostedZoneId`` parameter (either
        region will do), else the dns stack's output in the outputs file."""
        if self.hosted_zone_id is None:
            configured = self.current.config.dns.hosted_zone_id
            self.hosted_zone_id = configured or self._deployed_zone_id()
        return self.hosted_zone_id

    def _deployed_zone_id(self) -> str:
        config = self.current.config
        unreachable: BotoCoreError | None = None
        for region in (config.primary.region, config.secondary.region):
            try:
                return self._stack_zone_id(region)
            except ClientError:
                continue  # no such stack (yet) in that region
            except BotoCoreError as exc:
                unreachable = unreachable or exc  # the region may be lost: try the other
        if self.outputs_file is not None:
            from tapstack.cdk_cli import flat_outputs, read_outputs

            with contextlib.suppress(ValueError):
                found = flat_outputs(read_outputs(self.outputs_file)).get(HOSTED_ZONE_ID)
                if found:
                    return found
        if unreachable is not None:
            raise unreachable
        raise ProviderError(
            "cannot find the hosted zone: no regional stack answered with its HostedZoneId "
            "parameter; set dns.hosted_zone_id"
        )

    def _stack_zone_id(self, region: str) -> str:
        config = self.current.config
        name = stack_name(config, Names(config, region).slot.value)
        stack = self.clients("cloudformation", region).describe_stacks(StackName=name)
        for parameter in stack["Stacks"][0].get("Parameters", []):
            if parameter["ParameterKey"] == HOSTED_ZONE_ID:
                return str(parameter["ParameterValue"])
        raise ProviderError(f"{name} has no {HOSTED_ZONE_ID} parameter; set dns.hosted_zone_id")

    def _record(self, region: str) -> dict[str, Any]:
        """The region's failover record (by its set identifier)."""
        names = self.current.names(region)
        fqdn = f"{self.current.config.dns.fqdn}."
        response = self.route53.list_resource_record_sets(
            HostedZoneId=self.zone_id(), StartRecordName=fqdn, StartRecordType="A"
        )
        for record in response.get("ResourceRecordSets", []):
            if record["Name"] == fqdn and record.get("SetIdentifier") == names.set_identifier:
                if "HealthCheckId" not in record:
                    raise ProviderError(f"{names.set_identifier} has no health check")
                return dict(record)
        raise ProviderError(f"no failover record {fqdn} {names.set_identifier} in the zone")

    def _addresses(self, host: str) -> set[str]:
        try:
            return {info[4][0] for info in self.resolve(host, None, proto=socket.IPPROTO_TCP)}
        except (socket.gaierror, UnicodeError):
            return set()

    def _region_of(self, addresses: set[str]) -> str | None:
        if not addresses:
            return None
        for region in (self.current.config.primary.region, self.current.config.secondary.region):
            target = self._record(region).get("AliasTarget", {}).get("DNSName", "")
            if addresses & self._addresses(target.rstrip(".")):
                return region
        return None


# ---------------------------------------------------------------------------------------
# Deploy, re-drive, monitoring
# ---------------------------------------------------------------------------------------


@dataclass
class CdkDeploy:
    """Configuration edits, then ``cdk synth`` and ``cdk deploy STACK --exclusively``."""

    current: Current
    config_path: Path
    env: Mapping[str, str]
    cdk_out: Path = Path("cdk.out")
    outputs_file: Path = Path("cfn-outputs") / "outputs.json"
    require_approval: str = "broadening"
    interactive: bool = False
    on_line: Callable[[str], None] | None = None
    project: Path | None = None

    def write_config(
        self, *, writer_region: str | None = None, rebuild: str | None = None
    ) -> config_file.ConfigChange:
        change = config_file.edit_config(
            self.config_path, writer_region=writer_region, rebuild=rebuild
        )
        config_file.write(change)
        self.current.config = change.config
        return change

    def restore_config(self, change: config_file.ConfigChange) -> TapStackConfig:
        self.current.config = config_file.revert(change)
        return self.current.config

    def deploy_region(self, region: str) -> None:
        config = self.current.config
        self._deploy(stack_name(config, Names(config, region).slot.value), region)

    def deploy_storage(self, region: str) -> None:
        self._deploy(bucket_stack(Names(self.current.config, region)), region)

    def _deploy(self, name: str, region: str) -> None:
        """Synthesize, then deploy the stack ``name`` (in ``region``) alone."""
        from tapstack.assembly import read_cloud_assembly
        from tapstack.cdk_cli import CdkCli, CdkError, read_outputs

        try:
            self._synth()
            stacks = read_cloud_assembly(self.cdk_out)
            if not any(s.name == name and s.region == region for s in stacks):
                raise ProviderError(f"{self.cdk_out} has no stack {name} in {region}")
            cdk = CdkCli(
                env=self.env,
                cdk_out=self.cdk_out,
                stacks=stacks,
                on_line=self.on_line,
                interactive=self.interactive,
                project=self.project,
            )
            with self._outputs() as outputs:
                cdk(
                    "deploy",
                    name,
                    "--exclusively",
                    # A promotion cannot be rolled back: CloudFormation's RDS handler refuses to
                    # put SourceDBInstanceIdentifier back ("Resource is immutable"), and cannot
                    # delete a new replica that has deletion protection. A failure later in the
                    # same update would end in UPDATE_ROLLBACK_FAILED; without rollback it ends
                    # in UPDATE_FAILED, and fixing the cause and deploying again goes on.
                    "--no-rollback",
                    "--require-approval",
                    self.require_approval,
                    "--progress",
                    "events",
                    "--outputs-file",
                    str(outputs),
                )
                deployed = read_outputs(outputs)
        except (CdkError, FileNotFoundError) as exc:
            reasons = "; ".join(f"{f.stack}: {f.reason}" for f in getattr(exc, "failures", []))
            raise ProviderError(
                f"{exc}{': ' + reasons if reasons else ''} (deployed without rollback: the "
                f"stack {name} stays as far as it got; fix the cause, then deploy it again)"
            ) from exc
        self._merge_outputs(deployed)

    def _synth(self) -> None:
        from tapstack.cdk_cli import CdkError, project_dir, require_cli
        from tapstack.process import run

        project = project_dir(self.project)
        env = {**self.env, "TAPSTACK_CONFIG": str(self.config_path.resolve())}
        command = [str(require_cli(project)), "synth", "--quiet", "--output", str(self.cdk_out)]
        result = run([*command, "--no-notices"], env=env, cwd=project, on_line=self.on_line)
        if not result.ok:
            raise CdkError(f"cdk synth failed ({result.returncode})", output_tail=result.tail())

    @contextlib.contextmanager
    def _outputs(self) -> Iterator[Path]:
        """A file of its own for one stack's outputs: ``--outputs-file`` rewrites the file
        with the deployed stacks only, and the shared one holds every stack's."""
        self.outputs_file.parent.mkdir(parents=True, exist_ok=True)
        path = self.outputs_file.with_name(f".{self.outputs_file.name}.{os.getpid()}")
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _merge_outputs(self, deployed: dict[str, dict[str, str]]) -> None:
        from tapstack.cdk_cli import read_outputs

        merged = read_outputs(self.outputs_file) | deployed
        self.outputs_file.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


@dataclass
class AwsRedrive:
    current: Current
    clients: ClientFactory

    @translated
    def redrive(self, region: str) -> int:
        from tapstack.loader.redrive import redrive

        names = self.current.names(region)
        try:
            result = redrive(
                self.clients("s3", region),
                self.clients("lambda", region),
                bucket=names.data_bucket,
                function_name=names.loader_function,
                region=region,
            )
        except RuntimeError as exc:
            raise ProviderError(str(exc)) from exc
        return result.objects

    @translated
    def replicates(self, region: str) -> bool:
        from botocore.exceptions import ClientError

        bucket = self.current.names(region).data_bucket
        try:
            rules = self.clients("s3", region).get_bucket_replication(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
                return False
            raise
        return bool(rules.get("ReplicationConfiguration", {}).get("Rules"))

    @translated
    def replicate_existing(self, source_region: str) -> str:
        """An S3 Batch Replication job on the region's data bucket ("Create a Batch
        Replication job for existing replication rules", S3 User Guide): S3 generates the
        manifest from the bucket's replication configuration, keeping the objects its rules
        cover (``EligibleForReplication``) that were never replicated (``NONE``: written
        before the rule existed) or failed to (``FAILED``: the destination was down); the
        manifest is not stored; the report lists failed tasks only, in the log bucket."""
        names = self.current.names(source_region)
        account = self.current.config.account
        job = self.clients("s3control", source_region).create_job(
            AccountId=account,
            ConfirmationRequired=False,
            Operation={"S3ReplicateObject": {}},
            Report={
                "Bucket": f"arn:aws:s3:::{names.log_bucket}",
                "Format": "Report_CSV_20180820",
                "Enabled": True,
                "Prefix": BATCH_REPORT_PREFIX,
                "ReportScope": "FailedTasksOnly",
            },
            ClientRequestToken=str(uuid.uuid4()),
            ManifestGenerator={
                "S3JobManifestGenerator": {
                    "ExpectedBucketOwner": account,
                    "SourceBucket": names.data_bucket_arn,
                    "EnableManifestOutput": False,
                    "Filter": {
                        "EligibleForReplication": True,
                        "ObjectReplicationStatuses": ["NONE", "FAILED"],
                    },
                }
            },
            Description=f"tapstack: replicate what {names.data_bucket} never replicated",
            Priority=10,
            RoleArn=self._batch_role(names),
        )
        return str(job["JobId"])

    @translated
    def replication_job(self, source_region: str, job_id: str) -> ReplicationJob:
        names = self.current.names(source_region)
        job = self.clients("s3control", source_region).describe_job(
            AccountId=self.current.config.account, JobId=job_id
        )["Job"]
        progress = job.get("ProgressSummary", {})
        reasons = [
            f"{r.get('FailureCode', '?')}: {r.get('FailureReason', '')}".strip()
            for r in job.get("FailureReasons", [])
        ]
        return ReplicationJob(
            job_id,
            str(job.get("Status", "unknown")),
            total=progress.get("TotalNumberOfTasks"),
            succeeded=int(progress.get("NumberOfTasksSucceeded", 0)),
            failed=int(progress.get("NumberOfTasksFailed", 0)),
            reason="; ".join(reasons) or job.get("StatusUpdateReason"),
            report=f"s3://{names.log_bucket}/{BATCH_REPORT_PREFIX}/job-{job_id}/",
        )

    def _batch_role(self, names: Names) -> str:
        """The Batch Operations role's ARN: an output of the stack that owns the bucket."""
        stack = bucket_stack(names)
        key = batch_role_output(names)
        found = self.clients("cloudformation", names.region).describe_stacks(StackName=stack)
        for output in found["Stacks"][0].get("Outputs", []):
            if output["OutputKey"] == key:
                return str(output["OutputValue"])
        raise ProviderError(
            f"{stack} has no output {key}: its data bucket does not replicate yet "
            f"(deploy {stack} with the current configuration)"
        )


@dataclass
class AwsMonitoring:
    current: Current
    clients: ClientFactory

    @translated
    def loader_backlog(self, region: str) -> int:
        sqs = self.clients("sqs", region)
        # The loader's dead-letter queue name (tapstack.loader.infrastructure).
        queue = self.current.names(region).loader_dead_letter_queue
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    @translated
    def alarms(self, region: str) -> list[str]:
        """The region's alarms (named ``<prefix>-<region>-...``) in ALARM."""
        names = self.current.names(region)
        paginator = self.clients("cloudwatch", region).get_paginator("describe_alarms")
        found: list[str] = []
        for page in paginator.paginate(
            AlarmNamePrefix=f"{names.prefix}-{region}-", StateValue="ALARM"
        ):
            # The state is checked here too: moto applies only one of the two filters.
            alarms = [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
            found += [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
        return sorted(found)


def aws_provider(
    config: TapStackConfig,
    clients: ClientFactory,
    *,
    deploy: CdkDeploy | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> Provider:
    """The AWS provider for ``config``; ``deploy`` (built on the same :class:`Current`
    when given) runs the CDK CLI."""
    current = deploy.current if deploy is not None else Current(config)
    return Provider(
        database=AwsDatabase(current, clients),
        traffic=AwsTraffic(
            current, clients, resolve, outputs_file=deploy.outputs_file if deploy else None
        ),
        deploy=deploy if deploy is not None else _NoDeploy(),
        objects=AwsRedrive(current, clients),
        monitoring=AwsMonitoring(current, clients),
    )


class _NoDeploy:
    """For read-only commands (``status``, ``drill``): any deploy is a programming error."""

    def write_config(
        self, *, writer_region: str | None = None, rebuild: str | None = None
    ) -> config_file.ConfigChange:
        raise ProviderError("this command changes no configuration")

    def restore_config(self, change: config_file.ConfigChange) -> TapStackConfig:
        raise ProviderError("this command changes no configuration")

    def deploy_region(self, region: str) -> None:
        raise ProviderError("this command deploys nothing")

    def deploy_storage(self, region: str) -> None:
        raise ProviderError("this command deploys nothing")

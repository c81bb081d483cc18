"""tapstack.operations.aws_provider against the embedded emulator (moto server mode, one per
module, reset before each test), as far as moto supports the calls. A call moto does not
implement is skipped with the API's name (these tests always run against the emulator);
the deploy step runs a stand-in CDK CLI that records its arguments."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tapstack.aws import ClientFactory, client_factory
from tapstack.config import TapStackConfig, load_config
from tapstack.naming import Names
from tapstack.operations.aws_provider import (
    DRAIN_PATH,
    DRAINED_TAG,
    AwsDatabase,
    AwsMonitoring,
    AwsRedrive,
    AwsTraffic,
    CdkDeploy,
    Current,
)
from tapstack.operations.provider import NoCredentials, ProviderError, Unreachable
from tapstack.web.runtime.server import HEALTH_PATH
from tapstack_lab.emulator import Emulator
from tests.support import DEFAULT_CONFIG, fake_cdk_project

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
#: The addresses the stand-in resolver gives each load balancer, and the public name.
ALB_ADDRESSES = {
    "east-alb.us-east-1.elb.amazonaws.com": ["192.0.2.10", "192.0.2.11"],
    "west-alb.us-west-2.elb.amazonaws.com": ["198.51.100.20", "198.51.100.21"],
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(workdir=tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture(scope="module")
def made_clients(emulator: Emulator) -> ClientFactory:
    return emulator.clients()


@pytest.fixture
def aws(emulator: Emulator, made_clients: ClientFactory) -> ClientFactory:
    emulator.reset()
    return made_clients


@pytest.fixture
def config() -> TapStackConfig:
    return load_config(DEFAULT_CONFIG)


def _unsupported(exc: ProviderError, api: str) -> None:
    """Skip when the emulator does not implement ``api`` (moto answers HTTP 404)."""
    if "does not implement it" in str(exc) or "HTTP 404" in str(exc):
        pytest.skip(f"moto 5.2.5 does not implement {api} (the emulator answers HTTP 404)")
    raise exc


# ---------------------------------------------------------------------------------------
# Database role
# ---------------------------------------------------------------------------------------


def _databases(aws: ClientFactory, config: TapStackConfig) -> None:
    """The writer in us-east-1 and its cross-region replica in us-west-2."""
    primary, secondary = Names(config, PRIMARY), Names(config, SECONDARY)
    aws("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier=primary.db_instance,
        DBInstanceClass="db.t4g.medium",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",  # the emulator's
        AllocatedStorage=20,
        DeletionProtection=True,
    )
    aws("rds", SECONDARY).create_db_instance_read_replica(
        DBInstanceIdentifier=secondary.db_instance,
        SourceDBInstanceIdentifier=primary.db_instance_arn,
        DBInstanceClass="db.t4g.medium",
    )


def test_the_writer_is_the_instance_without_a_replication_source(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    _databases(aws, config)
    database = AwsDatabase(Current(config), aws)

    writer, replica = database.describe(PRIMARY), database.describe(SECONDARY)

    assert writer.is_writer and writer.writable and writer.deletion_protection
    assert replica.is_replica and not replica.writable
    assert replica.source is not None and replica.source.endswith("tapstack-prod-mysql-primary")
    assert [d.identifier for d in database.instances(SECONDARY)] == ["tapstack-prod-mysql-replica"]


def test_a_missing_database_is_reported_not_raised(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    state = AwsDatabase(Current(config), aws).describe(SECONDARY)
    assert not state.exists and state.identifier == "tapstack-prod-mysql-replica"


def test_the_stale_writer_is_snapshotted_and_its_protection_released(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    _databases(aws, config)
    database = AwsDatabase(Current(config), aws, now=lambda: datetime(2026, 1, 2, 3, 4, 5))

    snapshot = database.snapshot(PRIMARY, "tapstack-prod-mysql-primary")
    database.release_deletion_protection(PRIMARY, "tapstack-prod-mysql-primary")

    assert snapshot == "tapstack-prod-mysql-primary-stale-20260102-030405"
    assert database.snapshot_ready(PRIMARY, snapshot)
    assert not database.describe(PRIMARY).deletion_protection


def test_replica_lag_reads_the_replicas_one_minute_maxima(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    identifier = Names(config, SECONDARY).db_instance
    for minutes, lag in ((4, 7.0), (3, 0.0), (2, 0.0)):
        aws("cloudwatch", SECONDARY).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
                    "Timestamp": now - timedelta(minutes=minutes),
                    "Value": lag,
                }
            ],
        )
    database = AwsDatabase(Current(config), aws)

    samples = database.replica_lag(SECONDARY, now - timedelta(minutes=5))

    assert [s.seconds for s in samples] == [7.0, 0.0, 0.0]
    assert database.replica_lag(SECONDARY, now - timedelta(minutes=3, seconds=30))[0].seconds == 0


def test_a_stopped_replication_shows_through_a_minute_that_also_has_a_zero(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    identifier = Names(config, SECONDARY).db_instance
    at = now - timedelta(minutes=3)
    for seconds, lag in ((0, 0.0), (30, -1.0)):
        aws("cloudwatch", SECONDARY).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
                    "Timestamp": at + timedelta(seconds=seconds),
                    "Value": lag,
                }
            ],
        )
    database = AwsDatabase(Current(config), aws)

    samples = database.replica_lag(SECONDARY, now - timedelta(minutes=5))

    assert [s.seconds for s in samples] == [-1.0]


def test_a_failed_snapshot_is_an_error_not_a_wait() -> None:
    rds = boto3.client("rds", region_name=PRIMARY)
    stub = Stubber(rds)
    stub.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [{"DBSnapshotIdentifier": "s1", "Status": "failed"}]},
        {"DBSnapshotIdentifier": "s1"},
    )
    database = AwsDatabase(Current(load_config(DEFAULT_CONFIG)), lambda *_: rds)
    with stub, pytest.raises(ProviderError, match="snapshot s1 is failed"):
        database.snapshot_ready(PRIMARY, "s1")


def _loader(aws: ClientFactory, config: TapStackConfig, region: str) -> str:
    role = aws("iam", region).create_role(
        RoleName=f"loader-{region}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    name = Names(config, region).loader_function
    aws("lambda", region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=300,
    )
    return name


def test_writes_pause_with_zero_reserved_concurrency_and_resume_without_any(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    function = _loader(aws, config, PRIMARY)
    database = AwsDatabase(Current(config), aws)
    client = aws("lambda", PRIMARY)

    assert database.pause_writes(PRIMARY) == 300.0  # the function's timeout
    assert (
        client.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"] == 0
    )

    database.resume_writes(PRIMARY)
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName=function
    )


def test_resuming_restores_a_configured_reservation(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    function = _loader(aws, config, SECONDARY)
    reserved = config.model_copy(
        update={"loader": config.loader.model_copy(update={"reserved_concurrency": 5})}
    )
    database = AwsDatabase(Current(reserved), aws)
    database.pause_writes(SECONDARY)
    database.resume_writes(SECONDARY)
    answer = aws("lambda", SECONDARY).get_function_concurrency(FunctionName=function)
    assert answer["ReservedConcurrentExecutions"] == 5


def test_a_missing_function_is_one_line(aws: ClientFactory, config: TapStackConfig) -> None:
    with pytest.raises(ProviderError, match=r"^PutFunctionConcurrency: ResourceNotFound"):
        AwsDatabase(Current(config), aws).pause_writes(PRIMARY)


# ---------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------


def _resolver(public: list[str]) -> Any:
    def resolve(host: str, *_: Any, **__: Any) -> list[Any]:
        found = ALB_ADDRESSES.get(host.removeprefix("dualstack."))
        if host == "app.tapstack.example.com":
            found = public
        if not found:
            import socket

            raise socket.gaierror(host)
        return [(2, 1, 6, "", (address, 0)) for address in found]

    return resolve


def _zone(aws: ClientFactory, config: TapStackConfig) -> str:
    """The zone with both regions' failover records and their health checks."""
    route53 = aws("route53", PRIMARY)
    zone = route53.create_hosted_zone(Name=config.dns.domain_name, CallerReference="ops")
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    changes = []
    for region, failover, alb in (
        (PRIMARY, "PRIMARY", "east-alb.us-east-1.elb.amazonaws.com"),
        (SECONDARY, "SECONDARY", "west-alb.us-west-2.elb.amazonaws.com"),
    ):
        check = route53.create_health_check(
            CallerReference=f"check-{region}",
            HealthCheckConfig={
                "Type": "HTTP",
                "FullyQualifiedDomainName": alb,
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
            },
        )["HealthCheck"]["Id"]
        changes.append(
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"{config.dns.fqdn}.",
                    "Type": "A",
                    "SetIdentifier": Names(config, region).set_identifier,
                    "Failover": failover,
                    "HealthCheckId": check,
                    "AliasTarget": {
                        "HostedZoneId": "Z35SXDOTRQ7X7K",
                        "DNSName": f"dualstack.{alb}.",
                        "EvaluateTargetHealth": True,
                    },
                },
            }
        )
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id


def _traffic(
    aws: ClientFactory, config: TapStackConfig, zone: str, public: list[str] | None = None
) -> AwsTraffic:
    return AwsTraffic(
        Current(config),
        aws,
        resolve=_resolver(public or []),
        now=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        hosted_zone_id=zone,
    )


def test_a_drain_points_the_health_check_at_a_path_never_served_and_records_when(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    traffic = _traffic(aws, config, _zone(aws, config))
    before = traffic.health(PRIMARY)
    assert (before.failover, before.healthy, before.drained) == ("PRIMARY", True, False)

    traffic.drain(PRIMARY)

    drained = traffic.health(PRIMARY)
    assert drained.drained and not drained.serving
    assert drained.drained_since == "2026-01-02T03:04:05+00:00"
    assert not traffic.health(SECONDARY).drained
    check = aws("route53", PRIMARY).get_health_check(HealthCheckId=drained.health_check_id)
    settings = check["HealthCheck"]["HealthCheckConfig"]
    # never Inverted: an inverted check is healthy while its endpoint fails (a lost region)
    assert settings["ResourcePath"] == DRAIN_PATH and not settings.get("Inverted")
    assert drained.healthy is False  # the drain path fails whatever the endpoint does

    traffic.restore(PRIMARY)

    restored = traffic.health(PRIMARY)
    assert not restored.drained and restored.drained_since is None
    check = aws("route53", PRIMARY).get_health_check(HealthCheckId=drained.health_check_id)
    assert check["HealthCheck"]["HealthCheckConfig"]["ResourcePath"] == HEALTH_PATH
    tags = aws("route53", PRIMARY).list_tags_for_resource(
        ResourceType="healthcheck", ResourceId=restored.health_check_id
    )["ResourceTagSet"]
    assert DRAINED_TAG not in {t["Key"] for t in tags.get("Tags", [])}


def test_restore_clears_an_inverted_flag_left_by_an_older_drain(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    traffic = _traffic(aws, config, _zone(aws, config))
    check_id = traffic.health(PRIMARY).health_check_id
    aws("route53", PRIMARY).update_health_check(HealthCheckId=check_id, Inverted=True)
    old = traffic.health(PRIMARY)
    assert old.inverted and not old.drained

    traffic.restore(PRIMARY)

    settings = aws("route53", PRIMARY).get_health_check(HealthCheckId=check_id)["HealthCheck"]
    assert not settings["HealthCheckConfig"].get("Inverted")
    assert not traffic.health(PRIMARY).inverted


def test_the_public_answer_is_mapped_to_the_region_by_its_load_balancers_addresses(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    zone = _zone(aws, config)
    assert _traffic(aws, config, zone, ["198.51.100.21"]).public_answer() == SECONDARY
    assert _traffic(aws, config, zone, ["192.0.2.10"]).public_answer() == PRIMARY
    assert _traffic(aws, config, zone, ["203.0.113.1"]).public_answer() is None
    assert _traffic(aws, config, zone, []).public_answer() is None  # does not resolve


def test_route53s_own_answer(aws: ClientFactory, config: TapStackConfig) -> None:
    traffic = _traffic(aws, config, _zone(aws, config))
    try:
        answer = traffic.route53_answer()
    except ProviderError as exc:
        _unsupported(exc, "Route 53 TestDNSAnswer")
    assert answer == PRIMARY


def test_a_region_without_a_failover_record_is_named(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    route53 = aws("route53", PRIMARY)
    zone = route53.create_hosted_zone(Name=config.dns.domain_name, CallerReference="empty")
    traffic = _traffic(aws, config, zone["HostedZone"]["Id"].split("/")[-1])
    with pytest.raises(ProviderError, match="no failover record app.tapstack.example.com. "):
        traffic.drain(PRIMARY)


def test_the_zone_is_found_from_a_regional_stacks_parameter(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    template = {
        "Parameters": {"HostedZoneId": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    aws("cloudformation", SECONDARY).create_stack(
        StackName="tapstack-prod-secondary",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "HostedZoneId", "ParameterValue": "Z0123456789ABC"}],
    )
    assert AwsTraffic(Current(config), aws).zone_id() == "Z0123456789ABC"


def test_without_a_zone_anywhere_the_error_says_what_to_set(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    with pytest.raises(ProviderError, match="set dns.hosted_zone_id"):
        AwsTraffic(Current(config), aws).zone_id()


# ---------------------------------------------------------------------------------------
# Re-drive and monitoring
# ---------------------------------------------------------------------------------------


def test_redrive_sends_every_incoming_object_to_the_regions_loader(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    _loader(aws, config, SECONDARY)
    bucket = Names(config, SECONDARY).data_bucket
    s3 = aws("s3", SECONDARY)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": SECONDARY})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("incoming/a.jsonl", "incoming/b.jsonl", "rejected/c.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")

    assert AwsRedrive(Current(config), aws).redrive(SECONDARY) == 2


def test_replicates_reads_the_data_buckets_replication_configuration(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    bucket = Names(config, PRIMARY).data_bucket
    s3 = aws("s3", PRIMARY)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    objects = AwsRedrive(Current(config), aws)
    assert objects.replicates(PRIMARY) is False
    s3.put_bucket_replication(
        Bucket=bucket,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "ToOtherRegion",
                    "Status": "Enabled",
                    "Prefix": "",
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{Names(config, SECONDARY).data_bucket}"
                    },
                }
            ],
        },
    )
    assert objects.replicates(PRIMARY) is True


# ---------------------------------------------------------------------------------------
# S3 Batch Replication
# ---------------------------------------------------------------------------------------

BATCH_ROLE = "arn:aws:iam::123456789012:role/tapstack-prod-secondary-storage-BatchRole-1"


def _bucket_stack(aws: ClientFactory, *, outputs: dict[str, str]) -> None:
    """The secondary-storage stack as CloudFormation reports it: only its outputs matter."""
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws("cloudformation", SECONDARY).create_stack(
        StackName="tapstack-prod-secondary-storage", TemplateBody=json.dumps(template)
    )


def test_batch_replication_runs_as_the_role_the_buckets_stack_outputs(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    """On the emulator as far as it goes: the role comes from the stack's output; the job
    itself needs S3 Control's CreateJob, which moto does not implement."""
    _bucket_stack(aws, outputs={"SecondaryBatchReplicationRoleArn": BATCH_ROLE})
    objects = AwsRedrive(Current(config), aws)
    assert objects._batch_role(Names(config, SECONDARY)) == BATCH_ROLE
    try:
        objects.replicate_existing(SECONDARY)
    except Unreachable as exc:
        # botocore sends S3 Control requests to <account>.<endpoint host>: the emulator's
        # 127.0.0.1/localhost endpoint has no such host.
        pytest.skip(f"moto 5.2.5 does not implement s3control CreateJob ({exc})")
    except ProviderError as exc:
        _unsupported(exc, "s3control CreateJob")


def test_a_bucket_stack_without_the_role_says_what_to_deploy(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    _bucket_stack(aws, outputs={"SecondaryDataBucketName": "tapstack-prod-data"})
    with pytest.raises(ProviderError, match=r"tapstack-prod-secondary-storage has no output "):
        AwsRedrive(Current(config), aws).replicate_existing(SECONDARY)


def _stubbed(region: str) -> tuple[ClientFactory, Stubber, Stubber]:
    """Real clients (their API models check every request) answered by stubs."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    clients = {
        "s3control": session.client("s3control"),
        "cloudformation": session.client("cloudformation"),
    }
    s3control, cloudformation = Stubber(clients["s3control"]), Stubber(clients["cloudformation"])
    s3control.activate()
    cloudformation.activate()
    return (lambda service, _: clients[service]), s3control, cloudformation


def test_the_batch_job_replicates_what_never_replicated_and_reports_failures(
    config: TapStackConfig,
) -> None:
    """The request S3 Batch Replication takes ("Create a Batch Replication job for existing
    replication rules", S3 User Guide), checked against botocore's model of CreateJob."""
    clients, s3control, cloudformation = _stubbed(SECONDARY)
    cloudformation.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "tapstack-prod-secondary-storage",
                    "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [
                        {"OutputKey": "SecondaryBatchReplicationRoleArn", "OutputValue": BATCH_ROLE}
                    ],
                }
            ]
        },
        {"StackName": "tapstack-prod-secondary-storage"},
    )
    s3control.add_response(
        "create_job",
        {"JobId": "job-0123456789"},
        {
            "AccountId": "123456789012",
            "ConfirmationRequired": False,
            "Operation": {"S3ReplicateObject": {}},
            "Report": {
                "Bucket": "arn:aws:s3:::tapstack-prod-logs-123456789012-us-west-2",
                "Format": "Report_CSV_20180820",
                "Enabled": True,
                "Prefix": "batch-replication",
                "ReportScope": "FailedTasksOnly",
            },
            "ClientRequestToken": ANY,
            "ManifestGenerator": {
                "S3JobManifestGenerator": {
                    "ExpectedBucketOwner": "123456789012",
                    "SourceBucket": "arn:aws:s3:::tapstack-prod-data-123456789012-us-west-2",
                    "EnableManifestOutput": False,
                    "Filter": {
                        "EligibleForReplication": True,
                        "ObjectReplicationStatuses": ["NONE", "FAILED"],
                    },
                }
            },
            "Description": ANY,
            "Priority": 10,
            "RoleArn": BATCH_ROLE,
        },
    )
    s3control.add_response(
        "describe_job",
        {
            "Job": {
                "JobId": "job-0123456789",
                "Status": "Complete",
                "ProgressSummary": {
                    "TotalNumberOfTasks": 7,
                    "NumberOfTasksSucceeded": 6,
                    "NumberOfTasksFailed": 1,
                },
            }
        },
        {"AccountId": "123456789012", "JobId": "job-0123456789"},
    )
    objects = AwsRedrive(Current(config), clients)

    job_id = objects.replicate_existing(SECONDARY)
    job = objects.replication_job(SECONDARY, job_id)

    assert job_id == "job-0123456789"
    assert job.ended and (job.total, job.succeeded, job.failed) == (7, 6, 1)
    assert job.report == (
        "s3://tapstack-prod-logs-123456789012-us-west-2/batch-replication/job-job-0123456789/"
    )
    s3control.assert_no_pending_responses()
    cloudformation.assert_no_pending_responses()


def test_a_failed_job_carries_its_reasons_and_sdk_errors_are_one_line(
    config: TapStackConfig,
) -> None:
    clients, s3control, _ = _stubbed(PRIMARY)
    s3control.add_response(
        "describe_job",
        {
            "Job": {
                "JobId": "job-0123456789",
                "Status": "Failed",
                "FailureReasons": [
                    {"FailureCode": "AccessDenied", "FailureReason": "GetReplicationConfiguration"}
                ],
            }
        },
    )
    s3control.add_client_error("describe_job", "NoSuchJob", "The specified job does not exist")
    objects = AwsRedrive(Current(config), clients)

    job = objects.replication_job(PRIMARY, "job-0123456789")
    assert job.status == "Failed" and job.total is None
    assert job.reason == "AccessDenied: GetReplicationConfiguration"
    with pytest.raises(ProviderError, match="^DescribeJob: NoSuchJob: The specified job"):
        objects.replication_job(PRIMARY, "job-0123456789")


def test_the_loader_backlog_is_its_dead_letter_queue_depth(
    aws: ClientFactory, config: TapStackConfig
) -> None:
    sqs = aws("sqs", PRIMARY)
    url = sqs.create_queue(QueueName="tapstack-prod-loader-us-east-1-dlq")["QueueUrl"]
    for number in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"failed {number}")
    assert AwsMonitoring(Current(config), aws).loader_backlog(PRIMARY) == 3


def test_alarms_in_alarm_are_the_regions_own(aws: ClientFactory, config: TapStackConfig) -> None:
    cloudwatch = aws("cloudwatch", PRIMARY)
    for name in ("tapstack-prod-us-east-1-cpu", "tapstack-prod-us-east-1-5xx", "other-alarm"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    cloudwatch.set_alarm_state(
        AlarmName="tapstack-prod-us-east-1-5xx", StateValue="OK", StateReason="test"
    )
    assert AwsMonitoring(Current(config), aws).alarms(PRIMARY) == ["tapstack-prod-us-east-1-cpu"]


def test_an_unreachable_endpoint_is_unreachable(config: TapStackConfig) -> None:
    dead = client_factory(
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
    )
    with pytest.raises(Unreachable, match="cannot reach AWS"):
        AwsMonitoring(Current(config), dead).loader_backlog(PRIMARY)


def test_missing_credentials_are_one_line(
    config: TapStackConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients = client_factory({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    with pytest.raises(NoCredentials, match="no usable AWS credentials"):
        AwsMonitoring(Current(config), clients).alarms(PRIMARY)


# ---------------------------------------------------------------------------------------
# Deploy: a stand-in CDK CLI
# ---------------------------------------------------------------------------------------

#: Records every call with the configuration it saw; ``synth`` writes a two-stack assembly,
#: ``deploy`` writes its stack's outputs.
FAKE_CDK = """#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
with open("calls.jsonl", "a") as calls:
    calls.write(json.dumps({"args": args, "config": os.environ.get("TAPSTACK_CONFIG")}) + "\\n")
if args[0] == "synth":
    out = Path(args[args.index("--output") + 1])
    out.mkdir(exist_ok=True)
    artifacts = {}
    for kind, region in (
        ("primary", "us-east-1"),
        ("secondary-storage", "us-west-2"),
        ("secondary", "us-west-2"),
    ):
        name = f"tapstack-prod-{kind}"
        (out / f"{name}.template.json").write_text('{"Resources": {}}')
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://123456789012/{region}",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (out / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
if args[0] == "deploy":
    Path(args[args.index("--outputs-file") + 1]).write_text(
        json.dumps({args[1]: {"SecondaryVpcId": "vpc-2"}})
    )
sys.exit(int(Path("exit-code").read_text()) if Path("exit-code").exists() else 0)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake_cdk_project(tmp_path, FAKE_CDK)
    shutil.copy(DEFAULT_CONFIG, tmp_path / "config.yaml")
    outputs = tmp_path / "cfn-outputs" / "outputs.json"
    outputs.parent.mkdir()
    outputs.write_text(json.dumps({"tapstack-prod-dns": {"HostedZoneId": "Z0123456789ABC"}}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _deploy(project: Path) -> CdkDeploy:
    path = project / "config.yaml"
    return CdkDeploy(
        Current(load_config(path)),
        path,
        env={"PATH": "/usr/bin:/bin"},
        cdk_out=project / "cdk.out",
        outputs_file=project / "cfn-outputs" / "outputs.json",
        require_approval="never",
    )


def _calls(project: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (project / "calls.jsonl").read_text().splitlines()]


def test_the_config_change_is_synthesized_then_one_stack_deployed_alone(project: Path) -> None:
    deploy = _deploy(project)

    change = deploy.write_config(writer_region=SECONDARY, rebuild=PRIMARY)
    deploy.deploy_region(SECONDARY)

    assert change.changed and deploy.current.config.writer == SECONDARY
    assert "writer_region: us-west-2" in (project / "config.yaml").read_text()
    synth, deployed = _calls(project)
    assert synth["args"][:2] == ["synth", "--quiet"]
    assert synth["config"] == str(project / "config.yaml")
    args = deployed["args"]
    assert args[:3] == ["deploy", "tapstack-prod-secondary", "--exclusively"]
    assert args[args.index("--require-approval") + 1] == "never"
    assert "--no-rollback" in args  # a promotion cannot be rolled back (UPDATE_ROLLBACK_FAILED)
    assert args[args.index("--app") + 1] == str(project / "cdk.out")
    outputs = json.loads((project / "cfn-outputs" / "outputs.json").read_text())
    assert outputs == {
        "tapstack-prod-dns": {"HostedZoneId": "Z0123456789ABC"},  # kept
        "tapstack-prod-secondary": {"SecondaryVpcId": "vpc-2"},
    }


def test_the_stack_owning_a_regions_bucket_is_deployed_alone(project: Path) -> None:
    deploy = _deploy(project)

    deploy.deploy_storage(SECONDARY)
    deploy.deploy_storage(PRIMARY)  # the primary bucket belongs to the regional stack

    deployed = [c["args"][:3] for c in _calls(project) if c["args"][0] == "deploy"]
    assert deployed == [
        ["deploy", "tapstack-prod-secondary-storage", "--exclusively"],
        ["deploy", "tapstack-prod-primary", "--exclusively"],
    ]


def test_a_failed_deploy_is_a_provider_error(project: Path) -> None:
    (project / "exit-code").write_text("1")
    with pytest.raises(ProviderError, match=r"cdk synth failed \(1\)"):
        _deploy(project).deploy_region(SECONDARY)

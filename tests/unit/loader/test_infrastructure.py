"""The loader's infrastructure in both regions: a function on the newest
Python runtime in the private subnets, reached by the bucket's own
notifications (bucket in the same stack) or EventBridge (bucket in an earlier
stack), with least privilege, configured under the runtime's contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tapstack.loader.runtime import contract
from tests.support import Synthesized

REGIONS = [("primary", "us-east-1"), ("secondary", "us-west-2")]
ROLES = [("primary", "writer"), ("secondary", "standby")]


def _function(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.one(kind, "AWS::Lambda::Function")["Properties"]


def _loader_statements(synth: Synthesized, kind: str) -> list[dict[str, Any]]:
    policy = next(
        p for k, p in synth.resources(kind, "AWS::IAM::Policy").items() if k.startswith("Loader")
    )
    return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_function_runs_the_newest_python_in_the_private_subnets(
    synth: Synthesized, kind: str, region: str
) -> None:
    fn = _function(synth, kind)
    assert fn["FunctionName"] == f"tapstack-prod-loader-{region}"
    assert fn["Runtime"] == "python3.14"
    assert fn["Handler"] == contract.HANDLER == "loader.handler.handler"
    assert fn["MemorySize"] == 1769 and fn["Timeout"] == 300
    # Nothing reserved by default: new accounts (limit 10) cannot reserve any.
    assert "ReservedConcurrentExecutions" not in fn
    subnets = json.dumps(fn["VpcConfig"]["SubnetIds"]).lower()
    assert "private" in subnets and "public" not in subnets
    (group,) = fn["VpcConfig"]["SecurityGroupIds"]
    assert group["Fn::GetAtt"][0].startswith("LoaderSecurityGroup")


@pytest.mark.parametrize(("kind", "role"), ROLES)
def test_environment_uses_the_contracts_names_and_the_regions_role(
    synth: Synthesized, kind: str, role: str
) -> None:
    env = _function(synth, kind)["Environment"]["Variables"]
    contract_names = {v for k, v in vars(contract).items() if k.startswith("ENV_")}
    assert set(env) <= contract_names, f"not in the contract: {set(env) - contract_names}"
    assert env[contract.ENV_ROLE] == role
    assert role in contract.ROLES


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_function_connects_with_iam_auth_and_no_password_anywhere(
    synth: Synthesized, kind: str, region: str
) -> None:
    env = _function(synth, kind)["Environment"]["Variables"]
    assert env["DB_USER"] == "tapstack_loader"
    assert env["DB_READ_USER"] == "tapstack_reader", "bootstrap creates the web tier's reader"
    assert env["DB_HOST"] == {"Fn::GetAtt": ["DatabaseInstanceAA8A5FDE", "Endpoint.Address"]}
    assert not any("PASSWORD" in name or "SECRET_VALUE" in name for name in env)
    connect = [s for s in _loader_statements(synth, kind) if s.get("Sid") == "ConnectAsLoaderUser"]
    assert connect[0]["Action"] == "rds-db:connect"
    resource = json.dumps(connect[0]["Resource"])
    assert f"arn:aws:rds-db:{region}:123456789012:dbuser:" in resource
    assert "DbiResourceId" in resource and resource.endswith('/tapstack_loader"]]}')


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_each_loader_may_read_its_regions_copy_of_the_master_secret_for_bootstrap(
    synth: Synthesized, kind: str, region: str
) -> None:
    """The secret is replicated, so a promoted replica can be bootstrapped too; the grant
    names the secret (and its six-character suffix), not every secret of the account."""
    statements = {s.get("Sid"): s for s in _loader_statements(synth, kind)}
    assert statements["ReadMasterSecretForBootstrap"]["Resource"] == (
        f"arn:aws:secretsmanager:{region}:123456789012:secret:tapstack-prod/mysql/master-??????"
    )
    assert statements["ReadMasterSecretForBootstrap"]["Action"] == "secretsmanager:GetSecretValue"
    env = _function(synth, kind)["Environment"]["Variables"]
    assert env["DB_MASTER_SECRET_ID"] == "tapstack-prod/mysql/master"


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_s3_access_is_limited_to_the_loaders_prefixes(
    synth: Synthesized, kind: str, region: str
) -> None:
    bucket = f"arn:aws:s3:::tapstack-prod-data-123456789012-{region}"
    statements = {s.get("Sid"): s for s in _loader_statements(synth, kind)}
    assert statements["ReadIncoming"]["Resource"] == f"{bucket}/incoming/*"
    assert sorted(statements["ReadIncoming"]["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert sorted(statements["WriteReports"]["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:PutObject",
    ]
    assert statements["TellMissingObjectsApart"] == {
        "Action": "s3:ListBucket",
        "Effect": "Allow",
        "Resource": bucket,
        "Sid": "TellMissingObjectsApart",
    }
    assert sorted(statements["WriteReports"]["Resource"]) == [
        f"{bucket}/quarantine/*",
        f"{bucket}/rejected/*",
    ]
    s3_actions = [
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("s3:")
    ]
    assert "s3:*" not in s3_actions and "s3:DeleteObject" not in s3_actions
    assert "s3:PutObject" not in statements["ReadIncoming"]["Action"]


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_key_use_is_limited_to_s3_sqs_and_the_master_secret(
    synth: Synthesized, kind: str, region: str
) -> None:
    statement = next(
        s for s in _loader_statements(synth, kind) if s.get("Sid") == "UseDataKeyThroughS3AndSqs"
    )
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"s3.{region}.amazonaws.com",
        f"sqs.{region}.amazonaws.com",
        f"secretsmanager.{region}.amazonaws.com",
    ]


@pytest.mark.parametrize(("kind", "_region"), REGIONS)
def test_failed_events_go_to_an_encrypted_dead_letter_queue(
    synth: Synthesized, kind: str, _region: str
) -> None:
    queue_id, queue = next(iter(synth.resources(kind, "AWS::SQS::Queue").items()))
    assert "KmsMasterKeyId" in queue["Properties"]
    assert _function(synth, kind)["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}
    }
    invoke_config = synth.one(kind, "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert invoke_config["MaximumRetryAttempts"] == 2
    send = [s for s in _loader_statements(synth, kind) if s["Action"] == "sqs:SendMessage"]
    assert send[0]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_function_logs_to_an_explicit_encrypted_log_group_with_retention(
    synth: Synthesized, kind: str, region: str
) -> None:
    groups = {
        k: g["Properties"]
        for k, g in synth.resources(kind, "AWS::Logs::LogGroup").items()
        if k.startswith("Loader")
    }
    ((group_id, group),) = groups.items()
    assert group["LogGroupName"] == f"/aws/lambda/tapstack-prod-loader-{region}"
    assert group["RetentionInDays"] == 90 and "KmsKeyId" in group
    assert _function(synth, kind)["LoggingConfig"]["LogGroup"] == {"Ref": group_id}


@pytest.mark.parametrize(("kind", "_region"), REGIONS)
def test_loader_security_group_reaches_only_the_database_and_https(
    synth: Synthesized, kind: str, _region: str
) -> None:
    groups = synth.resources(kind, "AWS::EC2::SecurityGroup")
    loader_id = next(k for k in groups if k.startswith("LoaderSecurityGroup"))
    egress = groups[loader_id]["Properties"]["SecurityGroupEgress"]
    assert egress == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    db_rules = [
        r["Properties"]
        for r in synth.resources(kind, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [loader_id, "GroupId"]}
    ]
    assert [
        (r["FromPort"], r["DestinationSecurityGroupId"]["Fn::GetAtt"][0][:21]) for r in db_rules
    ] == [(3306, "DatabaseSecurityGroup")]
    assert "SecurityGroupIngress" not in groups[loader_id]["Properties"]


def test_a_bucket_in_the_loaders_stack_notifies_the_function_for_every_key_under_incoming(
    synth: Synthesized,
) -> None:
    """One notification, filtered by prefix only: an object of any format under incoming/
    reaches the loader (which quarantines what it cannot read). Filter rules:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"""
    bucket_id, bucket = next(
        (k, v)
        for k, v in synth.resources("primary", "AWS::S3::Bucket").items()
        if "-data-" in v["Properties"]["BucketName"]
    )
    notifications = bucket["Properties"]["NotificationConfiguration"]
    assert notifications["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    [config] = notifications["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == {"Fn::GetAtt": ["LoaderFunction8EC4C94F", "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": contract.INCOMING_PREFIX}
    ]
    assert contract.INCOMING_PREFIX == "incoming/"
    permission_id, permission = next(
        iter(synth.resources("primary", "AWS::Lambda::Permission").items())
    )
    assert permission["Properties"]["Principal"] == "s3.amazonaws.com"
    assert (
        permission["Properties"]["SourceArn"]
        == "arn:aws:s3:::tapstack-prod-data-123456789012-us-east-1"
    )
    assert permission["Properties"]["SourceAccount"] == "123456789012"
    assert permission_id in bucket["DependsOn"], "S3 validates the permission when configuring"


def test_a_bucket_of_an_earlier_stack_triggers_the_loader_through_eventbridge(
    synth: Synthesized,
) -> None:
    """Every key under incoming/, by prefix matching:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"""
    rule = synth.one("secondary", "AWS::Events::Rule", "LoaderObjectCreatedRule")["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.s3"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [
        "tapstack-prod-data-123456789012-us-west-2"
    ]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["LoaderFunction8EC4C94F", "Arn"]}
    patterns = rule["EventPattern"]["detail"]["object"]["key"]
    assert patterns == [{"prefix": "incoming/"}] == [{"prefix": contract.INCOMING_PREFIX}]
    bucket = next(
        v
        for v in synth.resources("secondary-storage", "AWS::S3::Bucket").values()
        if "-data-" in v["Properties"]["BucketName"]
    )
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_function_package_holds_the_runtime_the_driver_orjson_and_the_rds_ca_bundle(
    synth: Synthesized,
) -> None:
    code = _function(synth, "primary")["Code"]
    asset = synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    assert (asset / "loader" / "handler.py").is_file()
    assert (asset / "pymysql" / "connections.py").is_file()
    # orjson's compiled module for the function's platform (arm64, Python 3.14)
    assert [p.name for p in (asset / "orjson").glob("*.so")] == [
        "orjson.cpython-314-aarch64-linux-gnu.so"
    ]
    bundle = next((asset / "loader" / "certs").glob("*.pem"))
    assert bundle.read_text().count("BEGIN CERTIFICATE") >= 10
    assert not list(Path(asset).rglob("__pycache__"))


@pytest.mark.parametrize(("kind", "role"), [("primary", "standby"), ("secondary", "writer")])
def test_the_loaders_role_follows_the_writer_region(
    synth_writer_secondary: Synthesized, kind: str, role: str
) -> None:
    env = _function(synth_writer_secondary, kind)["Environment"]["Variables"]
    assert env[contract.ENV_ROLE] == role

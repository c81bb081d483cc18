"""Data that survives the loss of a region: KMS keys, S3 with cross-region
replication, RDS MySQL with a cross-region read replica, AWS Backup with
copies to the other region."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest

from tapstack.config import ConfigError, TapStackConfigWarning, parse_config
from tests.support import Synthesized, default_config_data

PRIMARY_BUCKET = "tapstack-prod-data-123456789012-us-east-1"
SECONDARY_BUCKET = "tapstack-prod-data-123456789012-us-west-2"
STORAGE_KINDS = ["primary", "secondary-storage"]


def _bucket(synth: Synthesized, kind: str, name_part: str) -> dict[str, Any]:
    return next(
        b["Properties"]
        for b in synth.resources(kind, "AWS::S3::Bucket").values()
        if name_part in b["Properties"]["BucketName"]
    )


def _statements(synth: Synthesized, kind: str) -> list[dict[str, Any]]:
    found = []
    for policy in synth.resources(kind, "AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


# --- KMS -------------------------------------------------------------------


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_each_region_has_a_rotating_customer_managed_key_with_a_shared_alias(
    synth: Synthesized, kind: str
) -> None:
    key = synth.one(kind, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    alias = synth.one(kind, "AWS::KMS::Alias")["Properties"]
    assert alias["AliasName"] == "alias/tapstack-prod-data"


def test_secondary_stack_reads_the_key_arn_by_parameter_name_not_export(
    synth: Synthesized,
) -> None:
    parameter = synth.one("secondary-storage", "AWS::SSM::Parameter")["Properties"]
    assert parameter["Name"] == "/tapstack-prod/us-west-2/data-key-arn"
    params = synth.templates["secondary"]["Parameters"]
    key_param = next(k for k in params if "datakeyarn" in k)
    assert params[key_param]["Default"] == "/tapstack-prod/us-west-2/data-key-arn"
    assert params[key_param]["Type"] == "AWS::SSM::Parameter::Value<String>"


# --- S3 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"), [("primary", PRIMARY_BUCKET), ("secondary-storage", SECONDARY_BUCKET)]
)
def test_data_bucket_is_versioned_kms_encrypted_private_and_without_acls(
    synth: Synthesized, kind: str, name: str
) -> None:
    bucket = _bucket(synth, kind, "-data-")
    key_id = next(iter(synth.resources(kind, "AWS::KMS::Key")))
    assert bucket["BucketName"] == name
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in bucket


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_data_bucket_lifecycle_expires_old_versions_and_abandoned_uploads(
    synth: Synthesized, kind: str
) -> None:
    (rule,) = _bucket(synth, kind, "-data-")["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rule["Status"] == "Enabled"


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_data_bucket_is_deleted_only_in_destroy_mode(synth: Synthesized, kind: str) -> None:
    for bucket in synth.resources(kind, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_access_logs_go_to_the_log_bucket_through_a_bucket_policy_not_an_acl(
    synth: Synthesized, kind: str
) -> None:
    data = _bucket(synth, kind, "-data-")
    log_bucket_id = next(
        k
        for k, v in synth.resources(kind, "AWS::S3::Bucket").items()
        if "-logs-" in v["Properties"]["BucketName"]
    )
    assert data["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_id}
    text = json.dumps(synth.templates[kind])
    assert "LogDeliveryWrite" not in text and "log-delivery-write" not in text
    log_policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources(kind, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_bucket_id}
    )
    delivery = [
        s for s in log_policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert len(delivery) == 1 and delivery[0]["Action"] == "s3:PutObject"
    log_bucket = _bucket(synth, kind, "-logs-")
    assert log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_every_bucket_denies_requests_without_tls(synth: Synthesized, kind: str) -> None:
    policies = synth.resources(kind, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_primary_bucket_replicates_everything_to_the_secondary_with_rtc(
    synth: Synthesized,
) -> None:
    replication = _bucket(synth, "primary", "-data-")["ReplicationConfiguration"]
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{SECONDARY_BUCKET}"
    assert destination["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": "arn:aws:kms:us-west-2:123456789012:alias/tapstack-prod-data"
    }
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert "ReplicationConfiguration" not in _bucket(synth, "secondary-storage", "-data-")


def test_replication_role_grants_exactly_what_replication_needs(synth: Synthesized) -> None:
    statements = {s["Sid"]: s for s in _statements(synth, "primary") if "Sid" in s}
    assert statements["WriteReplicas"]["Resource"] == f"arn:aws:s3:::{SECONDARY_BUCKET}/*"
    assert sorted(statements["WriteReplicas"]["Action"]) == [
        "s3:ReplicateDelete",
        "s3:ReplicateObject",
        "s3:ReplicateTags",
    ]
    encrypt = statements["EncryptReplicas"]
    # IAM cannot grant on an alias ARN: the region's keys, narrowed to the alias.
    assert encrypt["Resource"] == "arn:aws:kms:us-west-2:123456789012:key/*"
    assert encrypt["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/tapstack-prod-data"
    }
    assert "alias/" not in json.dumps([s["Resource"] for s in statements.values()])
    decrypt = statements["DecryptSource"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert "Fn::GetAtt" in decrypt["Resource"]


# --- RDS -------------------------------------------------------------------


def _db(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.one(kind, "AWS::RDS::DBInstance")


def test_primary_database_is_pinned_encrypted_multi_az_and_tls_only(synth: Synthesized) -> None:
    db = _db(synth, "primary")
    props = db["Properties"]
    key_id = next(iter(synth.resources("primary", "AWS::KMS::Key")))
    assert props["DBInstanceIdentifier"] == "tapstack-prod-mysql-primary"
    assert (props["Engine"], props["EngineVersion"]) == ("mysql", "8.4.10")
    assert props["AutoMinorVersionUpgrade"] is False
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["MultiAZ"] is True
    assert props["StorageType"] == "gp3"
    assert props["BackupRetentionPeriod"] == 7
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["PubliclyAccessible"] is False
    assert props["DeletionProtection"] is True
    assert db["DeletionPolicy"] == "Snapshot"
    assert props["EnableCloudwatchLogsExports"] == ["error", "slowquery"]
    params = synth.one("primary", "AWS::RDS::DBParameterGroup")["Properties"]
    assert params["Family"] == "mysql8.4"
    assert params["Parameters"]["require_secure_transport"] == "1"


def test_master_password_is_a_generated_secret_replicated_to_the_other_region(
    synth: Synthesized,
) -> None:
    """RDS refuses a read replica of a MySQL instance whose master password it manages
    (RDS User Guide, limitations of the Secrets Manager integration), so the password is a
    generated secret, replicated to the replica's region under the same name."""
    props = _db(synth, "primary")["Properties"]
    assert "ManageMasterUserPassword" not in props
    ((secret_id, secret),) = synth.resources("primary", "AWS::SecretsManager::Secret").items()
    assert secret["Properties"]["Name"] == "tapstack-prod/mysql/master"
    assert secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"] == (
        '{"username":"admin"}'
    )
    assert secret["Properties"]["KmsKeyId"] == {
        "Fn::GetAtt": [next(iter(synth.resources("primary", "AWS::KMS::Key"))), "Arn"]
    }
    assert secret["Properties"]["ReplicaRegions"] == [
        {
            "Region": "us-west-2",
            "KmsKeyId": "arn:aws:kms:us-west-2:123456789012:alias/tapstack-prod-data",
        }
    ]
    assert secret["DeletionPolicy"] == "RetainExceptOnCreate"
    assert secret_id in json.dumps(props["MasterUserPassword"])
    assert "resolve:secretsmanager" in json.dumps(props["MasterUserPassword"])
    for kind, template in synth.templates.items():
        for key, output in template.get("Outputs", {}).items():
            assert "password" not in key.lower(), kind
            assert "resolve:secretsmanager" not in json.dumps(output["Value"]), kind


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_database_logs_go_to_log_groups_created_with_retention_and_the_key(
    synth: Synthesized, kind: str
) -> None:
    suffix = "primary" if kind == "primary" else "replica"
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in synth.resources(kind, "AWS::Logs::LogGroup").values()
    }
    for log in ("error", "slowquery"):
        group = groups[f"/aws/rds/instance/tapstack-prod-mysql-{suffix}/{log}"]
        assert group["RetentionInDays"] == 90
        assert "KmsKeyId" in group
    db = _db(synth, kind)
    assert len([d for d in db["DependsOn"] if "Logs" in d]) == 2, "groups exist before RDS writes"


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_database_admits_only_the_web_tier_on_the_mysql_port(synth: Synthesized, kind: str) -> None:
    groups = synth.resources(kind, "AWS::EC2::SecurityGroup")
    db_group = next(k for k in groups if k.startswith("DatabaseSecurityGroup"))
    assert "SecurityGroupIngress" not in groups[db_group]["Properties"]
    rules = [
        r["Properties"]
        for r in synth.resources(kind, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_group, "GroupId"]}
    ]
    sources = sorted(r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in rules)
    assert all(r["FromPort"] == 3306 and r["ToPort"] == 3306 for r in rules)
    assert all(s.startswith(("WebInstanceSecurityGroup", "LoaderSecurityGroup")) for s in sources)
    assert any(s.startswith("WebInstanceSecurityGroup") for s in sources)
    subnets = synth.one(kind, "AWS::RDS::DBSubnetGroup")["Properties"]["SubnetIds"]
    assert "private" in json.dumps(subnets).lower() and "public" not in json.dumps(subnets).lower()


def test_replica_is_sourced_from_the_primary_arn_in_the_primary_region(
    synth: Synthesized,
) -> None:
    props = _db(synth, "secondary")["Properties"]
    source = props["SourceDBInstanceIdentifier"]
    assert source == "arn:aws:rds:us-east-1:123456789012:db:tapstack-prod-mysql-primary"
    assert re.match(r"^arn:aws:rds:us-east-1:", source)
    assert props["DBInstanceIdentifier"] == "tapstack-prod-mysql-replica"


def test_replica_is_encrypted_with_the_secondary_key_and_accepted_by_cloudformation(
    synth: Synthesized,
) -> None:
    props = _db(synth, "secondary")["Properties"]
    assert "StorageEncrypted" not in props, "CloudFormation rejects it beside the source ARN"
    key_param = next(k for k in synth.templates["secondary"]["Parameters"] if "datakeyarn" in k)
    assert props["KmsKeyId"] == {"Ref": key_param}
    assert props["StorageType"] == "gp3"
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["PubliclyAccessible"] is False
    assert "MasterUsername" not in props
    # Pinned, never inherited: upgrades go replica first (see the config's validation).
    assert props["EngineVersion"] == "8.4.10"
    # Not a parameter of CreateDBInstanceReadReplica: a replica inherits it from its source.
    assert "EngineLifecycleSupport" not in props


# --- AWS Backup ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("primary", "tapstack-prod-vault-us-east-1"),
        ("secondary-storage", "tapstack-prod-vault-us-west-2"),
    ],
)
def test_each_region_has_a_vault_encrypted_with_its_key(
    synth: Synthesized, kind: str, name: str
) -> None:
    vault = synth.one(kind, "AWS::Backup::BackupVault")
    key_id = next(iter(synth.resources(kind, "AWS::KMS::Key")))
    assert vault["Properties"]["BackupVaultName"] == name
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"


def test_daily_plan_copies_to_the_secondary_vault(synth: Synthesized) -> None:
    plan = synth.one("primary", "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    (rule,) = plan["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rule["CopyActions"] == [
        {
            "DestinationBackupVaultArn": (
                "arn:aws:backup:us-west-2:123456789012:backup-vault:tapstack-prod-vault-us-west-2"
            ),
            "Lifecycle": {"DeleteAfterDays": 35},
        }
    ]
    assert synth.resources("secondary", "AWS::Backup::BackupPlan") == {}


def test_backup_selection_covers_the_database_and_the_data_bucket(synth: Synthesized) -> None:
    selection = synth.one("primary", "AWS::Backup::BackupSelection")["Properties"]
    resources = json.dumps(selection["BackupSelection"]["Resources"])
    db_id = next(iter(synth.resources("primary", "AWS::RDS::DBInstance")))
    bucket_id = next(
        k
        for k, v in synth.resources("primary", "AWS::S3::Bucket").items()
        if "-data-" in v["Properties"]["BucketName"]
    )
    assert db_id in resources and bucket_id in resources
    assert len(selection["BackupSelection"]["Resources"]) == 2


def test_backup_role_has_only_the_aws_managed_backup_and_restore_policies(
    synth: Synthesized,
) -> None:
    roles = synth.resources("primary", "AWS::IAM::Role")
    role = next(v for k, v in roles.items() if k.startswith("BackupPlanRole"))
    arns = json.dumps(role["Properties"]["ManagedPolicyArns"])
    for name in (
        "service-role/AWSBackupServiceRolePolicyForBackup",
        "service-role/AWSBackupServiceRolePolicyForRestores",
        ":iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        ":iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    ):
        assert name in arns
    assert len(role["Properties"]["ManagedPolicyArns"]) == 4
    assert "Policies" not in role["Properties"]
    role_id = next(k for k in roles if k.startswith("BackupPlanRole"))
    for policy in synth.resources("primary", "AWS::IAM::Policy").values():
        assert {"Ref": role_id} not in policy["Properties"]["Roles"], "no inline additions"


# --- destroy mode ----------------------------------------------------------


def test_destroy_mode_lets_everything_go(synth_variant: Synthesized) -> None:
    db = synth_variant.one("primary", "AWS::RDS::DBInstance")
    assert db["DeletionPolicy"] == "Delete"
    assert db["Properties"]["DeletionProtection"] is False
    assert db["Properties"]["DeleteAutomatedBackups"] is True
    for kind in ("primary", "secondary-storage"):
        for rtype in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Backup::BackupVault"):
            for resource in synth_variant.resources(kind, rtype).values():
                assert resource["DeletionPolicy"] == "Delete", (kind, rtype)


# --- configuration ---------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "field", "value", "expected"),
    [
        ("database", "backup_retention_days", 0, r"database\.backup_retention_days = 0"),
        ("database", "backup_retention_days", 36, r"database\.backup_retention_days = 36"),
        (
            "database",
            "engine_version",
            "8.4.99",
            r"database\.engine_version = '8\.4\.99': must be a pinned MySQL",
        ),
        ("database", "engine_version", "5.7.44", r"database\.engine_version = '5\.7\.44'"),
        ("database", "engine_version", "8.4", r"database\.engine_version = '8\.4'"),
        ("database", "instance_class", "t4g.medium", r"database\.instance_class = 't4g\.medium'"),
        ("database", "allocated_storage_gib", 10, r"database\.allocated_storage_gib = 10"),
        ("backup", "retention_days", 0, r"backup\.retention_days = 0"),
        ("backup", "schedule", "daily", r"backup\.schedule = 'daily': must be an AWS cron"),
        (
            "storage",
            "noncurrent_version_expiration_days",
            0,
            r"storage\.noncurrent_version_expiration_days = 0",
        ),
    ],
)
def test_bad_data_settings_are_rejected(
    section: str, field: str, value: Any, expected: str
) -> None:
    data = default_config_data()
    data.setdefault(section, {})[field] = value
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert re.search(expected, str(info.value)), str(info.value)


def test_mysql_8_0_is_accepted_with_a_cost_warning() -> None:
    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    with pytest.warns(
        TapStackConfigWarning,
        match=r"MySQL 8\.0 left RDS standard support on 2026-07-31.*Extended Support",
    ):
        config = parse_config(data)
    assert config.database.engine_version == "8.0.46"


def test_mysql_8_0_without_extended_support_is_rejected_because_rds_would_refuse_it() -> None:
    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    data["database"]["engine_lifecycle_support"] = "open-source-rds-extended-support-disabled"
    with pytest.raises(ConfigError, match=r"RDS refuses to create it without Extended Support"):
        parse_config(data)
    data["database"]["engine_version"] = "8.4.10"
    assert parse_config(data).database.engine_lifecycle_support.endswith("-disabled")


def test_regions_without_us_east_1_warn_that_health_check_alarms_cannot_exist() -> None:
    data = default_config_data()
    data["primary"]["region"] = "eu-west-1"
    data["secondary"]["region"] = "eu-central-1"
    with pytest.warns(TapStackConfigWarning, match="no health-check alarms are created"):
        parse_config(data)


def test_mysql_8_4_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TapStackConfigWarning)
        parse_config(default_config_data())


def test_the_data_key_lets_logs_alarms_and_events_use_it(synth: Synthesized) -> None:
    for kind, region in (("primary", "us-east-1"), ("secondary-storage", "us-west-2")):
        statements = synth.one(kind, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
        by_sid = {s.get("Sid"): s for s in statements}
        logs = by_sid["AllowCloudWatchLogsInThisAccount"]
        assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
        assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
            f"arn:aws:logs:{region}:123456789012:log-group:*"
        )
        services = by_sid["AllowAlarmsAndEventsToUseTheKeyForTopicsAndQueues"]
        assert sorted(services["Principal"]["Service"]) == [
            "cloudwatch.amazonaws.com",
            "events.amazonaws.com",
        ]
        assert sorted(services["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert "Condition" not in services, "a condition the services do not meet drops alarms"

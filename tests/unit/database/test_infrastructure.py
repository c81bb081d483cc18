"""RDS MySQL in both regions: the writer, pinned, encrypted, Multi-AZ and
TLS-only, its generated master secret replicated to the other region, and the
read replica sourced from it by ARN."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import Synthesized


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

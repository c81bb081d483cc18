"""RDS MySQL in both regions: the writer, pinned, encrypted, Multi-AZ and
TLS-only, its generated master secret replicated to the other region, and the
read replica sourced from it by ARN; and, when the writer moves, the replica
promoted in place (never replaced) and the old writer rebuilt as a new replica."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest

from tapstack.app import build_app
from tapstack.config import ConfigError, parse_config
from tapstack.database.infrastructure import PROMOTION, DatabaseShape, database_shape
from tapstack.naming import Names
from tests.support import Synthesized, default_config_data, writer_secondary_data


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


# --- the writer moves: promotion in place (issue 11) -----------------------------------------

#: "Update requires" of every AWS::RDS::DBInstance property the templates set, from the
#: CloudFormation reference (AWS::RDS::DBInstance, Properties). Replacement is what a
#: promotion must never touch: CloudFormation cannot replace a custom-named instance under
#: its own name, and a replacement would lose the data.
UPDATE_REQUIRES = {
    "AllocatedStorage": "No interruption",
    "AutoMinorVersionUpgrade": "Some interruptions",
    "BackupRetentionPeriod": "Some interruptions",
    "CopyTagsToSnapshot": "No interruption",
    "DBInstanceClass": "Some interruptions",
    "DBInstanceIdentifier": "Replacement",
    "DBName": "Replacement",
    "DBParameterGroupName": "Some interruptions",
    "DBSubnetGroupName": "Replacement",
    "DeleteAutomatedBackups": "No interruption",
    "DeletionProtection": "No interruption",
    "EnableCloudwatchLogsExports": "No interruption",
    "EnableIAMDatabaseAuthentication": "No interruption",
    # "Some interruptions" in the reference, conditionally create-only in the resource
    # schema: treated as a replacement, never added to a replica's template.
    "Engine": "Replacement",
    "EngineLifecycleSupport": "Replacement",  # not settable on a replica: never added
    "EngineVersion": "No interruption",
    "KmsKeyId": "Replacement",
    "MasterUserPassword": "No interruption",
    "MasterUsername": "Replacement",
    "MaxAllocatedStorage": "No interruption",
    "MonitoringInterval": "No interruption",
    "MonitoringRoleArn": "No interruption",
    "MultiAZ": "Some interruptions",
    "Port": "Replacement",
    "PubliclyAccessible": "No interruption",
    "SourceDBInstanceIdentifier": "Some interruptions",
    "StorageEncrypted": "Replacement",
    "StorageType": "Some interruptions",
    "Tags": "No interruption",
    "VPCSecurityGroups": "No interruption",
}

DB_ID = "DatabaseInstanceAA8A5FDE"


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_the_promoted_replica_keeps_its_logical_id_identifier_and_policies(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    standby = synth.templates["secondary"]["Resources"][DB_ID]
    promoted = synth_writer_secondary.templates["secondary"]["Resources"][DB_ID]
    assert promoted["Properties"]["DBInstanceIdentifier"] == "tapstack-prod-mysql-replica"
    assert (
        promoted["Properties"]["DBInstanceIdentifier"]
        == (standby["Properties"]["DBInstanceIdentifier"])
    )
    for attribute in ("Type", "DeletionPolicy", "UpdateReplacePolicy", "DependsOn"):
        assert promoted[attribute] == standby[attribute], attribute


def test_promotion_removes_the_source_and_changes_only_properties_that_update_in_place(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """CloudFormation promotes a replica when SourceDBInstanceIdentifier leaves the template;
    every other change must be one it makes without replacing the instance."""
    before = synth.one("secondary", "AWS::RDS::DBInstance")["Properties"]
    after = synth_writer_secondary.one("secondary", "AWS::RDS::DBInstance")["Properties"]
    changed = _changed(before, after)
    assert (
        changed
        == set(PROMOTION)
        == {
            "SourceDBInstanceIdentifier",
            "BackupRetentionPeriod",
            "DeleteAutomatedBackups",
            "MultiAZ",
        }
    )
    assert "SourceDBInstanceIdentifier" in before and "SourceDBInstanceIdentifier" not in after
    assert (after["BackupRetentionPeriod"], after["DeleteAutomatedBackups"]) == (7, False)
    assert (before["MultiAZ"], after["MultiAZ"]) == (False, True), "database.multi_az now"
    assert {UPDATE_REQUIRES[name] for name in changed} <= {"No interruption", "Some interruptions"}


def test_every_database_property_has_a_known_update_rule(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """A property added to the database must be classified before it can pass the
    promotion test above."""
    for app in (synth, synth_writer_secondary):
        for kind in ("primary", "secondary"):
            props = app.one(kind, "AWS::RDS::DBInstance")["Properties"]
            assert set(props) <= set(UPDATE_REQUIRES), (kind, set(props) - set(UPDATE_REQUIRES))


def test_the_promoted_writer_adds_nothing_that_would_replace_it(
    synth_writer_secondary: Synthesized,
) -> None:
    props = synth_writer_secondary.one("secondary", "AWS::RDS::DBInstance")["Properties"]
    for absent in ("StorageEncrypted", "MasterUsername", "MasterUserPassword", "DBName", "Engine"):
        assert absent not in props, absent
    key_param = next(
        k for k in synth_writer_secondary.templates["secondary"]["Parameters"] if "datakeyarn" in k
    )
    assert props["KmsKeyId"] == {"Ref": key_param}, "encrypted with the key it was created with"


def test_the_old_writer_is_rebuilt_as_a_new_replica_of_the_writers_instance(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """Generation 1: a new identifier, so CloudFormation creates the replica and replaces
    the old standalone instance, snapshotting it (UpdateReplacePolicy)."""
    old = synth.templates["primary"]["Resources"][DB_ID]
    new = synth_writer_secondary.templates["primary"]["Resources"][DB_ID]
    props = new["Properties"]
    assert props["DBInstanceIdentifier"] == "tapstack-prod-mysql-primary-g1"
    assert props["SourceDBInstanceIdentifier"] == (
        "arn:aws:rds:us-west-2:123456789012:db:tapstack-prod-mysql-replica"
    )
    assert new["UpdateReplacePolicy"] == old["UpdateReplacePolicy"] == "Snapshot"
    assert new["DeletionPolicy"] == "Snapshot"
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["DataKey2A0DE9E6", "Arn"]}
    assert props["MultiAZ"] is False, "database.replica_multi_az"
    for absent in ("StorageEncrypted", "MasterUsername", "BackupRetentionPeriod", "DBName"):
        assert absent not in props, absent
    groups = {
        g["Properties"]["LogGroupName"]
        for g in synth_writer_secondary.resources("primary", "AWS::Logs::LogGroup").values()
    }
    assert "/aws/rds/instance/tapstack-prod-mysql-primary-g1/error" in groups


def test_the_primary_region_keeps_the_master_secret_whatever_its_role(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """Every instance inherits the original writer's master password; the secret and its
    copy in the other region must outlive the role change."""
    before = synth.resources("primary", "AWS::SecretsManager::Secret")
    after = synth_writer_secondary.resources("primary", "AWS::SecretsManager::Secret")
    assert after == before and list(after) == ["DatabaseMasterSecret708CAA78"]
    assert synth_writer_secondary.resources("secondary", "AWS::SecretsManager::Secret") == {}
    # A replica is not attached: RDS would not take its password from the secret.
    assert (
        synth_writer_secondary.resources("primary", "AWS::SecretsManager::SecretTargetAttachment")
        == {}
    )


def test_each_region_holds_the_shape_its_role_and_generation_call_for(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    shapes = {
        (app_name, kind): getattr(app.built, kind).database.shape
        for app_name, app in (("default", synth), ("writer-secondary", synth_writer_secondary))
        for kind in ("primary", "secondary")
    }
    assert shapes == {
        ("default", "primary"): DatabaseShape.WRITER,
        ("default", "secondary"): DatabaseShape.REPLICA,
        ("writer-secondary", "primary"): DatabaseShape.REPLICA,
        ("writer-secondary", "secondary"): DatabaseShape.PROMOTED,
    }


def test_switching_back_promotes_the_rebuilt_primary_in_place() -> None:
    """writer back in the primary region: its generation-1 instance was created as a replica,
    so it is promoted (not the original writer's template, which would replace it)."""
    data = writer_secondary_data()
    data["writer_region"] = "us-east-1"
    data["secondary"]["database_generation"] = 1
    config = parse_config(data, "test")
    assert database_shape(Names(config, "us-east-1")) is DatabaseShape.PROMOTED
    assert database_shape(Names(config, "us-west-2")) is DatabaseShape.REPLICA


def test_without_the_generation_bump_synthesis_fails_with_the_reason() -> None:
    data = default_config_data()
    data["writer_region"] = "us-west-2"
    message = r"primary\.database_generation: 0 makes the primary region's database"
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "test")
    # A configuration built without validation is refused when the stacks are built.
    unchecked = parse_config(default_config_data(), "test").model_copy(
        update={"writer_region": "us-west-2"}
    )
    with pytest.raises(ValueError, match=message):
        build_app(unchecked, app=cdk.App())


def test_every_shape_of_the_database_accepts_iam_authentication(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """The loader and the web tier log in with IAM tokens, whatever the instance's shape
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Enabling.html):
    a replica does not inherit the setting from its source."""
    for app in (synth, synth_writer_secondary):
        for kind in ("primary", "secondary"):
            props = app.one(kind, "AWS::RDS::DBInstance")["Properties"]
            assert props["EnableIAMDatabaseAuthentication"] is True, (app.outdir, kind)


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_the_web_tier_reads_its_own_regions_instance_whatever_its_shape(
    synth: Synthesized, synth_writer_secondary: Synthesized, kind: str
) -> None:
    """The writer region's servers read the writer database, the standby's their replica:
    the endpoint they connect to and the instance IAM lets them connect to are this stack's."""
    for app in (synth, synth_writer_secondary):
        (instance,) = app.resources(kind, "AWS::RDS::DBInstance")
        user_data = json.dumps(
            app.one(kind, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
        )
        assert json.dumps({"Fn::GetAtt": [instance, "Endpoint.Address"]}) in user_data
        policies = app.resources(kind, "AWS::IAM::Policy")
        (web,) = [v for k, v in policies.items() if k.startswith("WebInstanceRoleDefaultPolicy")]
        (connect,) = [
            s
            for s in web["Properties"]["PolicyDocument"]["Statement"]
            if s["Action"] == "rds-db:connect"
        ]
        assert {"Fn::GetAtt": [instance, "DbiResourceId"]} in connect["Resource"]["Fn::Join"][1]

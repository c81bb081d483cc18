"""MySQL: the primary in the primary region, its encrypted cross-region replica."""

from __future__ import annotations

import pytest

from tapstack.naming import Names
from tests.integration.support import Region

pytestmark = pytest.mark.integration


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def test_primary_database(primary: Region) -> None:
    settings = primary.target.config.database
    db = primary.database
    assert db["DBInstanceArn"] == primary.names.db_instance_arn
    assert db["Engine"] == "mysql"
    assert db["EngineVersion"] == settings.engine_version
    assert db["MultiAZ"] is settings.multi_az
    assert db["Endpoint"]["Address"] == primary.output("DatabaseEndpoint")
    assert db["DBSubnetGroup"]["VpcId"] == primary.vpc_id
    assert db["PubliclyAccessible"] is False


def test_databases_are_encrypted_with_the_regions_key(region: Region) -> None:
    db = region.database
    assert db["StorageEncrypted"] is True
    assert _region_of(db["KmsKeyId"]) == region.name


def test_replica_reads_from_the_primary_in_the_other_region(
    primary: Region, secondary: Region
) -> None:
    replica = secondary.database
    source = replica["ReadReplicaSourceDBInstanceIdentifier"]
    assert source == primary.names.db_instance_arn
    assert _region_of(source) == primary.name != secondary.name
    assert replica["DBInstanceArn"] == secondary.names.db_instance_arn
    assert replica["Endpoint"]["Address"] == secondary.output("DatabaseEndpoint")
    assert replica["DBSubnetGroup"]["VpcId"] == secondary.vpc_id
    assert replica["EngineVersion"] == primary.database["EngineVersion"]


def test_primary_lists_its_cross_region_replica(primary: Region, secondary: Region) -> None:
    replicas = primary.database.get("ReadReplicaDBInstanceIdentifiers", [])
    assert secondary.names.db_instance_arn in replicas, replicas


def test_databases_sit_in_the_private_subnets(region: Region) -> None:
    subnets = {s["SubnetIdentifier"] for s in region.database["DBSubnetGroup"]["Subnets"]}
    assert len(subnets) == 2, subnets
    assert subnets <= {s["SubnetId"] for s in region.subnets.private + region.subnets.isolated}


def test_iam_authentication_and_deletion_protection_as_configured(primary: Region) -> None:
    db = primary.database
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    # Not an RDS-managed secret: RDS refuses a read replica of such a MySQL instance.
    assert "MasterUserSecret" not in db
    assert db["DeletionProtection"] is primary.target.config.is_retain


def test_the_master_secret_can_be_read_in_both_regions(region: Region) -> None:
    """The master credentials survive a region loss: the secret is replicated, so the
    promoted database can be logged in to (and bootstrapped) from the surviving region."""
    region.target.skip_in_emulator("AWS::SecretsManager::Secret", "the replicated master secret")
    name = Names(region.target.config, region.name).master_secret
    secret = region.target.client("secretsmanager", region.name).describe_secret(SecretId=name)
    assert _region_of(secret["ARN"]) == region.name
    if region.name == region.target.config.primary.region:
        replicas = {r["Region"]: r["Status"] for r in secret.get("ReplicationStatus", [])}
        assert replicas == {region.target.config.secondary.region: "InSync"}
    else:
        assert secret["PrimaryRegion"] == region.target.config.primary.region

"""MySQL: the primary in the primary region, its encrypted cross-region replica."""

from __future__ import annotations

import pytest

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


def test_iam_authentication_and_managed_master_secret(primary: Region) -> None:
    db = primary.database
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    secret = db.get("MasterUserSecret", {})
    assert _region_of(secret.get("SecretArn", "arn:aws:x:?:")) == primary.name
    assert db["DeletionProtection"] is primary.target.config.is_retain

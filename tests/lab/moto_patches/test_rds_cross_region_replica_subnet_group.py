"""A cross-region read replica is placed in a DB subnet group of its own region."""

from __future__ import annotations

from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import unpatched_then_patched


def replica_in_its_own_regions_subnet_group() -> dict[str, Any]:
    east = boto3.client("rds", region_name="us-east-1")
    west = boto3.client("rds", region_name="us-west-2")
    ec2 = boto3.client("ec2", region_name="us-west-2")
    source = east.create_db_instance(
        DBInstanceIdentifier="source",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="password1",
        AllocatedStorage=20,
    )["DBInstance"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-west-2{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    west.create_db_subnet_group(
        DBSubnetGroupName="replica-subnets",
        DBSubnetGroupDescription="replica",
        SubnetIds=subnets,
    )
    replica = west.create_db_instance_read_replica(
        DBInstanceIdentifier="replica",
        SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBSubnetGroupName="replica-subnets",
    )["DBInstance"]
    described = west.describe_db_instances(DBInstanceIdentifier="replica")["DBInstances"][0]
    return {
        "arn": replica["DBInstanceArn"],
        "subnet_group": described["DBSubnetGroup"]["DBSubnetGroupName"],
        "vpc": described["DBSubnetGroup"]["VpcId"] == vpc,
        "source": described["ReadReplicaSourceDBInstanceIdentifier"] == source["DBInstanceArn"],
    }


def test_a_cross_region_replica_finds_its_subnet_group() -> None:
    outcome = unpatched_then_patched(
        __file__, "replica_in_its_own_regions_subnet_group", "rds_cross_region_replica_subnet_group"
    )

    # moto 5.2.5 looks the group up in the source's region.
    assert outcome.unpatched["error"].startswith("DBSubnetGroupNotFoundFault")
    assert "Subnet Group replica-subnets not found" in outcome.unpatched["error"]

    assert outcome.patched == {
        "arn": "arn:aws:rds:us-west-2:123456789012:db:replica",
        "subnet_group": "replica-subnets",
        "vpc": True,
        "source": True,
    }

"""AWS::RDS::DBInstance: a Ref to its parameter group, IAM database authentication and
deletion protection."""

from __future__ import annotations

from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    physical_id,
    unpatched_then_patched,
    vpc_with_two_subnets,
)

MYSQL = {
    "Engine": "mysql",
    "DBInstanceClass": "db.t3.micro",
    "AllocatedStorage": "20",
    "MasterUsername": "admin",
    "MasterUserPassword": "password1",
    "DBSubnetGroupName": {"Ref": "Subnets"},
}


def _template(**instances: dict[str, Any]) -> dict[str, Any]:
    resources = vpc_with_two_subnets()
    resources["Subnets"] = {
        "Type": "AWS::RDS::DBSubnetGroup",
        "Properties": {
            "DBSubnetGroupDescription": "database",
            "SubnetIds": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
        },
    }
    resources["Params"] = {
        "Type": "AWS::RDS::DBParameterGroup",
        "Properties": {"Description": "database", "Family": "mysql8.0", "Parameters": {}},
    }
    for logical_id, properties in instances.items():
        resources[logical_id] = {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {**MYSQL, **properties},
        }
    return {"Resources": resources}


def instances_as_the_cdk_writes_them() -> dict[str, Any]:
    with_group = create_stack(
        _template(Db={"DBParameterGroupName": {"Ref": "Params"}}), name="group"
    )
    flagged = {"EnableIAMDatabaseAuthentication": True, "DeletionProtection": True}
    properties = create_stack(_template(Db=flagged), name="props")
    report: dict[str, Any] = {"group": with_group, "props": properties}
    rds = boto3.client("rds", region_name=REGION)
    instances = {d["DBInstanceIdentifier"]: d for d in rds.describe_db_instances()["DBInstances"]}
    db = instances[physical_id("Db", "props")]
    report["db"] = {
        "iam_authentication": db["IAMDatabaseAuthenticationEnabled"],
        "deletion_protection": db["DeletionProtection"],
    }
    if with_group["status"] == "CREATE_COMPLETE":
        grouped = instances[physical_id("Db", "group")]
        report["parameter_groups"] = [
            g["DBParameterGroupName"] for g in grouped["DBParameterGroups"]
        ]
        groups = rds.describe_db_parameter_groups()["DBParameterGroups"]
        report["params"] = [
            g["DBParameterGroupName"]
            for g in groups
            if g["DBParameterGroupName"].startswith("group-params-")
        ]
    return report


def test_instance_properties_are_read_as_cloudformation_writes_them() -> None:
    outcome = unpatched_then_patched(
        __file__, "instances_as_the_cdk_writes_them", "rds_instance_properties"
    )

    unpatched = outcome.unpatched
    # The Ref resolves to moto's parameter group object, which moto uses as a name.
    assert "'DBParameterGroup' object has no attribute" in unpatched["group"]["create_error"]
    assert unpatched["group"]["status"] == "CREATE_IN_PROGRESS"
    assert unpatched["props"]["status"] == "CREATE_COMPLETE"
    assert unpatched["db"] == {"iam_authentication": False, "deletion_protection": False}

    patched = outcome.patched
    assert patched["group"]["status"] == "CREATE_COMPLETE"
    assert patched["parameter_groups"] == patched["params"]
    assert len(patched["params"]) == 1
    assert patched["db"] == {"iam_authentication": True, "deletion_protection": True}

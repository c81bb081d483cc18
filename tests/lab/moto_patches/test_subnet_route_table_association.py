"""AWS::EC2::SubnetRouteTableAssociation really associates the route table."""

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


def subnet_on_its_own_route_table() -> dict[str, Any]:
    resources = vpc_with_two_subnets()
    resources["Table"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}}
    resources["Association"] = {
        "Type": "AWS::EC2::SubnetRouteTableAssociation",
        "Properties": {"SubnetId": {"Ref": "SubnetA"}, "RouteTableId": {"Ref": "Table"}},
    }
    report = create_stack({"Resources": resources})
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet = physical_id("SubnetA")
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
    )["RouteTables"]
    report["tables_of_the_subnet"] = [t["RouteTableId"] for t in tables]
    report["table"] = physical_id("Table")
    return report


def test_the_subnet_is_associated_with_the_route_table() -> None:
    outcome = unpatched_then_patched(
        __file__, "subnet_on_its_own_route_table", "subnet_route_table_association"
    )

    # moto 5.2.5: the stack completes, but no route table lists the subnet.
    assert outcome.unpatched["status"] == "CREATE_COMPLETE"
    assert outcome.unpatched["tables_of_the_subnet"] == []

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["tables_of_the_subnet"] == [outcome.patched["table"]]

"""A resource moto cannot create fails its stack, with a CREATE_FAILED event naming it."""

from __future__ import annotations

from typing import Any

from tests.lab.moto_patches.moto_support import create_stack, unpatched_then_patched


def subnet_in_a_missing_vpc() -> dict[str, Any]:
    broken = {"VpcId": "vpc-0doesnotexist", "CidrBlock": "10.0.0.0/24"}
    return create_stack(
        {"Resources": {"Broken": {"Type": "AWS::EC2::Subnet", "Properties": broken}}}
    )


def test_a_failed_resource_rolls_its_stack_back_and_names_itself() -> None:
    outcome = unpatched_then_patched(
        __file__, "subnet_in_a_missing_vpc", "failed_resource_fails_stack"
    )

    # moto 5.2.5: CreateStack itself fails, the stack stays in progress, no event names Broken.
    assert "InvalidVpcID.NotFound" in outcome.unpatched["create_error"]
    assert outcome.unpatched["status"] == "CREATE_IN_PROGRESS"
    assert outcome.unpatched["reasons"] == {}

    patched = outcome.patched
    assert "create_error" not in patched
    assert patched["status"] == "ROLLBACK_COMPLETE"
    assert patched["events"] == [
        ["s", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS"],
        ["Broken", "AWS::EC2::Subnet", "CREATE_FAILED"],
        ["s", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS"],
        ["s", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"],
    ]
    assert "vpc-0doesnotexist" in patched["reasons"]["Broken"]
    assert [(e["event"], e["logical_id"]) for e in outcome.journal] == [
        ("resource_failed", "Broken")
    ]

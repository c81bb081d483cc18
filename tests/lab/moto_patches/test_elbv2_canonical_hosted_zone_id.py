"""Fn::GetAtt CanonicalHostedZoneID of an ELBv2 load balancer."""

from __future__ import annotations

from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    parameter,
    parameter_value,
    physical_id,
    unpatched_then_patched,
    vpc_with_two_subnets,
)


def zone_of_a_load_balancer() -> dict[str, Any]:
    resources = vpc_with_two_subnets()
    resources["Sg"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {"GroupDescription": "lb", "VpcId": {"Ref": "Vpc"}},
    }
    resources["Lb"] = {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "SecurityGroups": [{"Ref": "Sg"}],
        },
    }
    resources["Zone"] = parameter("/zone", {"Fn::GetAtt": ["Lb", "CanonicalHostedZoneID"]})
    report = create_stack({"Resources": resources})
    elbv2 = boto3.client("elbv2", region_name=REGION)
    described = elbv2.describe_load_balancers(LoadBalancerArns=[physical_id("Lb")])
    report["zone"] = parameter_value("/zone")
    report["described"] = described["LoadBalancers"][0]["CanonicalHostedZoneId"]
    return report


def test_the_load_balancer_zone_is_answered() -> None:
    outcome = unpatched_then_patched(
        __file__, "zone_of_a_load_balancer", "elbv2_canonical_hosted_zone_id"
    )

    # moto 5.2.5 logs "not implemented" and leaves the Fn::GetAtt object in the property.
    assert outcome.unpatched["status"] == "CREATE_COMPLETE"
    assert outcome.unpatched["zone"] == "{'Fn::GetAtt': ['Lb', 'CanonicalHostedZoneID']}"

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["zone"] == outcome.patched["described"]
    assert outcome.patched["zone"].startswith("Z")

"""AWS::SSM::Parameter takes CloudFormation's tag map."""

from __future__ import annotations

from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    parameter,
    unpatched_then_patched,
)


def parameter_with_a_tag_map() -> dict[str, Any]:
    tagged = parameter("/tagged", "value")
    tagged["Properties"]["Tags"] = {"team": "data"}
    report = create_stack({"Resources": {"Tagged": tagged}})
    if report["status"] == "CREATE_COMPLETE":
        ssm = boto3.client("ssm", region_name=REGION)
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/tagged")
        report["tags"] = tags["TagList"]
    return report


def test_parameter_tags_are_read_as_a_map() -> None:
    outcome = unpatched_then_patched(__file__, "parameter_with_a_tag_map", "ssm_parameter_tags")

    # moto 5.2.5 iterates the map as if it were the API's list of {Key, Value}.
    assert (
        outcome.unpatched["create_error"] == "TypeError: string indices must be integers, not 'str'"
    )
    assert outcome.unpatched["status"] == "CREATE_IN_PROGRESS"

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["tags"] == [{"Key": "team", "Value": "data"}]

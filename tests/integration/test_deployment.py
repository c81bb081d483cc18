"""The deployment as a whole: every stack complete, in its region, with its outputs."""

from __future__ import annotations

import pytest

from tests.integration.support import Region, Target

pytestmark = pytest.mark.integration

COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}


def test_every_stack_is_deployed_and_complete(target: Target) -> None:
    config = target.config
    regions = {
        "dns": config.primary.region,
        "secondary-storage": config.secondary.region,
        "primary": config.primary.region,
        "secondary": config.secondary.region,
    }
    statuses = {}
    for name in target.stack_names():
        region = regions[name.removeprefix(f"{config.prefix}-")]
        stacks = target.client("cloudformation", region).describe_stacks(StackName=name)["Stacks"]
        statuses[name] = stacks[0]["StackStatus"]
    assert all(status in COMPLETE for status in statuses.values()), statuses


def test_outputs_name_both_regions(target: Target, region: Region) -> None:
    for key in ("VpcId", "LoadBalancerDnsName", "HealthCheckId", "DatabaseEndpoint", "DatabaseArn"):
        assert region.output(key), key
    assert region.output("DatabaseArn") == region.names.db_instance_arn


def test_outputs_are_unique_across_stacks(target: Target) -> None:
    seen: dict[str, str] = {}
    for stack, outputs in target.stack_outputs.items():
        for key in outputs:
            assert key not in seen, f"{key} is an output of both {seen[key]} and {stack}"
            seen[key] = stack

"""The secondary-storage stack publishes the region's data key ARN under a
parameter name that the secondary stack reads, not through a cross-stack export; from the
first move of the writer on, its bucket replicates back to the primary region's."""

from __future__ import annotations

from typing import Any

import pytest

from tapstack.config import parse_config
from tapstack.storage.contract import replicates_back
from tests.support import Synthesized, default_config_data


def test_secondary_stack_reads_the_key_arn_by_parameter_name_not_export(
    synth: Synthesized,
) -> None:
    parameter = synth.one("secondary-storage", "AWS::SSM::Parameter")["Properties"]
    assert parameter["Name"] == "/tapstack-prod/us-west-2/data-key-arn"
    params = synth.templates["secondary"]["Parameters"]
    key_param = next(k for k in params if "datakeyarn" in k)
    assert params[key_param]["Default"] == "/tapstack-prod/us-west-2/data-key-arn"
    assert params[key_param]["Type"] == "AWS::SSM::Parameter::Value<String>"


@pytest.mark.parametrize(
    ("change", "replicates"),
    [
        ({}, False),
        ({"writer_region": "us-west-2", "primary": {"database_generation": 1}}, True),
        # the writer moved back: the rule stays (pending objects are not stranded)
        ({"primary": {"database_generation": 1}, "secondary": {"database_generation": 1}}, True),
    ],
)
def test_the_secondary_bucket_replicates_back_from_the_first_writer_move_on(
    change: dict[str, Any], replicates: bool
) -> None:
    data = default_config_data()
    for key, value in change.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    assert replicates_back(parse_config(data, "test")) is replicates

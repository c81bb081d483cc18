"""The secondary-storage stack publishes the region's data key ARN under a
parameter name that the secondary stack reads, not through a cross-stack export."""

from __future__ import annotations

from tests.support import Synthesized


def test_secondary_stack_reads_the_key_arn_by_parameter_name_not_export(
    synth: Synthesized,
) -> None:
    parameter = synth.one("secondary-storage", "AWS::SSM::Parameter")["Properties"]
    assert parameter["Name"] == "/tapstack-prod/us-west-2/data-key-arn"
    params = synth.templates["secondary"]["Parameters"]
    key_param = next(k for k in params if "datakeyarn" in k)
    assert params[key_param]["Default"] == "/tapstack-prod/us-west-2/data-key-arn"
    assert params[key_param]["Type"] == "AWS::SSM::Parameter::Value<String>"

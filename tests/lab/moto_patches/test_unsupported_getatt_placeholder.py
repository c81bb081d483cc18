"""An Fn::GetAtt of a resource moto does not model resolves to a marked placeholder."""

from __future__ import annotations

from typing import Any

from tests.lab.moto_patches.moto_support import (
    create_stack,
    parameter,
    parameter_value,
    unpatched_then_patched,
)


def arn_of_an_unmodelled_alarm() -> dict[str, Any]:
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",  # moto has no CloudFormation model for it
        "Properties": {
            "MetricName": "Errors",
            "Namespace": "TapStack",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    }
    report = create_stack(
        {
            "Resources": {
                "Alarm": alarm,
                "Reader": parameter("/alarm", {"Fn::GetAtt": ["Alarm", "Arn"]}),
            }
        }
    )
    if report["status"] == "CREATE_COMPLETE":
        report["value"] = parameter_value("/alarm")
    return report


def test_an_unanswerable_getatt_becomes_a_journaled_placeholder() -> None:
    outcome = unpatched_then_patched(
        __file__, "arn_of_an_unmodelled_alarm", "unsupported_getatt_placeholder"
    )

    # moto 5.2.5: the *reading* resource fails the stack.
    assert (
        "instance of Fn::GetAtt references undefined resource Alarm"
        in outcome.unpatched["create_error"]
    )
    assert outcome.unpatched["status"] == "CREATE_IN_PROGRESS"

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["value"] == (
        "arn:aws:emulator:us-east-1:123456789012:not-emulated/Alarm/Arn"
    )
    assert [(e["event"], e["logical_id"], e["type"], e["attribute"]) for e in outcome.journal] == [
        ("attribute_not_emulated", "Alarm", "AWS::CloudWatch::Alarm", "Arn")
    ]

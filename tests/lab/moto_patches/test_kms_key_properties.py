"""AWS::KMS::Key takes CloudFormation's Key/Value tags and a key policy object."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    physical_id,
    unpatched_then_patched,
)

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def tagged_key_with_a_policy() -> dict[str, Any]:
    properties = {"KeyPolicy": POLICY, "Tags": [{"Key": "team", "Value": "data"}]}
    report = create_stack(
        {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": properties}}}
    )
    if report["status"] == "CREATE_COMPLETE":
        kms = boto3.client("kms", region_name=REGION)
        key_id = physical_id("Key")
        report["tags"] = kms.list_resource_tags(KeyId=key_id)["Tags"]
        report["policy"] = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    return report


def test_key_tags_and_policy_are_read_as_cloudformation_writes_them() -> None:
    outcome = unpatched_then_patched(__file__, "tagged_key_with_a_policy", "kms_key_properties")

    # moto 5.2.5 hands the template's tags to the API model, which wants TagKey/TagValue.
    assert outcome.unpatched["create_error"] == "KeyError: 'TagKey'"
    assert outcome.unpatched["status"] == "CREATE_IN_PROGRESS"

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["tags"] == [{"TagKey": "team", "TagValue": "data"}]
    assert json.loads(outcome.patched["policy"]) == POLICY

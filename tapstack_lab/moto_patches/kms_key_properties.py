"""``AWS::KMS::Key``: tags and key policy as CloudFormation writes them.

Gap
    In a template, ``AWS::KMS::Key`` ``Tags`` is a list of ``{"Key", "Value"}`` and
    ``KeyPolicy`` a JSON *object*
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html).
    moto 5.2.5's ``Key.create_from_cloudformation_json`` passes both to the KMS API model
    unchanged, which expects ``{"TagKey", "TagValue"}`` tags and a policy *string*.

Why the demo needs it
    Every CDK ``kms.Key`` is tagged (the app tags every resource) and has a key policy.

Private members
    None. No public hook exists: the patch wraps ``Key.create_from_cloudformation_json``.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation AWS::KMS::Key: convert Tags (Key/Value) and KeyPolicy (object)
    to the KMS API's shapes

    Reproduction (moto 5.2.5, ``mock_aws``)::

        template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [...]},
            "Tags": [{"Key": "team", "Value": "data"}]}}}}
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        key_id = cfn.describe_stack_resource(StackName="s", LogicalResourceId="Key")[
            "StackResourceDetail"]["PhysicalResourceId"]
        kms.list_resource_tags(KeyId=key_id)
        kms.get_key_policy(KeyId=key_id, PolicyName="default")

    Expected: the tag ``team=data``; the policy as a JSON string.

    Actual: see the test (``tests/lab/moto_patches/test_kms_key_properties.py``).

    Suggested fix (``moto/kms/models.py``, ``Key.create_from_cloudformation_json``):
    ``tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags",
    [])]`` and ``policy=json.dumps(p) if isinstance(p, dict) else p``.
"""

from __future__ import annotations

import json
from typing import Any

from tapstack_lab.moto_patches._hooks import transform_cfn_properties

NAME = "KMS key tags and key policy"


def apply() -> None:
    from moto.kms.models import Key

    transform_cfn_properties(Key, NAME, _as_the_api_takes_them)


def _as_the_api_takes_them(properties: dict[str, Any]) -> None:
    properties["Tags"] = [
        {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
        for tag in properties.get("Tags") or []
    ]
    if isinstance(properties.get("KeyPolicy"), dict):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])

"""``AWS::SSM::Parameter``: tags as CloudFormation writes them (a map).

Gap
    ``AWS::SSM::Parameter``'s ``Tags`` is a JSON *object* of key to value
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-parameter.html#cfn-ssm-parameter-tags),
    unlike most types. moto 5.2.5's ``Parameter.create_from_cloudformation_json`` passes it
    to ``put_parameter``, which expects the API's list of ``{"Key", "Value"}``.

Why the demo needs it
    The CDK bootstrap stack and the app's parameters are tagged.

Private members
    None. No public hook exists: the patch wraps ``Parameter.create_from_cloudformation_json``.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation AWS::SSM::Parameter: Tags is a map, not a list

    Reproduction (moto 5.2.5, ``mock_aws``)::

        template = {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/p", "Type": "String", "Value": "v", "Tags": {"team": "data"}}}}}
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/p")

    Expected: ``[{"Key": "team", "Value": "data"}]``.

    Actual: see the test (``tests/lab/moto_patches/test_ssm_parameter_tags.py``).

    Suggested fix (``moto/ssm/models.py``, ``Parameter.create_from_cloudformation_json``):
    ``tags=[{"Key": k, "Value": v} for k, v in (properties.get("Tags") or {}).items()]``.
"""

from __future__ import annotations

from typing import Any

from tapstack_lab.moto_patches._hooks import transform_cfn_properties

NAME = "SSM parameter tags"


def apply() -> None:
    from moto.ssm.models import Parameter

    transform_cfn_properties(Parameter, NAME, _as_the_api_takes_them)


def _as_the_api_takes_them(properties: dict[str, Any]) -> None:
    tags = properties.get("Tags")
    if isinstance(tags, dict):
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]

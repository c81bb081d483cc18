"""An ``Fn::GetAtt`` moto cannot answer resolves to a marked placeholder instead of failing the
resource that reads it.

Gap
    On CloudFormation every documented attribute of every resource type can be read (each
    type's "Return values" section, e.g.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-alarm.html#aws-resource-cloudwatch-alarm-return-values).
    moto 5.2.5 models a subset of types and attributes. For a type it has no model for
    (``AWS::CloudWatch::Alarm``, ``AWS::Backup::BackupVault``, ...) it skips the resource,
    and any ``Fn::GetAtt`` on it fails the *reading* resource's stack with
    ``ValidationError: Template error: instance of Fn::GetAtt references undefined resource``.
    For an attribute it does not know on a modelled type it raises ``ValidationError`` (or,
    for some models, logs a warning and leaves the ``{"Fn::GetAtt": ...}`` object itself in
    the property).

Why the demo needs it
    The monitoring wiring reads ``Arn`` of ``AWS::CloudWatch::Alarm`` (19 times: composite
    alarms, alarm actions, dashboards). Without this patch the regional stacks do not
    deploy. The placeholder is
    ``arn:aws:emulator:REGION:ACCOUNT:not-emulated/LOGICAL-ID/ATTRIBUTE``; every use is
    journaled and the demo lists it ("Fn::GetAtt ... is not emulated: a placeholder was
    used"). Inside an output the attribute is not replaced: the output is left out
    (``outputs_resolved_one_by_one``).

    This is emulator policy rather than a moto bug (moto cannot invent values for types it
    does not model), which is why the upstream text below is a feature request.

Private members
    ``ResourceMap._resource_json_map`` (to name the resource type in the journal: moto keeps
    no public map of logical ID to template entry). Region and account are read from the
    public pseudo parameters (``resources_map["AWS::Region"]``). No public hook exists: the
    patch wraps ``moto.cloudformation.parsing.clean_json``.

Upstream report (github.com/getmoto/moto, feature request)
    Title: CloudFormation: option to resolve Fn::GetAtt of unsupported resources to a
    placeholder instead of failing the stack

    Reproduction (moto 5.2.5, ``mock_aws``)::

        template = {"Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {...}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                "DisplayName": {"Fn::GetAtt": ["Alarm", "Arn"]}}},
        }}
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        #   -> ValidationError: Template error: instance of Fn::GetAtt references
        #      undefined resource Alarm

    Expected: a way (for example ``MOTO_CLOUDFORMATION_UNSUPPORTED_GETATT=placeholder``)
    to let such templates deploy, the attribute resolving to a recognisable placeholder and
    a warning naming resource and attribute, as moto already does when it skips an
    unsupported resource type.

    Actual: the whole stack fails, although the resource that reads the attribute is
    modelled.
"""

from __future__ import annotations

from typing import Any

from tapstack_lab.moto_patches import journal
from tapstack_lab.moto_patches._hooks import Wrapper, replace_function
from tapstack_lab.moto_patches.outputs_resolved_one_by_one import in_output

NAME = "placeholder for other unsupported Fn::GetAtt"


def apply() -> None:
    from moto.cloudformation import parsing

    replace_function(parsing, "clean_json", NAME, _placeholder_on_failure)


def placeholder(region: str, account: str, logical_id: str, attribute: str) -> str:
    """The value an unanswered ``Fn::GetAtt`` resolves to."""
    return f"arn:aws:emulator:{region}:{account}:not-emulated/{logical_id}/{attribute}"


def _placeholder_on_failure(original: Wrapper) -> Wrapper:
    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if not (
            isinstance(resource_json, dict)
            and "Fn::GetAtt" in resource_json
            and len(resource_json) == 1
        ):
            return original(resource_json, resources_map)
        get_att = resource_json["Fn::GetAtt"]
        try:
            value = original(resource_json, resources_map)
        except Exception as error:  # an unsupported attribute or resource
            if in_output():
                raise
            return _placeholder(get_att, resources_map, journal.error_text(error))
        if isinstance(value, dict) and "Fn::GetAtt" in value:  # moto gave up silently
            if in_output():
                raise ValueError(f"Fn::GetAtt {value['Fn::GetAtt']} is not implemented by moto")
            return _placeholder(get_att, resources_map, "not implemented by moto")
        return value

    return clean_json


def _placeholder(get_att: Any, resources_map: Any, reason: str) -> str:
    if isinstance(get_att, str):  # the short form "Resource.Attribute"
        logical_id, _, attribute = get_att.partition(".")
    else:
        logical_id, attribute = (list(get_att) + ["", ""])[:2]
    declared = resources_map._resource_json_map.get(logical_id) or {}  # no public accessor
    region, account = resources_map["AWS::Region"], resources_map["AWS::AccountId"]
    journal.record(
        {
            "event": "attribute_not_emulated",
            "stack": resources_map["AWS::StackName"],
            "region": region,
            "logical_id": logical_id,
            "type": declared.get("Type", "?"),
            "attribute": attribute,
            "reason": reason,
        }
    )
    return placeholder(region, account, logical_id, attribute)

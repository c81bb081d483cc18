"""A stack output moto cannot resolve is left out on its own, instead of failing the stack or
hiding every other output.

Gap
    CloudFormation resolves each output of a stack on its own
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html).
    moto 5.2.5 checks every ``Fn::GetAtt`` of the ``Outputs`` section before it creates
    anything (``ResourceMap.validate_outputs``): an output reading an attribute of a
    resource type moto has no model for (for example ``BackupVaultArn`` of an
    ``AWS::Backup::BackupVault``) makes ``CreateStack`` fail (``AttributeError`` on the
    missing model, an HTTP 500). And ``DescribeStacks`` evaluates all outputs together: one
    that raises makes the call fail, so no output of the stack can be read.

Why the demo needs it
    Both regional stacks export their backup vault's ARN, and moto has no model for
    ``AWS::Backup::BackupVault``: without this patch those stacks do not deploy. With it,
    the two outputs are missing and the demo lists them ("output ... not resolved").

Private members
    None. No public hook exists: the patch wraps ``moto.cloudformation.parsing.parse_output``
    and ``ResourceMap.validate_outputs``.

Upstream report (github.com/getmoto/moto, issue)
    Title: CloudFormation: an output reading Fn::GetAtt of an unsupported resource type
    fails CreateStack with an HTTP 500

    Reproduction (moto 5.2.5, ``mock_aws``)::

        template = {
            "Resources": {
                "Vault": {"Type": "AWS::Backup::BackupVault",
                          "Properties": {"BackupVaultName": "v"}},
                "Topic": {"Type": "AWS::SNS::Topic"},
            },
            "Outputs": {
                "VaultArn": {"Value": {"Fn::GetAtt": ["Vault", "BackupVaultArn"]}},
                "TopicArn": {"Value": {"Ref": "Topic"}},
            },
        }
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="s", TemplateBody=json.dumps(template))
        #   -> botocore.exceptions.ClientError: ... (500) ... 'NoneType' object has no
        #      attribute 'has_cfn_attr'

    Expected: the stack is created (moto already skips the unsupported resource with a
    warning); ``TopicArn`` is reported; ``VaultArn`` is left out (or a clear
    ``UnsupportedAttribute`` error is raised for that output only).

    Actual: an internal error (``AttributeError``) from ``validate_outputs``, because
    ``resource_class_from_type`` returns ``None`` for a type without a model.

    Suggested fix: in ``ResourceMap.validate_outputs``, skip (with the same warning as for
    the resource) outputs whose resource type has no model; in ``OutputMap.__getitem__``,
    leave out an output whose value cannot be resolved instead of failing the whole
    ``DescribeStacks`` response.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from tapstack_lab.moto_patches import journal
from tapstack_lab.moto_patches._hooks import Wrapper, replace_function

NAME = "resolve stack outputs one by one"
#: Set while an output is resolved: an attribute moto cannot answer then leaves the output
#: out instead of resolving to a placeholder (``unsupported_getatt_placeholder`` reads it).
_state = threading.local()


def apply() -> None:
    from moto.cloudformation import parsing

    replace_function(parsing, "parse_output", NAME, _leave_out_unresolved)
    replace_function(parsing.ResourceMap, "validate_outputs", NAME, _skip_unmodelled)


def _leave_out_unresolved(original: Wrapper) -> Wrapper:
    def parse_output(output_logical_id: str, output_json: Any, resources_map: Any) -> Any:
        with resolving_output():
            try:
                return original(output_logical_id, output_json, resources_map)
            except Exception as error:  # any failure leaves this output out
                value = output_json.get("Value") if isinstance(output_json, dict) else None
                journal.record(
                    {
                        "event": "output_unresolved",
                        "stack": resources_map["AWS::StackName"],
                        "output": output_logical_id,
                        "value": value,
                        "reason": f"{type(error).__name__}: {error}",
                    }
                )
                return None

    return parse_output


def _skip_unmodelled(original: Wrapper) -> Wrapper:
    def validate_outputs(self: Any) -> None:
        # moto looks up the model of the resource an output reads; a type without a model
        # raises AttributeError (on None). parse_output leaves such an output out instead.
        with contextlib.suppress(AttributeError):
            original(self)

    return validate_outputs


@contextlib.contextmanager
def resolving_output() -> Iterator[None]:
    _state.active = True
    try:
        yield
    finally:
        _state.active = False


def in_output() -> bool:
    """True while an output (not a resource property) is being resolved."""
    return bool(getattr(_state, "active", False))

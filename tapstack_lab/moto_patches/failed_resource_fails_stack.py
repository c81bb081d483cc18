"""A resource that cannot be created fails its stack, as on CloudFormation.

Gap
    On CloudFormation a resource that fails to create gets a ``CREATE_FAILED`` event with its
    reason, and the stack rolls back and ends in ``ROLLBACK_COMPLETE`` (or
    ``CREATE_FAILED``). See "Stack status codes" and "Resource status codes" in
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html.
    moto 5.2.5 creates the resources inside ``CreateStack``: the backend's exception escapes
    the request (the caller gets ``ValidationError``/``InternalFailure`` for the *call*), no
    event names the resource, and the stack stays listed as ``CREATE_IN_PROGRESS`` forever.

Why the demo needs it
    The CDK CLI waits on the stack's events and status. Without this patch a template the
    emulator refuses (a typo in a property, a reference to something moto does not have)
    ends in an error about the API call, with no word of which resource failed; the
    deployer (``tapstack_lab.deploy``) reports stack, resource, type and reason from the
    ``CREATE_FAILED`` event, as it does on AWS. ``tests/integration/test_local_emulator.py``
    relies on it.

Private members
    None. No public hook exists: the patch wraps ``moto.cloudformation.parsing.
    parse_and_create_resource`` (to learn which resource raised) and
    ``moto.cloudformation.models.Stack.create_resources``, and appends
    ``moto.cloudformation.models.Event`` objects to the stack's public ``events`` list
    (instead of calling the private ``Stack._add_stack_event``).

Upstream report (github.com/getmoto/moto, issue)
    Title: CloudFormation: a resource that fails to create leaves the stack
    CREATE_IN_PROGRESS with no CREATE_FAILED event

    Reproduction (moto 5.2.5, ``mock_aws``)::

        cfn = boto3.client("cloudformation", region_name="us-east-1")
        template = {"Resources": {"Broken": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": "vpc-0doesnotexist", "CidrBlock": "10.0.0.0/24"}}}}
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        #   -> raises ClientError (InvalidVpcID.NotFound) from CreateStack itself
        cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"]
        #   -> "CREATE_IN_PROGRESS", and describe_stack_events has no CREATE_FAILED

    Expected (as CloudFormation): ``CreateStack`` returns the stack id; the stack ends in
    ``ROLLBACK_COMPLETE`` with a ``CREATE_FAILED`` event for ``Broken``
    (``AWS::EC2::Subnet``) whose ``ResourceStatusReason`` carries the EC2 error, followed by
    ``ROLLBACK_IN_PROGRESS`` and ``ROLLBACK_COMPLETE`` stack events.

    Actual: ``CreateStack`` fails with the EC2 error; the stack stays
    ``CREATE_IN_PROGRESS``; no event names the resource.

    Suggested fix: in ``Stack.create_resources``, catch the exception raised while creating
    a resource, add the ``CREATE_FAILED`` resource event and the rollback stack events, and
    set the status, instead of letting it escape ``CreateStack``.
"""

from __future__ import annotations

import logging
from typing import Any

from tapstack_lab.moto_patches import journal
from tapstack_lab.moto_patches._hooks import Wrapper, replace_function

NAME = "a failed resource fails its stack"
logger = logging.getLogger(__name__)
#: Set on the exception by the resource that raised it: (logical ID, resource type).
_FAILED_RESOURCE = "_tapstack_failed_resource"


def apply() -> None:
    from moto.cloudformation import models, parsing

    replace_function(parsing, "parse_and_create_resource", NAME, _name_the_failed_resource)
    replace_function(models.Stack, "create_resources", NAME, _fail_the_stack)


def _name_the_failed_resource(original: Wrapper) -> Wrapper:
    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except Exception as error:
            if not hasattr(error, _FAILED_RESOURCE):  # the innermost resource is the one
                setattr(error, _FAILED_RESOURCE, (logical_id, resource_json.get("Type", "")))
            raise

    return parse_and_create_resource


def _fail_the_stack(original: Wrapper) -> Wrapper:
    from moto.cloudformation.models import Event

    def create_resources(self: Any) -> None:
        try:
            original(self)
        except Exception as error:  # reported as CloudFormation reports it
            logical_id, resource_type = getattr(error, _FAILED_RESOURCE, ("", ""))
            reason = journal.error_text(error)
            logger.warning(
                "stack %s: %s (%s) failed: %s", self.name, logical_id, resource_type, reason
            )
            journal.record(
                {
                    "event": "resource_failed",
                    "stack": self.name,
                    "region": self.region_name,
                    "logical_id": logical_id,
                    "type": resource_type,
                    "reason": reason,
                }
            )

            def event(status: str, reason: str | None, **resource: str) -> Any:
                return Event(
                    stack_id=self.stack_id,
                    stack_name=self.name,
                    logical_resource_id=resource.get("logical_id") or self.name,
                    physical_resource_id=resource.get("physical_id", self.stack_id),
                    resource_type=resource.get("type") or "AWS::CloudFormation::Stack",
                    resource_status=status,
                    resource_status_reason=reason,
                    resource_properties=None,
                )

            self.events.append(
                event(
                    "CREATE_FAILED",
                    reason,
                    logical_id=logical_id,
                    physical_id="",
                    type=resource_type,
                )
            )
            self.events.append(
                event(
                    "ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to create: [{logical_id}]. "
                    "Rollback requested by user.",
                )
            )
            self.events.append(event("ROLLBACK_COMPLETE", None))
            self.status = "ROLLBACK_COMPLETE"

    return create_resources

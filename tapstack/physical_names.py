"""The explicit physical names in a synthesized CloudFormation template.

A resource with an explicit name (``BucketName``, ``FunctionName``...) cannot be created
while another resource of that name exists: CloudFormation fails the stack with
"already exists". That happens on a real account after a destroy with
``removal_mode: retain`` (the retained bucket, log group or vault keeps its name), or when
something else took the name. :func:`physical_names` lists every such name a template
sets, so that ``tapstack preflight`` can look each one up before a deploy.

Only names that are known before deployment are listed: literal strings, and ``Fn::Join``
/ ``Fn::Sub`` whose pieces are literals or pseudo parameters (``AWS::Region``,
``AWS::AccountId``...) resolvable from the stack's account and region. A name built from
another resource's attribute or from a template parameter is skipped.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Scope(StrEnum):
    """Where a name must be unique."""

    GLOBAL = "global"
    """Across regions: the whole partition for S3 buckets, the account for IAM and
    CloudWatch dashboards."""
    REGIONAL = "regional"
    """Within one account and region."""


@dataclass(frozen=True)
class NameProperty:
    """Which property of a resource type holds its physical name, and its scope."""

    resource_type: str
    path: tuple[str, ...]
    scope: Scope = Scope.REGIONAL


#: Resource types with an explicit name property. Route 53 hosted zones are left out on
#: purpose: zone names need not be unique (``tapstack preflight`` checks them on its own),
#: and health checks have no name.
NAME_PROPERTIES: tuple[NameProperty, ...] = (
    NameProperty("AWS::S3::Bucket", ("BucketName",), Scope.GLOBAL),
    NameProperty("AWS::IAM::Role", ("RoleName",), Scope.GLOBAL),
    NameProperty("AWS::IAM::ManagedPolicy", ("ManagedPolicyName",), Scope.GLOBAL),
    NameProperty("AWS::IAM::InstanceProfile", ("InstanceProfileName",), Scope.GLOBAL),
    NameProperty("AWS::IAM::User", ("UserName",), Scope.GLOBAL),
    NameProperty("AWS::IAM::Group", ("GroupName",), Scope.GLOBAL),
    # "All dashboards in your account are global, not region-specific" (CloudWatch docs).
    NameProperty("AWS::CloudWatch::Dashboard", ("DashboardName",), Scope.GLOBAL),
    NameProperty("AWS::Logs::LogGroup", ("LogGroupName",)),
    NameProperty("AWS::Lambda::Function", ("FunctionName",)),
    NameProperty("AWS::SNS::Topic", ("TopicName",)),
    NameProperty("AWS::SQS::Queue", ("QueueName",)),
    NameProperty("AWS::KMS::Alias", ("AliasName",)),
    NameProperty("AWS::RDS::DBInstance", ("DBInstanceIdentifier",)),
    NameProperty("AWS::RDS::DBCluster", ("DBClusterIdentifier",)),
    NameProperty("AWS::RDS::DBSubnetGroup", ("DBSubnetGroupName",)),
    NameProperty("AWS::RDS::DBParameterGroup", ("DBParameterGroupName",)),
    NameProperty("AWS::RDS::DBClusterParameterGroup", ("DBClusterParameterGroupName",)),
    NameProperty("AWS::RDS::OptionGroup", ("OptionGroupName",)),
    NameProperty("AWS::Backup::BackupVault", ("BackupVaultName",)),
    NameProperty("AWS::Backup::BackupPlan", ("BackupPlan", "BackupPlanName")),
    NameProperty("AWS::SecretsManager::Secret", ("Name",)),
    NameProperty("AWS::SSM::Parameter", ("Name",)),
    NameProperty("AWS::EC2::SecurityGroup", ("GroupName",)),
    NameProperty("AWS::EC2::LaunchTemplate", ("LaunchTemplateName",)),
    NameProperty("AWS::EC2::KeyPair", ("KeyName",)),
    NameProperty("AWS::ElasticLoadBalancingV2::LoadBalancer", ("Name",)),
    NameProperty("AWS::ElasticLoadBalancingV2::TargetGroup", ("Name",)),
    NameProperty("AWS::WAFv2::WebACL", ("Name",)),
    NameProperty("AWS::WAFv2::IPSet", ("Name",)),
    NameProperty("AWS::WAFv2::RuleGroup", ("Name",)),
    NameProperty("AWS::CloudWatch::Alarm", ("AlarmName",)),
    NameProperty("AWS::CloudWatch::CompositeAlarm", ("AlarmName",)),
    NameProperty("AWS::Events::Rule", ("Name",)),
    NameProperty("AWS::Events::EventBus", ("Name",)),
    NameProperty("AWS::AutoScaling::AutoScalingGroup", ("AutoScalingGroupName",)),
    NameProperty("AWS::AutoScaling::LaunchConfiguration", ("LaunchConfigurationName",)),
    NameProperty("AWS::DynamoDB::Table", ("TableName",)),
    NameProperty("AWS::ECR::Repository", ("RepositoryName",)),
    NameProperty("AWS::StepFunctions::StateMachine", ("StateMachineName",)),
    NameProperty("AWS::Kinesis::Stream", ("Name",)),
)

_BY_TYPE: dict[str, NameProperty] = {p.resource_type: p for p in NAME_PROPERTIES}


@dataclass(frozen=True)
class PhysicalName:
    """One explicit physical name a template sets."""

    logical_id: str
    resource_type: str
    property: str
    """The property's path, dotted (``BackupPlan.BackupPlanName``)."""
    name: str
    scope: Scope

    @builtins.property  # the field above is called ``property``
    def is_global(self) -> bool:
        return self.scope is Scope.GLOBAL


def physical_names(
    template: Mapping[str, Any],
    *,
    account: str | None = None,
    region: str | None = None,
    stack_name: str | None = None,
) -> list[PhysicalName]:
    """Every explicit physical name in ``template`` that is known before deployment.

    ``account``, ``region`` and ``stack_name`` resolve the pseudo parameters of the same
    names in ``Fn::Join``/``Fn::Sub``; names that need one that is not given, or anything
    else known only at deploy time, are left out."""
    pseudo: dict[str, str] = {}
    if account:
        pseudo["AWS::AccountId"] = account
    if region:
        pseudo["AWS::Region"] = region
        pseudo["AWS::Partition"] = _partition(region)
        pseudo["AWS::URLSuffix"] = (
            "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        )
    if stack_name:
        pseudo["AWS::StackName"] = stack_name

    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        rule = _BY_TYPE.get(resource.get("Type", ""))
        if rule is None:
            continue
        value: Any = resource.get("Properties") or {}
        for key in rule.path:
            value = value.get(key) if isinstance(value, Mapping) else None
        name = resolve(value, pseudo)
        if name:
            found.append(
                PhysicalName(
                    logical_id=logical_id,
                    resource_type=rule.resource_type,
                    property=".".join(rule.path),
                    name=name,
                    scope=rule.scope,
                )
            )
    return found


class _Unresolvable(Exception):
    pass


def resolve(value: Any, pseudo: Mapping[str, str]) -> str | None:
    """``value`` as a string if it is a literal, or a ``Ref``/``Fn::Join``/``Fn::Sub`` of
    literals and the pseudo parameters in ``pseudo``; otherwise ``None``."""
    try:
        return _resolve(value, pseudo)
    except _Unresolvable:
        return None


def _resolve(value: Any, pseudo: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise _Unresolvable
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, Mapping) or len(value) != 1:
        raise _Unresolvable
    ((function, argument),) = value.items()
    if function == "Ref":
        if argument in pseudo:
            return pseudo[argument]
        raise _Unresolvable
    if function == "Fn::Join":
        if not (isinstance(argument, list) and len(argument) == 2):
            raise _Unresolvable
        separator, parts = argument
        if not isinstance(separator, str) or not isinstance(parts, list):
            raise _Unresolvable
        return separator.join(_resolve(part, pseudo) for part in parts)
    if function == "Fn::Sub":
        if isinstance(argument, str):
            return _substitute(argument, pseudo, {})
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            variables = argument[1] if isinstance(argument[1], Mapping) else {}
            return _substitute(argument[0], pseudo, variables)
    raise _Unresolvable


_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


def _substitute(text: str, pseudo: Mapping[str, str], variables: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # ${!Literal} is the literal text ${Literal}
            return "${" + match.group(2) + "}"
        variable = match.group(2).strip()
        if variable in variables:
            return _resolve(variables[variable], pseudo)
        if variable in pseudo:
            return pseudo[variable]
        raise _Unresolvable  # a resource, attribute or parameter: known only at deploy time

    return _SUB_VARIABLE.sub(replace, text)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

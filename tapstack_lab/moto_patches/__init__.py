"""The emulator's changes to moto, one gap of moto per module, applied in the emulator's own
process only (never to a template, never in a test process that uses ``moto.mock_aws``).

Each module states the gap (moto 5.2.5 against CloudFormation/AWS, with the AWS reference),
why the demo needs it, the private moto members it touches, and the text of an upstream
report ready to file at https://github.com/getmoto/moto. ``tests/lab/moto_patches/`` shows
each gap on unpatched moto and its fix. ``apply_all()`` applies them in ``PATCHES`` order,
once; it first refuses any moto version but ``TESTED_MOTO``.

Upgrading moto: install the new version, set ``TESTED_MOTO`` and the pin in
``pyproject.toml``, and run ``pytest tests/lab``. A test whose gap no longer shows on
unpatched moto means the patch can go; a failing fix means the patch must be rewritten.

Gaps without a patch: the demo and its integration suite pass without one, and the demo
lists each ("Not emulated", "Emulator notes"), read back from the deployment or from the
emulator's journal. Each is a real moto gap worth reporting upstream:

* ``Fn::GetAtt`` attributes moto 5.2.5 does not answer, which resolve to the placeholder of
  ``unsupported_getatt_placeholder`` (the demo prints "Fn::GetAtt TYPE.ATTRIBUTE is not
  emulated"): ``DbiResourceId`` of an ``AWS::RDS::DBInstance`` (the model answers only
  ``Endpoint.*``), ``LoadBalancerFullName`` of an ELBv2 load balancer ("not implemented"),
  ``TargetGroupFullName`` of a target group (the model has no ``get_cfn_attribute``: an
  ``AttributeError``), ``Arn`` of types moto does not model (``AWS::CloudWatch::Alarm``).
  Upstream: "CloudFormation: support Fn::GetAtt DbiResourceId (RDS DBInstance),
  LoadBalancerFullName (ELBv2 LoadBalancer), TargetGroupFullName (ELBv2 TargetGroup)".
* ``Fn::GetAtt NameServers`` of an ``AWS::Route53::HostedZone`` in an output: moto 5.2.5
  silently leaves the output out (``FakeZone`` has no ``get_cfn_attribute``); the demo
  prints "output ... not resolved". Upstream: "CloudFormation AWS::Route53::HostedZone:
  support Fn::GetAtt NameServers and Id".
* ``VPCSecurityGroups`` of an ``AWS::RDS::DBInstance``: moto reads the API's name
  (``VpcSecurityGroupIds``), so the instance gets the VPC's default security group. No
  check of the suite reads it. Upstream: "CloudFormation AWS::RDS::DBInstance: read
  VPCSecurityGroups".
* Every ``AWS::RDS::DBInstance`` has the same ``DbiResourceId``
  (``db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U``). Upstream: "RDS: generate a DbiResourceId per
  instance".
* Resource types moto has no CloudFormation model for are not created
  (``AWS::CloudWatch::Alarm``, ``AWS::Backup::*``, ``AWS::WAFv2::*``,
  ``AWS::SecretsManager::Secret``, ``AWS::SNS::Subscription``, ...), and outputs that read
  them are left out (``outputs_resolved_one_by_one``): the demo's "Not emulated" table.
* Some resources are created without a physical ID (``AWS::RDS::DBSubnetGroup``,
  ``AWS::RDS::DBParameterGroup``, ``AWS::Lambda::Permission``,
  ``AWS::EC2::SecurityGroupIngress``): listed by the demo.
* S3 bucket versioning, public access block, notifications and replication, and a Lambda
  function's dead-letter queue, are not applied from a template: the integration suite
  skips those checks in emulator mode, naming the gap.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType

from tapstack_lab.moto_patches import (
    acm_certificate_dns_validation,
    elbv2_canonical_hosted_zone_id,
    failed_resource_fails_stack,
    kms_key_properties,
    outputs_resolved_one_by_one,
    rds_cross_region_replica_subnet_group,
    rds_instance_properties,
    route53_health_check_properties,
    ssm_parameter_tags,
    subnet_route_table_association,
    unsupported_getatt_placeholder,
)

#: The moto version the patches were written and tested against (``pyproject.toml`` pins it).
TESTED_MOTO = "5.2.5"

#: Every patch, in the order applied. The CloudFormation engine first; the models after.
#: ``unsupported_getatt_placeholder`` only answers what no model answers, so it can go
#: anywhere, but reads ``outputs_resolved_one_by_one``'s state.
PATCHES: tuple[ModuleType, ...] = (
    failed_resource_fails_stack,
    outputs_resolved_one_by_one,
    unsupported_getatt_placeholder,
    kms_key_properties,
    ssm_parameter_tags,
    rds_instance_properties,
    rds_cross_region_replica_subnet_group,
    subnet_route_table_association,
    elbv2_canonical_hosted_zone_id,
    acm_certificate_dns_validation,
    route53_health_check_properties,
)


class UntestedMotoError(RuntimeError):
    """The installed moto is not the one the patches were tested with."""


def installed_moto() -> str:
    return metadata.version("moto")


def check_moto_version(installed: str | None = None) -> None:
    """Raise ``UntestedMotoError`` unless ``installed`` (default: the installed moto) is
    ``TESTED_MOTO``: the patches replace moto internals that change between releases."""
    installed = installed if installed is not None else installed_moto()
    if installed != TESTED_MOTO:
        raise UntestedMotoError(
            f"moto {installed} is installed, but the emulator's patches "
            f"(tapstack_lab.moto_patches) are tested with moto {TESTED_MOTO} only. "
            f"Install the tested version: pip install 'moto[server]=={TESTED_MOTO}' "
            "(as pyproject.toml pins it; `make setup` does it). To move to another moto, "
            "see the docstring of tapstack_lab.moto_patches."
        )


def apply_all() -> list[str]:
    """Check the moto version, apply every patch (once), and return their names."""
    check_moto_version()
    for patch in PATCHES:
        patch.apply()
    return [patch.NAME for patch in PATCHES]

"""``AWS::CertificateManager::Certificate``, validated by DNS in a Route 53 zone.

Gap
    CloudFormation requests the certificate from ACM and, for every name whose
    ``DomainValidationOptions`` entry names a ``HostedZoneId``, writes ACM's validation CNAME
    into that zone; the resource completes once ACM has issued the certificate, and ``Ref``
    returns its ARN
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-certificatemanager-certificate.html).
    moto 5.2.5 has no CloudFormation model for the type: it skips the resource with a
    warning, so ``Ref`` resolves to nothing usable and an HTTPS listener that serves the
    certificate fails (``CertificateNotFound``). moto's ACM itself can request certificates
    and describes each name's validation record; it issues them only when described again
    after ``MOTO_ACM_VALIDATION_WAIT`` seconds (60), whether or not the record exists.

Why the demo needs it
    HTTPS is TapStack's default: each regional stack requests its certificate for the app's
    names, validated in the hosted zone, and its load balancer's HTTPS listener serves it.
    Without this patch neither regional stack deploys.

    The model here does what CloudFormation does: it requests the certificate from moto's
    ACM, writes each name's validation CNAME (as ACM describes it) into the named zone, and
    marks the certificate issued once every name has its record. A name without a
    ``HostedZoneId``, or a zone that does not exist, fails the resource with the reason
    (CloudFormation would wait for someone to create the record, for up to 72 hours). As on
    AWS, deleting the certificate leaves the validation records in the zone.

Private members
    None of moto's underscore members. The model is a ``CloudFormationModel`` subclass (moto's
    own extension mechanism: models are found through ``CloudFormationModel.__subclasses__()``,
    whose cached map ``parsing.get_model_map`` is cleared so that it is found); it uses the
    ACM backend's public ``request_certificate``/``get_certificate``/``delete_certificate``,
    the certificate's ``describe()`` and ``status``, and the Route 53 backend's
    ``change_resource_record_sets``.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation: support AWS::CertificateManager::Certificate (DNS validation in a
    hosted zone)

    Reproduction (moto 5.2.5, ``mock_aws``): create a public hosted zone
    ``example.org``; create a stack whose ``Cert`` is an
    ``AWS::CertificateManager::Certificate`` for ``app.example.org`` with
    ``ValidationMethod: DNS`` and ``DomainValidationOptions: [{DomainName: app.example.org,
    HostedZoneId: <zone>}]``, and an ``AWS::SSM::Parameter`` whose ``Value`` is
    ``{"Ref": "Cert"}``.

    Expected: the stack completes, ``acm.list_certificates()`` lists the certificate as
    ``ISSUED``, the parameter holds its ARN, and the zone holds its validation CNAME.

    Actual: see the test (``tests/lab/moto_patches/test_acm_certificate_dns_validation.py``):
    moto warns "Tried to parse AWS::CertificateManager::Certificate but it's not supported"
    and creates no certificate; an HTTPS listener whose ``CertificateArn`` is the ``Ref``
    stops the stack with ``KeyError: 'CertificateArn'``.

    Suggested change: make ``moto.acm.models.CertBundle`` a ``CloudFormationModel``
    (``cloudformation_type`` ``AWS::CertificateManager::Certificate``, ``physical_resource_id``
    the ARN), creating through ``request_certificate`` and, for DNS validation with
    ``HostedZoneId``, upserting each ``DomainValidationOptions[].ResourceRecord`` into the
    zone and setting the status to ``ISSUED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAME = "AWS::CertificateManager::Certificate validated by DNS"
CLOUDFORMATION_TYPE = "AWS::CertificateManager::Certificate"

#: The model class, created once by ``apply()`` (moto is imported only then).
_MODEL: type | None = None


class CertificateNotValidatedError(ValueError):
    """A certificate CloudFormation could not validate by itself: the resource fails."""


def apply() -> None:
    global _MODEL
    if _MODEL is None:
        _MODEL = _model_class()
    from moto.cloudformation import parsing

    if CLOUDFORMATION_TYPE not in parsing.get_model_map():
        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()


def _model_class() -> type:
    from moto.core.common_models import CloudFormationModel

    class CloudFormationCertificate(CloudFormationModel):  # type: ignore[misc]
        """A stack's certificate: its ARN in the ACM backend of its account and region."""

        def __init__(self, arn: str, account_id: str, region_name: str) -> None:
            self.arn = arn
            self.account_id = account_id
            self.region_name = region_name

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return CLOUDFORMATION_TYPE

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False  # the type has no Fn::GetAtt attributes; Ref is its ARN

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> CloudFormationCertificate:
            properties = cloudformation_json.get("Properties") or {}
            arn = request_and_validate(properties, account_id, region_name)
            return cls(arn, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: CloudFormationCertificate,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> CloudFormationCertificate:
            # Every property but Tags requires replacement: a new certificate. The old one
            # goes when nothing serves it any more (CloudFormation deletes it in cleanup).
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            _delete(original_resource.arn, account_id, region_name, unless_in_use=True)
            return replacement

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> None:
            # moto calls this with the physical ID (the ARN) as resource_name; the listeners
            # that served it went first (they depend on it).
            _delete(resource_name, account_id, region_name, unless_in_use=False)

    return CloudFormationCertificate


def request_and_validate(properties: Mapping[str, Any], account_id: str, region: str) -> str:
    """Request the certificate, write each name's validation record into its zone, mark it
    issued; return its ARN. Raises ``CertificateNotValidatedError`` for what CloudFormation
    would wait on forever (no zone for a name, another validation method)."""
    from moto.acm.models import acm_backends

    method = properties.get("ValidationMethod", "EMAIL")
    if method != "DNS":
        raise CertificateNotValidatedError(
            f"ValidationMethod {method}: only DNS validation in a hosted zone completes "
            "without someone acting on it"
        )
    options = properties.get("DomainValidationOptions") or []
    zones = {option["DomainName"]: option.get("HostedZoneId") for option in options}
    names = [properties["DomainName"], *(properties.get("SubjectAlternativeNames") or [])]
    unvalidated = [name for name in names if not zones.get(name)]
    if unvalidated:
        raise CertificateNotValidatedError(
            f"no DomainValidationOptions HostedZoneId for {', '.join(unvalidated)}: "
            "CloudFormation would wait until someone creates the validation record"
        )
    backend = acm_backends[account_id][region]
    arn = backend.request_certificate(
        domain_name=properties["DomainName"],
        idempotency_token=None,  # type: ignore[arg-type]
        subject_alt_names=names[1:],
        tags=list(properties.get("Tags") or []),
    )
    bundle = backend.get_certificate(arn)
    for option in bundle.describe()["Certificate"]["DomainValidationOptions"]:
        _write_record(account_id, zones[option["DomainName"]], option["ResourceRecord"])
    bundle.status = "ISSUED"
    return str(arn)


def _write_record(account_id: str, zone_id: str, record: Mapping[str, str]) -> None:
    from moto.route53.models import route53_backends

    change = {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": record["Name"],
            "Type": record["Type"],
            "TTL": 300,
            "ResourceRecords": [{"Value": record["Value"]}],
        },
    }
    route53_backends[account_id]["aws"].change_resource_record_sets(zone_id, [change])


def _delete(arn: str, account_id: str, region: str, *, unless_in_use: bool) -> None:
    from moto.acm.models import CertificateNotFound, acm_backends

    backend = acm_backends[account_id][region]
    try:
        if not (unless_in_use and backend.get_certificate(arn).in_use_by):
            backend.delete_certificate(arn)
    except CertificateNotFound:
        pass

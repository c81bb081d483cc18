"""One region's TLS certificate, requested from ACM and validated by CloudFormation itself.

``AWS::CertificateManager::Certificate`` with ``ValidationMethod: DNS`` and a
``DomainValidationOptions`` entry naming the hosted zone for every name makes CloudFormation
write ACM's validation CNAME records into that zone and wait until ACM has issued the
certificate (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-certificatemanager-certificate.html).
No Lambda-backed custom resource is involved (CDK's deprecated ``DnsValidatedCertificate``
was one): the template stays deployable in the emulator and in a region whose other half is
down.

ACM certificates are regional: a load balancer serves only a certificate of its own region,
and the same names need a certificate in each region
(https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html). So each regional stack
requests its own, in its own region, for the same names.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct

from tapstack.config import MAX_CERTIFICATE_FIRST_NAME, MAX_DNS_NAME


class RegionCertificate(Construct):
    """A public ACM certificate for ``domain_names``, DNS-validated in ``hosted_zone_id``.

    The first name is the certificate's common name (at most 64 characters, ACM's limit);
    the others are subject alternative names. Every name must lie in the hosted zone:
    CloudFormation writes each one's validation record there, and ACM renews the
    certificate by finding those records again, so they must stay in the zone.

    Attributes:
        certificate: the certificate (``certificate_arn`` is what a listener serves).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_names: Sequence[str],
        hosted_zone_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        names = list(domain_names)
        _check_names(names)
        zone = route53.HostedZone.from_hosted_zone_id(self, "Zone", hosted_zone_id)
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=names[0],
            subject_alternative_names=names[1:] or None,
            validation=acm.CertificateValidation.from_dns(zone),
        )

    @property
    def certificate_arn(self) -> str:
        return self.certificate.certificate_arn


def _check_names(names: list[str]) -> None:
    if not names:
        raise ValueError("domain_names: give at least one name for the certificate")
    if len(set(names)) != len(names):
        raise ValueError(f"domain_names: {names} names one domain twice")
    if len(names[0]) > MAX_CERTIFICATE_FIRST_NAME:
        raise ValueError(
            f"domain_names: the first name {names[0]!r} has {len(names[0])} characters; ACM "
            f"allows {MAX_CERTIFICATE_FIRST_NAME} in a certificate's first (common) name"
        )
    too_long = [name for name in names if len(name) > MAX_DNS_NAME]
    if too_long:
        raise ValueError(f"domain_names: {too_long} longer than {MAX_DNS_NAME} characters")

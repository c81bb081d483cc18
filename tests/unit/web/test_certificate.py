"""Each region's ACM certificate: requested for the app's names and DNS-validated in the
hosted zone by CloudFormation itself, with no custom resource
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-certificatemanager-certificate.html)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from tapstack.web.certificate import RegionCertificate
from tests.support import Synthesized

REGIONS = [("primary", "us-east-1"), ("secondary", "us-west-2")]


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_each_region_requests_a_certificate_for_the_app_name_and_its_regional_name(
    synth: Synthesized, kind: str, region: str
) -> None:
    """The failover name users reach, and the regional name the health checks send as SNI."""
    certificate = synth.one(kind, "AWS::CertificateManager::Certificate")["Properties"]
    assert certificate["DomainName"] == "app.tapstack.example.com"
    assert certificate["SubjectAlternativeNames"] == [f"{region}.app.tapstack.example.com"]
    assert certificate["ValidationMethod"] == "DNS"


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_cloudformation_validates_every_name_in_the_zone_the_records_go_into(
    synth: Synthesized, kind: str, region: str
) -> None:
    """With HostedZoneId on each DomainValidationOption, CloudFormation writes ACM's
    validation records into that zone and waits for the certificate to be issued."""
    certificate = synth.one(kind, "AWS::CertificateManager::Certificate")["Properties"]
    record = synth.one(kind, "AWS::Route53::RecordSet", "FailoverRecord")["Properties"]
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": "app.tapstack.example.com", "HostedZoneId": {"Ref": "HostedZoneId"}},
        {
            "DomainName": f"{region}.app.tapstack.example.com",
            "HostedZoneId": {"Ref": "HostedZoneId"},
        },
    ]
    assert record["HostedZoneId"] == {"Ref": "HostedZoneId"}


def test_with_an_existing_zone_the_certificate_is_validated_in_it(
    synth_variant: Synthesized,
) -> None:
    certificate = synth_variant.one("secondary", "AWS::CertificateManager::Certificate")
    zones = {o["HostedZoneId"] for o in certificate["Properties"]["DomainValidationOptions"]}
    assert zones == {"Z0123456789ABCDEFGHIJ"}


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_no_custom_resource_and_no_function_but_the_loader_validate_it(
    synth: Synthesized, kind: str
) -> None:
    """CDK's deprecated DnsValidatedCertificate validated through a Lambda-backed custom
    resource; TapStack's templates hold none."""
    types = {resource["Type"] for resource in synth.templates[kind]["Resources"].values()}
    assert not {t for t in types if t.startswith("Custom::")}
    assert "AWS::CloudFormation::CustomResource" not in types
    assert set(synth.resources(kind, "AWS::Lambda::Function")) == {"LoaderFunction8EC4C94F"}


def _scratch() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Scratch")


def test_a_first_name_longer_than_acm_allows_is_refused() -> None:
    """ACM: the first domain name "cannot exceed 64 octets"
    (https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html)."""
    long_name = "a" * 60 + ".example.com"
    with pytest.raises(ValueError, match=r"has 72 characters; ACM allows 64"):
        RegionCertificate(_scratch(), "C", domain_names=[long_name], hosted_zone_id="Z1")
    # As a subject alternative name it is fine.
    RegionCertificate(
        _scratch(), "C", domain_names=["app.example.com", long_name], hosted_zone_id="Z1"
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [([], "at least one name"), (["a.example.com", "a.example.com"], "names one domain twice")],
)
def test_no_name_or_a_name_twice_is_refused(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegionCertificate(_scratch(), "C", domain_names=names, hosted_zone_id="Z1")

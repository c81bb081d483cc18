"""Route 53 moves traffic to the secondary region when the primary's health
check fails: each regional stack owns its health check and failover record."""

from __future__ import annotations

import pytest

from tests.support import Synthesized


@pytest.mark.parametrize(("kind", "region"), [("primary", "us-east-1"), ("secondary", "us-west-2")])
def test_health_check_probes_the_regions_health_path_over_https_every_10_seconds(
    synth: Synthesized, kind: str, region: str
) -> None:
    """Over HTTPS with SNI on the regional name, which the region's certificate carries
    (EnableSNI sends FullyQualifiedDomainName in the client hello:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-route53-healthcheck-healthcheckconfig.html)."""
    config = synth.one(kind, "AWS::Route53::HealthCheck", "FailoverHealthCheck")["Properties"][
        "HealthCheckConfig"
    ]
    certificate = synth.one(kind, "AWS::CertificateManager::Certificate")["Properties"]
    assert config["Type"] == "HTTPS"
    assert config["Port"] == 443
    assert config["EnableSNI"] is True
    assert config["FullyQualifiedDomainName"] == f"{region}.app.tapstack.example.com"
    assert config["FullyQualifiedDomainName"] in certificate["SubjectAlternativeNames"]
    assert config["ResourcePath"] == "/health"
    assert config["RequestInterval"] == 10
    assert config["FailureThreshold"] == 3


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_with_https_off_the_health_check_probes_the_load_balancer_over_http(
    synth_http_only: Synthesized, kind: str
) -> None:
    config = synth_http_only.one(kind, "AWS::Route53::HealthCheck", "FailoverHealthCheck")[
        "Properties"
    ]["HealthCheckConfig"]
    lb_id = next(iter(synth_http_only.resources(kind, "AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert (config["Type"], config["Port"]) == ("HTTP", 80)
    assert "EnableSNI" not in config
    assert config["FullyQualifiedDomainName"] == {"Fn::GetAtt": [lb_id, "DNSName"]}
    watch = synth_http_only.one("primary", "AWS::Route53::HealthCheck", "OtherRegionWatch")
    assert watch["Properties"]["HealthCheckConfig"]["Type"] == "HTTP"


@pytest.mark.parametrize(("kind", "role"), [("primary", "PRIMARY"), ("secondary", "SECONDARY")])
def test_failover_alias_record_names_the_zone_by_the_id_the_deployer_passes(
    synth: Synthesized, kind: str, role: str
) -> None:
    record = synth.one(kind, "AWS::Route53::RecordSet", "FailoverRecord")["Properties"]
    health_check_id = next(
        k for k in synth.resources(kind, "AWS::Route53::HealthCheck") if k.startswith("Failover")
    )
    lb_id = next(iter(synth.resources(kind, "AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert record["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert "HostedZoneName" not in record
    parameter = synth.templates[kind]["Parameters"]["HostedZoneId"]
    assert parameter["Type"] == "AWS::Route53::HostedZone::Id"
    assert "Default" not in parameter
    assert record["Name"] == "app.tapstack.example.com."
    assert record["Type"] == "A"
    assert record["Failover"] == role
    assert record["HealthCheckId"] == {"Ref": health_check_id}
    assert record["AliasTarget"] == {
        "DNSName": {"Fn::GetAtt": [lb_id, "DNSName"]},
        "HostedZoneId": {"Fn::GetAtt": [lb_id, "CanonicalHostedZoneID"]},
        "EvaluateTargetHealth": True,
    }


def test_set_identifiers_differ_between_regions(synth: Synthesized) -> None:
    ids = {
        synth.one(kind, "AWS::Route53::RecordSet", "FailoverRecord")["Properties"]["SetIdentifier"]
        for kind in ("primary", "secondary")
    }
    assert ids == {"tapstack-prod-primary-us-east-1", "tapstack-prod-standby-us-west-2"}


def test_a_region_with_a_certificate_the_user_brings_is_checked_over_https_too(
    synth_variant: Synthesized,
) -> None:
    """Route 53 does not validate the certificate; with SNI on a name the brought
    certificate lacks, its checkers retry the handshake without SNI."""
    config = synth_variant.one("primary", "AWS::Route53::HealthCheck", "FailoverHealthCheck")[
        "Properties"
    ]["HealthCheckConfig"]
    assert (config["Type"], config["Port"], config["EnableSNI"]) == ("HTTPS", 443, True)
    assert config["FullyQualifiedDomainName"] == "us-east-1.app.tapstack.example.com"


@pytest.mark.parametrize(("kind", "region"), [("primary", "us-east-1"), ("secondary", "us-west-2")])
def test_each_region_also_gets_a_plain_regional_alias(
    synth: Synthesized, kind: str, region: str
) -> None:
    record = synth.one(kind, "AWS::Route53::RecordSet", "FailoverRegionalRecord")["Properties"]
    assert record["Name"] == f"{region}.app.tapstack.example.com."
    assert record["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert "Failover" not in record and "SetIdentifier" not in record
    assert record["AliasTarget"]["EvaluateTargetHealth"] is True


def test_us_east_1_stack_watches_the_other_region_by_its_regional_name(
    synth: Synthesized,
) -> None:
    watch = synth.one("primary", "AWS::Route53::HealthCheck", "OtherRegionWatch")["Properties"]
    config = watch["HealthCheckConfig"]
    assert config["FullyQualifiedDomainName"] == "us-west-2.app.tapstack.example.com"
    assert config["ResourcePath"] == "/health"
    # The other region serves HTTPS with this name on its certificate.
    assert (config["Type"], config["Port"], config["EnableSNI"]) == ("HTTPS", 443, True)
    assert synth.resources("secondary", "AWS::Route53::HealthCheck").keys() == {
        k
        for k in synth.resources("secondary", "AWS::Route53::HealthCheck")
        if k.startswith("Failover")
    }


@pytest.mark.parametrize(("kind", "failover"), [("primary", "PRIMARY"), ("secondary", "SECONDARY")])
def test_the_failover_type_stays_with_the_slot_when_the_writer_moves(
    synth_writer_secondary: Synthesized, kind: str, failover: str
) -> None:
    """Each region deploys alone: a type that followed the role would leave two PRIMARY
    records after a one-region deploy."""
    record = synth_writer_secondary.one(kind, "AWS::Route53::RecordSet", "FailoverRecord")
    assert record["Properties"]["Failover"] == failover

"""Route 53 moves traffic to the secondary region when the primary's health
check fails: each regional stack owns its health check and failover record."""

from __future__ import annotations

import pytest

from tests.support import Synthesized


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_health_check_probes_the_regions_alb_health_path_every_10_seconds(
    synth: Synthesized, kind: str
) -> None:
    config = synth.one(kind, "AWS::Route53::HealthCheck", "FailoverHealthCheck")["Properties"][
        "HealthCheckConfig"
    ]
    lb_id = next(iter(synth.resources(kind, "AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert config["Type"] == "HTTP"
    assert config["Port"] == 80
    assert config["ResourcePath"] == "/health"
    assert config["RequestInterval"] == 10
    assert config["FailureThreshold"] == 3
    assert config["FullyQualifiedDomainName"] == {"Fn::GetAtt": [lb_id, "DNSName"]}


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


def test_https_health_check_when_the_alb_serves_tls(synth_variant: Synthesized) -> None:
    config = synth_variant.one("primary", "AWS::Route53::HealthCheck", "FailoverHealthCheck")[
        "Properties"
    ]["HealthCheckConfig"]
    assert (config["Type"], config["Port"]) == ("HTTPS", 443)


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

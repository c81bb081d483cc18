"""Route 53: the PRIMARY and SECONDARY failover records and their health checks."""

from __future__ import annotations

import pytest

from tests.integration.support import Region, Target

pytestmark = pytest.mark.integration


def _zone_id(target: Target) -> str:
    return target.config.dns.hosted_zone_id or target.output("HostedZoneId")


def _failover_records(target: Target) -> dict[str, dict]:
    fqdn = target.config.dns.fqdn.rstrip(".") + "."
    route53 = target.client("route53", target.config.primary.region)
    records = route53.list_resource_record_sets(
        HostedZoneId=_zone_id(target), StartRecordName=fqdn, StartRecordType="A"
    )["ResourceRecordSets"]
    return {
        r["Failover"]: r
        for r in records
        if r["Name"].lower() == fqdn.lower() and r["Type"] == "A" and "Failover" in r
    }


def _normalised(dns_name: str) -> str:
    return dns_name.lower().rstrip(".").removeprefix("dualstack.")


def test_hosted_zone_exists(target: Target) -> None:
    route53 = target.client("route53", target.config.primary.region)
    zone = route53.get_hosted_zone(Id=_zone_id(target))["HostedZone"]
    assert zone["Name"].rstrip(".") == target.config.dns.domain_name
    assert zone["Config"]["PrivateZone"] is False


def test_one_primary_and_one_secondary_record(target: Target) -> None:
    assert sorted(_failover_records(target)) == ["PRIMARY", "SECONDARY"]


def test_failover_record_points_at_its_regions_load_balancer(
    target: Target, region: Region
) -> None:
    record = _failover_records(target)[region.role.upper()]
    assert record["SetIdentifier"] == region.names.set_identifier
    alias = record["AliasTarget"]
    assert _normalised(alias["DNSName"]) == _normalised(region.load_balancer["DNSName"])
    assert alias["EvaluateTargetHealth"] is True
    assert alias["HostedZoneId"] == region.load_balancer["CanonicalHostedZoneId"]
    assert record["HealthCheckId"] == region.output("HealthCheckId")


def test_health_check_probes_the_deep_health_endpoint(target: Target, region: Region) -> None:
    dns = target.config.dns
    route53 = target.client("route53", target.config.primary.region)
    check = route53.get_health_check(HealthCheckId=region.output("HealthCheckId"))["HealthCheck"]
    config = check["HealthCheckConfig"]
    tls = target.config.web.https
    assert config["Type"] == ("HTTPS" if tls else "HTTP")
    assert config["ResourcePath"] == "/health"
    assert config["RequestInterval"] == dns.health_check_interval_seconds
    assert config["FailureThreshold"] == dns.health_check_failure_threshold
    probed = _normalised(config["FullyQualifiedDomainName"])
    if tls:
        # SNI on the regional name, which the region's certificate carries.
        assert config["EnableSNI"] is True
        assert config["Port"] == 443
        assert probed == f"{region.name}.{dns.fqdn}".lower()
    else:
        assert probed == _normalised(region.load_balancer["DNSName"])


def test_the_managed_certificates_validation_records_are_in_the_zone(
    target: Target, region: Region
) -> None:
    """CloudFormation wrote ACM's validation CNAME of every name into the zone; ACM renews
    the certificate by finding them there again."""
    if not target.config.manages_certificate(region.config):
        pytest.skip("no certificate managed by the app in this region")
    (https,) = [listener for listener in region.listeners if listener["Port"] == 443]
    (arn,) = [c["CertificateArn"] for c in https["Certificates"]]
    described = region.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    route53 = target.client("route53", target.config.primary.region)
    records = route53.list_resource_record_sets(HostedZoneId=_zone_id(target))
    cnames = {
        (r["Name"].lower(), r["ResourceRecords"][0]["Value"].lower())
        for r in records["ResourceRecordSets"]
        if r["Type"] == "CNAME"
    }
    for option in described["DomainValidationOptions"]:
        record = option["ResourceRecord"]
        assert (record["Name"].lower(), record["Value"].lower()) in cnames, option["DomainName"]

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
    tls = region.config.certificate_arn is not None
    assert config["Type"] == ("HTTPS" if tls else "HTTP")
    assert config["ResourcePath"] == "/health"
    assert config["RequestInterval"] == dns.health_check_interval_seconds
    assert config["FailureThreshold"] == dns.health_check_failure_threshold
    probed = _normalised(config["FullyQualifiedDomainName"])
    assert probed in {
        _normalised(region.load_balancer["DNSName"]),
        f"{region.name}.{dns.fqdn}".lower(),
    }, probed

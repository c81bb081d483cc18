"""The two profiles side by side: the production profile (config/default.yaml) and the lean
profile for development and test (config/lean.yaml) differ in exactly the choices the README's
"Profiles" table lists, each proven here on the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Synthesized

REGIONS = ["primary", "secondary"]


def _health_checks(synth: Synthesized, kind: str, prefix: str) -> list[dict[str, Any]]:
    checks = synth.resources(kind, "AWS::Route53::HealthCheck")
    return [c["Properties"]["HealthCheckConfig"] for k, c in checks.items() if k.startswith(prefix)]


def _endpoint_types(synth: Synthesized, kind: str) -> list[str]:
    endpoints = synth.resources(kind, "AWS::EC2::VPCEndpoint").values()
    return sorted(e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints)


@pytest.mark.parametrize("kind", REGIONS)
def test_both_profiles_keep_one_shared_nat_gateway_per_region(
    synth: Synthesized, synth_lean: Synthesized, kind: str
) -> None:
    assert len(synth.resources(kind, "AWS::EC2::NatGateway")) == 1
    assert len(synth_lean.resources(kind, "AWS::EC2::NatGateway")) == 1


@pytest.mark.parametrize("kind", REGIONS)
def test_only_production_has_interface_endpoints_and_both_keep_the_s3_gateway(
    synth: Synthesized, synth_lean: Synthesized, kind: str
) -> None:
    assert _endpoint_types(synth, kind) == ["Gateway"] + ["Interface"] * 4
    assert _endpoint_types(synth_lean, kind) == ["Gateway"]


@pytest.mark.parametrize("kind", REGIONS)
def test_production_checks_fast_with_latency_and_lean_at_the_standard_interval_without(
    synth: Synthesized, synth_lean: Synthesized, kind: str
) -> None:
    """https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html:
    fast (10 s) or standard (30 s) interval; latency measurement cannot be changed later."""
    (production,) = _health_checks(synth, kind, "FailoverHealthCheck")
    (lean,) = _health_checks(synth_lean, kind, "FailoverHealthCheck")
    assert (production["RequestInterval"], production["MeasureLatency"]) == (10, True)
    assert (lean["RequestInterval"], lean.get("MeasureLatency", False)) == (30, False)


def test_the_watch_on_the_other_region_never_measures_latency(
    synth: Synthesized, synth_lean: Synthesized
) -> None:
    for built in (synth, synth_lean):
        (watch,) = _health_checks(built, "primary", "OtherRegionWatch")
        assert not watch.get("MeasureLatency", False)


def test_production_has_a_multi_az_medium_writer_and_lean_a_single_az_micro(
    synth: Synthesized, synth_lean: Synthesized
) -> None:
    production = synth.one("primary", "AWS::RDS::DBInstance")["Properties"]
    lean = synth_lean.one("primary", "AWS::RDS::DBInstance")["Properties"]
    assert (production["DBInstanceClass"], production["MultiAZ"]) == ("db.t4g.medium", True)
    assert (lean["DBInstanceClass"], lean["MultiAZ"]) == ("db.t4g.micro", False)
    replica = synth_lean.one("secondary", "AWS::RDS::DBInstance")["Properties"]
    assert (replica["DBInstanceClass"], replica["MultiAZ"]) == ("db.t4g.micro", False)


@pytest.mark.parametrize("kind", REGIONS)
def test_only_production_puts_a_web_acl_in_front_of_the_load_balancer(
    synth: Synthesized, synth_lean: Synthesized, kind: str
) -> None:
    assert len(synth.resources(kind, "AWS::WAFv2::WebACL")) == 1
    assert len(synth.resources(kind, "AWS::WAFv2::WebACLAssociation")) == 1
    assert synth_lean.resources(kind, "AWS::WAFv2::WebACL") == {}
    assert synth_lean.resources(kind, "AWS::WAFv2::WebACLAssociation") == {}


def _replication_destination(synth: Synthesized) -> dict[str, Any]:
    bucket = next(
        b["Properties"]
        for b in synth.resources("primary", "AWS::S3::Bucket").values()
        if "ReplicationConfiguration" in b["Properties"]
    )
    (rule,) = bucket["ReplicationConfiguration"]["Rules"]
    destination: dict[str, Any] = rule["Destination"]
    return destination


def test_only_production_replicates_with_rtc_and_both_keep_the_replication_metrics(
    synth: Synthesized, synth_lean: Synthesized
) -> None:
    """The replication alarms read the rule's metrics, which S3 publishes with or without
    RTC (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics.html)."""
    production = _replication_destination(synth)
    lean = _replication_destination(synth_lean)
    assert production["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert "ReplicationTime" not in lean
    assert production["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert lean["Metrics"] == {"Status": "Enabled"}


@pytest.mark.parametrize("kind", REGIONS)
def test_production_bursts_unlimited_and_lean_in_standard_credit_mode(
    synth: Synthesized, synth_lean: Synthesized, kind: str
) -> None:
    def credits(built: Synthesized) -> tuple[str, str]:
        data = built.one(kind, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
        return data["InstanceType"], data["CreditSpecification"]["CpuCredits"]

    assert credits(synth) == ("t4g.micro", "unlimited")
    assert credits(synth_lean) == ("t4g.micro", "standard")


def test_the_lean_profile_is_deleted_with_its_stacks(synth_lean: Synthesized) -> None:
    for kind in REGIONS:
        assert synth_lean.one(kind, "AWS::RDS::DBInstance")["DeletionPolicy"] == "Delete"

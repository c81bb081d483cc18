"""AWS::Route53::HealthCheck: EnableSNI and the other flags of HealthCheckConfig are kept."""

from __future__ import annotations

from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    physical_id,
    unpatched_then_patched,
)


def https_check_with_sni() -> dict[str, Any]:
    config = {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": "us-east-1.app.example.org",
        "Port": 443,
        "ResourcePath": "/health",
        "RequestInterval": 10,
        "FailureThreshold": 3,
        "EnableSNI": True,
        "MeasureLatency": True,
        "Inverted": False,
    }
    check = {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": config}}
    report = create_stack({"Resources": {"Check": check}})
    route53 = boto3.client("route53", region_name=REGION)
    got = route53.get_health_check(HealthCheckId=physical_id("Check"))["HealthCheck"]
    report["config"] = {
        key: got["HealthCheckConfig"].get(key)
        for key in ("Type", "Port", "EnableSNI", "MeasureLatency", "Inverted")
    }
    return report


def test_sni_and_latency_measurement_are_kept() -> None:
    outcome = unpatched_then_patched(
        __file__, "https_check_with_sni", "route53_health_check_properties"
    )

    # moto 5.2.5 drops the flags the template sets.
    assert outcome.unpatched["status"] == "CREATE_COMPLETE"
    assert outcome.unpatched["config"]["EnableSNI"] is False
    assert outcome.unpatched["config"]["MeasureLatency"] is False

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert outcome.patched["config"] == {
        "Type": "HTTPS",
        "Port": 443,
        "EnableSNI": True,
        "MeasureLatency": True,
        "Inverted": False,
    }

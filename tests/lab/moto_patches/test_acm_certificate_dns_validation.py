"""AWS::CertificateManager::Certificate: requested, validated by DNS in the hosted zone, served
by an HTTPS listener."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.lab.moto_patches.moto_support import (
    REGION,
    create_stack,
    parameter,
    parameter_value,
    unpatched_then_patched,
    vpc_with_two_subnets,
)

NAMES = ["app.example.org", f"{REGION}.app.example.org"]


def _zone() -> str:
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="example.org", CallerReference="zone")["HostedZone"]
    return str(zone["Id"]).rsplit("/", 1)[-1]


def _certificate(zone_id: str | None) -> dict[str, Any]:
    return {
        "Type": "AWS::CertificateManager::Certificate",
        "Properties": {
            "DomainName": NAMES[0],
            "SubjectAlternativeNames": NAMES[1:],
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [
                {"DomainName": name, **({"HostedZoneId": zone_id} if zone_id else {})}
                for name in NAMES
            ],
        },
    }


def _https_load_balancer() -> dict[str, Any]:
    resources = vpc_with_two_subnets()
    resources["Sg"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {"GroupDescription": "lb", "VpcId": {"Ref": "Vpc"}},
    }
    resources["Lb"] = {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "SecurityGroups": [{"Ref": "Sg"}],
        },
    }
    resources["Https"] = {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": {"Ref": "Lb"},
            "Port": 443,
            "Protocol": "HTTPS",
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
            "Certificates": [{"CertificateArn": {"Ref": "Cert"}}],
            "DefaultActions": [
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"},
                }
            ],
        },
    }
    return resources


def certificate_served_by_an_https_listener() -> dict[str, Any]:
    zone_id = _zone()
    resources = _https_load_balancer()
    resources["Cert"] = _certificate(zone_id)
    resources["CertArn"] = parameter("/certificate", {"Ref": "Cert"})
    report = create_stack({"Resources": resources})
    acm = boto3.client("acm", region_name=REGION)
    summaries = acm.list_certificates()["CertificateSummaryList"]
    report["certificates"] = [(c["DomainName"], c["Status"]) for c in summaries]
    if summaries:
        arn = summaries[0]["CertificateArn"]
        described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        report["names"] = sorted(described["SubjectAlternativeNames"])
        report["validation"] = sorted(
            (o["DomainName"], o["ValidationStatus"], o["ResourceRecord"]["Name"])
            for o in described["DomainValidationOptions"]
        )
        report["ref_is_the_arn"] = parameter_value("/certificate") == arn
        elbv2 = boto3.client("elbv2", region_name=REGION)
        listeners = [
            listener
            for lb in elbv2.describe_load_balancers()["LoadBalancers"]
            for listener in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
                "Listeners"
            ]
        ]
        report["listener_certificates"] = [
            c["CertificateArn"] == arn for listener in listeners for c in listener["Certificates"]
        ]
    route53 = boto3.client("route53", region_name=REGION)
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    report["cnames"] = sorted(r["Name"] for r in records if r["Type"] == "CNAME")
    return report


def certificate_without_a_zone() -> dict[str, Any]:
    return create_stack({"Resources": {"Cert": _certificate(None)}})


def test_the_certificate_is_issued_validated_in_the_zone_and_served() -> None:
    outcome = unpatched_then_patched(
        __file__, "certificate_served_by_an_https_listener", "acm_certificate_dns_validation"
    )

    # moto 5.2.5 skips the type: no certificate, no record, and the listener's Ref to it
    # leaves no CertificateArn (the stack stops there).
    assert outcome.unpatched["certificates"] == []
    assert outcome.unpatched["cnames"] == []
    assert outcome.unpatched["create_error"] == "KeyError: 'CertificateArn'"
    assert outcome.unpatched["status"] == "CREATE_IN_PROGRESS"

    patched = outcome.patched
    assert patched["status"] == "CREATE_COMPLETE", patched.get("reasons")
    assert patched["certificates"] == [["app.example.org", "ISSUED"]]
    assert patched["names"] == sorted(NAMES)
    assert [status for _, status, _ in patched["validation"]] == ["SUCCESS", "SUCCESS"]
    # CloudFormation wrote each name's validation record, as ACM describes it, into the zone.
    assert patched["cnames"] == sorted(record for _, _, record in patched["validation"])
    assert patched["ref_is_the_arn"] is True
    assert patched["listener_certificates"] == [True]


def test_a_name_without_a_zone_fails_the_resource_instead_of_waiting() -> None:
    outcome = unpatched_then_patched(
        __file__, "certificate_without_a_zone", "acm_certificate_dns_validation"
    )
    # The resource raises (failed_resource_fails_stack turns that into CREATE_FAILED).
    assert outcome.patched["create_error"] == (
        "CertificateNotValidatedError: no DomainValidationOptions HostedZoneId for "
        f"{', '.join(NAMES)}: CloudFormation would wait until someone creates the validation "
        "record"
    )


def certificate_replaced_by_an_update() -> dict[str, Any]:
    """Every property of the type but Tags requires replacement: a new certificate."""
    zone_id = _zone()
    report = create_stack({"Resources": {"Cert": _certificate(zone_id)}})
    cfn = boto3.client("cloudformation", region_name=REGION)
    acm = boto3.client("acm", region_name=REGION)
    before = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    changed = _certificate(zone_id)
    changed["Properties"]["DomainName"] = "www.example.org"
    changed["Properties"]["DomainValidationOptions"].append(
        {"DomainName": "www.example.org", "HostedZoneId": zone_id}
    )
    cfn.update_stack(StackName="s", TemplateBody=json.dumps({"Resources": {"Cert": changed}}))
    report["updated"] = cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"]
    after = acm.list_certificates()["CertificateSummaryList"]
    report["after"] = [[c["DomainName"], c["Status"]] for c in after]
    report["old_gone"] = not set(before) & {c["CertificateArn"] for c in after}
    return report


def test_an_update_replaces_the_certificate() -> None:
    outcome = unpatched_then_patched(
        __file__, "certificate_replaced_by_an_update", "acm_certificate_dns_validation"
    )
    patched = outcome.patched
    assert patched["updated"] == "UPDATE_COMPLETE"
    assert patched["after"] == [["www.example.org", "ISSUED"]]
    assert patched["old_gone"] is True

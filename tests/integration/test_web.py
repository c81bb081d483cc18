"""Web tier of each region: ALB, listener, target group health check, Auto Scaling group."""

from __future__ import annotations

import time

import pytest

from tests.integration.support import Region, Subnets

pytestmark = pytest.mark.integration

#: A fresh real deployment: instances boot, install and pass the ALB health check.
HEALTHY_WITHIN_SECONDS = 600


def test_load_balancer_is_internet_facing_in_the_public_subnets(region: Region) -> None:
    lb = region.load_balancer
    assert lb["Type"] == "application"
    assert lb["Scheme"] == "internet-facing"
    assert lb["VpcId"] == region.vpc_id
    subnets = {zone["SubnetId"] for zone in lb["AvailabilityZones"]}
    assert subnets == Subnets.ids(region.subnets.public)
    assert lb["State"]["Code"] in ("active", "provisioning")


def test_listener_forwards_to_the_web_target_group(region: Region) -> None:
    tls = region.target.config.web.https
    ports = {listener["Port"]: listener for listener in region.listeners}
    forwarding = ports[443] if tls else ports[80]
    assert forwarding["Protocol"] == ("HTTPS" if tls else "HTTP")
    actions = forwarding["DefaultActions"]
    assert actions[0]["Type"] == "forward"
    assert actions[0]["TargetGroupArn"] in {tg["TargetGroupArn"] for tg in region.target_groups}
    if tls:
        assert forwarding["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
        redirect = ports[80]["DefaultActions"][0]
        assert redirect["Type"] == "redirect"
        assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
        assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_https_listener_serves_an_issued_certificate_of_its_region_for_the_app_name(
    region: Region,
) -> None:
    """The region's own certificate (brought, or requested and validated by CloudFormation):
    issued, in the load balancer's region, naming the app's failover name."""
    if not region.target.config.web.https:
        pytest.skip("web.https is false: no HTTPS listener")
    (https,) = [listener for listener in region.listeners if listener["Port"] == 443]
    (arn,) = [c["CertificateArn"] for c in https["Certificates"]]
    assert arn.split(":")[3] == region.name
    certificate = region.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert certificate["Status"] == "ISSUED"
    names = {certificate["DomainName"], *certificate.get("SubjectAlternativeNames", [])}
    assert region.target.config.dns.fqdn in names


def test_target_group_health_check_is_the_liveness_endpoint(region: Region) -> None:
    # The deep /health is Route 53's (tests/integration/test_dns.py); the target group
    # checks liveness so that a database failover does not recycle every instance.
    (group,) = region.target_groups
    assert group["HealthCheckPath"] == "/livez"
    assert group["Port"] == region.target.config.web.app_port
    assert group["Protocol"] == "HTTP"
    assert group["VpcId"] == region.vpc_id


def test_auto_scaling_group_sizes(region: Region) -> None:
    web = region.target.config.web
    group = region.auto_scaling_group
    assert group["MinSize"] == web.min_capacity  # 2 by default
    assert group["MaxSize"] == web.max_capacity  # 5 by default
    assert web.min_capacity <= group["DesiredCapacity"] <= web.max_capacity


def test_instances_run_in_the_private_subnets(region: Region) -> None:
    """On AWS, a fresh deployment may still be launching instances: wait for them."""
    autoscaling = region.client("autoscaling")
    name = region.auto_scaling_group["AutoScalingGroupName"]
    deadline = time.monotonic() + (0 if region.target.emulated else HEALTHY_WITHIN_SECONDS)
    while True:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        in_service = [
            i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"
        ]
        if len(in_service) >= group["MinSize"] or time.monotonic() >= deadline:
            break
        time.sleep(15)
    assert len(in_service) >= group["MinSize"]
    reservations = region.client("ec2").describe_instances(InstanceIds=in_service)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert {i["State"]["Name"] for i in instances} == {"running"}
    private = Subnets.ids(region.subnets.private)
    assert set(group["VPCZoneIdentifier"].split(",")) == private
    assert {i["SubnetId"] for i in instances} <= private
    assert all("PublicIpAddress" not in i for i in instances)


def test_instances_are_registered_and_healthy(region: Region) -> None:
    """On AWS, instances of a fresh deployment may still be booting: wait for them."""
    (group,) = region.target_groups
    elbv2 = region.client("elbv2")
    deadline = time.monotonic() + (0 if region.target.emulated else HEALTHY_WITHIN_SECONDS)
    while True:
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
        states = [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]
        enough = len(states) >= region.auto_scaling_group["MinSize"]
        if (enough and set(states) == {"healthy"}) or time.monotonic() >= deadline:
            break
        time.sleep(15)
    assert enough, states
    assert set(states) == {"healthy"}, states

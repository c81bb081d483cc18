"""The web tier: an ALB in front of an Auto Scaling group of Amazon Linux 2023
instances that run TapStack's web server, managed through SSM."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from tapstack.loader.runtime import schema
from tapstack.loader.runtime.connections import RDS_CA_BUNDLE
from tapstack.naming import Role
from tapstack.web.infrastructure import (
    RDS_CA_PATH,
    SERVER_SOURCE,
    USER_DATA_LIMIT,
    ServerEnvironment,
    ShippedFile,
    render_user_data,
)
from tapstack.web.runtime import server as web_server
from tests.support import Synthesized

REGIONS = ["primary", "secondary"]


def _security_group(synth: Synthesized, kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    groups = synth.resources(kind, "AWS::EC2::SecurityGroup")
    return next((k, v) for k, v in groups.items() if k.startswith(prefix))


def _user_data(synth: Synthesized, kind: str) -> str:
    template = synth.one(kind, "AWS::EC2::LaunchTemplate")
    joined = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    if isinstance(joined, str):
        return joined
    parts = joined["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


@pytest.mark.parametrize("kind", REGIONS)
def test_launch_template_hardens_the_instances(synth: Synthesized, kind: str) -> None:
    data = synth.one(kind, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (device,) = data["BlockDeviceMappings"]
    assert device["Ebs"]["Encrypted"] is True
    assert device["Ebs"]["VolumeType"] == "gp3"
    assert "KeyName" not in data, "no key pair unless configured"
    assert "al2023" in json.dumps(data["ImageId"])


@pytest.mark.parametrize("kind", REGIONS)
def test_the_default_instance_is_a_graviton_micro_on_the_arm64_image_in_unlimited_mode(
    synth: Synthesized, kind: str
) -> None:
    """t4g.micro: 1 GiB like t2.micro and t3.micro, for less an hour; Graviton needs the
    arm64 image (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances.html)."""
    data = synth.one(kind, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == "t4g.micro"
    image = json.dumps(data["ImageId"])
    assert "arm64" in image and "x86_64" not in image
    assert data["CreditSpecification"] == {"CpuCredits": "unlimited"}


def test_the_lean_profile_runs_its_micro_instances_in_standard_credit_mode(
    synth_lean: Synthesized,
) -> None:
    for kind in REGIONS:
        data = synth_lean.one(kind, "AWS::EC2::LaunchTemplate")["Properties"]
        assert data["LaunchTemplateData"]["CreditSpecification"] == {"CpuCredits": "standard"}


def _scratch_template(**web: Any) -> dict[str, Any]:
    """The template of a web tier with these ``WebConfig`` settings, in a scratch stack."""
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2

    from tapstack.config import WebConfig
    from tapstack.web.infrastructure import WebTier

    stack = cdk.Stack(cdk.App(), "Scratch")
    vpc = ec2.Vpc(stack, "Vpc", restrict_default_security_group=False)
    WebTier(
        stack,
        "Web",
        vpc=vpc,
        vpc_cidr="10.0.0.0/16",
        settings=WebConfig(waf_enabled=False, **web),
        server=ServerEnvironment(project="x", region="us-east-1", role=Role.WRITER),
        acl_name="x-test-primary",
    )
    template: dict[str, Any] = cdk.assertions.Template.from_stack(stack).to_json()
    return template


def _launch_template_data(template: dict[str, Any]) -> dict[str, Any]:
    (launch_template,) = (
        r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"
    )
    data: dict[str, Any] = launch_template["Properties"]["LaunchTemplateData"]
    return data


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [
        ("t2.micro", "x86_64"),
        ("t3.micro", "x86_64"),
        ("t3a.small", "x86_64"),
        ("m7i.large", "x86_64"),
        ("t4g.micro", "arm64"),
        ("m7g.large", "arm64"),
    ],
)
def test_the_image_architecture_follows_every_selectable_instance_type(
    instance_type: str, architecture: str
) -> None:
    """An arm64 image does not boot on an x86_64 type, nor the reverse: the image is the
    latest Amazon Linux 2023 of the type's architecture, read from the SSM parameter whose
    name ends in it (a stack parameter of the template)."""
    template = _scratch_template(instance_type=instance_type)
    data = _launch_template_data(template)
    assert data["InstanceType"] == instance_type
    assert "CreditSpecification" not in data, "cpu_credits unset: the family's AWS default"
    parameters = json.dumps(template["Parameters"])
    other = "x86_64" if architecture == "arm64" else "arm64"
    assert "al2023" in parameters and architecture in parameters
    assert other not in parameters


def test_t2_micro_stays_selectable_with_either_credit_mode() -> None:
    for mode in ("standard", "unlimited"):
        data = _launch_template_data(_scratch_template(instance_type="t2.micro", cpu_credits=mode))
        assert (data["InstanceType"], data["CreditSpecification"]) == (
            "t2.micro",
            {"CpuCredits": mode},
        )


def test_key_pair_and_arm_image_when_configured(synth_variant: Synthesized) -> None:
    data = synth_variant.one("primary", "AWS::EC2::LaunchTemplate")["Properties"][
        "LaunchTemplateData"
    ]
    assert data["KeyName"] == "ops-key"
    assert "arm64" in json.dumps(data["ImageId"])


@pytest.mark.parametrize("kind", REGIONS)
def test_instance_role_has_only_ssm_managed_access(synth: Synthesized, kind: str) -> None:
    roles = synth.resources(kind, "AWS::IAM::Role")
    role = next(v for k, v in roles.items() if k.startswith("WebInstanceRole"))
    assert json.dumps(role["Properties"]["ManagedPolicyArns"]).count("arn:") == 1
    assert "AmazonSSMManagedInstanceCore" in json.dumps(role["Properties"]["ManagedPolicyArns"])
    statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}


def _instance_statements(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    policies = synth.resources(kind, "AWS::IAM::Policy")
    (policy,) = [v for k, v in policies.items() if k.startswith("WebInstanceRoleDefaultPolicy")]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


@pytest.mark.parametrize(("kind", "region"), [("primary", "us-east-1"), ("secondary", "us-west-2")])
def test_instances_may_connect_only_as_the_reader_to_their_regions_instance(
    synth: Synthesized, kind: str, region: str
) -> None:
    """IAM database authentication: rds-db:connect on arn:aws:rds-db:region:account:dbuser:
    DbiResourceId/user, the narrowest resource the action has
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html)."""
    statements = _instance_statements(synth, kind)
    assert set(statements) == {"FetchBootFiles", "ConnectAsReader"}
    connect = statements["ConnectAsReader"]
    assert (connect["Effect"], connect["Action"]) == ("Allow", "rds-db:connect")
    (instance,) = synth.resources(kind, "AWS::RDS::DBInstance")  # the region's own instance
    assert connect["Resource"] == {
        "Fn::Join": [
            "",
            [
                f"arn:aws:rds-db:{region}:123456789012:dbuser:",
                {"Fn::GetAtt": [instance, "DbiResourceId"]},
                "/tapstack_reader",
            ],
        ]
    }


@pytest.mark.parametrize(("kind", "region"), [("primary", "us-east-1"), ("secondary", "us-west-2")])
def test_instances_may_read_their_two_boot_files_and_no_other_object(
    synth: Synthesized, kind: str, region: str
) -> None:
    fetch = _instance_statements(synth, kind)["FetchBootFiles"]
    assert fetch["Action"] == "s3:GetObject"
    bucket = f"arn:aws:s3:::cdk-hnb659fds-assets-123456789012-{region}/"
    assert [re.sub(r"[0-9a-f]{64}", "HASH", r) for r in fetch["Resource"]] == [
        bucket + "HASH.py",
        bucket + "HASH.pem",
    ]


@pytest.mark.parametrize("kind", REGIONS)
def test_auto_scaling_group_spans_private_subnets_with_elb_health_checks(
    synth: Synthesized, kind: str
) -> None:
    asg = synth.one(kind, "AWS::AutoScaling::AutoScalingGroup")
    props = asg["Properties"]
    assert (props["MinSize"], props["DesiredCapacity"], props["MaxSize"]) == ("2", "2", "5")
    assert props["HealthCheckType"] == "ELB"
    assert props["HealthCheckGracePeriod"] == 180
    assert "LaunchTemplate" in props and "LaunchConfigurationName" not in props
    subnets = json.dumps(props["VPCZoneIdentifier"])
    assert "private" in subnets.lower() and "public" not in subnets.lower()
    rolling = asg["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == 2


def test_rolling_updates_keep_in_service_below_max_as_cloudformation_requires() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2

    from tapstack.config import WebConfig
    from tapstack.web.infrastructure import WebTier

    stack = cdk.Stack(cdk.App(), "Scratch")
    vpc = ec2.Vpc(stack, "Vpc", restrict_default_security_group=False)
    settings = WebConfig(min_capacity=3, desired_capacity=3, max_capacity=3, waf_enabled=False)
    WebTier(
        stack,
        "Web",
        vpc=vpc,
        vpc_cidr="10.0.0.0/16",
        settings=settings,
        server=ServerEnvironment(project="x", region="us-east-1", role=Role.WRITER),
        acl_name="x-test-primary",
    )
    template = cdk.assertions.Template.from_stack(stack).to_json()
    asg = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::AutoScaling::AutoScalingGroup"
    )
    assert asg["UpdatePolicy"]["AutoScalingRollingUpdate"]["MinInstancesInService"] == 2


@pytest.mark.parametrize("kind", REGIONS)
def test_cpu_target_tracking_scales_the_group(synth: Synthesized, kind: str) -> None:
    policy = synth.one(kind, "AWS::AutoScaling::ScalingPolicy")["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    config = policy["TargetTrackingConfiguration"]
    assert (
        config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "ASGAverageCPUUtilization"
    )
    assert config["TargetValue"] == 50


@pytest.mark.parametrize("kind", REGIONS)
def test_no_launch_configuration_anywhere(synth: Synthesized, kind: str) -> None:
    assert synth.resources(kind, "AWS::AutoScaling::LaunchConfiguration") == {}


@pytest.mark.parametrize("kind", REGIONS)
def test_load_balancer_is_internet_facing_in_public_subnets(synth: Synthesized, kind: str) -> None:
    lb = synth.one(kind, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert lb["Scheme"] == "internet-facing"
    assert lb["Type"] == "application"
    assert "public" in json.dumps(lb["Subnets"]).lower()
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true", "retain mode protects the ALB"


@pytest.mark.parametrize("kind", REGIONS)
def test_target_group_checks_liveness_not_the_deep_health_that_route_53_uses(
    synth: Synthesized, kind: str
) -> None:
    tg = synth.one(kind, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    # /health fails while the database fails over; Auto Scaling would replace every
    # healthy instance. The load balancer checks the process; Route 53 the region.
    assert tg["HealthCheckPath"] == "/livez"
    route53 = synth.one(kind, "AWS::Route53::HealthCheck", "FailoverHealthCheck")
    assert route53["Properties"]["HealthCheckConfig"]["ResourcePath"] == "/health"
    assert tg["Matcher"] == {"HttpCode": "200"}
    assert tg["Port"] == 8080
    assert tg["HealthCheckIntervalSeconds"] == 10


def _listeners(synth: Synthesized, kind: str) -> dict[int, dict[str, Any]]:
    listeners = synth.resources(kind, "AWS::ElasticLoadBalancingV2::Listener").values()
    return {listener["Properties"]["Port"]: listener["Properties"] for listener in listeners}


def _ingress(synth: Synthesized, kind: str) -> list[tuple[str, int, int]]:
    _, group = _security_group(synth, kind, "WebAlbSecurityGroup")
    rules = group["Properties"]["SecurityGroupIngress"]
    return [(r["CidrIp"], r["FromPort"], r["ToPort"]) for r in rules]


@pytest.mark.parametrize("kind", REGIONS)
def test_https_listener_serves_the_regions_certificate_with_a_current_tls_policy(
    synth: Synthesized, kind: str
) -> None:
    """CloudFormation's default policy is ELBSecurityPolicy-2016-08 (TLS 1.0); AWS recommends
    the TLS 1.3 post-quantum policies for new listeners
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html)."""
    https = _listeners(synth, kind)[443]
    (certificate_id,) = synth.resources(kind, "AWS::CertificateManager::Certificate")
    (target_group_id,) = synth.resources(kind, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": certificate_id}}]
    assert https["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": target_group_id}}
    ]


@pytest.mark.parametrize("kind", REGIONS)
def test_http_only_redirects_to_https_permanently(synth: Synthesized, kind: str) -> None:
    listeners = _listeners(synth, kind)
    assert sorted(listeners) == [80, 443]
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[80]["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]


@pytest.mark.parametrize("kind", REGIONS)
def test_alb_takes_https_and_http_from_the_internet_and_nothing_else(
    synth: Synthesized, kind: str
) -> None:
    assert _ingress(synth, kind) == [("0.0.0.0/0", 80, 80), ("0.0.0.0/0", 443, 443)]


def test_a_certificate_the_user_brings_is_served_and_none_is_requested_for_that_region(
    synth_variant: Synthesized,
) -> None:
    configured = synth_variant.built.primary.config.primary.certificate_arn
    https = _listeners(synth_variant, "primary")[443]
    assert https["Certificates"] == [{"CertificateArn": configured}]
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert synth_variant.resources("primary", "AWS::CertificateManager::Certificate") == {}
    # The secondary region brings none: it gets the managed one, in its own region.
    (certificate_id,) = synth_variant.resources("secondary", "AWS::CertificateManager::Certificate")
    secondary = _listeners(synth_variant, "secondary")[443]
    assert secondary["Certificates"] == [{"CertificateArn": {"Ref": certificate_id}}]


@pytest.mark.parametrize("kind", REGIONS)
def test_with_https_off_the_alb_serves_plain_http_and_requests_no_certificate(
    synth_http_only: Synthesized, kind: str
) -> None:
    listeners = _listeners(synth_http_only, kind)
    assert sorted(listeners) == [80]
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[80]["DefaultActions"][0]["Type"] == "forward"
    assert _ingress(synth_http_only, kind) == [("0.0.0.0/0", 80, 80)]
    assert synth_http_only.resources(kind, "AWS::CertificateManager::Certificate") == {}


@pytest.mark.parametrize("kind", REGIONS)
def test_instances_take_the_app_port_only_from_the_alb(synth: Synthesized, kind: str) -> None:
    instance_id, group = _security_group(synth, kind, "WebInstanceSecurityGroup")
    alb_id, _ = _security_group(synth, kind, "WebAlbSecurityGroup")
    assert "SecurityGroupIngress" not in group["Properties"], "no inline CIDR ingress"
    rules = [
        r["Properties"]
        for r in synth.resources(kind, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [instance_id, "GroupId"]}
    ]
    assert rules == [
        {
            "Description": "App port from the load balancer",
            "FromPort": 8080,
            "GroupId": {"Fn::GetAtt": [instance_id, "GroupId"]},
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {"Fn::GetAtt": [alb_id, "GroupId"]},
            "ToPort": 8080,
        }
    ]


@pytest.mark.parametrize("kind", REGIONS)
def test_no_ssh_rule_when_no_address_is_configured(synth: Synthesized, kind: str) -> None:
    template = json.dumps(synth.templates[kind])
    for rule in synth.resources(kind, "AWS::EC2::SecurityGroupIngress").values():
        assert rule["Properties"]["FromPort"] != 22
    for group in synth.resources(kind, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule["FromPort"] != 22
    assert '"FromPort": 22' not in template


def test_ssh_only_from_the_one_configured_address(synth_variant: Synthesized) -> None:
    _, group = _security_group(synth_variant, "primary", "WebInstanceSecurityGroup")
    ssh = [r for r in group["Properties"]["SecurityGroupIngress"] if r["FromPort"] == 22]
    assert ssh == [
        {
            "CidrIp": "203.0.113.10/32",
            "Description": "SSH from the one configured address",
            "FromPort": 22,
            "IpProtocol": "tcp",
            "ToPort": 22,
        }
    ]


@pytest.mark.parametrize(
    ("kind", "role", "region"),
    [("primary", "writer", "us-east-1"), ("secondary", "standby", "us-west-2")],
)
def test_user_data_installs_the_web_server_under_systemd(
    synth: Synthesized, kind: str, role: str, region: str
) -> None:
    script = _user_data(synth, kind)
    assert script.startswith("#!/bin/bash")
    assert f"Environment=TAPSTACK_REGION={region}" in script
    assert f"Environment=TAPSTACK_ROLE={role}" in script
    assert "Environment=TAPSTACK_PORT=8080" in script
    assert "Environment=TAPSTACK_DB_HOST=" in script and "DatabaseInstance" in script, (
        "/health probes this region's database endpoint"
    )
    assert "Environment=TAPSTACK_DB_PORT=3306" in script
    # every probe completes the MySQL handshake (a refused login is no connect error)
    assert "Environment=TAPSTACK_DB_PROBE_USER=tapstack_health" in script
    assert "systemctl enable --now tapstack-web.service" in script


@pytest.mark.parametrize(("kind", "region"), [("primary", "us-east-1"), ("secondary", "us-west-2")])
def test_the_server_and_the_rds_ca_bundle_are_fetched_and_checked_against_their_hashes(
    synth: Synthesized, kind: str, region: str
) -> None:
    script = _user_data(synth, kind)
    fetches = re.findall(r"^fetch (s3://\S+) ([0-9a-f]{64}) (\S+)$", script, re.MULTILINE)
    bucket = f"s3://cdk-hnb659fds-assets-123456789012-{region}/"
    assert [(url.startswith(bucket), digest, path) for url, digest, path in fetches] == [
        (True, hashlib.sha256(SERVER_SOURCE.read_bytes()).hexdigest(), "/opt/tapstack/server.py"),
        (True, hashlib.sha256(RDS_CA_BUNDLE.read_bytes()).hexdigest(), RDS_CA_PATH),
    ], "the real server, and the loader's CA bundle, each installed only if its hash matches"
    assert "sha256sum --check --quiet" in script and "set -euo pipefail" in script
    assert f"aws s3 cp --only-show-errors --region {region}" in script


@pytest.mark.parametrize("kind", REGIONS)
def test_the_servers_read_events_with_iam_authentication_over_verified_tls(
    synth: Synthesized, kind: str
) -> None:
    script = _user_data(synth, kind)
    for line in (
        "TAPSTACK_DB_NAME=tapstack",
        "TAPSTACK_DB_READ_USER=tapstack_reader",
        "TAPSTACK_DB_AUTH=iam",
        f"TAPSTACK_DB_TLS_CA={RDS_CA_PATH}",
    ):
        assert f"\nEnvironment={line}\n" in script
    assert "PASSWORD" not in script


#: The longest a token of the user data resolves to: an RDS endpoint address (instance
#: identifier, up to 63 characters, a 12-character account hash, the region and the domain).
LONGEST_TOKEN = 63 + 1 + 12 + 1 + len("ap-southeast-2") + len(".rds.amazonaws.com.cn")


@pytest.mark.parametrize("kind", REGIONS)
def test_user_data_fits_the_ec2_limit_of_16_kb_before_encoding(
    synth: Synthesized, kind: str
) -> None:
    """EC2: "User data is limited to 16 KB, in raw form, before it is base64-encoded"
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html)."""
    template = synth.one(kind, "AWS::EC2::LaunchTemplate")
    parts = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    parts = parts["Fn::Join"][1] if isinstance(parts, dict) else [parts]
    size = sum(len(p.encode()) if isinstance(p, str) else LONGEST_TOKEN for p in parts)
    assert size < USER_DATA_LIMIT == 16384
    assert size < 4096, "the code travels as an asset: the script is a few lines"


def test_the_server_reads_the_loaders_events_table() -> None:
    """The server ships alone and cannot import the loader's schema: its copy must match."""
    assert schema.EVENTS.name == web_server.EVENTS_TABLE
    assert schema.EVENTS.column_names == web_server.EVENT_COLUMNS
    id_column = schema.EVENTS.columns[0]
    assert isinstance(id_column.type, schema.VarChar)
    assert id_column.type.length == web_server.MAX_EVENT_ID
    selected = tuple(re.findall(r"`(\w+)`", web_server._SELECT_EVENTS))
    assert selected == (*web_server.EVENT_COLUMNS, web_server.EVENTS_TABLE)


def test_read_users_need_the_database_they_read() -> None:
    with pytest.raises(
        ValueError, match="needs database_host, database_name, database_resource_id"
    ):
        ServerEnvironment(project="x", region="us-east-1", role=Role.WRITER, read_user="r")


def test_render_user_data_without_reads_sets_no_read_variables() -> None:
    server = ServerEnvironment(project="x", region="us-east-1", role=Role.WRITER)
    files = [ShippedFile("s3://b/k.py", "0" * 64, "/opt/tapstack/server.py")]
    script = render_user_data(server, port=8080, files=files)
    assert "TAPSTACK_DB_" not in script
    assert f"\nfetch s3://b/k.py {'0' * 64} /opt/tapstack/server.py\n" in script


def test_the_server_environment_rejects_an_unknown_role() -> None:
    with pytest.raises(ValueError, match="role must be 'writer' or 'standby', got 'leader'"):
        ServerEnvironment(project="x", region="us-east-1", role="leader")  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "role"), [("primary", "standby"), ("secondary", "writer")])
def test_the_web_tier_reports_the_role_the_configuration_gives_its_region(
    synth_writer_secondary: Synthesized, kind: str, role: str
) -> None:
    assert f"Environment=TAPSTACK_ROLE={role}" in _user_data(synth_writer_secondary, kind)

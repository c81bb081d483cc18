"""One region's web tier: ALB -> Auto Scaling group of small Python web servers."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import WebConfig
from tapstack.removal import retains

SERVER_SOURCE = Path(__file__).parent / "runtime" / "server.py"
SERVER_PATH = "/opt/tapstack/server.py"
#: Deep health (database, maintenance): Route 53 moves traffic between regions on it.
HEALTH_PATH = "/health"
#: Process liveness: the target group (and so Auto Scaling) replaces instances on it only.
LIVENESS_PATH = "/livez"


def server_payload() -> str:
    """The server source, gzipped and base64-encoded in 76-column lines.

    EC2 caps user data at 16 KB before encoding; compressed, the server takes
    about a third of that. ``mtime=0`` keeps the bytes (and so the launch
    template) identical between syntheses.
    """
    compressed = gzip.compress(SERVER_SOURCE.read_bytes(), compresslevel=9, mtime=0)
    return base64.encodebytes(compressed).decode("ascii").strip()


def render_user_data(
    *,
    region: str,
    role: str,
    port: int,
    project: str,
    database_host: str | None = None,
    database_port: int = 3306,
) -> str:
    """The boot script: install the web server and run it under systemd.

    The server is one standard-library file, so it travels inside the user
    data; instances need no access to an asset bucket to start serving.
    ``database_host`` may be a CloudFormation token.
    """
    payload = server_payload()
    environment = [
        f"TAPSTACK_PROJECT={project}",
        f"TAPSTACK_REGION={region}",
        f"TAPSTACK_ROLE={role}",
        f"TAPSTACK_PORT={port}",
    ]
    if database_host is not None:
        environment += [f"TAPSTACK_DB_HOST={database_host}", f"TAPSTACK_DB_PORT={database_port}"]
    env_lines = "\n".join(f"Environment={line}" for line in environment)
    return f"""#!/bin/bash
set -euo pipefail
dnf install -y python3
useradd --system --no-create-home --shell /sbin/nologin tapstack || true
install -d -m 0755 /opt/tapstack /etc/tapstack
base64 -d <<'TAPSTACK_SERVER_EOF' | gunzip > {SERVER_PATH}
{payload}
TAPSTACK_SERVER_EOF
chmod 0644 {SERVER_PATH}
cat > /etc/systemd/system/tapstack-web.service <<'TAPSTACK_UNIT_EOF'
[Unit]
Description=TapStack web server
After=network-online.target
Wants=network-online.target

[Service]
User=tapstack
{env_lines}
ExecStart=/usr/bin/python3 {SERVER_PATH}
Restart=always
RestartSec=2
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
TAPSTACK_UNIT_EOF
systemctl daemon-reload
systemctl enable --now tapstack-web.service
"""


class WebTier(Construct):
    """Application Load Balancer in the public subnets in front of an Auto
    Scaling group of Amazon Linux 2023 instances in the private subnets.

    Instances are managed through SSM Session Manager; SSH is opened only to
    ``settings.ssh_allowed_cidr`` when that single address is configured.

    Attributes:
        load_balancer: the internet-facing ALB.
        auto_scaling_group: the instances' group.
        target_group: the ALB target group (health check on ``/health``).
        instance_security_group: the instances' security group.
        alb_security_group: the load balancer's security group.
        uses_tls: whether the ALB serves HTTPS.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        vpc_cidr: str,
        settings: WebConfig,
        region: str,
        role: str,
        project: str,
        name_prefix: str,
        certificate_arn: str | None = None,
        database_host: str | None = None,
        database_port: int = 3306,
        access_logs_bucket_name: str | None = None,
        access_logs_prefix: str = "alb",
        log_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        super().__init__(scope, construct_id)
        if role not in ("primary", "standby"):
            raise ValueError(f"role must be 'primary' or 'standby', got {role!r}")
        self.uses_tls = certificate_arn is not None
        port = settings.app_port

        self.alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=vpc,
            description="Load balancer: HTTP(S) from the internet",
            allow_all_outbound=False,
        )
        self.alb_security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP")
        acknowledge(
            self.alb_security_group,
            "AwsSolutions-EC23",
            "Internet-facing load balancer: HTTP (and HTTPS when configured) from anywhere is "
            "its purpose; the instances behind it admit only this group",
        )
        if self.uses_tls:
            self.alb_security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS"
            )

        self.instance_security_group = ec2.SecurityGroup(
            self,
            "InstanceSecurityGroup",
            vpc=vpc,
            description="Web servers: app port from the load balancer only",
            allow_all_outbound=False,
        )
        self.instance_security_group.add_ingress_rule(
            self.alb_security_group, ec2.Port.tcp(port), "App port from the load balancer"
        )
        self.alb_security_group.add_egress_rule(
            self.instance_security_group, ec2.Port.tcp(port), "To the web servers"
        )
        # Package repositories (S3), SSM endpoints and AWS APIs are all HTTPS.
        self.instance_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and package repositories"
        )
        if database_host is not None:
            self.instance_security_group.add_egress_rule(
                ec2.Peer.ipv4(vpc_cidr),
                ec2.Port.tcp(database_port),
                "MySQL inside the VPC (health check)",
            )
        if settings.ssh_allowed_cidr is not None:
            peer = (
                ec2.Peer.ipv6(settings.ssh_allowed_cidr)
                if ":" in settings.ssh_allowed_cidr
                else ec2.Peer.ipv4(settings.ssh_allowed_cidr)
            )
            self.instance_security_group.add_ingress_rule(
                peer, ec2.Port.tcp(22), "SSH from the one configured address"
            )

        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Web servers: SSM management only",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        acknowledge(
            self.instance_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "Session Manager replaces SSH; this AWS-managed policy is the documented minimum "
            "for the SSM agent and is kept current by AWS",
        )

        user_data = ec2.UserData.custom(
            render_user_data(
                region=region,
                role=role,
                port=port,
                project=project,
                database_host=database_host,
                database_port=database_port,
            )
        )
        cpu = ec2.AmazonLinuxCpuType.ARM_64 if settings.is_arm else ec2.AmazonLinuxCpuType.X86_64
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu),
            instance_type=ec2.InstanceType(settings.instance_type),
            role=self.instance_role,
            security_group=self.instance_security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            key_pair=(
                ec2.KeyPair.from_key_pair_name(self, "KeyPair", settings.key_pair_name)
                if settings.key_pair_name
                else None
            ),
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        settings.root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )

        # CloudFormation rejects MinInstancesInService >= MaxSize during a rolling update.
        in_service = max(0, min(settings.min_capacity, settings.max_capacity - 1))
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "AutoScalingGroup",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=self.launch_template,
            min_capacity=settings.min_capacity,
            desired_capacity=settings.desired_capacity,
            max_capacity=settings.max_capacity,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=Duration.minutes(3),
            ),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=in_service,
                pause_time=Duration.minutes(5),
            ),
        )
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions-AS3",
            "Launch and terminate events reach the alarm topic through an EventBridge rule "
            "(Monitoring/ScalingEvents); group notifications would publish as the service-linked "
            "role, which the encrypted topic's key cannot name before that role exists",
        )
        Annotations.of(self.auto_scaling_group).acknowledge_warning(
            "@aws-cdk/aws-autoscaling:desiredCapacitySet",
            "desired capacity is a reviewed configuration value; a deploy resetting it is intended",
        )
        self.auto_scaling_group.scale_on_cpu_utilization(
            "CpuScaling", target_utilization_percent=settings.cpu_target_percent
        )

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=retains(removal_policy),
        )

        if access_logs_bucket_name is not None:
            # Attributes, not log_access_logs(): the bucket (and its delivery policy)
            # may live in another stack, which log_access_logs() cannot write to.
            for name, value in (
                ("access_logs.s3.enabled", "true"),
                ("access_logs.s3.bucket", access_logs_bucket_name),
                ("access_logs.s3.prefix", access_logs_prefix),
            ):
                self.load_balancer.set_attribute(name, value)

        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            targets=[self.auto_scaling_group],
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                # Not the deep /health: during a database failover every target would
                # fail it, and Auto Scaling would replace every healthy instance.
                path=LIVENESS_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
        )

        if certificate_arn is not None:
            self.load_balancer.add_listener(
                "HttpsListener",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
                open=False,
            )
            redirect = self.load_balancer.add_listener(
                "HttpListener",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port="443", permanent=True
                ),
                open=False,
            )
            acknowledge(
                redirect,
                "NIST.800.53.R5-ELBv2ACMCertificateRequired",
                "This HTTP listener only redirects to the HTTPS listener on 443, which serves "
                "the configured ACM certificate",
            )
        else:
            listener = self.load_balancer.add_listener(
                "HttpListener",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            reason = (
                "No certificate is configured for this region (certificate_arn unset), so the "
                "listener serves plain HTTP; set one to serve HTTPS and redirect HTTP to it"
            )
            for finding in (
                "NIST.800.53.R5-ALBHttpToHttpsRedirection",
                "NIST.800.53.R5-ELBv2ACMCertificateRequired",
            ):
                acknowledge(listener, finding, reason)

        if not retains(removal_policy):
            acknowledge(
                self.load_balancer,
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                "removal_mode is destroy: a throwaway environment that must delete cleanly "
                "with its stacks; production configurations use retain, which turns protection on",
            )
        if settings.waf_enabled:
            self.web_acl = WebAcl(
                self,
                "WebAcl",
                scope_name=f"{name_prefix}-{role}",
                log_key=log_key,
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
            wafv2.CfnWebACLAssociation(
                self,
                "WebAclAssociation",
                resource_arn=self.load_balancer.load_balancer_arn,
                web_acl_arn=self.web_acl.acl.attr_arn,
            )
        else:
            acknowledge(
                self.load_balancer,
                "NIST.800.53.R5-ALBWAFEnabled",
                "The web ACL is switched off in this configuration (web.waf_enabled: false)",
            )

    @property
    def listener_port(self) -> int:
        return 443 if self.uses_tls else 80


class WebAcl(Construct):
    """A regional WAF web ACL for the load balancer: AWS's common and
    known-bad-inputs rule groups, and a per-address rate limit.

    Attributes:
        acl: the web ACL.
    """

    RATE_LIMIT_PER_5_MINUTES = 2000

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scope_name: str,
        log_key: kms.IKey | None,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"{scope_name}-{name}",
                sampled_requests_enabled=True,
            )

        def managed(priority: int, name: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=visibility(name),
            )

        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("web-acl"),
            rules=[
                managed(0, "AWSManagedRulesCommonRuleSet"),
                managed(1, "AWSManagedRulesKnownBadInputsRuleSet"),
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerAddress",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=self.RATE_LIMIT_PER_5_MINUTES
                        )
                    ),
                    visibility_config=visibility("rate-per-address"),
                ),
            ],
        )
        # WAF requires the aws-waf-logs- prefix, and the ARN without the ":*" suffix.
        log_group_name = f"aws-waf-logs-{scope_name}-{Stack.of(self).region}"
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=removal_policy,
        )
        stack = Stack.of(self)
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.acl.attr_arn,
            log_destination_configs=[
                f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{log_group_name}"
            ],
        )
        logging.node.add_dependency(self.log_group)

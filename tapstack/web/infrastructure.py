"""One region's web tier: ALB -> Auto Scaling group of small Python web servers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import WebConfig
from tapstack.naming import Role
from tapstack.removal import retains
from tapstack.web.runtime import server as web_server

SERVER_SOURCE = Path(__file__).parent / "runtime" / "server.py"
SERVER_PATH = "/opt/tapstack/server.py"
#: The Amazon RDS CA bundle the loader ships (tools/update_rds_ca_bundle.py refreshes it);
#: the instances verify their database's certificate against the same file.
RDS_CA_BUNDLE = Path(__file__).parents[1] / "loader" / "runtime" / "certs" / "rds-ca-bundle.pem"
RDS_CA_PATH = "/etc/tapstack/rds-ca-bundle.pem"
#: EC2's limit on user data, in bytes before base64 encoding.
USER_DATA_LIMIT = 16 * 1024
#: The paths the server answers on: Route 53 checks HEALTH_PATH, the target group LIVENESS_PATH.
HEALTH_PATH = web_server.HEALTH_PATH
LIVENESS_PATH = web_server.LIVENESS_PATH

#: The HTTPS listener's TLS policy: TLS 1.3, and TLS 1.2 with forward-secret AEAD ciphers
#: only, with hybrid post-quantum key exchange (ML-KEM) offered. AWS recommends it for new
#: listeners and makes it the console's default; CloudFormation's default would be
#: ELBSecurityPolicy-2016-08 (TLS 1.0)
#: (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
TLS_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ


@dataclass(frozen=True)
class ServerEnvironment:
    """What every web server of the region is told at boot (its systemd environment).

    Attributes:
        project: the project name it reports.
        region: the region it runs in.
        role: the region's role, ``writer`` or ``standby``, reported in /health.
        database_host: the endpoint /health probes (may be a CloudFormation token);
            ``None`` for no database probe.
        database_port: the database's port.
        probe_user: the account the probe logs in as, so that every probe completes the
            MySQL handshake (see the server's module docstring); no such account need exist.
        database_name: the schema holding the loader's ``events`` table.
        read_user: the read-only account ``GET /events`` logs in as with an IAM token
            (created by ``bootstrap-database``); ``None`` for no event reads.
        database_resource_id: the instance's ``DbiResourceId`` (may be a token): the
            instances may ``rds-db:connect`` as ``read_user`` on this instance only.
    """

    project: str
    region: str
    role: Role
    database_host: str | None = None
    database_port: int = 3306
    probe_user: str = "tapstack_health"
    database_name: str | None = None
    read_user: str | None = None
    database_resource_id: str | None = None

    def __post_init__(self) -> None:
        roles = tuple(Role)
        if self.role not in roles:
            allowed = " or ".join(repr(r.value) for r in roles)
            raise ValueError(f"role must be {allowed}, got {self.role!r}")
        if self.read_user is not None:
            needs = ("database_host", "database_name", "database_resource_id")
            missing = [name for name in needs if getattr(self, name) is None]
            if missing:
                raise ValueError(f"read_user {self.read_user!r} needs {', '.join(missing)}")

    def variables(self, port: int) -> list[str]:
        """``NAME=value`` lines for the server listening on ``port``."""
        variables = [
            f"{web_server.ENV_PROJECT}={self.project}",
            f"{web_server.ENV_REGION}={self.region}",
            f"{web_server.ENV_ROLE}={Role(self.role).value}",
            f"{web_server.ENV_PORT}={port}",
        ]
        if self.database_host is not None:
            variables += [
                f"{web_server.ENV_DB_HOST}={self.database_host}",
                f"{web_server.ENV_DB_PORT}={self.database_port}",
                f"{web_server.ENV_DB_PROBE_USER}={self.probe_user}",
            ]
        if self.read_user is not None:
            variables += [
                f"{web_server.ENV_DB_NAME}={self.database_name}",
                f"{web_server.ENV_DB_READ_USER}={self.read_user}",
                f"{web_server.ENV_DB_AUTH}={web_server.AUTH_IAM}",
                f"{web_server.ENV_DB_TLS_CA}={RDS_CA_PATH}",
            ]
        return variables


@dataclass(frozen=True)
class AccessLogs:
    """Where the load balancer writes its access logs: a bucket (possibly of another
    stack, named rather than imported) that already lets Elastic Load Balancing write."""

    bucket_name: str
    prefix: str = "alb"


@dataclass(frozen=True)
class ShippedFile:
    """A file the instances fetch at boot from the CDK asset bucket: where it is, its
    SHA-256 (checked before it is installed) and where it goes."""

    s3_url: str
    sha256: str
    path: str


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_user_data(server: ServerEnvironment, *, port: int, files: list[ShippedFile]) -> str:
    """The boot script: fetch the web server (and the RDS CA bundle), check each against
    the hash synthesis computed, and run the server under systemd.

    The files come from the CDK asset bucket in the region (through the VPC's S3 gateway
    endpoint), not inside the user data: the server outgrew EC2's 16 KB limit once it read
    the database itself. A file whose hash differs stops the boot (``set -e``), so an
    instance never runs anything but the code that was synthesized.
    """
    env_lines = "\n".join(f"Environment={line}" for line in server.variables(port))
    fetches = "\n".join(f"fetch {f.s3_url} {f.sha256} {f.path}" for f in files)
    return f"""#!/bin/bash
set -euo pipefail
dnf install -y python3
useradd --system --no-create-home --shell /sbin/nologin tapstack || true
install -d -m 0755 /opt/tapstack /etc/tapstack
fetch() {{
  for attempt in 1 2 3 4 5; do
    aws s3 cp --only-show-errors --region {server.region} "$1" "$3.part" && break
    [ "$attempt" = 5 ] && return 1
    sleep 5
  done
  echo "$2  $3.part" | sha256sum --check --quiet
  chmod 0644 "$3.part"
  mv "$3.part" "$3"
}}
{fetches}
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
    ``settings.ssh_allowed_cidr`` when that single address is configured. The
    target group checks the servers' liveness (``/livez``); Route 53 checks the
    deep ``/health`` (see ``tapstack.failover``). With ``settings.waf_enabled``
    a WAF web ACL named ``acl_name`` guards the load balancer.

    Attributes:
        load_balancer: the internet-facing ALB.
        auto_scaling_group: the instances' group.
        launch_template: the instances' launch template.
        target_group: the ALB target group (health check on ``/livez``).
        instance_security_group: the instances' security group.
        instance_role: the instances' role: SSM management, reading its two boot files,
            and ``rds-db:connect`` as the read-only account on this region's instance.
        shipped_files: what the instances fetch at boot (the server, the RDS CA bundle).
        alb_security_group: the load balancer's security group.
        web_acl: the WAF web ACL, or ``None`` when switched off.
        uses_tls: whether the ALB serves HTTPS: with ``certificate_arn`` (a certificate of
            the load balancer's region) 443 serves it with :data:`TLS_POLICY` and 80 only
            redirects (301); without, 80 serves plain HTTP.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        vpc_cidr: str,
        settings: WebConfig,
        server: ServerEnvironment,
        acl_name: str,
        certificate_arn: str | None = None,
        access_logs: AccessLogs | None = None,
        log_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        super().__init__(scope, construct_id)
        self.uses_tls = certificate_arn is not None
        self.alb_security_group = self._alb_security_group(vpc)
        self.instance_security_group = self._instance_security_group(
            vpc, vpc_cidr, settings, server
        )
        self.instance_role = self._instance_role()
        self.shipped_files = self._ship_files(server)
        if server.read_user is not None:
            self._allow_reads(server)
        self.launch_template = self._launch_template(settings, server)
        self.auto_scaling_group = self._auto_scaling_group(vpc, settings)
        self.load_balancer = self._load_balancer(vpc, access_logs, removal_policy)
        self.target_group = self._target_group(vpc, settings.app_port)
        self._listeners(certificate_arn)
        self.web_acl: WebAcl | None = None
        if settings.waf_enabled:
            self.web_acl = WebAcl(
                self,
                "WebAcl",
                scope_name=acl_name,
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
                "web.waf_enabled is false: a development environment without the web ACL's cost; "
                "the load balancer still admits only HTTP(S), and production keeps WAF on",
            )

    @property
    def listener_port(self) -> int:
        return 443 if self.uses_tls else 80

    def _alb_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=vpc,
            description="Load balancer: HTTP(S) from the internet",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP")
        acknowledge(
            group,
            "AwsSolutions-EC23",
            "Internet-facing load balancer: HTTPS from anywhere is its purpose, and HTTP only "
            "redirects to it (or, with web.https false, serves); the instances behind it "
            "admit only this group",
        )
        if self.uses_tls:
            group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
        return group

    def _instance_security_group(
        self, vpc: ec2.IVpc, vpc_cidr: str, settings: WebConfig, server: ServerEnvironment
    ) -> ec2.SecurityGroup:
        port = settings.app_port
        group = ec2.SecurityGroup(
            self,
            "InstanceSecurityGroup",
            vpc=vpc,
            description="Web servers: app port from the load balancer only",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(
            self.alb_security_group, ec2.Port.tcp(port), "App port from the load balancer"
        )
        self.alb_security_group.add_egress_rule(group, ec2.Port.tcp(port), "To the web servers")
        # Package repositories (S3), SSM endpoints and AWS APIs are all HTTPS.
        group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and package repositories"
        )
        if server.database_host is not None:
            group.add_egress_rule(
                ec2.Peer.ipv4(vpc_cidr),
                ec2.Port.tcp(server.database_port),
                "MySQL inside the VPC (health check and event reads)",
            )
        if settings.ssh_allowed_cidr is not None:
            cidr = settings.ssh_allowed_cidr
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            group.add_ingress_rule(peer, ec2.Port.tcp(22), "SSH from the one configured address")
        return group

    def _instance_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Web servers: SSM management, boot files, event reads",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "Session Manager replaces SSH; this AWS-managed policy is the documented minimum "
            "for the SSM agent and is kept current by AWS",
        )
        acknowledge(
            role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The instances' statements (their two boot files, rds-db:connect as the read-only "
            "account) belong to this one role; inline keeps them from any other principal",
        )
        return role

    def _ship_files(self, server: ServerEnvironment) -> list[ShippedFile]:
        """The server and the CA bundle as assets the role may read, object by object."""
        shipped, objects = [], []
        for construct_id, source, path in (
            ("ServerCode", SERVER_SOURCE, SERVER_PATH),
            ("RdsCaBundle", RDS_CA_BUNDLE, RDS_CA_PATH),
        ):
            asset = s3_assets.Asset(self, construct_id, path=str(source))
            shipped.append(ShippedFile(asset.s3_object_url, sha256_of(source), path))
            objects.append(asset.bucket.arn_for_objects(asset.s3_object_key))
        self.instance_role.add_to_policy(
            iam.PolicyStatement(sid="FetchBootFiles", actions=["s3:GetObject"], resources=objects)
        )
        return shipped

    def _allow_reads(self, server: ServerEnvironment) -> None:
        """``rds-db:connect`` as the read-only account on this region's instance, nothing else
        (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html)."""
        stack = Stack.of(self)
        self.instance_role.add_to_policy(
            iam.PolicyStatement(
                sid="ConnectAsReader",
                actions=["rds-db:connect"],
                resources=[
                    f"arn:aws:rds-db:{stack.region}:{stack.account}:dbuser:"
                    f"{server.database_resource_id}/{server.read_user}"
                ],
            )
        )

    def _launch_template(
        self, settings: WebConfig, server: ServerEnvironment
    ) -> ec2.LaunchTemplate:
        cpu = ec2.AmazonLinuxCpuType.ARM_64 if settings.is_arm else ec2.AmazonLinuxCpuType.X86_64
        return ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu),
            instance_type=ec2.InstanceType(settings.instance_type),
            cpu_credits=ec2.CpuCredits(settings.cpu_credits.upper())
            if settings.cpu_credits
            else None,
            role=self.instance_role,
            security_group=self.instance_security_group,
            user_data=ec2.UserData.custom(
                render_user_data(server, port=settings.app_port, files=self.shipped_files)
            ),
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

    def _auto_scaling_group(
        self, vpc: ec2.IVpc, settings: WebConfig
    ) -> autoscaling.AutoScalingGroup:
        # CloudFormation rejects MinInstancesInService >= MaxSize during a rolling update.
        in_service = max(0, min(settings.min_capacity, settings.max_capacity - 1))
        group = autoscaling.AutoScalingGroup(
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
            group,
            "AwsSolutions-AS3",
            "Launch and terminate events reach the alarm topic through an EventBridge rule "
            "(Monitoring/ScalingEvents); group notifications would publish as the service-linked "
            "role, which the encrypted topic's key cannot name before that role exists",
        )
        Annotations.of(group).acknowledge_warning(
            "@aws-cdk/aws-autoscaling:desiredCapacitySet",
            "desired capacity is a reviewed configuration value; a deploy resetting it is intended",
        )
        group.scale_on_cpu_utilization(
            "CpuScaling", target_utilization_percent=settings.cpu_target_percent
        )
        return group

    def _load_balancer(
        self, vpc: ec2.IVpc, access_logs: AccessLogs | None, removal_policy: RemovalPolicy
    ) -> elbv2.ApplicationLoadBalancer:
        load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=retains(removal_policy),
        )
        if access_logs is not None:
            # Attributes, not log_access_logs(): the bucket (and its delivery policy)
            # may live in another stack, which log_access_logs() cannot write to.
            for name, value in (
                ("access_logs.s3.enabled", "true"),
                ("access_logs.s3.bucket", access_logs.bucket_name),
                ("access_logs.s3.prefix", access_logs.prefix),
            ):
                load_balancer.set_attribute(name, value)
        if not retains(removal_policy):
            acknowledge(
                load_balancer,
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                "removal_mode is destroy: a throwaway environment that must delete cleanly "
                "with its stacks; production configurations use retain, which turns protection on",
            )
        return load_balancer

    def _target_group(self, vpc: ec2.IVpc, port: int) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
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

    def _listeners(self, certificate_arn: str | None) -> None:
        """HTTPS forwarding and HTTP redirecting to it, or plain HTTP forwarding."""
        if certificate_arn is None:
            listener = self.load_balancer.add_listener(
                "HttpListener",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            reason = (
                "web.https is false: the configuration opted out of HTTPS (with a warning), so "
                "the listener serves plain HTTP; the default serves HTTPS and redirects to it"
            )
            for finding in (
                "NIST.800.53.R5-ALBHttpToHttpsRedirection",
                "NIST.800.53.R5-ELBv2ACMCertificateRequired",
            ):
                acknowledge(listener, finding, reason)
            return
        self.load_balancer.add_listener(
            "HttpsListener",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=TLS_POLICY,
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
            "This HTTP listener only redirects (301) to the HTTPS listener on 443, which "
            "serves the region's ACM certificate; a redirect has no certificate to serve",
        )


class WebAcl(Construct):
    """A regional WAF web ACL for the load balancer: AWS's common and
    known-bad-inputs rule groups, and a per-address rate limit, logging to an
    encrypted log group.

    Attributes:
        acl: the web ACL.
        log_group: where WAF writes its logs.
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
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(scope_name, "web-acl"),
            rules=[
                _managed_rule(scope_name, 0, "AWSManagedRulesCommonRuleSet"),
                _managed_rule(scope_name, 1, "AWSManagedRulesKnownBadInputsRuleSet"),
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerAddress",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=self.RATE_LIMIT_PER_5_MINUTES
                        )
                    ),
                    visibility_config=_visibility(scope_name, "rate-per-address"),
                ),
            ],
        )
        stack = Stack.of(self)
        # WAF requires the aws-waf-logs- prefix, and the ARN without the ":*" suffix.
        log_group_name = f"aws-waf-logs-{scope_name}-{stack.region}"
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=removal_policy,
        )
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.acl.attr_arn,
            log_destination_configs=[
                f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{log_group_name}"
            ],
        )
        logging.node.add_dependency(self.log_group)


def _visibility(scope_name: str, name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=f"{scope_name}-{name}",
        sampled_requests_enabled=True,
    )


def _managed_rule(scope_name: str, priority: int, name: str) -> wafv2.CfnWebACL.RuleProperty:
    """One of AWS's managed rule groups, counted and enforced as its vendor ships it."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name
            )
        ),
        visibility_config=_visibility(scope_name, name),
    )

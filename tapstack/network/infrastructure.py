"""One region's network: VPC, subnets, NAT, routes and VPC endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import RegionConfig

PUBLIC_SUBNETS = "public"
PRIVATE_SUBNETS = "private"
#: Subnet sizes, one subnet of each per zone (tapstack.config.MAX_VPC_PREFIX follows them).
PUBLIC_MASK = 24
PRIVATE_MASK = 22
#: Zones the VPC spans: two, as Multi-AZ RDS and the load balancer need, in every region.
ZONES = 2


def availability_zones(settings: RegionConfig) -> list[str]:
    """The zones of a region's subnets, with no availability-zone lookup (so synthesis
    needs no AWS credentials, whatever the account): the names pinned in configuration,
    else the region's first two zones as the deploying account lists them, selected by
    CloudFormation at deploy time (``Fn::GetAZs``). Zone names are mapped per account, so
    no name can be assumed; the region is named rather than left to ``AWS::Region`` so
    that the template says which region's list it takes.

    Regional stacks return this from ``Stack.availability_zones``, which ``ec2.Vpc``
    reads (CDK's documented override; without it an environment-specific stack looks
    the zones up in the account)."""
    if settings.availability_zones:
        return list(settings.availability_zones)
    return [Fn.select(index, Fn.get_azs(settings.region)) for index in range(ZONES)]


class Network(Construct):
    """A VPC over two AZs with two public and two private subnets.

    The zones are the stack's ``availability_zones``: regional stacks return
    :func:`availability_zones` there, so no zone is ever looked up in the account.

    Private subnets reach the internet through NAT (one gateway shared, or
    one per AZ). S3 traffic stays inside AWS through a gateway endpoint, and
    the configured services (SSM and friends by default) through interface
    endpoints, so the instances are managed without leaving the VPC.

    Every VPC records its flow logs (all traffic) to an encrypted log group.

    Attributes:
        vpc: the VPC.
        flow_log_group: where the flow logs go.
        endpoint_security_group: the security group of the interface endpoints.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        nat_gateways: int,
        interface_endpoints: Sequence[str],
        flow_log_key: kms.IKey,
        flow_log_group_name: str,
        flow_log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        super().__init__(scope, construct_id)
        if nat_gateways not in (1, 2):
            raise ValueError(f"nat_gateways must be 1 or 2, got {nat_gateways}")
        self.vpc = self._vpc(cidr, nat_gateways)
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            log_group_name=flow_log_group_name,
            retention=flow_log_retention,
            encryption_key=flow_log_key,
            removal_policy=removal_policy,
        )
        self._record_flow_logs()
        self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[self.private_subnets],
        )
        self.endpoint_security_group = self._interface_endpoints(cidr, interface_endpoints)

    def _vpc(self, cidr: str, nat_gateways: int) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=ZONES,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC_SUBNETS,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=PUBLIC_MASK,
                    # Only the ALB and NAT (with its Elastic IP) live here; nothing
                    # launched in these subnets should get a public address by default.
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=PRIVATE_SUBNETS,
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=PRIVATE_MASK,
                ),
            ],
            # The flag's implementation is a Lambda-backed custom resource, which
            # TapStack keeps out of its templates; nothing uses the default group.
            restrict_default_security_group=False,
        )
        acknowledge(
            vpc,
            "NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
            "Closing the default security group takes CDK's Lambda-backed custom resource, "
            "which TapStack keeps out of its templates; no resource here uses the default group",
        )
        for subnet in vpc.public_subnets:
            acknowledge(
                subnet,
                "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                "Public subnets hold only the internet-facing load balancer and the NAT "
                "gateways, which need the default route to the internet gateway",
            )
        return vpc

    def _record_flow_logs(self) -> None:
        flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        acknowledge(
            flow_log.node.find_child("IAMRole"),
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's flow-log role policy only writes to this VPC's flow-log group; kept inline "
            "so it cannot be attached to any other principal",
        )

    def _interface_endpoints(self, cidr: str, services: Sequence[str]) -> ec2.SecurityGroup:
        """One interface endpoint per service, behind one group admitting HTTPS from the VPC."""
        group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        for service in services:
            self.vpc.add_interface_endpoint(
                f"{_pascal(service)}Endpoint",
                service=ec2.InterfaceVpcEndpointAwsService(service),
                subnets=self.private_subnets,
                security_groups=[group],
                private_dns_enabled=True,
                open=False,  # the group above already admits HTTPS from the VPC
            )
        return group

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)


def _pascal(service: str) -> str:
    names = {
        "ssm": "Ssm",
        "ssmmessages": "SsmMessages",
        "ec2messages": "Ec2Messages",
        "secretsmanager": "SecretsManager",
        "kms": "Kms",
        "logs": "Logs",
        "monitoring": "Monitoring",
        "sqs": "Sqs",
        "sns": "Sns",
        "sts": "Sts",
    }
    return names.get(service, service.capitalize())

"""A regional stack: everything one region runs. The primary and secondary
stacks are two instances of it that differ only in their role."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from tapstack.config import RegionConfig, TapStackConfig
from tapstack.failover.infrastructure import FailoverRecord
from tapstack.naming import Names
from tapstack.network.infrastructure import Network
from tapstack.stacks.common import removal_policy
from tapstack.web.infrastructure import WebTier


class RegionalStack(Stack):
    """Network, web tier and this region's half of the DNS failover pair."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TapStackConfig,
        region_config: RegionConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.names = Names(config, region_config.region)
        label = "Primary" if self.names.is_primary else "Secondary"

        self.network = Network(
            self,
            "Network",
            cidr=region_config.vpc_cidr,
            nat_gateways=region_config.nat_gateways,
            interface_endpoints=config.interface_endpoints,
        )
        self.web = WebTier(
            self,
            "Web",
            vpc=self.network.vpc,
            settings=config.web,
            region=region_config.region,
            role=self.names.role,
            project=config.project_name,
            certificate_arn=region_config.certificate_arn,
            removal_policy=removal_policy(config),
        )
        self.failover = FailoverRecord(
            self,
            "Failover",
            dns=config.dns,
            load_balancer=self.web.load_balancer,
            primary=self.names.is_primary,
            set_identifier=self.names.set_identifier,
            https=self.web.uses_tls,
        )

        scheme = "https" if self.web.uses_tls else "http"
        CfnOutput(
            self,
            f"{label}VpcId",
            value=self.network.vpc.vpc_id,
            description=f"VPC of the {label.lower()} region",
        )
        CfnOutput(
            self,
            f"{label}LoadBalancerDnsName",
            value=self.web.load_balancer.load_balancer_dns_name,
            description=f"DNS name of the {label.lower()} region's load balancer",
        )
        CfnOutput(
            self,
            f"{label}HealthCheckId",
            value=self.failover.health_check.health_check_id,
            description=f"Route 53 health check of the {label.lower()} region",
        )
        if self.names.is_primary:
            CfnOutput(
                self,
                "ApplicationUrl",
                value=f"{scheme}://{config.dns.fqdn}/",
                description="The failover URL (Route 53 serves the healthy region)",
            )

"""The global DNS stack: the public hosted zone both regions write into."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_route53 as route53
from constructs import Construct

from tapstack.config import TapStackConfig
from tapstack.naming import HOSTED_ZONE_ID
from tapstack.stacks.common import removal_policy


class DnsStack(Stack):
    """Owns the public hosted zone for ``dns.domain_name``.

    Deployed in the primary region (Route 53 is global). Skipped entirely when
    the configuration names an existing zone (``dns.hosted_zone_id``).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TapStackConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.hosted_zone = route53.PublicHostedZone(
            self,
            "HostedZone",
            zone_name=config.dns.domain_name,
            comment=f"{config.prefix}: failover records for {config.dns.fqdn}",
        )
        self.hosted_zone.apply_removal_policy(removal_policy(config))
        CfnOutput(
            self,
            HOSTED_ZONE_ID,
            value=self.hosted_zone.hosted_zone_id,
            description="ID of the public hosted zone",
        )
        CfnOutput(
            self,
            "HostedZoneNameServers",
            value=Fn.join(",", self.hosted_zone.hosted_zone_name_servers or []),
            description="Delegate the domain to these name servers at your registrar",
        )

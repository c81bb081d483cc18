"""One region's half of the Route 53 failover pair: a health check on the
region's load balancer and a failover alias record pointing at it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from constructs import Construct

from tapstack.config import DnsConfig
from tapstack.naming import Slot
from tapstack.web.infrastructure import HEALTH_PATH

#: Route 53 answers with the PRIMARY record while its health check passes. The type follows
#: the slot, never the role: each region's stack writes its own record, and the regions are
#: deployed one at a time (the new writer alone while the other region is down). A failover
#: record set holds one PRIMARY and one SECONDARY record; a type that followed the role
#: would, once the writer moved and only its region was redeployed, ask for a second
#: PRIMARY beside the old writer's. Traffic therefore follows the primary region's health,
#: and sending it to a writer in the secondary region is an operation on the health checks
#: (draining the primary region), not on these records.
FAILOVER_TYPE = {Slot.PRIMARY: "PRIMARY", Slot.SECONDARY: "SECONDARY"}


def health_check(
    scope: Construct, *, dns: DnsConfig, fqdn: str, https: bool, measure_latency: bool = False
) -> route53.HealthCheck:
    """A Route 53 health check on ``<fqdn>/health`` with the configured pace.

    Over HTTPS it sends ``fqdn`` as SNI (``EnableSNI``), so the load balancer answers with
    the certificate for that name. Route 53 does not validate the certificate: "HTTPS health
    checks don't validate SSL/TLS certificates, so checks don't fail if a certificate is
    invalid or expired"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html);
    an expiring certificate is caught by ACM's renewal, not by failover.
    """
    return route53.HealthCheck(
        scope,
        "HealthCheck",
        type=route53.HealthCheckType.HTTPS if https else route53.HealthCheckType.HTTP,
        fqdn=fqdn,
        enable_sni=True if https else None,
        port=443 if https else 80,
        resource_path=HEALTH_PATH,
        request_interval=Duration.seconds(dns.health_check_interval_seconds),
        failure_threshold=dns.health_check_failure_threshold,
        measure_latency=measure_latency,
    )


class FailoverRecord(Construct):
    """Route 53 health check on the region's ``/health`` and a failover alias A record.

    With ``https`` the check asks for ``<region>.<record>.<domain>`` over HTTPS with SNI (the
    region's certificate carries that name); without, it asks the load balancer's own DNS
    name over HTTP.

    The records name the hosted zone by *ID* (``hosted_zone_id``), never by
    ``HostedZoneName``: CloudFormation refuses a record named by zone name once more
    than one hosted zone has that name (a zone retained by an earlier destroy, the zone
    Route 53 Domains creates on registration, a private zone of the same name).

    ``slot`` picks the record's failover type (see :data:`FAILOVER_TYPE`);
    ``set_identifier`` is the record's stable identifier within the record set.

    Attributes:
        health_check: the Route 53 health check.
        record: the failover alias record set.
        regional_name: ``<region>.<record>.<domain>``, which reaches this region directly.
        regional_record: the alias of ``regional_name`` to this region's ALB.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dns: DnsConfig,
        hosted_zone_id: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        slot: Slot,
        set_identifier: str,
        region: str,
        https: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.regional_name = regional_name(dns, region)
        self.health_check = health_check(
            self,
            dns=dns,
            # Over HTTPS the check asks for the regional name, which the region's certificate
            # carries, so SNI matches; the load balancer's own DNS name is on no certificate.
            fqdn=self.regional_name if https else load_balancer.load_balancer_dns_name,
            https=https,
            measure_latency=dns.measure_latency,
        )
        to_load_balancer = route53.CfnRecordSet.AliasTargetProperty(
            dns_name=load_balancer.load_balancer_dns_name,
            hosted_zone_id=load_balancer.load_balancer_canonical_hosted_zone_id,
            evaluate_target_health=True,
        )
        # L1 on purpose: the L2 ARecord wants an IHostedZone; here the ID is a stack
        # parameter or a configured literal, never an import from the zone's stack.
        self.record = route53.CfnRecordSet(
            self,
            "Record",
            hosted_zone_id=hosted_zone_id,
            name=f"{dns.fqdn}.",
            type="A",
            set_identifier=set_identifier,
            failover=FAILOVER_TYPE[slot],
            health_check_id=self.health_check.health_check_id,
            alias_target=to_load_balancer,
        )
        # A plain alias per region (e.g. us-west-2.app.example.com): operators reach one
        # region directly, the region's HTTPS health check asks for it, and the us-east-1
        # stack can watch the other region by name.
        self.regional_record = route53.CfnRecordSet(
            self,
            "RegionalRecord",
            hosted_zone_id=hosted_zone_id,
            name=f"{self.regional_name}.",
            type="A",
            alias_target=to_load_balancer,
        )


def regional_name(dns: DnsConfig, region: str) -> str:
    """``<region>.<record>.<domain>``: the name that reaches one region directly."""
    return f"{region}.{dns.fqdn}"


class RegionWatch(Construct):
    """A Route 53 health check on another region's regional name.

    Route 53 publishes health-check metrics only in us-east-1, and a stack
    can only alarm in its own region; this check lets the us-east-1 stack
    alarm on the other region without importing its health check's ID.

    Attributes:
        health_check: the health check.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dns: DnsConfig,
        region: str,
        https: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.health_check = health_check(
            self, dns=dns, fqdn=regional_name(dns, region), https=https
        )

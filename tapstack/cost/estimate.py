"""A monthly estimate of a synthesized TapStack, read from its CloudFormation templates.

Each resource is priced by the function registered for its type in
``tapstack.cost.items.PRICERS`` (``tapstack.cost.pricers``), which returns its line items:
fixed charges from the template's properties (hours a resource exists, keys, alarms,
health-check options), usage-based ones at the load of :class:`tapstack.cost.usage.Usage`,
each with its unit price and the assumption it used. A type with no pricer and no entry in
:data:`FREE_TYPES` is listed as not priced, never silently dropped; so is a resource whose
price is missing from the price file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tapstack.assembly import AssemblyStack
from tapstack.cost import pricers  # noqa: F401  (registers the pricers)
from tapstack.cost.items import PRICERS, Context, LineItem, NotPriced
from tapstack.cost.prices import PriceBook, UnknownPrice
from tapstack.cost.usage import HEALTH_CHECKERS, Usage

#: Types CloudFormation creates at no charge of their own (what they lead to is priced on
#: the resource that bills it: instances on their Auto Scaling group, log volume on the
#: log group, backup storage on the plan).
FREE_TYPES: dict[str, str] = {
    t: "no charge"
    for t in (
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::Backup::BackupSelection",
        "AWS::Backup::BackupVault",
        "AWS::CDK::Metadata",
        "AWS::EC2::FlowLog",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::LaunchTemplate",
        "AWS::EC2::Route",
        "AWS::EC2::RouteTable",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::Subnet",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPC",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerCertificate",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::Events::Rule",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::KMS::Alias",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Permission",
        "AWS::RDS::DBParameterGroup",
        "AWS::RDS::DBSubnetGroup",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SSM::Parameter",
        "AWS::SecretsManager::SecretTargetAttachment",
        "AWS::WAFv2::LoggingConfiguration",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::CertificateManager::Certificate",
    )
}


@dataclass(frozen=True)
class Estimate:
    """Every line item and every resource not priced."""

    items: tuple[LineItem, ...]
    not_priced: tuple[NotPriced, ...]
    usage: Usage
    free: tuple[tuple[str, int], ...] = ()

    @property
    def total_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items)

    def by_region(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.region] = totals.get(item.region, 0.0) + item.monthly_usd
        return totals

    def fixed_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items if not item.usage_based)


def estimate(
    stacks: Iterable[AssemblyStack], price_book: PriceBook, usage: Usage | None = None
) -> Estimate:
    """Price every resource of ``stacks`` for a month."""
    stacks = list(stacks)
    usage = usage or Usage()
    load = requests_per_second(stacks, usage)
    items: list[LineItem] = []
    not_priced: list[NotPriced] = []
    free: dict[str, int] = {}
    for stack in stacks:
        for logical_id, resource in stack.template.get("Resources", {}).items():
            rtype = resource["Type"]
            if rtype in FREE_TYPES:
                free[rtype] = free.get(rtype, 0) + 1
                continue
            where = (stack.name, stack.region, logical_id, rtype)
            pricer = PRICERS.get(rtype)
            if pricer is None:
                not_priced.append(NotPriced(*where, "the estimator has no pricer for this type"))
                continue
            context = Context(stacks, stack, logical_id, resource, price_book, usage, load)
            try:
                items.extend(pricer(context))
            except UnknownPrice as exc:
                not_priced.append(NotPriced(*where, str(exc)))
    return Estimate(tuple(items), tuple(not_priced), usage, tuple(sorted(free.items())))


def requests_per_second(stacks: list[AssemblyStack], usage: Usage) -> dict[str, float]:
    """Requests a second reaching each region's load balancer: the page load, and every
    Route 53 health check on it (:data:`HEALTH_CHECKERS` checkers at its interval). A check
    names its region's load balancer, or another region's name (``<region>.<record>...``)."""
    regions = [stack.region for stack in stacks]
    load = {region: usage.page_requests_per_second for region in regions}
    for stack in stacks:
        for resource in stack.template.get("Resources", {}).values():
            if resource["Type"] != "AWS::Route53::HealthCheck":
                continue
            config = resource["Properties"]["HealthCheckConfig"]
            fqdn = config.get("FullyQualifiedDomainName")
            target = stack.region
            if isinstance(fqdn, str):
                target = next((r for r in regions if fqdn.startswith(f"{r}.")), stack.region)
            load[target] += HEALTH_CHECKERS / config.get("RequestInterval", 30)
    return load

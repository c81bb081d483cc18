"""A monthly estimate of a synthesized TapStack, read from its CloudFormation templates.

Each resource is priced by the function registered for its type in :data:`PRICERS`,
which returns its line items: fixed charges from the template's properties (hours a
resource exists, keys, alarms, health-check options), usage-based ones at the load of
:class:`tapstack.cost.usage.Usage`, each with its unit price and the assumption it used. A
type with no pricer and no entry in :data:`FREE_TYPES` is listed as not priced, never
silently dropped; so is a resource whose price is missing from the price file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tapstack.assembly import AssemblyStack
from tapstack.cost.prices import PriceBook, UnknownPrice
from tapstack.cost.usage import HEALTH_CHECKERS, HOURS_PER_MONTH, SECONDS_PER_MONTH, Usage

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
class LineItem:
    """One billed dimension of one resource for a month.

    Attributes:
        stack, region, logical_id, resource_type: the resource.
        what: the dimension (``t4g.micro instance-hours``, ``latency measurement``...).
        quantity: units a month, in the price's unit.
        unit_usd, unit: the unit price and its unit.
        price_key, source, as_of: where the unit price came from (the price file).
        assumption: for a usage-based item, the load it assumes; ``None`` for a fixed charge.
    """

    stack: str
    region: str
    logical_id: str
    resource_type: str
    what: str
    quantity: float
    unit_usd: float
    unit: str
    price_key: str
    source: str
    as_of: str
    assumption: str | None = None

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd

    @property
    def usage_based(self) -> bool:
        return self.assumption is not None


@dataclass(frozen=True)
class NotPriced:
    """A resource the estimate could not price, and why."""

    stack: str
    region: str
    logical_id: str
    resource_type: str
    reason: str


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


@dataclass
class Context:
    """What a pricer reads: the resource, its stack, the prices, the load."""

    stacks: list[AssemblyStack]
    stack: AssemblyStack
    logical_id: str
    resource: dict[str, Any]
    prices: PriceBook
    usage: Usage
    requests_per_second: dict[str, float] = field(default_factory=dict)

    @property
    def props(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.resource.get("Properties", {})
        return properties

    @property
    def region(self) -> str:
        return self.stack.region

    def item(
        self,
        what: str,
        quantity: float,
        key: str,
        assumption: str | None = None,
        region: str | None = None,
    ) -> LineItem:
        """A line item of this resource; ``region`` when another region bills it (a copy
        stored there, data sent from there)."""
        price = self.prices.get(region or self.region, key)
        return LineItem(
            stack=self.stack.name,
            region=region or self.region,
            logical_id=self.logical_id,
            resource_type=self.resource["Type"],
            what=what,
            quantity=quantity,
            unit_usd=price.usd,
            unit=price.unit,
            price_key=key,
            source=price.source,
            as_of=price.as_of,
            assumption=assumption,
        )

    def resource_by_ref(self, value: Any) -> dict[str, Any]:
        """The resource of this stack a ``Ref`` or ``Fn::GetAtt`` names."""
        logical_id = value.get("Ref") if isinstance(value, dict) else None
        if logical_id is None and isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id = value["Fn::GetAtt"][0]
        resource: dict[str, Any] = self.stack.template["Resources"][logical_id]
        return resource


Pricer = Callable[[Context], list[LineItem]]
PRICERS: dict[str, Pricer] = {}


def prices(resource_type: str) -> Callable[[Pricer], Pricer]:
    """Register the decorated function as the pricer of ``resource_type``."""

    def register(function: Pricer) -> Pricer:
        PRICERS[resource_type] = function
        return function

    return register


def estimate(
    stacks: Iterable[AssemblyStack], price_book: PriceBook, usage: Usage | None = None
) -> Estimate:
    """Price every resource of ``stacks`` for a month."""
    from tapstack.cost import pricers  # noqa: F401  (registers the pricers)

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


def monthly_hours(count: float = 1) -> float:
    return count * HOURS_PER_MONTH


def monthly_requests(per_second: float) -> float:
    return per_second * SECONDS_PER_MONTH

"""What a pricer works with: the resource in its context, the line items it returns, and
the registry of pricers by resource type (``tapstack.cost.pricers`` fills it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tapstack.assembly import AssemblyStack
from tapstack.cost.prices import PriceBook
from tapstack.cost.usage import HOURS_PER_MONTH, SECONDS_PER_MONTH, Usage


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


def monthly_hours(count: float = 1) -> float:
    return count * HOURS_PER_MONTH


def monthly_requests(per_second: float) -> float:
    return per_second * SECONDS_PER_MONTH

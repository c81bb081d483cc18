"""How ``tapstack cost`` shows an estimate: tables per region with a total, or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tapstack.cost.estimate import Estimate
from tapstack.cost.items import LineItem
from tapstack.cost.prices import PriceBook


def money(usd: float) -> str:
    return f"${usd:,.2f}"


def unit_price(item: LineItem) -> str:
    return f"${item.unit_usd:g}/{item.unit}"


def render(estimate: Estimate, prices: PriceBook, console: Console, *, title: str) -> None:
    """One table of line items per region, then the totals, the unpriced resources and
    where the prices came from."""
    for region in sorted({item.region for item in estimate.items}):
        table = Table(title=f"{title}: {region}, monthly estimate", title_justify="left")
        for column, justify in (
            ("resource", "left"),
            ("item", "left"),
            ("quantity", "right"),
            ("unit price", "right"),
            ("monthly", "right"),
            ("assumption (usage-based items)", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for item in estimate.items:
            if item.region != region:
                continue
            table.add_row(
                f"{item.stack.rsplit('-', 1)[-1]}/{item.logical_id}",
                item.what,
                f"{item.quantity:,.3f}".rstrip("0").rstrip("."),
                unit_price(item),
                money(item.monthly_usd),
                item.assumption or "",
            )
        console.print(table)
    console.print(totals_table(estimate, title))
    if estimate.not_priced:
        console.print("[bold yellow]not priced:[/]")
        for missing in estimate.not_priced:
            where = f"{missing.stack}/{missing.logical_id} ({missing.resource_type})"
            console.print(f"  {where}: {missing.reason}", markup=False)
    oldest, newest = prices.dates()
    console.print(
        f"Prices: on-demand USD list prices from tapstack/cost/prices.json, dated {oldest}"
        + (f" to {newest}" if newest != oldest else "")
        + "; each line's source is in --json. Free tiers are not deducted.",
        highlight=False,
    )


def totals_table(estimate: Estimate, title: str) -> Table:
    table = Table(title=f"{title}: totals", title_justify="left")
    table.add_column("region")
    table.add_column("fixed", justify="right")
    table.add_column("usage-based", justify="right")
    table.add_column("monthly", justify="right")
    for region, total in sorted(estimate.by_region().items()):
        fixed = sum(
            i.monthly_usd for i in estimate.items if i.region == region and not i.usage_based
        )
        table.add_row(region, money(fixed), money(total - fixed), money(total))
    fixed = estimate.fixed_usd()
    table.add_row(
        "[bold]total[/]",
        money(fixed),
        money(estimate.total_usd - fixed),
        f"[bold]{money(estimate.total_usd)}[/]",
    )
    return table


def document(estimate: Estimate, prices: PriceBook, *, prefix: str) -> dict[str, Any]:
    """The estimate for scripts (``tapstack cost --json``)."""
    oldest, newest = prices.dates()
    return {
        "prefix": prefix,
        "currency": "USD",
        "total_usd": round(estimate.total_usd, 2),
        "fixed_usd": round(estimate.fixed_usd(), 2),
        "regions": {r: round(t, 2) for r, t in sorted(estimate.by_region().items())},
        "items": [
            {
                "stack": i.stack,
                "region": i.region,
                "logical_id": i.logical_id,
                "type": i.resource_type,
                "item": i.what,
                "quantity": round(i.quantity, 6),
                "unit_usd": i.unit_usd,
                "unit": i.unit,
                "monthly_usd": round(i.monthly_usd, 4),
                "price_key": i.price_key,
                "source": i.source,
                "as_of": i.as_of,
                "assumption": i.assumption,
            }
            for i in estimate.items
        ],
        "not_priced": [
            {
                "stack": n.stack,
                "region": n.region,
                "logical_id": n.logical_id,
                "type": n.resource_type,
                "reason": n.reason,
            }
            for n in estimate.not_priced
        ],
        "free_types": dict(estimate.free),
        "usage": dict(estimate.usage.describe()),
        "prices_dated": [oldest, newest],
    }

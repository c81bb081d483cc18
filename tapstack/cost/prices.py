"""The unit prices the estimate uses: ``prices.json`` beside this module, one entry per
region and price key, each with its amount in USD, its unit, where it came from and when.

Keys name what is billed, e.g. ``ec2.instance.t4g.micro`` (an hour of the type),
``rds.instance.db.t4g.micro.multi_az``, ``vpc.nat_gateway.data`` (a GB processed).
``tapstack.cost.refresh`` rewrites entries from the AWS Price List Query API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The data file shipped with the package.
PRICES_FILE = Path(__file__).with_name("prices.json")


class UnknownPrice(KeyError):
    """No price for a key in a region: the estimate lists the resource as not priced."""

    def __init__(self, region: str, key: str) -> None:
        self.region = region
        self.key = key
        super().__init__(f"no price for {key} in {region}")

    def __str__(self) -> str:
        return f"no price for {self.key} in {self.region} ({PRICES_FILE.name})"


@dataclass(frozen=True)
class Price:
    """One unit price.

    Attributes:
        key: what is billed (``ec2.instance.t4g.micro``).
        usd: the amount in US dollars per ``unit``.
        unit: the billed unit (``hour``, ``GB-month``, ``million requests``...).
        source: where the amount was read (a pricing page, or the Price List API's SKU).
        as_of: the date it was read (ISO 8601).
        method: how it was read.
    """

    key: str
    usd: float
    unit: str
    source: str
    as_of: str
    method: str = ""


@dataclass(frozen=True)
class PriceBook:
    """Prices by region and key (read from :data:`PRICES_FILE` by :meth:`load`)."""

    regions: dict[str, dict[str, Price]]
    currency: str = "USD"

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceBook:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PriceBook:
        if document.get("currency") != "USD":
            raise ValueError(f"prices must be in USD, got {document.get('currency')!r}")
        regions = {
            region: {key: _price(region, key, entry) for key, entry in entries.items()}
            for region, entries in document["regions"].items()
        }
        return cls(regions)

    def get(self, region: str, key: str) -> Price:
        """The price of ``key`` in ``region``; :class:`UnknownPrice` when there is none."""
        try:
            return self.regions[region][key]
        except KeyError:
            raise UnknownPrice(region, key) from None

    def dates(self) -> tuple[str, str]:
        """The oldest and newest ``as_of`` dates in the book."""
        found = sorted(p.as_of for entries in self.regions.values() for p in entries.values())
        return found[0], found[-1]


def _price(region: str, key: str, entry: dict[str, Any]) -> Price:
    missing = [f for f in ("usd", "unit", "source", "as_of") if f not in entry]
    if missing:
        raise ValueError(f"{PRICES_FILE.name}: {region} {key} lacks {', '.join(missing)}")
    if not isinstance(entry["usd"], int | float) or entry["usd"] < 0:
        raise ValueError(f"{PRICES_FILE.name}: {region} {key}: usd must be a number >= 0")
    return Price(
        key=key,
        usd=float(entry["usd"]),
        unit=entry["unit"],
        source=entry["source"],
        as_of=entry["as_of"],
        method=entry.get("method", ""),
    )

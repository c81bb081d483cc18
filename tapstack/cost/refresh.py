"""Refresh ``prices.json`` from the AWS Price List Query API: ``python -m tapstack.cost.refresh``.

For every price key of the file and every region in it, :func:`query_for` names the
product (service code and attribute filters, the usage type with the region's prefix) and
the API's unit; ``GetProducts`` (a ``pricing`` client in us-east-1, where the API is
served) returns the matching products, and the on-demand price of the first tier that
charges anything becomes the entry's ``usd`` (scaled to the file's unit), with the SKU as
its source and the price's effective date as its date.

A key the API answers with no product, several products of different prices, or another
unit keeps its old entry and is reported: nothing is dropped or guessed. Needs AWS
credentials (any principal allowed ``pricing:GetProducts``); without them it says so and
changes nothing. ``--record DIR`` saves every response, for tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tapstack.cost.prices import PRICES_FILE

#: The region the Price List Query API is served from (it also serves eu-central-1 and
#: ap-south-1); https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html
PRICING_API_REGION = "us-east-1"

#: Usage-type prefixes of the regions TapStack prices (us-east-1 has none).
USAGE_PREFIX = {"us-east-1": "", "us-west-2": "USW2-", "us-east-2": "USE2-", "eu-west-1": "EU-"}


@dataclass(frozen=True)
class Query:
    """How to find one price: the product's service code and attribute filters, the API's
    unit for it, and the factor turning a price per API unit into one per the file's unit."""

    service: str
    filters: dict[str, str]
    unit: str
    scale: float = 1.0

    def arguments(self) -> dict[str, Any]:
        """The ``GetProducts`` arguments (every filter ``TERM_MATCH``)."""
        filters = [
            {"Type": "TERM_MATCH", "Field": name, "Value": value}
            for name, value in sorted(self.filters.items())
        ]
        return {"ServiceCode": self.service, "Filters": filters, "FormatVersion": "aws_v1"}


def query_for(key: str, region: str) -> Query | None:
    """The query for ``key`` in ``region``, or ``None`` when this tool cannot look it up."""
    prefix = USAGE_PREFIX.get(region)
    if prefix is None:
        return None
    for start, build in _BUILDERS:
        if key.startswith(start):
            return build(key.removeprefix(start), region, prefix)
    usage = _USAGE_TYPES.get(key)
    if usage is None:
        return None
    service, usage_type, unit, scale = usage
    return Query(service, {"regionCode": region, "usagetype": prefix + usage_type}, unit, scale)


def _ec2_instance(instance_type: str, region: str, prefix: str) -> Query:
    return Query(
        "AmazonEC2",
        {
            "regionCode": region,
            "instanceType": instance_type,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
            "licenseModel": "No License required",
        },
        "Hrs",
    )


def _rds_instance(rest: str, region: str, prefix: str) -> Query:
    instance_class = rest.removesuffix(".multi_az")
    deployment = "Multi-AZ" if rest.endswith(".multi_az") else "Single-AZ"
    return Query(
        "AmazonRDS",
        {
            "regionCode": region,
            "instanceType": instance_class,
            "databaseEngine": "MySQL",
            "deploymentOption": deployment,
        },
        "Hrs",
    )


def _rds_storage(rest: str, region: str, prefix: str) -> Query:
    deployment = "Multi-AZ" if rest.endswith(".multi_az") else "Single-AZ"
    return Query(
        "AmazonRDS",
        {
            "regionCode": region,
            "productFamily": "Database Storage",
            "volumeApiName": rest.removesuffix(".multi_az"),
            "databaseEngine": "MySQL",
            "deploymentOption": deployment,
        },
        "GB-Mo",
    )


def _surplus_credits(family: str, region: str, prefix: str) -> Query:
    return Query(
        "AmazonEC2",
        {
            "regionCode": region,
            "usagetype": f"{prefix}CPUCredits:{family}",
            "operatingSystem": "Linux",
        },
        "vCPU-Hours",
    )


def _ebs(volume: str, region: str, prefix: str) -> Query:
    return Query(
        "AmazonEC2",
        {"regionCode": region, "productFamily": "Storage", "volumeApiName": volume},
        "GB-Mo",
    )


_BUILDERS: tuple[tuple[str, Callable[[str, str, str], Query]], ...] = (
    ("ec2.instance.", _ec2_instance),
    ("ec2.surplus_credits.", _surplus_credits),
    ("ebs.", _ebs),
    ("rds.instance.", _rds_instance),
    ("rds.storage.", _rds_storage),
)

#: Price keys found by usage type alone: (service code, usage type without the region's
#: prefix, the API's unit, factor to the file's unit).
_USAGE_TYPES: dict[str, tuple[str, str, str, float]] = {
    "vpc.nat_gateway.hours": ("AmazonEC2", "NatGateway-Hours", "Hrs", 1),
    "vpc.nat_gateway.data": ("AmazonEC2", "NatGateway-Bytes", "GB", 1),
    "vpc.public_ipv4.hours": ("AmazonVPC", "PublicIPv4:InUseAddress", "Hrs", 1),
    "vpc.interface_endpoint.hours": ("AmazonVPC", "VpcEndpoint-Hours", "Hrs", 1),
    "vpc.interface_endpoint.data": ("AmazonVPC", "VpcEndpoint-Bytes", "GB", 1),
    "elb.alb.hours": ("AWSELB", "LoadBalancerUsage", "Hrs", 1),
    "elb.alb.lcu": ("AWSELB", "LCUUsage", "LCU-Hrs", 1),
    "rds.backup_storage": ("AmazonRDS", "RDS:ChargedBackupUsage", "GB-Mo", 1),
    "s3.standard.storage": ("AmazonS3", "TimedStorage-ByteHrs", "GB-Mo", 1),
    "s3.requests.put": ("AmazonS3", "Requests-Tier1", "Requests", 1_000),
    "s3.requests.get": ("AmazonS3", "Requests-Tier2", "Requests", 1_000),
    "lambda.requests": ("AWSLambda", "Request", "Requests", 1_000_000),
    "lambda.duration.x86_64": ("AWSLambda", "Lambda-GB-Second", "Lambda-GB-Second", 1),
    "lambda.duration.arm64": ("AWSLambda", "Lambda-GB-Second-ARM", "Lambda-GB-Second", 1),
    "kms.key": ("awskms", "KMS-Keys", "Keys", 1),
    "kms.requests": ("awskms", "KMS-Requests", "Requests", 10_000),
    "cloudwatch.alarm": ("AmazonCloudWatch", "CW:AlarmMonitorUsage", "Alarms", 1),
    "cloudwatch.metric": ("AmazonCloudWatch", "CW:MetricMonitorUsage", "Metrics", 1),
    "cloudwatch.logs.ingest": ("AmazonCloudWatch", "DataProcessing-Bytes", "GB", 1),
    "cloudwatch.logs.vended": ("AmazonCloudWatch", "VendedLog-Bytes", "GB", 1),
    "cloudwatch.logs.storage": ("AmazonCloudWatch", "TimedStorage-ByteHrs", "GB-Mo", 1),
    "sqs.requests": ("AWSQueueService", "Requests-Tier1", "Requests", 1_000_000),
    "sns.requests": ("AmazonSNS", "Requests-Tier1", "Requests", 1_000_000),
    "secretsmanager.secret": ("AWSSecretsManager", "AWSSecretsManager-Secrets", "Secrets", 1),
    "secretsmanager.api": (
        "AWSSecretsManager",
        "AWSSecretsManager-APIRequest",
        "API Requests",
        10_000,
    ),
}


class NoPrice(LookupError):
    """The API answered, but not with exactly one price for the query."""


@dataclass(frozen=True)
class Found:
    usd: float
    sku: str
    effective: str


def find_price(client: Any, query: Query) -> Found:
    """The price ``GetProducts`` gives for ``query``; :class:`NoPrice` when it gives none or
    several different ones."""
    found: dict[float, Found] = {}
    for page in client.get_paginator("get_products").paginate(**query.arguments()):
        for text in page["PriceList"]:
            product = json.loads(text) if isinstance(text, str) else text
            price = _on_demand(product, query)
            if price is not None:
                found.setdefault(price.usd, price)
    if not found:
        raise NoPrice(f"no product with an on-demand price per {query.unit}")
    if len(found) > 1:
        raise NoPrice(f"{len(found)} products with different prices: {sorted(found)}")
    return next(iter(found.values()))


def _on_demand(product: dict[str, Any], query: Query) -> Found | None:
    """The first tier that charges anything (free tiers are not deducted), per the file's
    unit; a tier list of only free tiers is 0."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        tiers = [
            d
            for d in term.get("priceDimensions", {}).values()
            if d.get("unit", "").lower() == query.unit.lower()
        ]
        tiers.sort(key=lambda d: float(d.get("beginRange", "0")))
        charged = [d for d in tiers if float(d["pricePerUnit"]["USD"]) > 0] or tiers
        if charged:
            usd = float(charged[0]["pricePerUnit"]["USD"]) * query.scale
            effective = term.get("effectiveDate", "")[:10]
            return Found(round(usd, 10), product["product"]["sku"], effective)
    return None


@dataclass
class Refreshed:
    """What a refresh changed, and what it could not look up (kept as they were)."""

    updated: list[tuple[str, str, float, float]] = field(default_factory=list)
    kept: list[tuple[str, str, str]] = field(default_factory=list)


def refresh(
    document: dict[str, Any],
    client: Any,
    *,
    today: str,
    record: Path | None = None,
) -> Refreshed:
    """Update ``document`` (a parsed ``prices.json``) in place from the API."""
    result = Refreshed()
    for region, entries in document["regions"].items():
        for key, entry in entries.items():
            query = query_for(key, region)
            if query is None:
                result.kept.append((region, key, "no Price List query known for this key"))
                continue
            try:
                found = find_price(_Recorder(client, record, f"{region}.{key}"), query)
            except NoPrice as exc:
                result.kept.append((region, key, str(exc)))
                continue
            if found.usd != entry["usd"]:
                result.updated.append((region, key, entry["usd"], found.usd))
            entry.update(
                usd=found.usd,
                source=f"AWS Price List Query API: {query.service} SKU {found.sku}, "
                f"effective {found.effective}",
                as_of=today,
                method="AWS Price List Query API GetProducts (on-demand, first charged tier)",
            )
    return result


class _Recorder:
    """The pricing client, saving each response under ``directory`` when one is given."""

    def __init__(self, client: Any, directory: Path | None, name: str) -> None:
        self._client, self._directory, self._name = client, directory, name

    def get_paginator(self, operation: str) -> Any:
        return self if self._directory else self._client.get_paginator(operation)

    def paginate(self, **arguments: Any) -> list[dict[str, Any]]:
        assert self._directory is not None
        pages = list(self._client.get_paginator("get_products").paginate(**arguments))
        self._directory.mkdir(parents=True, exist_ok=True)
        recording = {"request": arguments, "pages": pages}
        path = self._directory / f"{self._name}.json"
        path.write_text(json.dumps(recording, indent=1, default=str) + "\n", encoding="utf-8")
        return pages


def main(argv: Sequence[str] | None = None, *, client: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tapstack.cost.refresh", description=__doc__)
    parser.add_argument("--prices", type=Path, default=PRICES_FILE)
    parser.add_argument("--record", type=Path, help="save every API response in this folder")
    args = parser.parse_args(argv)
    if client is None:
        import boto3

        session = boto3.Session()
        if session.get_credentials() is None:
            print(
                "error: no AWS credentials: the Price List Query API needs them (any "
                "principal allowed pricing:GetProducts); nothing was changed",
                file=sys.stderr,
            )
            return 2
        client = session.client("pricing", region_name=PRICING_API_REGION)
    document = json.loads(args.prices.read_text(encoding="utf-8"))
    today = datetime.date.today().isoformat()
    result = refresh(document, client, today=today, record=args.record)
    args.prices.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    for region, key, old, new in result.updated:
        print(f"updated {region} {key}: {old:g} -> {new:g}")
    for region, key, reason in result.kept:
        print(f"kept    {region} {key}: {reason}")
    print(f"{len(result.updated)} changed, {len(result.kept)} kept as they were, in {args.prices}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

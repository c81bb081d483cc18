"""``python -m tapstack.cost.refresh`` rewrites prices from the AWS Price List Query API:
tested on recorded ``GetProducts`` responses (tests/unit/cost/data/pricing), with no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tapstack.cost import refresh
from tapstack.cost.prices import PriceBook

RECORDINGS = Path(__file__).parent / "data" / "pricing"


class RecordedPricing:
    """A ``pricing`` client answering from recordings: a call recorded gets its pages, any
    other an empty price list (as the API answers a query that matches nothing)."""

    def __init__(self, directory: Path) -> None:
        self.recordings = [json.loads(p.read_text()) for p in directory.glob("*.json")]
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> RecordedPricing:
        assert operation == "get_products"
        return self

    def paginate(self, **arguments: Any) -> list[dict[str, Any]]:
        self.calls.append(arguments)
        for recording in self.recordings:
            if recording["request"] == arguments:
                pages: list[dict[str, Any]] = recording["pages"]
                return pages
        return [{"FormatVersion": "aws_v1", "PriceList": []}]


def _entry(usd: float) -> dict[str, Any]:
    return {"usd": usd, "unit": "x", "source": "https://aws.amazon.com/", "as_of": "2026-01-01"}


def _document(entries: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "currency": "USD",
        "regions": {
            region: {key: _entry(usd) for key, usd in prices.items()}
            for region, prices in entries.items()
        },
    }


def test_a_recorded_price_replaces_the_old_one_with_its_sku_and_date() -> None:
    document = _document({"us-east-1": {"ec2.instance.t4g.micro": 0.0080}})
    result = refresh.refresh(document, RecordedPricing(RECORDINGS), today="2026-12-02")
    entry = document["regions"]["us-east-1"]["ec2.instance.t4g.micro"]
    assert result.updated == [("us-east-1", "ec2.instance.t4g.micro", 0.0080, 0.0084)]
    assert entry["usd"] == 0.0084 and entry["as_of"] == "2026-12-02"
    assert entry["source"] == (
        "AWS Price List Query API: AmazonEC2 SKU 7DZ6KJ6ZKXH8UXSH, effective 2026-11-01"
    )
    PriceBook.from_document(document)  # still a valid price file


def test_the_query_names_the_product_exactly_with_the_regions_usage_prefix() -> None:
    client = RecordedPricing(RECORDINGS)
    refresh.refresh(
        _document({"us-west-2": {"vpc.nat_gateway.data": 0.045}}), client, today="2026-12-02"
    )
    (call,) = client.calls
    assert call["ServiceCode"] == "AmazonEC2"
    assert {f["Field"]: f["Value"] for f in call["Filters"]} == {
        "regionCode": "us-west-2",
        "usagetype": "USW2-NatGateway-Bytes",
    }
    assert {f["Type"] for f in call["Filters"]} == {"TERM_MATCH"}


@pytest.mark.parametrize(
    ("region", "key", "usd"),
    [
        ("us-east-1", "lambda.requests", 0.20),  # $0.0000002 a request, per million
        ("us-east-1", "rds.instance.db.t4g.micro.multi_az", 0.032),
        ("us-east-1", "cloudwatch.metric", 0.30),  # the first charged tier, not the free one
        ("us-west-2", "vpc.nat_gateway.data", 0.045),
    ],
)
def test_prices_are_scaled_to_the_files_unit_from_the_first_charged_tier(
    region: str, key: str, usd: float
) -> None:
    document = _document({region: {key: 0.0}})
    refresh.refresh(document, RecordedPricing(RECORDINGS), today="2026-12-02")
    assert document["regions"][region][key]["usd"] == pytest.approx(usd)


def test_an_ambiguous_missing_or_unknown_answer_keeps_the_old_entry_and_says_why() -> None:
    document = _document(
        {"us-east-1": {"ebs.gp3": 0.08, "elb.alb.hours": 0.0225, "transfer.inter_region": 0.02}}
    )
    before = json.loads(json.dumps(document))
    result = refresh.refresh(document, RecordedPricing(RECORDINGS), today="2026-12-02")
    assert document == before
    reasons = {key: reason for _, key, reason in result.kept}
    assert reasons == {
        "ebs.gp3": "2 products with different prices: [0.08, 0.11]",
        "elb.alb.hours": "no product with an on-demand price per Hrs",
        "transfer.inter_region": "no Price List query known for this key",
    }


def test_without_credentials_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(_document({"us-east-1": {"ec2.instance.t4g.micro": 0.008}})))
    before = prices.read_text()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert refresh.main(["--prices", str(prices)]) == 2
    assert "no AWS credentials" in capsys.readouterr().err
    assert prices.read_text() == before


def test_main_writes_the_file_and_records_each_response(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(_document({"us-east-1": {"lambda.requests": 0.1}})))
    record = tmp_path / "recorded"
    code = refresh.main(
        ["--prices", str(prices), "--record", str(record)], client=RecordedPricing(RECORDINGS)
    )
    assert code == 0
    assert json.loads(prices.read_text())["regions"]["us-east-1"]["lambda.requests"]["usd"] == 0.2
    saved = json.loads((record / "us-east-1.lambda.requests.json").read_text())
    assert saved == json.loads((RECORDINGS / "us-east-1.lambda.requests.json").read_text())


#: Prices the tool does not look up (global services without a region code, products whose
#: usage types differ by edge location or destination): refresh reports them kept, and
#: they are checked by hand against the pricing page named in their source.
NOT_QUERIED = {
    "backup.rds",
    "backup.s3",
    "cloudwatch.dashboard",
    "route53.health_check.aws",
    "route53.health_check.option.aws",
    "route53.hosted_zone",
    "route53.queries.standard",
    "s3.rtc",
    "sns.email",
    "transfer.inter_region",
    "transfer.internet_out",
    "waf.requests",
    "waf.rule",
    "waf.web_acl",
}


def test_the_keys_refresh_cannot_look_up_are_exactly_the_listed_ones() -> None:
    """A new price key needs a query, or a place on this list: never skipped unnoticed."""
    document = json.loads(refresh.PRICES_FILE.read_text())
    for region, entries in document["regions"].items():
        unqueried = {key for key in entries if refresh.query_for(key, region) is None}
        assert unqueried == NOT_QUERIED, region

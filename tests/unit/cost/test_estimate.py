"""The monthly estimate reads the synthesized templates: the production and lean profiles
are priced in full, differ by exactly the line items their configurations differ by, and
every usage-based item states its unit price and assumption."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tapstack.assembly import AssemblyStack, read_cloud_assembly
from tapstack.cost.estimate import Estimate, estimate, requests_per_second
from tapstack.cost.prices import PriceBook
from tapstack.cost.usage import HEALTH_CHECKERS, HOURS_PER_MONTH, Usage
from tests.support import Synthesized

PRICES = PriceBook.load()


def _estimate(synth: Synthesized) -> Estimate:
    return estimate(read_cloud_assembly(synth.outdir), PRICES)


@pytest.fixture(scope="module")
def production(synth: Synthesized) -> Estimate:
    return _estimate(synth)


@pytest.fixture(scope="module")
def lean(synth_lean: Synthesized) -> Estimate:
    return _estimate(synth_lean)


def _keys(result: Estimate) -> Counter[str]:
    return Counter(item.price_key for item in result.items)


def test_every_resource_of_both_profiles_is_priced_or_known_to_be_free(
    production: Estimate, lean: Estimate
) -> None:
    assert production.not_priced == ()
    assert lean.not_priced == ()
    assert dict(production.free)["AWS::IAM::Role"] > 0


def test_the_lean_profile_drops_exactly_the_line_items_it_gives_up(
    production: Estimate, lean: Estimate
) -> None:
    """Interface endpoints, WAF, RTC, unlimited credits and the Multi-AZ writer: only in
    production (its fast interval and latency options share their price with the HTTPS
    option both profiles pay: see the next test). Only in lean: single-AZ writer pricing,
    the same class as its replica."""
    only_production = set(_keys(production)) - set(_keys(lean))
    only_lean = set(_keys(lean)) - set(_keys(production))
    assert only_production == {
        "vpc.interface_endpoint.hours",
        "vpc.interface_endpoint.data",
        "waf.web_acl",
        "waf.rule",
        "waf.requests",
        "s3.rtc",
        "ec2.surplus_credits.t4g",
        "rds.instance.db.t4g.medium.multi_az",
        "rds.instance.db.t4g.medium",
        "rds.storage.gp3.multi_az",
    }
    assert only_lean == {"rds.instance.db.t4g.micro"}


def test_production_pays_for_eight_interface_endpoints_in_each_region_by_the_az_hour(
    production: Estimate,
) -> None:
    hours = [i for i in production.items if i.price_key == "vpc.interface_endpoint.hours"]
    assert Counter(i.region for i in hours) == {"us-east-1": 4, "us-west-2": 4}
    assert {i.quantity for i in hours} == {2 * HOURS_PER_MONTH}, "two AZs each"
    assert sum(i.monthly_usd for i in hours) == pytest.approx(16 * HOURS_PER_MONTH * 0.01)


def test_health_checks_are_priced_with_each_option_they_use(
    production: Estimate, lean: Estimate
) -> None:
    """https://aws.amazon.com/route53/pricing/: a check on an AWS endpoint, plus each
    optional feature (fast interval, latency measurement, HTTPS, string matching)."""

    def options(result: Estimate) -> Counter[str]:
        return Counter(i.what for i in result.items if i.resource_type.endswith("HealthCheck"))

    # Both profiles check over HTTPS (web.https is on by default).
    assert options(production) == {
        "health check (AWS endpoint)": 3,
        "health check option: HTTPS": 3,
        "health check option: fast interval (10 s)": 3,
        "health check option: latency measurement": 2,
    }
    assert options(lean) == {
        "health check (AWS endpoint)": 3,
        "health check option: HTTPS": 3,
    }


def test_fixed_charges_come_from_the_templates(production: Estimate, lean: Estimate) -> None:
    def item(result: Estimate, region: str, key: str) -> Any:
        (found,) = [i for i in result.items if i.region == region and i.price_key == key]
        return found

    for result in (production, lean):
        nat = item(result, "us-west-2", "vpc.nat_gateway.hours")
        assert (nat.quantity, nat.monthly_usd) == (HOURS_PER_MONTH, pytest.approx(32.85))
    web = item(production, "us-east-1", "ec2.instance.t4g.micro")
    assert web.what == "2 x t4g.micro instance-hours"
    assert web.monthly_usd == pytest.approx(2 * HOURS_PER_MONTH * 0.0084)
    assert item(lean, "us-east-1", "ec2.instance.t4g.micro").quantity == HOURS_PER_MONTH
    writer = item(production, "us-east-1", "rds.instance.db.t4g.medium.multi_az")
    assert writer.monthly_usd == pytest.approx(HOURS_PER_MONTH * 0.13)


def test_usage_based_items_state_their_assumption_and_every_item_its_price_source(
    production: Estimate, lean: Estimate
) -> None:
    usage_keys = {"vpc.nat_gateway.data", "waf.requests", "elb.alb.lcu", "s3.rtc"}
    for result in (production, lean):
        for item in result.items:
            assert item.source.startswith("https://"), item
            assert item.as_of == PRICES.get(item.region, item.price_key).as_of
            assert item.unit_usd == PRICES.get(item.region, item.price_key).usd
            if item.price_key in usage_keys:
                assert item.assumption, f"{item.price_key} is usage-based"
    assert production.total_usd > lean.total_usd > 0


def test_the_load_on_each_load_balancer_counts_every_route53_checker(
    synth: Synthesized, synth_lean: Synthesized
) -> None:
    """The secondary's load balancer takes its own check and the us-east-1 stack's watch."""
    page = Usage().page_requests_per_second
    fast = requests_per_second(read_cloud_assembly(synth.outdir), Usage())
    assert fast == {
        "us-east-1": pytest.approx(page + HEALTH_CHECKERS / 10),
        "us-west-2": pytest.approx(page + 2 * HEALTH_CHECKERS / 10),
    }
    standard = requests_per_second(read_cloud_assembly(synth_lean.outdir), Usage())
    assert standard["us-west-2"] == pytest.approx(page + 2 * HEALTH_CHECKERS / 30)


def _stack(resources: dict[str, Any], region: str = "us-east-1") -> AssemblyStack:
    return AssemblyStack("t-prod-primary", "123456789012", region, {"Resources": resources})


def test_a_type_without_a_pricer_or_a_price_is_listed_as_not_priced() -> None:
    stack = _stack(
        {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "x.com"}},
        }
    )
    result = estimate([stack], PRICES)
    assert [(n.logical_id, n.reason) for n in result.not_priced] == [
        ("Cluster", "the estimator has no pricer for this type")
    ]
    other = estimate([_stack(stack.template["Resources"], region="eu-west-1")], PRICES)
    assert {n.logical_id: n.reason for n in other.not_priced}["Zone"] == (
        "no price for route53.hosted_zone in eu-west-1 (prices.json)"
    )


def test_an_https_check_with_every_option_costs_its_base_and_four_options() -> None:
    config = {
        "Type": "HTTPS_STR_MATCH",
        "RequestInterval": 10,
        "MeasureLatency": True,
        "FullyQualifiedDomainName": "example.com",
    }
    check = {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": config}}
    result = estimate([_stack({"Check": check})], PRICES)
    assert [i.what for i in result.items] == [
        "health check (AWS endpoint)",
        "health check option: HTTPS",
        "health check option: fast interval (10 s)",
        "health check option: latency measurement",
        "health check option: string matching",
    ]
    assert result.total_usd == pytest.approx(0.50 + 4 * 1.00)

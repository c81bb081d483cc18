"""Network of each region: VPC, two public and two private subnets in two AZs, NAT, endpoints."""

from __future__ import annotations

import pytest

from tests.integration.support import Region, Subnets

pytestmark = pytest.mark.integration


def test_vpc_has_the_configured_cidr(region: Region) -> None:
    vpc = region.client("ec2").describe_vpcs(VpcIds=[region.vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == region.config.vpc_cidr


def test_two_public_and_two_private_subnets_across_two_azs(region: Region) -> None:
    subnets = region.subnets
    assert len(subnets.public) == 2, subnets.public
    assert len(subnets.private) == 2, subnets.private
    assert len(Subnets.zones(subnets.public)) == 2
    assert len(Subnets.zones(subnets.private)) == 2
    assert Subnets.zones(subnets.public) == Subnets.zones(subnets.private)
    assert all(z.startswith(region.name) for z in Subnets.zones(subnets.public))


def test_private_subnets_reach_out_through_nat_in_a_public_subnet(region: Region) -> None:
    gateways = region.client("ec2").describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [region.vpc_id]}]
    )["NatGateways"]
    live = [g for g in gateways if g.get("State", "available") in ("available", "pending")]
    assert len(live) == region.config.nat_gateways
    assert {g["SubnetId"] for g in live} <= Subnets.ids(region.subnets.public)


def test_vpc_endpoints_for_s3_and_the_configured_interfaces(region: Region) -> None:
    endpoints = region.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [region.vpc_id]}]
    )["VpcEndpoints"]
    by_service = {e["ServiceName"].rsplit(".", 1)[-1]: e for e in endpoints}
    s3 = by_service.get("s3")
    assert s3 is not None and s3["VpcEndpointType"] == "Gateway", by_service
    assert s3.get("RouteTableIds"), "the S3 gateway endpoint is attached to no route table"
    for name in region.target.config.interface_endpoints:
        endpoint = by_service.get(name)
        assert endpoint is not None, f"no {name} interface endpoint in {region.name}"
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["ServiceName"] == f"com.amazonaws.{region.name}.{name}"
        assert endpoint.get("SubnetIds"), f"{name} endpoint is in no subnet"
        assert set(endpoint["SubnetIds"]) <= Subnets.ids(region.subnets.private)

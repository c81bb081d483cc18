"""Each region gets a VPC over two AZs with public and private subnets, NAT,
and endpoints that keep S3 and SSM traffic inside AWS."""

from __future__ import annotations

import json

import pytest

from tapstack.config import MAX_VPC_PREFIX, RegionConfig
from tapstack.network.infrastructure import PRIVATE_MASK, PUBLIC_MASK, ZONES, availability_zones
from tests.support import Synthesized

REGIONS = ["primary", "secondary"]


@pytest.mark.parametrize("kind", REGIONS)
def test_vpc_uses_the_configured_cidr(synth: Synthesized, kind: str) -> None:
    expected = {"primary": "10.10.0.0/16", "secondary": "10.20.0.0/16"}[kind]
    vpc = synth.one(kind, "AWS::EC2::VPC")
    assert vpc["Properties"]["CidrBlock"] == expected
    assert vpc["Properties"]["EnableDnsHostnames"] is True
    assert vpc["Properties"]["EnableDnsSupport"] is True


@pytest.mark.parametrize("kind", REGIONS)
def test_two_public_and_two_private_subnets_span_two_azs(synth: Synthesized, kind: str) -> None:
    subnets = synth.resources(kind, "AWS::EC2::Subnet")
    public = [s for k, s in subnets.items() if k.startswith("NetworkVpcpublic")]
    private = [s for k, s in subnets.items() if k.startswith("NetworkVpcprivate")]
    assert len(public) == 2 and len(private) == 2 and len(subnets) == 4
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    for group in (public, private):
        azs = sorted(json.dumps(s["Properties"]["AvailabilityZone"]) for s in group)
        assert azs == [
            json.dumps({"Fn::Select": [index, {"Fn::GetAZs": region}]}) for index in (0, 1)
        ], "the account's first two zones, chosen by CloudFormation at deploy time"


def test_no_availability_zone_is_looked_up_in_the_account(synth: Synthesized) -> None:
    """Zone names are mapped per account: a lookup would need the account's credentials
    (and a cached answer holds only for the account it was made in)."""
    assert "missing" not in synth.manifest


def test_the_subnets_fit_the_smallest_vpc_the_configuration_accepts() -> None:
    needed = ZONES * (2 ** (32 - PUBLIC_MASK) + 2 ** (32 - PRIVATE_MASK))
    assert needed <= 2 ** (32 - MAX_VPC_PREFIX) < 2 * needed


def test_pinned_zones_are_returned_as_named_and_unpinned_ones_from_the_account() -> None:
    from aws_cdk import Stack

    settings = RegionConfig(region="eu-west-1", vpc_cidr="10.0.0.0/16")
    stack = Stack()
    zones = [stack.resolve(zone) for zone in availability_zones(settings)]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": "eu-west-1"}]} for i in (0, 1)]
    pinned = settings.model_copy(update={"availability_zones": ("eu-west-1c", "eu-west-1a")})
    assert availability_zones(pinned) == ["eu-west-1c", "eu-west-1a"]


@pytest.mark.parametrize("kind", REGIONS)
def test_internet_gateway_and_one_nat_gateway_by_default(synth: Synthesized, kind: str) -> None:
    assert len(synth.resources(kind, "AWS::EC2::InternetGateway")) == 1
    assert len(synth.resources(kind, "AWS::EC2::NatGateway")) == 1
    routes = synth.resources(kind, "AWS::EC2::Route").values()
    to_nat = [r for r in routes if "NatGatewayId" in r["Properties"]]
    to_igw = [r for r in routes if "GatewayId" in r["Properties"]]
    assert len(to_nat) == 2, "each private route table sends 0.0.0.0/0 to NAT"
    assert len(to_igw) == 2, "each public route table sends 0.0.0.0/0 to the internet gateway"
    assert all(r["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0" for r in routes)


def test_nat_per_az_when_configured(synth_variant: Synthesized) -> None:
    assert len(synth_variant.resources("primary", "AWS::EC2::NatGateway")) == 2
    assert len(synth_variant.resources("secondary", "AWS::EC2::NatGateway")) == 1


@pytest.mark.parametrize("kind", REGIONS)
def test_s3_gateway_endpoint_and_ssm_interface_endpoints(synth: Synthesized, kind: str) -> None:
    endpoints = synth.resources(kind, "AWS::EC2::VPCEndpoint").values()
    gateway = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    interface = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(gateway) == 1
    assert "s3" in str(gateway[0]["Properties"]["ServiceName"])
    services = sorted(
        str(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1].strip("'\"]}") for e in interface
    )
    names = " ".join(str(e["Properties"]["ServiceName"]) for e in interface)
    for service in ("ssm", "ssmmessages", "ec2messages", "secretsmanager"):
        assert f".{service}" in names, services
    assert len(interface) == 4
    assert all(e["Properties"]["PrivateDnsEnabled"] is True for e in interface)


@pytest.mark.parametrize("kind", REGIONS)
def test_endpoint_security_group_admits_only_https_from_the_vpc(
    synth: Synthesized, kind: str
) -> None:
    groups = synth.resources(kind, "AWS::EC2::SecurityGroup")
    endpoint_group = next(
        v for k, v in groups.items() if k.startswith("NetworkEndpointSecurityGroup")
    )
    ingress = endpoint_group["Properties"]["SecurityGroupIngress"]
    assert len(ingress) == 1
    assert ingress[0]["FromPort"] == 443 and ingress[0]["ToPort"] == 443
    expected = {"primary": "10.10.0.0/16", "secondary": "10.20.0.0/16"}[kind]
    assert ingress[0]["CidrIp"] == expected, "the VPC's own CIDR, not 0.0.0.0/0"

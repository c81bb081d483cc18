"""The deployment under test, as the integration tests see it (fixtures: conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest

from tapstack.config import RegionConfig, TapStackConfig
from tapstack.naming import Names, stack_name
from tests.support import ROOT

TARGET_VARIABLE = "TAPSTACK_INTEGRATION_TARGET"
OUTPUTS_VARIABLE = "TAPSTACK_OUTPUTS_DIR"
DEFAULT_OUTPUTS_DIR = ROOT / "cfn-outputs"
ROLES = ("primary", "secondary")


@dataclass
class Target:
    """The deployment under test."""

    mode: str  # "emulator" or "aws"
    endpoint: str | None
    config: TapStackConfig
    outputs: dict[str, str]
    stack_outputs: dict[str, dict[str, str]]
    source: str
    timings: dict[str, float] = field(default_factory=dict)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def emulated(self) -> bool:
        return self.mode == "emulator"

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 5})
            if self.endpoint:
                self._clients[key] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",  # emulator dummy
                    config=config,
                )
            else:
                self._clients[key] = boto3.client(service, region_name=region, config=config)
        return self._clients[key]

    def output(self, key: str) -> str:
        if key not in self.outputs:
            pytest.fail(f"output {key!r} is missing from the deployment's outputs ({self.source})")
        return self.outputs[key]

    def skip_in_emulator(self, resource_type: str, what: str) -> None:
        """Skip the calling test in emulator mode only: ``resource_type``'s ``what`` is not
        emulated by moto. On AWS the test goes on."""
        __tracebackhide__ = True  # report the skip at the calling test
        if self.emulated:
            pytest.skip(f"emulator: {resource_type} {what} is not emulated by moto")

    def stack_names(self) -> list[str]:
        kinds = ["secondary-storage", "primary", "secondary"]
        if self.config.dns.hosted_zone_id is None:
            kinds.insert(0, "dns")
        return [stack_name(self.config, kind) for kind in kinds]


# ---------------------------------------------------------------------------
# One region of the deployment
# ---------------------------------------------------------------------------


@dataclass
class Subnets:
    public: list[dict[str, Any]]
    private: list[dict[str, Any]]
    isolated: list[dict[str, Any]]

    @staticmethod
    def ids(subnets: list[dict[str, Any]]) -> set[str]:
        return {s["SubnetId"] for s in subnets}

    @staticmethod
    def zones(subnets: list[dict[str, Any]]) -> set[str]:
        return {s["AvailabilityZone"] for s in subnets}


class Region:
    """The primary or the secondary region of the deployment, with cached look-ups."""

    def __init__(self, target: Target, role: str) -> None:
        self.target = target
        self.role = role

    def __repr__(self) -> str:
        return f"Region({self.role}, {self.name})"

    @property
    def config(self) -> RegionConfig:
        return (
            self.target.config.primary if self.role == "primary" else self.target.config.secondary
        )

    @property
    def name(self) -> str:
        return self.config.region

    @property
    def label(self) -> str:
        """The prefix of this region's stack outputs: ``Primary`` or ``Secondary``."""
        return self.role.capitalize()

    @property
    def names(self) -> Names:
        return Names(self.target.config, self.name)

    @property
    def other(self) -> Region:
        return Region(self.target, "secondary" if self.role == "primary" else "primary")

    def output(self, key: str) -> str:
        return self.target.output(f"{self.label}{key}")

    def client(self, service: str) -> Any:
        return self.target.client(service, self.name)

    @cached_property
    def vpc_id(self) -> str:
        return self.output("VpcId")

    @cached_property
    def subnets(self) -> Subnets:
        ec2 = self.client("ec2")
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])[
            "Subnets"
        ]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])[
            "RouteTables"
        ]
        main = next(
            (t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None
        )
        by_subnet = {
            a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")
        }
        public, private, isolated = [], [], []
        for subnet in subnets:
            table = by_subnet.get(subnet["SubnetId"], main) or {}
            default = [
                r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"
            ]
            if any(str(r.get("GatewayId", "")).startswith("igw-") for r in default):
                public.append(subnet)
            elif any(r.get("NatGatewayId") for r in default):
                private.append(subnet)
            else:
                isolated.append(subnet)
        return Subnets(public, private, isolated)

    @cached_property
    def load_balancer(self) -> dict[str, Any]:
        dns_name = self.output("LoadBalancerDnsName").lower()
        for page in self.client("elbv2").get_paginator("describe_load_balancers").paginate():
            for lb in page["LoadBalancers"]:
                if lb["DNSName"].lower() == dns_name:
                    return lb
        pytest.fail(f"no load balancer named {dns_name} in {self.name}")

    @cached_property
    def listeners(self) -> list[dict[str, Any]]:
        return self.client("elbv2").describe_listeners(
            LoadBalancerArn=self.load_balancer["LoadBalancerArn"]
        )["Listeners"]

    @cached_property
    def target_groups(self) -> list[dict[str, Any]]:
        return self.client("elbv2").describe_target_groups(
            LoadBalancerArn=self.load_balancer["LoadBalancerArn"]
        )["TargetGroups"]

    @cached_property
    def auto_scaling_group(self) -> dict[str, Any]:
        arns = {tg["TargetGroupArn"] for tg in self.target_groups}
        paginator = self.client("autoscaling").get_paginator("describe_auto_scaling_groups")
        groups = [
            g
            for page in paginator.paginate()
            for g in page["AutoScalingGroups"]
            if arns & set(g.get("TargetGroupARNs", []))
        ]
        assert len(groups) == 1, f"expected one ASG behind the ALB in {self.name}, found {groups}"
        return groups[0]

    @cached_property
    def database(self) -> dict[str, Any]:
        return self.client("rds").describe_db_instances(
            DBInstanceIdentifier=self.names.db_instance
        )["DBInstances"][0]

    @cached_property
    def loader_function(self) -> dict[str, Any]:
        return self.client("lambda").get_function(FunctionName=self.names.loader_function)[
            "Configuration"
        ]

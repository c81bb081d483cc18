"""TapStack's one typed, frozen configuration.

Everything the app needs to know comes from one YAML file per environment
(``config/<name>.yaml``), validated here once before any construct is
created. Constructs receive the resulting :class:`TapStackConfig` object and
never read environment variables or CDK context themselves.

Bad input fails with :class:`ConfigError`, whose message has one line per
problem naming the field, the value given and what is allowed. Every problem is
reported in one pass: checks across fields (two regions the same, overlapping
CIDRs, min > max...) run even when some field is invalid (see
:func:`_all_problems`).
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

#: Regions TapStack can deploy to: commercial regions with at least two AZs,
#: RDS MySQL Multi-AZ, Route 53 alias targets for ALBs and AWS Backup.
SUPPORTED_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
)

#: MySQL versions TapStack accepts: those RDS still supports, as the pinned aws-cdk-lib
#: marks them (a test ties these tuples to its deprecation markers). 8.4 is the LTS line
#: in RDS standard support; 8.0 is accepted with a cost warning (see ``DatabaseConfig``).
MYSQL_8_4_VERSIONS: tuple[str, ...] = tuple(f"8.4.{minor}" for minor in range(5, 11))
MYSQL_8_0_VERSIONS: tuple[str, ...] = tuple(f"8.0.{minor}" for minor in range(42, 47))
#: Minors RDS has retired ("no longer supported by Amazon RDS" in aws-cdk-lib): RDS refuses
#: to create them.
RETIRED_MYSQL_VERSIONS: tuple[str, ...] = ("8.4.3", "8.4.4", "8.0.40", "8.0.41")
DEFAULT_MYSQL_VERSION = "8.4.10"


def mysql_version_key(version: str) -> tuple[int, ...]:
    """``8.4.10`` -> ``(8, 4, 10)``: versions compare as numbers, not text (a part that
    is not a number, as in versions RDS lists for other engines, counts as 0)."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _mysql_version(value: str) -> str:
    if value in RETIRED_MYSQL_VERSIONS:
        raise ValueError(
            f"MySQL {value} is no longer supported by Amazon RDS (retired), so RDS refuses "
            f"to create it; choose {MYSQL_8_4_VERSIONS[0]}..{MYSQL_8_4_VERSIONS[-1]} "
            f"(default {DEFAULT_MYSQL_VERSION})"
        )
    if value not in MYSQL_8_4_VERSIONS + MYSQL_8_0_VERSIONS:
        raise ValueError(
            f"must be a pinned MySQL version RDS supports: {MYSQL_8_4_VERSIONS[0]}.."
            f"{MYSQL_8_4_VERSIONS[-1]} (recommended) or {MYSQL_8_0_VERSIONS[0]}.."
            f"{MYSQL_8_0_VERSIONS[-1]}"
        )
    return value


#: Interface endpoints TapStack knows how to create (service short names).
KNOWN_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "ssm",
    "ssmmessages",
    "ec2messages",
    "secretsmanager",
    "kms",
    "logs",
    "monitoring",
    "sqs",
    "sns",
    "sts",
)

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$")
_ENV_RE = re.compile(r"^[a-z][a-z0-9]{1,9}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ZONE_ID_RE = re.compile(r"^Z[A-Z0-9]{4,31}$")
_INSTANCE_TYPE_RE = re.compile(
    r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|\d*xlarge|metal)$"
)
_DB_CLASS_RE = re.compile(
    r"^db\.[a-z][a-z0-9-]*\d[a-z0-9-]*\.(micro|small|medium|large|\d*xlarge)$"
)
_ACM_ARN_RE = re.compile(r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_CRON_RE = re.compile(r"^cron\((\S+ ){5}\S+\)$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_AZ_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


#: Burstable performance families: they earn CPU credits and run in a credit mode.
#: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances.html
BURSTABLE_FAMILIES: tuple[str, ...] = ("t2", "t3", "t3a", "t4g")

#: The smallest VPC the network's subnets fit in: two public /24s and two private /22s
#: (tapstack.network.infrastructure) need 2,560 addresses, and a /20 has 4,096.
MAX_VPC_PREFIX = 20

#: A DNS name's longest text form (RFC 1035: 255 octets on the wire, 253 characters).
MAX_DNS_NAME = 253

#: ACM: a certificate's first domain name (its common name) "cannot exceed 64 octets";
#: further names (SANs) may have 253 (RFC 5280;
#: https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html).
MAX_CERTIFICATE_FIRST_NAME = 64


class ConfigError(ValueError):
    """Raised when a configuration file is missing, unreadable or invalid.

    ``str(error)`` is meant for people: one line per problem.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"invalid configuration in {source}:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Problem:
    """A problem found by a check across fields.

    Attributes:
        fields: the dotted paths of every field the check read (``primary.region``...).
        message: one line for people, naming those fields and their values.
    """

    fields: tuple[str, ...]
    message: str


class CrossFieldError(ValueError):
    """What a check across fields raises: every problem it found, each kept whole."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.message for p in self.problems))


class RemovalMode(StrEnum):
    """What happens to stateful resources when a stack is deleted."""

    RETAIN = "retain"
    """Production: keep buckets, keys, vaults; snapshot and protect databases."""
    DESTROY = "destroy"
    """Throwaway environments: delete everything with the stack."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"must be an IPv4 network in CIDR form with no host bits set, e.g. 10.10.0.0/16 ({exc})"
        ) from None


class RegionConfig(_Frozen):
    """One region's settings."""

    region: str = Field(description="AWS region code, e.g. us-east-1.")
    vpc_cidr: str = Field(
        description="VPC IPv4 CIDR, /16 to /20: the subnets take two /24s and two /22s "
        "(2,560 addresses; see tapstack.network)."
    )
    nat_gateways: Annotated[int, Field(ge=1, le=2)] = Field(
        default=1,
        description="NAT gateways: 1 (one shared, cheaper) or 2 (one per AZ, survives an AZ loss).",
    )
    certificate_arn: str | None = Field(
        default=None,
        description="An ACM certificate of this region and account that you bring for the "
        "ALB's HTTPS listener (a load balancer serves only certificates of its own region). "
        "Unset (and web.https on): the region's stack requests one from ACM for the app's "
        "names, DNS-validated in the hosted zone by CloudFormation.",
    )
    availability_zones: tuple[str, ...] | None = Field(
        default=None,
        description="The two Availability Zones of the VPC's subnets, by name as this "
        "account sees them (e.g. [us-east-1a, us-east-1b]). Unset: the region's first two "
        "zones in the account, resolved by CloudFormation at deploy time (Fn::GetAZs), so "
        "synthesis needs no AWS credentials for any account. Pin them for a long-lived "
        "environment: a zone AWS adds to the account later can reorder Fn::GetAZs, and the "
        "subnets would be replaced.",
    )
    database_generation: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="Bumped when the region's database is rebuilt as a read replica of the "
        "other region's (failback, switchover): it is part of the instance identifier "
        "(<prefix>-mysql-<slot word>-g<n> from 1 on), so the rebuilt instance is a new "
        "resource and CloudFormation replaces the old one, snapshotting it first. A read "
        "replica must be newer than its source (see TapStackConfig.database_lineage_problems).",
    )

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in SUPPORTED_REGIONS:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_REGIONS)}")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        net = _network(value)
        if not 16 <= net.prefixlen <= MAX_VPC_PREFIX:
            raise ValueError(
                f"must have a prefix length between /16 and /{MAX_VPC_PREFIX}: the subnets "
                "take two /24s and two /22s"
            )
        if not net.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return str(net)

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if len(value) != 2 or not all(_AZ_RE.match(zone) for zone in value):
            raise ValueError("must be two Availability Zone names such as us-east-1a")
        if value[0] == value[1]:
            raise ValueError("must name two different Availability Zones")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not _ACM_ARN_RE.match(value):
            raise ValueError(
                "must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/UUID)"
            )
        return value


class WebConfig(_Frozen):
    """The EC2 web tier in each region."""

    instance_type: str = Field(
        default="t4g.micro",
        description="EC2 instance type. t4g.micro (Graviton, 2 vCPUs, 1 GiB) costs less than "
        "t2.micro and t3.micro with the same memory; the image's architecture follows the type.",
    )
    min_capacity: Annotated[int, Field(ge=1, le=100)] = 2
    desired_capacity: Annotated[int, Field(ge=1, le=100)] = 2
    max_capacity: Annotated[int, Field(ge=1, le=100)] = 5
    app_port: Annotated[int, Field(ge=1024, le=65535)] = Field(
        default=8080, description="Port the web server listens on behind the ALB."
    )
    cpu_target_percent: Annotated[int, Field(ge=10, le=90)] = Field(
        default=50, description="Target average CPU for the scaling policy."
    )
    ssh_allowed_cidr: str | None = Field(
        default=None,
        description="One address (a /32) allowed to SSH to instances. Unset: no SSH rule at all; "
        "use SSM Session Manager instead.",
    )
    key_pair_name: str | None = Field(
        default=None, description="Existing EC2 key pair name; unset: instances get no key pair."
    )
    root_volume_gib: Annotated[int, Field(ge=8, le=200)] = 16
    https: bool = Field(
        default=True,
        description="Serve HTTPS on 443 with a current TLS policy; port 80 only redirects to "
        "it, and Route 53 checks over HTTPS with SNI. Each region uses its certificate_arn, "
        "or else an ACM certificate for <record>.<domain> and <region>.<record>.<domain> "
        "that CloudFormation validates in the hosted zone. false: plain HTTP only, with a "
        "warning (refused while a certificate_arn is set).",
    )
    waf_enabled: bool = Field(
        default=True,
        description="Put a WAF web ACL (AWS common rules, known bad inputs, rate limit) "
        "in front of each load balancer.",
    )
    cpu_credits: Literal["standard", "unlimited"] | None = Field(
        default=None,
        description="Credit mode of a burstable type (t2, t3, t3a, t4g): unlimited bursts "
        "above the baseline for as long as needed, billing surplus credits; standard caps "
        "CPU at the baseline once the earned credits are spent. Unset: the family's AWS "
        "default (unlimited for t3, t3a and t4g, standard for t2). Only for burstable types.",
    )
    database_user: str = Field(
        default="tapstack_reader",
        description="The read-only MySQL account GET /events logs in as with IAM "
        "authentication (SELECT on the events table only; bootstrap-database creates it).",
    )

    @field_validator("database_user")
    @classmethod
    def _reader(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_]{0,31}$", value):
            raise ValueError("must start with a letter and hold only a-z, 0-9 and _ (at most 32)")
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not _INSTANCE_TYPE_RE.match(value):
            raise ValueError("must be an EC2 instance type such as t3.small or m7g.large")
        return value

    @model_validator(mode="after")
    def _credits_need_a_burstable_type(self) -> WebConfig:
        if self.cpu_credits is not None and not self.is_burstable:
            raise _one_problem(
                ("web.cpu_credits", "web.instance_type"),
                f"web.cpu_credits: {self.cpu_credits!r} with web.instance_type "
                f"{self.instance_type!r}: credit modes exist only for burstable types "
                f"({', '.join(BURSTABLE_FAMILIES)}); unset it or choose such a type",
            )
        return self

    @field_validator("ssh_allowed_cidr")
    @classmethod
    def _single_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError(
                "must be a single address in CIDR form, e.g. 203.0.113.10/32"
            ) from None
        if net.num_addresses != 1:
            raise ValueError(
                "must be a single address (/32 for IPv4, /128 for IPv6); wider SSH ranges, "
                "0.0.0.0/0 above all, are not allowed"
            )
        return str(net)

    @model_validator(mode="after")
    def _capacity_order(self) -> WebConfig:
        if not self.min_capacity <= self.desired_capacity <= self.max_capacity:
            fields = ("web.min_capacity", "web.desired_capacity", "web.max_capacity")
            raise _one_problem(
                fields,
                f"{', '.join(fields)}: capacities must satisfy min <= desired <= max, "
                f"got min={self.min_capacity}, desired={self.desired_capacity}, "
                f"max={self.max_capacity}",
            )
        return self

    @property
    def is_arm(self) -> bool:
        """Graviton families (m7g, t4g, c8g...) need an arm64 image."""
        family = self.instance_type.split(".", 1)[0]
        return bool(re.match(r"^[a-z]+\d+[a-z]*g[a-z]*$", family))

    @property
    def is_burstable(self) -> bool:
        """Burstable performance types, which earn and spend CPU credits."""
        return self.instance_type.split(".", 1)[0] in BURSTABLE_FAMILIES

    @property
    def credit_mode(self) -> str | None:
        """The credit mode the instances run in (``cpu_credits``, else the family's AWS
        default), or ``None`` for a type without credits."""
        if not self.is_burstable:
            return None
        if self.cpu_credits is not None:
            return self.cpu_credits
        return "standard" if self.instance_type.startswith("t2.") else "unlimited"


class DnsConfig(_Frozen):
    """Route 53 zone, record and health checks."""

    domain_name: str = Field(description="Public hosted zone name, e.g. tapstack.example.com.")
    hosted_zone_id: str | None = Field(
        default=None,
        description="Existing public hosted zone for domain_name; "
        "unset: the dns stack creates one.",
    )
    record_name: str = Field(default="app", description="Label of the failover record in the zone.")
    health_check_interval_seconds: Literal[10, 30] = Field(
        default=10, description="Route 53 health-check request interval (10 = fast, 30 = standard)."
    )
    health_check_failure_threshold: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Consecutive failures before an endpoint counts as unhealthy."
    )
    measure_latency: bool = Field(
        default=True,
        description="Route 53 measures latency from its checkers to each region's load "
        "balancer (a paid option, graphed in CloudWatch). Route 53 cannot change it on an "
        "existing check: changing it replaces the failover health checks.",
    )

    @field_validator("domain_name")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.rstrip(".").lower()
        if not _DOMAIN_RE.match(value):
            raise ValueError("must be a DNS domain name such as tapstack.example.com")
        return value

    @field_validator("record_name")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_RE.match(value):
            raise ValueError("must be one DNS label: lowercase letters, digits and hyphens")
        return value

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID_RE.match(value):
            raise ValueError("must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ")
        return value

    @property
    def fqdn(self) -> str:
        return f"{self.record_name}.{self.domain_name}"

    @property
    def detection_seconds(self) -> int:
        """Modelled time for Route 53 to declare a region unhealthy."""
        return self.health_check_interval_seconds * self.health_check_failure_threshold


class DatabaseConfig(_Frozen):
    """RDS MySQL in the primary region and its cross-region read replica."""

    engine_version: str = Field(
        default=DEFAULT_MYSQL_VERSION,
        description="Pinned MySQL version. 8.4.x (LTS) by default; 8.0.x is accepted with a "
        "cost warning because it left RDS standard support on 2026-07-31.",
    )
    replica_engine_version: str | None = Field(
        default=None,
        description="Pinned MySQL version of the cross-region replica; unset: engine_version. "
        "Never older than engine_version: MySQL replicates from an older source to a newer "
        "replica, not the reverse, so upgrades go replica first (set this, deploy, then "
        "raise engine_version). `tapstack preflight` refuses the other order.",
    )
    instance_class: str = Field(default="db.t4g.medium")
    allocated_storage_gib: Annotated[int, Field(ge=20, le=16384)] = 20
    max_allocated_storage_gib: Annotated[int, Field(ge=20, le=16384)] = 100
    multi_az: bool = True
    replica_multi_az: bool = Field(
        default=False,
        description="Make the cross-region replica Multi-AZ too (doubles its cost; "
        "worth it if the secondary must survive an AZ loss right after promotion).",
    )
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = Field(
        default=7, description="RDS automated backup retention (point-in-time recovery window)."
    )
    database_name: str = "tapstack"
    port: Annotated[int, Field(ge=1150, le=65535)] = 3306
    engine_lifecycle_support: Literal[
        "open-source-rds-extended-support", "open-source-rds-extended-support-disabled"
    ] = Field(
        default="open-source-rds-extended-support",
        description="RDS Extended Support enrolment once the version leaves standard support.",
    )

    @field_validator("engine_version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _mysql_version(value)

    @field_validator("replica_engine_version")
    @classmethod
    def _replica_version(cls, value: str | None) -> str | None:
        return None if value is None else _mysql_version(value)

    @model_validator(mode="after")
    def _replica_not_older(self) -> DatabaseConfig:
        if mysql_version_key(self.replica_version) < mysql_version_key(self.engine_version):
            fields = ("database.replica_engine_version", "database.engine_version")
            raise _one_problem(
                fields,
                f"database.replica_engine_version: {self.replica_version!r} is older than "
                f"engine_version {self.engine_version!r}; MySQL cannot replicate from a newer "
                "source to an older replica. Upgrade the replica first: raise "
                "replica_engine_version, deploy, then raise engine_version",
            )
        return self

    @property
    def replica_version(self) -> str:
        """The replica's pinned version (``engine_version`` unless set apart)."""
        return self.replica_engine_version or self.engine_version

    @field_validator("instance_class")
    @classmethod
    def _class(cls, value: str) -> str:
        if not _DB_CLASS_RE.match(value):
            raise ValueError("must be an RDS instance class such as db.t4g.medium or db.r7g.large")
        return value

    @field_validator("database_name")
    @classmethod
    def _dbname(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_]{0,63}$", value):
            raise ValueError("must start with a letter and hold only a-z, 0-9 and _ (at most 64)")
        return value

    @model_validator(mode="after")
    def _extended_support(self) -> DatabaseConfig:
        if self.is_mysql_8_0 and self.engine_lifecycle_support.endswith("-disabled"):
            raise _one_problem(
                ("database.engine_lifecycle_support", "database.engine_version"),
                f"database.engine_lifecycle_support: {self.engine_lifecycle_support!r} with "
                f"engine_version {self.engine_version!r}: MySQL 8.0 left RDS standard support "
                "on 2026-07-31, and RDS refuses to create it without Extended Support; choose "
                f"an 8.4 version (default {DEFAULT_MYSQL_VERSION}) or enable Extended Support",
            )
        return self

    @model_validator(mode="after")
    def _storage(self) -> DatabaseConfig:
        # RDS refuses a storage autoscaling limit less than 10% above the allocated
        # storage ("Invalid max storage size"), RDS User Guide, storage autoscaling.
        least = -(-self.allocated_storage_gib * 11 // 10)
        if self.max_allocated_storage_gib < least:
            raise _one_problem(
                ("database.max_allocated_storage_gib", "database.allocated_storage_gib"),
                f"database.max_allocated_storage_gib: {self.max_allocated_storage_gib} with "
                f"database.allocated_storage_gib {self.allocated_storage_gib}: RDS needs the "
                f"autoscaling limit at least 10% above the allocated storage, here {least} "
                "or more",
            )
        return self

    @property
    def is_mysql_8_0(self) -> bool:
        return self.engine_version.startswith("8.0.")


class StorageConfig(_Frozen):
    """S3 data and log buckets."""

    noncurrent_version_expiration_days: Annotated[int, Field(ge=1, le=3650)] = 90
    abort_incomplete_multipart_upload_days: Annotated[int, Field(ge=1, le=365)] = 7
    access_log_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    replication_time_control: bool = Field(
        default=True,
        description="S3 Replication Time Control on the cross-region rule: 99.99% of objects "
        "replicated within 15 minutes, backed by an SLA, at a per-GB fee. Off: replication "
        "is best effort (most objects within 15 minutes, no bound); the replication "
        "metrics and alarms stay.",
    )


class BackupConfig(_Frozen):
    """AWS Backup plan in the primary region with copies to the secondary."""

    schedule: str = Field(
        default="cron(0 5 * * ? *)", description="Backup rule schedule (UTC cron expression)."
    )
    retention_days: Annotated[int, Field(ge=1, le=36500)] = 35
    copy_retention_days: Annotated[int, Field(ge=1, le=36500)] = 35

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not _CRON_RE.match(value):
            raise ValueError(
                "must be an AWS cron expression with six fields, e.g. cron(0 5 * * ? *)"
            )
        return value


class LoaderConfig(_Frozen):
    """The S3 -> MySQL loader function."""

    memory_mb: Annotated[int, Field(ge=128, le=10240)] = Field(
        default=1769,
        description="Lambda memory; 1769 MB buys one full vCPU, and loading is CPU-bound.",
    )
    timeout_seconds: Annotated[int, Field(ge=10, le=900)] = 300
    reserved_concurrency: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None,
        description="Concurrent loads (and so database connections) at most; unset reserves "
        "nothing. Off by default: Lambda keeps at least 100 (on new accounts, whose limit is "
        "10, all 10) unreserved, and a reservation that breaks that fails the deploy "
        '("decreases account\'s UnreservedConcurrentExecution below its minimum value"). '
        "`tapstack preflight` checks the headroom when it is set.",
    )
    batch_size: Annotated[int, Field(ge=100, le=100000)] = 10000
    database_user: str = "tapstack_loader"

    @field_validator("database_user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_]{0,31}$", value):
            raise ValueError("must start with a letter and hold only a-z, 0-9 and _ (at most 32)")
        return value


class MonitoringConfig(_Frozen):
    """CloudWatch alarms and their notification target."""

    alarm_email: str | None = Field(
        default=None,
        description="Address subscribed to the alarm topic (confirm the e-mail AWS sends).",
    )
    cpu_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 80
    alb_5xx_alarm_count: Annotated[int, Field(ge=1)] = 10
    target_response_time_alarm_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    rds_cpu_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 80
    rds_free_storage_alarm_gib: Annotated[int, Field(ge=1)] = 5
    rds_free_memory_alarm_mib: Annotated[int, Field(ge=16)] = 256
    rds_connections_alarm: Annotated[int, Field(ge=1)] = 200
    replica_lag_alarm_seconds: Annotated[int, Field(ge=1)] = 60
    notify_other_region_health: bool = Field(
        default=False,
        description="Notify when the us-east-1 stack's check of the other region's name "
        "(<region>.<record>.<domain>) fails. Off until both regions are deployed and the "
        "domain is delegated to the zone: before that the name does not resolve, and the "
        "alarm would page while nothing is wrong. The alarm exists either way.",
    )
    log_retention_days: Literal[
        1,
        3,
        5,
        7,
        14,
        30,
        60,
        90,
        120,
        150,
        180,
        365,
        400,
        545,
        731,
        1096,
        1827,
        2192,
        2557,
        2922,
        3288,
        3653,
    ] = 90

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("must be an e-mail address such as ops@example.com")
        return value


class TapStackConfig(_Frozen):
    """The whole TapStack configuration. Every field is documented in the README."""

    project_name: str = Field(default="tapstack", description="Prefix of every name.")
    environment: str = Field(default="prod", description="Environment slug used in names.")
    account: str = Field(default="123456789012", description="AWS account ID (12 digits).")
    primary: RegionConfig
    secondary: RegionConfig
    writer_region: str | None = Field(
        default=None,
        description="The region holding the writer database (the other holds its read "
        "replica); unset: primary.region. Moving it to the standby region and deploying "
        "that region promotes its replica in place; the region giving up the writer needs "
        "its database_generation bumped (the failover and switchover commands do both). "
        "A new environment starts with the writer in the primary region: a promoted "
        "replica's template cannot create a database from nothing.",
    )
    interface_endpoints: tuple[str, ...] = ("ssm", "ssmmessages", "ec2messages", "secretsmanager")
    web: WebConfig = WebConfig()
    dns: DnsConfig
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    backup: BackupConfig = BackupConfig()
    loader: LoaderConfig = LoaderConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    removal_mode: RemovalMode = RemovalMode.RETAIN
    tags: dict[str, str] = Field(
        default_factory=lambda: {"Environment": "Production", "Team": "DevOps"}
    )

    @field_validator("project_name")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT_RE.match(value):
            raise ValueError(
                "must be 3-16 characters: lowercase letters, digits and hyphens, "
                "starting with a letter"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_RE.match(value):
            raise ValueError("must be 2-10 lowercase letters or digits, starting with a letter")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: Any) -> str:
        value = str(value)
        if not _ACCOUNT_RE.match(value):
            raise ValueError("must be a 12-digit AWS account ID (quote it in YAML)")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in KNOWN_INTERFACE_ENDPOINTS]
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(KNOWN_INTERFACE_ENDPOINTS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [k for k in ("Environment", "Team") if not value.get(k)]
        if missing:
            raise ValueError(f"must include non-empty {' and '.join(missing)}")
        bad = [k for k in value if not _TAG_KEY_RE.match(k) or k.lower().startswith("aws:")]
        if bad:
            raise ValueError(f"invalid tag key(s) {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _across_fields(self) -> TapStackConfig:
        problems = [
            *self._name_length_problems(),
            *self._region_problems(),
            *self._zone_problems(),
            *self._certificate_problems(),
            *self._https_problems(),
            *self._lineage_problems(),
            *self._account_problems(),
        ]
        if problems:
            raise CrossFieldError(problems)
        return self

    def _account_problems(self) -> list[Problem]:
        if self.web.database_user != self.loader.database_user:
            return []
        return [
            Problem(
                ("web.database_user", "loader.database_user"),
                f"web.database_user: {self.web.database_user!r} is also loader.database_user; "
                "the web tier's account is read-only and must be another account",
            )
        ]

    def _name_length_problems(self) -> list[Problem]:
        fields = ("dns.domain_name", "dns.record_name", "primary.region", "secondary.region")
        for region in (self.primary.region, self.secondary.region):
            name = f"{region}.{self.dns.fqdn}"
            if len(name) > MAX_DNS_NAME:
                return [
                    Problem(
                        fields,
                        f"dns.domain_name: {self.dns.domain_name!r} is too long: the regional "
                        f"name {name[:40]}... has {len(name)} characters, and DNS allows "
                        f"{MAX_DNS_NAME} (shorten dns.domain_name or dns.record_name)",
                    )
                ]
        return []

    def _region_problems(self) -> list[Problem]:
        problems = []
        if self.primary.region == self.secondary.region:
            problems.append(
                Problem(
                    ("primary.region", "secondary.region"),
                    f"secondary.region: {self.secondary.region!r} equals primary.region; "
                    "the two regions must differ",
                )
            )
        a = ipaddress.IPv4Network(self.primary.vpc_cidr)
        b = ipaddress.IPv4Network(self.secondary.vpc_cidr)
        if a.overlaps(b):
            problems.append(
                Problem(
                    ("primary.vpc_cidr", "secondary.vpc_cidr"),
                    f"secondary.vpc_cidr: {self.secondary.vpc_cidr!r} overlaps "
                    f"primary.vpc_cidr {self.primary.vpc_cidr!r}; they must not overlap "
                    "(peering and replication later)",
                )
            )
        return problems

    def _zone_problems(self) -> list[Problem]:
        problems = []
        for slot, settings in (("primary", self.primary), ("secondary", self.secondary)):
            zones = settings.availability_zones or ()
            foreign = [zone for zone in zones if zone[:-1] != settings.region]
            if foreign:
                problems.append(
                    Problem(
                        (f"{slot}.availability_zones", f"{slot}.region"),
                        f"{slot}.availability_zones: {', '.join(foreign)} not in "
                        f"{slot}.region {settings.region}; name two of its zones, e.g. "
                        f"{settings.region}a and {settings.region}b as this account lists them",
                    )
                )
        return problems

    def _certificate_problems(self) -> list[Problem]:
        """A load balancer can only serve an ACM certificate of its own region and account."""
        problems = []
        for slot, settings in (("primary", self.primary), ("secondary", self.secondary)):
            if settings.certificate_arn is None:
                continue
            _, _, _, region, account, _ = settings.certificate_arn.split(":", 5)
            if (region, account) != (settings.region, self.account):
                problems.append(
                    Problem(
                        (f"{slot}.certificate_arn", f"{slot}.region", "account"),
                        f"{slot}.certificate_arn: a certificate of {region} in account "
                        f"{account}; the load balancer in {settings.region} can only serve "
                        f"a certificate of {settings.region} in the configured account "
                        f"{self.account}",
                    )
                )
        return problems

    def _https_problems(self) -> list[Problem]:
        """A certificate without HTTPS is a contradiction; a managed certificate's first
        name must fit ACM's 64-character limit."""
        problems = []
        slots = (("primary", self.primary), ("secondary", self.secondary))
        if not self.web.https:
            for slot, settings in slots:
                if settings.certificate_arn is not None:
                    problems.append(
                        Problem(
                            (f"{slot}.certificate_arn", "web.https"),
                            f"{slot}.certificate_arn is set but web.https is false: the load "
                            "balancers would serve plain HTTP and ignore it; set web.https: "
                            "true (the default) or remove the certificate",
                        )
                    )
            return problems
        managed = [slot for slot, settings in slots if self.manages_certificate(settings)]
        if managed and len(self.dns.fqdn) > MAX_CERTIFICATE_FIRST_NAME:
            fields = ("dns.record_name", "dns.domain_name", "web.https")
            problems.append(
                Problem(
                    fields + tuple(f"{slot}.certificate_arn" for slot in managed),
                    f"dns.record_name, dns.domain_name: the app's name {self.dns.fqdn[:40]}... "
                    f"has {len(self.dns.fqdn)} characters, and ACM allows at most "
                    f"{MAX_CERTIFICATE_FIRST_NAME} in a certificate's first name (its common "
                    f"name), so the certificate of {' and '.join(managed)} cannot be "
                    "requested; shorten the name, or bring certificates (certificate_arn)",
                )
            )
        return problems

    def manages_certificate(self, settings: RegionConfig) -> bool:
        """Whether the region's stack requests its certificate from ACM: HTTPS is on and
        the region has no ``certificate_arn``."""
        return self.web.https and settings.certificate_arn is None

    def database_lineage_problems(self) -> list[str]:
        """Why ``writer_region`` and the database generations cannot be deployed, if they
        cannot: the writer must be a configured region, and the standby's instance must be
        able to be a read replica of the writer's (see ``_database_lineage``)."""
        return [p.message for p in self._lineage_problems()]

    def _lineage_problems(self) -> list[Problem]:
        regions = (self.primary.region, self.secondary.region)
        if self.primary.region == self.secondary.region:
            return []  # reported on its own; neither region can be told apart
        if self.writer_region is not None and self.writer_region not in regions:
            return [
                Problem(
                    ("writer_region", "primary.region", "secondary.region"),
                    f"writer_region: {self.writer_region!r} is neither configured region: "
                    f"allowed are {self.primary.region} (primary.region) and "
                    f"{self.secondary.region} (secondary.region)",
                )
            ]
        return self._database_lineage()

    def _database_lineage(self) -> list[Problem]:
        """A read replica must be newer than its source.

        An instance is identified by its region's slot and ``database_generation``; they
        order instances by age: ``(generation, slot)``, the primary first, because the
        secondary's first replica is created after the primary's first instance. The
        standby's instance must be younger than the writer's. Otherwise it existed while the
        writer was a replica of it (or it is the primary's original instance): it is
        standalone, and making it a replica under the same identifier would need a
        replacement CloudFormation cannot make for a custom-named instance. Each writer move
        bumps the new standby's generation by one, which keeps this true; a hand edit that
        forgets the bump is refused here, before synthesis.
        """
        writer_slot = "primary" if self.writer == self.primary.region else "secondary"
        standby_slot = "secondary" if writer_slot == "primary" else "primary"
        writer, standby = getattr(self, writer_slot), getattr(self, standby_slot)

        def age(slot: str, settings: RegionConfig) -> tuple[int, int]:
            return (settings.database_generation, 0 if slot == "primary" else 1)

        if age(standby_slot, standby) > age(writer_slot, writer):
            return []
        needed = writer.database_generation + (1 if standby_slot == "primary" else 0)
        fields = (
            "writer_region",
            "primary.region",
            "secondary.region",
            "primary.database_generation",
            "secondary.database_generation",
        )
        message = (
            f"{standby_slot}.database_generation: {standby.database_generation} makes the "
            f"{standby_slot} region's database ({standby.region}) a read replica of the writer "
            f"in {writer.region} (writer_region), but that instance is older than the writer's "
            f"(generation {writer.database_generation}): it is the writer's former source or the "
            "original writer, so it is standalone, and CloudFormation cannot replace a "
            "custom-named instance under the same name. Set "
            f"{standby_slot}.database_generation to {needed} (or more): the replica is then "
            "a new instance and the old one is snapshotted"
        )
        return [Problem(fields, message)]

    # ---- derived values -------------------------------------------------

    @property
    def prefix(self) -> str:
        """``<project>-<environment>``: the start of every resource name."""
        return f"{self.project_name}-{self.environment}"

    @property
    def writer(self) -> str:
        """The region holding the writer database: ``writer_region``, else the primary's."""
        return self.writer_region or self.primary.region

    @property
    def regions(self) -> tuple[RegionConfig, RegionConfig]:
        return (self.primary, self.secondary)

    @property
    def is_retain(self) -> bool:
        return self.removal_mode is RemovalMode.RETAIN


def _one_problem(fields: tuple[str, ...], message: str) -> CrossFieldError:
    return CrossFieldError([Problem(fields, message)])


#: Valid stand-ins for required fields set aside while the other checks run (see
#: :func:`_all_problems`); a problem involving a field set aside is never reported.
_STAND_INS: dict[str, Any] = {
    "region": SUPPORTED_REGIONS[0],
    "vpc_cidr": "10.0.0.0/16",
    "domain_name": "example.com",
}
#: Validation rounds at most: each sets aside at least one more field.
_MAX_ROUNDS = 20

_Path = tuple[str, ...]


def _field_problem(err: Any) -> str:
    """One line for a problem pydantic found in one field."""
    loc = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] == "missing":
        return f"{loc}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown field (check its spelling against the README)"
    if isinstance(value, dict | list):
        return f"{loc}: {message}"
    return f"{loc} = {value!r}: {message}"


def _field_path(loc: Sequence[Any]) -> _Path:
    """The configuration field an error is about: its location up to the first step that is
    not a field of a section (a list index, a map key), or an unknown field's own key."""
    model: Any = TapStackConfig
    path: list[str] = []
    for step in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or step not in fields:
            if not path or fields is not None:
                path.append(str(step))  # an unknown field: set its key aside
            break
        path.append(step)
        model = fields[step].annotation
    return tuple(path)


def _stand_in(model: Any, name: str) -> Any:
    """A valid value for a required field: its stand-in, or a section of stand-ins."""
    annotation = model.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            field: _stand_in(annotation, field)
            for field, info in annotation.model_fields.items()
            if info.is_required()
        }
    return _STAND_INS[name]


def _set_aside(data: dict[str, Any], path: _Path) -> None:
    """Replace the field at ``path`` by its default (or a stand-in when it has none)."""
    model: Any = TapStackConfig
    target = data
    for key in path[:-1]:
        sub = target.get(key)
        if not isinstance(sub, dict):
            return  # the whole section is set aside, or holds only defaults
        target, model = sub, model.model_fields[key].annotation
    name = path[-1]
    info = model.model_fields.get(name)
    if info is None or not info.is_required():
        target.pop(name, None)
    else:
        target[name] = _stand_in(model, name)


def _all_problems(data: dict[str, Any], exc: ValidationError) -> list[str]:
    """Every problem of ``data`` (``exc`` is its failed validation), in one pass.

    Pydantic runs a section's checks across fields only once all of the section's fields
    are valid. So each round records what it found, sets those fields aside (defaults, or
    valid stand-ins, in their place) and validates again, until every check has run. A
    problem involving a field already set aside is about the stand-in, not the file, and
    is dropped. Field problems come first, then each later round's cross-field ones.
    """
    problems: list[str] = []
    set_aside: set[_Path] = set()
    attempt = copy.deepcopy(data)
    for round_ in range(_MAX_ROUNDS):
        progress = False
        for err in exc.errors():
            error = err.get("ctx", {}).get("error")
            found: list[tuple[str, list[_Path]]]
            if isinstance(error, CrossFieldError):
                found = [
                    (p.message, [tuple(f.split(".")) for f in p.fields]) for p in error.problems
                ]
            else:  # a field's own problem: only the file's, in the first round
                found = [(_field_problem(err) if round_ == 0 else "", [_field_path(err["loc"])])]
            for message, paths in found:
                stand_in = any(
                    path[:n] in set_aside for path in paths for n in range(1, len(path) + 1)
                )
                if message and not stand_in and message not in problems:
                    problems.append(message)
                for path in paths:
                    if path not in set_aside:
                        set_aside.add(path)
                        _set_aside(attempt, path)
                        progress = True
        if not progress:
            break
        try:
            TapStackConfig.model_validate(attempt)
            break
        except ValidationError as again:
            exc = again
    return problems


def parse_config(data: dict[str, Any], source: str = "<dict>") -> TapStackConfig:
    """Validate a mapping into a :class:`TapStackConfig` or raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must hold a YAML mapping of fields"])
    try:
        config = TapStackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _all_problems(data, exc)) from None
    for message in config_warnings(config):
        warnings.warn(message, TapStackConfigWarning, stacklevel=2)
    return config


#: The configuration used when nothing names one.
DEFAULT_CONFIG_PATH = "config/default.yaml"
#: The environment variable naming the configuration (``make CONFIG=...`` sets it).
CONFIG_ENV_VAR = "TAPSTACK_CONFIG"


def locate_config(
    explicit: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The one rule every entry point (``cdk synth``, ``tapstack``, the lab) uses to find the
    configuration file: a path given explicitly (``--config``, or the CDK context value
    ``tapstack:config``), else ``$TAPSTACK_CONFIG``, else ``config/default.yaml``; relative
    paths are relative to the working directory."""
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path) -> TapStackConfig:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_config(data if data is not None else {}, str(path))


class TapStackConfigWarning(UserWarning):
    """A valid configuration with a consequence the user should know about."""


def config_warnings(config: TapStackConfig) -> list[str]:
    """Warnings about valid but costly or risky choices."""
    messages = []
    db = config.database
    if db.is_mysql_8_0:
        messages.append(
            f"database.engine_version {db.engine_version!r}: MySQL 8.0 left RDS standard "
            "support on 2026-07-31; this database is billed RDS Extended Support (about "
            "$0.10 per vCPU-hour, on the Multi-AZ standby and the replica too). Choose an "
            f"8.4 version (default {DEFAULT_MYSQL_VERSION}) to avoid the charge."
        )
    if "us-east-1" not in (config.primary.region, config.secondary.region):
        messages.append(
            "neither region is us-east-1: Route 53 publishes health-check metrics only "
            "there, so no health-check alarms are created (the per-region ALB and host "
            "alarms still are)."
        )
    if not config.web.https:
        messages.append(
            "web.https is false: the load balancers serve plain HTTP on port 80 and Route 53 "
            "checks over HTTP; requests, cookies and responses cross the internet "
            "unencrypted. Keep it for a throwaway environment whose domain cannot validate a "
            "certificate; set web.https: true (the default) for anything users reach."
        )
    if config.web.ssh_allowed_cidr and not config.web.key_pair_name:
        messages.append(
            "web.ssh_allowed_cidr is set but web.key_pair_name is not: port 22 opens to that "
            "address, but only EC2 Instance Connect can log in."
        )
    return messages

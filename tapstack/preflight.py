"""``tapstack preflight``: read-only checks of the target AWS account before a real deploy.

A first deploy to a real account fails late and slowly on things that one API call could
have told beforehand: credentials for another account, a region that is not bootstrapped,
a name still held by a resource that ``removal_mode: retain`` kept after a destroy, a
second hosted zone with the domain's name, a quota that is already used up. Each check
here is a small function of a :class:`Preflight` (the configuration, the synthesized
assembly and a factory of boto3 clients) that returns :class:`Problem` objects, each with
the fix. Nothing is created or changed.

boto3 honours ``AWS_ENDPOINT_URL``, so the same checks run against the embedded emulator;
a check whose API the target does not answer (moto lacks a few) reports a *warning*
("could not check"), never a pass.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from tapstack.assembly import AssemblyStack, read_cloud_assembly
from tapstack.aws import ClientFactory
from tapstack.config import TapStackConfig, mysql_version_key
from tapstack.naming import Names, stack_name, writer_region
from tapstack.physical_names import PhysicalName, physical_names

#: The account ID the default configuration (and the tests) use; never a real target.
PLACEHOLDER_ACCOUNT = "123456789012"
DEFAULT_BOOTSTRAP_QUALIFIER = "hnb659fds"
#: Lambda keeps this many concurrent executions unreserved (or the whole limit, if lower).
LAMBDA_MIN_UNRESERVED = 100


class Severity(StrEnum):
    PROBLEM = "problem"
    """The deploy would fail (or deploy something wrong): preflight exits 1."""
    WARNING = "warning"
    """Could not be checked, or worth knowing; does not stop a deploy."""


@dataclass(frozen=True)
class Problem:
    """One finding: which check, what is wrong (naming the resource), and the fix."""

    check: str
    message: str
    fix: str
    severity: Severity = Severity.PROBLEM

    @property
    def line(self) -> str:
        mark = "✗" if self.severity is Severity.PROBLEM else "⚠"
        fix = f" — fix: {self.fix}" if self.fix else ""
        return f"{mark} {self.check}: {self.message}{fix}"


def warning(check: str, message: str, fix: str = "") -> Problem:
    return Problem(check, message, fix, Severity.WARNING)


@dataclass
class Preflight:
    """What the checks look at: the configuration, the synthesized stacks and the target."""

    config: TapStackConfig
    stacks: Sequence[AssemblyStack]
    manifest: Mapping[str, Any]
    client: ClientFactory
    config_source: str = "the configuration file"
    cdk_context: Mapping[str, Any] = field(default_factory=dict)
    _stack_resources: dict[tuple[str, str], dict[str, dict[str, Any]] | None] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        # One client per service and region: creating a boto3 client costs far more than
        # the call it makes.
        factory = self.client
        clients: dict[tuple[str, str], Any] = {}

        def client(service: str, region: str) -> Any:
            if (service, region) not in clients:
                clients[service, region] = factory(service, region)
            return clients[service, region]

        self.client = client

    @classmethod
    def from_cdk_out(
        cls,
        config: TapStackConfig,
        cdk_out: str | Path,
        client: ClientFactory,
        *,
        config_source: str = "the configuration file",
        cdk_json: str | Path | None = None,
    ) -> Preflight:
        """Read the assembly in ``cdk_out`` (``FileNotFoundError`` when it is missing)."""
        cdk_out = Path(cdk_out)
        manifest_path = cdk_out / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} not found: run `make synth` first")
        context: dict[str, Any] = {}
        if cdk_json is not None and Path(cdk_json).exists():
            context = json.loads(Path(cdk_json).read_text()).get("context", {})
        return cls(
            config=config,
            stacks=read_cloud_assembly(cdk_out),
            manifest=json.loads(manifest_path.read_text()),
            client=client,
            config_source=config_source,
            cdk_context=context,
        )

    @property
    def primary_region(self) -> str:
        return self.config.primary.region

    @property
    def regions(self) -> list[str]:
        """The configuration's regions, then any other region the assembly deploys to."""
        regions = [r.region for r in self.config.regions]
        regions += [s.region for s in self.stacks if s.region not in regions]
        return list(dict.fromkeys(regions))

    def stack_resources(self, name: str, region: str) -> dict[str, dict[str, Any]] | None:
        """The live resources of a deployed stack by logical ID, or ``None`` when the stack
        does not exist. (ListStackResources: DescribeStackResources stops at 100.)"""
        key = (name, region)
        if key not in self._stack_resources:
            cfn = self.client("cloudformation", region)
            resources: dict[str, dict[str, Any]] = {}
            try:
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
                    for summary in page["StackResourceSummaries"]:
                        if summary.get("ResourceStatus") != "DELETE_COMPLETE":
                            resources[summary["LogicalResourceId"]] = summary
            except ClientError as exc:
                if "does not exist" not in _error_message(exc):
                    raise
                self._stack_resources[key] = None
            else:
                self._stack_resources[key] = resources
        return self._stack_resources[key]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Preflight], list[Problem]]
    summary: str


# ---------------------------------------------------------------------------
# assembly and configuration
# ---------------------------------------------------------------------------


def check_assembly(pf: Preflight) -> list[Problem]:
    """The synthesized assembly belongs to this configuration (same account, prefix, regions)."""
    config = pf.config
    stale = []
    for stack in pf.stacks:
        if not stack.name.startswith(f"{config.prefix}-"):
            stale.append(f"stack {stack.name} is not named {config.prefix}-*")
        elif stack.account != config.account:
            stale.append(f"{stack.name} targets account {stack.account}, not {config.account}")
        elif stack.region not in (config.primary.region, config.secondary.region):
            stale.append(f"{stack.name} targets region {stack.region}")
    if not pf.stacks:
        stale.append("it holds no stacks")
    if not stale:
        return []
    return [
        Problem(
            "assembly",
            f"cdk.out was not synthesized from {pf.config_source}: " + "; ".join(stale),
            f"synthesize it again (`make synth CONFIG={pf.config_source}`; "
            "`make preflight` does this first)",
        )
    ]


#: Top-level domains RFC 2606 (and RFC 6761) reserve for testing and documentation.
RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost"})
#: Second-level domains RFC 2606 section 3 reserves for documentation.
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


def is_reserved_domain(domain: str) -> bool:
    """True when Route 53 refuses a public hosted zone for ``domain``.

    RFC 2606 reserves the TLDs ``.test``, ``.example``, ``.invalid`` and ``.localhost``
    and the domains ``example.com``, ``example.net`` and ``example.org`` for testing and
    documentation. Route 53 rejects a hosted zone for any of them or their subdomains:
    ``CreateHostedZone`` fails with ``InvalidDomainName: <name> is reserved by AWS!``, so
    the dns stack would fail on a real account (the emulator accepts it)."""
    labels = domain.lower().rstrip(".").split(".")
    if labels[-1] in RESERVED_TLDS:
        return True
    return len(labels) >= 2 and ".".join(labels[-2:]) in RESERVED_DOMAINS


def check_placeholders(pf: Preflight) -> list[Problem]:
    """The configuration still holds the example account or a reserved domain."""
    config = pf.config
    found = []
    if config.account == PLACEHOLDER_ACCOUNT:
        found.append(
            Problem(
                "placeholders",
                f"account is the placeholder {PLACEHOLDER_ACCOUNT}, not a real AWS account",
                f'set `account: "<your 12-digit account ID>"` in {pf.config_source} '
                "(`aws sts get-caller-identity` prints it)",
            )
        )
    domain = config.dns.domain_name
    if is_reserved_domain(domain):
        found.append(
            Problem(
                "placeholders",
                f"dns.domain_name {domain} is reserved (RFC 2606): Route 53 refuses a hosted "
                "zone for it (InvalidDomainName: ... is reserved by AWS!)",
                f"set `dns.domain_name:` in {pf.config_source} to a domain you own "
                "(and `dns.hosted_zone_id:` if its zone already exists)",
            )
        )
    email = config.monitoring.alarm_email
    if email and is_reserved_domain(email.rsplit("@", 1)[-1]):
        found.append(
            warning(
                "placeholders",
                f"monitoring.alarm_email {email} is at a reserved domain: nobody will "
                "receive the alarms",
                f"set `monitoring.alarm_email:` in {pf.config_source}",
            )
        )
    return found


# ---------------------------------------------------------------------------
# credentials and regions
# ---------------------------------------------------------------------------


def check_credentials(pf: Preflight) -> list[Problem]:
    """The credentials work and belong to the configured account."""
    identity = pf.client("sts", pf.primary_region).get_caller_identity()
    account = identity["Account"]
    if account == pf.config.account:
        return []
    return [
        Problem(
            "credentials",
            f"the credentials belong to account {account} ({identity.get('Arn', '?')}), but "
            f"the configuration deploys to account {pf.config.account}",
            f'set `account: "{account}"` in {pf.config_source} to deploy there, or use '
            f"credentials for account {pf.config.account} (AWS_PROFILE)",
        )
    ]


ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})


def check_regions(pf: Preflight) -> list[Problem]:
    """Both regions are enabled for the account (opt-in regions must be opted in)."""
    ec2 = pf.client("ec2", pf.primary_region)
    status = {
        r["RegionName"]: r.get("OptInStatus", "opt-in-not-required")
        for r in ec2.describe_regions(AllRegions=True)["Regions"]
    }
    found = []
    for region in pf.regions:
        state = status.get(region)
        if state in ENABLED_OPT_IN:
            continue
        what = "is not offered to this account" if state is None else f"is {state}"
        found.append(
            Problem(
                "regions",
                f"region {region} {what}: nothing can be deployed there",
                f"enable it (`aws account enable-region --region-name {region}`, or the "
                "console's Account page; it takes a while), or choose another region in "
                "`primary.region`/`secondary.region`",
            )
        )
    return found


# ---------------------------------------------------------------------------
# CDK bootstrap
# ---------------------------------------------------------------------------


def bootstrap_requirements(pf: Preflight) -> dict[str, tuple[str, int]]:
    """Per region: the bootstrap version parameter and the lowest version the assembly needs.

    Both come from the manifest (``bootstrapStackVersionSsmParameter`` carries the
    qualifier); the qualifier in ``cdk.json`` is the fallback."""
    artifacts = pf.manifest.get("artifacts", {})
    qualifier = pf.cdk_context.get("@aws-cdk/core:bootstrapQualifier") or (
        DEFAULT_BOOTSTRAP_QUALIFIER
    )
    needs: dict[str, tuple[str, int]] = {}
    for stack in pf.stacks:
        artifact = artifacts.get(stack.name, {})
        properties = artifact.get("properties", {})
        parameter = properties.get("bootstrapStackVersionSsmParameter") or (
            f"/cdk-bootstrap/{qualifier}/version"
        )
        versions = [int(properties.get("requiresBootstrapStackVersion") or 0)]
        for dependency in artifact.get("dependencies", []):
            dep = artifacts.get(dependency, {})
            if dep.get("type") == "cdk:asset-manifest":
                versions.append(
                    int(dep.get("properties", {}).get("requiresBootstrapStackVersion") or 0)
                )
        previous = needs.get(stack.region, (parameter, 0))[1]
        needs[stack.region] = (parameter, max([previous, *versions]))
    return needs


def check_bootstrap(pf: Preflight) -> list[Problem]:
    """Every region is CDK-bootstrapped at the version the assembly requires."""
    found = []
    for region, (parameter, required) in bootstrap_requirements(pf).items():
        qualifier = re.fullmatch(r"/cdk-bootstrap/(.+)/version", parameter)
        option = (
            f" --qualifier {qualifier.group(1)}"
            if qualifier and qualifier.group(1) != DEFAULT_BOOTSTRAP_QUALIFIER
            else ""
        )
        fix = f"npx cdk bootstrap aws://{pf.config.account}/{region}{option}"
        try:
            value = pf.client("ssm", region).get_parameter(Name=parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
            found.append(
                Problem(
                    "bootstrap",
                    f"{region} is not bootstrapped for the CDK (SSM parameter {parameter} "
                    "not found)",
                    fix,
                )
            )
            continue
        try:
            version = int(value)
        except ValueError:
            version = -1
        if version < required:
            found.append(
                Problem(
                    "bootstrap",
                    f"the CDK bootstrap stack in {region} is version {value}; this app "
                    f"needs version {required} or later",
                    f"{fix} (upgrades it in place)",
                )
            )
    return found


# ---------------------------------------------------------------------------
# DNS
# ---------------------------------------------------------------------------


def _zone_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def zones_named(route53: Any, domain: str) -> list[dict[str, Any]]:
    """Every hosted zone (public and private) whose name is ``domain``."""
    wanted = domain.rstrip(".").lower() + "."
    zones: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"DNSName": wanted}
    while True:
        page = route53.list_hosted_zones_by_name(**kwargs)
        for zone in page.get("HostedZones", []):
            if zone["Name"].lower() != wanted:
                return zones  # sorted by name: past the domain
            zones.append(zone)
        if not page.get("IsTruncated"):
            return zones
        kwargs = {"DNSName": page["NextDNSName"], "HostedZoneId": page["NextHostedZoneId"]}


def check_dns_zone(pf: Preflight) -> list[Problem]:
    """The zone the records go into is unambiguous: the configured zone exists, is public and
    has the domain's name; or, when the dns stack creates the zone, no other zone has that
    name."""
    dns = pf.config.dns
    route53 = pf.client("route53", pf.primary_region)
    if dns.hosted_zone_id:
        return _check_given_zone(pf, route53, dns.hosted_zone_id, dns.domain_name)

    dns_stack = stack_name(pf.config, "dns")
    resources = pf.stack_resources(dns_stack, pf.primary_region) or {}
    owned = {
        _zone_id(r.get("PhysicalResourceId") or "")
        for r in resources.values()
        if r.get("ResourceType") == "AWS::Route53::HostedZone"
    }
    others = [z for z in zones_named(route53, dns.domain_name) if _zone_id(z["Id"]) not in owned]
    public = [z for z in others if not z.get("Config", {}).get("PrivateZone")]
    private = [z for z in others if z.get("Config", {}).get("PrivateZone")]
    found = []
    if public:
        ids = ", ".join(_zone_id(z["Id"]) for z in public)
        found.append(
            Problem(
                "dns-zone",
                f"{len(public)} public hosted zone(s) named {dns.domain_name} already exist "
                f"outside stack {dns_stack} ({ids}). The dns stack would create one more and "
                "put the failover records there, but the domain's delegation (its NS records "
                "at the registrar) reaches only one zone, most likely the existing one",
                f"set `dns.hosted_zone_id: {_zone_id(public[0]['Id'])}` in "
                f"{pf.config_source} to use the existing zone (the dns stack is then "
                "skipped), or delete the other zone(s). A zone kept by `removal_mode: retain` "
                "after a destroy is one of these",
            )
        )
    if private:
        ids = ", ".join(_zone_id(z["Id"]) for z in private)
        found.append(
            warning(
                "dns-zone",
                f"private hosted zone(s) named {dns.domain_name} exist ({ids}): clients in "
                "the VPCs associated with them resolve that zone instead of the public "
                f"failover record {dns.fqdn}",
                "make sure no client of the app resolves names from inside those VPCs",
            )
        )
    return found


def _check_given_zone(pf: Preflight, route53: Any, zone_id: str, domain: str) -> list[Problem]:
    try:
        zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
    except ClientError as exc:
        if _code(exc) not in ("NoSuchHostedZone", "InvalidInput"):
            raise
        return [
            Problem(
                "dns-zone",
                f"dns.hosted_zone_id {zone_id} does not exist in this account",
                f"set `dns.hosted_zone_id:` in {pf.config_source} to the public zone of "
                f"{domain} (`aws route53 list-hosted-zones-by-name --dns-name {domain}`), or "
                "remove it to let the dns stack create the zone",
            )
        ]
    found = []
    if zone.get("Config", {}).get("PrivateZone"):
        found.append(
            Problem(
                "dns-zone",
                f"dns.hosted_zone_id {zone_id} is a private zone: Route 53 health checks and "
                "internet clients never see its records",
                f"set `dns.hosted_zone_id:` in {pf.config_source} to a public zone of {domain}",
            )
        )
    name = zone["Name"].rstrip(".").lower()
    if name != domain:
        found.append(
            Problem(
                "dns-zone",
                f"dns.hosted_zone_id {zone_id} is the zone {name}, not dns.domain_name {domain}",
                f"make `dns.domain_name:` and `dns.hosted_zone_id:` in {pf.config_source} "
                "name the same zone",
            )
        )
    return found


# ---------------------------------------------------------------------------
# RDS
# ---------------------------------------------------------------------------


def _orderable(rds: Any, limit_pages: int = 10, **filters: str) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Engine": "mysql", "MaxRecords": 1000, **filters}
    for _ in range(limit_pages):
        page = rds.describe_orderable_db_instance_options(**kwargs)
        options += page.get("OrderableDBInstanceOptions", [])
        if not page.get("Marker"):
            break
        kwargs["Marker"] = page["Marker"]
    return options


@dataclass(frozen=True)
class _DatabaseTarget:
    """One region's database as configured, and the field that sets its MySQL version."""

    region: str
    version: str
    version_field: str
    multi_az: bool


def _database_targets(pf: Preflight) -> list[_DatabaseTarget]:
    db = pf.config.database
    replica_field = (
        "database.replica_engine_version"
        if db.replica_version != db.engine_version
        else "database.engine_version"
    )
    writer = writer_region(pf.config)
    standby = Names(pf.config, writer).other.region
    return [
        _DatabaseTarget(writer, db.engine_version, "database.engine_version", db.multi_az),
        _DatabaseTarget(standby, db.replica_version, replica_field, db.replica_multi_az),
    ]


def check_rds_orderable(pf: Preflight) -> list[Problem]:
    """RDS offers the configured MySQL version on the configured instance class in both
    regions (with Multi-AZ where configured)."""
    cls = pf.config.database.instance_class
    found: list[Problem] = []
    for target in _database_targets(pf):
        problem = _rds_offer_problem(pf.client("rds", target.region), target, cls)
        if problem is not None:
            found.append(problem)
    return found


def _rds_offer_problem(rds: Any, target: _DatabaseTarget, cls: str) -> Problem | None:
    """What is wrong with running ``target`` on ``cls``, or ``None`` when RDS offers it."""
    options = _orderable(rds, EngineVersion=target.version, DBInstanceClass=cls)
    if not options:
        return _not_offered(rds, target, cls)
    if target.multi_az and not any(o.get("MultiAZCapable") for o in options):
        return Problem(
            "rds",
            f"{cls} with MySQL {target.version} is offered in {target.region}, but not Multi-AZ",
            "choose another `database.instance_class:`, or turn Multi-AZ off "
            "(`database.multi_az`/`database.replica_multi_az`)",
        )
    return None


def _not_offered(rds: Any, target: _DatabaseTarget, cls: str) -> Problem:
    """RDS does not offer the version on the class: say which half to change, and to what."""
    version, region = target.version, target.region
    classes = sorted({o["DBInstanceClass"] for o in _orderable(rds, EngineVersion=version)})
    if classes:
        return Problem(
            "rds",
            f"RDS does not offer {cls} for MySQL {version} in {region}",
            f"choose `database.instance_class:` from those offered there: "
            f"{', '.join(_shortlist(classes))}",
        )
    versions = sorted(
        {o["EngineVersion"] for o in _orderable(rds, DBInstanceClass=cls)}, key=mysql_version_key
    )
    if versions:
        return Problem(
            "rds",
            f"RDS does not offer MySQL {version} in {region} (on {cls})",
            f"choose `{target.version_field}:` from those offered on {cls} there: "
            f"{', '.join(versions[-12:])}",
        )
    if not _orderable(rds, limit_pages=1):
        # RDS always offers MySQL somewhere: an empty answer means the target cannot say.
        return warning(
            "rds",
            f"could not check {cls} with MySQL {version} in {region}: the endpoint "
            "lists no orderable MySQL options at all (moto does not model them)",
            "only a real account can answer this",
        )
    return Problem(
        "rds",
        f"RDS offers neither MySQL {version} nor {cls} in {region}",
        "choose `database.engine_version:` and `database.instance_class:` from "
        f"`aws rds describe-orderable-db-instance-options --engine mysql "
        f"--region {region}`",
    )


def check_upgrade_order(pf: Preflight) -> list[Problem]:
    """Upgrades go replica first. MySQL replicates from an older source to a newer replica,
    not the reverse (MySQL manual, "Replication Compatibility Between MySQL Versions"; RDS
    upgrades read replicas before their source), and ``cdk deploy --all`` deploys the writer's
    region before the standby's: a configuration that raises the writer above the replica
    that runs today would break replication until the standby's stack caught up."""
    db = pf.config.database
    writer = Names(pf.config, writer_region(pf.config))
    replica = writer.other
    instance = _describe_db_instance(pf.client("rds", replica.region), replica.db_instance)
    running = None if instance is None else str(instance["EngineVersion"])
    if running is None or mysql_version_key(db.engine_version) <= mysql_version_key(running):
        return []
    return [
        Problem(
            "upgrade-order",
            f"database.engine_version {db.engine_version} would put the writer "
            f"{writer.db_instance} ahead of its replica {replica.db_instance}, which runs "
            f"MySQL {running}: a newer source cannot replicate to an older replica",
            f'upgrade the replica first: keep `database.engine_version: "{running}"` (or the '
            f"writer's current version), set `database.replica_engine_version: "
            f'"{db.replica_version}"`, `make deploy`; then raise engine_version',
        )
    ]


def check_certificates(pf: Preflight) -> list[Problem]:
    """A certificate the user brings (``certificate_arn``) exists in its load balancer's
    region, is issued, and names the app: an HTTPS listener serves only such a one (its
    region and account are checked by configuration validation, before synthesis).
    Certificates the app manages are requested and validated by the stacks themselves."""
    found: list[Problem] = []
    config = pf.config
    for slot, settings in (("primary", config.primary), ("secondary", config.secondary)):
        if settings.certificate_arn is None:
            continue
        field, region = f"{slot}.certificate_arn", settings.region
        try:
            certificate = pf.client("acm", region).describe_certificate(
                CertificateArn=settings.certificate_arn
            )["Certificate"]
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            found.append(
                Problem(
                    "certificates",
                    f"{field}: {settings.certificate_arn} does not exist in {region}",
                    f"request or import it in ACM in {region}, or unset {field} and the "
                    "stack requests one",
                )
            )
            continue
        found += _certificate_problems(field, certificate, config.dns.fqdn, region)
    return found


def _certificate_problems(
    field: str, certificate: Mapping[str, Any], fqdn: str, region: str
) -> list[Problem]:
    found = []
    status = certificate["Status"]
    if status != "ISSUED":
        found.append(
            Problem(
                "certificates",
                f"{field}: the certificate is {status}, and a load balancer serves only an "
                "issued certificate",
                "complete its validation in ACM (or renew or replace it), or unset "
                f"{field} and the stack requests one",
            )
        )
    names = {certificate["DomainName"], *certificate.get("SubjectAlternativeNames", [])}
    if not _covers(names, fqdn):
        found.append(
            Problem(
                "certificates",
                f"{field}: the certificate names {', '.join(sorted(names))}, not {fqdn}: "
                "browsers would refuse the connection",
                f"add {fqdn} to the certificate, or unset {field} and the stack requests one",
            )
        )
    regional = f"{region}.{fqdn}"
    if not _covers(names, regional):
        found.append(
            warning(
                "certificates",
                f"{field}: the certificate does not name {regional}, which the Route 53 "
                "health check sends as SNI; its checkers then retry without SNI and the "
                "check still works",
                f"add {regional} to the certificate for a matching handshake",
            )
        )
    return found


def _covers(names: set[str], host: str) -> bool:
    """Whether a certificate for ``names`` is valid for ``host`` (one wildcard label)."""
    parent = host.split(".", 1)[-1]
    return host in names or f"*.{parent}" in names


def check_zones(pf: Preflight) -> list[Problem]:
    """A regional stack that exists keeps its subnets' zones. Unpinned, the template takes
    the account's first two zones from ``Fn::GetAZs``, whose order "isn't guaranteed and can
    change when new Availability Zones are added" (Fn::GetAZs reference); an update that
    moves a subnet to another zone must replace it, which CloudFormation refuses for the same
    CIDR ("CIDR Block must change if Availability Zone is changed"). So once the stack
    exists, ``availability_zones`` must name the zones its subnets use."""
    found: list[Problem] = []
    for names in (Names(pf.config, r.region) for r in pf.config.regions):
        used = _stack_subnet_zones(pf, stack_name(pf.config, names.slot.value), names.region)
        if not used:
            continue
        pinned = tuple(names.settings.availability_zones or ())
        if set(pinned) == set(used):
            continue
        field = f"{names.slot.value}.availability_zones"
        zones = ", ".join(sorted(used))
        state = f"is {', '.join(pinned)}" if pinned else "is not set"
        found.append(
            Problem(
                "zones",
                f"the {names.slot.value} region's subnets use {zones}, and {field} {state}: "
                "the next deploy could move (replace) subnets that hold the database and web "
                "tier",
                f"set `{field}: [{zones}]` in the configuration",
            )
        )
    return found


def _stack_subnet_zones(pf: Preflight, stack: str, region: str) -> list[str]:
    """The zones of the subnets ``stack`` owns in ``region``; [] when it does not exist."""
    cfn = pf.client("cloudformation", region)
    try:
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        subnets = [
            r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::EC2::Subnet" and r.get("PhysicalResourceId")
        ]
    except ClientError as exc:
        if "does not exist" in _error_message(exc):
            return []
        raise
    if not subnets:
        return []
    described = pf.client("ec2", region).describe_subnets(SubnetIds=subnets)["Subnets"]
    return sorted({subnet["AvailabilityZone"] for subnet in described})


def _shortlist(classes: list[str], limit: int = 15) -> list[str]:
    """Current-generation burstable and general-purpose classes first."""

    def rank(name: str) -> tuple[int, str]:
        family = name.split(".")[1] if "." in name else name
        preferred = ("t4g", "t3", "m7g", "m6g", "r7g", "r6g", "m7i", "m6i", "r7i", "r6i")
        return (preferred.index(family) if family in preferred else len(preferred), name)

    ordered = sorted(classes, key=rank)
    return ordered[:limit] + (
        [f"... ({len(classes) - limit} more)"] if len(classes) > limit else []
    )


# ---------------------------------------------------------------------------
# Lambda concurrency
# ---------------------------------------------------------------------------


def check_lambda_concurrency(pf: Preflight) -> list[Problem]:
    """Reserving ``loader.reserved_concurrency`` leaves the account the unreserved
    concurrency Lambda insists on (100, or the whole limit on accounts limited below it)."""
    reserved = pf.config.loader.reserved_concurrency
    if reserved is None:
        return []
    found = []
    for region in (pf.config.primary.region, pf.config.secondary.region):
        client = pf.client("lambda", region)
        limits = client.get_account_settings()["AccountLimit"]
        limit = int(limits["ConcurrentExecutions"])
        unreserved = int(limits["UnreservedConcurrentExecutions"])
        function = Names(pf.config, region).loader_function
        try:
            current = int(
                client.get_function_concurrency(FunctionName=function).get(
                    "ReservedConcurrentExecutions", 0
                )
            )
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            current = 0  # not deployed yet
        minimum = min(LAMBDA_MIN_UNRESERVED, limit)
        after = unreserved + current - reserved
        if after >= minimum:
            continue
        room = unreserved + current - minimum
        smaller = f" or at most {room}" if room >= 1 else ""
        found.append(
            Problem(
                "lambda-concurrency",
                f"loader.reserved_concurrency {reserved} for {function} would leave {after} "
                f"unreserved concurrent executions in {region} (account limit {limit}, "
                f"unreserved now {unreserved}); Lambda refuses to go below {minimum}",
                f"set `loader.reserved_concurrency: null`{smaller} in {pf.config_source}, or "
                f"request a higher Lambda 'Concurrent executions' quota in {region} "
                "(Service Quotas)",
            )
        )
    return found


# ---------------------------------------------------------------------------
# physical names
# ---------------------------------------------------------------------------

#: ``probe(client, region, name, account)``: ``None`` when the name is free, else what holds
#: it, worded to follow "already" ("exists", "exists (available)").
Probe = Callable[[ClientFactory, str, str, str], str | None]
#: What ``_probe_bucket`` returns for a bucket that another account owns.
FOREIGN_BUCKET = "belongs to another AWS account"


def _unless_missing(exc: ClientError, *codes: str) -> None:
    """Re-raise ``exc`` unless its code says the resource does not exist."""
    if _code(exc) not in codes:
        raise exc


def _probe_bucket(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    try:
        response = client("s3", region).head_bucket(Bucket=name)
    except ClientError as exc:
        code = _code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            return FOREIGN_BUCKET  # S3 answers 403 for a bucket of another account
        _unless_missing(exc, "404", "NoSuchBucket", "NotFound")
        return None
    where = response.get("BucketRegion") or response.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("x-amz-bucket-region")
    return f"exists in this account{f' ({where})' if where else ''}"


def _probe_log_group(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    logs = client("logs", region)
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        if any(g["logGroupName"] == name for g in page["logGroups"]):
            return "exists"
    return None


def _probe_secret(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    try:
        secret = client("secretsmanager", region).describe_secret(SecretId=name)
    except ClientError as exc:
        _unless_missing(exc, "ResourceNotFoundException")
        return None
    deleted = secret.get("DeletedDate")
    if deleted:
        when = deleted.strftime("%Y-%m-%d") if hasattr(deleted, "strftime") else str(deleted)
        return (
            f"exists, scheduled for deletion ({when}) and holding its name until then "
            "(restore it, or `aws secretsmanager delete-secret --force-delete-without-recovery`)"
        )
    return "exists"


def _probe_vault(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    # Listing, not DescribeBackupVault: that answers AccessDeniedException for a vault that
    # does not exist, which cannot be told from a real denial.
    for page in client("backup", region).get_paginator("list_backup_vaults").paginate():
        if any(v["BackupVaultName"] == name for v in page["BackupVaultList"]):
            return "exists"
    return None


def _probe_alias(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    for page in client("kms", region).get_paginator("list_aliases").paginate():
        if any(a["AliasName"] == name for a in page["Aliases"]):
            return "exists"
    return None


def _exists_unless(
    service: str, operation: str, parameter: str, *missing: str, arn: str | None = None
) -> Probe:
    """A probe that calls ``operation`` with the name (or with ``arn`` formatted with
    region, account and name) and reads the error codes in ``missing`` as "free"."""

    def probe(client: ClientFactory, region: str, name: str, account: str) -> str | None:
        value = arn.format(region=region, account=account, name=name) if arn else name
        try:
            getattr(client(service, region), operation)(**{parameter: value})
        except ClientError as exc:
            _unless_missing(exc, *missing)
            return None
        return "exists"

    return probe


def _describe_db_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    """The instance named ``identifier``, or ``None`` when there is none."""
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as exc:
        _unless_missing(exc, "DBInstanceNotFound", "DBInstanceNotFoundFault")
        return None
    return found[0] if found else None


def _probe_db_instance(client: ClientFactory, region: str, name: str, account: str) -> str | None:
    instance = _describe_db_instance(client("rds", region), name)
    if instance is None:
        return None
    status = instance.get("DBInstanceStatus")
    return f"exists ({status})" if status else "exists"


#: Name lookups by resource type, with a short noun for messages.
PROBES: dict[str, tuple[str, Probe]] = {
    "AWS::S3::Bucket": ("S3 bucket", _probe_bucket),
    "AWS::Logs::LogGroup": ("log group", _probe_log_group),
    "AWS::SecretsManager::Secret": ("secret", _probe_secret),
    "AWS::Backup::BackupVault": ("backup vault", _probe_vault),
    "AWS::KMS::Alias": ("KMS alias", _probe_alias),
    "AWS::SSM::Parameter": (
        "SSM parameter",
        _exists_unless("ssm", "get_parameter", "Name", "ParameterNotFound"),
    ),
    "AWS::Lambda::Function": (
        "Lambda function",
        _exists_unless("lambda", "get_function", "FunctionName", "ResourceNotFoundException"),
    ),
    "AWS::SNS::Topic": (
        "SNS topic",
        _exists_unless(
            "sns",
            "get_topic_attributes",
            "TopicArn",
            "NotFound",
            "NotFoundException",
            arn="arn:aws:sns:{region}:{account}:{name}",
        ),
    ),
    "AWS::SQS::Queue": (
        "SQS queue",
        _exists_unless(
            "sqs",
            "get_queue_url",
            "QueueName",
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ),
    ),
    "AWS::RDS::DBInstance": ("DB instance", _probe_db_instance),
    "AWS::IAM::Role": ("IAM role", _exists_unless("iam", "get_role", "RoleName", "NoSuchEntity")),
}


def refers_to(physical_id: str, name: str) -> bool:
    """Whether a CloudFormation physical resource ID names ``name``: the name itself, an ARN
    or URL ending in it (SNS topics, SQS queues, log groups), or a Secrets Manager ARN (the
    name plus ``-`` and six random characters)."""
    physical_id = physical_id.removesuffix(":*")
    if physical_id == name or physical_id.endswith((f":{name}", f"/{name}")):
        return True
    return re.search(rf":secret:{re.escape(name)}-[A-Za-z0-9]{{6}}$", physical_id) is not None


def check_physical_names(pf: Preflight) -> list[Problem]:
    """No explicit name in the templates is held by a resource outside the stack that
    declares it (CloudFormation would fail with "already exists")."""
    found = []
    seen: set[tuple[str, str, str]] = set()
    for stack in pf.stacks:
        kind = stack.name.removeprefix(f"{pf.config.prefix}-")
        for item in physical_names(
            stack.template, account=stack.account, region=stack.region, stack_name=stack.name
        ):
            if item.resource_type not in PROBES:
                continue
            for region in _name_regions(stack, item):
                key = (item.resource_type, "" if item.is_global else region, item.name)
                if key in seen:
                    continue
                seen.add(key)
                problem = _check_name(pf, stack, kind, item, region)
                if problem is not None:
                    found.append(problem)
    return found


def _name_regions(stack: AssemblyStack, item: PhysicalName) -> list[str]:
    """The stack's region, plus the regions a Secrets Manager secret replicates to (its
    replicas take the same name there)."""
    regions = [stack.region]
    if item.resource_type == "AWS::SecretsManager::Secret":
        properties = stack.template["Resources"][item.logical_id].get("Properties", {})
        for replica in properties.get("ReplicaRegions") or []:
            region = replica.get("Region") if isinstance(replica, dict) else None
            if isinstance(region, str) and region not in regions:
                regions.append(region)
    return regions


def _check_name(
    pf: Preflight, stack: AssemblyStack, kind: str, item: PhysicalName, region: str
) -> Problem | None:
    noun, probe = PROBES[item.resource_type]
    held = probe(pf.client, region, item.name, stack.account)
    if held is None:
        return None
    # The stack's own resource (or a replica of it in another region): an update.
    owner = (pf.stack_resources(stack.name, stack.region) or {}).get(item.logical_id)
    if owner is not None and refers_to(owner.get("PhysicalResourceId") or "", item.name):
        return None
    declared = f"{noun} {item.name} ({kind} stack, {item.logical_id})"
    if held == FOREIGN_BUCKET:
        return Problem(
            "physical-names",
            f"{declared} {FOREIGN_BUCKET}: S3 bucket names are global",
            "change `project_name` or `environment` so that the app's bucket names differ",
        )
    where = "" if item.is_global else f" in {region}"
    return Problem(
        "physical-names",
        f"{declared} already {held}{where}, outside stack {stack.name}",
        f"delete or rename it, or import it into {stack.name} (`cdk import`). Resources "
        "kept by `removal_mode: retain` stay behind after a destroy, under the same names",
    )


# ---------------------------------------------------------------------------
# quotas
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    service: str
    code: str
    title: str
    default: float


VPC_QUOTA = Quota("vpc", "L-F678F1CE", "VPCs per Region", 5)
EIP_QUOTA = Quota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", 5)
NAT_QUOTA = Quota("vpc", "L-FE5A380F", "NAT gateways per Availability Zone", 5)


def quota_value(pf: Preflight, region: str, quota: Quota) -> tuple[int, str]:
    """The account's quota, or the documented default when Service Quotas cannot say; the
    second value says which."""
    client = pf.client("service-quotas", region)
    try:
        value = client.get_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)
        return int(value["Quota"]["Value"]), "Service Quotas"
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and _credential_error(exc):
            raise
        reason = _error_text(exc)
    return int(quota.default), f"documented default; Service Quotas: {reason}"


def check_quotas(pf: Preflight) -> list[Problem]:
    """VPCs, Elastic IPs and NAT gateways per AZ: what exists outside the app's stacks plus
    what the templates add stays within the account's quotas."""
    found = []
    for stack in pf.stacks:
        resources = stack.template.get("Resources", {})
        vpcs = _count_of_type(resources, "AWS::EC2::VPC")
        if not vpcs:
            continue
        region = stack.region
        ec2 = pf.client("ec2", region)
        deployed = pf.stack_resources(stack.name, region) or {}
        own = {r.get("PhysicalResourceId") for r in deployed.values()}
        found += _over_quota(
            pf,
            region,
            VPC_QUOTA,
            len(_vpcs_outside(ec2, own)),
            vpcs,
            "VPC(s)",
            "delete unused VPCs (a default VPC counts too)",
        )
        found += _over_quota(
            pf,
            region,
            EIP_QUOTA,
            len(_addresses_outside(ec2, own)),
            _count_of_type(resources, "AWS::EC2::EIP"),
            "Elastic IP(s)",
            "release unused Elastic IPs",
        )
        found += _nat_gateway_quota(pf, region, ec2, own, resources)
    return found


def _count_of_type(resources: Mapping[str, Any], resource_type: str) -> int:
    return sum(1 for r in resources.values() if r["Type"] == resource_type)


def _vpcs_outside(ec2: Any, own: set[Any]) -> list[str]:
    """The region's VPCs that are not one of ``own`` (the stack's physical IDs)."""
    return [
        v["VpcId"]
        for page in ec2.get_paginator("describe_vpcs").paginate()
        for v in page["Vpcs"]
        if v["VpcId"] not in own
    ]


def _addresses_outside(ec2: Any, own: set[Any]) -> list[dict[str, Any]]:
    """The region's Elastic IPs that are not one of ``own`` (by address or allocation)."""
    return [
        a
        for a in ec2.describe_addresses().get("Addresses", [])
        if a.get("PublicIp") not in own and a.get("AllocationId") not in own
    ]


def _nat_gateway_quota(
    pf: Preflight, region: str, ec2: Any, own: set[Any], resources: Mapping[str, Any]
) -> list[Problem]:
    """NAT gateways per Availability Zone, for each zone the template adds some to."""
    planned = _nat_gateway_zones(resources)
    if not planned:
        return []
    nats = [
        n
        for page in ec2.get_paginator("describe_nat_gateways").paginate(
            Filters=[{"Name": "state", "Values": ["pending", "available"]}]
        )
        for n in page["NatGateways"]
        if n["NatGatewayId"] not in own
    ]
    per_zone = _zones_of(ec2, nats)
    found = []
    for zone, adds in sorted(planned.items(), key=lambda item: item[0] or ""):
        # A zone known only at deploy time may be the fullest one.
        existing = max(per_zone.values(), default=0) if zone is None else per_zone[zone]
        found += _over_quota(
            pf,
            region,
            NAT_QUOTA,
            existing,
            adds,
            f"NAT gateway(s) in {zone or 'one Availability Zone'}",
            "delete unused NAT gateways, or set `nat_gateways: 1` for the region",
        )
    return found


def _over_quota(
    pf: Preflight, region: str, quota: Quota, existing: int, adds: int, what: str, remedy: str
) -> list[Problem]:
    if not adds:
        return []
    limit, source = quota_value(pf, region, quota)
    if existing + adds <= limit:
        return []
    return [
        Problem(
            "quotas",
            f"{region}: {existing} {what} exist outside the app and it adds {adds}, "
            f"{existing + adds} in all; the quota '{quota.title}' is {limit} ({source})",
            f"{remedy}, or request a higher '{quota.title}' quota "
            f"({quota.service} {quota.code}) in Service Quotas for {region}",
        )
    ]


def _nat_gateway_zones(resources: Mapping[str, Any]) -> Counter[str | None]:
    """NAT gateways the template creates, by Availability Zone (``None`` when the zone is
    known only at deploy time)."""
    zones: Counter[str | None] = Counter()
    for resource in resources.values():
        if resource["Type"] != "AWS::EC2::NatGateway":
            continue
        subnet = resource.get("Properties", {}).get("SubnetId")
        zone = None
        if isinstance(subnet, dict) and isinstance(subnet.get("Ref"), str):
            az = resources.get(subnet["Ref"], {}).get("Properties", {}).get("AvailabilityZone")
            zone = az if isinstance(az, str) else None
        zones[zone] += 1
    return zones


def _zones_of(ec2: Any, nats: Iterable[dict[str, Any]]) -> Counter[str]:
    subnet_ids = sorted({n["SubnetId"] for n in nats if n.get("SubnetId")})
    if not subnet_ids:
        return Counter()
    zone_of = {
        s["SubnetId"]: s["AvailabilityZone"]
        for s in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    }
    return Counter(zone_of.get(n.get("SubnetId", ""), "?") for n in nats)


# ---------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check("assembly", check_assembly, "cdk.out matches the configuration"),
    Check("placeholders", check_placeholders, "no example account or reserved domain"),
    Check("credentials", check_credentials, "credentials for the configured account"),
    Check("regions", check_regions, "both regions enabled"),
    Check("bootstrap", check_bootstrap, "CDK bootstrap version in each region"),
    Check("dns-zone", check_dns_zone, "one unambiguous public zone for the domain"),
    Check("rds", check_rds_orderable, "MySQL version and instance class offered"),
    Check("upgrade-order", check_upgrade_order, "the replica is upgraded before its source"),
    Check("certificates", check_certificates, "brought certificates issued for the app's name"),
    Check("zones", check_zones, "existing subnets keep their Availability Zones"),
    Check("lambda-concurrency", check_lambda_concurrency, "room for reserved concurrency"),
    Check("physical-names", check_physical_names, "explicit names not taken"),
    Check("quotas", check_quotas, "VPC, Elastic IP and NAT gateway quotas"),
)

#: Errors meaning the credentials themselves are missing or rejected: nothing else can run.
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
        "RequestExpired",
    }
)


@dataclass(frozen=True)
class PreflightResult:
    problems: list[Problem]
    warnings: list[Problem]
    checks_run: int
    aborted: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        lines = [p.line for p in self.problems] + [w.line for w in self.warnings]
        if self.problems:
            lines.append(f"preflight: {len(self.problems)} problem(s)")
        else:
            extra = f", {len(self.warnings)} warning(s)" if self.warnings else ""
            lines.append(f"preflight: ok ({self.checks_run} checks{extra})")
        return lines


def run_preflight(pf: Preflight, checks: Sequence[Check] = CHECKS) -> PreflightResult:
    """Run ``checks`` in order. A check the target cannot answer becomes a warning; missing
    or rejected credentials, or an unreachable endpoint, stop the run with one problem."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for index, check in enumerate(checks, 1):
        try:
            found = check.run(pf)
        except (BotoCoreError, ClientError) as exc:
            fatal = _fatal_problem(exc)
            if fatal is not None:
                problems.append(fatal)
                return PreflightResult(problems, warnings, index, aborted=True)
            found = [_could_not_check(check, exc)]
        for item in found:
            (problems if item.severity is Severity.PROBLEM else warnings).append(item)
    return PreflightResult(problems, warnings, len(checks))


def _fatal_problem(exc: BotoCoreError | ClientError) -> Problem | None:
    """The problem that stops the run when ``exc`` means no check can work: credentials
    missing or rejected, no region, or an endpoint out of reach. ``None`` otherwise."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ProfileNotFound)):
        return Problem(
            "credentials",
            f"no usable AWS credentials ({exc})",
            "configure credentials for the target account (`aws configure`, "
            "`aws sso login`, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        )
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return Problem(
            "credentials",
            f"cannot reach the AWS endpoint ({exc})",
            "check the network, or AWS_ENDPOINT_URL if it is set (unset it for real "
            "AWS; `make demo DEMO_ARGS=--keep` prints the emulator's)",
        )
    if isinstance(exc, NoRegionError):
        return Problem("credentials", str(exc), "set AWS_REGION")
    if isinstance(exc, ClientError) and _credential_error(exc):
        return Problem(
            "credentials",
            f"AWS rejected the credentials ({_error_text(exc)})",
            "refresh or replace them (`aws sso login`, `aws configure`, AWS_PROFILE)",
        )
    return None


def _could_not_check(check: Check, exc: BotoCoreError | ClientError) -> Problem:
    """The warning for a check the target did not answer."""
    if not isinstance(exc, ClientError):
        return warning(check.name, f"could not check ({check.summary}): {exc}")
    denied = _code(exc) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
    return warning(
        check.name,
        f"could not check ({check.summary}): {_error_text(exc)}",
        "grant the read-only permission, or check by hand before deploying" if denied else "",
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _credential_error(exc: ClientError) -> bool:
    return _code(exc) in CREDENTIAL_ERROR_CODES


def _error_text(exc: BaseException) -> str:
    """``Code: message`` on one line; an answer that is not an AWS error (an HTML page from
    an endpoint without the API) is summarized by its HTTP status."""
    if not isinstance(exc, ClientError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = _error_message(exc).strip()
    operation = exc.operation_name
    if message.startswith("<") or not message:
        return f"{operation} answered HTTP {status} (the endpoint does not implement it)"
    return f"{operation}: {_code(exc)}: {message.splitlines()[0]}"

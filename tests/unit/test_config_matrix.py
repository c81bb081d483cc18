"""Every configuration `check-config` accepts synthesizes: a matrix of the documented
options, a handful of variants that between them set every field away from its default,
each synthesized once with both cdk-nag packs on. Each must synthesize without an
unacknowledged finding, without an acknowledgement no finding needs, and without looking
anything up in an AWS account (a real-looking account needs no credentials)."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from tapstack.compliance import acknowledgements
from tapstack.config import (
    KNOWN_INTERFACE_ENDPOINTS,
    TapStackConfig,
    TapStackConfigWarning,
    parse_config,
)
from tests.support import ROOT, Synthesized, default_config_data, http_only_data, synthesize

LEAN_CONFIG = ROOT / "config" / "lean.yaml"
ACCOUNT = "210987654321"  # real-looking, with no cached lookups anywhere


def _lean() -> dict[str, Any]:
    """config/lean.yaml as shipped: single-AZ, destroy, no WAF, no interface endpoints,
    standard credits, standard health checks without latency, no S3 RTC."""
    return yaml.safe_load(LEAN_CONFIG.read_text())


def _everything_else() -> dict[str, Any]:
    """A real-looking account in two regions other than us-east-1, with every option the
    default and lean configurations leave alone turned the other way."""
    data = default_config_data()
    certificate = "arn:aws:acm:{}:" + ACCOUNT + ":certificate/0f5e1c7e-1111-2222-3333-44445555666{}"
    data.update(
        project_name="shop",
        environment="stage2",
        account=ACCOUNT,
        writer_region="eu-west-1",
        interface_endpoints=list(KNOWN_INTERFACE_ENDPOINTS),
        primary={
            "region": "eu-west-1",
            "vpc_cidr": "172.16.0.0/20",
            "nat_gateways": 2,
            "certificate_arn": certificate.format("eu-west-1", 1),
            "availability_zones": ["eu-west-1b", "eu-west-1c"],
        },
        secondary={
            "region": "eu-central-1",
            "vpc_cidr": "192.168.0.0/20",
            "nat_gateways": 2,
            "certificate_arn": certificate.format("eu-central-1", 2),
            "database_generation": 1,  # the replica rebuilt for its own sake
        },
        web={
            "instance_type": "t4g.small",
            "min_capacity": 1,
            "desired_capacity": 3,
            "max_capacity": 4,
            "app_port": 9000,
            "cpu_target_percent": 60,
            "ssh_allowed_cidr": "203.0.113.10/32",
            "key_pair_name": "ops-key",
            "root_volume_gib": 30,
            "database_user": "shop_reader",
        },
        dns={
            "domain_name": "shop.example.org",
            "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
            "record_name": "www",
            "health_check_interval_seconds": 30,
            "health_check_failure_threshold": 2,
        },
        database={
            "engine_version": "8.0.46",  # a replica-first upgrade under way
            "replica_engine_version": "8.4.10",
            "instance_class": "db.r7g.large",
            "allocated_storage_gib": 50,
            "max_allocated_storage_gib": 200,
            "replica_multi_az": True,
            "backup_retention_days": 14,
            "database_name": "shop",
            "port": 3307,
        },
        storage={
            "noncurrent_version_expiration_days": 30,
            "abort_incomplete_multipart_upload_days": 3,
            "access_log_retention_days": 90,
        },
        backup={"schedule": "cron(0 3 * * ? *)", "retention_days": 10, "copy_retention_days": 20},
        loader={
            "memory_mb": 1024,
            "timeout_seconds": 120,
            "reserved_concurrency": 5,
            "batch_size": 1000,
            "database_user": "shop_loader",
        },
        monitoring={
            "alarm_email": "oncall@example.org",
            "cpu_alarm_percent": 70,
            "alb_5xx_alarm_count": 3,
            "target_response_time_alarm_seconds": 0.5,
            "rds_cpu_alarm_percent": 75,
            "rds_free_storage_alarm_gib": 9,
            "rds_free_memory_alarm_mib": 512,
            "rds_connections_alarm": 100,
            "replica_lag_alarm_seconds": 120,
            "notify_other_region_health": True,
            "log_retention_days": 30,
        },
        tags={"Environment": "Staging", "Team": "Shop", "CostCenter": "42"},
    )
    return data


def _writer_moved_single_az() -> dict[str, Any]:
    """The writer in the secondary region (a promoted replica) with database.multi_az off,
    kept (retain): the single-AZ writer is acknowledged whatever the removal mode."""
    data = default_config_data()
    data["writer_region"] = "us-west-2"
    data["primary"]["database_generation"] = 1
    data["database"]["multi_az"] = False
    return data


def _regions_swapped() -> dict[str, Any]:
    """us-east-1 as the secondary region (where the health-check alarms then live), zones
    pinned there, no alarm e-mail, MySQL 8.4 without Extended Support enrolment."""
    data = default_config_data()
    data["primary"].update(region="us-west-2", vpc_cidr="10.20.0.0/16")
    data["secondary"].update(
        region="us-east-1", vpc_cidr="10.10.0.0/16", availability_zones=["us-east-1c", "us-east-1d"]
    )
    data["monitoring"]["alarm_email"] = None
    data["database"]["engine_lifecycle_support"] = "open-source-rds-extended-support-disabled"
    return data


VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "lean": _lean,  # synthesized once per session (tests/conftest.py: synth_lean)
    "everything-else": _everything_else,
    "writer-moved-single-az": _writer_moved_single_az,
    "regions-swapped": _regions_swapped,
    "http-only": http_only_data,
}


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory, synth_lean: Synthesized
) -> Iterator[dict[str, Synthesized]]:
    """Each variant synthesized once; the total time is printed (``-s``), to keep it fast."""
    started = time.monotonic()
    built = {"lean": synth_lean}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TapStackConfigWarning)  # MySQL 8.0, no us-east-1, HTTP only
        for name, data in VARIANTS.items():
            if name not in built:
                built[name] = synthesize(data(), tmp_path_factory.mktemp(f"cdk.out.{name}"))
    print(f"\nconfiguration matrix: {len(built)} syntheses in {time.monotonic() - started:.1f} s")
    yield built


def _leaves(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaves(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def _value(config: TapStackConfig, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_the_variants_set_every_field_away_from_the_default_configuration() -> None:
    """A field no variant changes is an option the matrix does not prove."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TapStackConfigWarning)
        default = parse_config(default_config_data(), "default")
        configs = [parse_config(data(), name) for name, data in VARIANTS.items()]
    untried = [
        path
        for path in _leaves(TapStackConfig)
        if all(_value(c, path) == _value(default, path) for c in configs)
    ]
    assert untried == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_synthesizes_with_both_packs_and_no_unacknowledged_finding(
    matrix: dict[str, Synthesized], variant: str
) -> None:
    synth = matrix[variant]
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    for name in ("AwsSolutions", "NIST.800.53.R5"):
        assert plugins[name]["conclusion"] == "success", name
        assert plugins[name]["violations"] == [], name


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_needs_no_lookup_in_an_aws_account(
    matrix: dict[str, Synthesized], variant: str
) -> None:
    """No context lookup is pending (CDK would need credentials for the account to make
    it, and synthesizes placeholders until then)."""
    assert "missing" not in matrix[variant].manifest
    templates = json.dumps(matrix[variant].templates)
    assert "dummy1a" not in templates


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_acknowledges_only_findings_it_has(
    matrix: dict[str, Synthesized], variant: str
) -> None:
    assert matrix[variant].stale_acknowledgements() == []


def test_every_finding_any_variant_acknowledges_is_in_the_readme(
    matrix: dict[str, Synthesized],
) -> None:
    readme = (ROOT / "docs" / "acknowledged-findings.md").read_text()
    findings = set()
    for synth in matrix.values():
        config = synth.built.primary.config
        for ack in acknowledgements(synth.built.app):
            finding = ack.finding.replace(config.account, "123456789012")
            finding = finding.replace(config.prefix, "tapstack-prod")
            for settings in config.regions:
                finding = finding.replace(settings.region, "REGION")
            findings.add(finding)
    assert sorted(f for f in findings if f"`{f}`" not in readme) == []


# --- what some options do ---------------------------------------------------------------


def _db(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.one(kind, "AWS::RDS::DBInstance")


def _acknowledged(synth: Synthesized, path: str) -> set[str]:
    return {a.finding for a in acknowledgements(synth.built.app) if a.path == path}


MULTI_AZ_FINDINGS = {"AwsSolutions-RDS3", "NIST.800.53.R5-RDSMultiAZSupport"}


def test_a_single_az_writer_is_built_and_acknowledged_only_when_configured(
    matrix: dict[str, Synthesized], synth: Synthesized
) -> None:
    lean = matrix["lean"]
    assert _db(lean, "primary")["Properties"]["MultiAZ"] is False
    assert _acknowledged(lean, "tapstack-dev-primary/Database/Instance") >= MULTI_AZ_FINDINGS
    moved = matrix["writer-moved-single-az"]
    assert _db(moved, "secondary")["Properties"]["MultiAZ"] is False
    assert _acknowledged(moved, "tapstack-prod-secondary/Database/Instance") >= MULTI_AZ_FINDINGS
    # Multi-AZ by default: nothing to acknowledge on the writer.
    assert _db(synth, "primary")["Properties"]["MultiAZ"] is True
    assert not MULTI_AZ_FINDINGS & _acknowledged(synth, "tapstack-prod-primary/Database/Instance")


def test_a_multi_az_replica_needs_no_acknowledgement(matrix: dict[str, Synthesized]) -> None:
    synth = matrix["everything-else"]
    assert _db(synth, "secondary")["Properties"]["MultiAZ"] is True
    assert not MULTI_AZ_FINDINGS & _acknowledged(synth, "shop-stage2-secondary/Database/Instance")


def _zones(synth: Synthesized, kind: str) -> list[Any]:
    subnets = synth.resources(kind, "AWS::EC2::Subnet")
    return [subnets[k]["Properties"]["AvailabilityZone"] for k in sorted(subnets)]


def test_pinned_zones_are_used_as_named(matrix: dict[str, Synthesized]) -> None:
    assert set(_zones(matrix["everything-else"], "primary")) == {"eu-west-1b", "eu-west-1c"}
    assert set(_zones(matrix["regions-swapped"], "secondary")) == {"us-east-1c", "us-east-1d"}


def test_unpinned_zones_are_the_accounts_first_two_selected_at_deploy_time(
    matrix: dict[str, Synthesized],
) -> None:
    zones = _zones(matrix["everything-else"], "secondary")
    assert {json.dumps(z, sort_keys=True) for z in zones} == {
        json.dumps({"Fn::Select": [i, {"Fn::GetAZs": "eu-central-1"}]}, sort_keys=True)
        for i in (0, 1)
    }


def test_the_lean_configuration_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    from tapstack.cli import main

    assert main(["--config", str(LEAN_CONFIG), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "tapstack-dev" in out

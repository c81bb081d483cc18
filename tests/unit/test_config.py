"""The configuration accepts the documented shape and rejects bad input with
one clear line per bad field."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from tapstack.config import (
    ConfigError,
    RemovalMode,
    TapStackConfigWarning,
    load_config,
    parse_config,
)
from tests.support import DEFAULT_CONFIG, ROOT, default_config_data


def rejected(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    return str(info.value)


def test_default_file_loads_with_documented_defaults() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.primary.region == "us-east-1"
    assert config.secondary.region == "us-west-2"
    assert (config.web.min_capacity, config.web.desired_capacity, config.web.max_capacity) == (
        2,
        2,
        5,
    )
    assert config.dns.health_check_interval_seconds == 10
    assert config.dns.health_check_failure_threshold == 3
    assert config.tags == {"Environment": "Production", "Team": "DevOps"}
    assert config.removal_mode is RemovalMode.RETAIN
    assert config.web.ssh_allowed_cidr is None
    assert config.database.engine_version.startswith("8.4.")


def test_configuration_is_frozen() -> None:
    config = load_config(DEFAULT_CONFIG)
    with pytest.raises(Exception, match="frozen"):
        config.project_name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("primary", "region"), "mars-east-1", r"primary\.region = 'mars-east-1': must be one of"),
        (("secondary", "region"), "us-east-1", r"secondary\.region: 'us-east-1' equals primary"),
        (
            ("primary", "vpc_cidr"),
            "10.10.0.0/33",
            r"primary\.vpc_cidr = '10.10.0.0/33': must be an IPv4",
        ),
        (("primary", "vpc_cidr"), "10.10.0.1/16", r"no host bits set"),
        (("primary", "vpc_cidr"), "banana", r"primary\.vpc_cidr = 'banana'"),
        (("primary", "vpc_cidr"), "10.0.0.0/8", r"between /16 and /20"),
        (("primary", "vpc_cidr"), "10.10.0.0/21", r"two /24s and two /22s"),
        (("primary", "vpc_cidr"), "8.8.0.0/16", r"private \(RFC 1918\)"),
        (
            ("secondary", "vpc_cidr"),
            "10.10.128.0/17",
            r"secondary\.vpc_cidr: '10.10.128.0/17' overlaps",
        ),
        (("primary", "nat_gateways"), 3, r"primary\.nat_gateways = 3"),
        (
            ("web", "min_capacity"),
            3,
            r"web\.min_capacity, web\.desired_capacity, web\.max_capacity: capacities must "
            r"satisfy min <= desired <= max, got min=3",
        ),
        (("web", "desired_capacity"), 6, r"got min=2, desired=6, max=5"),
        (
            ("web", "ssh_allowed_cidr"),
            "0.0.0.0/0",
            r"web\.ssh_allowed_cidr = '0.0.0.0/0': must be a single",
        ),
        (("web", "ssh_allowed_cidr"), "203.0.113.0/24", r"must be a single address"),
        (("web", "ssh_allowed_cidr"), "not-an-ip", r"single address in CIDR form"),
        (("web", "instance_type"), "huge", r"web\.instance_type = 'huge'"),
        (("web", "database_user"), "Reader", r"web\.database_user = 'Reader': must start with"),
        (
            ("web", "database_user"),
            "tapstack_loader",
            r"web\.database_user: 'tapstack_loader' is also loader\.database_user; the web "
            r"tier's account is read-only",
        ),
        (("account",), "12345", r"account = '12345': must be a 12-digit"),
        (("account",), "12345678901a", r"must be a 12-digit"),
        (
            ("monitoring", "alarm_email"),
            "ops-at-example",
            r"monitoring\.alarm_email = 'ops-at-example'",
        ),
        (("dns", "domain_name"), "not a domain", r"dns\.domain_name = 'not a domain'"),
        (("dns", "domain_name"), "localhost", r"must be a DNS domain name"),
        (("dns", "hosted_zone_id"), "abc", r"dns\.hosted_zone_id = 'abc'"),
        (
            ("dns", "health_check_interval_seconds"),
            15,
            r"health_check_interval_seconds = 15: Input should be 10 or 30",
        ),
        (("dns", "health_check_failure_threshold"), 0, r"health_check_failure_threshold = 0"),
        (("dns", "health_check_failure_threshold"), 11, r"health_check_failure_threshold = 11"),
        (("removal_mode",), "keep", r"removal_mode = 'keep'"),
        (
            ("database", "engine_version"),
            "8.4.3",
            r"engine_version = '8.4.3': MySQL 8.4.3 is no longer supported by Amazon RDS",
        ),
        (("database", "engine_version"), "8.0.41", r"no longer supported by Amazon RDS"),
        (("database", "engine_version"), "8.4", r"must be a pinned MySQL version RDS supports"),
        (("database", "replica_engine_version"), "8.4.4", r"no longer supported by Amazon RDS"),
        (
            ("database", "replica_engine_version"),
            "8.4.9",
            r"replica_engine_version: '8.4.9' is older than engine_version '8.4.10'.*"
            r"Upgrade the replica first",
        ),
        (
            ("dns", "domain_name"),
            ("d" * 63 + ".") * 3 + "d" * 50 + ".com",
            r"dns\.domain_name: 'd+\.d+\.d+\.d+\.com' is too long: the regional name",
        ),
        (("project_name",), "Tap Stack", r"project_name = 'Tap Stack'"),
        (("interface_endpoints",), ["ssm", "dynamo"], r"unknown service\(s\) dynamo"),
        (("tags",), {"Team": "DevOps"}, r"tags: must include non-empty Environment"),
        (
            ("database", "max_allocated_storage_gib"),
            21,
            r"database\.max_allocated_storage_gib: 21 with database\.allocated_storage_gib 20: "
            r"RDS needs the autoscaling limit at least 10% above the allocated storage, here 22",
        ),
        (
            ("primary", "certificate_arn"),
            "arn:aws:acm:us-west-2:123456789012:certificate/0f5e1c7e-1111-2222-3333-444455556666",
            r"primary\.certificate_arn: a certificate of us-west-2 in account 123456789012; the "
            r"load balancer in us-east-1 can only serve a certificate of us-east-1",
        ),
        (
            ("secondary", "certificate_arn"),
            "arn:aws:acm:us-west-2:210987654321:certificate/0f5e1c7e-1111-2222-3333-444455556666",
            r"secondary\.certificate_arn: .* in account 210987654321; .* configured account "
            r"123456789012",
        ),
        (
            ("primary", "availability_zones"),
            ["us-east-1a"],
            r"primary\.availability_zones: must be two Availability Zone names",
        ),
        (
            ("primary", "availability_zones"),
            ["us-east-1a", "us-east-1a"],
            r"must name two different Availability Zones",
        ),
        (
            ("secondary", "availability_zones"),
            ["us-west-2a", "us-east-1b"],
            r"secondary\.availability_zones: us-east-1b not in secondary\.region us-west-2",
        ),
    ],
)
def test_bad_value_is_rejected_with_field_value_and_rule(
    path: tuple[str, ...], value: Any, expected: str
) -> None:
    data = default_config_data()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    message = rejected(data)
    assert message.startswith("invalid configuration in test.yaml:")
    assert re.search(expected, message), message


def test_every_bad_field_gets_its_own_line() -> None:
    data = default_config_data()
    data["account"] = "1"
    data["primary"]["region"] = "nowhere"
    data["web"]["ssh_allowed_cidr"] = "0.0.0.0/0"
    data["unknown_field"] = True
    lines = rejected(data).splitlines()[1:]
    assert len(lines) == 4
    assert any(line.startswith("  - unknown_field: unknown field") for line in lines)


def test_missing_required_section_is_named() -> None:
    data = default_config_data()
    del data["dns"]
    assert "dns: required field is missing" in rejected(data)


def test_unreadable_and_invalid_yaml_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("primary: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="must hold a YAML mapping"):
        load_config(scalar)


def test_a_single_ipv6_address_is_accepted_for_ssh() -> None:
    data = default_config_data()
    data["web"]["ssh_allowed_cidr"] = "2001:db8::10/128"
    data["web"]["key_pair_name"] = "ops"
    assert parse_config(data).web.ssh_allowed_cidr == "2001:db8::10/128"


def test_graviton_instance_types_are_recognised_as_arm() -> None:
    data = default_config_data()
    data["web"].update(instance_type="m7g.large", cpu_credits=None)
    assert parse_config(data).web.is_arm
    data["web"]["instance_type"] = "m7i.large"
    assert not parse_config(data).web.is_arm


def test_the_default_web_instance_is_a_micro_graviton_type() -> None:
    """t4g.micro: 1 GiB and two vCPUs like t3.micro (t2.micro: one), cheaper than both."""
    web = parse_config(default_config_data()).web
    assert (web.instance_type, web.is_arm, web.is_burstable) == ("t4g.micro", True, True)


@pytest.mark.parametrize(
    ("instance_type", "cpu_credits", "mode"),
    [
        ("t2.micro", None, "standard"),
        ("t3.micro", None, "unlimited"),
        ("t4g.micro", None, "unlimited"),
        ("t4g.micro", "standard", "standard"),
        ("t2.micro", "unlimited", "unlimited"),
        ("m7g.large", None, None),
    ],
)
def test_the_credit_mode_is_the_configured_one_else_the_familys_aws_default(
    instance_type: str, cpu_credits: str | None, mode: str | None
) -> None:
    """https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html:
    T4g and T3 launch as unlimited by default, T2 as standard."""
    data = default_config_data()
    data["web"].update(instance_type=instance_type, cpu_credits=cpu_credits)
    assert parse_config(data).web.credit_mode == mode


def test_a_credit_mode_for_a_type_without_credits_is_refused() -> None:
    data = default_config_data()
    data["web"].update(instance_type="m7g.large", cpu_credits="standard")
    assert re.search(
        r"web\.cpu_credits: 'standard' with web\.instance_type 'm7g\.large': credit modes "
        r"exist only for burstable types \(t2, t3, t3a, t4g\)",
        rejected(data),
    )


def test_an_unknown_credit_mode_is_refused() -> None:
    data = default_config_data()
    data["web"]["cpu_credits"] = "turbo"
    assert "web.cpu_credits = 'turbo'" in rejected(data)


def test_synth_with_a_bad_file_exits_non_zero_without_a_traceback(tmp_path: Path) -> None:
    data = default_config_data()
    data["secondary"]["region"] = data["primary"]["region"]
    bad = tmp_path / "bad.yaml"
    import yaml

    bad.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={"TAPSTACK_CONFIG": str(bad), "PATH": "/usr/bin:/bin", "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "secondary.region: 'us-east-1' equals primary.region" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_command_reports_ok_and_errors(tmp_path: Path) -> None:
    from tapstack.cli import main

    assert main(["--config", str(DEFAULT_CONFIG), "check-config"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("project_name: X\n")
    assert main(["--config", str(bad), "check-config"]) == 2


def test_no_warnings_for_the_default_configuration() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TapStackConfigWarning)
        load_config(DEFAULT_CONFIG)


def test_commands_print_the_mysql_8_0_cost_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from tapstack.cli import main

    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    path = tmp_path / "eight-oh.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["--config", str(path), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "left RDS standard support on 2026-07-31" in out


def test_synth_prints_the_mysql_8_0_cost_warning_and_still_succeeds(tmp_path: Path) -> None:
    import yaml

    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    path = tmp_path / "eight-oh.yaml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={
            "TAPSTACK_CONFIG": str(path),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "CDK_OUTDIR": str(tmp_path / "out"),
            "CDK_VALIDATION": "false",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "WARNING: database.engine_version '8.0.46': MySQL 8.0 left RDS standard" in (
        result.stderr + result.stdout
    )
    assert (tmp_path / "out" / "tapstack-prod-primary.template.json").exists()


def test_every_minor_accepted_is_one_aws_cdk_lib_does_not_mark_as_retired() -> None:
    """The accepted versions follow the pinned aws-cdk-lib: it marks the minors RDS no
    longer supports as deprecated ("no longer supported by Amazon RDS")."""
    import inspect

    from aws_cdk import aws_rds as rds

    from tapstack.config import MYSQL_8_0_VERSIONS, MYSQL_8_4_VERSIONS, RETIRED_MYSQL_VERSIONS

    def retired(version: str) -> bool:
        source = inspect.getsource(rds.MysqlEngineVersion)
        name = "VER_" + version.replace(".", "_")
        block = source[source.index(f"def {name}(") :][:400]
        return "no longer supported by Amazon RDS" in block

    for version in MYSQL_8_4_VERSIONS + MYSQL_8_0_VERSIONS:
        assert not retired(version), version
    for version in RETIRED_MYSQL_VERSIONS:
        assert retired(version), version


def test_a_newer_replica_is_accepted_for_a_replica_first_upgrade() -> None:
    data = default_config_data()
    data["database"].update(engine_version="8.0.46", replica_engine_version="8.4.10")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TapStackConfigWarning)
        config = parse_config(data)
    assert config.database.replica_version == "8.4.10"
    assert parse_config(default_config_data()).database.replica_version == "8.4.10"


def test_the_loader_reserves_no_concurrency_by_default() -> None:
    assert parse_config(default_config_data()).loader.reserved_concurrency is None


# --- data settings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "field", "value", "expected"),
    [
        ("database", "backup_retention_days", 0, r"database\.backup_retention_days = 0"),
        ("database", "backup_retention_days", 36, r"database\.backup_retention_days = 36"),
        (
            "database",
            "engine_version",
            "8.4.99",
            r"database\.engine_version = '8\.4\.99': must be a pinned MySQL",
        ),
        ("database", "engine_version", "5.7.44", r"database\.engine_version = '5\.7\.44'"),
        ("database", "engine_version", "8.4", r"database\.engine_version = '8\.4'"),
        ("database", "instance_class", "t4g.medium", r"database\.instance_class = 't4g\.medium'"),
        ("database", "allocated_storage_gib", 10, r"database\.allocated_storage_gib = 10"),
        ("backup", "retention_days", 0, r"backup\.retention_days = 0"),
        ("backup", "schedule", "daily", r"backup\.schedule = 'daily': must be an AWS cron"),
        (
            "storage",
            "noncurrent_version_expiration_days",
            0,
            r"storage\.noncurrent_version_expiration_days = 0",
        ),
    ],
)
def test_bad_data_settings_are_rejected(
    section: str, field: str, value: Any, expected: str
) -> None:
    data = default_config_data()
    data.setdefault(section, {})[field] = value
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert re.search(expected, str(info.value)), str(info.value)


def test_mysql_8_0_is_accepted_with_a_cost_warning() -> None:
    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    with pytest.warns(
        TapStackConfigWarning,
        match=r"MySQL 8\.0 left RDS standard support on 2026-07-31.*Extended Support",
    ):
        config = parse_config(data)
    assert config.database.engine_version == "8.0.46"


def test_mysql_8_0_without_extended_support_is_rejected_because_rds_would_refuse_it() -> None:
    data = default_config_data()
    data["database"]["engine_version"] = "8.0.46"
    data["database"]["engine_lifecycle_support"] = "open-source-rds-extended-support-disabled"
    with pytest.raises(ConfigError, match=r"RDS refuses to create it without Extended Support"):
        parse_config(data)
    data["database"]["engine_version"] = "8.4.10"
    assert parse_config(data).database.engine_lifecycle_support.endswith("-disabled")


def test_regions_without_us_east_1_warn_that_health_check_alarms_cannot_exist() -> None:
    data = default_config_data()
    data["primary"]["region"] = "eu-west-1"
    data["secondary"]["region"] = "eu-central-1"
    with pytest.warns(TapStackConfigWarning, match="no health-check alarms are created"):
        parse_config(data)


def test_mysql_8_4_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TapStackConfigWarning)
        parse_config(default_config_data())


# --- the writer region and the database generations (issue 11) ------------------------------


def _roles(data: dict[str, Any], writer: str | None, primary: int, secondary: int) -> None:
    if writer is not None:
        data["writer_region"] = writer
    data["primary"]["database_generation"] = primary
    data["secondary"]["database_generation"] = secondary


def test_the_writer_defaults_to_the_primary_region_and_generations_to_zero() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.writer_region is None
    assert config.writer == config.primary.region == "us-east-1"
    assert (config.primary.database_generation, config.secondary.database_generation) == (0, 0)


@pytest.mark.parametrize(
    ("writer", "primary", "secondary"),
    [
        ("us-east-1", 0, 0),  # the first deploy, writer named explicitly
        ("us-west-2", 1, 0),  # failover: the secondary promoted, the primary rebuilt
        ("us-east-1", 1, 1),  # switched back: the primary's g1 promoted, the secondary rebuilt
        ("us-west-2", 2, 1),  # and over again
        ("us-east-1", 0, 1),  # the replica rebuilt for its own sake: still newer than its source
        ("us-west-2", 3, 1),
    ],
)
def test_every_writer_move_that_bumps_the_new_standby_is_accepted(
    config_data: dict[str, Any], writer: str, primary: int, secondary: int
) -> None:
    _roles(config_data, writer, primary, secondary)
    config = parse_config(config_data, "test.yaml")
    assert config.writer == writer
    assert config.database_lineage_problems() == []


def test_a_writer_region_that_is_not_configured_is_refused(config_data: dict[str, Any]) -> None:
    config_data["writer_region"] = "eu-west-1"
    message = rejected(config_data)
    assert re.search(
        r"writer_region: 'eu-west-1' is neither configured region: allowed are us-east-1 "
        r"\(primary\.region\) and us-west-2 \(secondary\.region\)",
        message,
    ), message


def test_a_negative_database_generation_is_refused(config_data: dict[str, Any]) -> None:
    config_data["secondary"]["database_generation"] = -1
    assert re.search(
        r"secondary\.database_generation = -1: .*greater than or equal to 0", rejected(config_data)
    )


def test_moving_the_writer_without_bumping_the_old_writers_generation_is_refused(
    config_data: dict[str, Any],
) -> None:
    """The primary's generation-0 instance is standalone: as a replica under the same name
    CloudFormation would have to replace it, which it cannot do for a custom name."""
    _roles(config_data, "us-west-2", 0, 0)
    with pytest.raises(
        ConfigError,
        match=r"primary\.database_generation: 0 makes the primary region's database "
        r"\(us-east-1\) a read replica of the writer in us-west-2 .* CloudFormation cannot "
        r"replace a custom-named instance under the same name\. Set "
        r"primary\.database_generation to 1 \(or more\)",
    ):
        parse_config(config_data, "test.yaml")


def test_moving_the_writer_back_without_bumping_the_promoted_replica_is_refused(
    config_data: dict[str, Any],
) -> None:
    """After a failover the secondary's generation 0 is a promoted, standalone instance:
    making it a replica again needs a new one."""
    _roles(config_data, "us-east-1", 1, 0)
    with pytest.raises(ConfigError, match=r"Set secondary\.database_generation to 1 \(or more\)"):
        parse_config(config_data, "test.yaml")


def test_the_lineage_is_checked_on_configurations_built_without_validation() -> None:
    """``model_copy`` skips validation; the check stays callable for synthesis to repeat."""
    config = load_config(DEFAULT_CONFIG).model_copy(update={"writer_region": "us-west-2"})
    (problem,) = config.database_lineage_problems()
    assert problem.startswith("primary.database_generation: 0 makes the primary region's")


def test_the_lineage_is_checked_when_the_writer_is_the_default_one(
    config_data: dict[str, Any],
) -> None:
    """No writer_region means the primary region; the secondary's promoted generation 0
    still cannot become its replica."""
    _roles(config_data, None, 1, 0)
    assert "Set secondary.database_generation to 1 (or more)" in rejected(config_data)


# --- every problem in one pass (issue 15) -----------------------------------------------

BAD_EXAMPLE = ROOT / "tests" / "unit" / "data" / "bad.yaml"
#: The README block check-config's output is compared with: the fenced block after this.
README_EXAMPLE_MARKER = "<!-- check-config example"


def test_field_and_cross_field_problems_are_reported_together() -> None:
    """Checks across fields run even when other fields are invalid: one run names every
    problem, field problems first."""
    with pytest.raises(ConfigError) as info:
        load_config(BAD_EXAMPLE)
    assert [p.split(":")[0].split(" = ")[0] for p in info.value.problems] == [
        "web.ssh_allowed_cidr",
        "web.min_capacity, web.desired_capacity, web.max_capacity",
        "secondary.region",
        "secondary.vpc_cidr",
    ]


def test_a_problem_with_a_semicolon_stays_one_line() -> None:
    data = default_config_data()
    data["secondary"]["region"] = "us-east-1"
    data["account"] = "1"
    lines = rejected(data).splitlines()[1:]
    assert lines == [
        "  - account = '1': must be a 12-digit AWS account ID (quote it in YAML)",
        "  - secondary.region: 'us-east-1' equals primary.region; the two regions must differ",
    ]


def test_a_check_across_a_bad_field_is_not_reported_about_its_stand_in() -> None:
    """A bad or missing field is set aside for the other checks; nothing is said about
    what stood in for it."""
    data = default_config_data()
    data["primary"]["vpc_cidr"] = "banana"
    data["secondary"]["vpc_cidr"] = "10.0.0.0/16"  # would overlap the stand-in
    del data["dns"]
    data["writer_region"] = "eu-west-1"
    lines = rejected(data).splitlines()[1:]
    assert len(lines) == 3, lines
    assert lines[0].startswith("  - primary.vpc_cidr = 'banana'")
    assert lines[1] == "  - dns: required field is missing"
    assert lines[2].startswith("  - writer_region: 'eu-west-1' is neither configured region")


def test_a_section_that_is_not_a_mapping_does_not_hide_the_other_checks() -> None:
    data = default_config_data()
    data["web"] = "small"
    del data["primary"]
    data["database"]["engine_version"] = "8.0.46"
    data["database"]["engine_lifecycle_support"] = "open-source-rds-extended-support-disabled"
    data["database"]["replica_engine_version"] = "8.4.9"
    message = rejected(data)
    assert "web = 'small': Input should be a valid dictionary" in message
    assert "primary: required field is missing" in message
    assert "RDS refuses to create it without Extended Support" in message
    assert "secondary.region" not in message  # the primary's stand-in is never compared
    assert len(message.splitlines()) == 4


def test_every_problem_of_a_section_is_found_when_one_field_of_it_is_bad() -> None:
    data = default_config_data()
    data["web"].update(instance_type="huge", min_capacity=4, max_capacity=3)
    data["database"].update(allocated_storage_gib=5, engine_version="8.4.5")
    data["database"]["replica_engine_version"] = "8.4.4"  # retired, and older
    lines = rejected(data).splitlines()[1:]
    assert [line.split(" = ")[0].split(":")[0] for line in lines] == [
        "  - web.instance_type",
        "  - database.replica_engine_version",
        "  - database.allocated_storage_gib",
        "  - web.min_capacity, web.desired_capacity, web.max_capacity",
    ]


def test_values_are_printed_as_written_not_read_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tapstack.cli import main

    path = tmp_path / "markup.yaml"
    data = default_config_data()
    data["project_name"] = "[red]x[/red]"
    import yaml

    path.write_text(yaml.safe_dump(data))
    assert main(["--config", str(path), "check-config"]) == 2
    assert "project_name = '[red]x[/red]': must be 3-16 characters" in capsys.readouterr().out


def _readme_example() -> tuple[list[str], list[str]]:
    """The command and the output the README shows for the bad example."""
    readme = (ROOT / "README.md").read_text()
    assert README_EXAMPLE_MARKER in readme, "README.md lost the check-config example marker"
    after = readme[readme.index(README_EXAMPLE_MARKER) :]
    block = after[after.index("```console\n") + len("```console\n") :]
    lines = block[: block.index("```")].splitlines()
    command, output = lines[0], lines[1:]
    assert command.startswith("$ python -m tapstack "), command
    return command.removeprefix("$ python -m tapstack ").split(), output


def test_the_readme_example_is_what_check_config_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tapstack.cli import main

    argv, expected = _readme_example()
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    assert capsys.readouterr().out.splitlines() == expected


def test_zones_pinned_in_the_region_are_accepted() -> None:
    data = default_config_data()
    data["primary"]["availability_zones"] = ["us-east-1d", "us-east-1f"]
    config = parse_config(data)
    assert config.primary.availability_zones == ("us-east-1d", "us-east-1f")
    assert config.secondary.availability_zones is None


def test_the_storage_limit_may_be_exactly_ten_percent_above_the_allocation() -> None:
    data = default_config_data()
    data["database"].update(allocated_storage_gib=20, max_allocated_storage_gib=22)
    assert parse_config(data).database.max_allocated_storage_gib == 22


def _certificate(region: str) -> str:
    return f"arn:aws:acm:{region}:123456789012:certificate/0f5e1c7e-1111-2222-3333-444455556666"


def test_https_is_on_by_default_and_the_app_manages_both_certificates() -> None:
    config = parse_config(default_config_data())
    assert config.web.https is True
    assert config.manages_certificate(config.primary)
    assert config.manages_certificate(config.secondary)


def test_a_brought_certificate_replaces_the_managed_one_in_its_region_only() -> None:
    data = default_config_data()
    data["primary"]["certificate_arn"] = _certificate("us-east-1")
    config = parse_config(data)
    assert not config.manages_certificate(config.primary)
    assert config.manages_certificate(config.secondary)


def test_https_off_is_accepted_with_a_warning_and_manages_no_certificate() -> None:
    data = default_config_data()
    data["web"]["https"] = False
    with pytest.warns(TapStackConfigWarning, match=r"web\.https is false: .* plain HTTP"):
        config = parse_config(data)
    assert not config.manages_certificate(config.primary)
    assert not config.manages_certificate(config.secondary)


def test_a_certificate_with_https_off_is_refused() -> None:
    data = default_config_data()
    data["web"]["https"] = False
    data["secondary"]["certificate_arn"] = _certificate("us-west-2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TapStackConfigWarning)
        message = rejected(data)
    assert re.search(
        r"secondary\.certificate_arn is set but web\.https is false: .* set web\.https: true",
        message,
    ), message


def test_an_app_name_too_long_for_a_managed_certificate_is_refused() -> None:
    """ACM: a certificate's first name "cannot exceed 64 octets"
    (https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html)."""
    data = default_config_data()
    data["dns"]["record_name"] = "r" * 50  # r...r.tapstack.example.com: 71 characters
    data["primary"]["certificate_arn"] = _certificate("us-east-1")
    message = rejected(data)
    assert re.search(
        r"dns\.record_name, dns\.domain_name: the app's name r+\.\.\. has 71 characters, and "
        r"ACM allows at most 64 .* the certificate of secondary cannot be requested; .*"
        r"bring certificates \(certificate_arn\)",
        message,
    ), message


def test_an_app_name_too_long_for_acm_is_fine_with_certificates_brought_for_both_regions() -> None:
    data = default_config_data()
    data["dns"]["record_name"] = "r" * 50
    data["primary"]["certificate_arn"] = _certificate("us-east-1")
    data["secondary"]["certificate_arn"] = _certificate("us-west-2")
    assert parse_config(data).dns.fqdn.startswith("r" * 50)

"""`tapstack preflight` catches every seeded problem in the emulator with a message that
names the resource and the fix, and passes on a clean, bootstrapped emulator account.

One emulator serves the module (reset before each test). It runs as account
``CLEAN_ACCOUNT``; the assembly is the session's synthesized app with the default
configuration's placeholder account and reserved domain replaced by ``CLEAN_ACCOUNT`` and
``CLEAN_DOMAIN``, which is what synthesizing the clean configuration produces: every account
and domain in the assembly is derived from those two fields (``fixture assembly`` checks
the names it relies on).

Where moto cannot answer (GetAccountSettings, orderable MySQL options), the emulator test
proves the check says "could not check" instead of passing, and a stubbed client
(``botocore.stub.Stubber``) drives the check's logic.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from tapstack import cli
from tapstack.assembly import read_cloud_assembly
from tapstack.config import TapStackConfig, parse_config
from tapstack.naming import Names
from tapstack.physical_names import physical_names
from tapstack.preflight import (
    CHECKS,
    Check,
    ClientFactory,
    Preflight,
    PreflightResult,
    Problem,
    Severity,
    check_lambda_concurrency,
    check_rds_orderable,
    check_regions,
    is_reserved_domain,
    run_preflight,
)
from tapstack_lab.emulator import Emulator
from tests.support import ROOT, Synthesized, default_config_data

PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_DOMAIN = "tapstack.example.com"
CLEAN_ACCOUNT = "210987654321"
CLEAN_DOMAIN = "tapstack.acmecorp.net"
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def clean_data() -> dict[str, Any]:
    data = default_config_data()
    data["account"] = CLEAN_ACCOUNT
    data["dns"]["domain_name"] = CLEAN_DOMAIN
    data["monitoring"]["alarm_email"] = f"ops@{CLEAN_DOMAIN}"
    data.setdefault("loader", {})["reserved_concurrency"] = 5
    return data


@pytest.fixture(scope="module")
def clean_config() -> TapStackConfig:
    return parse_config(clean_data(), "clean.yaml")


@pytest.fixture(scope="module")
def assembly(synth: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("preflight") / "cdk.out"
    shutil.copytree(synth.outdir, out, ignore=shutil.ignore_patterns("asset.*"))
    for path in out.glob("*.json"):
        text = path.read_text()
        text = text.replace(PLACEHOLDER_ACCOUNT, CLEAN_ACCOUNT)
        path.write_text(text.replace(PLACEHOLDER_DOMAIN, CLEAN_DOMAIN))
    # The names the checks look up are the clean configuration's.
    config = parse_config(clean_data())
    stacks = {s.name: s for s in read_cloud_assembly(out)}
    assert {s.account for s in stacks.values()} == {CLEAN_ACCOUNT}
    primary = stacks["tapstack-prod-primary"]
    names = {n.name for n in physical_names(primary.template, region=PRIMARY)}
    assert Names(config, PRIMARY).data_bucket in names
    return out


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(account=CLEAN_ACCOUNT) as running:
        yield running


@pytest.fixture(scope="module")
def emulator_clients(emulator: Emulator) -> ClientFactory:
    return emulator.clients()


@pytest.fixture
def aws(emulator: Emulator, emulator_clients: ClientFactory) -> ClientFactory:
    """The emulator's clients, after a reset: every test starts from a clean account."""
    emulator.reset()
    return emulator_clients


def bootstrap(aws: ClientFactory, version: str = "30", regions=(PRIMARY, SECONDARY)) -> None:
    for region in regions:
        aws("ssm", region).put_parameter(
            Name=BOOTSTRAP_PARAMETER, Value=version, Type="String", Overwrite=True
        )


def preflight(
    config: TapStackConfig, assembly: Path, client: ClientFactory, *checks: str
) -> PreflightResult:
    """Run the named checks (all when none are named)."""
    selected = [c for c in CHECKS if c.name in checks] if checks else list(CHECKS)
    assert len(selected) == (len(checks) or len(CHECKS)), f"unknown check in {checks}"
    return run_preflight(_preflight_of(config, assembly, client), selected)


def _preflight_of(config: TapStackConfig, assembly: Path, client: ClientFactory) -> Preflight:
    return Preflight.from_cdk_out(
        config, assembly, client, config_source="clean.yaml", cdk_json=ROOT / "cdk.json"
    )


def messages(found: list[Problem]) -> str:
    return "\n".join(p.line for p in found)


def with_dns(config: TapStackConfig, **changes: Any) -> TapStackConfig:
    """``config`` with DNS fields set as they are (moto's zone IDs do not start with Z, so
    they would not pass validation)."""
    return config.model_copy(update={"dns": config.dns.model_copy(update=changes)})


# ---------------------------------------------------------------------------
# a clean account
# ---------------------------------------------------------------------------


def test_a_clean_bootstrapped_account_passes_with_zero_problems(
    aws, clean_config, assembly
) -> None:
    bootstrap(aws)
    result = preflight(clean_config, assembly, aws)
    assert result.problems == [], messages(result.problems)
    assert result.checks_run == len(CHECKS) == 13
    assert result.lines()[-1].startswith("preflight: ok (13 checks")
    # What moto cannot answer is a warning saying so, never a silent pass.
    assert {w.check for w in result.warnings} == {"rds", "lambda-concurrency"}
    assert all("could not check" in w.message for w in result.warnings)


def _run_cli(
    monkeypatch, capsys, tmp_path: Path, env: dict[str, str], cdk_out: Path
) -> tuple[int, str]:
    config_file = tmp_path / "clean.yaml"
    config_file.write_text(yaml.safe_dump(clean_data()))
    for variable in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    # Nothing of this machine's AWS configuration may take part.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    code = cli.main(["--config", str(config_file), "preflight", "--cdk-out", str(cdk_out)])
    out = capsys.readouterr().out
    return code, out


def test_the_command_exits_0_on_a_clean_account_and_1_with_a_problem(
    aws, emulator, assembly, monkeypatch, capsys, tmp_path
) -> None:
    bootstrap(aws)
    code, out = _run_cli(monkeypatch, capsys, tmp_path, emulator.environment(PRIMARY), assembly)
    assert code == 0, out
    assert out.strip().splitlines()[-1].startswith("preflight: ok (13 checks")
    assert "✗" not in out

    aws("s3", PRIMARY).create_bucket(Bucket=f"tapstack-prod-data-{CLEAN_ACCOUNT}-{PRIMARY}")
    code, out = _run_cli(monkeypatch, capsys, tmp_path, emulator.environment(PRIMARY), assembly)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == "preflight: 1 problem(s)"
    assert lines[0].startswith(
        f"✗ physical-names: S3 bucket tapstack-prod-data-{CLEAN_ACCOUNT}-{PRIMARY} "
        "(primary stack, StorageDataBucket"
    )
    assert " — fix: delete or rename it" in lines[0]


def test_missing_credentials_are_one_line_not_a_traceback(
    emulator, assembly, monkeypatch, capsys, tmp_path
) -> None:
    code, out = _run_cli(
        monkeypatch, capsys, tmp_path, {"AWS_ENDPOINT_URL": emulator.endpoint}, assembly
    )
    assert code == 1
    assert "Traceback" not in out
    assert "✗ credentials: no usable AWS credentials (Unable to locate credentials)" in out
    assert "aws configure" in out
    assert out.strip().splitlines()[-1] == "preflight: 1 problem(s)"


def test_an_unreachable_endpoint_is_one_line_not_a_traceback(
    assembly, monkeypatch, capsys, tmp_path
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # dummy credentials for a closed port
    }
    code, out = _run_cli(monkeypatch, capsys, tmp_path, env, assembly)
    assert code == 1
    assert "Traceback" not in out
    assert (
        f'✗ credentials: cannot reach the AWS endpoint (Could not connect to the endpoint URL: "http://127.0.0.1:{port}/")'
        in out
    )
    assert "AWS_ENDPOINT_URL" in out


def test_a_missing_assembly_is_an_error_naming_make_synth(monkeypatch, capsys, tmp_path) -> None:
    code, out = _run_cli(monkeypatch, capsys, tmp_path, {}, tmp_path / "nowhere")
    assert code == 1
    assert "manifest.json not found: run `make synth` first" in out


# ---------------------------------------------------------------------------
# one test per check: seed the problem, expect the message and the fix
# ---------------------------------------------------------------------------


def test_an_assembly_of_another_configuration_is_reported(aws, assembly) -> None:
    other = parse_config({**clean_data(), "account": "111122223333"})
    result = preflight(other, assembly, aws, "assembly")
    assert [p.check for p in result.problems] == ["assembly"]
    assert f"tapstack-prod-primary targets account {CLEAN_ACCOUNT}, not 111122223333" in (
        result.problems[0].message
    )
    assert "make synth" in result.problems[0].fix


def test_credentials_of_another_account_are_reported(aws, assembly) -> None:
    other = parse_config({**clean_data(), "account": "111122223333"})
    result = preflight(other, assembly, aws, "credentials")
    [problem] = result.problems
    assert problem.message.startswith(
        f"the credentials belong to account {CLEAN_ACCOUNT} (arn:aws:"
    )
    assert "deploys to account 111122223333" in problem.message
    assert f'set `account: "{CLEAN_ACCOUNT}"` in clean.yaml' in problem.fix


def test_placeholders_in_the_default_configuration_are_reported(aws, assembly) -> None:
    default = parse_config(default_config_data())
    result = preflight(default, assembly, aws, "placeholders")
    text = messages(result.problems)
    assert len(result.problems) == 2, text
    assert "account is the placeholder 123456789012" in text
    assert 'set `account: "<your 12-digit account ID>"`' in text
    assert "dns.domain_name tapstack.example.com is reserved (RFC 2606)" in text
    assert "set `dns.domain_name:`" in text
    assert [w.message for w in result.warnings] == [
        "monitoring.alarm_email ops@example.com is at a reserved domain: nobody will "
        "receive the alarms"
    ]


@pytest.mark.parametrize(
    ("domain", "reserved"),
    [
        ("example.com", True),
        ("tapstack.example.com", True),
        ("a.b.example.org", True),
        ("example.net.", True),
        ("shop.test", True),
        ("app.example", True),
        ("x.invalid", True),
        ("localhost", True),
        ("tapstack.acmecorp.net", False),
        ("myexample.com", False),
        ("example.com.au", False),
        ("testing.io", False),
    ],
)
def test_reserved_domains(domain: str, reserved: bool) -> None:
    assert is_reserved_domain(domain) is reserved


def test_a_region_that_is_not_enabled_is_reported(aws, clean_config, assembly) -> None:
    ec2 = boto3.client("ec2", region_name=PRIMARY, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ec2)
    stub.add_response(
        "describe_regions",
        {
            "Regions": [
                {"RegionName": PRIMARY, "OptInStatus": "opt-in-not-required"},
                {"RegionName": SECONDARY, "OptInStatus": "not-opted-in"},
            ]
        },
        {"AllRegions": True},
    )
    pf = _preflight_of(clean_config, assembly, lambda s, r: ec2 if s == "ec2" else aws(s, r))
    with stub:
        [problem] = check_regions(pf)
    assert problem.message == "region us-west-2 is not-opted-in: nothing can be deployed there"
    assert "aws account enable-region --region-name us-west-2" in problem.fix


def test_the_emulator_enables_both_regions(aws, clean_config, assembly) -> None:
    assert preflight(clean_config, assembly, aws, "regions").problems == []


def test_missing_bootstrap_names_the_bootstrap_command_per_region(
    aws, clean_config, assembly
) -> None:
    result = preflight(clean_config, assembly, aws, "bootstrap")
    assert [(p.message, p.fix) for p in result.problems] == [
        (
            f"{region} is not bootstrapped for the CDK (SSM parameter {BOOTSTRAP_PARAMETER} "
            "not found)",
            f"npx cdk bootstrap aws://{CLEAN_ACCOUNT}/{region}",
        )
        for region in (PRIMARY, SECONDARY)
    ]


def test_an_outdated_bootstrap_is_reported_with_the_required_version(
    aws, clean_config, assembly
) -> None:
    bootstrap(aws, "30", [PRIMARY])
    bootstrap(aws, "5", [SECONDARY])
    required = json.loads((assembly / "manifest.json").read_text())["artifacts"][
        "tapstack-prod-secondary"
    ]["properties"]["requiresBootstrapStackVersion"]
    assert required > 5
    [problem] = preflight(clean_config, assembly, aws, "bootstrap").problems
    assert problem.message == (
        f"the CDK bootstrap stack in us-west-2 is version 5; this app needs version {required} "
        "or later"
    )
    assert problem.fix.startswith(f"npx cdk bootstrap aws://{CLEAN_ACCOUNT}/us-west-2")


def test_another_public_zone_with_the_domain_is_reported(aws, clean_config, assembly) -> None:
    zone = aws("route53", PRIMARY).create_hosted_zone(Name=CLEAN_DOMAIN, CallerReference="old")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    [problem] = preflight(clean_config, assembly, aws, "dns-zone").problems
    assert problem.message.startswith(
        f"1 public hosted zone(s) named {CLEAN_DOMAIN} already exist outside stack "
        f"tapstack-prod-dns ({zone_id})"
    )
    assert problem.fix.startswith(f"set `dns.hosted_zone_id: {zone_id}` in clean.yaml")
    assert "removal_mode: retain" in problem.fix


def test_the_zone_of_the_deployed_dns_stack_is_not_a_problem(aws, clean_config, assembly) -> None:
    template = {
        "Resources": {
            "HostedZoneDB99F866": {
                "Type": "AWS::Route53::HostedZone",
                "Properties": {"Name": f"{CLEAN_DOMAIN}."},
            }
        }
    }
    aws("cloudformation", PRIMARY).create_stack(
        StackName="tapstack-prod-dns", TemplateBody=json.dumps(template)
    )
    assert preflight(clean_config, assembly, aws, "dns-zone").problems == []

    other = aws("route53", PRIMARY).create_hosted_zone(Name=CLEAN_DOMAIN, CallerReference="x")
    other_id = other["HostedZone"]["Id"].rsplit("/", 1)[-1]
    [problem] = preflight(clean_config, assembly, aws, "dns-zone").problems
    assert f"outside stack tapstack-prod-dns ({other_id})" in problem.message


def test_a_private_zone_with_the_domain_is_a_warning(aws, clean_config, assembly) -> None:
    vpc = aws("ec2", PRIMARY).create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    aws("route53", PRIMARY).create_hosted_zone(
        Name=CLEAN_DOMAIN,
        CallerReference="private",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": PRIMARY, "VPCId": vpc},
    )
    result = preflight(clean_config, assembly, aws, "dns-zone")
    assert result.problems == []
    [note] = result.warnings
    assert f"private hosted zone(s) named {CLEAN_DOMAIN} exist" in note.message
    assert f"app.{CLEAN_DOMAIN}" in note.message


def test_a_configured_zone_must_exist_be_public_and_have_the_domain(
    aws, clean_config, assembly
) -> None:
    missing = with_dns(clean_config, hosted_zone_id="Z0000000000MISSING")
    [problem] = preflight(missing, assembly, aws, "dns-zone").problems
    assert problem.message == "dns.hosted_zone_id Z0000000000MISSING does not exist in this account"
    assert f"aws route53 list-hosted-zones-by-name --dns-name {CLEAN_DOMAIN}" in problem.fix

    route53 = aws("route53", PRIMARY)
    vpc = aws("ec2", PRIMARY).create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    private = route53.create_hosted_zone(
        Name=CLEAN_DOMAIN,
        CallerReference="p",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": PRIMARY, "VPCId": vpc},
    )["HostedZone"]["Id"].rsplit("/", 1)[-1]
    [problem] = preflight(
        with_dns(clean_config, hosted_zone_id=private), assembly, aws, "dns-zone"
    ).problems
    assert problem.message.startswith(f"dns.hosted_zone_id {private} is a private zone")

    elsewhere = route53.create_hosted_zone(Name="other.acmecorp.net", CallerReference="o")
    other_id = elsewhere["HostedZone"]["Id"].rsplit("/", 1)[-1]
    [problem] = preflight(
        with_dns(clean_config, hosted_zone_id=other_id), assembly, aws, "dns-zone"
    ).problems
    assert problem.message == (
        f"dns.hosted_zone_id {other_id} is the zone other.acmecorp.net, not "
        f"dns.domain_name {CLEAN_DOMAIN}"
    )

    right = route53.create_hosted_zone(Name=CLEAN_DOMAIN, CallerReference="r")
    right_id = right["HostedZone"]["Id"].rsplit("/", 1)[-1]
    result = preflight(with_dns(clean_config, hosted_zone_id=right_id), assembly, aws, "dns-zone")
    assert result.problems == [] and result.warnings == []


# --- RDS ---------------------------------------------------------------------


def test_rds_in_the_emulator_could_not_be_checked_which_is_not_a_pass(
    aws, clean_config, assembly
) -> None:
    result = preflight(clean_config, assembly, aws, "rds")
    assert result.problems == []
    assert [w.message for w in result.warnings] == [
        f"could not check db.t4g.medium with MySQL 8.4.10 in {region}: the endpoint lists "
        "no orderable MySQL options at all (moto does not model them)"
        for region in (PRIMARY, SECONDARY)
    ]


def _rds_stub(region: str) -> tuple[Any, Stubber]:
    client = boto3.client(
        "rds", region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def _option(cls: str, version: str = "8.4.10", multi_az: bool = True) -> dict[str, Any]:
    return {
        "Engine": "mysql",
        "EngineVersion": version,
        "DBInstanceClass": cls,
        "MultiAZCapable": multi_az,
    }


def _stubbed(stubs: dict[str, Any]) -> Callable[[str, str], Any]:
    def factory(service: str, region: str) -> Any:
        return stubs[region]

    return factory


def test_rds_an_instance_class_not_offered_lists_the_offered_ones(clean_config, assembly) -> None:
    primary, primary_stub = _rds_stub(PRIMARY)
    exact = {"Engine": "mysql", "MaxRecords": 1000, "EngineVersion": "8.4.10"}
    primary_stub.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": []},
        {**exact, "DBInstanceClass": "db.t4g.medium"},
    )
    primary_stub.add_response(
        "describe_orderable_db_instance_options",
        {
            "OrderableDBInstanceOptions": [
                _option("db.r7g.large"),
                _option("db.m7g.large"),
                _option("db.x2g.large"),
            ]
        },
        exact,
    )
    secondary, secondary_stub = _rds_stub(SECONDARY)
    secondary_stub.add_response(
        "describe_orderable_db_instance_options",
        {"OrderableDBInstanceOptions": [_option("db.t4g.medium")]},
        {**exact, "DBInstanceClass": "db.t4g.medium"},
    )
    pf = _preflight_of(clean_config, assembly, _stubbed({PRIMARY: primary, SECONDARY: secondary}))
    with primary_stub, secondary_stub:
        [problem] = check_rds_orderable(pf)
    primary_stub.assert_no_pending_responses()
    assert problem.message == "RDS does not offer db.t4g.medium for MySQL 8.4.10 in us-east-1"
    assert problem.fix == (
        "choose `database.instance_class:` from those offered there: db.m7g.large, "
        "db.r7g.large, db.x2g.large"
    )


def test_rds_a_version_not_offered_lists_the_offered_versions(clean_config, assembly) -> None:
    stubs = {}
    for region in (PRIMARY, SECONDARY):
        client, stub = _rds_stub(region)
        stub.add_response(
            "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []}
        )
        stub.add_response(
            "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []}
        )
        stub.add_response(
            "describe_orderable_db_instance_options",
            {
                "OrderableDBInstanceOptions": [
                    _option("db.t4g.medium", "8.4.9"),
                    _option("db.t4g.medium", "8.0.45"),
                ]
            },
            {"Engine": "mysql", "MaxRecords": 1000, "DBInstanceClass": "db.t4g.medium"},
        )
        stub.activate()
        stubs[region] = client
    found = check_rds_orderable(_preflight_of(clean_config, assembly, _stubbed(stubs)))
    assert [p.message for p in found] == [
        f"RDS does not offer MySQL 8.4.10 in {region} (on db.t4g.medium)"
        for region in (PRIMARY, SECONDARY)
    ]
    assert found[0].fix == (
        "choose `database.engine_version:` from those offered on db.t4g.medium there: 8.0.45, 8.4.9"
    )


def test_rds_without_multi_az_is_reported(clean_config, assembly) -> None:
    stubs = {}
    for region in (PRIMARY, SECONDARY):
        client, stub = _rds_stub(region)
        stub.add_response(
            "describe_orderable_db_instance_options",
            {"OrderableDBInstanceOptions": [_option("db.t4g.medium", multi_az=False)]},
        )
        stub.activate()
        stubs[region] = client
    found = check_rds_orderable(_preflight_of(clean_config, assembly, _stubbed(stubs)))
    # Only the primary is Multi-AZ by default (database.replica_multi_az is false).
    assert [p.message for p in found] == [
        "db.t4g.medium with MySQL 8.4.10 is offered in us-east-1, but not Multi-AZ"
    ]


def test_rds_offering_neither_the_version_nor_the_class_is_reported(clean_config, assembly) -> None:
    stubs = {}
    for region in (PRIMARY, SECONDARY):
        client, stub = _rds_stub(region)
        for _ in range(3):  # the pair, the version on any class, the class with any version
            stub.add_response(
                "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []}
            )
        stub.add_response(
            "describe_orderable_db_instance_options",
            {"OrderableDBInstanceOptions": [_option("db.m7g.large", "8.0.45")]},
            {"Engine": "mysql", "MaxRecords": 1000},
        )
        stub.activate()
        stubs[region] = client
    found = check_rds_orderable(_preflight_of(clean_config, assembly, _stubbed(stubs)))
    assert [p.message for p in found] == [
        f"RDS offers neither MySQL 8.4.10 nor db.t4g.medium in {region}"
        for region in (PRIMARY, SECONDARY)
    ]
    assert found[0].fix.endswith(
        "`aws rds describe-orderable-db-instance-options --engine mysql --region us-east-1`"
    )


# --- upgrade order -------------------------------------------------------------


def _running_replica(aws: ClientFactory, config: TapStackConfig, version: str) -> None:
    aws("rds", SECONDARY).create_db_instance(
        DBInstanceIdentifier=Names(config, SECONDARY).db_instance,
        DBInstanceClass="db.t4g.medium",
        Engine="mysql",
        EngineVersion=version,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
    )


def test_raising_the_writer_above_the_running_replica_is_refused(
    aws, clean_config, assembly
) -> None:
    _running_replica(aws, clean_config, "8.4.9")
    [problem] = preflight(clean_config, assembly, aws, "upgrade-order").problems
    assert problem.message == (
        "database.engine_version 8.4.10 would put the writer tapstack-prod-mysql-primary "
        "ahead of its replica tapstack-prod-mysql-replica, which runs MySQL 8.4.9: a newer "
        "source cannot replicate to an older replica"
    )
    assert problem.fix.startswith(
        'upgrade the replica first: keep `database.engine_version: "8.4.9"`'
    )
    assert '`database.replica_engine_version: "8.4.10"`, `make deploy`' in problem.fix


def test_a_replica_already_on_the_configured_version_passes(aws, clean_config, assembly) -> None:
    _running_replica(aws, clean_config, "8.4.10")
    assert preflight(clean_config, assembly, aws, "upgrade-order").problems == []


def test_no_replica_yet_is_a_first_deploy_and_passes(aws, clean_config, assembly) -> None:
    assert preflight(clean_config, assembly, aws, "upgrade-order").problems == []


# --- certificates the user brings ----------------------------------------------

#: moto issues a certificate at once when a private CA signs it (it checks no CA).
PRIVATE_CA = f"arn:aws:acm-pca:{PRIMARY}:{CLEAN_ACCOUNT}:certificate-authority/0f5e1c7e-1111"


def _with_certificate(config: TapStackConfig, arn: str) -> TapStackConfig:
    return config.model_copy(
        update={"primary": config.primary.model_copy(update={"certificate_arn": arn})}
    )


def _certificate(aws: ClientFactory, *names: str, issued: bool = True) -> str:
    extra = {"CertificateAuthorityArn": PRIVATE_CA} if issued else {"ValidationMethod": "DNS"}
    requested = aws("acm", PRIMARY).request_certificate(
        DomainName=names[0], SubjectAlternativeNames=list(names), **extra
    )
    return str(requested["CertificateArn"])


def test_an_issued_certificate_for_both_names_passes(aws, clean_config, assembly) -> None:
    arn = _certificate(aws, f"app.{CLEAN_DOMAIN}", f"{PRIMARY}.app.{CLEAN_DOMAIN}")
    result = preflight(_with_certificate(clean_config, arn), assembly, aws, "certificates")
    assert result.problems == [] and result.warnings == []


def test_a_wildcard_certificate_covers_the_app_name(aws, clean_config, assembly) -> None:
    arn = _certificate(aws, f"*.{CLEAN_DOMAIN}")
    result = preflight(_with_certificate(clean_config, arn), assembly, aws, "certificates")
    assert result.problems == []
    # *.<domain> does not cover <region>.app.<domain>: the health checks' SNI misses.
    [warned] = result.warnings
    assert f"does not name {PRIMARY}.app.{CLEAN_DOMAIN}" in warned.message


def test_a_certificate_still_pending_validation_is_refused(aws, clean_config, assembly) -> None:
    arn = _certificate(aws, f"app.{CLEAN_DOMAIN}", f"{PRIMARY}.app.{CLEAN_DOMAIN}", issued=False)
    [problem] = preflight(
        _with_certificate(clean_config, arn), assembly, aws, "certificates"
    ).problems
    assert problem.message == (
        "primary.certificate_arn: the certificate is PENDING_VALIDATION, and a load balancer "
        "serves only an issued certificate"
    )


def test_a_certificate_for_another_name_is_refused(aws, clean_config, assembly) -> None:
    arn = _certificate(aws, "shop.example.org")
    found = preflight(_with_certificate(clean_config, arn), assembly, aws, "certificates")
    [problem] = found.problems
    assert problem.message == (
        f"primary.certificate_arn: the certificate names shop.example.org, not "
        f"app.{CLEAN_DOMAIN}: browsers would refuse the connection"
    )


def test_a_certificate_that_does_not_exist_is_refused(aws, clean_config, assembly) -> None:
    arn = f"arn:aws:acm:{PRIMARY}:{CLEAN_ACCOUNT}:certificate/0f5e1c7e-1111-2222-3333-444455556666"
    [problem] = preflight(
        _with_certificate(clean_config, arn), assembly, aws, "certificates"
    ).problems
    assert problem.message == f"primary.certificate_arn: {arn} does not exist in {PRIMARY}"
    assert problem.fix.startswith(f"request or import it in ACM in {PRIMARY}")


# --- Availability Zones of existing subnets ----------------------------------


def _stack_with_subnets(aws, region: str, stack: str, zones: list[str]) -> None:
    """A stand-in for a deployed regional stack: a VPC and one subnet per zone."""
    resources: dict[str, Any] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.60.0.0/16"}}
    }
    for index, zone in enumerate(zones):
        resources[f"Subnet{index}"] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": f"10.60.{index}.0/24",
                "AvailabilityZone": zone,
            },
        }
    aws("cloudformation", region).create_stack(
        StackName=stack, TemplateBody=json.dumps({"Resources": resources})
    )


def test_an_existing_stack_whose_zones_are_not_pinned_is_refused(
    aws, clean_config, assembly
) -> None:
    _stack_with_subnets(aws, PRIMARY, "tapstack-prod-primary", ["us-east-1b", "us-east-1a"])
    [problem] = preflight(clean_config, assembly, aws, "zones").problems
    assert problem.message.startswith(
        "the primary region's subnets use us-east-1a, us-east-1b, and "
        "primary.availability_zones is not set"
    )
    assert (
        problem.fix
        == "set `primary.availability_zones: [us-east-1a, us-east-1b]` in the configuration"
    )


def test_pinned_zones_that_match_the_subnets_pass_and_a_first_deploy_passes(aws, assembly) -> None:
    data = clean_data()
    data["primary"]["availability_zones"] = ["us-east-1a", "us-east-1b"]
    config = parse_config(data, "clean.yaml")
    assert preflight(config, assembly, aws, "zones").problems == []  # no stacks yet
    _stack_with_subnets(aws, PRIMARY, "tapstack-prod-primary", ["us-east-1a", "us-east-1b"])
    assert preflight(config, assembly, aws, "zones").problems == []


# --- Lambda concurrency ------------------------------------------------------


def test_lambda_concurrency_in_the_emulator_could_not_be_checked(
    aws, clean_config, assembly
) -> None:
    result = preflight(clean_config, assembly, aws, "lambda-concurrency")
    assert result.problems == []
    [note] = result.warnings
    assert note.message.startswith("could not check (room for reserved concurrency): ")
    assert "GetAccountSettings answered HTTP 404" in note.message


def _lambda_stub(
    region: str, limit: int, unreserved: int, current: int | None
) -> tuple[Any, Stubber]:
    client = boto3.client(
        "lambda", region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_response(
        "get_account_settings",
        {
            "AccountLimit": {
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": unreserved,
            }
        },
    )
    function = {"FunctionName": f"tapstack-prod-loader-{region}"}
    if current is None:
        stub.add_client_error(
            "get_function_concurrency", "ResourceNotFoundException", expected_params=function
        )
    else:
        stub.add_response(
            "get_function_concurrency", {"ReservedConcurrentExecutions": current}, function
        )
    stub.activate()
    return client, stub


def test_lambda_concurrency_on_a_new_account_limited_to_10(clean_config, assembly) -> None:
    primary, _ = _lambda_stub(PRIMARY, limit=10, unreserved=10, current=None)
    secondary, _ = _lambda_stub(SECONDARY, limit=1000, unreserved=1000, current=None)
    pf = _preflight_of(clean_config, assembly, _stubbed({PRIMARY: primary, SECONDARY: secondary}))
    [problem] = check_lambda_concurrency(pf)
    assert problem.message == (
        "loader.reserved_concurrency 5 for tapstack-prod-loader-us-east-1 would leave 5 "
        "unreserved concurrent executions in us-east-1 (account limit 10, unreserved now 10); "
        "Lambda refuses to go below 10"
    )
    assert problem.fix.startswith("set `loader.reserved_concurrency: null` in clean.yaml")


def test_lambda_concurrency_counts_the_loaders_own_reservation(clean_config, assembly) -> None:
    """An update: the deployed loader already holds its 5, which UnreservedConcurrentExecutions
    excludes; and another account has room for at most 3 more."""
    primary, _ = _lambda_stub(PRIMARY, limit=1000, unreserved=100, current=5)
    secondary, _ = _lambda_stub(SECONDARY, limit=1000, unreserved=103, current=None)
    pf = _preflight_of(clean_config, assembly, _stubbed({PRIMARY: primary, SECONDARY: secondary}))
    [problem] = check_lambda_concurrency(pf)
    assert "would leave 98 unreserved concurrent executions in us-west-2" in problem.message
    assert "Lambda refuses to go below 100" in problem.message
    assert problem.fix.startswith("set `loader.reserved_concurrency: null` or at most 3 in")


def test_no_reserved_concurrency_needs_no_headroom(clean_config, assembly) -> None:
    config = clean_config.model_copy(
        update={"loader": clean_config.loader.model_copy(update={"reserved_concurrency": None})}
    )
    pf = _preflight_of(config, assembly, _stubbed({}))  # no call may be made
    assert check_lambda_concurrency(pf) == []


# --- physical names ----------------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _seed_function(aws: ClientFactory, region: str, name: str) -> None:
    role = aws("iam", region).create_role(
        RoleName=f"seed-{region}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    aws("lambda", region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )


def _seed_topic(aws: ClientFactory, region: str, name: str) -> None:
    aws("sns", region).create_topic(Name=name)


def _seed_secret(aws: ClientFactory, region: str, name: str) -> None:
    aws("secretsmanager", region).create_secret(Name=name, SecretString="x")


def _seed_alias(aws: ClientFactory, region: str, name: str) -> None:
    key = aws("kms", region).create_key()["KeyMetadata"]["KeyId"]
    aws("kms", region).create_alias(AliasName=name, TargetKeyId=key)


def _seed_db(aws: ClientFactory, region: str, name: str) -> None:
    aws("rds", region).create_db_instance(
        DBInstanceIdentifier=name,
        Engine="mysql",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",  # the emulator's throwaway instance
    )


SEEDS: dict[str, tuple[str, str, str, Callable[[ClientFactory, str, str], None]]] = {
    # id: (region, name, message start, seed)
    "bucket": (
        SECONDARY,
        f"tapstack-prod-data-{CLEAN_ACCOUNT}-us-west-2",
        f"S3 bucket tapstack-prod-data-{CLEAN_ACCOUNT}-us-west-2 (secondary-storage stack, "
        "StorageDataBucket",
        lambda aws, region, name: aws("s3", region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        ),
    ),
    "log group": (
        SECONDARY,
        "/aws/lambda/tapstack-prod-loader-us-west-2",
        "log group /aws/lambda/tapstack-prod-loader-us-west-2 (secondary stack, LoaderLogGroup",
        lambda aws, region, name: aws("logs", region).create_log_group(logGroupName=name),
    ),
    "backup vault": (
        PRIMARY,
        "tapstack-prod-vault-us-east-1",
        "backup vault tapstack-prod-vault-us-east-1 (primary stack, BackupVault",
        lambda aws, region, name: aws("backup", region).create_backup_vault(BackupVaultName=name),
    ),
    "kms alias": (
        SECONDARY,
        "alias/tapstack-prod-data",
        "KMS alias alias/tapstack-prod-data (secondary-storage stack, DataKeyAlias",
        _seed_alias,
    ),
    "ssm parameter": (
        SECONDARY,
        "/tapstack-prod/us-west-2/data-key-arn",
        "SSM parameter /tapstack-prod/us-west-2/data-key-arn (secondary-storage stack, ",
        lambda aws, region, name: aws("ssm", region).put_parameter(
            Name=name, Value="x", Type="String"
        ),
    ),
    "function": (
        PRIMARY,
        "tapstack-prod-loader-us-east-1",
        "Lambda function tapstack-prod-loader-us-east-1 (primary stack, LoaderFunction",
        _seed_function,
    ),
    "topic": (
        SECONDARY,
        "tapstack-prod-alarms-us-west-2",
        "SNS topic tapstack-prod-alarms-us-west-2 (secondary stack, AlarmTopic",
        _seed_topic,
    ),
    "queue": (
        PRIMARY,
        "tapstack-prod-loader-us-east-1-dlq",
        "SQS queue tapstack-prod-loader-us-east-1-dlq (primary stack, LoaderDeadLetterQueue",
        lambda aws, region, name: aws("sqs", region).create_queue(QueueName=name),
    ),
    "db instance": (
        PRIMARY,
        "tapstack-prod-mysql-primary",
        "DB instance tapstack-prod-mysql-primary (primary stack, DatabaseInstance",
        _seed_db,
    ),
}


@pytest.mark.parametrize("kind", list(SEEDS))
def test_a_name_taken_outside_the_stacks_is_reported(
    kind: str, aws, clean_config, assembly
) -> None:
    region, name, start, seed = SEEDS[kind]
    seed(aws, region, name)
    [problem] = preflight(clean_config, assembly, aws, "physical-names").problems
    assert problem.message.startswith(start), problem.message
    assert name in problem.message
    if kind == "bucket":
        assert problem.message.endswith(
            f"already exists in this account ({region}), outside stack "
            "tapstack-prod-secondary-storage"
        )
    else:
        assert f" in {region}, outside stack tapstack-prod-" in problem.message
    assert problem.fix.startswith("delete or rename it, or import it into tapstack-prod-")
    assert "`removal_mode: retain` stay behind after a destroy" in problem.fix


def test_a_secret_name_taken_where_the_secret_replicates_is_reported(
    aws, clean_config, assembly
) -> None:
    """A named secret with replicas takes its name in every replica region too."""
    secrets = [
        (stack, n)
        for stack in read_cloud_assembly(assembly)
        for n in physical_names(stack.template, account=CLEAN_ACCOUNT, region=stack.region)
        if n.resource_type == "AWS::SecretsManager::Secret"
    ]
    assert secrets, "the master secret is named in the primary template"
    stack, secret = secrets[0]
    properties = stack.template["Resources"][secret.logical_id]["Properties"]
    [region] = [r["Region"] for r in properties["ReplicaRegions"]]
    _seed_secret(aws, region, secret.name)
    [problem] = preflight(clean_config, assembly, aws, "physical-names").problems
    assert problem.message.startswith(f"secret {secret.name} (")
    assert problem.message.endswith(f"already exists in {region}, outside stack {stack.name}")


def test_a_name_the_stack_itself_holds_is_an_update_not_a_problem(
    aws, clean_config, assembly
) -> None:
    storage = next(
        s for s in read_cloud_assembly(assembly) if s.name.endswith("-secondary-storage")
    )
    [logical_id] = [
        k
        for k, r in storage.template["Resources"].items()
        if k.startswith("StorageDataBucket") and r["Type"] == "AWS::S3::Bucket"
    ]
    bucket = f"tapstack-prod-data-{CLEAN_ACCOUNT}-{SECONDARY}"
    template = {
        "Resources": {logical_id: {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}}}
    }
    aws("cloudformation", SECONDARY).create_stack(
        StackName=storage.name, TemplateBody=json.dumps(template)
    )
    assert preflight(clean_config, assembly, aws, "physical-names").problems == []


class _ForeignBuckets:
    """An S3 client on which the primary data bucket belongs to someone else (S3: 403)."""

    def __init__(self, taken: str) -> None:
        self.taken = taken

    def head_bucket(self, Bucket: str) -> dict[str, Any]:
        status = "403" if Bucket == self.taken else "404"
        raise ClientError({"Error": {"Code": status, "Message": ""}}, "HeadBucket")


def test_a_bucket_name_another_account_owns_is_reported(aws, clean_config, assembly) -> None:
    taken = f"tapstack-prod-data-{CLEAN_ACCOUNT}-{PRIMARY}"
    fake = _ForeignBuckets(taken)
    result = preflight(
        clean_config, assembly, lambda s, r: fake if s == "s3" else aws(s, r), "physical-names"
    )
    [problem] = result.problems
    assert problem.message.startswith(f"S3 bucket {taken} (primary stack, StorageDataBucket")
    assert problem.message.endswith("belongs to another AWS account: S3 bucket names are global")
    assert "change `project_name` or `environment`" in problem.fix


# --- quotas ------------------------------------------------------------------


def test_quotas_already_used_up_are_reported(aws, clean_config, assembly) -> None:
    secondary = next(
        s for s in read_cloud_assembly(assembly) if s.name == "tapstack-prod-secondary"
    )
    resources = secondary.template["Resources"]
    [nat] = [r for r in resources.values() if r["Type"] == "AWS::EC2::NatGateway"]
    # The template's zone is Fn::GetAZs, chosen at deploy time: the emulator's first zone.
    assert (
        "Fn::Select"
        in resources[nat["Properties"]["SubnetId"]["Ref"]]["Properties"]["AvailabilityZone"]
    )
    zone = "us-west-2a"

    ec2 = aws("ec2", SECONDARY)
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(4)]
    subnet = ec2.create_subnet(VpcId=vpcs[0], CidrBlock="10.50.0.0/24", AvailabilityZone=zone)
    for _ in range(5):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnet["Subnet"]["SubnetId"], AllocationId=allocation)

    result = preflight(clean_config, assembly, aws, "quotas")
    assert [p.message for p in result.problems] == [
        "us-west-2: 5 VPC(s) exist outside the app and it adds 1, 6 in all; the quota "
        "'VPCs per Region' is 5 (Service Quotas)",
        "us-west-2: 5 Elastic IP(s) exist outside the app and it adds 1, 6 in all; the quota "
        "'EC2-VPC Elastic IPs' is 5 (documented default; Service Quotas: GetServiceQuota: "
        "NoSuchResourceException: This service is not available in the current Region. "
        "Choose a different Region or a different service.)",
        "us-west-2: 5 NAT gateway(s) in one Availability Zone exist outside the app and it "
        "adds 1, 6 in "
        "all; the quota 'NAT gateways per Availability Zone' is 5 (Service Quotas)",
    ]
    assert "delete unused VPCs (a default VPC counts too)" in result.problems[0].fix
    assert "(vpc L-F678F1CE) in Service Quotas for us-west-2" in result.problems[0].fix
    assert "(ec2 L-0263D0A3)" in result.problems[1].fix
    assert result.problems[2].fix.startswith("delete unused NAT gateways, or set `nat_gateways: 1`")


def _failing_check(error: Exception) -> Check:
    def run(pf: Preflight) -> list[Problem]:
        raise error

    return Check("failing", run, "something read-only")


def _client_error(code: str, message: str = "no") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetThing")


@pytest.mark.parametrize(
    ("error", "message", "fix"),
    [
        (
            _client_error("ExpiredToken", "The token has expired"),
            "AWS rejected the credentials (GetThing: ExpiredToken: The token has expired)",
            "refresh or replace them (`aws sso login`, `aws configure`, AWS_PROFILE)",
        ),
        (NoRegionError(), "You must specify a region.", "set AWS_REGION"),
        (
            NoCredentialsError(),
            "no usable AWS credentials (Unable to locate credentials)",
            "configure credentials for the target account (`aws configure`, `aws sso login`, "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        ),
    ],
)
def test_errors_no_check_can_survive_stop_the_run_with_one_problem(
    clean_config, error: Exception, message: str, fix: str
) -> None:
    pf = Preflight(config=clean_config, stacks=[], manifest={}, client=lambda s, r: None)
    never = Check("never", lambda pf: pytest.fail("ran after an abort"), "not reached")
    result = run_preflight(pf, [_failing_check(error), never])
    assert result.aborted
    assert result.checks_run == 1
    assert result.problems == [Problem("credentials", message, fix)]


@pytest.mark.parametrize(
    ("error", "message", "fix"),
    [
        (
            _client_error("AccessDenied", "not allowed"),
            "could not check (something read-only): GetThing: AccessDenied: not allowed",
            "grant the read-only permission, or check by hand before deploying",
        ),
        (
            _client_error("Throttling", "slow down"),
            "could not check (something read-only): GetThing: Throttling: slow down",
            "",
        ),
        (
            ReadTimeoutError(endpoint_url="https://rds"),
            'could not check (something read-only): Read timeout on endpoint URL: "https://rds"',
            "",
        ),
    ],
)
def test_a_check_the_target_cannot_answer_is_a_warning_and_the_run_goes_on(
    clean_config, error: Exception, message: str, fix: str
) -> None:
    pf = Preflight(config=clean_config, stacks=[], manifest={}, client=lambda s, r: None)
    result = run_preflight(pf, [_failing_check(error), Check("fine", lambda pf: [], "ok")])
    assert not result.aborted
    assert result.checks_run == 2
    assert result.problems == []
    assert result.warnings == [Problem("failing", message, fix, Severity.WARNING)]


def test_problem_lines_have_the_documented_shape() -> None:
    problem = Problem("quotas", "too many", "delete some")
    assert problem.line == "✗ quotas: too many — fix: delete some"
    assert Problem("rds", "could not check", "", Severity.WARNING).line == "⚠ rds: could not check"
    result = PreflightResult([problem], [], 10)
    assert result.lines() == [problem.line, "preflight: 1 problem(s)"]
    assert PreflightResult([], [], 10).lines() == ["preflight: ok (10 checks)"]

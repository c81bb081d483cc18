"""The operator CLI follows the conventions of aws, cdk and terraform: --version, --config
before or after the subcommand, one-line errors instead of tracebacks, and no command that
acts on a cloud assembly synthesized from another configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from tapstack import cli
from tapstack.assembly import assembly_mismatch
from tapstack.config import parse_config
from tests.support import default_config_data


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("tapstack 0.")


@pytest.mark.parametrize(
    "argv",
    [["--config", "{path}", "check-config"], ["check-config", "--config", "{path}"]],
)
def test_config_is_accepted_before_and_after_the_subcommand(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps(default_config_data()))
    assert cli.main([a.format(path=path) for a in argv]) == 0
    assert f"ok {path}" in capsys.readouterr().out.replace("\n", "")


def test_every_subcommand_describes_itself() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        assert sub.description, f"`tapstack {name} --help` has no description"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (NoCredentialsError(), "no AWS credentials found: run `aws configure`"),
        (
            EndpointConnectionError(endpoint_url="http://localhost:1"),
            "cannot reach http://localhost:1",
        ),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Invoke"),
            "Invoke: AccessDenied: no",
        ),
    ],
)
def test_aws_errors_are_one_line_not_a_traceback(
    error: Exception,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fails(*_args: object) -> int:
        raise error

    monkeypatch.setitem(cli.COMMANDS, "check-config", fails)
    assert cli.main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"error: {line}")
    assert "Traceback" not in out


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*_args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "check-config", fails)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["check-config"])


def test_deploy_refuses_an_emulator_endpoint_before_doing_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    assert cli.main(["deploy", "--cdk-out", "/nonexistent"]) == 2
    assert "AWS_ENDPOINT_URL is set (http://localhost:4566)" in capsys.readouterr().out


def test_an_assembly_of_another_configuration_is_named_as_such() -> None:
    config = parse_config(default_config_data(), "test")
    ours = [
        ("tapstack-prod-dns", "us-east-1"),
        ("tapstack-prod-secondary-storage", "us-west-2"),
        ("tapstack-prod-primary", "us-east-1"),
        ("tapstack-prod-secondary", "us-west-2"),
    ]
    assert assembly_mismatch(config, ours) == ""
    staging = [(name.replace("prod", "staging"), region) for name, region in ours]
    assert assembly_mismatch(config, staging).startswith(
        "it holds tapstack-staging-dns (us-east-1)"
    )


def test_summary_refuses_an_assembly_of_another_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = {
        "artifacts": {
            "tapstack-staging-dns": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://123456789012/us-east-1",
                "properties": {"templateFile": "dns.template.json"},
            }
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "dns.template.json").write_text(json.dumps({"Resources": {}}))

    code = cli.main(["summary", "--cdk-out", str(tmp_path)])

    assert code == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"{tmp_path} was not synthesized from" in out
    assert "it holds tapstack-staging-dns (us-east-1)" in out


def test_check_config_json_prints_the_validated_configuration_with_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps(default_config_data()))
    assert cli.main(["check-config", "--config", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["primary"]["region"] == "us-east-1"
    assert document["writer_region"] in (None, "us-east-1")
    assert "database_generation" in document["secondary"]


def test_summary_json_lists_the_stacks_in_deploy_order_and_the_failover_figures(
    synth, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["summary", "--cdk-out", str(synth.outdir), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    names = [stack["name"] for stack in document["stacks"]]
    assert names.index("tapstack-prod-primary") < names.index("tapstack-prod-secondary")
    primary = next(s for s in document["stacks"] if s["name"] == "tapstack-prod-primary")
    assert primary["resources_by_type"]["AWS::RDS::DBInstance"] == 1
    assert "detection time" in {row["figure"] for row in document["failover"]}

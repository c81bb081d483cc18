"""The failover commands in tapstack.cli: arguments checked before any AWS call, one-line
errors (no tracebacks) for missing credentials and unreachable endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapstack import cli
from tests.support import DEFAULT_CONFIG


def _no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str | None = None) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    else:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.mark.parametrize("command", ["failover", "switchover"])
def test_a_region_that_is_not_configured_is_refused_before_any_call(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([command, "--config", str(DEFAULT_CONFIG), "--to", "eu-west-1", "--yes"])
    assert code == 2
    out = capsys.readouterr().out
    assert "--to 'eu-west-1' is not one of the configured regions (us-east-1, us-west-2)" in out


def test_to_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["failover", "--config", str(DEFAULT_CONFIG)])
    assert exited.value.code == 2
    assert "--to" in capsys.readouterr().err


def test_drill_names_its_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drill", "--config", str(DEFAULT_CONFIG)]) == 2
    assert "name the target: drill --aws" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["status", "failover", "switchover", "failback", "drill"])
def test_every_command_has_help_and_a_description(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = capsys.readouterr().out
    assert f"usage: tapstack {command}" in text
    assert len(text.split("\n\n")[1].strip()) > 40  # the description paragraph


def test_missing_credentials_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_aws(monkeypatch, tmp_path)
    code = cli.main(["failover", "--config", str(DEFAULT_CONFIG), "--to", "us-west-2", "--yes"])
    assert code == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines() == [
        "error: cannot read the us-west-2 database: no usable AWS credentials (Unable to "
        "locate credentials)"
    ]


def test_an_unreachable_endpoint_is_one_line_for_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_aws(monkeypatch, tmp_path, endpoint="http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)  # no outputs file to find a zone in
    assert cli.main(["status", "--config", str(DEFAULT_CONFIG)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: nothing answered: ")
    assert "Traceback" not in lines[0]

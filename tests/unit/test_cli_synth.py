"""The real CDK CLI (project-local, on Node 24) synthesizes the app from
cdk.json with CDK's template validation on, and the summary command reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tapstack.cli import main
from tests.support import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `make setup`")
    outdir = tmp_path_factory.mktemp("cli.cdk.out")
    env = {k: v for k, v in os.environ.items() if k != "CDK_VALIDATION"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return outdir


def test_cdk_cli_synthesizes_every_stack_with_validation_on(cli_out: Path) -> None:
    manifest = json.loads((cli_out / "manifest.json").read_text())
    stacks = {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert stacks == {
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-primary",
        "tapstack-prod-secondary",
    }


def test_cli_synth_runs_on_node_24(cli_out: Path) -> None:
    node = Path(sys.executable).parent / "node"
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v24."), version


def test_summary_lists_stacks_resources_and_failover_figures(
    cli_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--cdk-out", str(cli_out)]) == 0
    out = capsys.readouterr().out
    assert "tapstack-prod-dns" in out and "tapstack-prod-secondary" in out
    assert "us-west-2" in out
    assert "AWS::AutoScaling::AutoScalingGroup" in out
    assert "detection time" in out and "30 s" in out
    assert "client-visible RTO (reads)" in out and "90 s" in out


def test_summary_without_a_synthesized_app_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--cdk-out", str(tmp_path)]) == 1
    assert "run `make synth` first" in capsys.readouterr().out

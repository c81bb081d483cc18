"""tapstack.cdk_cli: the two-phase ``cdk deploy --outputs-file`` that ``make deploy`` and the
emulator's deployer share, run against a stand-in CLI that records its arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tapstack.assembly import AssemblyStack
from tapstack.cdk_cli import (
    CdkCli,
    CdkError,
    deploy_all,
    failures_from_cli_output,
    flat_outputs,
    progress_message,
    read_outputs,
)
from tests.support import fake_cdk_project

#: Records every call, and writes the outputs a real deploy would for the stacks it deploys.
FAKE_CDK = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open("calls.jsonl", "a") as calls:
    calls.write(json.dumps(args) + "\\n")
outputs_file = Path(args[args.index("--outputs-file") + 1])
outputs = {"app-dns": {"HostedZoneId": "Z0123456789ABCDEFGHIJ"}}
if "--all" in args:
    outputs["app-primary"] = {"PrimaryVpcId": "vpc-1"}
    outputs["app-secondary"] = {"SecondaryVpcId": "vpc-2"}
outputs_file.write_text(json.dumps(outputs))
sys.exit(int(Path("exit-code").read_text()) if Path("exit-code").exists() else 0)
"""


def _stack(name: str, *, parameter: bool = False, output: bool = False) -> AssemblyStack:
    template: dict[str, object] = {"Resources": {}}
    if parameter:
        template["Parameters"] = {"HostedZoneId": {"Type": "AWS::Route53::HostedZone::Id"}}
    if output:
        template["Outputs"] = {"HostedZoneId": {"Value": {"Ref": "HostedZone"}}}
    return AssemblyStack(name, "123456789012", "us-east-1", template)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake_cdk_project(tmp_path, FAKE_CDK)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _calls(project: Path) -> list[list[str]]:
    return [json.loads(line) for line in (project / "calls.jsonl").read_text().splitlines()]


APP = [
    _stack("app-dns", output=True),
    _stack("app-primary", parameter=True),
    _stack("app-secondary", parameter=True),
]


def test_the_zone_stack_deploys_first_and_its_id_becomes_the_others_parameter(
    project: Path,
) -> None:
    cdk = CdkCli(env={"PATH": "/usr/bin:/bin"}, cdk_out="cdk.out", stacks=APP)
    outputs = deploy_all(cdk, deploy_arguments=("--require-approval", "never"))
    first, second = _calls(project)
    assert first[:2] == ["deploy", "app-dns"]
    assert "--all" not in first
    assert second[:2] == ["deploy", "--all"]
    parameters = [second[i + 1] for i, arg in enumerate(second) if arg == "--parameters"]
    assert parameters == [
        "app-primary:HostedZoneId=Z0123456789ABCDEFGHIJ",
        "app-secondary:HostedZoneId=Z0123456789ABCDEFGHIJ",
    ]
    for call in (first, second):
        assert call[call.index("--outputs-file") + 1] == "cfn-outputs/outputs.json"
        assert call[call.index("--app") + 1] == "cdk.out"
        assert call[2:4] == ["--require-approval", "never"]
    assert outputs["app-primary"] == {"PrimaryVpcId": "vpc-1"}


def test_with_a_configured_zone_every_stack_deploys_in_one_call(project: Path) -> None:
    stacks = [_stack("app-primary"), _stack("app-secondary")]
    deploy_all(CdkCli(env={}, cdk_out="cdk.out", stacks=stacks))
    (only,) = _calls(project)
    assert only[:2] == ["deploy", "--all"]
    assert "--parameters" not in only


def test_a_parameter_without_a_stack_that_outputs_it_is_refused(project: Path) -> None:
    stacks = [_stack("app-primary", parameter=True)]
    with pytest.raises(CdkError, match="0 stacks output HostedZoneId; set dns.hosted_zone_id"):
        deploy_all(CdkCli(env={}, cdk_out="cdk.out", stacks=stacks))
    assert not (project / "calls.jsonl").exists()


def test_a_failing_cli_raises_with_the_stack_and_reason_it_printed(project: Path) -> None:
    (project / "exit-code").write_text("1")
    with pytest.raises(CdkError, match=r"cdk deploy failed \(1\)"):
        deploy_all(CdkCli(env={}, cdk_out="cdk.out", stacks=APP))


def test_commands_refuse_to_run_outside_a_cdk_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CdkError, match="no cdk.json in"):
        CdkCli(env={}, cdk_out="cdk.out", stacks=APP)("deploy", "--all")


def test_outputs_are_flattened_and_a_key_with_two_values_is_refused(tmp_path: Path) -> None:
    assert read_outputs(tmp_path / "missing.json") == {}
    assert flat_outputs({"a": {"X": "1"}, "b": {"Y": "2", "X": "1"}}) == {"X": "1", "Y": "2"}
    with pytest.raises(ValueError, match="output X differs between stacks"):
        flat_outputs({"a": {"X": "1"}, "b": {"X": "2"}})


def test_cli_failure_lines_name_the_stack_and_the_error_after_them() -> None:
    output = "app-dns: deploying... [1/3]\n ❌  app-primary failed: Error\n\n  ‣ Bucket exists\n"
    (failure,) = failures_from_cli_output(output, APP)
    assert (failure.stack, failure.region, failure.reason) == (
        "app-primary",
        "us-east-1",
        "Bucket exists",
    )
    assert progress_message("app-dns: deploying... [1/3]") == "deploying app-dns (1/3)"
    assert progress_message("something else") is None

"""The local emulator and its deployer themselves: failures are reported the way
CloudFormation reports them, and the emulator never outlives the process that owns it.

These tests start emulators of their own (never the deployment under test) and touch no AWS
account, so they run whatever the target is.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapstack.assembly import read_cloud_assembly
from tapstack_lab.deploy import DeployError, deploy_to_emulator
from tapstack_lab.emulator import Emulator

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_failed_resource_names_stack_resource_and_reason(synth, tmp_path: Path) -> None:
    """A resource the emulator refuses fails its stack with a CREATE_FAILED event, and the
    deployer reports stack, resource, type and reason (as it would from CloudFormation)."""
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synth.outdir, assembly)
    first = read_cloud_assembly(assembly)[0]
    template_path = assembly / f"{first.name}.template.json"
    template = json.loads(template_path.read_text())
    template["Resources"]["BrokenSubnet"] = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": "vpc-0doesnotexist", "CidrBlock": "10.99.0.0/24"},
    }
    template_path.write_text(json.dumps(template))
    with Emulator(workdir=tmp_path / "emulator") as emulator, pytest.raises(DeployError) as raised:
        deploy_to_emulator(emulator.environment(), assembly)
    failures = raised.value.failures
    assert [(f.stack, f.region, f.logical_id, f.resource_type) for f in failures] == [
        (first.name, first.region, "BrokenSubnet", "AWS::EC2::Subnet")
    ]
    assert "vpc-0doesnotexist" in failures[0].reason


def test_stop_ends_the_emulator(tmp_path: Path) -> None:
    emulator = Emulator(workdir=tmp_path)
    emulator.start()
    pid = emulator.pid
    assert pid is not None and _alive(pid)
    emulator.stop()
    assert _wait_gone(pid)
    emulator.stop()  # twice is fine


def test_the_emulator_dies_with_its_owner(tmp_path: Path) -> None:
    """Even a SIGKILLed owner (no cleanup code runs) leaves no emulator behind."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from tapstack_lab.emulator import Emulator; "
            "e = Emulator(); e.start(); print(e.pid, flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        assert _alive(pid)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert _wait_gone(pid), f"emulator {pid} outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_a_detached_emulator_outlives_its_owner_until_killed(tmp_path: Path) -> None:
    emulator = Emulator(workdir=tmp_path, detached=True)
    emulator.start()
    pid = emulator.release()
    assert pid is not None
    try:
        emulator.stop()  # released: stop() leaves it alone
        time.sleep(0.3)
        assert _alive(pid)
    finally:
        os.kill(pid, signal.SIGTERM)
        assert _wait_gone(pid)

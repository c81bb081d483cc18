"""Run a moto scenario twice in a fresh interpreter: on unpatched moto, then with one patch.

A patch changes moto for the whole process, and other tests of this session use
``moto.mock_aws`` in-process: so the scenario never runs in the pytest process. The child
runs it inside ``mock_aws`` (fresh backends each time) before applying the patch, applies
the patch module's ``apply()``, runs it again, and prints both results as JSON, with what the
patch journaled.

A scenario is a function of the test module, without arguments, that returns something JSON
can encode; it may raise (the result is then ``{"error": "Type: message"}``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"

_CHILD = """
import importlib, importlib.util, json, sys, tempfile, warnings
from pathlib import Path
warnings.simplefilter("ignore")
path, scenario, patch = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("scenario_module", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from moto import mock_aws

def run():
    with mock_aws():
        try:
            return getattr(module, scenario)()
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}

unpatched = run()
from tapstack_lab.moto_patches import journal
journal_path = Path(tempfile.mkdtemp()) / "journal.jsonl"
journal.configure(journal_path)
importlib.import_module(f"tapstack_lab.moto_patches.{patch}").apply()
patched = run()
lines = journal_path.read_text().splitlines() if journal_path.exists() else []
print(json.dumps({"unpatched": unpatched, "patched": patched,
                  "journal": [json.loads(line) for line in lines]}, default=str))
"""


@dataclass(frozen=True)
class Outcome:
    unpatched: Any
    patched: Any
    journal: list[dict[str, Any]]


def unpatched_then_patched(test_file: str, scenario: str, patch: str) -> Outcome:
    """Run ``scenario`` (a function of ``test_file``) on unpatched moto, then with
    ``tapstack_lab.moto_patches.<patch>`` applied, in one fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": "123456789012",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, test_file, scenario, patch],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Outcome(result["unpatched"], result["patched"], result["journal"])


# ---------------------------------------------------------------- scenario helpers
# (run in the child, inside mock_aws)


def create_stack(template: dict[str, Any], name: str = "s") -> dict[str, Any]:
    """Create a stack; return what CloudFormation reports: the CreateStack error if any,
    the stack's status, outputs and events, and the reason of every failed event."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    report: dict[str, Any] = {}
    try:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    except Exception as error:
        report["create_error"] = f"{type(error).__name__}: {error}"
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except Exception as error:  # CreateStack failed before the stack existed
        report["describe_error"] = f"{type(error).__name__}: {error}"
        return report
    report["status"] = stack["StackStatus"]
    report["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    report["events"] = [
        [e["LogicalResourceId"], e["ResourceType"], e["ResourceStatus"]]
        for e in reversed(cfn.describe_stack_events(StackName=name)["StackEvents"])
    ]
    report["reasons"] = {
        e["LogicalResourceId"]: e["ResourceStatusReason"]
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["ResourceStatus"].endswith("FAILED")
    }
    return report


def physical_id(logical_id: str, stack: str = "s") -> str:
    cfn = boto3.client("cloudformation", region_name=REGION)
    detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def parameter(name: str, value: Any) -> dict[str, Any]:
    """An ``AWS::SSM::Parameter`` holding ``value``: how a scenario reads what a template
    function resolved to."""
    return {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": name, "Type": "String", "Value": value},
    }


def parameter_value(name: str) -> str:
    ssm = boto3.client("ssm", region_name=REGION)
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def vpc_with_two_subnets(region: str = REGION) -> dict[str, Any]:
    """Template resources: ``Vpc``, ``SubnetA`` and ``SubnetB`` (two zones)."""

    def subnet(cidr: str, zone: str) -> dict[str, Any]:
        return {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": zone},
        }

    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "SubnetA": subnet("10.0.0.0/24", f"{region}a"),
        "SubnetB": subnet("10.0.1.0/24", f"{region}b"),
    }

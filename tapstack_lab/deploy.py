"""Deploy a synthesized cloud assembly into the embedded emulator with the real CDK CLI, and
read back what was deployed.

The deployer is the product's own (``tapstack.cdk_cli``): the project-local CDK CLI that
``make deploy`` runs against AWS, the same two-phase ``cdk deploy --outputs-file``:

1. ``cdk bootstrap aws://ACCOUNT/REGION ...`` for every environment of the assembly creates
   the real bootstrap stack (``CDKToolkit``: staging bucket, roles, the
   ``/cdk-bootstrap/hnb659fds/version`` parameter) in the emulator;
2. ``cdk deploy --all --require-approval never --method=direct`` publishes the templates and
   file assets to the emulated staging buckets and creates the stacks in dependency order.
   ``--method=direct`` (CreateStack) is the one difference from a real deploy (change sets):
   moto returns change-set deployments without outputs.

Nothing here knows the app's resources: stacks, regions, environments and dependencies are
read from the assembly's ``manifest.json``, and what the emulator did not emulate is read
back from the deployment itself (the deployed template against the stack's resources, and
the outputs the template declares against the outputs the stack reports). The emulator's
compatibility fixes live in ``tapstack_lab.moto_patches``; templates are deployed unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from tapstack.assembly import AssemblyStack, read_cloud_assembly
from tapstack.aws import client_factory
from tapstack.cdk_cli import (
    DEFAULT_OUTPUTS_FILE,
    CdkCli,
    CdkError,
    Failure,
    bootstrap,
    deploy_all,
    flat_outputs,
    require_cli,
    tool_environment,
)
from tapstack.process import run

#: The repository: the lab is development tooling and lives in it, beside the product.
ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT_FILE = ".tapstack-synth.json"
#: Not an AWS resource: CDK's analytics entry; left out of counts, as ``tapstack summary`` does.
CDK_METADATA = "AWS::CDK::Metadata"
#: Statuses of a stack that deployed.
COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}

LineCallback = Callable[[str], None]


class DeployError(CdkError):
    """A step of the deployment failed; ``failures`` name the stacks and resources."""


# ---------------------------------------------------------------------------
# Synthesis (skipped when the assembly is up to date)
# ---------------------------------------------------------------------------

_SYNTH_INPUTS = ("app.py", "cdk.json", "cdk.context.json", "package-lock.json", "pyproject.toml")
#: Tooling the app never imports: editing it does not make the assembly stale.
_NOT_SYNTH_INPUTS = (
    "tapstack/cli.py",
    "tapstack/__main__.py",
    "tapstack/preflight.py",
    "tapstack/teardown.py",
)


def synth_fingerprint(config_path: str | os.PathLike[str]) -> str:
    """A digest of everything ``cdk synth`` reads: the app's code and data files, the CDK
    settings and context, the configuration file, and the versions of the libraries that
    shape templates and assets."""
    digest = hashlib.sha256()
    files = [ROOT / name for name in _SYNTH_INPUTS]
    files += sorted(
        path
        for path in (ROOT / "tapstack").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and path.relative_to(ROOT).as_posix() not in _NOT_SYNTH_INPUTS
        and not path.relative_to(ROOT).as_posix().startswith(_NOT_SYNTH_INPUTS)
    )
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    config = Path(config_path)
    digest.update(b"config\0" + str(config).encode() + b"\0")
    if config.exists():
        digest.update(hashlib.sha256(config.read_bytes()).digest())
    for package in ("aws-cdk-lib", "constructs", "cdk-nag", "pymysql"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package}={metadata.version(package)}\0".encode())
    return digest.hexdigest()


def _assembly_digest(cdk_out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(cdk_out.glob("*.json")):
        if path.name == FINGERPRINT_FILE:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SynthResult:
    ran: bool
    seconds: float
    reason: str


def synthesize(
    cdk_out: str | os.PathLike[str],
    *,
    config_path: str | os.PathLike[str],
    force: bool = False,
    log: IO[str] | None = None,
    on_line: LineCallback | None = None,
) -> SynthResult:
    """``cdk synth`` into ``cdk_out`` with the project-local CLI, unless ``cdk_out`` holds an
    assembly synthesized by this function from identical inputs (see ``synth_fingerprint``)."""
    import time

    started = time.monotonic()
    cdk_out = Path(cdk_out)
    fingerprint = synth_fingerprint(config_path)
    stamp = cdk_out / FINGERPRINT_FILE
    if not force and (cdk_out / "manifest.json").exists() and stamp.exists():
        try:
            recorded = json.loads(stamp.read_text())
            if recorded.get("fingerprint") == fingerprint and recorded.get(
                "assembly"
            ) == _assembly_digest(cdk_out):  # and nobody synthesized over it since
                return SynthResult(False, time.monotonic() - started, "inputs unchanged")
        except (OSError, ValueError):
            pass
    env = tool_environment()
    env["TAPSTACK_CONFIG"] = str(config_path)
    result = run(
        [str(require_cli(ROOT)), "synth", "--quiet", "--no-notices", "--output", str(cdk_out)],
        env=env,
        cwd=ROOT,
        log=log,
        on_line=on_line,
    )
    if not result.ok:
        raise DeployError(f"cdk synth failed ({result.returncode})", output_tail=result.tail())
    stamp.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint,
                "assembly": _assembly_digest(cdk_out),
                "config": str(config_path),
            }
        )
    )
    reason = "forced" if force else "inputs changed or no fingerprint"
    return SynthResult(True, time.monotonic() - started, reason)


#: Against the emulator: direct CreateStack (moto returns change-set deploys without outputs).
EMULATOR_DEPLOY_ARGUMENTS = ("--require-approval", "never", "--method=direct")


# ---------------------------------------------------------------------------
# Reading the deployment back
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedResource:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str


@dataclass
class DeployedStack:
    """A stack as the emulator (or AWS) reports it after the deployment."""

    name: str
    region: str
    status: str
    outputs: dict[str, str]
    resources: list[DeployedResource]
    #: logical ID -> type: in the deployed template, but no resource was created for them
    not_emulated: dict[str, str] = field(default_factory=dict)
    #: logical ID -> type: created, but without a physical ID
    without_physical_id: dict[str, str] = field(default_factory=dict)
    #: output key -> what it reads: declared by the template, not reported by the stack
    unresolved_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status in COMPLETE

    def created_by_type(self) -> Counter[str]:
        return Counter(
            r.resource_type
            for r in self.resources
            if r.logical_id
            and r.resource_type != CDK_METADATA
            and r.logical_id not in self.without_physical_id
        )


@dataclass
class Deployment:
    """Every stack of the assembly, read back from the target after ``cdk deploy``."""

    endpoint: str | None
    stacks: list[DeployedStack]

    def outputs_by_stack(self) -> dict[str, dict[str, str]]:
        return {stack.name: dict(stack.outputs) for stack in self.stacks}

    def flat_outputs(self) -> dict[str, str]:
        return flat_outputs(self.outputs_by_stack())

    def created_by_type(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for stack in self.stacks:
            total.update(stack.created_by_type())
        return total

    def not_emulated_by_type(self) -> dict[str, list[str]]:
        """Resource type -> ``stack/logical-id`` of every resource the target did not create."""
        return self._by_type("not_emulated")

    def without_physical_id_by_type(self) -> dict[str, list[str]]:
        """Resource type -> ``stack/logical-id`` of resources created without a physical ID
        (moto creates them, but its model reports no ID)."""
        return self._by_type("without_physical_id")

    def _by_type(self, attribute: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for stack in self.stacks:
            for logical_id, rtype in getattr(stack, attribute).items():
                found.setdefault(rtype, []).append(f"{stack.name}/{logical_id}")
        return dict(sorted(found.items()))

    def unresolved_outputs(self) -> dict[str, str]:
        return {
            f"{stack.name}.{key}": reads
            for stack in self.stacks
            for key, reads in stack.unresolved_outputs.items()
        }


def collect(stacks: list[AssemblyStack], env: Mapping[str, str]) -> Deployment:
    """Read every stack of the assembly back from the target."""
    client = client_factory(env)
    deployed = [_read_stack(client("cloudformation", stack.region), stack) for stack in stacks]
    return Deployment(endpoint=env.get("AWS_ENDPOINT_URL"), stacks=deployed)


def _read_stack(cfn: Any, stack: AssemblyStack) -> DeployedStack:
    description = cfn.describe_stacks(StackName=stack.name)["Stacks"][0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in description.get("Outputs") or []}
    resources = [
        DeployedResource(
            logical_id=r.get("LogicalResourceId", ""),
            resource_type=r.get("ResourceType", ""),
            physical_id=r.get("PhysicalResourceId", ""),
            status=r.get("ResourceStatus", ""),
        )
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack.name)
        for r in page["StackResourceSummaries"]
    ]
    template = _deployed_template(cfn, stack)
    declared = template.get("Resources", {})
    listed = {r.logical_id for r in resources if r.logical_id}
    not_emulated = {
        logical_id: resource["Type"]
        for logical_id, resource in declared.items()
        if logical_id not in listed
        and resource["Type"] != CDK_METADATA
        and "Condition" not in resource  # a false condition creates nothing on AWS either
    }
    without_physical_id = {
        r.logical_id: r.resource_type
        for r in resources
        if r.logical_id and not r.physical_id and r.resource_type != CDK_METADATA
    }
    unresolved = {
        key: _describe_value(output.get("Value"), declared)
        for key, output in (template.get("Outputs") or {}).items()
        if key not in outputs and "Condition" not in output
    }
    return DeployedStack(
        name=stack.name,
        region=stack.region,
        status=description["StackStatus"],
        outputs=outputs,
        resources=resources,
        not_emulated=not_emulated,
        without_physical_id=without_physical_id,
        unresolved_outputs=unresolved,
    )


def _deployed_template(cfn: Any, stack: AssemblyStack) -> dict[str, Any]:
    """The template the target holds for the stack (falls back to the synthesized one)."""
    try:
        body = cfn.get_template(StackName=stack.name, TemplateStage="Original")["TemplateBody"]
    except Exception:  # the synthesized template is the same document
        return stack.template
    if isinstance(body, str):
        return json.loads(body)
    return json.loads(json.dumps(body))


def _describe_value(value: Any, resources: Mapping[str, Any]) -> str:
    """``GetAtt HostedZone.NameServers (AWS::Route53::HostedZone)`` for an output value."""
    text = json.dumps(value)
    refs = re.findall(r'"Fn::GetAtt": \["([^"]+)", "([^"]+)"\]', text)
    if refs:
        logical_id, attribute = refs[0]
        rtype = resources.get(logical_id, {}).get("Type", "?")
        return f"Fn::GetAtt {logical_id}.{attribute} ({rtype})"
    refs = re.findall(r'"Ref": "([^"]+)"', text)
    if refs:
        rtype = resources.get(refs[0], {}).get("Type", "parameter")
        return f"Ref {refs[0]} ({rtype})"
    return text[:80]


def find_failures(stacks: list[AssemblyStack], env: Mapping[str, str]) -> list[Failure]:
    """``*_FAILED`` events of every stack of the assembly, the resource-level ones first."""
    client = client_factory(env)
    failures: list[Failure] = []
    for stack in stacks:
        try:
            cfn = client("cloudformation", stack.region)
            events = cfn.describe_stack_events(StackName=stack.name)["StackEvents"]
        except Exception:  # noqa: S112 - a stack that was never created has no events
            continue
        failed = [
            e
            for e in events
            if str(e.get("ResourceStatus", "")).endswith("_FAILED")
            and "Resource creation cancelled" not in str(e.get("ResourceStatusReason", ""))
        ]
        resource_level = [
            e for e in failed if e.get("ResourceType") != "AWS::CloudFormation::Stack"
        ]
        for event in resource_level or failed:
            failures.append(
                Failure(
                    stack=stack.name,
                    region=stack.region,
                    logical_id=event.get("LogicalResourceId", ""),
                    resource_type=event.get("ResourceType", ""),
                    reason=event.get("ResourceStatusReason") or "(no reason given)",
                )
            )
    return failures


# ---------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------


@dataclass
class EmulatorDeployment:
    """What ``deploy_to_emulator`` did."""

    deployment: Deployment
    stacks: list[AssemblyStack]
    bootstrap_seconds: float
    deploy_seconds: float
    collect_seconds: float


def deploy_to_emulator(
    emulator_env: Mapping[str, str],
    cdk_out: str | os.PathLike[str],
    *,
    log: IO[str] | None = None,
    on_line: LineCallback | None = None,
    on_step: Callable[[str], None] | None = None,
    outputs_file: str | os.PathLike[str] = ROOT / DEFAULT_OUTPUTS_FILE,
) -> EmulatorDeployment:
    """Bootstrap, deploy every stack of ``cdk_out`` (outputs to ``outputs_file``, as
    ``make deploy`` writes them) and read the result back.

    ``emulator_env`` is ``Emulator.environment()``: the endpoint and dummy credentials.
    Raises ``DeployError`` naming the failed stacks, resources and reasons.
    """
    import time

    stacks = read_cloud_assembly(cdk_out)
    if not stacks:
        raise DeployError(f"{cdk_out} holds no stacks")
    env = tool_environment({**emulator_env, "AWS_REGION": stacks[0].region})
    env.setdefault("AWS_DEFAULT_REGION", stacks[0].region)

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    cdk = CdkCli(
        env=env,
        cdk_out=cdk_out,
        stacks=stacks,
        log=log,
        on_line=on_line,
        explain=lambda failed: find_failures(failed, env),
        project=ROOT,
    )
    step("bootstrap")
    started = time.monotonic()
    try:
        bootstrap(cdk)
        bootstrapped = time.monotonic()
        step("deploy")
        deploy_all(cdk, deploy_arguments=EMULATOR_DEPLOY_ARGUMENTS, outputs_file=outputs_file)
    except CdkError as exc:
        raise DeployError(str(exc), failures=exc.failures, output_tail=exc.output_tail) from exc
    deployed = time.monotonic()
    step("collect")
    deployment = collect(stacks, env)
    incomplete = [s for s in deployment.stacks if not s.complete]
    if incomplete:
        raise DeployError(
            "stacks did not complete: " + ", ".join(f"{s.name} ({s.status})" for s in incomplete),
            failures=find_failures(stacks, env),
        )
    return EmulatorDeployment(
        deployment=deployment,
        stacks=stacks,
        bootstrap_seconds=bootstrapped - started,
        deploy_seconds=deployed - bootstrapped,
        collect_seconds=time.monotonic() - deployed,
    )

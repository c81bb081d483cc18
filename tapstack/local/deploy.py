"""Deploy a synthesized cloud assembly into the emulator with the real CDK CLI, and read
back what was deployed.

The deployer is the project-local CDK CLI (``node_modules/.bin/cdk``), the same one that
``make deploy`` uses against AWS:

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
compatibility fixes live in ``tapstack.local.emulator``; templates are deployed unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from tapstack.local.process import Completed, run
from tapstack.naming import HOSTED_ZONE_ID
from tapstack.summary import read_assembly

ROOT = Path(__file__).resolve().parents[2]
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
VENV_BIN = Path(sys.executable).parent
FINGERPRINT_FILE = ".tapstack-synth.json"
#: Not an AWS resource: CDK's analytics entry; left out of counts, as ``tapstack summary`` does.
CDK_METADATA = "AWS::CDK::Metadata"
#: Statuses of a stack that deployed.
COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}

LineCallback = Callable[[str], None]


class DeployError(RuntimeError):
    """A step of the deployment failed; ``failures`` name the stacks and resources."""

    def __init__(
        self,
        message: str,
        *,
        failures: Iterable[Failure] = (),
        output_tail: str = "",
    ) -> None:
        super().__init__(message)
        self.failures = list(failures)
        self.output_tail = output_tail


# ---------------------------------------------------------------------------
# The cloud assembly
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AssemblyStack:
    """One stack of the synthesized assembly."""

    name: str
    account: str
    region: str
    template: dict[str, Any]
    dependencies: tuple[str, ...] = ()

    @property
    def environment(self) -> str:
        return f"aws://{self.account}/{self.region}"


def read_cloud_assembly(cdk_out: str | os.PathLike[str]) -> list[AssemblyStack]:
    """The stacks of ``cdk_out`` in deploy (dependency) order."""
    cdk_out = Path(cdk_out)
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks = []
    for summary in read_assembly(cdk_out):
        environment = manifest["artifacts"][summary.name]["environment"]
        account = environment.removeprefix("aws://").split("/")[0]
        stacks.append(
            AssemblyStack(
                name=summary.name,
                account=account,
                region=summary.region,
                template=json.loads(summary.template_file.read_text()),
                dependencies=summary.dependencies,
            )
        )
    return stacks


# ---------------------------------------------------------------------------
# Synthesis (skipped when the assembly is up to date)
# ---------------------------------------------------------------------------

_SYNTH_INPUTS = ("app.py", "cdk.json", "cdk.context.json", "package-lock.json", "pyproject.toml")
#: Tooling the app never imports: editing it does not make the assembly stale.
_NOT_SYNTH_INPUTS = (
    "tapstack/local/",
    "tapstack/demo.py",
    "tapstack/cli.py",
    "tapstack/summary.py",
    "tapstack/__main__.py",
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
        [str(require_cli()), "synth", "--quiet", "--no-notices", "--output", str(cdk_out)],
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


# ---------------------------------------------------------------------------
# Running the CDK CLI against the emulator
# ---------------------------------------------------------------------------


def require_cli() -> Path:
    if not CDK_CLI.exists():
        raise DeployError(f"{CDK_CLI.relative_to(ROOT)} is missing: run `make setup`")
    return CDK_CLI


def tool_environment(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for the CDK CLI: the virtualenv's Node 24 first on PATH, no
    telemetry or notices, and - when ``extra`` points at the emulator - no trace of any real
    AWS configuration (profiles, credential files, instance metadata)."""
    base = os.environ if base is None else base
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(CDK_CLI.parent), base.get("PATH", "")])
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["FORCE_COLOR"] = "0"
    if extra:
        for name in list(env):
            if name.startswith("AWS_") or name in {"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"}:
                del env[name]
        env |= {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env |= dict(extra)
    return env


def _cdk(
    command: str,
    arguments: list[str],
    stacks: list[AssemblyStack],
    env: Mapping[str, str],
    cdk_out: str | os.PathLike[str],
    *,
    log: IO[str] | None,
    on_line: LineCallback | None,
    interactive: bool = False,
) -> Completed:
    """Run one CDK CLI command on the assembly; a failure raises ``DeployError`` naming
    the failing stacks and resources (from the deployment if any, else the CLI's output)."""
    result = run(
        [str(require_cli()), command, *arguments, "--app", str(cdk_out), "--no-notices"],
        env=env,
        cwd=ROOT,
        log=log,
        on_line=on_line,
        interactive=interactive,
    )
    if not result.ok:
        failures = [] if command == "bootstrap" else find_failures(stacks, env)
        raise DeployError(
            f"cdk {command} failed ({result.returncode})",
            failures=failures or failures_from_cli_output(result.output, stacks),
            output_tail=result.tail(),
        )
    return result


def bootstrap(
    stacks: list[AssemblyStack],
    env: Mapping[str, str],
    cdk_out: str | os.PathLike[str],
    *,
    log: IO[str] | None = None,
    on_line: LineCallback | None = None,
) -> Completed:
    """``cdk bootstrap`` every environment (account/region) the assembly deploys to."""
    environments = sorted({stack.environment for stack in stacks})
    return _cdk("bootstrap", environments, stacks, env, cdk_out, log=log, on_line=on_line)


#: Against the emulator: direct CreateStack (moto returns change-set deploys without outputs).
EMULATOR_DEPLOY_ARGUMENTS = ("--require-approval", "never", "--method=direct")


def zone_parameters(
    stacks: list[AssemblyStack], env: Mapping[str, str], deploy_owner: Callable[[str], object]
) -> list[str]:
    """``--parameters STACK:HostedZoneId=Z...`` for every stack that takes the zone's ID.

    Records name their zone by ID, and the ID of a zone the app creates exists only once the
    dns stack has been deployed: ``deploy_owner(stack_name)`` deploys that stack first, and
    its ``HostedZoneId`` output becomes the other stacks' parameter. No stack takes the
    parameter when the configuration names an existing zone (``dns.hosted_zone_id``).
    """
    takers = [s for s in stacks if HOSTED_ZONE_ID in s.template.get("Parameters", {})]
    if not takers:
        return []
    owners = [s for s in stacks if HOSTED_ZONE_ID in s.template.get("Outputs", {})]
    if len(owners) != 1:
        raise DeployError(
            f"stacks {', '.join(s.name for s in takers)} take the parameter {HOSTED_ZONE_ID}, "
            f"but {len(owners)} stacks output {HOSTED_ZONE_ID}; set dns.hosted_zone_id"
        )
    owner = owners[0]
    deploy_owner(owner.name)
    cfn = boto3_session_factory(env)("cloudformation", owner.region)
    outputs = cfn.describe_stacks(StackName=owner.name)["Stacks"][0].get("Outputs", [])
    zone_id = next((o["OutputValue"] for o in outputs if o["OutputKey"] == HOSTED_ZONE_ID), None)
    if not zone_id:
        raise DeployError(f"{owner.name} has no {HOSTED_ZONE_ID} output after its deploy")
    arguments = []
    for stack in takers:
        arguments += ["--parameters", f"{stack.name}:{HOSTED_ZONE_ID}={zone_id}"]
    return arguments


def deploy_all(
    stacks: list[AssemblyStack],
    env: Mapping[str, str],
    cdk_out: str | os.PathLike[str],
    *,
    deploy_arguments: Iterable[str] = EMULATOR_DEPLOY_ARGUMENTS,
    interactive: bool = False,
    log: IO[str] | None = None,
    on_line: LineCallback | None = None,
) -> Completed:
    """``cdk deploy --all``: every stack, in dependency order, assets published first; the
    stack that owns the hosted zone goes first when the others need its ID
    (:func:`zone_parameters`)."""
    common = [*deploy_arguments, "--progress", "events"]

    def cdk_deploy(arguments: list[str]) -> Completed:
        return _cdk(
            "deploy", arguments, stacks, env, cdk_out,
            log=log, on_line=on_line, interactive=interactive,
        )  # fmt: skip

    parameters = zone_parameters(stacks, env, lambda name: cdk_deploy([name, *common]))
    return cdk_deploy(["--all", *common, *parameters])


_DEPLOYING = re.compile(r"^(?P<stack>\S+): deploying\.\.\. \[(?P<n>\d+)/(?P<total>\d+)\]")
_DONE = re.compile(r"^\s*✅\s+(?P<stack>\S+)")
_FAILED = re.compile(r"^\s*❌\s+(?P<stack>\S+)")
_PUBLISHING = re.compile(r"^(?P<stack>\S+): start: Publishing (?P<what>.+?) \(")


def progress_message(line: str) -> str | None:
    """A one-line description of CDK CLI progress in ``line``, or None."""
    if match := _DEPLOYING.match(line):
        return f"deploying {match['stack']} ({match['n']}/{match['total']})"
    if match := _DONE.match(line):
        return f"deployed {match['stack']}"
    if match := _FAILED.match(line):
        return f"FAILED {match['stack']}"
    if match := _PUBLISHING.match(line):
        return f"publishing {match['what']}"
    if "Bootstrapping environment" in line:
        return line.strip(" ⏳")
    return None


# ---------------------------------------------------------------------------
# Reading the deployment back
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A stack or resource that failed, with CloudFormation's (or the CLI's) reason."""

    stack: str
    region: str
    logical_id: str
    resource_type: str
    reason: str


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
        flat: dict[str, str] = {}
        for stack in self.stacks:
            for key, value in stack.outputs.items():
                if key in flat and flat[key] != value:
                    raise ValueError(f"output {key} differs between stacks: keys must be unique")
                flat[key] = value
        return flat

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


def boto3_session_factory(env: Mapping[str, str]) -> Callable[[str, str], Any]:
    """``client(service, region)`` for the target that ``env`` describes (the emulator's
    endpoint and dummy credentials, or the ambient AWS configuration when it has none)."""
    import boto3
    from botocore.config import Config

    endpoint = env.get("AWS_ENDPOINT_URL")
    config = Config(retries={"mode": "standard", "max_attempts": 3})

    def client(service: str, region: str) -> Any:
        if endpoint:
            return boto3.client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
                aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
                aws_session_token=env.get("AWS_SESSION_TOKEN"),
                config=config,
            )
        return boto3.client(service, region_name=region, config=config)

    return client


def collect(stacks: list[AssemblyStack], env: Mapping[str, str]) -> Deployment:
    """Read every stack of the assembly back from the target."""
    client = boto3_session_factory(env)
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
    client = boto3_session_factory(env)
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


def failures_from_cli_output(output: str, stacks: list[AssemblyStack]) -> list[Failure]:
    """When no stack event explains a failure (assets, bootstrap, a refused request): the
    CLI's own ``❌ <stack> failed`` lines and the error that follows them."""
    regions = {stack.name: stack.region for stack in stacks}
    lines = output.splitlines()
    failures = []
    for index, line in enumerate(lines):
        match = _FAILED.match(line)
        if not match:
            continue
        reason = next(
            (
                candidate.strip(" ‣")
                for candidate in lines[index + 1 : index + 6]
                if candidate.strip()
            ),
            "(see the CDK CLI output)",
        )
        failures.append(Failure(match["stack"], regions.get(match["stack"], "?"), "", "", reason))
    return failures


def write_outputs(deployment: Deployment, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``flat-outputs.json`` (one object, output key -> value, across all stacks) and
    ``all-outputs.json`` ({stack: {key: value}}) in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flat = directory / "flat-outputs.json"
    per_stack = directory / "all-outputs.json"
    flat.write_text(json.dumps(deployment.flat_outputs(), indent=2, sort_keys=True) + "\n")
    per_stack.write_text(json.dumps(deployment.outputs_by_stack(), indent=2) + "\n")
    return flat, per_stack


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
) -> EmulatorDeployment:
    """Bootstrap, deploy every stack of ``cdk_out`` and read the result back.

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

    step("bootstrap")
    started = time.monotonic()
    bootstrap(stacks, env, cdk_out, log=log, on_line=on_line)
    bootstrapped = time.monotonic()
    step("deploy")
    deploy_all(stacks, env, cdk_out, log=log, on_line=on_line)
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


# ---------------------------------------------------------------------------
# python -m tapstack.local.deploy write-outputs
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``write-outputs``: read the outputs of every stack of the assembly from the target
    (AWS with the ambient credentials, or ``AWS_ENDPOINT_URL``) into ``cfn-outputs/``;
    ``make deploy`` runs it after ``cdk deploy`` so the integration suite can verify AWS."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tapstack.local.deploy")
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write-outputs", help="stack outputs -> cfn-outputs/*.json")
    deploy = sub.add_parser(
        "deploy",
        help="cdk deploy every stack (the zone's stack first when the others need its ID), "
        "then write the outputs",
    )
    for command in (write, deploy):
        command.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
        command.add_argument("--outputs-dir", type=Path, default=ROOT / "cfn-outputs")
    args = parser.parse_args(argv)
    stacks = read_cloud_assembly(args.cdk_out)
    if args.command == "deploy":
        try:
            deploy_all(
                stacks,
                tool_environment(),
                args.cdk_out,
                deploy_arguments=("--require-approval", "broadening"),
                interactive=True,
                log=sys.stdout,
            )
        except DeployError as exc:
            print(f"error: {exc}", file=sys.stderr)
            for failure in exc.failures:
                print(f"  {failure}", file=sys.stderr)
            return 1
    deployment = collect(stacks, os.environ)
    incomplete = [f"{s.name} ({s.status})" for s in deployment.stacks if not s.complete]
    flat, per_stack = write_outputs(deployment, args.outputs_dir)
    print(f"wrote {flat} and {per_stack} ({len(deployment.flat_outputs())} outputs)")
    if incomplete:
        print("not complete: " + ", ".join(incomplete), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

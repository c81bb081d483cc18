"""``python -m tapstack cost [--config F] [--cdk-out DIR] [--json]``: the monthly estimate of
a configuration, from its synthesized templates.

Without ``--cdk-out`` the configuration is synthesized here, into a temporary directory
(no AWS credentials needed); with it, an assembly already synthesized from that
configuration (``make synth``) is read instead, and refused if it is another's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console

from tapstack.assembly import (
    AssemblyStack,
    ForeignAssembly,
    read_cloud_assembly,
    read_matching_assembly,
)
from tapstack.config import TapStackConfig, TapStackConfigWarning
from tapstack.cost.estimate import estimate
from tapstack.cost.prices import PRICES_FILE, PriceBook
from tapstack.cost.report import document, render


def add_parser(sub: Any) -> None:
    """The ``cost`` subcommand's options (``sub`` is the CLI's subcommand registry)."""
    cost = sub.add_parser(
        "cost",
        help="monthly estimate per resource and region, from the synthesized templates",
    )
    cost.add_argument(
        "--cdk-out",
        type=Path,
        default=None,
        help="read this assembly (synthesized from the same configuration) instead of "
        "synthesizing one",
    )
    cost.add_argument("--json", action="store_true", help="print the estimate as JSON")
    cost.add_argument(
        "--prices", type=Path, default=PRICES_FILE, help=f"price file (default {PRICES_FILE})"
    )


def run(args: argparse.Namespace, config: TapStackConfig, console: Console) -> int:
    """Print the estimate; 1 when the price file or the assembly cannot be read, or the
    assembly is another configuration's."""
    try:
        prices = PriceBook.load(args.prices)
    except (OSError, ValueError, KeyError) as exc:
        console.print(f"[bold red]error:[/] cannot read {args.prices}: {exc}", soft_wrap=True)
        return 1
    if args.cdk_out is None:
        stacks = synthesize(config)
    else:
        try:
            stacks = read_matching_assembly(read_cloud_assembly, args.cdk_out, config, args.config)
        except FileNotFoundError as exc:
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
            return 1
        except ForeignAssembly as exc:
            console.print(
                f"[bold red]error:[/] {exc}, or leave out --cdk-out",
                soft_wrap=True,
                highlight=False,
            )
            return 1
    result = estimate(stacks, prices)
    if args.json:
        print(json.dumps(document(result, prices, prefix=config.prefix), indent=2))
    else:
        render(result, prices, console, title=f"TapStack {config.prefix} ({args.config})")
    return 0


def synthesize(config: TapStackConfig, outdir: Path | None = None) -> list[AssemblyStack]:
    """``config`` synthesized in this process (the project's ``cdk.json`` context when the
    working directory has one), its stacks read back in deploy order."""
    # CDK's own template validation is for the templates a deploy uses (`make synth` keeps
    # it); the estimate only reads properties, and skipping it saves seconds.
    os.environ.setdefault("CDK_VALIDATION", "false")
    import aws_cdk as cdk

    from tapstack.app import build_app

    with tempfile.TemporaryDirectory(prefix="tapstack-cost-") as scratch:
        target = outdir or Path(scratch)
        app = cdk.App(outdir=str(target), context=_project_context())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TapStackConfigWarning)  # check-config reports them
            build_app(config, app=app)
        app.synth()
        return read_cloud_assembly(target)


def _project_context() -> dict[str, Any]:
    context: dict[str, Any] = {}
    for name, key in (("cdk.json", "context"), ("cdk.context.json", None)):
        path = Path(name)
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            context.update(data.get(key, {}) if key else data)
    return context

"""``python -m tapstack_lab.drill`` (``make drill``): run the four phases, print the figures
beside the modelled ones, draw the timeline."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from tapstack_lab.drill.lab import ROOT, Lab
from tapstack_lab.drill.report import MODEL_NOTE, draw, dump, figures, invariants
from tapstack_lab.drill.run import DrillError, run_phases
from tapstack_lab.drill.workload import Workload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tapstack_lab.drill", description=__doc__)
    parser.add_argument(
        "--config",
        default=str(ROOT / "config" / "default.yaml"),
        help="the configuration whose health check, threshold and regions apply",
    )
    parser.add_argument("--out", default="drill-out", help="directory for the PNG and logs")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="time scale (1: the configured seconds; 0.2: five times faster, "
        "figures reported divided by it)",
    )
    parser.add_argument("--quiet", action="store_true", help="hide the commands' own output")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # The previous run's lab (its servers' set-aside data directories: ~130 MB a run).
    shutil.rmtree(out / "lab", ignore_errors=True)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    log = open(out / "commands.log", "w") if args.quiet else None  # noqa: SIM115 - for the run
    commands = Console(file=log, width=120 if log else None)
    console.print(f"[bold]{MODEL_NOTE}[/]", soft_wrap=True)
    began = time.monotonic()
    with Lab(out / "lab", config_path=Path(args.config), scale=args.scale) as lab:
        workload = Workload(lab)
        workload.start()
        try:
            result = run_phases(lab, workload, commands, say=console.print)
        except DrillError as error:
            console.print(f"[bold red]drill failed:[/] {error}")
            return 1
        finally:
            workload.stop()
        png = out / "timeline.png"
        draw(lab, workload, result, png)
        dump(lab, workload, result, out / "timeline.json")
    console.print(figures(result))
    console.print(invariants(result))
    logged = f"; the commands' own output: {out / 'commands.log'}" if args.quiet else ""
    console.print(
        f"timeline: {png}; every sample: {out / 'timeline.json'}{logged}; the whole drill "
        f"took {time.monotonic() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

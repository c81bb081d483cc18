#!/usr/bin/env python3
"""Benchmark a cold ``make synth``: what it costs, and where the time goes.

    python bench/synth.py                 # 5 rounds of every variant, then the phase breakdown
    python bench/synth.py -n 9 --variants before,after
    python bench/synth.py --no-phases

Every run is a fresh process tree (CDK CLI -> Python app -> jsii's Node kernel) with its
output directory removed first, so nothing is reused between runs except what a developer's
machine also keeps: Python bytecode, jsii's package cache (~/.cache/aws/jsii) and the CLI's
cache (~/.cdk). The variants run interleaved, in a shuffled order each round, so load from
other processes on a shared machine spreads over all of them; the table gives the median and
minimum of wall-clock time and of CPU time (user+sys of the whole process tree), which is
less sensitive to that load than wall time.

Variants:

    before     ``cdk synth --quiet`` as ``make synth`` ran it before issue 10: CLI notices and
               telemetry on
    after      ``cdk synth --quiet`` as ``make synth`` runs it now (the Makefile's synth recipe,
               cdk.json)
    app        the app alone (``python app.py``) with the environment the CLI gives it: the
               difference to ``after`` is the CLI's own cost
    app-no-traces      the app without construct stack traces (``aws:cdk:disable-stack-trace``)
    semi-space         ``after`` with a larger young generation for Node (fewer scavenges)
    no-cfn-validate    ``after`` without CDK's built-in CloudFormation validation
                       (``CDK_VALIDATION=false``). This DROPS A POLICY GATE: for diagnosis only.
                       (Setting ``@aws-cdk/core:validateAgainstDefaultRules`` to false would not
                       save this time: the plugin still runs, its errors become warnings.)

Each synthesis is checked: both cdk-nag packs must appear in cdk.out/validation-report.json
with conclusion "success".

The phase breakdown runs the app in-process (``--child``) with jsii's kernel instrumented:
time per phase, time the Python side spent waiting for Node, and the synthesis repeated
without the policy gates to attribute ``app.synth()`` to template synthesis, cdk-nag (both
packs) and CDK's built-in CloudFormation validation (the ``@aws-cdk/core:
validateAgainstDefaultRules`` gate). Those gate-less runs are measurements only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
CDK = ROOT / "node_modules" / ".bin" / "cdk"
PACKS = ("AwsSolutions", "NIST.800.53.R5")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    # As the Makefile does: Node 24 from the virtualenv, the project's CDK CLI.
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env['PATH']}"
    env.pop("CDK_CONTEXT_JSON", None)
    return env


def cli_context() -> dict:
    """The context the CLI hands the app: cdk.json's, then cdk.context.json's."""
    context = dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}))
    cached = ROOT / "cdk.context.json"
    if cached.exists():
        context.update(json.loads(cached.read_text()))
    context.update(
        {
            "aws:cdk:enable-path-metadata": True,
            "aws:cdk:enable-asset-metadata": True,
            "aws:cdk:version-reporting": True,
            "aws:cdk:bundling-stacks": ["**"],
        }
    )
    return context


def make_synth_env() -> dict[str, str]:
    """The variables the Makefile's synth recipe sets for the CLI (``VAR=value $(CDK) synth``)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    recipe = lines[next(i for i, line in enumerate(lines) if line.startswith("synth:")) + 1]
    out: dict[str, str] = {}
    for word in recipe.split():
        if word.startswith("$(CDK)"):
            break
        key, sep, value = word.partition("=")
        if sep:
            out[key] = value
    return out


def variants() -> dict[str, tuple[list[str], dict[str, str]]]:
    python = str(VENV_BIN / "python")
    cli = [str(CDK), "synth", "--quiet"]
    return {
        # Today's cdk.json may switch notices off; --notices and an empty telemetry
        # override restore the old behaviour whatever the files say now.
        "before": (cli + ["--notices"], {"CDK_DISABLE_CLI_TELEMETRY": ""}),
        "after": (cli, make_synth_env()),
        "app": (
            [python, "app.py"],
            {"CDK_CONTEXT_JSON": json.dumps(cli_context()), "CDK_DEFAULT_REGION": "us-east-1"},
        ),
        # The CLI refuses user context under aws:, so this one runs the app alone.
        "app-no-traces": (
            [python, "app.py"],
            {
                "CDK_CONTEXT_JSON": json.dumps(
                    {**cli_context(), "aws:cdk:disable-stack-trace": True}
                ),
                "CDK_DEFAULT_REGION": "us-east-1",
            },
        ),
        # Single knobs, measured on their own (not all of them are applied):
        "semi-space": (cli, {**make_synth_env(), "NODE_OPTIONS": "--max-semi-space-size=32"}),
        # Drops a policy gate (CDK's built-in CloudFormation validation): diagnosis only.
        "no-cfn-validate": (cli, {**make_synth_env(), "CDK_VALIDATION": "false"}),
    }


def run_once(argv: list[str], extra_env: dict[str, str], outdir: Path) -> tuple[float, float]:
    shutil.rmtree(outdir, ignore_errors=True)
    env = base_env()
    env.update(extra_env)
    if argv[0] == str(CDK):
        argv = [*argv, "--output", str(outdir)]
    else:
        env["CDK_OUTDIR"] = str(outdir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    check_gates(outdir)
    return wall, cpu


def check_gates(outdir: Path) -> None:
    report = json.loads((outdir / "validation-report.json").read_text())
    ran = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    for pack in PACKS:
        if ran.get(pack) != "success":
            sys.exit(f"policy gate {pack} did not run or failed: {ran}")
    stacks = [
        a
        for a, v in json.loads((outdir / "manifest.json").read_text())["artifacts"].items()
        if v["type"] == "aws:cloudformation:stack"
    ]
    if len(stacks) != 4:
        sys.exit(f"expected 4 stacks, got {stacks}")


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} {min(values):6.2f}"


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{(max(values) - min(values)) / med * 100:4.0f}%"


def bench(names: list[str], rounds: int) -> dict[str, dict[str, list[float]]]:
    table = variants()
    results: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in names}
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        for r in range(rounds):
            order = names[:]
            random.shuffle(order)
            for name in order:
                argv, env = table[name]
                wall, cpu = run_once(argv, env, Path(tmp) / "cdk.out")
                results[name]["wall"].append(wall)
                results[name]["cpu"].append(cpu)
                print(
                    f"  round {r + 1}/{rounds} {name:8s} wall {wall:6.2f} s  cpu {cpu:6.2f} s",
                    file=sys.stderr,
                )
    print(f"\ncold synth, {rounds} runs each (seconds; spread = (max-min)/median of wall)")
    print(
        f"{'variant':10s} {'wall med':>8s} {'min':>6s} {'cpu med':>8s} {'min':>6s} {'spread':>7s}"
    )
    for name in names:
        res = results[name]
        print(f"{name:10s} {fmt(res['wall'])}   {fmt(res['cpu'])}   {spread(res['wall'])}")
    return results


# --- phase breakdown (in-process, instrumented) ---------------------------------------

CHILD_MODES = {
    # mode: (register cdk-nag packs, CDK built-in CloudFormation validation)
    "gates": (True, True),
    "nag-only": (True, False),
    "no-gates": (False, False),
}


def child(outdir: str, mode: str) -> None:
    t_start = time.perf_counter()
    from jsii._kernel.providers import process as kernel_process

    waits = {"node": 0.0, "requests": 0}
    send, next_message = kernel_process._NodeProcess.send, kernel_process._NodeProcess._next_message

    def timed_send(self, request, response_type):  # type: ignore[no-untyped-def]
        waits["requests"] += 1
        return send(self, request, response_type)

    def timed_next(self):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return next_message(self)
        finally:
            waits["node"] += time.perf_counter() - t

    # setattr rather than assignment: mypy refuses assigning to a method (B010 prefers it).
    setattr(kernel_process._NodeProcess, "send", timed_send)  # noqa: B010
    setattr(kernel_process._NodeProcess, "_next_message", timed_next)  # noqa: B010
    nag, builtin = CHILD_MODES[mode]
    if not builtin:
        os.environ["CDK_VALIDATION"] = "false"
    phases: dict[str, float] = {}
    t = time.perf_counter()
    import aws_cdk as cdk

    phases["import aws_cdk (jsii kernel start, aws-cdk-lib load)"] = time.perf_counter() - t
    sys.path.insert(0, str(ROOT))
    t = time.perf_counter()
    import tapstack.app
    import tapstack.config
    from tapstack.loader import infrastructure as loader_infra

    phases["import tapstack (+ cdk-nag load)"] = time.perf_counter() - t
    if not nag:  # measurement only
        tapstack.app.register_policy_packs = lambda app: None  # type: ignore[attr-defined]
    bundling = {"s": 0.0}
    for klass in vars(loader_infra).values():  # the ILocalBundling of the loader asset
        if (
            isinstance(klass, type)
            and klass.__module__ == loader_infra.__name__  # not aws_cdk's ILocalBundling itself
            and "try_bundle" in vars(klass)
        ):
            try_bundle = vars(klass)["try_bundle"]

            def timed_bundle(self, *args, _orig=try_bundle, **kw):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                try:
                    return _orig(self, *args, **kw)
                finally:
                    bundling["s"] += time.perf_counter() - t

            setattr(klass, "try_bundle", timed_bundle)  # noqa: B010
    os.environ["CDK_CONTEXT_JSON"] = json.dumps(cli_context())
    t = time.perf_counter()
    app = cdk.App(outdir=outdir)
    config = tapstack.config.load_config(str(ROOT / "config" / "default.yaml"))
    tapstack.app.build_app(config, app=app)
    phases["build_app (constructs)"] = time.perf_counter() - t
    t = time.perf_counter()
    app.synth()
    phases["app.synth()"] = time.perf_counter() - t
    phases["in-process total"] = time.perf_counter() - t_start
    print(
        json.dumps(
            {
                "phases": phases,
                "node_wait": waits["node"],
                "requests": waits["requests"],
                "bundling_callback": bundling["s"],
            }
        )
    )


def phase_breakdown(rounds: int) -> None:
    samples: dict[str, list[dict]] = {m: [] for m in CHILD_MODES}
    walls: dict[str, list[float]] = {m: [] for m in CHILD_MODES}
    with tempfile.TemporaryDirectory(prefix="synth-phases-") as tmp:
        for r in range(rounds):
            order = list(CHILD_MODES)
            random.shuffle(order)
            for mode in order:
                outdir = Path(tmp) / "cdk.out"
                shutil.rmtree(outdir, ignore_errors=True)
                start = time.perf_counter()
                proc = subprocess.run(
                    [str(VENV_BIN / "python"), __file__, "--child", str(outdir), mode],
                    cwd=ROOT,
                    env=base_env(),
                    capture_output=True,
                    text=True,
                )
                walls[mode].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    sys.exit(f"child {mode} failed:\n{proc.stderr[-3000:]}")
                samples[mode].append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(f"  phases round {r + 1}/{rounds} {mode}", file=sys.stderr)

    def med(mode: str, key: str, sub: str | None = None) -> float:
        vals = [(s[key][sub] if sub else s[key]) for s in samples[mode]]
        return statistics.median(vals)

    print(f"\nphases of one synth (python app in-process, median of {rounds}; seconds)")
    for key in samples["gates"][0]["phases"]:
        print(f"  {key:55s} {med('gates', 'phases', key):6.2f}")
    wall = statistics.median(walls["gates"])
    print(f"  {'process wall (interpreter start/exit, kernel stop)':55s} {wall:6.2f}")
    print(f"  {'of the in-process total: waiting for Node':55s} {med('gates', 'node_wait'):6.2f}")
    print(f"  {'jsii kernel requests':55s} {med('gates', 'requests'):6.0f}")
    print(
        f"  {'loader asset: local bundling callback (Python)':55s} "
        f"{med('gates', 'bundling_callback'):6.2f}"
    )
    synth = {m: med(m, "phases", "app.synth()") for m in CHILD_MODES}
    print("  app.synth() split:")
    print(f"    {'templates, assets, tree, manifest':53s} {synth['no-gates']:6.2f}")
    print(
        f"    {'cdk-nag AwsSolutions + NIST 800-53 R5':53s} "
        f"{synth['nag-only'] - synth['no-gates']:6.2f}"
    )
    print(
        f"    {'CDK built-in CloudFormation validation (WASM)':53s} "
        f"{synth['gates'] - synth['nag-only']:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=5)
    parser.add_argument("--variants", default="before,after,app,no-cfn-validate")
    parser.add_argument("--phase-rounds", type=int, default=3)
    parser.add_argument("--no-phases", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("OUTDIR", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    names = args.variants.split(",")
    unknown = set(names) - set(variants())
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {sorted(variants())}")
    print(
        f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr
    )
    bench(names, args.rounds)
    if not args.no_phases:
        phase_breakdown(args.phase_rounds)
    print(f"\nload average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

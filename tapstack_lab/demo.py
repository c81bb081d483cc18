"""``make demo`` (``python -m tapstack_lab``): try TapStack without an AWS account.

One command, every step timed:

1. setup      the project-local CDK CLI is there (``npm ci`` if it is not);
2. synth      ``cdk synth`` into ``cdk.out/`` - skipped when the assembly there was
              synthesized by the demo from identical inputs;
3. emulator   moto on 127.0.0.1, a free port, in a child process owned by this command
              (``tapstack_lab.emulator``);
4. deploy     the real ``cdk bootstrap`` and ``cdk deploy --all --method=direct`` against it
              (``tapstack_lab.deploy``, through the product's ``tapstack.cdk_cli``); outputs to
              ``cfn-outputs/outputs.json`` (``cdk deploy --outputs-file``);
5. verify     the integration suite (``tests/integration``) against the deployment;
6. data path  a sample JSON Lines file through the loader into a local MariaDB
              (``tapstack_lab.datapath``);

then a summary: stacks, resources by type, what the emulator did not emulate (read back from
the deployment), endpoints, the Route 53 failover records and their health checks, and the
modelled failover figures.

The emulator and every process the demo starts stop when it ends - on success, failure,
Ctrl-C or SIGTERM - unless ``--keep`` is given, which leaves the emulator running and prints
how to point the AWS CLI at it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import xml.etree.ElementTree as ET  # our own pytest's JUnit report
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tapstack import process
from tapstack.assembly import read_cloud_assembly
from tapstack.aws import client_factory
from tapstack.cdk_cli import (
    DEFAULT_OUTPUTS_FILE,
    VENV_BIN,
    progress_message,
    tool_environment,
)
from tapstack.cli import failover_table
from tapstack.config import TapStackConfig, locate_config
from tapstack.reporting import load_config_or_report
from tapstack_lab import deploy as deployer
from tapstack_lab.emulator import CREDENTIALS, Emulator, EmulatorError

ROOT = deployer.ROOT
OUTPUTS_FILE_NAME = DEFAULT_OUTPUTS_FILE.name
#: deploy + verify should stay under this on a 2-core machine (measured and reported).
TARGET_SECONDS = 60.0
WORK_DIR = ROOT / ".tapstack" / "demo"


# ---------------------------------------------------------------------------
# Phases and their timings
# ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    status: str = "pending"  # ran | skipped | failed | interrupted | pending
    seconds: float = 0.0
    note: str = ""


@dataclass
class Timings:
    phases: dict[str, Phase] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        phase = self.phases.setdefault(name, Phase(name))
        started = time.monotonic()
        try:
            yield phase
        except KeyboardInterrupt:
            phase.status = "interrupted"
            raise
        except BaseException:
            phase.status = "failed"
            raise
        else:
            if phase.status == "pending":
                phase.status = "ran"
        finally:
            phase.seconds = time.monotonic() - started

    def seconds(self, *names: str) -> float:
        return sum(self.phases[n].seconds for n in names if n in self.phases)

    def table(self) -> Table:
        table = Table(title="Phase timings")
        table.add_column("phase")
        table.add_column("status")
        table.add_column("seconds", justify="right")
        table.add_column("note")
        colours = {"ran": "green", "skipped": "cyan", "failed": "red", "interrupted": "yellow"}
        for phase in self.phases.values():
            colour = colours.get(phase.status, "white")
            table.add_row(
                phase.name, f"[{colour}]{phase.status}[/]", f"{phase.seconds:.1f}", phase.note
            )
        deployed = self.phases.get("deploy", Phase("deploy")).status == "ran"
        verified = self.phases.get("verify", Phase("verify")).status in ("ran", "failed")
        if deployed and verified:
            both = self.seconds("deploy", "verify")
            verdict = "[green]within[/]" if both <= TARGET_SECONDS else "[red]over[/]"
            table.add_row(
                "deploy + verify",
                "",
                f"{both:.1f}",
                f"{verdict} the {TARGET_SECONDS:.0f} s target (after synthesis)",
                style="bold",
            )
        return table


class DemoFailure(Exception):
    """A phase failed; the message says which and why (already printed in detail)."""


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options."""
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="cloud assembly")
    parser.add_argument(
        "--outputs-dir", type=Path, default=ROOT / "cfn-outputs", help="where outputs go"
    )
    synth = parser.add_mutually_exclusive_group()
    synth.add_argument(
        "--synth", action="store_true", help="synthesize even when cdk.out/ is up to date"
    )
    synth.add_argument(
        "--no-synth", action="store_true", help="deploy the assembly in --cdk-out as it is"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the emulator running afterwards and print how to use it",
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    parser.add_argument(
        "--skip-tests", action="store_true", help="do not run the integration suite"
    )
    parser.add_argument(
        "--skip-data-path", action="store_true", help="do not run the sample data through"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tapstack_lab", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--config",
        default=None,
        help="configuration file (default: $TAPSTACK_CONFIG, else config/default.yaml)",
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tapstack_lab [options]``; returns the exit status."""
    args = build_parser().parse_args(argv)
    args.config = str(locate_config(args.config))
    try:
        with demo_lock(WORK_DIR.parent / "demo.lock"):
            return run(args)
    except DemoBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1


class DemoBusy(RuntimeError):
    """Another demo runs from this project: they would overwrite each other's outputs."""


@contextmanager
def demo_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the demo runs; released by the kernel when
    the process ends, however it ends, so a crashed demo never leaves a stale lock."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DemoBusy(
                f"a demo is already running from {ROOT} ({holder}); it would overwrite "
                "cdk.out/ and cfn-outputs/: wait for it, or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run the demo for parsed ``args`` (needs ``config`` and the ``add_arguments`` options)."""
    console = console or Console(width=max(Console().width, 110))
    args.config = str(Path(args.config).resolve())  # the CDK CLI runs in the project root
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    timings = Timings()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_hup = signal.signal(signal.SIGHUP, _raise_interrupt)
    emulator: Emulator | None = None
    keep = False
    interrupted = False
    status = 1
    try:
        _setup(timings, console)
        _synth(args, config, timings, console)
        emulator = _start_emulator(args, config, timings, console)
        result = _deploy(args, emulator, timings, console)
        ok_tests = _verify(args, emulator, config, timings, console)
        ok_data = _data_path(args, emulator, config, result, timings, console)
        _summary(console, config, emulator, result, timings)
        status = 0 if ok_tests and ok_data else 1
        keep = args.keep
    except DemoFailure as failure:
        console.print(f"\n[bold red]demo failed:[/] {escape(str(failure))}", highlight=False)
        keep = args.keep and emulator is not None
    except KeyboardInterrupt:
        interrupted = True
        console.print("\n[yellow]interrupted: stopping the emulator and its processes[/]")
        status = 130
    finally:
        with process.sigint_deferred():  # a second Ctrl-C must not leave the emulator behind
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if emulator is not None:
                if keep and not interrupted:
                    _print_keep(console, emulator, config)
                    emulator.release()
                else:
                    emulator.stop()
            signal.signal(signal.SIGTERM, previous_term)
            signal.signal(signal.SIGHUP, previous_hup)
        if timings.phases and (status != 0 or interrupted):
            console.print(timings.table())
    return status


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _status_updater(console: Console, title: str) -> tuple[Any, Callable[[str], None]]:
    status = console.status(f"[bold]{title}[/]")

    def on_line(line: str) -> None:
        message = progress_message(line)
        if message:
            status.update(f"[bold]{title}[/] {message}")

    return status, on_line


def _setup(timings: Timings, console: Console) -> None:
    with timings.phase("setup") as phase:
        node = VENV_BIN / "node"
        if (ROOT / "node_modules" / ".bin" / "cdk").exists() and node.exists():
            phase.status = "skipped"
            phase.note = "CDK CLI and Node 24 present"
            return
        npm = VENV_BIN / "npm"
        if not npm.exists():
            raise DemoFailure(
                "the CDK CLI and Node 24 are missing and there is no npm in the virtualenv: "
                "run `make setup`"
            )
        with console.status("[bold]setup[/] npm ci (the project-local CDK CLI)"):
            result = process.run(
                [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                env=tool_environment(),
                cwd=ROOT,
            )
        if not result.ok:
            raise DemoFailure(f"npm ci failed:\n{result.tail()}")
        phase.note = "npm ci"


def _synth(
    args: argparse.Namespace, config: TapStackConfig, timings: Timings, console: Console
) -> None:
    with timings.phase("synth") as phase:
        if getattr(args, "no_synth", False):
            if not (Path(args.cdk_out) / "manifest.json").exists():
                raise DemoFailure(f"--no-synth: {args.cdk_out} holds no cloud assembly")
            phase.status = "skipped"
            phase.note = f"--no-synth: {_relative(args.cdk_out)}"
        else:
            status, on_line = _status_updater(console, "cdk synth")
            with status, (WORK_DIR / "synth.log").open("w") as log:
                try:
                    result = deployer.synthesize(
                        args.cdk_out,
                        config_path=args.config,
                        force=args.synth,
                        log=log,
                        on_line=on_line,
                    )
                except deployer.DeployError as error:
                    console.print(Text(error.output_tail))
                    raise DemoFailure(f"{error} (log: {WORK_DIR / 'synth.log'})") from None
            phase.status = "ran" if result.ran else "skipped"
            phase.note = f"{result.reason}: {_relative(args.cdk_out)}"
    stacks = read_cloud_assembly(args.cdk_out)
    console.print(
        f"[green]✓[/] {phase.status} synth ({phase.seconds:.1f} s, {phase.note}): "
        f"{len(stacks)} stacks",
        highlight=False,
    )


def _start_emulator(
    args: argparse.Namespace, config: TapStackConfig, timings: Timings, console: Console
) -> Emulator:
    with timings.phase("emulator start") as phase, console.status("[bold]starting the emulator"):
        workdir = None  # a temporary directory, removed with the emulator
        if args.keep:  # the log and journal stay next to the project
            workdir = ROOT / ".tapstack" / "emulator"
            for stale in (workdir / "journal.jsonl", workdir / "emulator.log"):
                stale.unlink(missing_ok=True)
        emulator = Emulator(
            port=args.port, account=config.account, workdir=workdir, detached=args.keep
        )
        try:
            emulator.start()
        except EmulatorError as error:
            raise DemoFailure(str(error)) from None
        phase.note = f"moto {_moto_version()} at {emulator.endpoint} (pid {emulator.pid})"
    console.print(f"[green]✓[/] emulator ({phase.seconds:.1f} s): {phase.note}", highlight=False)
    return emulator


def _deploy(
    args: argparse.Namespace, emulator: Emulator, timings: Timings, console: Console
) -> deployer.EmulatorDeployment:
    log_path = WORK_DIR / "cdk-deploy.log"
    with timings.phase("deploy") as phase:
        status, on_line = _status_updater(console, "cdk bootstrap + deploy")
        with status, log_path.open("w") as log:
            try:
                result = deployer.deploy_to_emulator(
                    emulator.environment(),
                    args.cdk_out,
                    log=log,
                    on_line=on_line,
                    outputs_file=args.outputs_dir / OUTPUTS_FILE_NAME,
                )
            except deployer.DeployError as error:
                _print_deploy_failure(console, error, log_path, emulator)
                raise DemoFailure(f"deployment failed: {error}") from None
        phase.note = (
            f"bootstrap {result.bootstrap_seconds:.1f} s, cdk deploy {result.deploy_seconds:.1f}"
            f" s, read back {result.collect_seconds:.1f} s"
        )
    console.print(
        f"[green]✓[/] deployed {len(result.stacks)} stacks ({phase.seconds:.1f} s: {phase.note});"
        f" outputs in {_relative(args.outputs_dir / OUTPUTS_FILE_NAME)}",
        highlight=False,
    )
    return result


def _print_deploy_failure(
    console: Console, error: deployer.DeployError, log_path: Path, emulator: Emulator
) -> None:
    console.print(f"\n[bold red]{escape(str(error))}[/]", highlight=False)
    if error.failures:
        table = Table(title="What failed", title_style="bold red")
        table.add_column("stack")
        table.add_column("region")
        table.add_column("resource")
        table.add_column("type")
        table.add_column("reason", overflow="fold")
        for failure in error.failures:
            table.add_row(
                failure.stack,
                failure.region,
                failure.logical_id or "-",
                failure.resource_type or "-",
                escape(failure.reason),
            )
        console.print(table)
    if error.output_tail:
        tail = "\n".join(error.output_tail.splitlines()[-15:])
        console.print(Panel(Text(tail), title="CDK CLI output (tail)"))
    kept_log = WORK_DIR / "emulator.log"
    kept_log.write_text(emulator.log_tail(limit=1_000_000))  # its directory goes with it
    console.print(
        f"CDK CLI log: {_relative(log_path)}; emulator log: {_relative(kept_log)}",
        highlight=False,
    )


def _verify(
    args: argparse.Namespace,
    emulator: Emulator,
    config: TapStackConfig,
    timings: Timings,
    console: Console,
) -> bool:
    if args.skip_tests:
        timings.phases["verify"] = Phase("verify", "skipped", 0.0, "--skip-tests")
        return True
    report = WORK_DIR / "integration.xml"
    log_path = WORK_DIR / "integration.log"
    env = tool_environment(emulator.environment(config.primary.region))
    env |= {
        "TAPSTACK_INTEGRATION_TARGET": "emulator",
        "TAPSTACK_OUTPUTS_DIR": str(args.outputs_dir),
        "TAPSTACK_CONFIG": str(Path(args.config).resolve()),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "tests" / "integration"),
        "-m",
        "integration",
        "-q",
        "-rfEs",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        # Tests of the emulator tooling itself (they start emulators of their own) are part
        # of `make test`; the demo verifies the deployment.
        f"--ignore={ROOT / 'tests' / 'integration' / 'test_local_emulator.py'}",
    ]
    with timings.phase("verify") as phase:
        counter = {"done": 0}
        status = console.status("[bold]integration suite")

        def on_line(line: str) -> None:
            progress = line.split(" ", 1)[0]
            if progress and set(progress) <= set(".sFEx"):
                counter["done"] += len(progress)
                status.update(f"[bold]integration suite[/] {counter['done']} tests run")

        with status, log_path.open("w") as log:
            result = process.run(command, env=env, cwd=ROOT, log=log, on_line=on_line)
        outcome = _junit(report)
        phase.note = (
            f"{outcome['passed']} passed, {outcome['failed']} failed, "
            f"{outcome['skipped']} skipped (emulator-only)"
        )
        if not result.ok:
            phase.status = "failed"
    colour = "green" if result.ok else "red"
    mark = "✓" if result.ok else "✗"
    console.print(
        f"[{colour}]{mark}[/] integration suite ({phase.seconds:.1f} s): {phase.note}",
        highlight=False,
    )
    if outcome["skips"]:
        grouped: dict[str, list[str]] = {}
        for name, reason in outcome["skips"]:
            grouped.setdefault(reason, []).append(name)
        skips = Table(title="Skipped in emulator mode only (these checks run on AWS)")
        skips.add_column("not emulated")
        skips.add_column("tests", overflow="fold")
        for reason, names in grouped.items():
            skips.add_row(escape(reason), escape(", ".join(names)))
        console.print(skips)
    if not result.ok:
        console.print(Panel(Text(result.tail(60)), title="pytest (tail)"))
        console.print(f"full log: {_relative(log_path)}", highlight=False)
    return result.ok


def _junit(path: Path) -> dict[str, Any]:
    outcome: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "skips": []}
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - written by our own pytest run
    except (OSError, ET.ParseError):
        return outcome
    for case in root.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            outcome["skipped"] += 1
            reason = (skipped.get("message") or "").removeprefix("emulator: ")
            outcome["skips"].append((case.get("name", "?"), reason))
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome["failed"] += 1
        else:
            outcome["passed"] += 1
    return outcome


# ---------------------------------------------------------------------------
# Data path (kept in one function: it is the only step that knows the loader's interface)
# ---------------------------------------------------------------------------


def _data_path(
    args: argparse.Namespace,
    emulator: Emulator,
    config: TapStackConfig,
    result: deployer.EmulatorDeployment,
    timings: Timings,
    console: Console,
) -> bool:
    if args.skip_data_path:
        timings.phases["data path"] = Phase("data path", "skipped", 0.0, "--skip-data-path")
        return True
    from tapstack_lab.datapath import SAMPLE_INVALID, SAMPLE_VALID, run_data_path
    from tapstack_lab.mariadb import MariaDBNotInstalledError

    region = config.primary.region
    outputs = result.deployment.flat_outputs()
    bucket = (
        outputs.get("PrimaryDataBucketName") or f"{config.prefix}-data-{config.account}-{region}"
    )
    client = client_factory(emulator.environment())
    with timings.phase("data path") as phase:
        try:
            with console.status("[bold]data path[/] S3 -> loader -> MariaDB"):
                loaded = run_data_path(
                    client("s3", region),
                    bucket=bucket,
                    region=region,
                    database=config.database.database_name,
                    loader_user=config.loader.database_user,
                )
        except MariaDBNotInstalledError as error:
            phase.status = "failed"
            phase.note = str(error)
            console.print(
                f"[bold red]data path failed:[/] {escape(str(error))} (`make setup` installs it)",
                highlight=False,
            )
            return False
        except Exception as error:  # reported, the demo exits non-zero
            phase.status = "failed"
            phase.note = f"{type(error).__name__}: {error}"
            console.print(f"[bold red]data path failed:[/] {escape(phase.note)}", highlight=False)
            return False
        phase.note = f"{loaded.inserted} inserted, {loaded.rejected} rejected"
    table = Table(title="Data path: S3 -> loader -> MySQL (MariaDB locally)")
    table.add_column("step")
    table.add_column("result", overflow="fold")
    table.add_row("uploaded", f"s3://{loaded.bucket}/{loaded.key} ({loaded.lines} lines)")
    table.add_row("S3 event", "ObjectCreated:Put, run in-process by the loader")
    table.add_row("object", loaded.status)
    table.add_row(
        "rows inserted", f"[green]{loaded.inserted}[/] (table now holds {loaded.rows_in_table})"
    )
    table.add_row(
        "rejected records",
        f"[yellow]{loaded.rejected}[/] -> s3://{loaded.bucket}/{loaded.report_key}",
    )
    for item in loaded.report:
        number = item.get("line", item.get("record_number"))
        table.add_row(f"  line {number}", escape(str(item.get("reason"))))
    table.add_row("same event again", escape(loaded.redelivery))
    table.add_row(
        "database",
        f"MariaDB {loaded.server.split('-')[1] if '-' in loaded.server else loaded.server}",
    )
    console.print(table)
    expected = {
        "object status": ("loaded", loaded.status),
        "rows inserted": (SAMPLE_VALID, loaded.inserted),
        "rows in the table": (SAMPLE_VALID, loaded.rows_in_table),
        "records rejected": (SAMPLE_INVALID, loaded.rejected),
        "redelivery": ("skipped", loaded.redelivery.split(":", 1)[0]),
    }
    wrong = {what: pair for what, pair in expected.items() if pair[0] != pair[1]}
    for what, (want, got) in wrong.items():
        console.print(f"[bold red]data path:[/] {what}: expected {want!r}, got {got!r}")
    return not wrong


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------


def _summary(
    console: Console,
    config: TapStackConfig,
    emulator: Emulator,
    result: deployer.EmulatorDeployment,
    timings: Timings,
) -> None:
    deployment = result.deployment
    stacks = Table(title=f"TapStack {config.prefix}: deployed to the emulator (deploy order)")
    stacks.add_column("#", justify="right")
    stacks.add_column("stack")
    stacks.add_column("region")
    stacks.add_column("status")
    stacks.add_column("created", justify="right")
    stacks.add_column("not emulated", justify="right")
    for index, stack in enumerate(deployment.stacks, 1):
        colour = "green" if stack.complete else "red"
        stacks.add_row(
            str(index),
            stack.name,
            stack.region,
            f"[{colour}]{stack.status}[/]",
            str(sum(stack.created_by_type().values())),
            str(len(stack.not_emulated)) or "-",
        )
    console.print(stacks)

    by_type = Table(title="Resources created, by type")
    by_type.add_column("type")
    for stack in deployment.stacks:
        by_type.add_column(stack.name.removeprefix(f"{config.prefix}-"), justify="right")
    counts = {stack.name: stack.created_by_type() for stack in deployment.stacks}
    for rtype in sorted(deployment.created_by_type()):
        by_type.add_row(rtype, *(str(counts[s.name].get(rtype, "")) for s in deployment.stacks))
    console.print(by_type)

    missing = Table(title="Not emulated (in the deployed templates, not created)")
    missing.add_column("type")
    missing.add_column("count", justify="right")
    missing.add_column("stacks")
    for rtype, where in deployment.not_emulated_by_type().items():
        stack_names = sorted({w.split("/")[0].removeprefix(f"{config.prefix}-") for w in where})
        missing.add_row(rtype, str(len(where)), ", ".join(stack_names))
    console.print(missing)

    notes = []
    attributes: dict[str, set[str]] = {}
    for entry in emulator.journal():
        if entry.get("event") == "attribute_not_emulated":
            attributes.setdefault(f"{entry['type']}.{entry['attribute']}", set()).add(
                entry["logical_id"]
            )
    for name, logical_ids in sorted(attributes.items()):
        notes.append(
            f"Fn::GetAtt {name} is not emulated: a placeholder was used ({len(logical_ids)}x)"
        )
    for key, reads in deployment.unresolved_outputs().items():
        notes.append(f"output {key} not resolved ({reads})")
    without_id = deployment.without_physical_id_by_type()
    if without_id:
        notes.append(
            "created without a physical ID (moto's model reports none): "
            + ", ".join(f"{t} x{len(w)}" for t, w in without_id.items())
        )
    if notes:
        console.print(Panel(Text("\n".join(f"• {n}" for n in notes)), title="Emulator notes"))

    console.print(_endpoints(deployment.flat_outputs(), emulator))
    console.print(_failover_records(config, emulator))

    console.print(failover_table(config))
    console.print(timings.table())


def _endpoints(outputs: dict[str, str], emulator: Emulator) -> Table:
    table = Table(title="Endpoints")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("emulator (AWS_ENDPOINT_URL)", emulator.endpoint)
    kinds = (
        ("LoadBalancerDnsName", "load balancer"),
        ("DatabaseEndpoint", "MySQL"),
        ("BucketName", "bucket"),
        ("QueueUrl", "queue"),
        ("Url", "URL"),
        ("FunctionName", "loader function"),
    )
    for key in sorted(outputs):
        for suffix, label in kinds:
            if key.endswith(suffix):
                table.add_row(f"{label} ({key})", escape(outputs[key]))
                break
    return table


def _failover_records(config: TapStackConfig, emulator: Emulator) -> Table:
    table = Table(title=f"Route 53 failover records for {config.dns.fqdn}")
    for column in ("failover", "set identifier", "alias target", "health check"):
        table.add_column(column, overflow="fold")
    client = client_factory(emulator.environment())
    route53 = client("route53", config.primary.region)
    fqdn = config.dns.fqdn.rstrip(".") + "."
    zones = route53.list_hosted_zones_by_name(DNSName=config.dns.domain_name)["HostedZones"]
    zone = next((z for z in zones if z["Name"] == config.dns.domain_name + "."), None)
    if zone is None:
        table.add_row("-", "-", f"no hosted zone {config.dns.domain_name}", "-")
        return table
    records = route53.list_resource_record_sets(
        HostedZoneId=zone["Id"], StartRecordName=fqdn, StartRecordType="A"
    )["ResourceRecordSets"]
    for record in sorted(
        (r for r in records if r["Name"] == fqdn and "Failover" in r), key=lambda r: r["Failover"]
    ):
        check = "-"
        if record.get("HealthCheckId"):
            cfg = route53.get_health_check(HealthCheckId=record["HealthCheckId"])["HealthCheck"][
                "HealthCheckConfig"
            ]
            check = (
                f"{record['HealthCheckId']}: {cfg['Type']} "
                f"{cfg.get('FullyQualifiedDomainName')}:{cfg.get('Port')}"
                f"{cfg.get('ResourcePath', '')} every {cfg.get('RequestInterval')} s, "
                f"{cfg.get('FailureThreshold')} failures"
            )
        alias = record.get("AliasTarget", {})
        table.add_row(
            record["Failover"],
            record.get("SetIdentifier", ""),
            f"{alias.get('DNSName', '')} (evaluate target health: "
            f"{alias.get('EvaluateTargetHealth')})",
            escape(check),
        )
    return table


def _print_keep(console: Console, emulator: Emulator, config: TapStackConfig) -> None:
    region = config.primary.region
    exports = [
        f"export AWS_ENDPOINT_URL={emulator.endpoint}",
        *(f"export {name}={value}" for name, value in CREDENTIALS.items()),
        f"export AWS_DEFAULT_REGION={region} AWS_REGION={region}",
    ]
    lines = [
        f"The emulator keeps running: pid {emulator.pid}, {emulator.endpoint}",
        f"(log: {emulator.log_path}). Point the AWS CLI (or boto3) at it:",
        "",
        *exports,
        "aws cloudformation describe-stacks --query 'Stacks[].[StackName,StackStatus]'",
        f"aws s3 ls s3://{config.prefix}-data-{config.account}-{region}/ --recursive",
        "",
        "Run the integration suite against it:",
        f"  AWS_ENDPOINT_URL={emulator.endpoint} .venv/bin/python -m pytest tests/integration",
        f"Stop it: kill {emulator.pid}",
    ]
    # Plain lines, not a box: they are meant to be copied into a shell.
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _relative(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _moto_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())

"""TapStack's command line: ``python -m tapstack <command>`` (or ``tapstack``).

Commands:
    check-config   validate a configuration file and print what it resolves to
    summary        describe a synthesized app (cdk.out/): stacks, regions,
                   resource counts and the modelled failover figures
    preflight      read-only checks of the target AWS account before `make deploy`: one
                   line per problem with its fix; exit code 1 when there is any
    deploy         deploy every stack to the AWS account in the configuration with the
                   CDK CLI (the dns stack first when the others need its zone's ID);
                   outputs to cfn-outputs/outputs.json (``cdk deploy --outputs-file``)
    bootstrap-database
                   create the loader's schema and IAM database user (once, after
                   the first deploy) by invoking the writer region's loader's bootstrap action
    redrive        after promoting a replica: send that region's loader an event for
                   every object under incoming/ (loaded ones are skipped)
    destroy        delete every stack after typing the environment's name to confirm; in
                   destroy mode empty the buckets and backup vaults first (tapstack.teardown)
    status         where Route 53 sends clients, which database writes, replica lag, loader
                   backlog, alarms in ALARM, configured against actual writer (--json)
    failover       the writer region is lost: make --to REGION the writer (tapstack.operations)
    switchover     planned, no data lost: pause writes, wait for the replica, swap the roles
    failback       the lost region is back: rebuild its database as a replica, restore traffic
    drill          a game day: drain the writer region's traffic, measure the switch, restore
    cost           monthly estimate per resource and region of the configuration, from its
                   synthesized templates and the prices in tapstack/cost/prices.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tapstack.assembly import (
    ForeignAssembly,
    StackSummary,
    read_assembly,
    read_matching_assembly,
)
from tapstack.cdk_cli import DEFAULT_OUTPUTS_FILE, VENV_BIN
from tapstack.config import DEFAULT_CONFIG_PATH, TapStackConfig, locate_config
from tapstack.failover.model import FailoverModel
from tapstack.naming import Names, writer_region
from tapstack.reporting import load_config_or_report


def cmd_check_config(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    if args.json:
        print(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True))
        return 0
    console.print(
        f"[green]ok[/] {args.config}: {config.prefix}, primary {config.primary.region}, "
        f"secondary {config.secondary.region}, record {config.dns.fqdn}, "
        f"removal mode {config.removal_mode.value}"
    )
    return 0


def failover_table(config: TapStackConfig) -> Table:
    table = Table(title="Modelled failover figures")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("derived from")
    for row in FailoverModel.from_config(config).rows():
        table.add_row(*row)
    return table


def cmd_summary(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    try:
        stacks = read_matching_assembly(read_assembly, args.cdk_out, config, args.config)
    except (FileNotFoundError, ForeignAssembly) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 1
    if args.json:
        print(json.dumps(summary_document(config, stacks), indent=2))
        return 0

    overview = Table(title=f"TapStack {config.prefix}: synthesized stacks (deploy order)")
    overview.add_column("#", justify="right")
    overview.add_column("stack")
    overview.add_column("region")
    overview.add_column("resources", justify="right")
    overview.add_column("after")
    for index, stack in enumerate(stacks, 1):
        overview.add_row(
            str(index),
            stack.name,
            stack.region,
            str(stack.resource_total),
            ", ".join(stack.dependencies) or "-",
        )
    console.print(overview)

    counts = Table(title="Resources by type")
    counts.add_column("type")
    for stack in stacks:
        counts.add_column(stack.name.removeprefix(f"{config.prefix}-"), justify="right")
    types: Counter[str] = Counter()
    for stack in stacks:
        types.update(stack.resource_counts)
    for rtype in sorted(types):
        counts.add_row(rtype, *(str(s.resource_counts.get(rtype, 0) or "") for s in stacks))
    console.print(counts)
    console.print(failover_table(config))
    return 0


def summary_document(config: TapStackConfig, stacks: list[StackSummary]) -> dict[str, Any]:
    """What ``summary`` shows, for scripts: stacks in deploy order and the failover figures."""
    return {
        "prefix": config.prefix,
        "stacks": [
            {
                "name": stack.name,
                "region": stack.region,
                "resources": stack.resource_total,
                "after": list(stack.dependencies),
                "resources_by_type": dict(sorted(stack.resource_counts.items())),
            }
            for stack in stacks
        ],
        "failover": [
            {"figure": figure, "value": value, "derived_from": source}
            for figure, value, source in FailoverModel.from_config(config).rows()
        ],
    }


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tapstack")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tapstack", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"tapstack {_version()}")
    config_help = f"configuration file (default: $TAPSTACK_CONFIG, else {DEFAULT_CONFIG_PATH})"
    parser.add_argument("--config", default=None, help=config_help)
    # Also accepted after the subcommand (``tapstack summary --config F``), as aws and cdk do.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = _Subcommands(parser.add_subparsers(dest="command", required=True), common)
    check = sub.add_parser("check-config", help="validate the configuration file")
    check.add_argument(
        "--json", action="store_true", help="print the validated configuration, defaults filled"
    )
    summary = sub.add_parser("summary", help="describe the synthesized app in cdk.out/")
    summary.add_argument("--cdk-out", default="cdk.out", type=Path)
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    preflight_parser = sub.add_parser(
        "preflight",
        help="read-only checks of the target AWS account before a real deploy",
    )
    preflight_parser.add_argument("--cdk-out", default="cdk.out", type=Path)
    deploy_parser = sub.add_parser(
        "deploy",
        help="deploy every stack to the configured AWS account (cdk deploy --outputs-file)",
    )
    deploy_parser.add_argument("--cdk-out", default="cdk.out", type=Path)
    deploy_parser.add_argument(
        "--outputs-file",
        default=str(DEFAULT_OUTPUTS_FILE),
        type=Path,
        help=f"where the stacks' outputs go (default {DEFAULT_OUTPUTS_FILE})",
    )
    deploy_parser.add_argument(
        "--require-approval",
        default="broadening",
        choices=("never", "any-change", "broadening"),
        help="as cdk deploy's option (default broadening: asks before widening IAM or "
        "security groups)",
    )
    redrive_parser = sub.add_parser(
        "redrive",
        help="after promoting a replica, load every object under incoming/ not loaded yet",
    )
    redrive_parser.add_argument("--region", required=True, help="region whose loader to run")
    redrive_parser.add_argument(
        "--dry-run", action="store_true", help="count the objects, invoke nothing"
    )
    sub.add_parser(
        "bootstrap-database",
        help="create the loader's schema and database user (invokes the writer region's loader)",
    )
    destroy_parser = sub.add_parser(
        "destroy",
        help="delete every stack (destroy mode: empty buckets and vaults first), after confirming",
    )
    destroy_parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (CI)"
    )
    _add_operations(sub)
    from tapstack.cost.command import add_parser as add_cost_parser

    add_cost_parser(sub)
    return parser


def _add_operations(sub: _Subcommands) -> None:
    """The failover commands (``tapstack.operations``)."""
    yes = argparse.ArgumentParser(add_help=False)
    yes.add_argument("--yes", action="store_true", help="do not ask before changing anything")
    yes.add_argument("--cdk-out", default="cdk.out", type=Path, help="where to synthesize")
    status = sub.add_parser(
        "status",
        help="where Route 53 sends clients, which database writes, replica lag, loader "
        "backlog, alarms in ALARM, and the configured writer against the actual one",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for name, text in (
        (
            "failover",
            "unplanned: the writer region is lost. Drain it, make REGION the writer in "
            "the configuration, deploy REGION alone (promotes its replica), wait until it is "
            "writable, re-drive the objects the lost region never loaded",
        ),
        (
            "switchover",
            "planned, no data lost: pause writes, wait until REGION's replica has "
            "applied everything, make REGION the writer and deploy it (promotes), rebuild the old "
            "writer as its replica, resume writes",
        ),
    ):
        command = sub.add_parser(name, help=text.split(".")[0], description=text, parents=[yes])
        command.add_argument("--to", required=True, metavar="REGION", help="the new writer region")
        if name == "failover":
            command.add_argument(
                "--force",
                action="store_true",
                help="fail over even though the old writer answers and is writable, or the "
                "replica's replication is in error (its latest writes are lost)",
            )
    sub.add_parser(
        "failback",
        help="the lost region is back: rebuild it as a replica of the writer",
        description="the lost region is back: keep its stale writer as a snapshot, deploy it "
        "alone as a replica of the current writer, restore its traffic; then offer a "
        "switchover back",
        parents=[yes],
    )
    drill = sub.add_parser(
        "drill",
        help="game day: drain the writer region's traffic, measure the switch, restore",
        description="drain the writer region's traffic (Route 53 health check inverted), "
        "measure how long Route 53's answer and the public name take to move, restore it and "
        "measure the way back; no database is touched",
        parents=[yes],
    )
    drill.add_argument("--aws", action="store_true", help="drill on the real AWS deployment")


BOOTSTRAP_EVENT = {"tapstack_action": "bootstrap"}


def invoke_bootstrap(config: TapStackConfig, lambda_client: Any) -> dict[str, Any]:
    """Invoke the writer region's loader's bootstrap action and return its JSON result (the
    schema and users replicate to the standby from there).

    Raises ``RuntimeError`` with the function's error when it fails."""
    function = Names(config, writer_region(config)).loader_function
    response = lambda_client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(BOOTSTRAP_EVENT).encode(),
    )
    body = response["Payload"].read().decode() or "null"
    if response.get("FunctionError"):
        raise RuntimeError(f"{function} failed: {body}")
    result: dict[str, Any] = json.loads(body) or {}
    return result


def cmd_bootstrap_database(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    import boto3

    client = boto3.client("lambda", region_name=writer_region(config))
    try:
        result = invoke_bootstrap(config, client)
    except RuntimeError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 1
    console.print_json(data=result)
    if result.get("status") == "skipped":
        # The writer's database refused writes: nothing was created, and saying "done" would
        # send the operator on to a loader that fails with error 1045.
        console.print(
            f"[bold red]error:[/] the writer region's database is read-only, nothing was "
            f"created: {result.get('reason', '')}",
            soft_wrap=True,
            highlight=False,
        )
        return 1
    return 0


def cmd_redrive(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    regions = [r.region for r in config.regions]
    if args.region not in regions:
        console.print(
            f"[bold red]error:[/] --region {args.region!r} is not one of {', '.join(regions)}",
            soft_wrap=True,
        )
        return 2
    import boto3

    from tapstack.loader.redrive import redrive

    names = Names(config, args.region)
    result = redrive(
        boto3.client("s3", region_name=args.region),
        boto3.client("lambda", region_name=args.region),
        bucket=names.data_bucket,
        function_name=names.loader_function,
        region=args.region,
        dry_run=args.dry_run,
    )
    verb = "would send" if args.dry_run else "sent"
    console.print(
        f"{verb} {result.objects} object(s) in {result.events} event(s) to "
        f"{names.loader_function}; already loaded objects are skipped by the manifest"
    )
    return 0


def cmd_destroy(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    from tapstack import teardown
    from tapstack.aws import client_factory
    from tapstack.cdk_cli import CdkError

    interactive = sys.stdin is not None and sys.stdin.isatty()
    try:
        result = teardown.destroy(
            config,
            clients=client_factory(),
            confirm=input if interactive else None,
            run_cdk=teardown.cdk_runner(args.config, console=console),
            yes=args.yes,
            console=console,
        )
    except (BotoCoreError, ClientError, CdkError, teardown.TeardownError) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 1
    return result.exit_code


def cmd_preflight(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    from tapstack import preflight
    from tapstack.aws import client_factory

    try:
        checks = preflight.Preflight.from_cdk_out(
            config,
            args.cdk_out,
            client_factory(),
            config_source=args.config,
            cdk_json="cdk.json",
        )
    except FileNotFoundError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 1
    result = preflight.run_preflight(checks)
    for line in result.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0 if result.ok else 1


def cmd_deploy(args: argparse.Namespace, console: Console) -> int:
    """``cdk deploy`` every stack of the synthesized assembly to AWS with the ambient
    credentials, the zone's stack first when the others need its ID; ``make deploy`` runs the
    preflight and then this."""
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        console.print(
            f"[bold red]error:[/] AWS_ENDPOINT_URL is set ({endpoint}): `tapstack deploy` "
            "deploys to real AWS; unset it (`make demo` deploys the embedded emulator)",
            soft_wrap=True,
            highlight=False,
        )
        return 2
    from tapstack.assembly import read_cloud_assembly
    from tapstack.cdk_cli import CdkCli, CdkError, deploy_all, tool_environment

    try:
        stacks = read_cloud_assembly(args.cdk_out)
        cdk = CdkCli(
            env=tool_environment(),
            cdk_out=args.cdk_out,
            stacks=stacks,
            on_line=lambda line: console.print(line, markup=False, highlight=False),
            interactive=True,
        )
        outputs = deploy_all(
            cdk,
            deploy_arguments=("--require-approval", args.require_approval),
            outputs_file=args.outputs_file,
        )
    except (FileNotFoundError, CdkError) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        for failure in getattr(exc, "failures", []):
            console.print(f"  {failure.stack}: {failure.reason}", markup=False, soft_wrap=True)
        return 1
    count = sum(len(values) for values in outputs.values())
    console.print(
        f"[green]deployed[/] {len(stacks)} stacks; {count} outputs in {args.outputs_file}"
    )
    return 0


def _operation_session(args: argparse.Namespace, console: Console, config: TapStackConfig) -> Any:
    """The AWS provider and a session for the failover commands (``--yes`` skips asking;
    without a terminal only ``--yes`` proceeds)."""
    from tapstack.aws import client_factory
    from tapstack.cdk_cli import tool_environment
    from tapstack.operations.aws_provider import CdkDeploy, Current, aws_provider
    from tapstack.operations.orchestration import Session

    yes = getattr(args, "yes", False)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    deploy = CdkDeploy(
        Current(config),
        Path(args.config),
        env=tool_environment(),
        cdk_out=getattr(args, "cdk_out", Path("cdk.out")),
        require_approval="never" if yes else "broadening",
        interactive=interactive and not yes,
        on_line=lambda line: console.print(line, markup=False, highlight=False),
    )
    provider = aws_provider(config, client_factory(), deploy=deploy)
    return Session(config, provider, console, confirm=input if interactive else None, yes=yes)


def cmd_operation(args: argparse.Namespace, console: Console) -> int:
    """``status``, ``failover``, ``switchover``, ``failback``, ``drill``: one line, no
    traceback, for an invalid request (exit 2) or an AWS that cannot be reached (exit 1)."""
    from tapstack.operations import orchestration, status
    from tapstack.operations.config_file import ConfigFileError
    from tapstack.operations.provider import ProviderError

    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    regions = (config.primary.region, config.secondary.region)
    if getattr(args, "to", None) is not None and args.to not in regions:
        console.print(
            f"[bold red]error:[/] --to {args.to!r} is not one of the configured regions "
            f"({', '.join(regions)})",
            soft_wrap=True,
        )
        return 2
    if args.command == "drill" and not args.aws:
        console.print("[bold red]error:[/] name the target: drill --aws", soft_wrap=True)
        return 2
    session = _operation_session(args, console, config)
    try:
        if args.command == "status":
            return _print_status(status.collect(config, session.provider), args.json, console)
        run = {
            "failover": lambda: orchestration.failover(session, args.to, force=args.force),
            "switchover": lambda: orchestration.switchover(session, args.to),
            "failback": lambda: orchestration.failback(session),
            "drill": lambda: orchestration.drill(session),
        }[args.command]
        return int(run().exit_code)
    except (orchestration.OperationError, ConfigFileError) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 2
    except ProviderError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        return 1


def _print_status(found: Any, as_json: bool, console: Console) -> int:
    from tapstack.operations import status

    if as_json:
        print(json.dumps(found.to_json(), indent=2, default=str))
    else:
        status.render(found, console)
    return 0


def cmd_cost(args: argparse.Namespace, console: Console) -> int:
    config = load_config_or_report(args.config, console)
    if config is None:
        return 2
    from tapstack.cost.command import run

    return run(args, config, console)


COMMANDS = {
    "check-config": cmd_check_config,
    "cost": cmd_cost,
    "summary": cmd_summary,
    "preflight": cmd_preflight,
    "deploy": cmd_deploy,
    "bootstrap-database": cmd_bootstrap_database,
    "redrive": cmd_redrive,
    "destroy": cmd_destroy,
    "status": cmd_operation,
    "failover": cmd_operation,
    "switchover": cmd_operation,
    "failback": cmd_operation,
    "drill": cmd_operation,
}


class _Subcommands:
    """``add_parser`` that gives every subcommand the options common to all of them."""

    def __init__(self, subparsers: Any, common: argparse.ArgumentParser) -> None:
        self._subparsers = subparsers
        self._common = common

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("description", kwargs.get("help"))
        parents = [self._common, *kwargs.pop("parents", [])]
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name, parents=parents, **kwargs
        )
        return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.config = str(locate_config(args.config))
    # Every child process (the CDK CLI, jsii) runs on the virtualenv's Node 24, never on an
    # end-of-life system Node that prints its deprecation banner.
    os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
    console = Console(width=max(Console().width, 110))
    try:
        return COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    except BrokenPipeError:  # `tapstack summary --json | head`: the reader left, as it may
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # an AWS SDK error a command did not expect: one line, no trace
        message = aws_error_line(exc)
        if message is None:
            raise
        console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
        return 1


def aws_error_line(exc: BaseException) -> str | None:
    """One line for an AWS SDK error (no credentials, an unreachable endpoint, a refused
    call), or ``None`` for anything else (a bug, which keeps its traceback)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
        )
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_REGION or a region in your AWS profile"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())

"""``failover``, ``switchover``, ``failback`` and ``drill``, written once over a
:class:`~tapstack.operations.provider.Provider`.

Each command first checks where things stand, then prints its plan - the numbered steps it
will take - and asks before changing anything (unless ``--yes``). The steps it runs are the
steps it printed. Every wait shows its progress; at the end the command prints a timeline
with the measured duration of each step.

The writer region is configuration: a command changes it in the configuration file (a
one-line diff to commit) and deploys one region's regional stack alone, so CloudFormation
promotes, rebuilds and keeps owning every database.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console

from tapstack.config import TapStackConfig
from tapstack.naming import Names, Slot, stack_name, writer_region
from tapstack.operations.config_file import ConfigChange, ConfigFileError
from tapstack.operations.provider import (
    DatabaseState,
    Provider,
    ProviderError,
    ReplicationJob,
)
from tapstack.operations.timeline import Step, Timeline

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
#: The replica has applied everything once this many consecutive one-minute ReplicaLag
#: datapoints, all after the last write could have happened, are zero.
CONSECUTIVE_ZERO_LAG = 2
#: Shows a prompt and returns the answer (``input``).
Prompt = Callable[[str], str]


class OperationError(RuntimeError):
    """The command cannot (or can no longer) proceed; ``str(error)`` says why in one line."""


@dataclass(frozen=True)
class Timeouts:
    """How long each kind of wait may take, in seconds."""

    writable: float = 45 * 60  # promotion: a backup of the promoted instance, a reboot
    caught_up: float = 30 * 60
    snapshot: float = 2 * 3600
    replica: float = 3 * 3600  # a new cross-region replica copies the whole database
    dns: float = 15 * 60
    #: An S3 Batch Replication job: S3 lists the whole bucket to build its manifest first.
    objects: float = 12 * 3600


@dataclass
class Session:
    """What every command runs with. ``confirm`` is ``None`` when there is no terminal to
    ask on (then only ``yes`` proceeds); ``clock``, ``sleep`` and ``now`` are injectable so
    tests run without waiting."""

    config: TapStackConfig
    provider: Provider
    console: Console
    confirm: Prompt | None = None
    yes: bool = False
    poll_seconds: float = 10.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: The configuration changes made so far (to commit).
    changes: list[ConfigChange] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    @property
    def regions(self) -> tuple[str, str]:
        return self.config.primary.region, self.config.secondary.region

    @property
    def writer(self) -> str:
        return writer_region(self.config)

    def other(self, region: str) -> str:
        return next(r for r in self.regions if r != region)

    def names(self, region: str) -> Names:
        return Names(self.config, region)

    def stack(self, region: str) -> str:
        return stack_name(self.config, self.names(region).slot.value)


@dataclass(frozen=True)
class Action:
    """One step of a plan. ``tolerant``: a :class:`ProviderError` becomes a warning and the
    command goes on. ``undo`` (idempotent: it is registered before the step runs, so it also
    runs after a step that failed half-way) runs when this or a later step fails or the
    command is interrupted, unless a ``final`` step (a point of no return) has started since.
    ``reached``, for a ``final`` step that fails: whether it got past the point of no return
    (``False``: the undos registered before it run after all; an error: unknown, they do
    not). ``stack``: the CloudFormation stack the step deploys."""

    description: str
    run: Callable[[Step], object]
    tolerant: bool = False
    final: bool = False
    undo: Callable[[], object] | None = None
    reached: Callable[[], bool] | None = None
    stack: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A command's exit status and timeline."""

    exit_code: int
    timeline: Timeline


# ---------------------------------------------------------------------------------------
# Running a plan
# ---------------------------------------------------------------------------------------


@dataclass
class _Progress:
    """Where a plan's run stands: the undos that may run, those a running ``final`` step set
    aside, the step running now, and the steps done."""

    undos: list[Action] = field(default_factory=list)
    held: list[Action] = field(default_factory=list)
    running: Action | None = None
    final: Action | None = None
    done: list[Action] = field(default_factory=list)


def execute(session: Session, title: str, actions: list[Action]) -> Outcome:
    """Print the plan, ask, run each action as a timed step, print the timeline. Whatever
    stops the run - a failed step, Ctrl-C, a bug - the undos run (within the point-of-no-
    return rule) and the command says where things stand; Ctrl-C and unexpected exceptions
    propagate afterwards."""
    timeline = Timeline(title, clock=session.clock)
    session.say(f"[bold]{title}[/] will:")
    for index, action in enumerate(actions, 1):
        session.say(f"  {index}. {action.description}")
    if not approved(session):
        return Outcome(EXIT_REFUSED, timeline)
    progress = _Progress()
    try:
        for action in actions:
            _run(session, timeline, action, progress)
    except BaseException as exc:
        expected = isinstance(exc, (ProviderError, OperationError, ConfigFileError))
        interrupted = isinstance(exc, KeyboardInterrupt)
        if interrupted:
            session.say("[bold red]interrupted[/]")
        elif expected:
            session.say(f"[bold red]error:[/] {exc}")
        else:
            session.say(f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc}")
        _stopped(session, timeline, progress, interrupted=interrupted)
        _finish(session, timeline)
        if not expected:
            raise
        return Outcome(EXIT_FAILED, timeline)
    _finish(session, timeline)
    return Outcome(EXIT_OK, timeline)


def _stopped(
    session: Session, timeline: Timeline, progress: _Progress, *, interrupted: bool
) -> None:
    """Undo what may be undone and say where things stand."""
    running = progress.running
    if running is not None and running.stack is not None and interrupted:
        session.say(
            f"[bold yellow]a CloudFormation update of {running.stack} may still be running; "
            f"check describe-stacks before re-running[/]"
        )
    if running is not None and running is progress.final and progress.held:
        if running.reached is not None and not interrupted and not _reached(session, running):
            session.say(
                f"not past the point of no return: {running.description} promoted nothing; "
                "undoing the steps before it"
            )
            progress.undos = progress.held + progress.undos
            progress.held = []
        elif running.stack is not None:
            session.say(
                f"[bold yellow]{running.description} failed at (or past) the point of no "
                f"return:[/] the configuration change stays (commit it); do not re-run blindly: "
                f"fix the cause, deploy {running.stack} again and check `status`"
            )
    _undo(session, timeline, progress.undos)
    undone = {id(a) for a in progress.undos}
    kept = [a for a in progress.done if id(a) not in undone]
    if progress.final is not None and kept:
        session.say(
            f"[bold yellow]past the point of no return[/] ({progress.final.description}): "
            "these steps stay done:"
        )
        for action in kept:
            session.say(f"   - {action.description}")
        session.say("   `python -m tapstack status` shows where things stand")
    elif not kept:
        session.say("nothing is left changed")


def _reached(session: Session, action: Action) -> bool:
    """Whether the failed ``final`` step got past the point of no return; unknown counts as
    past."""
    assert action.reached is not None
    try:
        return action.reached()
    except Exception as exc:
        session.say(f"[bold yellow]cannot tell whether it was promoted:[/] {exc}")
        return True


def approved(session: Session, question: str = "Proceed?") -> bool:
    if session.yes:
        return True
    if session.confirm is None:
        session.say(
            "[bold red]refused:[/] stdin is not a terminal to confirm on; pass --yes to "
            "proceed without asking. Nothing was changed."
        )
        return False
    try:
        answer = session.confirm(f"{question} [y/N] ")
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        session.say("[bold]cancelled:[/] nothing was changed")
        return False
    return True


def _run(session: Session, timeline: Timeline, action: Action, progress: _Progress) -> None:
    session.say(f"[bold]->[/] {action.description}")
    if action.final:
        progress.held, progress.undos = progress.undos, []
        progress.final = action
    if action.undo is not None:
        progress.undos.append(action)  # before it runs: it may fail half-way
    progress.running = action
    with timeline.step(action.description) as step:
        try:
            action.run(step)
        except ProviderError as exc:
            if not action.tolerant:
                raise
            step.outcome = "warning"
            session.say(f"[bold yellow]warning:[/] {exc} (going on)")
    progress.running = None
    progress.done.append(action)
    if action.final:
        progress.held = []


def _undo(session: Session, timeline: Timeline, undos: list[Action]) -> None:
    for action in reversed(undos):
        assert action.undo is not None
        with timeline.step(f"undo: {action.description}") as step:
            try:
                action.undo()
            except Exception as exc:
                step.outcome = "failed"
                session.say(f"[bold red]could not undo[/] {action.description}: {exc}")


def _finish(session: Session, timeline: Timeline) -> None:
    session.console.print(timeline.table())
    for change in session.changes:
        if change.changed:
            session.say(change.commit_advice())


def wait_until(
    session: Session, what: str, probe: Callable[[], tuple[bool, str]], timeout: float
) -> float:
    """Poll ``probe`` (done, detail) until done; print progress when the detail changes and
    at least every minute; return the seconds waited. A provider error while polling is
    progress too (an API can be briefly unavailable during a promotion)."""
    started = session.clock()
    last, last_said = "", started
    while True:
        try:
            done, detail = probe()
        except ProviderError as exc:
            done, detail = False, str(exc)
        elapsed = session.clock() - started
        if done:
            session.say(f"   {what}: {detail} after {elapsed:.0f} s")
            return elapsed
        if detail != last or session.clock() - last_said >= 60:
            session.say(f"   waiting for {what}: {detail} ({elapsed:.0f} s)")
            last, last_said = detail, session.clock()
        if elapsed >= timeout:
            raise OperationError(f"gave up waiting for {what} after {timeout:.0f} s: {detail}")
        session.sleep(session.poll_seconds)


# ---------------------------------------------------------------------------------------
# Steps shared by the commands
# ---------------------------------------------------------------------------------------


def _describe(state: DatabaseState) -> str:
    if not state.exists:
        return f"{state.identifier} does not exist"
    role = "standalone (writer)" if state.is_writer else f"replica of {state.source}"
    replication = f", replication {state.replication}" if state.replication else ""
    return f"{state.identifier} {state.status}, {role}{replication}"


def _target(session: Session, to: str) -> str:
    if to not in session.regions:
        raise OperationError(
            f"--to {to!r} is not one of the configured regions ({', '.join(session.regions)})"
        )
    return to


def _database(session: Session, region: str) -> DatabaseState:
    try:
        return session.provider.database.describe(region)
    except ProviderError as exc:
        raise ProviderError(f"cannot read the {region} database: {exc}") from None


def _write_config(session: Session, **change: str) -> None:
    made = session.provider.deploy.write_config(**change)
    session.changes.append(made)
    session.config = made.config
    session.say(made.diff() or f"   {made.path} already says so: unchanged")


def _switch_writer(session: Session, to: str, rebuild: str) -> Action:
    made: list[ConfigChange] = []

    def run(_: Step) -> None:
        _write_config(session, writer_region=to, rebuild=rebuild)
        made.append(session.changes[-1])

    def undo() -> None:
        for change in made:
            session.config = session.provider.deploy.restore_config(change)
            if change in session.changes:
                session.changes.remove(change)
            session.say(f"   {change.path}: previous text restored (nothing to commit)")

    return Action(
        f"set writer_region: {to} and bump {rebuild}'s database_generation in the "
        f"configuration (one edit: {rebuild}'s next deploy rebuilds its database as a replica)",
        run,
        undo=undo,
    )


def _deploy(session: Session, region: str, why: str, *, final: bool = False) -> Action:
    return Action(
        f"deploy {session.stack(region)} alone ({why})",
        lambda _: session.provider.deploy.deploy_region(region),
        final=final,
        stack=session.stack(region),
    )


def _promoting_deploy(session: Session, region: str) -> Action:
    """The final deploy that promotes ``region``'s replica: if it fails while the replica is
    still a replica, nothing got past the point of no return."""

    def reached() -> bool:
        return not session.provider.database.describe(region).is_replica

    return dataclasses.replace(
        _deploy(session, region, "promotes its read replica in place", final=True),
        reached=reached,
    )


def _wait_writable(session: Session, region: str) -> Action:
    def probe() -> tuple[bool, str]:
        state = session.provider.database.describe(region)
        return state.writable, _describe(state)

    return Action(
        f"wait until the {region} database is writable",
        lambda _: wait_until(session, f"{region} writable", probe, session.timeouts.writable),
    )


def _wait_replica(session: Session, region: str) -> Action:
    def probe() -> tuple[bool, str]:
        state = session.provider.database.describe(region)
        done = state.is_replica and state.status == "available"
        return done and state.replication in (None, "replicating"), _describe(state)

    return Action(
        f"wait until the {region} database replicates from the writer",
        lambda _: wait_until(session, f"{region} replica", probe, session.timeouts.replica),
    )


def _pause(session: Session, region: str, paused: list[float] | None = None) -> Action:
    def run(_: Step) -> None:
        grace = session.provider.database.pause_writes(region)
        if paused is not None:
            paused.append(grace)

    return Action(
        f"pause writes in {region} (new events wait until writes resume)",
        run,
        undo=lambda: session.provider.database.resume_writes(region),
    )


def _fence(session: Session, region: str) -> Action:
    """Pause a stale writer's writes for good (until its rebuild): best effort, as the
    region may not answer."""

    def run(_: Step) -> None:
        session.provider.database.pause_writes(region)

    return Action(
        f"fence {region}'s writes (pause its loader, if {region} answers)", run, tolerant=True
    )


def _resume(session: Session, region: str) -> Action:
    return Action(
        f"resume writes in {region} (the waiting events are delivered)",
        lambda _: session.provider.database.resume_writes(region),
    )


def _deploy_storage(
    session: Session, region: str, why: str, *, tolerant: bool = False
) -> list[Action]:
    """Deploy the secondary-storage stack, which owns the rule replicating the secondary
    region's bucket to the primary's (from the first move of the writer on: see
    :func:`tapstack.storage.contract.replicates_back`). Nothing for the primary region,
    whose bucket and rule belong to its regional stack."""
    if session.names(region).slot is not Slot.SECONDARY:
        return []
    name = stack_name(session.config, "secondary-storage")
    return [
        Action(
            f"deploy {name} alone ({why})",
            lambda _: session.provider.deploy.deploy_storage(region),
            tolerant=tolerant,
        )
    ]


def _replicate_existing(session: Session, source: str, destination: str) -> Action:
    """S3 Batch Replication on ``source``'s bucket: the objects its live replication never
    copied to ``destination`` (written before the rule existed, or failed while
    ``destination`` was down). Any object left behind fails the step, with the report."""
    objects = session.provider.objects

    def run(step: Step) -> None:
        job_id = objects.replicate_existing(source)
        session.say(f"   S3 Batch Replication job {job_id} in {source}")
        seen: list[ReplicationJob] = []

        def probe() -> tuple[bool, str]:
            job = objects.replication_job(source, job_id)
            seen.append(job)
            if job.status in ("Failed", "Cancelled"):
                raise OperationError(
                    f"S3 Batch Replication job {job_id} {job.status.lower()}: "
                    f"{job.reason or 'no reason given'}"
                )
            return job.ended, job.progress

        wait_until(session, f"job {job_id}", probe, session.timeouts.objects)
        job = seen[-1]
        if job.failed:
            raise ProviderError(
                f"{job.failed} object(s) did not replicate to {destination} (job {job_id}); "
                f"the report lists them: {job.report}"
            )
        step.outcome = f"{job.succeeded} object(s)"

    return Action(
        f"replicate to {destination} the objects in {source}'s bucket that never reached it "
        "(S3 Batch Replication: written before the rule existed, or failed while "
        f"{destination} was down)",
        run,
    )


def _redrive(session: Session, region: str) -> Action:
    def run(_: Step) -> None:
        count = session.provider.objects.redrive(region)
        session.say(f"   sent {count} object(s); the loader skips those it loaded before")

    return Action(f"re-drive the objects under incoming/ to the {region} loader", run)


# ---------------------------------------------------------------------------------------
# failover: the writer region is lost
# ---------------------------------------------------------------------------------------


#: A replica's replication status that a failover refuses to promote (without ``--force``).
BROKEN_REPLICATION = ("error", "terminated")


def failover(session: Session, to: str, *, force: bool = False) -> Outcome:
    """Unplanned: the writer region is lost. Drain its traffic and fence its loader (best
    effort: it may be unreachable), make ``to`` the writer, deploy ``to`` alone (which
    promotes its replica), wait until it is writable and re-drive the objects the lost
    region never loaded.

    Refused (unless ``force``) while the "lost" writer answers and is writable (that is a
    ``switchover``), or while the target's replication is broken."""
    to = _target(session, to)
    lost = session.other(to)
    target = _database(session, to)
    if not target.exists:
        raise OperationError(f"{to} has no database ({target.identifier}): nothing to promote")
    if session.writer == to and target.is_writer:
        raise OperationError(
            f"{to} is already the writer (configured and actual): nothing to fail over"
        )
    if target.is_writer:
        raise OperationError(
            f"{to}'s database is already standalone ({_describe(target)}) while writer_region "
            f"names {lost}: it was promoted outside tapstack. Reconcile before anything else: "
            f"set writer_region: {to} and raise {lost}'s database_generation in the "
            f"configuration, deploy {session.stack(to)} alone, then `failback` rebuilds {lost}"
        )
    _failover_guards(session, to, lost, target, force)
    actions = [
        Action(
            f"drain {lost}'s traffic (Route 53 treats it as unhealthy, so a returning stale "
            "region takes no traffic)",
            lambda _: session.provider.traffic.drain(lost),
            tolerant=True,
        ),
        _fence(session, lost),
        _switch_writer(session, to, rebuild=lost),
        _promoting_deploy(session, to),
        _wait_writable(session, to),
        *_undrain(session, to),
        _redrive(session, to),
        # Off the critical path, and best effort: S3 checks the destination bucket when the
        # rule is set, which may fail while the lost region is down; failback retries it and
        # replicates what this rule missed.
        *_deploy_storage(
            session,
            to,
            f"{to}'s bucket replicates to {lost} from now on, if S3 can reach {lost}'s",
            tolerant=True,
        ),
    ]
    outcome = execute(session, f"failover to {to}", actions)
    if outcome.exit_code == EXIT_OK:
        session.say(
            f"When {lost} is back: `python -m tapstack failback` (keeps its stale database as "
            f"a snapshot, rebuilds it as a replica of {to}, restores its traffic)."
        )
    return outcome


def _failover_guards(
    session: Session, to: str, lost: str, target: DatabaseState, force: bool
) -> None:
    """Show the target's replication, and refuse what a failover must not do unless
    ``force``."""
    try:
        samples = session.provider.database.replica_lag(to, session.now() - timedelta(minutes=15))
        lag = f"{samples[-1].seconds:.0f} s at {samples[-1].at:%H:%M} UTC" if samples else "none"
    except ProviderError as exc:
        lag = f"unknown ({exc})"
    session.say(
        f"{to}: {_describe(target)}; last ReplicaLag {lag} "
        "(writes newer than that lag are lost with the old writer)"
    )
    forced = " (--force: going on)" if force else ""
    try:
        old = session.provider.database.describe(lost)
    except ProviderError:
        old = None  # the lost region does not answer: the expected case
    if old is not None and old.writable and session.writer == lost:
        message = (
            f"the writer in {lost} answers and is writable ({_describe(old)}): a failover "
            f"would lose its latest writes; use `switchover --to {to}` (no data lost), or "
            f"`failover --force` if {lost} must be abandoned anyway"
        )
        if not force:
            raise OperationError(message)
        session.say(f"[bold yellow]warning:[/] {message}{forced}")
    if target.replication in BROKEN_REPLICATION:
        message = (
            f"{to}'s replication is {target.replication}: its data may be far behind the lost "
            "writer's; `failover --force` promotes it anyway"
        )
        if not force:
            raise OperationError(message)
        session.say(f"[bold yellow]warning:[/] {message}{forced}")


# ---------------------------------------------------------------------------------------
# switchover: planned, no data lost
# ---------------------------------------------------------------------------------------


def switchover(session: Session, to: str) -> Outcome:
    """Planned: pause writes in the writer region, wait until ``to``'s replica has applied
    everything, make ``to`` the writer (its deploy promotes), rebuild the old writer as a
    replica of ``to`` (never two writers), resume writes and re-drive ``to``."""
    to = _target(session, to)
    old = session.writer
    if old == to:
        raise OperationError(f"{to} is already the configured writer: nothing to switch over")
    writer, replica = _database(session, old), _database(session, to)
    if not writer.writable:
        raise OperationError(
            f"the writer in {old} is not writable ({_describe(writer)}): a switchover needs "
            f"both regions; use `failover --to {to}` when {old} is lost"
        )
    if not replica.is_replica:
        raise OperationError(f"{to} holds no replica ({_describe(replica)}): nothing to promote")
    if replica.replication != "replicating" or not _replicates_from(replica, writer):
        raise OperationError(
            f"{to}'s replica does not replicate from the writer {writer.identifier} "
            f"({_describe(replica)}): a switchover would lose data; fix its replication first"
        )
    paused: list[float] = []
    actions = [
        _pause(session, old, paused),
        _caught_up(session, to, paused),
        _switch_writer(session, to, rebuild=old),
        _promoting_deploy(session, to),
        _wait_writable(session, to),
        # Before the writes move, so that every object written to the new writer's bucket
        # replicates back; tolerant, as nothing may stop a switchover between its promotion
        # and its rebuild (two writers).
        *_deploy_storage(
            session, to, f"{to}'s bucket replicates to {old} before writes move", tolerant=True
        ),
        _move_traffic(session, to, old),
        # Its stack replaces the old writer: kept as a snapshot, its protection released.
        *_keep_stale_writer(session, old, writer.identifier),
        _deploy(session, old, f"rebuilds its database as a replica of {to}"),
        _wait_replica(session, old),
        _resume(session, old),
        _redrive(session, to),
    ]
    return execute(session, f"switchover to {to}", actions)


def _replicates_from(replica: DatabaseState, writer: DatabaseState) -> bool:
    """The replica's source is the writer (by identifier, or by ARN across regions)."""
    source = replica.source or ""
    return source == writer.identifier or source.endswith(f":db:{writer.identifier}")


def _undrain(session: Session, region: str) -> list[Action]:
    """Restore ``region``'s traffic when an earlier switchover drained it (or when that
    cannot be read): the writer must take the clients."""
    try:
        drained = session.provider.traffic.health(region).drained
    except ProviderError:
        drained = True
    restore = session.provider.traffic.restore
    return [Action(f"restore {region}'s traffic", lambda _: restore(region))] if drained else []


def _move_traffic(session: Session, to: str, old: str) -> Action:
    """Route 53's failover type stays with the slot (the primary slot's record answers
    while healthy), so traffic follows the writer by restoring ``to`` and, when ``old`` holds
    the PRIMARY record, draining it until a later switchover restores it."""
    drain_old = session.names(old).slot is Slot.PRIMARY

    def run(_: Step) -> None:
        session.provider.traffic.restore(to)
        if drain_old:
            session.provider.traffic.drain(old)

    also = f"; drain {old}, whose PRIMARY record would keep answering" if drain_old else ""
    return Action(f"move traffic to {to} (restore {to}{also})", run)


def _caught_up(session: Session, region: str, paused: list[float]) -> Action:
    """Wait until ``region``'s replica has applied everything: ReplicaLag 0 on
    :data:`CONSECUTIVE_ZERO_LAG` consecutive datapoints that start after writes under way at
    the pause could have ended."""

    def run(_: Step) -> None:
        grace = paused[-1] if paused else 0.0
        since = session.now() + timedelta(seconds=grace)
        session.say(f"   counting datapoints from {since:%H:%M:%S} UTC (writes under way end)")

        def probe() -> tuple[bool, str]:
            samples = session.provider.database.replica_lag(region, since)
            if any(sample.seconds < 0 for sample in samples):
                raise OperationError(
                    f"{region}: replication is not running (ReplicaLag -1): the replica is not "
                    "catching up; fix its replication, then switch over again"
                )
            streak = 0
            for sample in reversed(samples):
                if sample.seconds > 0:
                    break
                streak += 1
            last = f"{samples[-1].seconds:.0f} s" if samples else "no datapoint yet"
            detail = f"ReplicaLag {last}, {streak}/{CONSECUTIVE_ZERO_LAG} zero in a row"
            return streak >= CONSECUTIVE_ZERO_LAG, detail

        wait_until(session, f"{region} caught up", probe, session.timeouts.caught_up + grace)

    return Action(f"wait until the {region} replica has applied every write", run)


# ---------------------------------------------------------------------------------------
# failback: the lost region is back
# ---------------------------------------------------------------------------------------


def failback(session: Session) -> Outcome:
    """The lost region is back: fence its stale writer, keep it as a snapshot and release
    its deletion protection, deploy the region alone (its configuration already names a new
    database generation, so CloudFormation builds a replica of the current writer and
    replaces the stale instance), restore its traffic and resume its (now standby) loader;
    make sure the writer's bucket replicates to the region and replicate what it never
    copied there (S3 Batch Replication); then offer a switchover back.

    The object catch-up comes last: the region's loader is running again (as a standby it
    skips what replication brings), and a switchover back is offered only once every object
    reached the region."""
    writer = session.writer
    stale = session.other(writer)
    current = _database(session, writer)
    if not current.writable:
        raise OperationError(
            f"the configured writer {writer} is not writable ({_describe(current)}): "
            f"run `failover --to {writer}` first"
        )
    try:
        stale_writers = [d for d in session.provider.database.instances(stale) if d.is_writer]
    except ProviderError as exc:
        raise ProviderError(f"cannot read the {stale} databases: {exc}") from None
    configured = _database(session, stale)
    if configured.is_replica and not stale_writers:
        raise OperationError(
            f"{stale} already replicates from the writer ({_describe(configured)}) and holds "
            "no stale writer: nothing to fail back (`status` shows its traffic)"
        )
    actions = [_fence(session, stale)]
    for database in stale_writers:
        actions += _keep_stale_writer(session, stale, database.identifier)
    actions += [
        _deploy(session, stale, f"rebuilds its database as a replica of {writer}", final=True),
        _wait_replica(session, stale),
        _traffic_after_failback(session, stale, writer),
        _resume(session, stale),
        # The writer's bucket must carry its rule before Batch Replication can use it.
        *_deploy_storage(session, writer, f"{writer}'s bucket replicates to {stale}"),
        _replicate_existing(session, writer, stale),
    ]
    outcome = execute(session, f"failback of {stale}", actions)
    if outcome.exit_code != EXIT_OK:
        return outcome
    return _offer_switchover(session, stale) or outcome


def _traffic_after_failback(session: Session, stale: str, writer: str) -> Action:
    """Restore the region's traffic, unless it holds the PRIMARY record: that one answers
    whenever it is healthy and would take the clients from the writer, so it stays drained
    until ``switchover --to`` it (which restores it)."""
    if session.names(stale).slot is Slot.SECONDARY:
        return Action(
            f"restore {stale}'s traffic", lambda _: session.provider.traffic.restore(stale)
        )

    def keep(step: Step) -> None:
        step.outcome = "kept drained"

    return Action(
        f"keep {stale}'s traffic drained: its PRIMARY record would take the clients from the "
        f"writer {writer} (`switchover --to {stale}` restores it)",
        keep,
    )


def _keep_stale_writer(session: Session, region: str, identifier: str) -> list[Action]:
    database = session.provider.database

    def snapshot(_: Step) -> None:
        taken = database.snapshot(region, identifier)
        session.say(f"   snapshot {taken} of {identifier}")
        wait_until(
            session,
            f"snapshot {taken}",
            lambda: (database.snapshot_ready(region, taken), "creating"),
            session.timeouts.snapshot,
        )

    return [
        Action(
            f"keep the stale writer {identifier} as a snapshot (never deleted silently)", snapshot
        ),
        Action(
            f"release {identifier}'s deletion protection (its stack replaces it next)",
            lambda _: database.release_deletion_protection(region, identifier),
        ),
    ]


def _offer_switchover(session: Session, region: str) -> Outcome | None:
    """After a failback: switch the writer back to ``region`` if the user wants it now."""
    command = f"python -m tapstack switchover --to {region}"
    if session.yes or session.confirm is None:
        session.say(f"To make {region} the writer again (planned, no data lost): `{command}`")
        return None
    if not approved(session, f"Switch the writer back to {region} now (`{command}`)?"):
        return None
    session.changes.clear()  # the failback's changes were listed with its timeline
    return switchover(dataclasses.replace(session, yes=True), region)


# ---------------------------------------------------------------------------------------
# drill: a game day on real traffic
# ---------------------------------------------------------------------------------------


def drill(session: Session) -> Outcome:
    """Drain the writer region's traffic, measure how long Route 53's answer and the public
    name take to move to the other region, restore, and measure the way back. Databases are
    not touched: a drill never promotes."""
    writer = session.writer
    other = session.other(writer)
    traffic = session.provider.traffic
    try:
        answer, public = traffic.route53_answer(), traffic.public_answer()
    except ProviderError as exc:
        raise ProviderError(f"cannot read Route 53's answer: {exc}") from None
    if answer != writer:
        raise OperationError(
            f"Route 53 answers with {answer or 'no known region'}, not the writer {writer}: "
            "a drill starts from a healthy writer (see `status`)"
        )
    try:
        standby = traffic.health(other)
    except ProviderError as exc:
        raise ProviderError(f"cannot read {other}'s health check: {exc}") from None
    if not standby.serving:
        state = "drained" if standby.drained else "not healthy"
        raise OperationError(
            f"{other} is {state}: draining {writer} would leave no region to answer (see `status`)"
        )
    if public is None:
        session.say(
            "[bold yellow]warning:[/] the public name does not resolve here (is the domain "
            "delegated?): only Route 53's own answer is measured"
        )
    drain = Action(
        f"drain {writer}'s traffic (its health check asks for a path the server never serves)",
        lambda _: traffic.drain(writer),
        undo=lambda: traffic.restore(writer),
    )
    actions = [drain, *_measure(session, other, public is not None)]
    actions += [
        Action(f"restore {writer}'s traffic", lambda _: traffic.restore(writer), final=True),
        *_measure(session, writer, public is not None),
    ]
    return execute(session, f"drill: drain {writer}", actions)


def _measure(session: Session, region: str, public: bool) -> list[Action]:
    traffic = session.provider.traffic

    def waiting(what: str, read: Callable[[], str | None]) -> Callable[[Step], None]:
        def probe() -> tuple[bool, str]:
            found = read()
            return found == region, f"answers with {found or 'nothing'}"

        def run(_: Step) -> None:
            wait_until(session, what, probe, session.timeouts.dns)

        return run

    actions = [
        Action(
            f"wait until Route 53 answers with {region}",
            waiting("Route 53", traffic.route53_answer),
        )
    ]
    if public:
        actions.append(
            Action(
                f"wait until the public name resolves to {region} (resolvers' caches, TTL)",
                waiting("the public name", traffic.public_answer),
            )
        )
    return actions

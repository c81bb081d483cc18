"""The four phases of the drill and what they measure.

1. unplanned loss of the writer region: its MariaDB and web server are SIGKILLed while the
   workload runs; the Route 53 model detects it and answers with the other region;
2. ``failover`` to the other region (the operator acts once the health check turned
   unhealthy, as its alarm pages);
3. the lost region comes back (its stale database restarted, writable, with what it had),
   then ``failback`` rebuilds it as a replica;
4. a planned ``switchover`` back.

The commands are :mod:`tapstack.operations.orchestration`'s, run with ``--yes`` over the
local provider (:mod:`tapstack_lab.drill.provider`).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from tapstack.operations.orchestration import (
    EXIT_OK,
    Session,
    Timeouts,
    failback,
    failover,
    switchover,
)
from tapstack_lab.drill.lab import Lab
from tapstack_lab.drill.objects import READ_ONLY_ERROR
from tapstack_lab.drill.provider import LabObjects, lab_provider
from tapstack_lab.drill.workload import Workload
from tapstack_lab.route53_model import (
    Role,
    expected_client_switch_seconds,
    expected_detection_seconds,
)


class DrillError(RuntimeError):
    """A phase did not end as it must."""


@dataclass
class Result:
    """What the drill observed; :mod:`tapstack_lab.drill.report` prints and draws it."""

    writer: str
    standby: str
    scale: float
    interval: float
    threshold: int
    ttl: float
    started: float
    marks: dict[str, float] = field(default_factory=dict)
    lag_at_kill: tuple[int | None, int | None] = (None, None)
    detection: float | None = None
    dns_switch: float | None = None
    read_rto: list[float | None] = field(default_factory=list)
    write_rto: float | None = None
    rpo_rows: int | None = None
    rpo_seconds: float | None = None
    planned_rpo_rows: int | None = None
    planned_compared: int = 0
    redriven: list[tuple[str, int]] = field(default_factory=list)
    redrive_loaded: int = 0
    acked_after_failback: int = 0
    present_after_failback: int = 0
    acked_final: int = 0
    present_final: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    command_seconds: dict[str, float] = field(default_factory=dict)
    two_writable_seconds: float = 0.0
    overlapping_writers: int = 0
    read_only_writes: int = 0
    read_errors: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def modelled_detection(self) -> str:
        return str(expected_detection_seconds(self.interval, self.threshold))

    def modelled_write_rto(self) -> str:
        """Detection, then the failover command as it ran (the operator acts on detection;
        writes resume at its promotion step)."""
        failover = self.command_seconds.get("failover")
        if failover is None:
            return "detection + failover"
        window = expected_detection_seconds(self.interval, self.threshold)
        # Writes resume at the promotion, within the command: no sooner than detection, no
        # later than detection plus the whole command.
        return (
            f"{window.earliest:.0f}-{window.latest + failover:.0f} s "
            f"(detection, then the failover command: {failover:.1f} s)"
        )

    def modelled_read_rto(self) -> str:
        return str(expected_client_switch_seconds(self.interval, self.threshold, self.ttl))


def wait_for(what: str, done: Callable[[], bool], timeout: float, poll: float = 0.1) -> float:
    """Poll ``done`` until true; return the seconds waited, or raise :class:`DrillError`."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise DrillError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
    return time.monotonic() - started


def _session(lab: Lab, console: Console) -> Session:
    return Session(
        config=lab.config,
        provider=lab_provider(lab),
        console=console,
        yes=True,
        poll_seconds=0.25,
        timeouts=Timeouts(
            writable=120, caught_up=120, snapshot=120, replica=180, dns=600, objects=120
        ),
    )


def _command(
    lab: Lab, console: Console, result: Result, name: str, run: Callable[..., Any], **kwargs: Any
) -> LabObjects:
    session = _session(lab, console)
    lab.record.mark(f"`{name}` starts")
    began = time.monotonic()
    outcome = run(session, **kwargs)
    result.command_seconds[name] = time.monotonic() - began
    result.outcomes[name] = outcome.exit_code
    lab.record.mark(f"`{name}` ended ({outcome.exit_code})")
    if outcome.exit_code != EXIT_OK:
        raise DrillError(f"`{name}` exited {outcome.exit_code}")
    objects = session.provider.objects
    assert isinstance(objects, LabObjects)
    result.redriven += objects.redriven
    return objects


def settle(lab: Lab, workload: Workload, timeout: float) -> tuple[int, int]:
    """Wait until every acknowledged upload's events are in the configured writer (or the
    timeout); return (acknowledged, present)."""
    counts = (0, 0)

    def done() -> bool:
        nonlocal counts
        acked = workload.acknowledged_ids()
        present = lab.event_ids(lab.writer()) & acked
        counts = (len(acked), len(present))
        return len(present) == len(acked)

    # A shortfall is reported in the counts, not hidden.
    with contextlib.suppress(DrillError):
        wait_for("every acknowledged write in the writer", done, timeout, poll=0.5)
    return counts


def run_phases(
    lab: Lab,
    workload: Workload,
    console: Console,
    *,
    say: Callable[[str], None],
    traffic_back: bool = True,
) -> Result:
    """Run the four phases under ``workload``; ``traffic_back=False`` ends once the switchover
    command ended, without waiting for Route 53 and the clients' caches to move back."""
    phases = _Phases(lab, workload, console, say)
    phases.warm_up()
    phases.loss()
    phases.failover()
    phases.failback()
    phases.switchover(traffic_back=traffic_back)
    return phases.finish()


class _Phases:
    """The phases, in order, filling one :class:`Result`."""

    def __init__(
        self, lab: Lab, workload: Workload, console: Console, say: Callable[[str], None]
    ) -> None:
        self.lab, self.workload, self.console, self.say = lab, workload, console, say
        self.writer, self.standby = lab.writer(), lab.other(lab.writer())
        self.settings = lab.settings
        self.detection = expected_detection_seconds(
            self.settings.interval, self.settings.failure_threshold
        )
        self.result = Result(
            self.writer,
            self.standby,
            lab.scale,
            self.settings.interval,
            self.settings.failure_threshold,
            lab.ttl,
            started=time.monotonic(),
        )
        self.kill = 0.0

    def warm_up(self) -> None:
        """Loads and reads flowing, lag datapoints recorded."""
        enough = 3 * self.workload.records
        wait_for("the first loads", lambda: len(self.lab.event_ids(self.writer)) >= enough, 60)
        time.sleep(max(2.0, self.settings.interval))

    def loss(self) -> None:
        lab, writer, result = self.lab, self.writer, self.result
        self.say(f"phase 1: unplanned loss of {writer} (MariaDB and web server SIGKILLed)")
        with contextlib.suppress(Exception):  # the figure is left unknown
            lag = lab.pair.lag()[self.standby]
            result.lag_at_kill = (lag.seconds, lag.transactions_behind)
        self.kill = result.marks["kill"] = lab.lose(writer)
        wait_for(
            f"{writer}'s health check to turn unhealthy",
            lambda: not lab.prober.healthy(writer),
            self.detection.latest + 5 * self.settings.interval,
        )
        result.detection = lab.prober.timeline.detection_seconds(writer, self.kill)
        shown = "n/a" if result.detection is None else f"{result.detection:.1f} s"
        self.say(f"  detected after {shown} (modelled {self.detection})")

    def failover(self) -> None:
        lab, workload, kill, result = self.lab, self.workload, self.kill, self.result
        self.say(
            f"phase 2: `failover --to {self.standby}` (the operator acts on the health check's "
            "alarm)"
        )
        _command(lab, self.console, result, "failover", failover, to=self.standby)

        def reads_back() -> bool:
            reads = list(workload.reads)
            return all(
                any(r.ok and r.sent > kill and r.client == c for r in reads)
                for c in range(workload.clients)
            )

        wait_for(
            "every client to read again", reads_back, lab.ttl + 10 * self.settings.interval + 60
        )
        result.dns_switch = lab.prober.timeline.switch_seconds(Role.SECONDARY, kill)
        result.read_rto = _read_rto(workload, kill)
        result.write_rto = _write_rto(lab, workload, self.standby, kill)

    def failback(self) -> None:
        lab, result = self.lab, self.result
        self.say(f"phase 3: {self.writer} comes back with its stale database, then `failback`")
        result.marks["back"] = lab.recover(self.writer)
        # The RPO in rows, from both sides: what the stale writer holds that the replica
        # did not have when it was promoted.
        stale = lab.event_ids(self.writer)
        promoted = next(ids for _, region, ids in lab.record.promoted if region == self.standby)
        lost_rows = stale - promoted
        result.rpo_rows = len(lost_rows)
        result.rpo_seconds = _rpo_seconds(lab, self.writer, lost_rows, self.kill)
        _command(lab, self.console, result, "failback", failback)
        result.acked_after_failback, result.present_after_failback = settle(lab, self.workload, 60)

    def switchover(self, *, traffic_back: bool) -> None:
        lab, writer, result = self.lab, self.writer, self.result
        self.say(f"phase 4: planned `switchover --to {writer}`")
        result.marks["switched"] = began = time.monotonic()
        _command(lab, self.console, result, "switchover", switchover, to=writer)
        old = [e for e in lab.record.writer_at_promotion if e[0] >= began]
        new = [e for e in lab.record.promoted if e[0] >= began]
        if old and new:  # else unknown: the old writer's rows could not be read
            result.planned_rpo_rows = len(old[-1][2] - new[-1][2])
            result.planned_compared = len(old[-1][2])
        if not traffic_back:
            return
        wait_for(
            f"Route 53 to answer with {writer} again",
            lambda: lab.prober.answer().region == writer,
            self.detection.latest + 10 * self.settings.interval,
        )
        clients = range(self.workload.clients)
        wait_for(
            "every client to read from the writer region again",
            lambda: all(_last_read_region(self.workload, c) == writer for c in clients),
            lab.ttl + 10 * self.settings.interval + 30,
        )

    def finish(self) -> Result:
        lab, result = self.lab, self.result
        self.workload.stop()
        result.acked_final, result.present_final = settle(lab, self.workload, 60)
        _invariants(lab, result)
        result.read_errors = _read_errors(self.workload, result)
        result.redrive_loaded = sum(
            1
            for i in lab.record.invocations
            if i.redrive
            for _, status, _ in i.objects
            if status == "loaded"
        )
        return result


def _read_rto(workload: Workload, kill: float) -> list[float | None]:
    """Per client: from the kill until the end of its first successful read sent after it."""
    reads = list(workload.reads)
    firsts: list[float | None] = []
    for client in range(workload.clients):
        ok = [r.at for r in reads if r.client == client and r.ok and r.sent > kill]
        firsts.append(min(ok) - kill if ok else None)
    return firsts


def _write_rto(lab: Lab, workload: Workload, region: str, kill: float) -> float | None:
    """From the kill until the first object uploaded after it is committed in ``region``."""
    after = {u.key for u in workload.uploads if u.at > kill}
    loads = [
        i.ended
        for i in lab.record.invocations
        if i.region == region and any(k in after and s == "loaded" for k, s, _ in i.objects)
    ]
    return min(loads) - kill if loads else None


def _rpo_seconds(lab: Lab, region: str, lost: set[str], kill: float) -> float:
    """How long before the kill the oldest lost row was committed (0 when none was lost)."""
    if not lost:
        return 0.0
    seqs = {i.rsplit("-", 1)[0].removeprefix("drill-") for i in lost}
    committed = [
        i.ended
        for i in lab.record.invocations
        if i.region == region and i.ended <= kill
        for key, status, _ in i.objects
        if status == "loaded" and key.rsplit("/", 1)[-1].removesuffix(".jsonl") in seqs
    ]
    return kill - min(committed) if committed else 0.0


def _last_read_region(workload: Workload, client: int) -> str | None:
    mine = [r for r in list(workload.reads) if r.client == client]
    return mine[-1].region if mine and mine[-1].ok else None


def _invariants(lab: Lab, result: Result) -> None:
    samples = list(lab.record.samples)
    result.two_writable_seconds = sum(
        b.at - a.at for a, b in zip(samples, samples[1:], strict=False) if len(a.writable) > 1
    )
    result.extra["two_writer_loaders"] = sum(
        1 for s in samples if len(set(s.writable) & set(s.loading)) > 1
    )
    loads = sorted(
        (i for i in lab.record.invocations if any(s == "loaded" for _, s, _ in i.objects)),
        key=lambda i: i.started,
    )
    result.overlapping_writers = (
        sum(
            1
            for a in loads
            for b in loads
            if a.region != b.region and a.started < b.ended and b.started < a.ended
        )
        // 2
    )
    result.read_only_writes = sum(1 for i in lab.record.invocations if i.errno == READ_ONLY_ERROR)
    result.extra["read_only_refusals"] = sum(
        1 for i in lab.record.invocations if (i.error or "").startswith("ReadOnlyWriterError")
    )
    result.extra["loaded_outside_the_configured_writer"] = sum(
        1 for i in loads if i.region != lab.record.configured_writer_at(i.started)
    )


def _read_errors(workload: Workload, result: Result) -> dict[str, int]:
    kill, switched = result.marks["kill"], result.marks["switched"]
    reads = list(workload.reads)
    return {
        "before the kill": sum(1 for r in reads if not r.ok and r.at < kill),
        "kill to switchover": sum(1 for r in reads if not r.ok and kill <= r.at < switched),
        "after the switchover": sum(1 for r in reads if not r.ok and r.at >= switched),
        "reads": len(reads),
    }


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None

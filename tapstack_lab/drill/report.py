"""The drill's figures, printed beside the modelled ones, and its timeline drawn as a PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from tapstack_lab.drill.lab import Lab
from tapstack_lab.drill.run import Result, median
from tapstack_lab.drill.workload import Workload

MODEL_NOTE = (
    "Route 53 is MODELLED (tapstack_lab/route53_model.py: checkers, failure threshold, the 18% "
    "rule, failover answer, TTL-caching clients); everything else is real: MariaDB GTID "
    "replication, the web server runtime, the loader against emulated S3, the operator "
    "commands' orchestration."
)


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def figures(result: Result) -> Table:
    """The figures table: measured, modelled, how."""
    k = result.scale
    scaled = (
        " (configured seconds)"
        if k == 1
        else f" (time scale {k:g}: health-check interval {result.interval:g} s and TTL "
        f"{result.ttl:g} s instead of {result.interval / k:g} s and {result.ttl / k:g} s; "
        "database, loader and command times are real)"
    )
    table = Table(title=f"Failover drill: measured beside modelled{scaled}")
    for column in ("figure", "measured", "modelled", "notes"):
        table.add_column(column)
    for row in _figure_rows(result):
        table.add_row(*row)
    return table


def _figure_rows(result: Result) -> list[tuple[str, str, str, str]]:
    """(figure, measured, modelled, notes): the times, then the data."""
    return _time_rows(result) + _data_rows(result)


def _time_rows(result: Result) -> list[tuple[str, str, str, str]]:
    rto = result.read_rto
    return [
        (
            "detection time",
            _s(result.detection),
            result.modelled_detection(),
            f"interval {result.interval:g} s x threshold {result.threshold}",
        ),
        (
            "Route 53 answer switched",
            _s(result.dns_switch),
            result.modelled_detection(),
            "the model's answer moves with the health check",
        ),
        (
            "client-visible read RTO",
            f"{_s(median(rto))} median ({', '.join(_s(v) for v in rto)})",
            result.modelled_read_rto(),
            f"first successful read after the kill, {len(rto)} clients, TTL {result.ttl:g} s",
        ),
        (
            "write RTO",
            _s(result.write_rto),
            result.modelled_write_rto(),
            "first object uploaded after the kill committed in the new writer",
        ),
    ]


def _data_rows(result: Result) -> list[tuple[str, str, str, str]]:
    lag_seconds, lag_trx = result.lag_at_kill
    redriven = sum(n for _, n in result.redriven)
    return [
        (
            "RPO, unplanned failover",
            f"{result.rpo_rows} rows, {_s(result.rpo_seconds)}",
            "replica lag at the kill",
            f"lag at the kill: {lag_trx} transaction(s), Seconds_Behind_Master {lag_seconds}",
        ),
        (
            "RPO, planned switchover",
            f"{result.planned_rpo_rows} rows",
            "0",
            f"{result.planned_compared} rows of the old writer compared at promotion",
        ),
        (
            "objects re-driven",
            f"{redriven} sent, {result.redrive_loaded} loaded",
            "the objects never loaded",
            ", ".join(f"{r}: {n}" for r, n in result.redriven),
        ),
        (
            "rows after fail-back",
            f"{result.present_after_failback} / {result.acked_after_failback}",
            "every acknowledged write",
            "event ids in the writer / ids of every acknowledged upload",
        ),
        (
            "rows at the end",
            f"{result.present_final} / {result.acked_final}",
            "every acknowledged write",
            "after the switchover back",
        ),
    ]


def invariants(result: Result) -> Table:
    table = Table(title="Invariants")
    table.add_column("invariant")
    table.add_column("observed")
    table.add_row(
        "loaders of two regions loading at the same time", str(result.overlapping_writers)
    )
    table.add_row(
        "writes refused by a read-only database (errno 1290)", str(result.read_only_writes)
    )
    table.add_row(
        "loads the loader itself refused: writer role, read-only database",
        str(result.extra.get("read_only_refusals")),
    )
    table.add_row(
        "samples with two writable databases whose loaders both run",
        str(result.extra.get("two_writer_loaders")),
    )
    table.add_row(
        "time with two writable databases (a stale or old writer, its loader paused)",
        f"{result.two_writable_seconds:.1f} s",
    )
    table.add_row(
        "client read errors", ", ".join(f"{k}: {v}" for k, v in result.read_errors.items())
    )
    table.add_row(
        "command durations", ", ".join(f"{k} {v:.1f} s" for k, v in result.command_seconds.items())
    )
    return table


def dump(lab: Lab, workload: Workload, result: Result, path: Path) -> None:
    """Everything the figures come from, as JSON (times in seconds since the drill began)."""
    t0 = result.started
    document = {
        "marks": [(round(at - t0, 3), text) for at, text in lab.record.marks],
        "reads": [
            (round(r.at - t0, 3), r.client, r.region, r.ok, r.status, r.error)
            for r in workload.reads
        ],
        "samples": [
            (round(s.at - t0, 3), s.healthy, s.answer, s.lag, s.writable, s.loading)
            for s in lab.record.samples
        ],
        "invocations": [
            (
                round(i.started - t0, 3),
                round(i.ended - t0, 3),
                i.region,
                i.role,
                i.attempt,
                i.objects,
                i.error,
                i.redrive,
            )
            for i in lab.record.invocations
        ],
    }
    path.write_text(json.dumps(document, default=str))


def draw(lab: Lab, workload: Workload, result: Result, path: Path) -> None:
    """Health-check states per region, the DNS answer, client reads and errors, and replica
    lag over time, with the phases marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = result.started
    samples = [s for s in lab.record.samples if s.at >= t0]
    fig, axes = plt.subplots(
        4, 1, figsize=(11, 7.5), sharex=True, gridspec_kw={"height_ratios": [1, 0.6, 1, 1]}
    )
    health, answer, reads, lag = axes
    _route53_panels(health, answer, samples, t0, lab.regions)
    _reads_panel(reads, workload, t0, lab.regions)
    _lag_panel(lag, samples, t0, lab.regions)
    lag.set_xlabel(f"seconds since the drill started (time scale {lab.scale:g})")
    _phase_marks(axes, lab.record.marks, t0)
    fig.suptitle(
        "TapStack failover drill: Route 53 is a model; MariaDB replication, the web "
        "server, the loader and the orchestration are real",
        fontsize=10,
        y=0.995,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _route53_panels(
    health: Any, answer: Any, samples: list[Any], t0: float, regions: tuple[str, ...]
) -> None:
    for row, region in enumerate(regions):
        _bars(
            health,
            row,
            samples,
            t0,
            lambda s, r=region: (
                "drained" if r in s.drained else "healthy" if s.healthy[r] else "unhealthy"
            ),
        )
    health.set_yticks(range(len(regions)), list(regions))
    health.set_title(
        "Route 53 health checks (modelled): green healthy, red unhealthy, "
        "purple drained (asks for a path never served: unhealthy)",
        fontsize=9,
        loc="left",
    )
    _bars(answer, 0, samples, t0, lambda s: s.answer)
    answer.set_yticks([0], ["answer"])
    answer.set_title(
        f"Route 53 failover answer (modelled): blue {regions[0]}, orange {regions[1]}",
        fontsize=9,
        loc="left",
    )


_PHASES = {
    "lost": "region lost",
    "`failover` starts": "failover",
    "back (": "region back",
    "`failback` starts": "failback",
    "`switchover` starts": "switchover",
}


def _phase_marks(axes: Any, marks: list[tuple[float, str]], t0: float) -> None:
    """A dashed line through every panel at each phase, labelled in the bottom one."""
    shown = 0
    for at, text in marks:
        label = next((v for k, v in _PHASES.items() if k in text), None)
        if at < t0 or label is None:
            continue
        for ax in axes:
            ax.axvline(at - t0, color="grey", lw=0.7, ls="--")
        axes[-1].text(
            at - t0,
            0.92 - 0.14 * (shown % 3),
            f" {label}",
            fontsize=8,
            transform=axes[-1].get_xaxis_transform(),
            ha="left",
            va="top",
        )
        shown += 1


_COLOURS = {"healthy": "#2ca02c", "unhealthy": "#d62728", "drained": "#9467bd"}


def _bars(ax: Any, row: int, samples: list[Any], t0: float, state: Any) -> None:
    """One row of coloured spans, one per run of equal states."""
    runs: list[tuple[float, float, str]] = []
    for sample, following in zip(samples, samples[1:], strict=False):
        value = state(sample)
        start, end = sample.at - t0, following.at - t0
        if runs and runs[-1][2] == value and abs(runs[-1][1] - start) < 1e-9:
            runs[-1] = (runs[-1][0], end, value)
        else:
            runs.append((start, end, value))
    for start, end, value in runs:
        colour = _COLOURS.get(value, "C0" if value == samples[0].answer else "C1")
        ax.broken_barh([(start, end - start)], (row - 0.35, 0.7), color=colour)


def _reads_panel(ax: Any, workload: Workload, t0: float, regions: tuple[str, ...]) -> None:
    reads = [r for r in list(workload.reads) if r.at >= t0]
    for index, region in enumerate(regions):
        ok = [r.at - t0 for r in reads if r.ok and r.region == region]
        ax.scatter(ok, [index] * len(ok), s=4, color=f"C{index}")
    failed = [r.at - t0 for r in reads if not r.ok]
    ax.scatter(failed, [len(regions)] * len(failed), s=10, color="red", marker="x")
    ax.set_yticks([0, 1, 2], [f"read {regions[0]}", f"read {regions[1]}", "error"])
    ax.set_ylim(-0.5, 2.5)
    ax.set_title(
        f"client reads through the DNS answer ({workload.clients} clients, "
        "GET /events?latest=5): served by region, or a client-visible error",
        fontsize=9,
        loc="left",
    )


def _lag_panel(ax: Any, samples: list[Any], t0: float, regions: tuple[str, ...]) -> None:
    for index, region in enumerate(regions):
        xs = [s.at - t0 for s in samples]
        ys = [
            float("nan") if region not in s.lag or s.lag[region][1] is None else s.lag[region][1]
            for s in samples
        ]
        ax.plot(xs, ys, color=f"C{index}", lw=1.2, label=f"{region} as a replica")
    highest = max((s.lag[r][1] or 0 for s in samples for r in regions if r in s.lag), default=0)
    ax.set_ylabel("transactions\nbehind")
    ax.set_ylim(-0.5, max(3.0, highest * 1.2))
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"replica lag by GTID, highest {highest} transaction(s) (gaps: no replica, "
        "or its source is down)",
        fontsize=9,
        loc="left",
    )

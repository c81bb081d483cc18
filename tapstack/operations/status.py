"""``tapstack status``: where traffic goes, which database writes, and what is wrong.

Every read goes through the provider; a region that does not answer is reported as such
(its error beside it) instead of stopping the command, because ``status`` is what an
operator runs first when a region is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from tapstack.config import TapStackConfig
from tapstack.naming import Names, Slot, writer_region
from tapstack.operations.provider import (
    DatabaseState,
    HealthState,
    NoCredentials,
    Provider,
    ProviderError,
)
from tapstack.storage.contract import replicates_back

T = TypeVar("T")
#: How far back ``status`` looks for the replica's lag.
LAG_WINDOW = timedelta(minutes=10)


@dataclass
class RegionStatus:
    """One region: its configured role and what the provider reads there."""

    region: str
    configured_role: str
    database: DatabaseState | None = None
    #: Every TapStack database in the region (a stale writer keeps an older identifier).
    databases: list[DatabaseState] = field(default_factory=list)
    replica_lag_seconds: float | None = None
    health: HealthState | None = None
    loader_backlog: int | None = None
    #: Whether the data bucket must replicate (primary always; secondary once the writer
    #: moved) and whether it does; ``None`` when it need not or could not be read.
    replicates: bool | None = None
    alarms: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Status:
    """The whole picture; ``problems`` lists what an operator must look at."""

    configured_writer: str
    route53_answer: str | None
    regions: list[RegionStatus]
    errors: list[str] = field(default_factory=list)

    @property
    def actual_writers(self) -> list[str]:
        """Regions holding a standalone database (no ReadReplicaSourceDBInstanceIdentifier)."""
        return [r.region for r in self.regions if any(d.is_writer for d in r.databases)]

    @property
    def problems(self) -> list[str]:
        found = list(self.errors)
        writers = self.actual_writers
        if len(writers) > 1:
            found.append(
                f"two standalone databases ({', '.join(writers)}): the stale one must be "
                "rebuilt (`tapstack failback`) before it takes writes"
            )
        if writers and self.configured_writer not in writers:
            found.append(
                f"configured writer {self.configured_writer} is not the actual one "
                f"({', '.join(writers)}): finish the interrupted command or fix the configuration"
            )
        for region in self.regions:
            found += [f"{region.region}: {error}" for error in region.errors]
            if region.alarms:
                found.append(f"{region.region}: {len(region.alarms)} alarm(s) in ALARM")
            if region.loader_backlog:
                found.append(f"{region.region}: {region.loader_backlog} failed load(s) in the DLQ")
            if region.replicates is False:
                found.append(
                    f"{region.region}: its data bucket does not replicate to the other region: "
                    "deploy the stack that owns it (the secondary's is <prefix>-secondary-storage)"
                )
        return found

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["actual_writers"] = self.actual_writers
        data["problems"] = self.problems
        return data


def collect(
    config: TapStackConfig,
    provider: Provider,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Status:
    """Read everything ``status`` shows; unanswered reads become errors, not exceptions
    (one region may be lost). Missing credentials raise :class:`NoCredentials`, and when
    nothing at all answers, the first error is raised: one line instead of a table of them."""
    writer = writer_region(config)
    errors: list[str] = []
    answered: list[bool] = []
    answer = _read(lambda: provider.traffic.route53_answer(), errors, "Route 53 answer", answered)
    regions = [
        _region_status(Names(config, region), provider, now, answered)
        for region in (config.primary.region, config.secondary.region)
    ]
    if not any(answered):
        raise ProviderError(f"nothing answered: {(errors or regions[0].errors)[0]}")
    return Status(writer, answer, regions, errors)


def _region_status(
    names: Names, provider: Provider, now: Callable[[], datetime], answered: list[bool]
) -> RegionStatus:
    region = names.region
    status = RegionStatus(region, names.role.value)

    def read(call: Callable[[], T], what: str) -> T | None:
        return _read(call, status.errors, what, answered)

    status.database = read(lambda: provider.database.describe(region), "database")
    found = read(lambda: provider.database.instances(region), "databases")
    status.databases = found or ([status.database] if status.database else [])
    if status.database and status.database.is_replica:
        since = now() - LAG_WINDOW
        samples = read(lambda: provider.database.replica_lag(region, since), "lag")
        status.replica_lag_seconds = samples[-1].seconds if samples else None
    status.health = read(lambda: provider.traffic.health(region), "health check")
    monitoring = provider.monitoring
    status.loader_backlog = read(lambda: monitoring.loader_backlog(region), "backlog")
    status.alarms = read(lambda: monitoring.alarms(region), "alarms") or []
    if names.slot is Slot.PRIMARY or replicates_back(names.config):
        status.replicates = read(lambda: provider.objects.replicates(region), "replication")
    return status


def _read(read: Callable[[], T], errors: list[str], what: str, answered: list[bool]) -> T | None:
    try:
        found = read()
    except NoCredentials:
        raise
    except ProviderError as exc:
        errors.append(f"{what}: {exc}")
        answered.append(False)
        return None
    answered.append(True)
    return found


def render(status: Status, console: Console) -> None:
    """The status as a table and a list of problems."""
    table = Table(
        title=f"Route 53 answers with {status.route53_answer or '?'}; "
        f"configured writer {status.configured_writer}"
    )
    for column in ("", *(r.region for r in status.regions)):
        table.add_column(column)
    rows: dict[str, Callable[[RegionStatus], str]] = {
        "configured role": lambda r: r.configured_role,
        "database": _database_cell,
        "replica lag": lambda r: _optional(r.replica_lag_seconds, "{:.0f} s"),
        "health check": _health_cell,
        "loader backlog (DLQ)": lambda r: _optional(r.loader_backlog, "{}"),
        "alarms in ALARM": lambda r: ", ".join(r.alarms) or "none",
    }
    for label, cell in rows.items():
        table.add_row(label, *(cell(r) for r in status.regions))
    console.print(table)
    problems = status.problems
    for problem in problems:
        console.print(f"[bold yellow]![/] {problem}", soft_wrap=True, highlight=False)
    if not problems:
        console.print("[green]no problems[/]")


def _optional(value: float | int | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def _database_cell(region: RegionStatus) -> str:
    states = region.databases or ([region.database] if region.database else [])
    if not states:
        return "unknown"
    return "\n".join(_database_text(state) for state in states)


def _database_text(state: DatabaseState) -> str:
    if not state.exists:
        return f"{state.identifier}: missing"
    role = "writer" if state.is_writer else f"replica of {state.source}"
    return f"{state.identifier}: {role}, {state.status}"


def _health_cell(region: RegionStatus) -> str:
    health = region.health
    if health is None:
        return "unknown"
    checkers = {True: "healthy", False: "unhealthy", None: "no report"}[health.healthy]
    drained = f", DRAINED since {health.drained_since or '?'}" if health.drained else ""
    if health.inverted:
        drained += ", INVERTED (an old drain: a failing endpoint counts as healthy; restore it)"
    return f"{health.failover} {checkers}{drained}"

"""A command's timeline: the steps it took, each with its measured duration."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.table import Table


@dataclass
class Step:
    """One step: its description, its start and end (seconds since the command started,
    ``end`` ``None`` while it runs) and how it ended (``ok``, ``failed``, ``skipped``...)."""

    name: str
    start: float
    end: float | None = None
    outcome: str = "running"

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else self.start) - self.start


@dataclass
class Timeline:
    """The steps of one command in order, timed by ``clock`` (monotonic seconds)."""

    title: str
    clock: Callable[[], float] = time.monotonic
    steps: list[Step] = field(default_factory=list)
    origin: float | None = None

    def _now(self) -> float:
        now = self.clock()
        if self.origin is None:
            self.origin = now
        return now - self.origin

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time the body as one step; an exception marks it ``failed`` and propagates. The
        body may set ``outcome`` itself (``skipped``, ``warning``)."""
        current = Step(name, self._now())
        self.steps.append(current)
        try:
            yield current
        except BaseException:
            current.outcome = "failed"
            raise
        finally:
            current.end = self._now()
            if current.outcome == "running":
                current.outcome = "ok"

    @property
    def seconds(self) -> float:
        """From the first step's start to the last step's end."""
        ends = [s.end for s in self.steps if s.end is not None]
        return max(ends, default=0.0) - (self.steps[0].start if self.steps else 0.0)

    def table(self) -> Table:
        table = Table(title=f"{self.title}: timeline")
        table.add_column("#", justify="right")
        table.add_column("step")
        table.add_column("start", justify="right")
        table.add_column("seconds", justify="right")
        table.add_column("outcome")
        for index, item in enumerate(self.steps, 1):
            table.add_row(
                str(index), item.name, f"+{item.start:.1f}", f"{item.seconds:.1f}", item.outcome
            )
        table.add_row("", "total", "", f"{self.seconds:.1f}", "")
        return table

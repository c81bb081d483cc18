"""tapstack.operations.timeline: steps timed by the clock, failures marked, a total."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tapstack.operations.timeline import Timeline
from tests.unit.operations.fakes import Clock


def test_steps_are_timed_from_the_first_one_and_totalled() -> None:
    clock = Clock(seconds=1000.0)
    timeline = Timeline("failover", clock=clock)
    with timeline.step("drain"):
        clock.sleep(2)
    clock.sleep(1)
    with timeline.step("deploy") as step:
        clock.sleep(40)
        step.outcome = "warning"

    assert [(s.name, s.start, s.seconds, s.outcome) for s in timeline.steps] == [
        ("drain", 0.0, 2.0, "ok"),
        ("deploy", 3.0, 40.0, "warning"),
    ]
    assert timeline.seconds == 43.0
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(timeline.table())
    assert "failover: timeline" in buffer.getvalue()
    assert "+3.0" in buffer.getvalue() and "43.0" in buffer.getvalue()


def test_a_step_that_raises_is_marked_failed_and_the_error_propagates() -> None:
    clock = Clock()
    timeline = Timeline("drill", clock=clock)
    with pytest.raises(RuntimeError, match="boom"), timeline.step("wait"):
        clock.sleep(5)
        raise RuntimeError("boom")
    assert timeline.steps[0].outcome == "failed"
    assert timeline.steps[0].seconds == 5.0

"""A short failover drill (tapstack_lab.drill) on real parts: two MariaDB servers with GTID
replication, the web server runtime per region, the loader against emulated S3, and the
operator commands' own orchestration over the local provider; only Route 53 is a model.

It runs the four phases once, at time scale 0.05 (a 0.5 s health-check interval and a 3 s TTL
instead of 10 s and 60 s), and the tests assert the drill's invariants. No timing is
asserted: ``make drill`` measures and prints the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from tapstack_lab.drill.lab import ROOT, Lab
from tapstack_lab.drill.objects import READ_ONLY_ERROR
from tapstack_lab.drill.run import Result, run_phases
from tapstack_lab.drill.workload import Workload


@dataclass(frozen=True)
class Drill:
    lab: Lab
    workload: Workload
    result: Result


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    workdir = tmp_path_factory.mktemp("drill")
    console = Console(file=(workdir / "commands.log").open("w"), width=120)
    with Lab(workdir, config_path=ROOT / "config" / "default.yaml", scale=0.05) as lab:
        workload = Workload(lab, clients=2)
        workload.start()
        try:
            result = run_phases(lab, workload, console, say=lambda _: None, traffic_back=False)
        finally:
            workload.stop()
        yield Drill(lab, workload, result)


def test_each_command_ran_to_its_end(drill: Drill) -> None:
    assert drill.result.outcomes == {"failover": 0, "failback": 0, "switchover": 0}


def test_no_acknowledged_write_is_lost_in_a_planned_switchover(drill: Drill) -> None:
    result = drill.result
    # Every row the old writer held when the new one was promoted is on the new one.
    assert result.planned_compared > 0
    assert result.planned_rpo_rows == 0


def test_after_fail_back_every_loaded_objects_rows_are_in_the_writer(drill: Drill) -> None:
    result = drill.result
    assert result.acked_after_failback > 0
    assert result.present_after_failback == result.acked_after_failback
    assert result.present_final == result.acked_final >= result.acked_after_failback


def test_the_unplanned_loss_was_detected_and_objects_were_re_driven(drill: Drill) -> None:
    result = drill.result
    assert result.detection is not None
    assert [region for region, _ in result.redriven] == [result.standby, result.writer]
    assert all(sent > 0 for _, sent in result.redriven)


def test_the_loader_never_writes_to_a_read_only_database(drill: Drill) -> None:
    invocations = drill.lab.record.invocations
    assert invocations
    # MariaDB refuses a write under read_only with 1290: no invocation ever got one.
    assert [i for i in invocations if i.errno == READ_ONLY_ERROR] == []
    # Rows were loaded only in the region the configuration named the writer at the time
    # (a standby's loader may load once its database is promoted, before its own redeploy)...
    record = drill.lab.record
    loaded = [i for i in invocations if any(status == "loaded" for _, status, _ in i.objects)]
    assert loaded
    assert [i for i in loaded if i.region != record.configured_writer_at(i.started)] == []
    # ...and standbys skipped the objects replication brought while they were replicas.
    skips = [o for i in invocations if i.role == "standby" for o in i.objects]
    assert any(status == "skipped" for _, status, _ in skips)


def test_never_two_writers_at_once(drill: Drill) -> None:
    record = drill.lab.record
    # No moment where two regions' databases were writable with their loaders running...
    assert record.samples
    assert [s for s in record.samples if len(set(s.writable) & set(s.loading)) > 1] == []
    # ...and no load in one region overlapped a load in the other.
    assert drill.result.overlapping_writers == 0
    # The regions took writes one after the other: the writer, the standby, the writer.
    loaded = sorted(
        (i for i in record.invocations if any(s == "loaded" for _, s, _ in i.objects)),
        key=lambda i: i.started,
    )
    runs = [loaded[0].region] + [
        b.region for a, b in zip(loaded, loaded[1:], strict=False) if a.region != b.region
    ]
    assert runs == [drill.result.writer, drill.result.standby, drill.result.writer]


def test_reads_went_through_the_web_tier_to_both_regions(drill: Drill) -> None:
    served = {r.region for r in drill.workload.reads if r.ok}
    assert served == set(drill.lab.regions)


def test_the_configuration_ends_with_the_first_writer_and_both_rebuilt(drill: Drill) -> None:
    config = drill.lab.config
    assert config.writer == drill.result.writer
    assert (config.primary.database_generation, config.secondary.database_generation) == (1, 1)
    assert Path(drill.lab.config_path).read_text().count("writer_region:") == 1

"""Two real MariaDB servers replicating with GTIDs: catch-up, an unplanned loss, split brain
and the rebuild that ends it (the failover lab's database, issue 12)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest

from tapstack_lab.replication import (
    READ_ONLY_ERROR,
    InsertLoad,
    ReplicatedPair,
    ReplicationError,
    create_events_table,
    gtid_position,
    row_ids,
    transactions_behind,
)

WRITER = "us-east-1"
REPLICA = "us-west-2"
TABLE = "lab.events"


def create_table(pair: ReplicatedPair, region: str) -> None:
    with contextlib.closing(pair.connect(region)) as conn:
        create_events_table(conn, TABLE)


def ids_on(pair: ReplicatedPair, region: str) -> set[int]:
    with contextlib.closing(pair.connect(region)) as conn:
        return row_ids(conn, TABLE)


def insert(pair: ReplicatedPair, region: str, ids: range) -> None:
    with contextlib.closing(pair.connect(region)) as conn, conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {TABLE} (id, written_at, payload) VALUES (%s, NOW(6), 'x')",
            [(row_id,) for row_id in ids],
        )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """A writer and a replica in their first roles, for the tests that change no role."""
    with ReplicatedPair(snapshot_dir=tmp_path_factory.mktemp("snapshots")) as started:
        create_table(started, WRITER)
        yield started


# ------------------------------------------------------------------ steady state
def test_rows_written_to_the_writer_appear_on_the_replica(pair: ReplicatedPair) -> None:
    insert(pair, WRITER, range(-100, 0))

    lag = pair.wait_caught_up(timeout=20)[REPLICA]

    assert lag.source == WRITER
    assert lag.io_running and lag.sql_running and lag.error is None
    assert lag.caught_up
    assert gtid_position(lag.applied_position) == gtid_position(pair.gtid_binlog_pos(WRITER))
    assert set(range(-100, 0)) <= ids_on(pair, REPLICA)


def test_the_replica_refuses_the_applications_writes(pair: ReplicatedPair) -> None:
    with pytest.raises(pymysql.err.OperationalError) as refused:
        insert(pair, REPLICA, range(-200, -199))

    assert refused.value.args[0] == READ_ONLY_ERROR
    assert pair.writers() == [WRITER]
    assert (pair.role(WRITER), pair.role(REPLICA)) == ("writer", "replica")


def test_the_replica_is_described_as_the_provider_describes_one(pair: ReplicatedPair) -> None:
    writer, replica = pair.describe(WRITER), pair.describe(REPLICA)

    assert writer.writable and writer.source is None
    assert replica.is_replica and replica.source == WRITER
    assert replica.replication == "replicating"
    assert replica.identifier == f"lab-{REPLICA}-g0"


def wait_for_acknowledged(load: InsertLoad, count: int, timeout: float = 60.0) -> None:
    """Wait for the load to have at least ``count`` acknowledged rows (a busy machine is slow)."""
    deadline = time.monotonic() + timeout
    while len(load.acknowledged_ids()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} rows acknowledged in {timeout} s"
        time.sleep(0.05)


def test_wait_caught_up_under_load_covers_every_row_acknowledged_before_it(
    pair: ReplicatedPair,
) -> None:
    with InsertLoad(lambda: pair.connect(WRITER), table=TABLE, rate=200) as load:
        wait_for_acknowledged(load, 51)
        acknowledged_before = load.acknowledged_ids()
        pair.wait_caught_up(timeout=20)
        on_replica = ids_on(pair, REPLICA)
        time.sleep(0.3)

    assert len(acknowledged_before) > 50
    assert acknowledged_before <= on_replica
    assert load.errors == []


def test_a_planned_switchover_loses_no_acknowledged_row(pair: ReplicatedPair) -> None:
    load = InsertLoad(lambda: pair.connect(WRITER), table=TABLE, rate=200, first_id=100_000)
    with load:
        wait_for_acknowledged(load, 101)
    # Writes stopped (the switchover pauses them): catching up is then complete.

    lag = pair.wait_caught_up(timeout=20)[REPLICA]

    assert lag.caught_up and lag.transactions_behind == 0
    assert len(load.acknowledged) > 100
    assert set(load.acknowledged) <= ids_on(pair, REPLICA)


# ------------------------------------------------------------------ error paths
def test_promoting_the_writer_is_refused(pair: ReplicatedPair) -> None:
    with pytest.raises(ReplicationError, match="cannot promote us-east-1: it is not a replica"):
        pair.promote(WRITER)
    assert pair.writers() == [WRITER]


def test_rebuilding_onto_a_replica_is_refused_before_anything_changes(
    pair: ReplicatedPair,
) -> None:
    with pytest.raises(
        ReplicationError,
        match=r"cannot rebuild us-east-1 from us-west-2: us-west-2 is not a writer "
        r"\(read_only=ON, replicating\)",
    ):
        pair.rebuild_as_replica(WRITER, source=REPLICA)
    assert pair.writers() == [WRITER]
    assert pair.snapshots == []


def test_rebuilding_a_region_from_itself_or_an_unknown_one_is_refused(
    pair: ReplicatedPair,
) -> None:
    with pytest.raises(ReplicationError, match="as a replica of itself"):
        pair.rebuild_as_replica(REPLICA, source=REPLICA)
    with pytest.raises(ReplicationError, match=r"no region 'eu-west-1' in this pair"):
        pair.rebuild_as_replica(REPLICA, source="eu-west-1")
    with pytest.raises(ReplicationError, match="cannot restart us-east-1: its server is running"):
        pair.restart(WRITER)


def test_a_pair_needs_two_different_regions(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two different regions, got 'us-east-1' and 'us-east-1'"):
        ReplicatedPair(snapshot_dir=tmp_path, writer=WRITER, replica=WRITER)


def test_gtid_positions_are_compared_domain_by_domain() -> None:
    assert gtid_position("0-1-42,1-2-7") == {0: 42, 1: 7}
    assert transactions_behind("0-2-50,1-1-3", "0-1-45") == 5 + 3
    assert transactions_behind("0-1-45", "0-2-50") == 0
    assert transactions_behind("", "") == 0
    with pytest.raises(ValueError, match="not a GTID position: 'binlog.000001:4'"):
        gtid_position("binlog.000001:4")


# ------------------------------------------------------------------ a region lost and rebuilt
@dataclass
class Failover:
    """What an unplanned loss, a promotion, the lost region's return and its rebuild showed."""

    pair: ReplicatedPair
    acknowledged: set[int]
    on_promoted: set[int] = field(default_factory=set)
    on_restarted: set[int] = field(default_factory=set)
    writers_after_kill: list[str] = field(default_factory=list)
    writers_after_promote: list[str] = field(default_factory=list)
    writers_after_restart: list[str] = field(default_factory=list)
    writers_after_rebuild: list[str] = field(default_factory=list)
    killed_status: str = ""
    snapshot: Path | None = None
    rows_after_rebuild: range = range(0)
    replica_after_kill: str | None = None
    #: At the rebuild's switch: (the new server's port, whether the old server still ran).
    at_switch: list[tuple[int, bool]] = field(default_factory=list)

    @property
    def missing(self) -> set[int]:
        """Acknowledged rows the promoted replica does not have: the RPO in rows."""
        return self.acknowledged - self.on_promoted


@pytest.fixture(scope="module")
def failover(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Failover]:
    with ReplicatedPair(snapshot_dir=tmp_path_factory.mktemp("failover-snapshots")) as pair:
        create_table(pair, WRITER)
        load = InsertLoad(lambda: pair.connect(WRITER), table=TABLE, rate=200)
        with load:
            wait_for_acknowledged(load, 200)  # as many as the old 1 s at 200 a second
            pair.kill(WRITER)  # mid-load: an unplanned region loss
        seen = Failover(pair=pair, acknowledged=set(load.acknowledged))
        seen.writers_after_kill = pair.writers()
        seen.killed_status = pair.describe(WRITER).status
        deadline = time.monotonic() + 10
        while pair.lag()[REPLICA].io_running and time.monotonic() < deadline:
            time.sleep(0.05)  # until the replica notices its source is gone
        seen.replica_after_kill = pair.describe(REPLICA).replication

        pair.promote(REPLICA)
        seen.writers_after_promote = pair.writers()
        seen.on_promoted = ids_on(pair, REPLICA)

        pair.restart(WRITER)
        seen.writers_after_restart = pair.writers()
        seen.on_restarted = ids_on(pair, WRITER)

        stale = pair.server(WRITER)
        seen.snapshot = pair.rebuild_as_replica(
            WRITER,
            source=REPLICA,
            switch=lambda: seen.at_switch.append((pair.endpoint(WRITER)[1], stale.running)),
        )
        seen.writers_after_rebuild = pair.writers()
        seen.rows_after_rebuild = range(1_000_000, 1_000_050)
        insert(pair, REPLICA, seen.rows_after_rebuild)
        pair.wait_caught_up(timeout=20)
        yield seen


def test_a_killed_writer_leaves_no_writer_until_the_replica_is_promoted(
    failover: Failover,
) -> None:
    assert failover.writers_after_kill == []
    assert failover.killed_status == "stopped"
    assert failover.writers_after_promote == [REPLICA]


def test_the_promoted_replica_has_a_gapless_prefix_and_loses_only_the_newest_rows(
    failover: Failover,
) -> None:
    assert len(failover.acknowledged) > 100
    newest = max(failover.on_promoted)
    # Applied in commit order: rows 1..newest (the last one possibly in flight at the kill).
    assert failover.on_promoted == set(range(1, newest + 1))
    assert newest <= max(failover.acknowledged) + 1
    # The RPO in rows: the acknowledged rows after it, a handful at most on a loopback link.
    assert failover.missing == set(range(newest + 1, max(failover.acknowledged) + 1))
    assert len(failover.missing) <= 50


def test_a_replica_whose_source_is_lost_is_connecting_not_in_error(failover: Failover) -> None:
    # An IO error alone (the source does not answer) is what a region loss looks like; only
    # an applier stopped on an error is a gap that a failover must refuse to hide.
    assert failover.replica_after_kill == "connecting"


def test_the_lost_writer_returns_writable_with_every_row_it_acknowledged(
    failover: Failover,
) -> None:
    assert failover.writers_after_restart == [WRITER, REPLICA]  # split brain, visible
    assert failover.acknowledged <= failover.on_restarted


def test_rebuilding_the_lost_writer_leaves_one_writer_and_keeps_its_data_aside(
    failover: Failover,
) -> None:
    pair = failover.pair
    assert failover.writers_after_rebuild == [REPLICA]
    assert failover.snapshot is not None and failover.snapshot.parent == pair.snapshot_dir
    assert pair.snapshots == [failover.snapshot]
    assert (failover.snapshot / "lab" / "events.ibd").is_file()
    # Its users moved to the new server while the old one still ran, as CloudFormation
    # creates a replacement before it deletes the old instance.
    assert failover.at_switch == [(pair.endpoint(WRITER)[1], True)]
    rebuilt = pair.describe(WRITER)
    assert (rebuilt.identifier, rebuilt.source, rebuilt.replication) == (
        f"lab-{WRITER}-g1",
        REPLICA,
        "replicating",
    )


def test_a_rebuild_must_make_a_younger_generation(failover: Failover) -> None:
    with pytest.raises(
        ReplicationError, match=r"cannot rebuild us-east-1 as generation 1: it runs generation 1"
    ):
        failover.pair.rebuild_as_replica(WRITER, source=REPLICA, generation=1)
    assert failover.pair.generation(WRITER) == 1


def test_the_rebuilt_replica_holds_the_writers_rows_and_replicates_new_ones(
    failover: Failover,
) -> None:
    pair = failover.pair
    assert ids_on(pair, WRITER) == ids_on(pair, REPLICA)
    assert set(failover.rows_after_rebuild) <= ids_on(pair, WRITER)
    assert pair.lag()[WRITER].caught_up
    with pytest.raises(pymysql.err.OperationalError) as refused:
        insert(pair, WRITER, range(-1, 0))
    assert refused.value.args[0] == READ_ONLY_ERROR

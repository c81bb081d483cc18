"""tapstack.operations.orchestration over a recording fake provider: the steps each command
takes and their order, confirmation, --yes, the timeline's measured durations and the error
paths."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tapstack.naming import Names, writer_region
from tapstack.operations.orchestration import (
    CONSECUTIVE_ZERO_LAG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    OperationError,
    Timeouts,
    drill,
    failback,
    failover,
    switchover,
)
from tapstack.operations.provider import DatabaseState, LagSample, ProviderError, Unreachable
from tests.unit.operations.fakes import PRIMARY, SECONDARY, World, session, world


@pytest.fixture
def fake(tmp_path: Path) -> World:
    return world(tmp_path)


def _lost_primary(fake: World) -> World:
    """After `failover --to us-west-2`: the secondary writes; the primary came back with its
    stale writer under its old identifier, its traffic drained."""
    run, _ = session(fake, yes=True)
    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    assert failover(run, SECONDARY).exit_code == EXIT_OK
    fake.unreachable.discard(PRIMARY)
    fake.calls.clear()
    return fake


def _file(fake: World) -> dict[str, object]:
    return yaml.safe_load(fake.path.read_text())


# ---------------------------------------------------------------------------------------
# failover
# ---------------------------------------------------------------------------------------


def test_failover_drains_fences_switches_deploys_the_survivor_alone_then_redrives(
    fake: World,
) -> None:
    run, output = session(fake, yes=True)

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    outcome = failover(run, SECONDARY)
    fake.unreachable.discard(PRIMARY)

    assert outcome.exit_code == EXIT_OK
    assert fake.calls == [
        ("drain", PRIMARY),
        ("pause_writes", PRIMARY),
        ("write_config", SECONDARY, PRIMARY),
        ("deploy_region", SECONDARY),
        ("redrive", SECONDARY),
        # last and best effort: the survivor's bucket starts replicating back
        ("deploy_storage", SECONDARY),
    ]
    data = _file(fake)
    assert data["writer_region"] == SECONDARY
    assert data["primary"]["database_generation"] == 1  # type: ignore[index]
    assert fake.databases[SECONDARY][0].writable
    text = output.getvalue()
    assert "commit " in text and f"git add {fake.path}" in text
    assert "python -m tapstack failback" in text


def test_the_plan_is_printed_before_anything_changes_and_refusal_changes_nothing(
    fake: World,
) -> None:
    before = fake.path.read_text()
    run, output = session(fake, answers=["n"])

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    outcome = failover(run, SECONDARY)
    fake.unreachable.discard(PRIMARY)

    assert outcome.exit_code == EXIT_REFUSED
    assert fake.calls == []
    assert fake.path.read_text() == before
    text = output.getvalue()
    assert text.index("failover to us-west-2 will:") < text.index("Proceed? [y/N]")
    assert "6. re-drive the objects under incoming/ to the us-west-2 loader" in text
    assert "nothing was changed" in text


def test_without_a_terminal_only_yes_proceeds(fake: World) -> None:
    run, output = session(fake)
    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    assert failover(run, SECONDARY).exit_code == EXIT_REFUSED
    fake.unreachable.discard(PRIMARY)
    assert fake.calls == []
    assert "pass --yes" in output.getvalue()


def test_answering_yes_at_the_prompt_proceeds(fake: World) -> None:
    run, _ = session(fake, answers=["y"])
    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    assert failover(run, SECONDARY).exit_code == EXIT_OK
    fake.unreachable.discard(PRIMARY)
    assert ("deploy_region", SECONDARY) in fake.calls


def test_the_timeline_measures_each_step(fake: World) -> None:
    fake.promotion_seconds = 95
    run, output = session(fake, yes=True)

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    timeline = failover(run, SECONDARY).timeline
    fake.unreachable.discard(PRIMARY)

    steps = {step.name: step for step in timeline.steps}
    waited = steps["wait until the us-west-2 database is writable"]
    assert waited.outcome == "ok"
    assert waited.seconds == 100  # polled every 10 s until 95 s had passed
    assert [s.outcome for s in timeline.steps] == ["ok"] * 7
    assert timeline.seconds == 100
    assert "failover to us-west-2: timeline" in output.getvalue()
    assert "waiting for us-west-2 writable" in output.getvalue()


def test_a_lost_region_that_does_not_answer_is_a_warning_not_a_stop(fake: World) -> None:
    fake.failing["drain"] = Unreachable("cannot reach AWS: route53")
    fake.failing["pause_writes"] = Unreachable("cannot reach AWS: lambda us-east-1")
    run, output = session(fake, yes=True)

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    outcome = failover(run, SECONDARY)
    fake.unreachable.discard(PRIMARY)

    assert outcome.exit_code == EXIT_OK
    assert [s.outcome for s in outcome.timeline.steps][:2] == ["warning", "warning"]
    assert "cannot reach AWS: lambda us-east-1 (going on)" in output.getvalue()


def test_a_failed_deploy_stops_the_command_with_the_timeline(fake: World) -> None:
    fake.failing["deploy_region"] = ProviderError("cdk deploy failed (1)")
    run, output = session(fake, yes=True)

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    before = fake.path.read_text()
    outcome = failover(run, SECONDARY)
    fake.unreachable.discard(PRIMARY)

    assert outcome.exit_code == EXIT_FAILED
    failed = next(s for s in outcome.timeline.steps if s.name.startswith("deploy "))
    assert failed.outcome == "failed"
    assert ("redrive", SECONDARY) not in fake.calls
    text = output.getvalue()
    assert "error: cdk deploy failed (1)" in text
    # the replica is still a replica: not past the point of no return, the edit is undone
    assert "not past the point of no return" in text
    assert ("restore_config", str(fake.path)) in fake.calls
    assert fake.path.read_text() == before
    assert writer_region(fake.config) == PRIMARY
    assert "git add" not in text  # nothing to commit


def test_a_failed_switchover_deploy_before_any_promotion_resumes_writes_and_reverts(
    fake: World,
) -> None:
    fake.failing["deploy_region"] = ProviderError("cdk synth failed (1)")
    before = fake.path.read_text()
    run, output = session(fake, yes=True)

    outcome = switchover(run, SECONDARY)

    assert outcome.exit_code == EXIT_FAILED
    assert fake.calls[-2:] == [("restore_config", str(fake.path)), ("resume_writes", PRIMARY)]
    assert fake.path.read_text() == before
    assert PRIMARY not in fake.paused
    # a re-run is not refused
    del fake.failing["deploy_region"]
    run, _ = session(fake, yes=True)
    assert switchover(run, SECONDARY).exit_code == EXIT_OK


def test_a_failed_deploy_after_the_promotion_keeps_the_edit_with_guidance(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, output = session(fake, yes=True)
    deploy = run.provider.deploy.deploy_region

    def promotes_then_fails(region: str) -> None:
        deploy(region)
        raise ProviderError("UPDATE_ROLLBACK_FAILED")

    monkeypatch.setattr(run.provider.deploy, "deploy_region", promotes_then_fails)

    outcome = switchover(run, SECONDARY)

    assert outcome.exit_code == EXIT_FAILED
    assert "restore_config" not in [c[0] for c in fake.calls]
    assert writer_region(fake.config) == SECONDARY
    text = output.getvalue()
    assert "past the point of no return" in text and "deploy tapstack-prod-" in text
    assert PRIMARY in fake.paused  # never two writers: writes stay paused


def test_ctrl_c_runs_the_undos_and_propagates(fake: World, monkeypatch: pytest.MonkeyPatch) -> None:
    run, output = session(fake, yes=True)

    def interrupted(region: str, since: datetime) -> list[LagSample]:
        raise KeyboardInterrupt

    monkeypatch.setattr(run.provider.database, "replica_lag", interrupted)

    with pytest.raises(KeyboardInterrupt):
        switchover(run, SECONDARY)

    assert fake.calls == [("pause_writes", PRIMARY), ("resume_writes", PRIMARY)]
    assert "interrupted" in output.getvalue()


def test_ctrl_c_during_a_deploy_warns_that_cloudformation_may_still_run(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, output = session(fake, yes=True)

    def interrupted(region: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run.provider.deploy, "deploy_region", interrupted)

    with pytest.raises(KeyboardInterrupt):
        switchover(run, SECONDARY)

    text = output.getvalue()
    assert "a CloudFormation update of tapstack-prod-" in text
    assert "check describe-stacks before re-running" in text
    assert PRIMARY in fake.paused  # the deploy may still promote: writes stay paused


def test_an_unexpected_exception_runs_the_undos_and_propagates(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, output = session(fake, yes=True)

    def broken(region: str, since: datetime) -> list[LagSample]:
        raise KeyError("Maximum")

    monkeypatch.setattr(run.provider.database, "replica_lag", broken)

    with pytest.raises(KeyError):
        switchover(run, SECONDARY)

    assert fake.calls[-1] == ("resume_writes", PRIMARY)
    assert "unexpected error: KeyError" in output.getvalue()


def test_an_undo_is_registered_before_its_step_runs(fake: World) -> None:
    fake.failing["drain"] = ProviderError("Throttling")
    run, _ = session(fake, yes=True)

    outcome = drill(run)

    assert outcome.exit_code == EXIT_FAILED
    assert fake.calls == [("restore", PRIMARY)]  # restore is safe after a partial drain


def test_failover_while_the_writer_answers_is_refused_unless_forced(fake: World) -> None:
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match=r"us-east-1 answers and is writable.*switchover"):
        failover(run, SECONDARY)
    assert fake.calls == []

    run, output = session(fake, yes=True)
    assert failover(run, SECONDARY, force=True).exit_code == EXIT_OK
    assert "--force: going on" in output.getvalue()


def test_failover_shows_the_replicas_lag_and_refuses_a_broken_replication(fake: World) -> None:
    fake.unreachable.add(PRIMARY)
    replica = fake.databases[SECONDARY][0]
    fake.databases[SECONDARY] = [dataclasses.replace(replica, replication="error")]
    fake.clock.sleep(180)
    run, output = session(fake, yes=True)
    with pytest.raises(OperationError, match="us-west-2's replication is error"):
        failover(run, SECONDARY)
    assert "last ReplicaLag 0 s" in output.getvalue()
    assert fake.calls == []


def test_failover_to_a_replica_promoted_by_hand_says_how_to_reconcile(fake: World) -> None:
    fake.databases[SECONDARY] = [DatabaseState(SECONDARY, "tapstack-prod-mysql-replica")]
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match=r"promoted outside tapstack.*writer_region: us-w"):
        failover(run, SECONDARY)


def test_failover_to_the_writer_is_refused(fake: World) -> None:
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="us-east-1 is already the writer"):
        fake.unreachable.add(SECONDARY)  # the lost region does not answer
        failover(run, PRIMARY)
        fake.unreachable.discard(SECONDARY)
    assert fake.calls == []


def test_failover_to_an_unknown_region_is_refused(fake: World) -> None:
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match=r"'eu-west-1' is not one of .*us-east-1, us-west-2"):
        failover(run, "eu-west-1")


def test_failover_to_a_region_without_a_database_is_refused(fake: World) -> None:
    fake.databases[SECONDARY] = []
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="us-west-2 has no database"):
        fake.unreachable.add(PRIMARY)  # the lost region does not answer
        failover(run, SECONDARY)
        fake.unreachable.discard(PRIMARY)


# ---------------------------------------------------------------------------------------
# switchover
# ---------------------------------------------------------------------------------------


def test_switchover_pauses_waits_for_the_replica_promotes_rebuilds_then_resumes(
    fake: World,
) -> None:
    run, output = session(fake, yes=True)

    outcome = switchover(run, SECONDARY)

    assert outcome.exit_code == EXIT_OK
    assert fake.calls == [
        ("pause_writes", PRIMARY),
        ("write_config", SECONDARY, PRIMARY),
        ("deploy_region", SECONDARY),
        ("deploy_storage", SECONDARY),  # replication back is in place before writes move
        ("restore", SECONDARY),
        ("drain", PRIMARY),  # the primary slot's record would keep answering
        ("snapshot", PRIMARY, "tapstack-prod-mysql-primary"),
        ("release_deletion_protection", PRIMARY, "tapstack-prod-mysql-primary"),
        ("deploy_region", PRIMARY),
        ("resume_writes", PRIMARY),
        ("redrive", SECONDARY),
    ]
    assert fake.databases[SECONDARY][0].is_writer
    rebuilt = fake.databases[PRIMARY]
    assert [d.identifier for d in rebuilt] == ["tapstack-prod-mysql-primary-g1"]
    assert rebuilt[0].source == "tapstack-prod-mysql-replica"
    assert f"0/{CONSECUTIVE_ZERO_LAG} zero in a row" in output.getvalue()


def test_the_replica_counts_only_datapoints_after_writes_under_way_ended(fake: World) -> None:
    fake.loader_timeout = 300
    run, _ = session(fake, yes=True)

    timeline = switchover(run, SECONDARY).timeline

    waited = next(s for s in timeline.steps if s.name.startswith("wait until the us-west-2 rep"))
    # 300 s for a load under way, then two one-minute datapoints of zero lag.
    assert waited.seconds >= 300 + CONSECUTIVE_ZERO_LAG * 60


def test_a_replica_that_never_catches_up_resumes_writes_and_changes_nothing(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fake.path.read_text()

    def lagging(region: str, since: datetime) -> list[LagSample]:
        return [LagSample(since, 12.0)]

    run, output = session(fake, yes=True)
    monkeypatch.setattr(run.provider.database, "replica_lag", lagging)

    outcome = switchover(run, SECONDARY)

    assert outcome.exit_code == EXIT_FAILED
    assert fake.calls == [("pause_writes", PRIMARY), ("resume_writes", PRIMARY)]
    assert fake.path.read_text() == before
    assert "gave up waiting for us-west-2 caught up" in output.getvalue()
    assert outcome.timeline.steps[-1].name.startswith("undo: pause writes in us-east-1")


def test_a_replica_whose_replication_stopped_fails_the_wait_and_resumes(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(region: str, since: datetime) -> list[LagSample]:
        return [LagSample(since, 0.0), LagSample(since, -1.0)]

    run, output = session(fake, yes=True)
    monkeypatch.setattr(run.provider.database, "replica_lag", stopped)

    outcome = switchover(run, SECONDARY)

    assert outcome.exit_code == EXIT_FAILED
    assert fake.calls == [("pause_writes", PRIMARY), ("resume_writes", PRIMARY)]
    assert "replication is not running" in output.getvalue()


@pytest.mark.parametrize(
    "replica",
    [
        {"replication": "error"},
        {"source": "arn:aws:rds:us-east-1:123456789012:db:someone-else"},
    ],
)
def test_switchover_refuses_a_replica_not_replicating_from_the_writer_before_pausing(
    fake: World, replica: dict[str, str]
) -> None:
    fake.databases[SECONDARY] = [dataclasses.replace(fake.databases[SECONDARY][0], **replica)]
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="does not replicate from the writer"):
        switchover(run, SECONDARY)
    assert fake.calls == []


def test_switchover_to_the_writer_is_refused(fake: World) -> None:
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="already the configured writer"):
        switchover(run, PRIMARY)


def test_switchover_needs_a_writable_writer(fake: World) -> None:
    fake.databases[PRIMARY] = [
        DatabaseState(PRIMARY, "tapstack-prod-mysql-primary", status="stopped")
    ]
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match=r"not writable .* use `failover --to us-west-2`"):
        switchover(run, SECONDARY)
    assert fake.calls == []


def test_switchover_needs_a_replica_in_the_target(fake: World) -> None:
    fake.databases[SECONDARY] = [DatabaseState(SECONDARY, "tapstack-prod-mysql-replica")]
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="us-west-2 holds no replica"):
        switchover(run, SECONDARY)


# ---------------------------------------------------------------------------------------
# failback
# ---------------------------------------------------------------------------------------


def test_failback_keeps_the_stale_writer_rebuilds_restores_and_offers_a_switchover(
    fake: World,
) -> None:
    _lost_primary(fake)
    stale = fake.databases[PRIMARY][0].identifier
    assert stale == "tapstack-prod-mysql-primary"
    run, output = session(fake, yes=True)

    outcome = failback(run)

    assert outcome.exit_code == EXIT_OK
    assert fake.calls == [
        ("pause_writes", PRIMARY),
        ("snapshot", PRIMARY, stale),
        ("release_deletion_protection", PRIMARY, stale),
        ("deploy_region", PRIMARY),
        ("resume_writes", PRIMARY),
        ("deploy_storage", SECONDARY),  # the writer's bucket carries its rule back
        ("replicate_existing", SECONDARY),  # then what it never copied to the primary
    ]
    assert fake.databases[PRIMARY][0].source == "tapstack-prod-mysql-replica"
    # its PRIMARY record would take the clients from the writer: drained until switched back
    assert PRIMARY in fake.drained
    assert outcome.timeline.steps[-4].outcome == "kept drained"
    assert outcome.timeline.steps[-1].outcome == "5 object(s)"
    assert "python -m tapstack switchover --to us-east-1" in output.getvalue()


def test_failback_then_switchover_back_when_the_user_says_so(fake: World) -> None:
    _lost_primary(fake)
    run, _ = session(fake, answers=["y", "y"])

    outcome = failback(run)

    assert outcome.exit_code == EXIT_OK
    assert writer_region(fake.config) == PRIMARY
    assert fake.calls[-7:] == [
        ("deploy_region", PRIMARY),
        ("restore", PRIMARY),  # back to the primary slot: nothing to drain
        ("snapshot", SECONDARY, "tapstack-prod-mysql-replica"),
        ("release_deletion_protection", SECONDARY, "tapstack-prod-mysql-replica"),
        ("deploy_region", SECONDARY),
        ("resume_writes", SECONDARY),
        ("redrive", PRIMARY),
    ]
    assert _file(fake)["secondary"]["database_generation"] == 1  # type: ignore[index]
    assert Names(fake.config, PRIMARY).db_instance == "tapstack-prod-mysql-primary-g1"
    assert fake.drained == set()


def test_failback_of_the_secondary_restores_its_traffic(fake: World) -> None:
    run, _ = session(fake, yes=True)
    assert switchover(run, SECONDARY).exit_code == EXIT_OK  # the secondary writes
    fake.databases[SECONDARY] = [DatabaseState(SECONDARY, "tapstack-prod-mysql-replica")]
    run, _ = session(fake, yes=True)
    fake.unreachable.add(SECONDARY)  # the lost region does not answer
    assert failover(run, PRIMARY).exit_code == EXIT_OK  # and is lost
    fake.unreachable.discard(SECONDARY)
    fake.calls.clear()

    run, _ = session(fake, yes=True)
    assert failback(run).exit_code == EXIT_OK

    assert ("restore", SECONDARY) in fake.calls
    assert fake.drained == set()


def test_failback_of_the_secondary_replicates_from_the_primary_bucket_alone(
    fake: World,
) -> None:
    """The primary region's bucket replicates from its own regional stack: nothing else to
    deploy before the batch job."""
    run, _ = session(fake, yes=True)
    assert switchover(run, SECONDARY).exit_code == EXIT_OK
    fake.databases[SECONDARY] = [DatabaseState(SECONDARY, "tapstack-prod-mysql-replica")]
    run, _ = session(fake, yes=True)
    fake.unreachable.add(SECONDARY)  # the lost region does not answer
    assert failover(run, PRIMARY).exit_code == EXIT_OK
    fake.unreachable.discard(SECONDARY)
    fake.calls.clear()

    run, _ = session(fake, yes=True)
    assert failback(run).exit_code == EXIT_OK

    assert fake.calls[-2:] == [("resume_writes", SECONDARY), ("replicate_existing", PRIMARY)]
    assert not any(call[0] == "deploy_storage" for call in fake.calls)


def test_failback_shows_the_batch_jobs_progress_until_it_completes(fake: World) -> None:
    _lost_primary(fake)
    fake.job_seconds = 600
    run, output = session(fake, yes=True)

    outcome = failback(run)

    assert outcome.exit_code == EXIT_OK
    text = output.getvalue()
    assert "S3 Batch Replication job job-1 in us-west-2" in text
    assert "Preparing, listing the objects to replicate" in text
    assert "Active, 2/5 object(s) replicated" in text
    assert "Complete, 5/5 object(s) replicated after 600 s" in text
    step = outcome.timeline.steps[-1]
    assert step.name.startswith("replicate to us-east-1 the objects in us-west-2's bucket")
    assert step.seconds == 600


def test_objects_left_behind_fail_the_failback_with_the_report_and_offer_no_switchover(
    fake: World,
) -> None:
    _lost_primary(fake)
    fake.job_failed = 2
    run, output = session(fake, answers=["y"])

    outcome = failback(run)

    assert outcome.exit_code == EXIT_FAILED
    text = output.getvalue()
    assert "2 object(s) did not replicate to us-east-1 (job job-1)" in text
    assert "s3://logs-us-west-2/batch-replication/job-job-1/" in text
    assert "Switch the writer back" not in text  # not while objects are missing there
    assert writer_region(fake.config) == SECONDARY


def test_a_failed_batch_job_stops_at_once_with_its_reason(fake: World) -> None:
    _lost_primary(fake)
    fake.job_status = "Failed"
    run, output = session(fake, yes=True)

    outcome = failback(run)

    assert outcome.exit_code == EXIT_FAILED
    assert "job job-1 failed: AccessDenied" in output.getvalue()
    assert outcome.timeline.seconds < 120  # not polled until the timeout


def test_failover_goes_on_when_the_lost_region_refuses_the_replication_rule(
    fake: World,
) -> None:
    fake.failing["deploy_storage"] = ProviderError(
        "tapstack-prod-secondary-storage: UPDATE_ROLLBACK_COMPLETE"
    )
    run, output = session(fake, yes=True)

    fake.unreachable.add(PRIMARY)  # the lost region does not answer
    outcome = failover(run, SECONDARY)
    fake.unreachable.discard(PRIMARY)

    assert outcome.exit_code == EXIT_OK
    assert outcome.timeline.steps[-1].outcome == "warning"
    assert "UPDATE_ROLLBACK_COMPLETE (going on)" in output.getvalue()


def test_failover_to_the_primary_deploys_no_storage_stack_in_the_lost_region(
    fake: World,
) -> None:
    run, _ = session(fake, yes=True)
    assert switchover(run, SECONDARY).exit_code == EXIT_OK
    fake.calls.clear()

    run, _ = session(fake, yes=True)
    fake.unreachable.add(SECONDARY)  # the lost region does not answer
    assert failover(run, PRIMARY).exit_code == EXIT_OK
    fake.unreachable.discard(SECONDARY)

    assert ("deploy_storage", SECONDARY) not in fake.calls


def test_failback_with_nothing_stale_is_refused(fake: World) -> None:
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="nothing to fail back"):
        failback(run)


def test_failback_before_the_writer_is_writable_is_refused(fake: World) -> None:
    fake.databases[PRIMARY] = []
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="configured writer us-east-1 is not writable"):
        failback(run)


# ---------------------------------------------------------------------------------------
# drill
# ---------------------------------------------------------------------------------------


def test_the_drill_drains_measures_restores_and_never_touches_a_database(fake: World) -> None:
    run, output = session(fake, yes=True)

    outcome = drill(run)

    assert outcome.exit_code == EXIT_OK
    assert fake.calls == [("drain", PRIMARY), ("restore", PRIMARY)]
    names = [s.name for s in outcome.timeline.steps]
    assert names == [
        "drain us-east-1's traffic (its health check asks for a path the server never serves)",
        "wait until Route 53 answers with us-west-2",
        "wait until the public name resolves to us-west-2 (resolvers' caches, TTL)",
        "restore us-east-1's traffic",
        "wait until Route 53 answers with us-east-1",
        "wait until the public name resolves to us-east-1 (resolvers' caches, TTL)",
    ]
    assert "drill: drain us-east-1: timeline" in output.getvalue()


def test_a_drill_that_times_out_restores_the_traffic(fake: World) -> None:
    fake.stuck_answer = PRIMARY  # Route 53 keeps answering with the drained region
    run, output = session(fake, yes=True)
    run.timeouts = Timeouts(dns=30)

    outcome = drill(run)

    assert outcome.exit_code == EXIT_FAILED
    assert fake.calls == [("drain", PRIMARY), ("restore", PRIMARY)]
    assert outcome.timeline.steps[-1].name.startswith("undo: drain us-east-1")
    assert PRIMARY not in fake.drained
    assert "gave up waiting for Route 53 after 30 s: answers with us-east-1" in output.getvalue()


def test_a_drill_starts_only_from_a_healthy_writer(fake: World) -> None:
    fake.drained.add(PRIMARY)
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="Route 53 answers with us-west-2, not the writer"):
        drill(run)


@pytest.mark.parametrize("state", ["drained", "unhealthy"])
def test_a_drill_needs_the_other_region_healthy_and_not_drained(fake: World, state: str) -> None:
    getattr(fake, state).add(SECONDARY)
    run, _ = session(fake, yes=True)
    with pytest.raises(OperationError, match="us-west-2 is .*would leave no region"):
        drill(run)
    assert fake.calls == []


def test_a_public_name_that_does_not_resolve_measures_route53_only(fake: World) -> None:
    fake.public_resolves = False
    run, output = session(fake, yes=True)

    outcome = drill(run)

    assert outcome.exit_code == EXIT_OK
    assert len(outcome.timeline.steps) == 4
    assert "the public name does not resolve here" in output.getvalue()

"""tapstack.operations.status over the fake provider: configured against actual writer,
a region that does not answer, missing credentials, JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tapstack.operations.provider import DatabaseState, NoCredentials, ProviderError, Unreachable
from tapstack.operations.status import collect, render
from tests.unit.operations.fakes import PRIMARY, SECONDARY, World, provider, world


@pytest.fixture
def fake(tmp_path: Path) -> World:
    return world(tmp_path)


def _render(found: object) -> str:
    buffer = io.StringIO()
    render(found, Console(file=buffer, width=200, color_system=None))  # type: ignore[arg-type]
    return buffer.getvalue()


def test_a_healthy_pair_reports_roles_answer_and_no_problems(fake: World) -> None:
    found = collect(fake.config, provider(fake), now=fake.clock.now)

    assert found.route53_answer == PRIMARY
    assert found.configured_writer == PRIMARY
    assert found.actual_writers == [PRIMARY]
    assert [r.configured_role for r in found.regions] == ["writer", "standby"]
    assert found.problems == []
    text = _render(found)
    assert "Route 53 answers with us-east-1; configured writer us-east-1" in text
    assert "tapstack-prod-mysql-replica: replica of" in text
    assert "no problems" in text


def test_two_standalone_databases_and_a_configured_writer_that_is_not_actual(
    fake: World,
) -> None:
    fake.databases[SECONDARY] = [DatabaseState(SECONDARY, "tapstack-prod-mysql-replica")]
    fake.databases[PRIMARY] = [DatabaseState(PRIMARY, "tapstack-prod-mysql-primary", status="x")]
    found = collect(fake.config, provider(fake), now=fake.clock.now)
    assert found.actual_writers == [PRIMARY, SECONDARY]
    assert any("two standalone databases" in p for p in found.problems)

    fake.databases[PRIMARY] = []
    found = collect(fake.config, provider(fake), now=fake.clock.now)
    assert any("configured writer us-east-1 is not the actual one" in p for p in found.problems)


def test_a_region_that_does_not_answer_is_reported_beside_the_other(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = provider(fake)

    def lost(region: str) -> DatabaseState:
        raise Unreachable(f"cannot reach AWS in {region}")

    monkeypatch.setattr(made.database, "describe", lost)
    monkeypatch.setattr(made.database, "instances", lost)
    found = collect(fake.config, made, now=fake.clock.now)
    assert "database: cannot reach AWS in us-east-1" in found.regions[0].errors
    assert found.regions[1].health is not None
    assert "us-east-1: database: cannot reach AWS in us-east-1" in found.problems


def test_missing_credentials_stop_at_once(fake: World, monkeypatch: pytest.MonkeyPatch) -> None:
    made = provider(fake)

    def refuse() -> str:
        raise NoCredentials("no usable AWS credentials")

    monkeypatch.setattr(made.traffic, "route53_answer", refuse)
    with pytest.raises(NoCredentials):
        collect(fake.config, made)


def test_when_nothing_answers_one_error_says_so(
    fake: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = provider(fake)

    def down(*_: object) -> object:
        raise Unreachable("cannot reach AWS: http://localhost:1")

    for part, name in [
        (made.traffic, "route53_answer"),
        (made.traffic, "health"),
        (made.database, "describe"),
        (made.database, "instances"),
        (made.monitoring, "loader_backlog"),
        (made.monitoring, "alarms"),
        (made.objects, "replicates"),
    ]:
        monkeypatch.setattr(part, name, down)
    with pytest.raises(ProviderError, match="nothing answered: Route 53 answer: cannot reach"):
        collect(fake.config, made)


def test_the_json_form_holds_everything_the_table_shows(fake: World) -> None:
    found = collect(fake.config, provider(fake), now=fake.clock.now)
    data = json.loads(json.dumps(found.to_json(), default=str))
    assert data["route53_answer"] == PRIMARY
    assert data["actual_writers"] == [PRIMARY]
    assert data["regions"][1]["database"]["source"].endswith(":db:tapstack-prod-mysql-primary")
    assert data["regions"][1]["health"]["failover"] == "SECONDARY"
    assert data["problems"] == []


def test_a_bucket_that_should_replicate_and_does_not_is_a_problem(fake: World) -> None:
    fake.not_replicating.add(PRIMARY)
    found = collect(fake.config, provider(fake), now=fake.clock.now)
    assert [r.replicates for r in found.regions] == [False, None]  # the secondary need not yet
    assert any(
        p.startswith("us-east-1: its data bucket does not replicate to the other region")
        for p in found.problems
    )


def test_once_the_writer_moved_the_secondary_bucket_must_replicate_back(fake: World) -> None:
    moved = fake.config.model_copy(update={"writer_region": SECONDARY})
    fake.not_replicating.add(SECONDARY)
    found = collect(moved, provider(fake), now=fake.clock.now)
    assert [r.replicates for r in found.regions] == [True, False]
    assert any(
        p.startswith("us-west-2: its data bucket does not replicate") for p in found.problems
    )

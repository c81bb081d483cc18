"""The regional stacks say what they hold: no flag threaded through them, every
attribute on every instance, and either stack holds either role, as data: the
database's shape, the backup plan, the web tier's and the loader's role, the
alarms and the outputs follow the configured writer region."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tapstack.backup.infrastructure import BackupPlan
from tapstack.database.infrastructure import DatabaseShape, RegionDatabase
from tapstack.storage.infrastructure import DataBuckets, SharedDataBucket
from tests.support import ROOT, Synthesized

INFRASTRUCTURE = sorted(
    [
        *(ROOT / "tapstack" / "stacks").glob("*.py"),
        *(ROOT / "tapstack").glob("*/infrastructure.py"),
        ROOT / "tapstack" / "app.py",
    ]
)


@pytest.mark.parametrize("path", INFRASTRUCTURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_branches_on_is_primary(path: Path) -> None:
    assert not re.search(r"\bis_primary\b", path.read_text())


def test_each_stack_holds_its_roles_database_and_its_storage(synth: Synthesized) -> None:
    primary, secondary = synth.built.primary, synth.built.secondary
    assert isinstance(primary.database, RegionDatabase)
    assert isinstance(secondary.database, RegionDatabase)
    assert (primary.database.shape, secondary.database.shape) == (
        DatabaseShape.WRITER,
        DatabaseShape.REPLICA,
    )
    assert isinstance(primary.storage, DataBuckets)
    assert isinstance(secondary.storage, SharedDataBucket)
    assert primary.platform.region_watch is not None, "us-east-1 watches the other region"
    assert secondary.platform.region_watch is None


def test_either_stack_holds_either_role(synth_writer_secondary: Synthesized) -> None:
    primary, secondary = (
        synth_writer_secondary.built.primary,
        synth_writer_secondary.built.secondary,
    )
    assert (primary.database.shape, secondary.database.shape) == (
        DatabaseShape.REPLICA,
        DatabaseShape.PROMOTED,
    )
    assert primary.backup_plan is None
    assert isinstance(secondary.backup_plan, BackupPlan)
    # The slot's storage and the us-east-1 watch stay where they were.
    assert isinstance(primary.storage, DataBuckets)
    assert isinstance(secondary.storage, SharedDataBucket)
    assert primary.platform.region_watch is not None


SHARED_ATTRIBUTES = (
    "config",
    "names",
    "data_key",
    "network",
    "storage",
    "database",
    "backup_plan",
    "platform",
)


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_both_stacks_expose_the_same_parts(synth: Synthesized, kind: str) -> None:
    stack = getattr(synth.built, kind)
    missing = [name for name in SHARED_ATTRIBUTES if not hasattr(stack, name)]
    assert missing == []
    platform = stack.platform
    for name in ("web", "loader", "failover", "alarm_topic", "monitoring", "region_watch"):
        assert hasattr(platform, name), name


def test_the_switched_stacks_keep_every_locked_logical_id(
    synth_writer_secondary: Synthesized,
) -> None:
    """Moving the writer renames nothing: the same locks as the default shape, except the
    backup plan, which moves with the writer."""
    from tests.unit.test_logical_ids import LOCKED

    for kind, groups in (
        ("primary", ("storage", "database", "regional")),
        ("secondary", ("database", "regional", "backup_plan")),
    ):
        resources = synth_writer_secondary.templates[kind]["Resources"]
        for group in groups:
            for logical_id, rtype in LOCKED[group].items():
                assert resources.get(logical_id, {}).get("Type") == rtype, (kind, logical_id)


@pytest.mark.parametrize(
    ("kind", "description"),
    [
        ("primary", "MySQL endpoint of the primary region's read replica"),
        (
            "secondary",
            "MySQL endpoint of the secondary region's writer database (a promoted read replica)",
        ),
    ],
)
def test_outputs_describe_the_database_the_region_holds(
    synth_writer_secondary: Synthesized, kind: str, description: str
) -> None:
    label = kind.capitalize()
    outputs = synth_writer_secondary.templates[kind]["Outputs"]
    assert outputs[f"{label}DatabaseEndpoint"]["Description"] == description
    role = "standby" if kind == "primary" else "writer"
    assert outputs[f"{label}LoaderFunctionName"]["Description"].endswith(f"({role})")

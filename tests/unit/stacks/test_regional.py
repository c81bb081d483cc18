"""The regional stacks say what they hold: no flag threaded through them, every
attribute on every instance, and a clear failure when a stack would hold what its
region's role does not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from tapstack.config import parse_config
from tapstack.database.infrastructure import ReadReplica, WriterDatabase
from tapstack.naming import Names, Role
from tapstack.stacks.regional import PrimaryRegionStack, require_role
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
    assert isinstance(primary.database, WriterDatabase)
    assert isinstance(secondary.database, ReadReplica)
    assert isinstance(primary.storage, DataBuckets)
    assert isinstance(secondary.storage, SharedDataBucket)
    assert primary.platform.region_watch is not None, "us-east-1 watches the other region"
    assert secondary.platform.region_watch is None


SHARED_ATTRIBUTES = ("config", "names", "data_key", "network", "storage", "database", "platform")


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_both_stacks_expose_the_same_parts(synth: Synthesized, kind: str) -> None:
    stack = getattr(synth.built, kind)
    missing = [name for name in SHARED_ATTRIBUTES if not hasattr(stack, name)]
    assert missing == []
    platform = stack.platform
    for name in ("web", "loader", "failover", "alarm_topic", "monitoring", "region_watch"):
        assert hasattr(platform, name), name


def test_a_stack_refuses_a_region_whose_role_it_cannot_hold(
    config_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config(config_data, "test")
    monkeypatch.setattr("tapstack.naming.writer_region", lambda _config: "us-west-2")
    with pytest.raises(ValueError, match="primary region us-east-1 holds the writer database"):
        PrimaryRegionStack(cdk.App(), "Scratch", config=config)
    names = Names(config, "us-west-2")
    require_role(names, Role.WRITER, "the writer database")  # no error

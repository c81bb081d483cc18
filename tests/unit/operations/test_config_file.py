"""tapstack.operations.config_file: the writer region and a region's database generation
changed by a minimal line edit that keeps comments, re-validated before it is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tapstack.config import load_config
from tapstack.naming import Names
from tapstack.operations.config_file import (
    ConfigFileError,
    edit_config,
    next_generation,
    write,
)
from tests.support import DEFAULT_CONFIG

PRIMARY, SECONDARY = "us-east-1", "us-west-2"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    copy = tmp_path / "config.yaml"
    shutil.copy(DEFAULT_CONFIG, copy)
    return copy


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


def test_a_missing_writer_region_is_added_with_a_comment_and_the_rest_kept(path: Path) -> None:
    before = path.read_text()

    change = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)

    removed, added = _changed_lines(before, change.after)
    assert removed == []
    assert added == [
        "  database_generation: 1",
        "# the region whose database writes (tapstack failover/switchover change it)",
        "writer_region: us-west-2",
    ]
    # every comment of the original is still there
    comments = [line for line in before.splitlines() if "#" in line]
    assert all(line in change.after.splitlines() for line in comments)
    assert change.config.writer == SECONDARY
    assert Names(change.config, PRIMARY).db_instance == "tapstack-prod-mysql-primary-g1"
    assert path.read_text() == before  # nothing written yet


def test_existing_keys_are_changed_in_place_keeping_their_comments(path: Path) -> None:
    text = path.read_text().replace(
        "  nat_gateways: 1\nsecondary:",
        "  nat_gateways: 1\n  database_generation: 0   # bumped by tapstack\nsecondary:",
    )
    text += "writer_region: us-east-1  # moved by failover\n"
    path.write_text(text)

    change = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)

    removed, added = _changed_lines(text, change.after)
    assert removed == [
        "  database_generation: 0   # bumped by tapstack",
        "writer_region: us-east-1  # moved by failover",
    ]
    assert added == [
        "  database_generation: 1   # bumped by tapstack",
        "writer_region: us-west-2  # moved by failover",
    ]


def test_the_diff_and_the_commit_advice_name_the_file(path: Path) -> None:
    change = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)
    diff = change.diff()
    assert diff.startswith(f"--- {path}\n+++ {path}\n")  # outside the working directory
    assert "+writer_region: us-west-2" in diff
    assert change.commit_advice() == (
        f"commit {path}: git add {path} && git commit -m "
        '"tapstack: writer region us-west-2; rebuild the us-east-1 database (generation 1)"'
    )


def test_inside_the_working_directory_the_diff_reads_like_git_diff(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(path.parent)
    diff = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY).diff()
    assert diff.startswith("--- a/config.yaml\n+++ b/config.yaml\n")


def test_write_replaces_the_file_and_it_loads(path: Path) -> None:
    write(edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY))
    config = load_config(path)
    assert config.writer == SECONDARY
    assert config.primary.database_generation == 1
    assert not list(path.parent.glob(".tapstack-*"))


def test_moving_the_writer_without_rebuilding_the_old_one_is_refused_by_validation(
    path: Path,
) -> None:
    with pytest.raises(ConfigFileError, match=r"invalid: primary\.database_generation: 0 makes"):
        edit_config(path, writer_region=SECONDARY)


def test_an_unknown_region_is_refused(path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"'eu-west-1' is not one of the configured regions"):
        edit_config(path, writer_region="eu-west-1")


def test_a_file_that_is_invalid_already_is_refused_with_its_problem(path: Path) -> None:
    path.write_text(path.read_text().replace("nat_gateways: 1", "nat_gateways: 7", 1))
    with pytest.raises(ConfigFileError, match=r"primary\.nat_gateways = 7"):
        edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)


def test_a_flow_mapping_section_is_not_edited_by_hand_guessing(path: Path) -> None:
    text = path.read_text().replace(
        "primary:\n  region: us-east-1\n  vpc_cidr: 10.10.0.0/16\n  nat_gateways: 1\n",
        "primary: {region: us-east-1, vpc_cidr: 10.10.0.0/16}\n",
    )
    path.write_text(text)
    with pytest.raises(ConfigFileError, match="primary must be a block mapping"):
        edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)


def test_an_edit_that_would_change_anything_else_is_refused(path: Path) -> None:
    # Two "writer_region:" lines: the first is edited, YAML keeps the last one.
    path.write_text(path.read_text() + "writer_region: us-east-1\nwriter_region: us-east-1\n")
    with pytest.raises(ConfigFileError, match="would change more than"):
        edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)


def test_nothing_to_change_is_an_error(path: Path) -> None:
    with pytest.raises(ConfigFileError, match="nothing to change"):
        edit_config(path)


@pytest.mark.parametrize(
    ("writer", "generations", "rebuild", "expected"),
    [
        # writer primary g0, secondary g0: the secondary's next generation is 1
        (PRIMARY, (0, 0), "secondary", 1),
        # writer secondary g0: the primary must be younger than (0, secondary): 1
        (SECONDARY, (0, 0), "primary", 1),
        # writer secondary g1 (rebuilt once): the primary (g1) needs 2
        (SECONDARY, (1, 1), "primary", 2),
        # writer primary g1: the secondary (g0) needs 1
        (PRIMARY, (1, 0), "secondary", 1),
    ],
)
def test_the_next_generation_is_the_lowest_that_may_replicate_from_the_writer(
    writer: str, generations: tuple[int, int], rebuild: str, expected: int
) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["writer_region"] = writer
    data["primary"]["database_generation"], data["secondary"]["database_generation"] = generations
    assert next_generation(data, rebuild) == expected


def test_moving_the_writer_mid_upgrade_pins_the_writer_to_the_replicas_version(
    path: Path,
) -> None:
    text = path.read_text().replace(
        '  engine_version: "8.4.10"\n',
        '  engine_version: "8.4.5"\n  replica_engine_version: "8.4.10"\n',
    )
    path.write_text(text)

    change = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)

    removed, added = _changed_lines(text, change.after)
    assert removed == ['  engine_version: "8.4.5"']
    assert '  engine_version: "8.4.10"' in added
    assert change.config.database.engine_version == "8.4.10"
    assert "engine_version 8.4.10 (the promoted replica's)" in change.summary


def test_outside_an_upgrade_the_engine_version_is_left_alone(path: Path) -> None:
    change = edit_config(path, writer_region=SECONDARY, rebuild=PRIMARY)
    assert "engine_version" not in change.summary
    assert change.config.database.engine_version == "8.4.10"

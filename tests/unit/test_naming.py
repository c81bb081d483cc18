"""Names, slots and roles: a region's role derives from one place, and the physical
names follow the configured slot, so they never change with the role."""

from __future__ import annotations

from typing import Any

import pytest

from tapstack.config import parse_config
from tapstack.loader.runtime import contract
from tapstack.naming import Names, Role, Slot, writer_region


@pytest.fixture
def config(config_data: dict[str, Any]) -> Any:
    return parse_config(config_data, "test")


def test_the_primary_region_is_the_writer_and_the_secondary_the_standby(config: Any) -> None:
    primary, secondary = Names(config, "us-east-1"), Names(config, "us-west-2")
    assert writer_region(config) == config.primary.region == "us-east-1"
    assert (primary.slot, primary.role) == (Slot.PRIMARY, Role.WRITER)
    assert (secondary.slot, secondary.role) == (Slot.SECONDARY, Role.STANDBY)
    assert primary.other == secondary and secondary.other == primary


def test_roles_are_the_values_the_runtimes_report() -> None:
    assert tuple(Role) == contract.ROLES == ("writer", "standby")


def test_physical_names_keep_their_historical_words(config: Any) -> None:
    """Generation 0 keeps the names deployed before generations existed."""
    primary, secondary = Names(config, "us-east-1"), Names(config, "us-west-2")
    assert primary.db_instance == "tapstack-prod-mysql-primary"
    assert secondary.db_instance == "tapstack-prod-mysql-replica"
    assert primary.set_identifier == "tapstack-prod-primary-us-east-1"
    assert secondary.set_identifier == "tapstack-prod-standby-us-west-2"


def test_physical_names_follow_the_slot_not_the_role(
    config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving the writer (issue 11) must rename nothing: a promoted replica keeps its name."""
    names = Names(config, "us-west-2")
    before = (names.role, names.db_instance, names.set_identifier, names.label)
    monkeypatch.setattr("tapstack.naming.writer_region", lambda _config: "us-west-2")
    after = (names.role, names.db_instance, names.set_identifier, names.label)
    assert (before[0], after[0]) == (Role.STANDBY, Role.WRITER)
    assert (
        before[1:]
        == after[1:]
        == (
            "tapstack-prod-mysql-replica",
            "tapstack-prod-standby-us-west-2",
            "standby",
        )
    )


def test_settings_are_the_regions_section_of_the_configuration(config: Any) -> None:
    assert Names(config, "us-east-1").settings is config.primary
    assert Names(config, "us-west-2").settings is config.secondary


def test_names_refuse_a_region_that_is_not_configured(config: Any) -> None:
    with pytest.raises(ValueError, match="region 'eu-west-1' is neither configured region"):
        Names(config, "eu-west-1")


def test_the_configured_writer_region_decides_the_roles(config_data: dict[str, Any]) -> None:
    config_data["writer_region"] = "us-west-2"
    config_data["primary"]["database_generation"] = 1
    config = parse_config(config_data, "test")
    primary, secondary = Names(config, "us-east-1"), Names(config, "us-west-2")
    assert writer_region(config) == "us-west-2"
    assert (primary.slot, primary.role) == (Slot.PRIMARY, Role.STANDBY)
    assert (secondary.slot, secondary.role) == (Slot.SECONDARY, Role.WRITER)
    # The slot words stay: nothing but the rebuilt database changes its name.
    assert (primary.set_identifier, primary.label) == ("tapstack-prod-primary-us-east-1", "primary")


def test_a_rebuilt_database_gets_a_new_identifier_and_generation_0_keeps_the_old_one(
    config_data: dict[str, Any],
) -> None:
    config_data["primary"]["database_generation"] = 1
    config_data["secondary"]["database_generation"] = 12
    config = parse_config(config_data, "test")
    primary, secondary = Names(config, "us-east-1"), Names(config, "us-west-2")
    assert primary.db_instance == "tapstack-prod-mysql-primary-g1"
    assert secondary.db_instance == "tapstack-prod-mysql-replica-g12"
    assert primary.db_instance_arn == (
        "arn:aws:rds:us-east-1:123456789012:db:tapstack-prod-mysql-primary-g1"
    )
    assert secondary.other.db_instance_arn == primary.db_instance_arn, "a replica's source"


def test_only_the_primarys_first_database_was_created_standalone(
    config_data: dict[str, Any],
) -> None:
    config = parse_config(config_data, "test")
    assert Names(config, "us-east-1").is_original_database
    assert not Names(config, "us-west-2").is_original_database
    config_data["primary"]["database_generation"] = 1
    config_data["secondary"]["database_generation"] = 1
    rebuilt = parse_config(config_data, "test")
    assert not Names(rebuilt, "us-east-1").is_original_database

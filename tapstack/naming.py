"""Deterministic names and ARNs shared between stacks.

Stacks in different regions never exchange values through CloudFormation
exports: each one derives the other's names from the configuration with these
functions. That keeps every region deployable while the other one is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tapstack.config import RegionConfig, TapStackConfig
from tapstack.loader.runtime import contract

#: The hosted zone's ID travels under one key: the dns stack's output, and the parameter of
#: the regional stacks that write records into the zone (the deployer passes one to the other).
HOSTED_ZONE_ID = "HostedZoneId"


class Slot(StrEnum):
    """A region's configured home: the ``primary`` or ``secondary`` section of the
    configuration. Stack names, output keys and physical names follow the slot."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class Role(StrEnum):
    """What a region does today: the ``writer`` holds the writer database and loads data;
    the ``standby`` holds a read replica and takes over on failover. The web tier reports
    it in /health and the loader's metrics carry it as their dimension."""

    WRITER = contract.WRITER
    STANDBY = contract.STANDBY


def writer_region(config: TapStackConfig) -> str:
    """The region that holds the writer database: the one place roles derive from.

    The configuration's ``writer_region``, the primary region unless set.
    """
    return config.writer


#: The word a slot's physical names carry (Route 53 set identifier, WAF web ACL, health-check
#: alarms). It predates the writer/standby vocabulary and stays: changing it would rename
#: (replace) those resources.
_LABELS = {Slot.PRIMARY: "primary", Slot.SECONDARY: "standby"}
#: The database identifier's suffix per slot: the instance keeps its name whatever its role,
#: so that a read replica promoted in place is the same resource.
_DB_SUFFIXES = {Slot.PRIMARY: "primary", Slot.SECONDARY: "replica"}
#: The identifier's generation tag from generation 1 on (generation 0 has none: the names of
#: the instances deployed before generations existed must not change).
_GENERATION = "-g{}"


@dataclass(frozen=True)
class Names:
    """Names of the resources one region's stacks create or refer to."""

    config: TapStackConfig
    region: str

    def __post_init__(self) -> None:
        regions = (self.config.primary.region, self.config.secondary.region)
        if self.region not in regions:
            raise ValueError(f"region {self.region!r} is neither configured region {regions}")

    @property
    def prefix(self) -> str:
        return self.config.prefix

    @property
    def slot(self) -> Slot:
        """The configuration section this region comes from."""
        return Slot.PRIMARY if self.region == self.config.primary.region else Slot.SECONDARY

    @property
    def settings(self) -> RegionConfig:
        """This region's section of the configuration."""
        return self.config.primary if self.slot is Slot.PRIMARY else self.config.secondary

    @property
    def role(self) -> Role:
        """``writer`` or ``standby``, from :func:`writer_region`."""
        return Role.WRITER if self.region == writer_region(self.config) else Role.STANDBY

    @property
    def label(self) -> str:
        """``primary`` or ``standby``: the stable word in this region's physical names.

        It follows the slot, not the role, and never changes (see ``_LABELS``)."""
        return _LABELS[self.slot]

    @property
    def other(self) -> Names:
        """The names of the other region."""
        primary, secondary = self.config.primary.region, self.config.secondary.region
        return Names(self.config, secondary if self.region == primary else primary)

    # --- storage ---------------------------------------------------------
    @property
    def data_bucket(self) -> str:
        return f"{self.prefix}-data-{self.config.account}-{self.region}"

    @property
    def log_bucket(self) -> str:
        return f"{self.prefix}-logs-{self.config.account}-{self.region}"

    @property
    def data_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.data_bucket}"

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.prefix}-data"

    @property
    def kms_alias_arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.config.account}:{self.kms_alias}"

    @property
    def kms_any_key_arn(self) -> str:
        """Matches every key of the region; narrow it with a ``kms:ResourceAliases`` condition."""
        return f"arn:aws:kms:{self.region}:{self.config.account}:key/*"

    @property
    def backup_vault(self) -> str:
        return f"{self.prefix}-vault-{self.region}"

    @property
    def backup_vault_arn(self) -> str:
        return (
            f"arn:aws:backup:{self.region}:{self.config.account}:backup-vault:{self.backup_vault}"
        )

    # --- database --------------------------------------------------------
    @property
    def database_generation(self) -> int:
        """How many times this region's database has been rebuilt as a read replica."""
        return self.settings.database_generation

    @property
    def db_instance(self) -> str:
        """``<prefix>-mysql-primary`` or ``-replica``, by slot: stable across role changes
        (a replica promoted in place keeps it). From generation 1 on it ends in ``-g<n>``:
        a rebuilt replica is a new instance, and CloudFormation replaces a custom-named
        resource only under a new name."""
        base = f"{self.prefix}-mysql-{_DB_SUFFIXES[self.slot]}"
        generation = self.database_generation
        return base if generation == 0 else base + _GENERATION.format(generation)

    @property
    def is_original_database(self) -> bool:
        """Whether this region's instance was created standalone: only the primary's first
        (generation 0). Every other instance was created as a read replica of the other
        region's, so as the writer it is a promoted replica."""
        return self.slot is Slot.PRIMARY and self.database_generation == 0

    @property
    def master_secret(self) -> str:
        """The master user's secret: one name in both regions (it is replicated)."""
        return f"{self.prefix}/mysql/master"

    @property
    def master_secret_arn_pattern(self) -> str:
        """Matches the secret (and its replica) in this region: Secrets Manager appends
        ``-`` and six random characters to the name."""
        account = self.config.account
        return f"arn:aws:secretsmanager:{self.region}:{account}:secret:{self.master_secret}-??????"

    @property
    def db_instance_arn(self) -> str:
        return f"arn:aws:rds:{self.region}:{self.config.account}:db:{self.db_instance}"

    # --- compute and DNS -------------------------------------------------
    @property
    def loader_function(self) -> str:
        return f"{self.prefix}-loader-{self.region}"

    @property
    def loader_dead_letter_queue(self) -> str:
        """Where the loader's events go after every retry failed (``tapstack status``
        reports its depth as the loader's backlog)."""
        return f"{self.loader_function}-dlq"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms-{self.region}"

    @property
    def set_identifier(self) -> str:
        """The failover record's stable identifier within its record set (Route 53
        ``SetIdentifier``): ``<prefix>-primary-<region>`` or ``<prefix>-standby-<region>``."""
        return f"{self.prefix}-{self.label}-{self.region}"

    def stack_name(self, kind: str) -> str:
        return stack_name(self.config, kind)


def stack_name(config: TapStackConfig, kind: str) -> str:
    """``<project>-<environment>-<kind>`` for kind in dns, secondary-storage, primary, secondary."""
    return f"{config.prefix}-{kind}"

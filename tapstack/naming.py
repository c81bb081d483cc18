"""Deterministic names and ARNs shared between stacks.

Stacks in different regions never exchange values through CloudFormation
exports: each one derives the other's names from the configuration with these
functions. That keeps every region deployable while the other one is down.
"""

from __future__ import annotations

from dataclasses import dataclass

from tapstack.config import TapStackConfig

#: The hosted zone's ID travels under one key: the dns stack's output, and the parameter of
#: the regional stacks that write records into the zone (the deployer passes one to the other).
HOSTED_ZONE_ID = "HostedZoneId"


@dataclass(frozen=True)
class Names:
    """Names of the resources one region's stacks create or refer to."""

    config: TapStackConfig
    region: str

    @property
    def prefix(self) -> str:
        return self.config.prefix

    @property
    def is_primary(self) -> bool:
        return self.region == self.config.primary.region

    @property
    def role(self) -> str:
        """``primary`` or ``standby``: what the web tier reports in /health."""
        return "primary" if self.is_primary else "standby"

    @property
    def other(self) -> Names:
        """The names of the other region."""
        other_region = (
            self.config.secondary.region if self.is_primary else self.config.primary.region
        )
        return Names(self.config, other_region)

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
    def db_instance(self) -> str:
        suffix = "primary" if self.is_primary else "replica"
        return f"{self.prefix}-mysql-{suffix}"

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
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms-{self.region}"

    @property
    def set_identifier(self) -> str:
        return f"{self.prefix}-{self.role}-{self.region}"

    def stack_name(self, kind: str) -> str:
        return stack_name(self.config, kind)


def stack_name(config: TapStackConfig, kind: str) -> str:
    """``<project>-<environment>-<kind>`` for kind in dns, secondary-storage, primary, secondary."""
    return f"{config.prefix}-{kind}"

"""The modelled failover figures: how long until clients reach the other
region, and how much data can be lost. Derived from the configuration only;
the README explains each figure."""

from __future__ import annotations

from dataclasses import dataclass

from tapstack.config import TapStackConfig

#: Route 53 alias records to an ALB answer with the ALB's own 60 s TTL.
ALIAS_TTL_SECONDS = 60
#: S3 Replication Time Control replicates 99.99% of objects within 15 minutes.
S3_RTC_SECONDS = 15 * 60


@dataclass(frozen=True)
class FailoverModel:
    """Failover figures for one configuration (all in seconds unless named)."""

    health_check_interval: int
    failure_threshold: int
    alias_ttl: int = ALIAS_TTL_SECONDS
    replication_time_control: bool = True

    @classmethod
    def from_config(cls, config: TapStackConfig) -> FailoverModel:
        return cls(
            health_check_interval=config.dns.health_check_interval_seconds,
            failure_threshold=config.dns.health_check_failure_threshold,
            replication_time_control=config.storage.replication_time_control,
        )

    @property
    def detection(self) -> int:
        """Health-check interval x failure threshold."""
        return self.health_check_interval * self.failure_threshold

    @property
    def read_rto(self) -> int:
        """Detection plus the record's TTL: when every resolver answers with the secondary."""
        return self.detection + self.alias_ttl

    def rows(self) -> list[tuple[str, str, str]]:
        """(figure, value, how it is derived) for display."""
        return [
            (
                "detection time",
                f"{self.detection} s",
                f"health-check interval {self.health_check_interval} s x "
                f"failure threshold {self.failure_threshold}",
            ),
            (
                "client-visible RTO (reads)",
                f"{self.read_rto} s",
                f"detection + alias record TTL {self.alias_ttl} s",
            ),
            (
                "RTO (writes)",
                f"{self.read_rto} s + promotion",
                "reads RTO + operator-run read-replica promotion (typically minutes)",
            ),
            ("RPO database", "seconds", "asynchronous cross-region replica lag"),
            self._object_rpo(),
            ("RPO backups", "backup schedule", "daily backups, copied to the other region's vault"),
        ]

    def _object_rpo(self) -> tuple[str, str, str]:
        if self.replication_time_control:
            return (
                "RPO objects",
                f"<= {S3_RTC_SECONDS // 60} min",
                "S3 Replication Time Control (99.99%)",
            )
        return (
            "RPO objects",
            "unbounded (usually minutes)",
            "best-effort S3 replication: storage.replication_time_control is off",
        )

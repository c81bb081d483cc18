"""Builds the TapStack CDK app from a validated configuration."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from tapstack.compliance import register_policy_packs
from tapstack.config import TapStackConfig
from tapstack.naming import Role, stack_name
from tapstack.stacks.dns import DnsStack
from tapstack.stacks.regional import PrimaryRegionStack, SecondaryRegionStack
from tapstack.stacks.secondary_storage import SecondaryStorageStack

RegionalStack = PrimaryRegionStack | SecondaryRegionStack


@dataclass(frozen=True)
class TapStackApp:
    """The app and its stacks."""

    app: cdk.App
    dns: DnsStack | None
    secondary_storage: SecondaryStorageStack
    primary: PrimaryRegionStack
    secondary: SecondaryRegionStack

    @property
    def writer(self) -> RegionalStack:
        """The regional stack of the writer region."""
        return self.primary if self.primary.names.role is Role.WRITER else self.secondary

    @property
    def standby(self) -> RegionalStack:
        """The regional stack of the standby region."""
        return self.secondary if self.writer is self.primary else self.primary

    @property
    def stacks(self) -> list[cdk.Stack]:
        """Every stack, in the order ``cdk deploy --all`` deploys them: the writer's
        regional stack before the standby's."""
        ordered: list[cdk.Stack] = [s for s in (self.dns,) if s is not None]
        return [*ordered, self.secondary_storage, self.writer, self.standby]


#: Feature flags whose old behaviour TapStack must never get, whatever cdk.json
#: says or when no cdk.json is read at all (``python app.py``, tests): S3 access
#: logs through a bucket policy rather than the LogDeliveryWrite ACL, and Auto
#: Scaling groups with launch templates rather than deprecated launch configurations.
REQUIRED_FEATURE_FLAGS = (
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",
    "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig",
)


def require_feature_flags(app: cdk.App) -> None:
    """Turn the required flags on when unset; refuse an app that turns one off."""
    for flag in REQUIRED_FEATURE_FLAGS:
        value = app.node.try_get_context(flag)
        if value is None:
            app.node.set_context(flag, True)
        elif str(value).lower() != "true":
            raise ValueError(f"TapStack needs the CDK feature flag {flag} on, got {value!r}")


def build_app(config: TapStackConfig, *, app: cdk.App | None = None) -> TapStackApp:
    """Create every stack of the app for ``config``.

    Stacks refer to each other only through names derived from the
    configuration; the order is expressed as stack dependencies.
    cdk-nag's AWS Solutions and NIST 800-53 rev5 packs check every stack at
    synthesis: an unacknowledged finding fails it.
    """
    app = app or cdk.App()
    require_feature_flags(app)
    register_policy_packs(app)
    built = _stacks(app, config)
    _deploy_order(built)
    for key, value in config.tags.items():
        cdk.Tags.of(app).add(key, value)
    cdk.Tags.of(app).add("Project", config.project_name)
    return built


def _stacks(app: cdk.App, config: TapStackConfig) -> TapStackApp:
    def env(region: str) -> cdk.Environment:
        return cdk.Environment(account=config.account, region=region)

    def description(what: str) -> str:
        return f"TapStack ({config.prefix}): {what}"

    primary, secondary = config.primary.region, config.secondary.region
    dns: DnsStack | None = None
    if config.dns.hosted_zone_id is None:
        dns = DnsStack(
            app,
            stack_name(config, "dns"),
            config=config,
            env=env(primary),
            description=description("public hosted zone"),
        )
    return TapStackApp(
        app=app,
        dns=dns,
        secondary_storage=SecondaryStorageStack(
            app,
            stack_name(config, "secondary-storage"),
            config=config,
            env=env(secondary),
            description=description(f"secondary region storage {secondary}"),
        ),
        primary=PrimaryRegionStack(
            app,
            stack_name(config, "primary"),
            config=config,
            env=env(primary),
            description=description(f"primary region {primary}"),
        ),
        secondary=SecondaryRegionStack(
            app,
            stack_name(config, "secondary"),
            config=config,
            env=env(secondary),
            description=description(f"secondary region {secondary}"),
        ),
    )


def _deploy_order(built: TapStackApp) -> None:
    """Stacks name each other's resources instead of importing them; these dependencies
    make ``cdk deploy --all`` create what is named before what names it.

    Only the standby's regional stack depends on the other region's (its read replica
    needs the writer's instance); the writer's never does, so the writer region deploys
    alone while the other region is down (``cdk deploy <writer stack>`` also deploys its
    dependencies: the zone and the secondary storage, never the other regional stack).
    """
    primary, secondary, storage = built.primary, built.secondary, built.secondary_storage
    if built.dns is not None:
        primary.add_stack_dependency(built.dns, "failover records go into the hosted zone")
        secondary.add_stack_dependency(built.dns, "failover records go into the hosted zone")
    # S3 replication flows primary -> secondary whatever the roles.
    primary.add_stack_dependency(
        storage, "S3 replication and backup copies land in the secondary storage"
    )
    built.standby.add_stack_dependency(built.writer, "the read replica needs the writer database")
    secondary.add_stack_dependency(storage, "the secondary region uses its key, bucket and vault")

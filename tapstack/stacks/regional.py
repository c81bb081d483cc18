"""The regional stacks: what each region runs.

:class:`PrimaryRegionStack` and :class:`SecondaryRegionStack` each say what storage they
own or name; they differ by slot, not by role. Either can be the writer or the standby:
the region's role (from :func:`tapstack.naming.writer_region`, i.e. the configuration's
``writer_region``) travels as data. It picks the database's shape (the writer database, a
read replica of the writer's, or a replica promoted in place: see
:class:`tapstack.database.infrastructure.RegionDatabase`), where the backup plan is, the
role the web tier reports and the loader's metrics carry, and which alarms exist. Both
compose :class:`RegionalPlatform`, the parts every region runs, with explicit inputs.

The Route 53 failover type stays with the slot (see
:data:`tapstack.failover.infrastructure.FAILOVER_TYPE`). S3 replication flows from the
primary region's bucket to the secondary's whatever the roles and, from the first move of
the writer on, back as well (the rule is on the secondary's bucket, in the secondary-storage
stack: :func:`tapstack.storage.contract.replicates_back`). The primary stack alarms on the
replication out of its bucket; the way back is not alarmed on yet.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnParameter, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from tapstack.backup.infrastructure import BackupPlan, BackupVault
from tapstack.config import TapStackConfig
from tapstack.database.infrastructure import RegionDatabase
from tapstack.failover.infrastructure import FailoverRecord, RegionWatch, regional_name
from tapstack.loader.infrastructure import LoaderDatabase, LoaderFunction
from tapstack.monitoring.infrastructure import AlarmTopic, Monitoring
from tapstack.naming import HOSTED_ZONE_ID, Names, stack_name
from tapstack.network.infrastructure import Network, availability_zones
from tapstack.stacks.common import log_retention, removal_policy
from tapstack.stacks.secondary_storage import data_key_parameter
from tapstack.storage.contract import BATCH_ROLE_OUTPUT, replicates_back
from tapstack.storage.infrastructure import (
    ALB_LOG_PREFIX,
    DataBuckets,
    DataKey,
    IncomingObjects,
    Replication,
    SharedDataBucket,
)
from tapstack.web.certificate import RegionCertificate
from tapstack.web.infrastructure import AccessLogs, ServerEnvironment, WebTier

#: Where Route 53 publishes health-check metrics (and so where their alarms live).
ROUTE53_METRICS_REGION = "us-east-1"

#: An output of a regional stack: its value and description, by key without the slot prefix.
Outputs = dict[str, tuple[str, str]]


class RegionalPlatform:
    """The parts every region runs: web tier, loader, this region's half of the DNS
    failover pair, the alarm topic, alarms and dashboard.

    Not a Construct: its parts sit at the stack's top level, where their logical IDs
    have always been (a construct in between would rename, and so replace, them).

    Attributes:
        network, database: the region's VPC and database, as given.
        web: the web tier.
        loader: the loader function.
        failover: the failover record and its health check.
        certificate: the region's ACM certificate when the app manages it, else ``None``
            (a ``certificate_arn`` brought by the user, or ``web.https`` off).
        alarm_topic: the topic every alarm notifies.
        monitoring: the alarms and the dashboard.
        region_watch: the health check on the other region, in us-east-1 only, else ``None``.
    """

    def __init__(
        self,
        stack: Stack,
        *,
        names: Names,
        key: kms.IKey,
        network: Network,
        database: RegionDatabase,
        incoming: IncomingObjects,
        replication: Replication | None = None,
    ) -> None:
        self.names = names
        self.network = network
        self.database = database
        config = names.config
        hosted_zone_id = _hosted_zone_id(stack, config)
        self.certificate = _certificate(stack, names, hosted_zone_id)
        certificate_arn = (
            self.certificate.certificate_arn
            if self.certificate is not None
            else names.settings.certificate_arn
        )
        self.web = self._web(stack, names, key, network, database, certificate_arn)
        database.allow_from(self.web.instance_security_group, "MySQL from the web tier")
        self.loader = _loader(stack, names, key, network, database, incoming)
        database.allow_from(self.loader.security_group, "MySQL from the loader")
        self.failover = FailoverRecord(
            stack,
            "Failover",
            dns=config.dns,
            hosted_zone_id=hosted_zone_id,
            load_balancer=self.web.load_balancer,
            slot=names.slot,
            set_identifier=names.set_identifier,
            region=names.region,
            https=self.web.uses_tls,
        )
        # Checks start once the first instances exist, not while the group is created.
        self.failover.health_check.node.add_dependency(self.web.auto_scaling_group)
        self.alarm_topic = AlarmTopic(
            stack, "AlarmTopic", names=names, key=key, email=config.monitoring.alarm_email
        )
        self.region_watch: RegionWatch | None = None
        self.monitoring = self._monitoring(stack, database, replication)

    @staticmethod
    def _web(
        stack: Stack,
        names: Names,
        key: kms.IKey,
        network: Network,
        database: RegionDatabase,
        certificate_arn: str | None,
    ) -> WebTier:
        config = names.config
        instance = database.instance.node.default_child
        assert isinstance(instance, rds.CfnDBInstance)
        return WebTier(
            stack,
            "Web",
            vpc=network.vpc,
            vpc_cidr=names.settings.vpc_cidr,
            settings=config.web,
            server=ServerEnvironment(
                project=config.project_name,
                region=names.region,
                role=names.role,
                # The region's own instance: the writer's reads the writer database, the
                # standby's its read replica.
                database_host=database.instance.db_instance_endpoint_address,
                database_port=config.database.port,
                database_name=config.database.database_name,
                read_user=config.web.database_user,
                database_resource_id=instance.attr_dbi_resource_id,
            ),
            acl_name=f"{names.prefix}-{names.label}",
            certificate_arn=certificate_arn,
            access_logs=AccessLogs(bucket_name=names.log_bucket, prefix=ALB_LOG_PREFIX),
            log_key=key,
            log_retention=log_retention(config),
            removal_policy=removal_policy(config),
        )

    def _monitoring(
        self, stack: Stack, database: RegionDatabase, replication: Replication | None
    ) -> Monitoring:
        names, config = self.names, self.names.config
        monitoring = Monitoring(
            stack,
            "Monitoring",
            names=names,
            settings=config.monitoring,
            topic=self.alarm_topic.topic,
        )
        asg_name = self.web.auto_scaling_group.auto_scaling_group_name
        monitoring.watch_web(
            auto_scaling_group_name=asg_name,
            load_balancer=self.web.load_balancer,
            target_group=self.web.target_group,
        )
        monitoring.watch_scaling_events(asg_name)
        monitoring.watch_database(database.instance, replica=database.is_replica)
        monitoring.watch_loader(self.loader.function, self.loader.dead_letter_queue)
        if replication is not None:
            monitoring.watch_replication(
                source_bucket=replication.source_bucket,
                destination_bucket=replication.destination_bucket,
                rule_id=replication.rule_id,
            )
        if names.region == ROUTE53_METRICS_REGION:
            self._watch_both_health_checks(stack, monitoring)
        monitoring.add_dashboard()
        return monitoring

    def _watch_both_health_checks(self, stack: Stack, monitoring: Monitoring) -> None:
        """Route 53 publishes health-check metrics in us-east-1 only: the stack there alarms
        on its own check and, through a check of its own, on the other region's."""
        names, other = self.names, self.names.other
        config = names.config
        monitoring.watch_health_check(
            names.label,
            self.failover.health_check.health_check_id,
            f"Route 53 sees {names.region} ({names.role}) as unhealthy: "
            "traffic fails over away from it",
        )
        self.region_watch = RegionWatch(
            stack,
            "OtherRegionWatch",
            dns=config.dns,
            region=other.region,
            # Whether the other region serves HTTPS is configuration (web.https), not this
            # region's listener: both regions serve HTTPS or neither does.
            https=config.web.https,
        )
        monitoring.watch_health_check(
            other.label,
            self.region_watch.health_check.health_check_id,
            f"Route 53 sees {other.region} ({other.role}) as unhealthy",
            notify=config.monitoring.notify_other_region_health,
        )

    def outputs(self) -> Outputs:
        """What every region reports, keyed without the slot prefix."""
        region, database = self.names.slot.value, self.database
        scheme = "https" if self.web.uses_tls else "http"
        return {
            "VpcId": (self.network.vpc.vpc_id, f"VPC of the {region} region"),
            "LoadBalancerDnsName": (
                self.web.load_balancer.load_balancer_dns_name,
                f"DNS name of the {region} region's load balancer",
            ),
            "HealthCheckId": (
                self.failover.health_check.health_check_id,
                f"Route 53 health check of the {region} region",
            ),
            "RegionalUrl": (
                f"{scheme}://{self.failover.regional_name}/",
                f"Reaches the {region} region directly",
            ),
            "DatabaseEndpoint": (
                database.instance.db_instance_endpoint_address,
                f"MySQL endpoint of the {region} region's {database.title}",
            ),
            "DatabaseArn": (
                self.names.db_instance_arn,
                f"ARN of the {region} region's {database.title}",
            ),
            "LoaderFunctionName": (
                self.loader.function.function_name,
                f"S3 -> MySQL loader in the {region} region ({self.names.role})",
            ),
            "LoaderDeadLetterQueueUrl": (
                self.loader.dead_letter_queue.queue_url,
                "Events the loader failed on after every retry",
            ),
            "AlarmTopicArn": (
                self.alarm_topic.topic.topic_arn,
                "Every alarm notifies this topic",
            ),
        }


def _loader(
    stack: Stack,
    names: Names,
    key: kms.IKey,
    network: Network,
    database: RegionDatabase,
    incoming: IncomingObjects,
) -> LoaderFunction:
    config = names.config
    instance = database.instance.node.default_child
    assert isinstance(instance, rds.CfnDBInstance)
    return LoaderFunction(
        stack,
        "Loader",
        names=names,
        settings=config.loader,
        vpc=network.vpc,
        incoming=incoming,
        database=LoaderDatabase(
            host=database.instance.db_instance_endpoint_address,
            port=config.database.port,
            name=config.database.database_name,
            resource_id=instance.attr_dbi_resource_id,
            reader_user=config.web.database_user,
            security_group=database.security_group,
            master_secret_name=names.master_secret,
            master_secret_arn_pattern=names.master_secret_arn_pattern,
        ),
        key=key,
        log_retention=log_retention(config),
        removal_policy=removal_policy(config),
    )


def _certificate(stack: Stack, names: Names, hosted_zone_id: str) -> RegionCertificate | None:
    """The region's ACM certificate, when the app manages it (HTTPS on, no
    ``certificate_arn``): for the failover name users reach and the regional name the
    health checks ask for (their SNI), validated in the zone the records go into."""
    config = names.config
    if not config.manages_certificate(names.settings):
        return None
    return RegionCertificate(
        stack,
        "Certificate",
        domain_names=[config.dns.fqdn, regional_name(config.dns, names.region)],
        hosted_zone_id=hosted_zone_id,
    )


def _hosted_zone_id(stack: Stack, config: TapStackConfig) -> str:
    """The zone the records go into, by ID: the configured one, else a parameter.

    The dns stack's zone ID is known only once it exists, and this stack may not
    import it (the secondary region is another region, and either region must deploy
    while the other is down). The deployer passes the dns stack's ``HostedZoneId``
    output as this parameter; CloudFormation keeps it for later updates, and the
    parameter type makes it check that the zone exists.
    """
    if config.dns.hosted_zone_id is not None:
        return config.dns.hosted_zone_id
    parameter = CfnParameter(
        stack,
        HOSTED_ZONE_ID,
        type="AWS::Route53::HostedZone::Id",
        description=f"ID of the public hosted zone {config.dns.domain_name} "
        f"(output HostedZoneId of the {stack_name(config, 'dns')} stack)",
    )
    return parameter.value_as_string


def _network(stack: Stack, names: Names, key: kms.IKey) -> Network:
    config = names.config
    return Network(
        stack,
        "Network",
        cidr=names.settings.vpc_cidr,
        nat_gateways=names.settings.nat_gateways,
        interface_endpoints=config.interface_endpoints,
        flow_log_key=key,
        flow_log_group_name=f"/{names.prefix}/{names.region}/vpc-flow-logs",
        flow_log_retention=log_retention(config),
        removal_policy=removal_policy(config),
    )


def _database(stack: Stack, names: Names, key: kms.IKey, network: Network) -> RegionDatabase:
    """The region's instance, in the shape its role and generation call for."""
    config = names.config
    return RegionDatabase(
        stack,
        "Database",
        vpc=network.vpc,
        settings=config.database,
        names=names,
        key=key,
        log_retention=log_retention(config),
        removal_policy=removal_policy(config),
    )


def _backup_plan(
    stack: Stack,
    names: Names,
    *,
    vault: backup.IBackupVault,
    database: RegionDatabase,
    data_bucket_arn: str,
) -> BackupPlan:
    """The writer region's daily plan over its database and data bucket, copying to the
    other region's vault (by ARN: named, never read from the other region).

    Only the writer region has one, so the plan follows the writer: AWS Backup cannot back
    up a read replica, whose backups are disabled ("backups are disabled for read replicas",
    AWS::RDS::DBInstance, SourceDBInstanceIdentifier), and the writer's recovery points
    already land in the standby region's vault.
    """
    return BackupPlan(
        stack,
        "BackupPlan",
        names=names,
        settings=names.config.backup,
        vault=vault,
        copy_to=names.other,
        resources=[
            backup.BackupResource.from_rds_database_instance(database.instance),
            backup.BackupResource.from_arn(data_bucket_arn),
        ],
    )


def _add_outputs(stack: Stack, names: Names, outputs: Outputs) -> None:
    """One output per entry, its key prefixed with the slot (``Primary``/``Secondary``)."""
    label = names.slot.value.capitalize()
    for key, (value, description) in outputs.items():
        CfnOutput(stack, f"{label}{key}", value=value, description=description)


class RegionStack(Stack):
    """What both regional stacks share: they are built for one region's :class:`Names`, and
    take that region's zones from configuration."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TapStackConfig,
        region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.names = Names(config, region)

    @property
    def availability_zones(self) -> list[str]:
        """The region's two zones, from configuration: never looked up in the account
        (see :func:`tapstack.network.infrastructure.availability_zones`)."""
        return availability_zones(self.names.settings)


class PrimaryRegionStack(RegionStack):
    """The primary region: its own data key, buckets (replicating to the secondary
    region) and backup vault, the region's database (the writer database by default, a
    read replica while the secondary region is the writer), the daily backup plan while it
    is the writer (copies to the secondary region's vault), and the
    :class:`RegionalPlatform`.

    Attributes:
        config, names: the configuration and this region's names.
        data_key: the region's KMS key.
        storage: the data and access-log buckets.
        network: the VPC.
        database: the region's database.
        backup_vault: the region's vault.
        backup_plan: the daily plan, or ``None`` while the region is the standby.
        platform: web tier, loader, failover record, monitoring.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TapStackConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, config=config, region=config.primary.region, **kwargs)
        names = self.names
        policy = removal_policy(config)
        self.data_key: kms.IKey = DataKey(self, "DataKey", names=names, removal_policy=policy).key
        self.network = _network(self, names, self.data_key)
        self.storage = DataBuckets(
            self,
            "Storage",
            names=names,
            settings=config.storage,
            key=self.data_key,
            removal_policy=policy,
            replicate_to=names.other,
        )
        self.database = _database(self, names, self.data_key, self.network)
        self.backup_vault = BackupVault(
            self, "Backup", names=names, key=self.data_key, removal_policy=policy
        )
        self.backup_plan: BackupPlan | None = None
        if not self.database.is_replica:
            self.backup_plan = _backup_plan(
                self,
                names,
                vault=self.backup_vault.vault,
                database=self.database,
                data_bucket_arn=self.storage.bucket.bucket_arn,
            )
        self.platform = RegionalPlatform(
            self,
            names=names,
            key=self.data_key,
            network=self.network,
            database=self.database,
            incoming=self.storage,
            replication=self.storage.replication,
        )
        if self.storage.log_bucket.policy is not None:
            # The ALB checks that it may write its logs when they are switched on.
            self.platform.web.load_balancer.node.add_dependency(self.storage.log_bucket.policy)
        self._outputs()

    def _outputs(self) -> None:
        outputs = self.platform.outputs() | {
            "DataBucketName": (self.storage.bucket.bucket_name, "Data bucket (replicated)"),
            "LogBucketName": (self.storage.log_bucket.bucket_name, "Access-log bucket"),
            "BackupVaultArn": (self.backup_vault.vault.backup_vault_arn, "Backup vault"),
            "DataKeyArn": (self.data_key.key_arn, "KMS key for data at rest"),
        }
        role = self.storage.batch_replication_role
        assert role is not None  # the primary bucket always replicates
        outputs[BATCH_ROLE_OUTPUT] = (
            role.role_arn,
            "Role S3 Batch Replication assumes for this region's data bucket",
        )
        _add_outputs(self, self.names, outputs)
        scheme = "https" if self.platform.web.uses_tls else "http"
        CfnOutput(
            self,
            "ApplicationUrl",
            value=f"{scheme}://{self.config.dns.fqdn}/",
            description="The failover URL (Route 53 serves the healthy region)",
        )


class SecondaryRegionStack(RegionStack):
    """The secondary region: the region's database (a read replica of the writer's by
    default, the writer database, promoted in place, while it is the writer), the daily
    backup plan while it is the writer (copies to the primary region's vault), and the
    :class:`RegionalPlatform`. Its data key, buckets and vault belong to the
    secondary-storage stack (deployed first, same region): the key is read by name from
    SSM, the data bucket and the vault are named.

    Attributes:
        config, names: the configuration and this region's names.
        data_key: the region's KMS key (owned by the secondary-storage stack).
        storage: the data bucket, as a later stack sees it.
        network: the VPC.
        database: the region's database.
        backup_plan: the daily plan, or ``None`` while the region is the standby.
        platform: web tier, loader, failover record, monitoring.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TapStackConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, region=config.secondary.region, **kwargs
        )
        names = self.names
        # Owned by the secondary-storage stack; read by name at deploy time.
        key_arn = ssm.StringParameter.value_for_string_parameter(self, data_key_parameter(names))
        self.data_key: kms.IKey = kms.Key.from_key_arn(self, "DataKey", key_arn)
        self.network = _network(self, names, self.data_key)
        self.storage = SharedDataBucket(names)
        self.database = _database(self, names, self.data_key, self.network)
        self.backup_plan: BackupPlan | None = None
        if not self.database.is_replica:
            self.backup_plan = _backup_plan(
                self,
                names,
                # Owned by the secondary-storage stack, named.
                vault=backup.BackupVault.from_backup_vault_name(
                    self, "BackupVault", names.backup_vault
                ),
                database=self.database,
                data_bucket_arn=names.data_bucket_arn,
            )
        self.platform = RegionalPlatform(
            self,
            names=names,
            key=self.data_key,
            network=self.network,
            database=self.database,
            incoming=self.storage,
            # Once the bucket replicates back (the writer moved), its failures and latency
            # alarm here, as the primary's do: a failing reverse replication pages someone.
            replication=(
                Replication(names.data_bucket, names.other.data_bucket)
                if replicates_back(config)
                else None
            ),
        )
        _add_outputs(self, names, self.platform.outputs())

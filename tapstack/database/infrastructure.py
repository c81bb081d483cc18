"""RDS MySQL: each region's instance, the writer database or a cross-region read
replica of it, as the region's role and its instance's history call for."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import DatabaseConfig
from tapstack.naming import Names, Role, Slot
from tapstack.removal import retains

#: The port cdk-nag's AwsSolutions-RDS11 flags for MySQL.
MYSQL_DEFAULT_PORT = 3306
#: Logs every instance exports to CloudWatch.
EXPORTED_LOGS = ("error", "slowquery")


def engine_for(version: str) -> rds.IInstanceEngine:
    """The pinned MySQL engine for a full version such as ``8.4.10``."""
    major = ".".join(version.split(".")[:2])
    return rds.DatabaseInstanceEngine.mysql(version=rds.MysqlEngineVersion.of(version, major))


def lifecycle_support(settings: DatabaseConfig) -> rds.EngineLifecycleSupport:
    """Extended Support enrolment, as configured."""
    if settings.engine_lifecycle_support == "open-source-rds-extended-support":
        return rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT
    return rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT_DISABLED


class _DatabaseBase(Construct):
    """What every shape of the database shares: security group, subnet placement, the
    TLS-only parameter group, and log groups created up front."""

    instance: rds.DatabaseInstanceBase

    def _setup(
        self,
        *,
        vpc: ec2.IVpc,
        settings: DatabaseConfig,
        version: str,
        identifier: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        self.identifier = identifier
        self.port = settings.port
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"{identifier}: MySQL from the web tier and the loader only",
            allow_all_outbound=False,
        )
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            # The family follows this instance's own version (the replica's may be newer).
            engine=engine_for(version),
            description=f"{identifier}: TLS required, slow query log on",
            parameters={
                "require_secure_transport": "1",
                "slow_query_log": "1",
                "long_query_time": "2",
                "log_output": "FILE",
            },
        )
        # Created here, with retention and the region's key, instead of letting
        # RDS create them (no retention) or CDK's LogRetention custom resource.
        self.log_groups = [
            logs.LogGroup(
                self,
                f"{kind.capitalize()}Logs",
                log_group_name=f"/aws/rds/instance/{identifier}/{kind}",
                retention=log_retention,
                encryption_key=key,
                removal_policy=removal_policy,
            )
            for kind in EXPORTED_LOGS
        ]

    def _finish(self, retain: bool) -> None:
        """After the instance exists: its log groups first, then the shared acknowledgements."""
        for group in self.log_groups:
            self.instance.node.add_dependency(group)
        self._acknowledge_common(retain)

    def _acknowledge_common(self, retain: bool) -> None:
        if not retain:
            for finding in (
                "AwsSolutions-RDS10",
                "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
            ):
                acknowledge(
                    self.instance,
                    finding,
                    "removal_mode is destroy: a throwaway environment that must delete "
                    "cleanly with its stacks; production uses retain, which turns protection on",
                )
        cfn = self.instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        if cfn.engine is None:
            # A replica (or a promoted one) inherits its engine, and cdk-nag flags any
            # instance whose engine, and so whose default port, it cannot see.
            acknowledge(
                self.instance,
                "AwsSolutions-RDS11",
                "A read replica inherits its engine from its source, so the rule cannot tell "
                f"its port from the engine's default; it listens on database.port {self.port} "
                "in private subnets and admits only two security groups",
            )
        elif self.port == MYSQL_DEFAULT_PORT:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS11",
                "MySQL's standard port: the instance sits in private subnets and admits only "
                "two security groups, so a different port would hide nothing and break client "
                "defaults",
            )
        role = self.instance.node.try_find_child("MonitoringRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "The AWS-managed policy is the documented permission set for RDS Enhanced "
                "Monitoring to publish OS metrics to CloudWatch Logs",
            )

    def _common(
        self,
        names: Names,
        settings: DatabaseConfig,
        vpc: ec2.IVpc,
        key: kms.IKey,
        retain: bool,
    ) -> dict[str, Any]:
        """Properties the writer database and the read replica share."""
        return {
            "instance_identifier": names.db_instance,
            "instance_type": ec2.InstanceType(settings.instance_class.removeprefix("db.")),
            "vpc": vpc,
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            "security_groups": [self.security_group],
            "port": settings.port,
            "storage_type": rds.StorageType.GP3,
            "storage_encryption_key": key,
            "max_allocated_storage": settings.max_allocated_storage_gib,
            "parameter_group": self.parameter_group,
            "iam_authentication": True,
            "cloudwatch_logs_exports": list(EXPORTED_LOGS),
            "copy_tags_to_snapshot": True,
            "deletion_protection": retain,
            "auto_minor_version_upgrade": False,  # the version is pinned in configuration
            "publicly_accessible": False,
            "monitoring_interval": Duration.seconds(60),  # Enhanced Monitoring
            "removal_policy": RemovalPolicy.SNAPSHOT if retain else RemovalPolicy.DESTROY,
        }

    def allow_from(self, peer: ec2.ISecurityGroup, description: str) -> None:
        """Admit MySQL connections from one security group."""
        self.security_group.add_ingress_rule(peer, ec2.Port.tcp(self.port), description)


#: The master user's name (the password lives in the master secret).
MASTER_USERNAME = "admin"


class MasterSecret(Construct):
    """The master user's credentials: a generated Secrets Manager secret, encrypted with
    the region's data key and replicated into the other region.

    Not ``ManageMasterUserPassword``: RDS refuses a read replica of a MySQL instance whose
    master password it manages ("Creating read replicas for source instance with engine
    mysql where ManageMasterUserPassword is enabled is not supported"; RDS User Guide,
    "Limitations for Secrets Manager integration with Amazon RDS"). The replica in the
    other region keeps the credentials there: after a region loss, the promoted database
    can be logged in to and bootstrapped with the same secret, by the same name.

    Attributes:
        secret: the secret (``username``, ``password``; RDS adds ``host`` and ``port``).
        secret_name: its deterministic name, the same in both regions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret_name = names.master_secret
        # The replica is encrypted with the other region's data key, named by its alias
        # (owned by a stack deployed earlier): Secrets Manager accepts an alias there.
        replica_key = kms.Key.from_key_arn(self, "ReplicaKey", names.other.kms_alias_arn)
        self.secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=MASTER_USERNAME,
            secret_name=self.secret_name,
            encryption_key=key,
            replica_regions=[
                secretsmanager.ReplicaRegion(region=names.other.region, encryption_key=replica_key)
            ],
        )
        self.secret.apply_removal_policy(removal_policy)
        reason = (
            "The master password is a break-glass credential: applications authenticate "
            "with IAM tokens. Rotation needs a rotation Lambda in the VPC (a hosted rotation "
            "is a SAR transform) and must keep the replica in the other region in step; "
            "rotate it with `aws secretsmanager rotate-secret` after adding one"
        )
        acknowledge(self.secret, "AwsSolutions-SMG4", reason)
        acknowledge(self.secret, "NIST.800.53.R5-SecretsManagerRotationEnabled", reason)


class DatabaseShape(StrEnum):
    """What a region's instance is in its template: it follows the region's role and the
    instance's history (see :func:`database_shape`)."""

    WRITER = "writer"
    """The original instance, created standalone: the primary region's generation 0."""
    REPLICA = "replica"
    """A cross-region read replica of the writer region's current instance."""
    PROMOTED = "promoted"
    """The writer, created as a read replica and promoted in place by CloudFormation: the
    replica's template without ``SourceDBInstanceIdentifier`` (see :data:`PROMOTION`)."""


def database_shape(names: Names) -> DatabaseShape:
    """The shape of ``names.region``'s instance.

    Every instance but the primary's generation 0 was created as a read replica, so as the
    writer it is a promoted replica, whose template must keep everything CloudFormation
    would otherwise replace it for. Raises ``ValueError`` when the standby's instance cannot
    be a replica of the writer's (configuration validation refuses that first; this guards
    configurations built without it, e.g. by ``model_copy``).
    """
    problems = names.config.database_lineage_problems()
    if problems:
        raise ValueError(problems[0])
    if names.role is Role.STANDBY:
        return DatabaseShape.REPLICA
    return DatabaseShape.WRITER if names.is_original_database else DatabaseShape.PROMOTED


#: How the promoted writer's template differs from its replica template, each with the
#: CloudFormation rule that lets the change update the instance in place
#: (AWS::RDS::DBInstance, "Update requires" of each property; tests assert this set).
#: Everything else stays as the replica had it. Left out on purpose, because each would
#: replace the instance (and a custom-named instance cannot be replaced under its name):
#: StorageEncrypted, KmsKeyId, MasterUsername, DBName, DBSubnetGroupName, Port (Update
#: requires: Replacement); Engine (conditionally create-only in the resource schema: the
#: promoted instance inherited it). Encryption, the master user and its password, and the
#: database name all come with the data the replica copied from its source.
PROMOTION: dict[str, str] = {
    "SourceDBInstanceIdentifier": 'removed: "If you remove the SourceDBInstanceIdentifier '
    "property from your template and then update your stack, AWS CloudFormation promotes the "
    'read replica to a standalone DB instance" (Update requires: Some interruptions)',
    "BackupRetentionPeriod": "added, the writer's automated backups and point-in-time "
    "recovery (Update requires: Some interruptions; 'An outage occurs if you change the "
    "backup retention period of a DB instance from 0 to a nonzero value', RDS User Guide, "
    "Backup retention period: brief, beside the promotion's own reboot)",
    "DeleteAutomatedBackups": "added, as the writer has it (Update requires: No interruption)",
    "MultiAZ": "database.multi_az instead of database.replica_multi_az "
    "(Update requires: Some interruptions)",
}


class RegionDatabase(_DatabaseBase):
    """The region's MySQL instance in the shape its role calls for (:class:`DatabaseShape`):
    the writer database (Multi-AZ, encrypted, TLS only, IAM auth, automated backups), or a
    cross-region read replica of the writer region's current instance, encrypted with this
    region's key, or a replica promoted in place. One logical ID and, per generation, one
    literal identifier for all three, so that a promotion updates the same instance.

    Attributes:
        shape: what the instance is.
        instance: the RDS instance.
        master_secret: the master user's secret; the primary region owns it whatever its
            role, else ``None`` (see :class:`MasterSecret`).
        security_group: admits the web tier and the loader (see ``allow_from``).
        log_groups: the exported log groups.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        settings: DatabaseConfig,
        names: Names,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.shape = shape = database_shape(names)
        # The writer's pin for a standalone instance, the replica's for a replica. A
        # promotion keeps the version only while both pins agree: promote between upgrades,
        # never halfway through one (RDS cannot downgrade the promoted instance).
        version = settings.replica_version if self.is_replica else settings.engine_version
        self._setup(
            vpc=vpc,
            settings=settings,
            version=version,
            identifier=names.db_instance,
            key=key,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        retain = retains(removal_policy)
        # The primary region owns the secret for good: it was created with the original
        # writer, every later instance inherits its password (replicas copy the master user
        # from their source), and its copy in the other region keeps it there. Moving it
        # with the role would delete it.
        self.master_secret: MasterSecret | None = None
        if names.slot is Slot.PRIMARY:
            self.master_secret = MasterSecret(
                self, "MasterSecret", names=names, key=key, removal_policy=removal_policy
            )
        common = self._common(names, settings, vpc, key, retain)
        if shape is DatabaseShape.WRITER:
            assert self.master_secret is not None  # the original instance is the primary's
            self.instance = self._writer(common, settings, self.master_secret, retain)
        else:
            self.instance = self._replica(common, settings, names, version, retain)
        self._finish(retain)
        self._acknowledge_shape(settings)

    @property
    def is_replica(self) -> bool:
        """Whether the instance replicates from another and reports ``ReplicaLag``."""
        return self.shape is DatabaseShape.REPLICA

    @property
    def title(self) -> str:
        """What the outputs and alarms call this database."""
        return {
            DatabaseShape.WRITER: "writer database",
            DatabaseShape.REPLICA: "read replica",
            DatabaseShape.PROMOTED: "writer database (a promoted read replica)",
        }[self.shape]

    def _writer(
        self,
        common: dict[str, Any],
        settings: DatabaseConfig,
        master_secret: MasterSecret,
        retain: bool,
    ) -> rds.DatabaseInstance:
        return rds.DatabaseInstance(
            self,
            "Instance",
            **common,
            engine=engine_for(settings.engine_version),
            engine_lifecycle_support=lifecycle_support(settings),
            database_name=settings.database_name,
            multi_az=settings.multi_az,
            allocated_storage=settings.allocated_storage_gib,
            storage_encrypted=True,
            credentials=rds.Credentials.from_secret(master_secret.secret),
            backup_retention=Duration.days(settings.backup_retention_days),
            delete_automated_backups=not retain,
        )

    def _replica(
        self,
        common: dict[str, Any],
        settings: DatabaseConfig,
        names: Names,
        version: str,
        retain: bool,
    ) -> rds.DatabaseInstanceReadReplica:
        """The replica, or the promoted replica: the same construct and properties, the
        promoted one without its source and with the writer's :data:`PROMOTION` changes."""
        source = names.other
        source_instance = rds.DatabaseInstance.from_database_instance_attributes(
            self,
            "Source",
            instance_identifier=source.db_instance,
            instance_endpoint_address=f"{source.db_instance}.invalid",  # unused by a replica
            port=settings.port,
            security_groups=[],
            engine=engine_for(version),
        )
        writer_only: dict[str, Any] = {}
        if self.shape is DatabaseShape.PROMOTED:
            writer_only = {
                "backup_retention": Duration.days(settings.backup_retention_days),
                "delete_automated_backups": not retain,
            }
        instance = rds.DatabaseInstanceReadReplica(
            self,
            "Instance",
            **common,
            source_database_instance=source_instance,
            multi_az=settings.replica_multi_az if self.is_replica else settings.multi_az,
            **writer_only,
        )
        cfn = instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        if self.is_replica:
            # The imported source gets this stack's region in its ARN; a cross-region
            # replica must name the source by its real ARN in the writer region.
            cfn.source_db_instance_identifier = source.db_instance_arn
        else:
            # Its absence is what promotes the replica (see PROMOTION).
            cfn.add_property_deletion_override("SourceDBInstanceIdentifier")
        # CloudFormation rejects StorageEncrypted beside SourceDBInstanceIdentifier
        # (cfn-lint E3020); encryption follows KmsKeyId. A promoted replica keeps it absent:
        # adding it would replace the instance (Update requires: Replacement).
        cfn.add_property_deletion_override("StorageEncrypted")
        # Pinned, never inherited from the source: an upgrade then goes replica first (MySQL
        # replicates from an older source to a newer replica, not the reverse), and the
        # parameter group's family always matches the version the replica runs.
        cfn.engine_version = version
        return instance

    def _acknowledge_shape(self, settings: DatabaseConfig) -> None:
        if self.is_replica:
            self._acknowledge_replica(settings)
        elif not settings.multi_az:
            # The writer (original or promoted) single-AZ: only when configuration asks.
            reason = (
                "database.multi_az is false: a development configuration that accepts losing "
                "the writer while its one AZ or host is down, at half the instance cost; "
                "production keeps the default, Multi-AZ"
            )
            acknowledge(self.instance, "AwsSolutions-RDS3", reason)
            acknowledge(self.instance, "NIST.800.53.R5-RDSMultiAZSupport", reason)
        if self.shape is not DatabaseShape.WRITER:
            return
        # cdk-nag checks these logs by the Engine property, which only the original writer
        # sets (replicas and promoted replicas inherit the engine from their source).
        acknowledge(
            self.instance,
            "NIST.800.53.R5-RDSLoggingEnabled[LogExport::general]",
            "The general log records every statement with its data (every row the loader "
            "writes); the error and slow-query logs are exported instead",
        )
        acknowledge(
            self.instance,
            "NIST.800.53.R5-RDSLoggingEnabled[LogExport::audit]",
            "MySQL on RDS needs an audit-plugin option group for this log; connections are "
            "audited through IAM authentication (rds-db:connect) in CloudTrail instead",
        )

    def _acknowledge_replica(self, settings: DatabaseConfig) -> None:
        acknowledge(
            self.instance,
            "NIST.800.53.R5-RDSInBackupPlan",
            "AWS Backup cannot back up read replicas; the writer database's daily recovery "
            "points are copied into this region's vault, and RDS keeps the replica current",
        )
        if not settings.replica_multi_az:
            reason = (
                "The cross-region replica is single-AZ by default (database.replica_multi_az): "
                "its job is a second region, and Multi-AZ would double its cost"
            )
            acknowledge(self.instance, "AwsSolutions-RDS3", reason)
            acknowledge(self.instance, "NIST.800.53.R5-RDSMultiAZSupport", reason)

"""A regional stack: everything one region runs. The primary and secondary
stacks are two instances of it that differ only in their role."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnParameter, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from tapstack.backup.infrastructure import BackupPlan, BackupVault
from tapstack.config import RegionConfig, TapStackConfig
from tapstack.database.infrastructure import PrimaryDatabase, ReplicaDatabase
from tapstack.failover.infrastructure import FailoverRecord, RegionWatch
from tapstack.loader.infrastructure import Loader
from tapstack.monitoring.infrastructure import AlarmTopic, Monitoring
from tapstack.naming import HOSTED_ZONE_ID, Names, stack_name
from tapstack.network.infrastructure import Network
from tapstack.stacks.common import log_retention, removal_policy
from tapstack.stacks.secondary_storage import data_key_parameter
from tapstack.storage.infrastructure import ALB_LOG_PREFIX, DataBuckets, DataKey
from tapstack.web.infrastructure import WebTier

#: Where Route 53 publishes health-check metrics (and so where their alarms live).
ROUTE53_METRICS_REGION = "us-east-1"


class RegionalStack(Stack):
    """Network, data, web tier, loader, monitoring and this region's half of
    the DNS failover pair.

    In the primary region the stack owns the region's key, buckets (replicating
    to the secondary), the writable database and the backup plan. In the
    secondary region the key, buckets and vault live in the secondary-storage
    stack (deployed first); this stack holds the read replica.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TapStackConfig,
        region_config: RegionConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.names = names = Names(config, region_config.region)
        policy = removal_policy(config)
        retention = log_retention(config)

        self.data_key: kms.IKey
        if names.is_primary:
            self.data_key = DataKey(self, "DataKey", names=names, removal_policy=policy).key
        else:
            # Owned by the secondary-storage stack; read by name at deploy time.
            key_arn = ssm.StringParameter.value_for_string_parameter(
                self, data_key_parameter(names)
            )
            self.data_key = kms.Key.from_key_arn(self, "DataKey", key_arn)

        self.network = Network(
            self,
            "Network",
            cidr=region_config.vpc_cidr,
            nat_gateways=region_config.nat_gateways,
            interface_endpoints=config.interface_endpoints,
            flow_log_key=self.data_key,
            flow_log_group_name=f"/{names.prefix}/{names.region}/vpc-flow-logs",
            flow_log_retention=retention,
            removal_policy=policy,
        )

        self.data_bucket: s3.IBucket
        self.database: PrimaryDatabase | ReplicaDatabase
        if names.is_primary:
            self.storage = DataBuckets(
                self,
                "Storage",
                names=names,
                settings=config.storage,
                key=self.data_key,
                removal_policy=policy,
                replicate_to=names.other,
            )
            self.data_bucket = self.storage.bucket
            self.database = PrimaryDatabase(
                self,
                "Database",
                vpc=self.network.vpc,
                settings=config.database,
                names=names,
                key=self.data_key,
                log_retention=retention,
                removal_policy=policy,
            )
            self.backup_vault = BackupVault(
                self, "Backup", names=names, key=self.data_key, removal_policy=policy
            )
            self.backup_plan = BackupPlan(
                self,
                "BackupPlan",
                names=names,
                settings=config.backup,
                vault=self.backup_vault.vault,
                copy_to=names.other,
                resources=[
                    backup.BackupResource.from_rds_database_instance(self.database.instance),
                    backup.BackupResource.from_arn(self.data_bucket.bucket_arn),
                ],
            )
        else:
            self.data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", names.data_bucket)
            self.database = ReplicaDatabase(
                self,
                "Database",
                vpc=self.network.vpc,
                settings=config.database,
                names=names,
                source=names.other,
                key=self.data_key,
                log_retention=retention,
                removal_policy=policy,
            )

        self.web = WebTier(
            self,
            "Web",
            vpc=self.network.vpc,
            vpc_cidr=region_config.vpc_cidr,
            settings=config.web,
            region=region_config.region,
            role=names.role,
            project=config.project_name,
            name_prefix=names.prefix,
            certificate_arn=region_config.certificate_arn,
            database_host=self.database.instance.db_instance_endpoint_address,
            database_port=config.database.port,
            access_logs_bucket_name=names.log_bucket,
            access_logs_prefix=ALB_LOG_PREFIX,
            log_key=self.data_key,
            log_retention=retention,
            removal_policy=policy,
        )
        if names.is_primary and self.storage.log_bucket.policy is not None:
            # The ALB checks that it may write its logs when they are switched on.
            self.web.load_balancer.node.add_dependency(self.storage.log_bucket.policy)
        self.database.allow_from(self.web.instance_security_group, "MySQL from the web tier")

        self.loader = self._loader(config, names)

        self.failover = FailoverRecord(
            self,
            "Failover",
            dns=config.dns,
            hosted_zone_id=self._hosted_zone_id(config),
            load_balancer=self.web.load_balancer,
            primary=names.is_primary,
            set_identifier=names.set_identifier,
            region=names.region,
            https=self.web.uses_tls,
        )
        # Checks start once the first instances exist, not while the group is created.
        self.failover.health_check.node.add_dependency(self.web.auto_scaling_group)
        self.monitoring = self._monitoring(config, names)
        self._outputs()

    def _hosted_zone_id(self, config: TapStackConfig) -> str:
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
            self,
            HOSTED_ZONE_ID,
            type="AWS::Route53::HostedZone::Id",
            description=f"ID of the public hosted zone {config.dns.domain_name} "
            f"(output HostedZoneId of the {stack_name(config, 'dns')} stack)",
        )
        return parameter.value_as_string

    def _loader(self, config: TapStackConfig, names: Names) -> Loader:
        db = self.database.instance.node.default_child
        assert isinstance(db, rds.CfnDBInstance)
        loader = Loader(
            self,
            "Loader",
            names=names,
            settings=config.loader,
            vpc=self.network.vpc,
            bucket_name=names.data_bucket,
            key=self.data_key,
            database_host=self.database.instance.db_instance_endpoint_address,
            database_port=config.database.port,
            database_name=config.database.database_name,
            database_resource_id=db.attr_dbi_resource_id,
            database_security_group=self.database.security_group,
            # Replicated to both regions: a promoted replica can be bootstrapped too.
            master_secret_name=names.master_secret,
            master_secret_arn_pattern=names.master_secret_arn_pattern,
            log_retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.database.allow_from(loader.security_group, "MySQL from the loader")
        if names.is_primary:
            bucket = self.storage.bucket.node.default_child
            assert isinstance(bucket, s3.CfnBucket)
            loader.trigger_from_bucket_notifications(bucket)
        else:
            loader.trigger_from_eventbridge()
        return loader

    def _monitoring(self, config: TapStackConfig, names: Names) -> Monitoring:
        self.alarm_topic = AlarmTopic(
            self, "AlarmTopic", names=names, key=self.data_key, email=config.monitoring.alarm_email
        )
        monitoring = Monitoring(
            self,
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
        monitoring.watch_database(self.database.instance, replica=not names.is_primary)
        monitoring.watch_loader(self.loader.function, self.loader.dead_letter_queue)
        if names.is_primary:
            monitoring.watch_replication(
                source_bucket=names.data_bucket,
                destination_bucket=names.other.data_bucket,
                rule_id="ToOtherRegion",
            )
        if names.region == ROUTE53_METRICS_REGION:
            monitoring.watch_health_check(
                names.role,
                self.failover.health_check.health_check_id,
                f"Route 53 sees {names.region} ({names.role}) as unhealthy: "
                "traffic fails over away from it",
            )
            other = names.other
            self.region_watch = RegionWatch(
                self,
                "OtherRegionWatch",
                dns=config.dns,
                region=other.region,
                https=self.web.uses_tls,
            )
            monitoring.watch_health_check(
                other.role,
                self.region_watch.health_check.health_check_id,
                f"Route 53 sees {other.region} ({other.role}) as unhealthy",
                notify=config.monitoring.notify_other_region_health,
            )
        monitoring.add_dashboard()
        return monitoring

    def _outputs(self) -> None:
        label = "Primary" if self.names.is_primary else "Secondary"
        region = label.lower()
        outputs = {
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
                f"{'https' if self.web.uses_tls else 'http'}://{self.failover.regional_name}/",
                f"Reaches the {region} region directly",
            ),
            "DatabaseEndpoint": (
                self.database.instance.db_instance_endpoint_address,
                f"MySQL endpoint in the {region} region"
                + ("" if self.names.is_primary else " (read replica)"),
            ),
            "DatabaseArn": (self.names.db_instance_arn, f"ARN of the {region} MySQL instance"),
            "LoaderFunctionName": (
                self.loader.function.function_name,
                f"S3 -> MySQL loader in the {region} region",
            ),
            "LoaderDeadLetterQueueUrl": (
                self.loader.dead_letter_queue.queue_url,
                "Events the loader failed on after every retry",
            ),
            "AlarmTopicArn": (self.alarm_topic.topic.topic_arn, "Every alarm notifies this topic"),
        }
        if self.names.is_primary:
            outputs |= {
                "DataBucketName": (self.data_bucket.bucket_name, "Data bucket (replicated)"),
                "LogBucketName": (self.storage.log_bucket.bucket_name, "Access-log bucket"),
                "BackupVaultArn": (self.backup_vault.vault.backup_vault_arn, "Backup vault"),
                "DataKeyArn": (self.data_key.key_arn, "KMS key for data at rest"),
            }
        for key, (value, description) in outputs.items():
            CfnOutput(self, f"{label}{key}", value=value, description=description)
        if self.names.is_primary:
            scheme = "https" if self.web.uses_tls else "http"
            CfnOutput(
                self,
                "ApplicationUrl",
                value=f"{scheme}://{self.config.dns.fqdn}/",
                description="The failover URL (Route 53 serves the healthy region)",
            )

"""A regional stack: everything one region runs. The primary and secondary
stacks are two instances of it that differ only in their role."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from tapstack.backup.infrastructure import BackupPlan, BackupVault
from tapstack.config import RegionConfig, TapStackConfig
from tapstack.database.infrastructure import PrimaryDatabase, ReplicaDatabase
from tapstack.failover.infrastructure import FailoverRecord
from tapstack.naming import Names
from tapstack.network.infrastructure import Network
from tapstack.stacks.common import log_retention, removal_policy
from tapstack.stacks.secondary_storage import data_key_parameter
from tapstack.storage.infrastructure import DataBuckets, DataKey
from tapstack.web.infrastructure import WebTier


class RegionalStack(Stack):
    """Network, data, web tier and this region's half of the DNS failover pair.

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
        label = "Primary" if names.is_primary else "Secondary"

        self.network = Network(
            self,
            "Network",
            cidr=region_config.vpc_cidr,
            nat_gateways=region_config.nat_gateways,
            interface_endpoints=config.interface_endpoints,
        )

        self.data_key: kms.IKey
        self.data_bucket: s3.IBucket
        self.database: PrimaryDatabase | ReplicaDatabase
        if names.is_primary:
            self.data_key = DataKey(self, "DataKey", names=names, removal_policy=policy).key
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
                log_retention=log_retention(config),
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
            # Owned by the secondary-storage stack; read by name at deploy time.
            key_arn = ssm.StringParameter.value_for_string_parameter(
                self, data_key_parameter(names)
            )
            self.data_key = kms.Key.from_key_arn(self, "DataKey", key_arn)
            self.data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", names.data_bucket)
            self.database = ReplicaDatabase(
                self,
                "Database",
                vpc=self.network.vpc,
                settings=config.database,
                names=names,
                source=names.other,
                key=self.data_key,
                log_retention=log_retention(config),
                removal_policy=policy,
            )

        self.web = WebTier(
            self,
            "Web",
            vpc=self.network.vpc,
            settings=config.web,
            region=region_config.region,
            role=names.role,
            project=config.project_name,
            certificate_arn=region_config.certificate_arn,
            database_host=self.database.instance.db_instance_endpoint_address,
            database_port=config.database.port,
            removal_policy=policy,
        )
        self.database.allow_from(self.web.instance_security_group, "MySQL from the web tier")

        self.failover = FailoverRecord(
            self,
            "Failover",
            dns=config.dns,
            load_balancer=self.web.load_balancer,
            primary=names.is_primary,
            set_identifier=names.set_identifier,
            https=self.web.uses_tls,
        )
        self._outputs(label)

    def _outputs(self, label: str) -> None:
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
            "DatabaseEndpoint": (
                self.database.instance.db_instance_endpoint_address,
                f"MySQL endpoint in the {region} region"
                + ("" if self.names.is_primary else " (read replica)"),
            ),
            "DatabaseArn": (self.names.db_instance_arn, f"ARN of the {region} MySQL instance"),
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

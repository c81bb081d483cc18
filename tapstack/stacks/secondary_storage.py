"""The secondary region's storage, deployed before the primary region: the writer
region's S3 replication and backup copies need somewhere to land.

From the first move of the writer on, its data bucket replicates to the primary region's
too (see :func:`tapstack.storage.contract.replicates_back`): the rule is a property of the
bucket, so it lives here, and the operator commands deploy this stack when they need it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from tapstack.backup.infrastructure import BackupVault
from tapstack.config import TapStackConfig
from tapstack.naming import Names
from tapstack.stacks.common import removal_policy
from tapstack.storage.contract import batch_role_output, replicates_back
from tapstack.storage.infrastructure import DataBuckets, DataKey


def data_key_parameter(names: Names) -> str:
    """SSM parameter holding the region's data key ARN, for stacks in the same region."""
    return f"/{names.prefix}/{names.region}/data-key-arn"


class SecondaryStorageStack(Stack):
    """KMS key, data bucket (replication destination; from the first move of the writer on,
    also a replication source to the primary region's bucket), access-log bucket and backup
    vault (copy destination) of the secondary region."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TapStackConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = Names(config, config.secondary.region)
        policy = removal_policy(config)
        self.data_key = DataKey(self, "DataKey", names=names, removal_policy=policy)
        self.storage = DataBuckets(
            self,
            "Storage",
            names=names,
            settings=config.storage,
            key=self.data_key.key,
            removal_policy=policy,
            replicate_to=names.other if replicates_back(config) else None,
        )
        self.backup_vault = BackupVault(
            self, "Backup", names=names, key=self.data_key.key, removal_policy=policy
        )
        # The secondary stack (same region) reads the key ARN from here at deploy
        # time: a parameter by name, not an export that would pin this stack.
        ssm.StringParameter(
            self,
            "DataKeyArnParameter",
            parameter_name=data_key_parameter(names),
            string_value=self.data_key.key.key_arn,
            description="ARN of the secondary region's data key",
        )
        CfnOutput(self, "SecondaryDataBucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "SecondaryLogBucketName", value=self.storage.log_bucket.bucket_name)
        CfnOutput(self, "SecondaryBackupVaultArn", value=self.backup_vault.vault.backup_vault_arn)
        CfnOutput(self, "SecondaryDataKeyArn", value=self.data_key.key.key_arn)
        if self.storage.batch_replication_role is not None:
            CfnOutput(
                self,
                batch_role_output(names),
                value=self.storage.batch_replication_role.role_arn,
                description="Role S3 Batch Replication assumes for this region's data bucket",
            )

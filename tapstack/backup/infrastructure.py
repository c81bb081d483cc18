"""AWS Backup: a vault per region, and beside the writer database a daily plan
whose recovery points are copied to the other region's vault."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import BackupConfig
from tapstack.naming import Names

#: The AWS-managed policies the backup role needs: back up and restore RDS
#: (the generic pair) and S3 (its own pair). Nothing else.
BACKUP_MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


class BackupVault(Construct):
    """A backup vault encrypted with the region's key, with a deterministic name.

    Attributes:
        vault: the vault.
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
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=names.backup_vault,
            encryption_key=key,
            removal_policy=removal_policy,
        )


class BackupPlan(Construct):
    """A daily plan over the given resources, copying each recovery point to
    the other region's vault (named, not imported: it lives in another stack).

    Attributes:
        plan: the backup plan.
        role: the role AWS Backup assumes (AWS-managed backup/restore policies only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        settings: BackupConfig,
        vault: backup.IBackupVault,
        copy_to: Names,
        resources: Sequence[backup.BackupResource],
    ) -> None:
        super().__init__(scope, construct_id)
        if not resources:
            raise ValueError("a backup plan needs at least one resource to select")
        self.role = self._role(names)
        destination = backup.BackupVault.from_backup_vault_arn(
            self, "CopyDestination", copy_to.backup_vault_arn
        )
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=f"{names.prefix}-daily",
            backup_vault=vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="Daily",
                    schedule_expression=events.Schedule.expression(settings.schedule),
                    start_window=Duration.hours(1),
                    completion_window=Duration.hours(8),
                    delete_after=Duration.days(settings.retention_days),
                    copy_actions=[
                        backup.BackupPlanCopyActionProps(
                            destination_backup_vault=destination,
                            delete_after=Duration.days(settings.copy_retention_days),
                        )
                    ],
                )
            ],
        )
        self.plan.add_selection(
            "Selection",
            backup_selection_name=f"{names.prefix}-data",
            resources=list(resources),
            role=self.role,
        )

    def _role(self, names: Names) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description=f"{names.prefix}: AWS Backup in {names.region}",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in BACKUP_MANAGED_POLICIES
            ],
        )
        for name in BACKUP_MANAGED_POLICIES:
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]",
                "AWS Backup's own managed policies are the documented permissions for backing "
                "up and restoring RDS and S3; a hand-written copy would drift from the service",
            )
        return role

"""AWS Backup: a vault per region encrypted with its key, and a daily plan over
the database and the data bucket that copies to the other region's vault."""

from __future__ import annotations

import json

import pytest

from tests.support import Synthesized


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("primary", "tapstack-prod-vault-us-east-1"),
        ("secondary-storage", "tapstack-prod-vault-us-west-2"),
    ],
)
def test_each_region_has_a_vault_encrypted_with_its_key(
    synth: Synthesized, kind: str, name: str
) -> None:
    vault = synth.one(kind, "AWS::Backup::BackupVault")
    key_id = next(iter(synth.resources(kind, "AWS::KMS::Key")))
    assert vault["Properties"]["BackupVaultName"] == name
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"


def test_daily_plan_copies_to_the_secondary_vault(synth: Synthesized) -> None:
    plan = synth.one("primary", "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    (rule,) = plan["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rule["CopyActions"] == [
        {
            "DestinationBackupVaultArn": (
                "arn:aws:backup:us-west-2:123456789012:backup-vault:tapstack-prod-vault-us-west-2"
            ),
            "Lifecycle": {"DeleteAfterDays": 35},
        }
    ]
    assert synth.resources("secondary", "AWS::Backup::BackupPlan") == {}


def test_backup_selection_covers_the_database_and_the_data_bucket(synth: Synthesized) -> None:
    selection = synth.one("primary", "AWS::Backup::BackupSelection")["Properties"]
    resources = json.dumps(selection["BackupSelection"]["Resources"])
    db_id = next(iter(synth.resources("primary", "AWS::RDS::DBInstance")))
    bucket_id = next(
        k
        for k, v in synth.resources("primary", "AWS::S3::Bucket").items()
        if "-data-" in v["Properties"]["BucketName"]
    )
    assert db_id in resources and bucket_id in resources
    assert len(selection["BackupSelection"]["Resources"]) == 2


def test_backup_role_has_only_the_aws_managed_backup_and_restore_policies(
    synth: Synthesized,
) -> None:
    roles = synth.resources("primary", "AWS::IAM::Role")
    role = next(v for k, v in roles.items() if k.startswith("BackupPlanRole"))
    arns = json.dumps(role["Properties"]["ManagedPolicyArns"])
    for name in (
        "service-role/AWSBackupServiceRolePolicyForBackup",
        "service-role/AWSBackupServiceRolePolicyForRestores",
        ":iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        ":iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
    ):
        assert name in arns
    assert len(role["Properties"]["ManagedPolicyArns"]) == 4
    assert "Policies" not in role["Properties"]
    role_id = next(k for k in roles if k.startswith("BackupPlanRole"))
    for policy in synth.resources("primary", "AWS::IAM::Policy").values():
        assert {"Ref": role_id} not in policy["Properties"]["Roles"], "no inline additions"


def test_the_plan_follows_the_writer_to_the_secondary_region(
    synth: Synthesized, synth_writer_secondary: Synthesized
) -> None:
    """AWS Backup cannot back up a read replica: the writer region's stack holds the plan,
    under the logical IDs the primary's plan always had; in the secondary region it uses
    the secondary-storage stack's vault by name and copies to the primary's vault by ARN."""
    app = synth_writer_secondary
    assert app.resources("primary", "AWS::Backup::BackupPlan") == {}
    assert app.resources("primary", "AWS::Backup::BackupSelection") == {}
    assert app.resources("primary", "AWS::Backup::BackupVault"), "the primary keeps its vault"
    plans = app.resources("secondary", "AWS::Backup::BackupPlan")
    assert list(plans) == list(synth.resources("primary", "AWS::Backup::BackupPlan"))
    (rule,) = next(iter(plans.values()))["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == "tapstack-prod-vault-us-west-2"
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"] == (
        "arn:aws:backup:us-east-1:123456789012:backup-vault:tapstack-prod-vault-us-east-1"
    )
    selection = app.one("secondary", "AWS::Backup::BackupSelection")["Properties"]
    assert selection["BackupSelection"]["Resources"] == [
        {
            "Fn::Join": [
                "",
                ["arn:aws:rds:us-west-2:123456789012:db:", {"Ref": "DatabaseInstanceAA8A5FDE"}],
            ]
        },
        "arn:aws:s3:::tapstack-prod-data-123456789012-us-west-2",
    ]

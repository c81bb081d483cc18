"""The data key and the data buckets: a rotating KMS key per region under a shared
alias, private, encrypted, logged S3 buckets, and replication from the primary
region's bucket to the secondary's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import Synthesized

PRIMARY_BUCKET = "tapstack-prod-data-123456789012-us-east-1"
SECONDARY_BUCKET = "tapstack-prod-data-123456789012-us-west-2"
STORAGE_KINDS = ["primary", "secondary-storage"]


def _bucket(synth: Synthesized, kind: str, name_part: str) -> dict[str, Any]:
    return next(
        b["Properties"]
        for b in synth.resources(kind, "AWS::S3::Bucket").values()
        if name_part in b["Properties"]["BucketName"]
    )


def _statements(synth: Synthesized, kind: str) -> list[dict[str, Any]]:
    found = []
    for policy in synth.resources(kind, "AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


# --- KMS -------------------------------------------------------------------


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_each_region_has_a_rotating_customer_managed_key_with_a_shared_alias(
    synth: Synthesized, kind: str
) -> None:
    key = synth.one(kind, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    alias = synth.one(kind, "AWS::KMS::Alias")["Properties"]
    assert alias["AliasName"] == "alias/tapstack-prod-data"


def test_the_data_key_lets_logs_alarms_and_events_use_it(synth: Synthesized) -> None:
    for kind, region in (("primary", "us-east-1"), ("secondary-storage", "us-west-2")):
        statements = synth.one(kind, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
        by_sid = {s.get("Sid"): s for s in statements}
        logs = by_sid["AllowCloudWatchLogsInThisAccount"]
        assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
        assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
            f"arn:aws:logs:{region}:123456789012:log-group:*"
        )
        services = by_sid["AllowAlarmsAndEventsToUseTheKeyForTopicsAndQueues"]
        assert sorted(services["Principal"]["Service"]) == [
            "cloudwatch.amazonaws.com",
            "events.amazonaws.com",
        ]
        assert sorted(services["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert "Condition" not in services, "a condition the services do not meet drops alarms"


# --- S3 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"), [("primary", PRIMARY_BUCKET), ("secondary-storage", SECONDARY_BUCKET)]
)
def test_data_bucket_is_versioned_kms_encrypted_private_and_without_acls(
    synth: Synthesized, kind: str, name: str
) -> None:
    bucket = _bucket(synth, kind, "-data-")
    key_id = next(iter(synth.resources(kind, "AWS::KMS::Key")))
    assert bucket["BucketName"] == name
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in bucket


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_data_bucket_lifecycle_expires_old_versions_and_abandoned_uploads(
    synth: Synthesized, kind: str
) -> None:
    (rule,) = _bucket(synth, kind, "-data-")["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rule["Status"] == "Enabled"


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_data_bucket_is_deleted_only_in_destroy_mode(synth: Synthesized, kind: str) -> None:
    for bucket in synth.resources(kind, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_access_logs_go_to_the_log_bucket_through_a_bucket_policy_not_an_acl(
    synth: Synthesized, kind: str
) -> None:
    data = _bucket(synth, kind, "-data-")
    log_bucket_id = next(
        k
        for k, v in synth.resources(kind, "AWS::S3::Bucket").items()
        if "-logs-" in v["Properties"]["BucketName"]
    )
    assert data["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_id}
    text = json.dumps(synth.templates[kind])
    assert "LogDeliveryWrite" not in text and "log-delivery-write" not in text
    log_policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources(kind, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_bucket_id}
    )
    delivery = [
        s for s in log_policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert len(delivery) == 1 and delivery[0]["Action"] == "s3:PutObject"
    log_bucket = _bucket(synth, kind, "-logs-")
    assert log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}


@pytest.mark.parametrize("kind", STORAGE_KINDS)
def test_every_bucket_denies_requests_without_tls(synth: Synthesized, kind: str) -> None:
    policies = synth.resources(kind, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_primary_bucket_replicates_everything_to_the_secondary_with_rtc(
    synth: Synthesized,
) -> None:
    replication = _bucket(synth, "primary", "-data-")["ReplicationConfiguration"]
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{SECONDARY_BUCKET}"
    assert destination["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": "arn:aws:kms:us-west-2:123456789012:alias/tapstack-prod-data"
    }
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert "ReplicationConfiguration" not in _bucket(synth, "secondary-storage", "-data-")


def test_replication_role_grants_exactly_what_replication_needs(synth: Synthesized) -> None:
    statements = {s["Sid"]: s for s in _statements(synth, "primary") if "Sid" in s}
    assert statements["WriteReplicas"]["Resource"] == f"arn:aws:s3:::{SECONDARY_BUCKET}/*"
    assert sorted(statements["WriteReplicas"]["Action"]) == [
        "s3:ReplicateDelete",
        "s3:ReplicateObject",
        "s3:ReplicateTags",
    ]
    encrypt = statements["EncryptReplicas"]
    # IAM cannot grant on an alias ARN: the region's keys, narrowed to the alias.
    assert encrypt["Resource"] == "arn:aws:kms:us-west-2:123456789012:key/*"
    assert encrypt["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/tapstack-prod-data"
    }
    assert "alias/" not in json.dumps([s["Resource"] for s in statements.values()])
    decrypt = statements["DecryptSource"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert "Fn::GetAtt" in decrypt["Resource"]


# --- replication in both directions, Batch Replication ----------------------------------------


def _policy_of(synth: Synthesized, kind: str, role_prefix: str) -> list[dict[str, Any]]:
    """The statements of the one policy attached to the role whose logical ID starts so."""
    (policy,) = [
        p
        for p in synth.resources(kind, "AWS::IAM::Policy").values()
        if any(r["Ref"].startswith(role_prefix) for r in p["Properties"]["Roles"])
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_secondary_bucket_replicates_nothing_before_the_writer_first_moves(
    synth: Synthesized,
) -> None:
    """On a new environment the primary bucket does not exist yet when the secondary-storage
    stack deploys, and S3 refuses a rule whose destination does not exist."""
    roles = synth.resources("secondary-storage", "AWS::IAM::Role")
    assert roles == {}
    assert "ReplicationConfiguration" not in _bucket(synth, "secondary-storage", "-data-")
    assert "SecondaryBatchReplicationRoleArn" not in synth.templates["secondary-storage"]["Outputs"]


def test_once_the_writer_moved_the_secondary_bucket_replicates_back_like_the_primary(
    synth_writer_secondary: Synthesized,
) -> None:
    """Two-way replication: the same rule shape in the other direction, with the primary
    region's key named by its alias (S3 resolves it in the destination region)."""
    forward = _bucket(synth_writer_secondary, "primary", "-data-")["ReplicationConfiguration"]
    back = _bucket(synth_writer_secondary, "secondary-storage", "-data-")[
        "ReplicationConfiguration"
    ]
    (forward_rule,) = forward["Rules"]
    (rule,) = back["Rules"]
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{PRIMARY_BUCKET}"
    assert rule["Destination"]["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": "arn:aws:kms:us-east-1:123456789012:alias/tapstack-prod-data"
    }
    same = ("Id", "Priority", "Status", "Filter", "DeleteMarkerReplication")
    assert {k: rule[k] for k in same} == {k: forward_rule[k] for k in same}
    assert rule["SourceSelectionCriteria"] == forward_rule["SourceSelectionCriteria"]
    for setting in ("ReplicationTime", "Metrics"):
        assert rule["Destination"][setting] == forward_rule["Destination"][setting]
    assert back["Role"] == {"Fn::GetAtt": [next(iter(_roles(synth_writer_secondary))), "Arn"]}


def _roles(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        logical_id: role
        for logical_id, role in synth.resources("secondary-storage", "AWS::IAM::Role").items()
        if logical_id.startswith("StorageReplicationRole")
    }


def test_the_reverse_replication_role_grants_on_the_primary_key_by_its_alias(
    synth_writer_secondary: Synthesized,
) -> None:
    statements = {
        s["Sid"]: s
        for s in _policy_of(synth_writer_secondary, "secondary-storage", "StorageReplicationRole")
    }
    assert statements["ReadSourceConfiguration"]["Resource"] == f"arn:aws:s3:::{SECONDARY_BUCKET}"
    assert statements["WriteReplicas"]["Resource"] == f"arn:aws:s3:::{PRIMARY_BUCKET}/*"
    encrypt = statements["EncryptReplicas"]
    assert encrypt["Resource"] == "arn:aws:kms:us-east-1:123456789012:key/*"
    assert encrypt["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/tapstack-prod-data"
    }
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    decrypt = statements["DecryptSource"]
    assert decrypt["Resource"] == {"Fn::GetAtt": ["DataKey2A0DE9E6", "Arn"]}
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}


BATCH_STATEMENTS = {
    "InitiateReplication": (["s3:InitiateReplication"], "arn:aws:s3:::{data}/*"),
    "GenerateManifest": (
        ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
        "arn:aws:s3:::{data}",
    ),
    "WriteCompletionReport": (["s3:PutObject"], "arn:aws:s3:::{logs}/batch-replication/*"),
}


@pytest.mark.parametrize(
    ("kind", "region"), [("primary", "us-east-1"), ("secondary-storage", "us-west-2")]
)
def test_a_replicating_bucket_has_a_batch_replication_role_with_exactly_the_documented_grants(
    synth: Synthesized, synth_writer_secondary: Synthesized, kind: str, region: str
) -> None:
    """ "Configuring an IAM role for S3 Batch Replication" (S3 User Guide), for a manifest S3
    generates and does not store: no grant on a manifest bucket, nothing on KMS (the
    replication itself runs as the replication role)."""
    shape = synth if kind == "primary" else synth_writer_secondary
    (role,) = [
        r
        for logical_id, r in shape.resources(kind, "AWS::IAM::Role").items()
        if logical_id.startswith("StorageBatchReplicationRole")
    ]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
        }
    ]
    account = "123456789012"
    data, logs = f"tapstack-prod-data-{account}-{region}", f"tapstack-prod-logs-{account}-{region}"
    found = {
        s["Sid"]: (sorted(s["Action"]) if isinstance(s["Action"], list) else [s["Action"]], s)
        for s in _policy_of(shape, kind, "StorageBatchReplicationRole")
    }
    assert set(found) == set(BATCH_STATEMENTS)
    for sid, (actions, resource) in BATCH_STATEMENTS.items():
        assert found[sid][0] == actions, sid
        assert found[sid][1]["Resource"] == resource.format(data=data, logs=logs), sid
        assert found[sid][1]["Effect"] == "Allow" and "Condition" not in found[sid][1]
    output = f"{kind.split('-')[0].capitalize()}BatchReplicationRoleArn"
    assert shape.templates[kind]["Outputs"][output]["Value"]["Fn::GetAtt"][1] == "Arn"

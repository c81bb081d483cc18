"""S3: data and access-log buckets in both regions, encrypted; versioning and replication."""

from __future__ import annotations

import pytest

from tests.integration.support import Region, Target

pytestmark = pytest.mark.integration


def _buckets(region: Region) -> list[str]:
    return [region.names.data_bucket, region.names.log_bucket]


def test_buckets_exist_in_their_region(region: Region) -> None:
    s3 = region.client("s3")
    assert region.output("DataBucketName") == region.names.data_bucket
    for bucket in _buckets(region):
        s3.head_bucket(Bucket=bucket)
        location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] or "us-east-1"
        assert location == region.name, bucket


def test_data_bucket_is_encrypted_with_the_regions_key(region: Region) -> None:
    rules = region.client("s3").get_bucket_encryption(Bucket=region.names.data_bucket)[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"].split(":")[3] == region.name


def test_log_bucket_is_encrypted(region: Region) -> None:
    rules = region.client("s3").get_bucket_encryption(Bucket=region.names.log_bucket)[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


def test_data_buckets_are_versioned(target: Target, region: Region) -> None:
    target.skip_in_emulator("AWS::S3::Bucket", "VersioningConfiguration")
    status = region.client("s3").get_bucket_versioning(Bucket=region.names.data_bucket)
    assert status.get("Status") == "Enabled"


def test_buckets_block_public_access(target: Target, region: Region) -> None:
    target.skip_in_emulator("AWS::S3::Bucket", "PublicAccessBlockConfiguration")
    for bucket in _buckets(region):
        block = region.client("s3").get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
        assert all(block.values()), (bucket, block)


def test_primary_data_bucket_replicates_to_the_secondary(
    target: Target, primary: Region, secondary: Region
) -> None:
    target.skip_in_emulator("AWS::S3::Bucket", "ReplicationConfiguration")
    config = primary.client("s3").get_bucket_replication(Bucket=primary.names.data_bucket)[
        "ReplicationConfiguration"
    ]
    rules = [r for r in config["Rules"] if r["Status"] == "Enabled"]
    assert rules, config
    destination = rules[0]["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{secondary.names.data_bucket}"
    rtc = destination.get("ReplicationTime", {}).get("Status") == "Enabled"
    assert rtc is primary.names.config.storage.replication_time_control
    kms = destination.get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID", "")
    assert kms.split(":")[3] == secondary.name

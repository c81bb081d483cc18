"""A region's data-at-rest: its KMS key, its data bucket and its access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack, region_info
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import StorageConfig
from tapstack.naming import Names
from tapstack.removal import retains

#: Where the loader picks up work, and where it writes what it could not load.
INCOMING_PREFIX = "incoming/"
REJECTED_PREFIX = "rejected/"
QUARANTINE_PREFIX = "quarantine/"
#: Where the load balancer's access logs land in the log bucket.
ALB_LOG_PREFIX = "alb"


class DataKey(Construct):
    """The region's customer-managed KMS key (rotation on) and its alias.

    Buckets, the database, the backup vault and the log groups that hold data
    use it. The alias name is the same in every region, so the other region's
    stacks can name this key without importing anything.

    Attributes:
        key: the KMS key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{names.prefix}: data at rest in {names.region}",
            enable_key_rotation=True,
            alias=names.kms_alias,
            removal_policy=removal_policy,
            pending_window=Duration.days(30) if retains(removal_policy) else Duration.days(7),
        )
        region = Stack.of(self).region
        # CloudWatch Logs encrypts log groups with this key (RDS logs, flow logs, the loader).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsInThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:{region}:{names.config.account}:log-group:*"
                        )
                    }
                },
            )
        )
        # CloudWatch alarms publish to the encrypted alarm topic, and EventBridge
        # delivers scaling events to it and failed loader events to the encrypted
        # dead-letter queue. Unconditioned, as AWS documents these statements: the
        # services do not all pass aws:SourceAccount to KMS, and a condition they do not
        # meet silently drops every notification. The topic's and queue's own policies
        # decide who may send to them.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsAndEventsToUseTheKeyForTopicsAndQueues",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )


class DataBuckets(Construct):
    """The region's data bucket and the bucket that receives its access logs.

    Data bucket: deterministic name, versioned, SSE-KMS with bucket keys, SSL
    only, no public access, no ACLs, lifecycle for old versions and abandoned
    uploads, server access logs delivered through a bucket policy.

    Pass ``replicate_to`` (the other region's names) in the primary region to
    replicate every object, delete markers included, with Replication Time
    Control, encrypting replicas with the other region's key. ``eventbridge``
    sends the bucket's events to EventBridge (how the secondary region's
    loader, in a later stack, is triggered).

    Attributes:
        bucket: the data bucket.
        log_bucket: the access-log bucket (SSE-S3: S3 and ALB log delivery
            cannot write to SSE-KMS buckets).
        replication_role: the role S3 replication assumes, when replicating.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        settings: StorageConfig,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        replicate_to: Names | None = None,
        eventbridge: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            bucket_name=names.log_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    expiration=Duration.days(settings.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )

        self._allow_alb_access_logs(names)
        acknowledge(
            self.log_bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logs and ALB access logs can only be delivered to buckets "
            "encrypted with SSE-S3, not SSE-KMS",
        )
        acknowledge(
            self.log_bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs describe this region's own traffic; each region keeps its own, and "
            "copying them elsewhere adds no resilience to the platform's data",
        )

        self.replication_role: iam.Role | None = None
        replication_rules = None
        if replicate_to is not None:
            self.replication_role = self._replication_role(names, replicate_to, key)
            replication_rules = [
                s3.ReplicationRule(
                    id="ToOtherRegion",
                    priority=1,
                    destination=s3.Bucket.from_bucket_name(
                        self, "ReplicaBucket", replicate_to.data_bucket
                    ),
                    # An alias ARN works here: S3 resolves it in the destination region.
                    kms_key=kms.Key.from_key_arn(self, "ReplicaKey", replicate_to.kms_alias_arn),
                    sse_kms_encrypted_objects=True,
                    delete_marker_replication=True,
                    replication_time_control=s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                    metrics=s3.ReplicationTimeValue.FIFTEEN_MINUTES,
                )
            ]

        self.bucket = s3.Bucket(
            self,
            "DataBucket",
            bucket_name=names.data_bucket,
            versioned=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3-access/data/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(
                        settings.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        settings.abort_incomplete_multipart_upload_days
                    ),
                )
            ],
            replication_role=self.replication_role,
            replication_rules=replication_rules,
            removal_policy=removal_policy,
        )
        if replicate_to is None:
            acknowledge(
                self.bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "This bucket is the destination of the primary bucket's replication; "
                "replicating back is a step of the failback runbook, not the steady state",
            )
        else:
            assert self.replication_role is not None
            self._acknowledge_replication_role(names, replicate_to)
        if eventbridge:
            # L1: the L2 ``event_bridge_enabled`` is implemented by a custom resource.
            cfn_bucket = self.bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                    event_bridge_enabled=True
                )
            )

    def _acknowledge_replication_role(self, names: Names, destination: Names) -> None:
        role = self.replication_role
        assert role is not None
        findings = {
            f"AwsSolutions-IAM5[Resource::{names.data_bucket_arn}/*]": (
                "Replication reads every object version of the source bucket: the objects "
                "are the bucket's keys, which a policy can only name with a wildcard"
            ),
            f"AwsSolutions-IAM5[Resource::{destination.data_bucket_arn}/*]": (
                "Replication writes every object of the source into the destination bucket "
                "under the same keys, so the resource is the bucket's whole key space"
            ),
            f"AwsSolutions-IAM5[Resource::{destination.kms_any_key_arn}]": (
                "IAM cannot grant on a KMS alias ARN; the statement names the region's keys "
                "and a kms:ResourceAliases condition narrows it to the destination's data key"
            ),
            "NIST.800.53.R5-IAMNoInlinePolicy": (
                "The replication policy belongs to this one role; inline keeps it from being "
                "attached to any other principal"
            ),
        }
        for finding, reason in findings.items():
            acknowledge(role, finding, reason)

    def _allow_alb_access_logs(self, names: Names) -> None:
        """Let Elastic Load Balancing deliver the region's ALB access logs under ``alb/``.

        Written here rather than by the ALB construct because, in the secondary
        region, the bucket and the load balancer live in different stacks.
        """
        elb_account = region_info.RegionInfo.get(names.region).elbv2_account
        principal: iam.IPrincipal = (
            iam.AccountPrincipal(elb_account)  # regions opened before August 2022
            if elb_account
            else iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")
        )
        self.log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlbAccessLogDelivery",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[
                    f"{self.log_bucket.bucket_arn}/{ALB_LOG_PREFIX}/AWSLogs/{names.config.account}/*"
                ],
            )
        )

    def _replication_role(self, names: Names, destination: Names, key: kms.IKey) -> iam.Role:
        """The replication role, written out so that every grant is exact.

        The destination key lives in another region and stack; IAM cannot
        grant on its alias ARN, so the statement names the region's keys
        narrowed to the one carrying the alias.
        """
        role = iam.Role(
            self,
            "ReplicationRole",
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description=f"S3 replication {names.region} -> {destination.region}",
        )
        source_arn = names.data_bucket_arn
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSourceConfiguration",
                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                resources=[source_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSourceVersions",
                actions=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold",
                ],
                resources=[f"{source_arn}/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteReplicas",
                actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                resources=[f"{destination.data_bucket_arn}/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptSource",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [f"{source_arn}/*", source_arn]
                    },
                    "StringEquals": {"kms:ViaService": f"s3.{names.region}.amazonaws.com"},
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptReplicas",
                actions=["kms:Encrypt", "kms:GenerateDataKey"],
                resources=[destination.kms_any_key_arn],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": destination.kms_alias},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [
                            f"{destination.data_bucket_arn}/*",
                            destination.data_bucket_arn,
                        ]
                    },
                    "StringEquals": {"kms:ViaService": f"s3.{destination.region}.amazonaws.com"},
                },
            )
        )
        return role

"""A region's data-at-rest: its KMS key, its data bucket and its access-log bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_cdk import Duration, RemovalPolicy, Stack, region_info
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import StorageConfig
from tapstack.loader.runtime.contract import INCOMING_PREFIX
from tapstack.naming import Names
from tapstack.removal import retains
from tapstack.storage.contract import BATCH_REPORT_PREFIX

__all__ = [
    "ALB_LOG_PREFIX",
    "INCOMING_PREFIX",
    "REPLICATION_RULE_ID",
    "DataBuckets",
    "DataKey",
    "IncomingObjects",
    "Replication",
    "SharedDataBucket",
]

#: Where the load balancer's access logs land in the log bucket.
ALB_LOG_PREFIX = "alb"
#: The data bucket's one replication rule (S3 names its metrics by it).
REPLICATION_RULE_ID = "ToOtherRegion"


class IncomingObjects(Protocol):
    """The data bucket as the loader sees it: its name, and how Object Created events
    under ``incoming/`` reach a function. :class:`DataBuckets` (bucket in the loader's
    stack) and :class:`SharedDataBucket` (bucket of an earlier stack) provide it."""

    @property
    def bucket_name(self) -> str:
        """The bucket's literal name (never a token: IAM statements are built from it)."""
        ...

    def trigger(
        self, scope: Construct, function: lambda_.IFunction, *, dead_letter_queue: sqs.IQueue
    ) -> None:
        """Invoke ``function`` for every object created under ``incoming/`` with a loadable
        suffix; helper resources are created in ``scope``."""
        ...


@dataclass(frozen=True)
class Replication:
    """A replication rule of a data bucket, as S3's CloudWatch metrics name it."""

    source_bucket: str
    destination_bucket: str
    rule_id: str = REPLICATION_RULE_ID


def _event_bridge_on() -> s3.CfnBucket.EventBridgeConfigurationProperty:
    return s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)


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
    uploads, server access logs delivered through a bucket policy, and its events
    delivered to EventBridge (see ``_notifications``).

    Pass ``replicate_to`` (the other region's names) to replicate every object,
    delete markers included, with Replication Time Control, encrypting replicas
    with the other region's key. A bucket that replicates also gets the role S3
    Batch Operations assumes to replicate the objects live replication did not copy
    (written before the rule existed, or failed while the destination region was down).

    Attributes:
        bucket: the data bucket.
        bucket_name: its literal name.
        log_bucket: the access-log bucket (SSE-S3: S3 and ALB log delivery
            cannot write to SSE-KMS buckets).
        replication: the replication rule, or ``None`` when the bucket does not replicate.
        replication_role: the role S3 replication assumes, or ``None``.
        batch_replication_role: the role S3 Batch Replication assumes, or ``None``.
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket_name = names.data_bucket
        self.log_bucket = self._log_bucket(names, settings, removal_policy)
        self.replication: Replication | None = None
        self.replication_role: iam.Role | None = None
        self.batch_replication_role: iam.Role | None = None
        replication_rules = None
        if replicate_to is not None:
            self.replication = Replication(names.data_bucket, replicate_to.data_bucket)
            self.replication_role = self._replication_role(names, replicate_to, key)
            replication_rules = [self._replication_rule(replicate_to, settings)]
            self._acknowledge_replication_role(names, replicate_to)
            self.batch_replication_role = self._batch_replication_role(names)
        self.bucket = self._data_bucket(names, settings, key, removal_policy, replication_rules)
        if replicate_to is None:
            acknowledge(
                self.bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "This bucket is the destination of the primary bucket's replication; it "
                "replicates back from the first move of the writer on (S3 refuses a rule "
                "whose destination bucket does not exist yet, as on a new environment)",
            )
        self._notifications()

    def _log_bucket(
        self, names: Names, settings: StorageConfig, removal_policy: RemovalPolicy
    ) -> s3.Bucket:
        log_bucket = s3.Bucket(
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
        self._allow_alb_access_logs(log_bucket, names)
        acknowledge(
            log_bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logs and ALB access logs can only be delivered to buckets "
            "encrypted with SSE-S3, not SSE-KMS",
        )
        acknowledge(
            log_bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs describe this region's own traffic; each region keeps its own, and "
            "copying them elsewhere adds no resilience to the platform's data",
        )
        return log_bucket

    def _replication_rule(self, destination: Names, settings: StorageConfig) -> s3.ReplicationRule:
        return s3.ReplicationRule(
            id=REPLICATION_RULE_ID,
            priority=1,
            destination=s3.Bucket.from_bucket_name(self, "ReplicaBucket", destination.data_bucket),
            # An alias ARN works here: S3 resolves it in the destination region.
            kms_key=kms.Key.from_key_arn(self, "ReplicaKey", destination.kms_alias_arn),
            sse_kms_encrypted_objects=True,
            delete_marker_replication=True,
            replication_time_control=(
                s3.ReplicationTimeValue.FIFTEEN_MINUTES
                if settings.replication_time_control
                else None
            ),
            # Metrics with or without RTC: the replication alarms read them.
            metrics=s3.ReplicationTimeValue.FIFTEEN_MINUTES,
        )

    def _data_bucket(
        self,
        names: Names,
        settings: StorageConfig,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        replication_rules: list[s3.ReplicationRule] | None,
    ) -> s3.Bucket:
        return s3.Bucket(
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

    @property
    def _cfn_bucket(self) -> s3.CfnBucket:
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        return cfn_bucket

    def _notifications(
        self, lambda_configurations: list[s3.CfnBucket.LambdaConfigurationProperty] | None = None
    ) -> None:
        """EventBridge delivery is on for every data bucket: a loader in a later stack is
        triggered through it, and AWS Backup of S3 turns it on for the buckets it protects
        anyway (declaring it keeps the template and the bucket in agreement).

        L1: the L2 ``event_bridge_enabled`` and ``add_event_notification`` are implemented
        by a custom resource, which TapStack keeps out of its templates."""
        self._cfn_bucket.notification_configuration = (
            s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=_event_bridge_on(),
                lambda_configurations=lambda_configurations,
            )
        )

    def trigger(
        self, scope: Construct, function: lambda_.IFunction, *, dead_letter_queue: sqs.IQueue
    ) -> None:
        """A function in this bucket's stack is notified by the bucket itself: one
        ``s3:ObjectCreated:*`` notification for every key under ``incoming/`` (the loader
        loads the formats it reads and quarantines the others with the reason, so nothing
        dropped there goes unnoticed), and the permission S3 needs to invoke it. (Failed
        asynchronous invocations reach ``dead_letter_queue`` through the function's own
        dead-letter setting.)"""
        del dead_letter_queue
        permission = lambda_.CfnPermission(
            scope,
            "S3InvokePermission",
            action="lambda:InvokeFunction",
            function_name=function.function_arn,
            principal="s3.amazonaws.com",
            source_arn=f"arn:aws:s3:::{self.bucket_name}",
            source_account=Stack.of(scope).account,
        )
        self._notifications(
            [
                s3.CfnBucket.LambdaConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    function=function.function_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[
                                s3.CfnBucket.FilterRuleProperty(
                                    name="prefix", value=INCOMING_PREFIX
                                )
                            ]
                        )
                    ),
                )
            ]
        )
        # S3 checks that it may invoke the function when the configuration is set.
        self._cfn_bucket.node.add_dependency(permission)

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

    @staticmethod
    def _allow_alb_access_logs(log_bucket: s3.Bucket, names: Names) -> None:
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
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlbAccessLogDelivery",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[
                    f"{log_bucket.bucket_arn}/{ALB_LOG_PREFIX}/AWSLogs/{names.config.account}/*"
                ],
            )
        )

    def _batch_replication_role(self, names: Names) -> iam.Role:
        """The role S3 Batch Operations assumes for a Batch Replication job on this bucket
        (``tapstack failback`` creates the job; see :func:`_batch_replication_statements`)."""
        role = iam.Role(
            self,
            "BatchReplicationRole",
            # The trust policy of "Granting permissions for Batch Operations" (S3 User Guide).
            assumed_by=iam.ServicePrincipal("batchoperations.s3.amazonaws.com"),
            description=f"S3 Batch Replication of {names.data_bucket}",
        )
        for statement in _batch_replication_statements(names):
            role.add_to_policy(statement)
        findings = {
            f"AwsSolutions-IAM5[Resource::{names.data_bucket_arn}/*]": (
                "Batch Replication initiates replication of whichever object versions live "
                "replication did not copy: objects can only be named by the bucket's key space"
            ),
            f"AwsSolutions-IAM5[Resource::{_batch_report_objects(names)}]": (
                "Each job writes its completion report under job-<id>/ below this prefix, and "
                "the job ID exists only once the job does"
            ),
            "NIST.800.53.R5-IAMNoInlinePolicy": (
                "The Batch Replication policy belongs to this one role; inline keeps it from "
                "being attached to any other principal"
            ),
        }
        for finding, reason in findings.items():
            acknowledge(role, finding, reason)
        return role

    def _replication_role(self, names: Names, destination: Names, key: kms.IKey) -> iam.Role:
        """The replication role, written out so that every grant is exact."""
        role = iam.Role(
            self,
            "ReplicationRole",
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description=f"S3 replication {names.region} -> {destination.region}",
        )
        for statement in _replication_statements(names, destination, key):
            role.add_to_policy(statement)
        return role


def _replication_statements(
    source: Names, destination: Names, key: kms.IKey
) -> list[iam.PolicyStatement]:
    """Read the source's versions, write the destination's replicas, and use each key.

    The destination key lives in another region and stack; IAM cannot grant on its alias
    ARN, so the last statement names the region's keys narrowed to the one carrying the
    alias.
    """
    source_arn = source.data_bucket_arn
    replicas_arn = destination.data_bucket_arn
    return [
        iam.PolicyStatement(
            sid="ReadSourceConfiguration",
            actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
            resources=[source_arn],
        ),
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
        ),
        iam.PolicyStatement(
            sid="WriteReplicas",
            actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            resources=[f"{replicas_arn}/*"],
        ),
        iam.PolicyStatement(
            sid="DecryptSource",
            actions=["kms:Decrypt"],
            resources=[key.key_arn],
            conditions={
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [f"{source_arn}/*", source_arn]},
                "StringEquals": {"kms:ViaService": f"s3.{source.region}.amazonaws.com"},
            },
        ),
        iam.PolicyStatement(
            sid="EncryptReplicas",
            actions=["kms:Encrypt", "kms:GenerateDataKey"],
            resources=[destination.kms_any_key_arn],
            conditions={
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": destination.kms_alias},
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [f"{replicas_arn}/*", replicas_arn]
                },
                "StringEquals": {"kms:ViaService": f"s3.{destination.region}.amazonaws.com"},
            },
        ),
    ]


def _batch_report_objects(names: Names) -> str:
    return f"arn:aws:s3:::{names.log_bucket}/{BATCH_REPORT_PREFIX}/*"


def _batch_replication_statements(names: Names) -> list[iam.PolicyStatement]:
    """ "Configuring an IAM role for S3 Batch Replication" (S3 User Guide), for a job whose
    manifest S3 generates from the bucket's replication configuration and does not store
    (``EnableManifestOutput`` false): initiate replication of the source's objects, read
    the replication configuration and generate the manifest (an inventory configuration) on
    the source bucket, and write the completion report. The guide's read and write grants on
    a manifest bucket apply only to a supplied or stored manifest, so there are none. The
    replication itself runs as the bucket's replication role, with its KMS grants."""
    return [
        iam.PolicyStatement(
            sid="InitiateReplication",
            actions=["s3:InitiateReplication"],
            resources=[f"{names.data_bucket_arn}/*"],
        ),
        iam.PolicyStatement(
            sid="GenerateManifest",
            actions=["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
            resources=[names.data_bucket_arn],
        ),
        iam.PolicyStatement(
            sid="WriteCompletionReport",
            actions=["s3:PutObject"],
            resources=[_batch_report_objects(names)],
        ),
    ]


class SharedDataBucket:
    """The region's data bucket as seen from a later stack of the same region (the
    secondary-storage stack owns the secondary region's bucket): named, not imported.

    Its loader is triggered through EventBridge, which :class:`DataBuckets` turns on for
    every data bucket; a direct notification would need the function to exist before the
    bucket's stack.

    Attributes:
        bucket_name: the bucket's literal name.
    """

    def __init__(self, names: Names) -> None:
        self.bucket_name = names.data_bucket

    def trigger(
        self, scope: Construct, function: lambda_.IFunction, *, dead_letter_queue: sqs.IQueue
    ) -> None:
        """An EventBridge rule for the bucket's Object Created events of every key under
        ``incoming/`` (see ``trigger`` above for why every key)."""
        rule = events.Rule(
            scope,
            "ObjectCreatedRule",
            description=f"{self.bucket_name}: objects created under {INCOMING_PREFIX}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket_name]},
                    "object": {"key": [{"prefix": INCOMING_PREFIX}]},
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=2,
                max_event_age=Duration.hours(6),
            )
        )

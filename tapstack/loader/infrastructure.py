"""The S3 -> MySQL loader function of one region, and what triggers it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
import pymysql
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import LoaderConfig
from tapstack.naming import Names
from tapstack.storage.infrastructure import INCOMING_PREFIX, QUARANTINE_PREFIX, REJECTED_PREFIX

RUNTIME_DIR = Path(__file__).parent / "runtime"
HANDLER = "loader.handler.handler"
#: Object key suffixes the loader reads (JSON Lines and JSON arrays).
SUFFIXES = (".jsonl", ".ndjson", ".json")


@jsii.implements(ILocalBundling)
class LocalPackage:
    """Builds the function package without Docker: the runtime package as
    ``loader/`` and the pure-Python MySQL driver beside it."""

    def try_bundle(self, output_dir: str, *_options: Any, **_kw: Any) -> bool:
        out = Path(output_dir)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(RUNTIME_DIR, out / "loader", ignore=ignore, dirs_exist_ok=True)
        driver = Path(pymysql.__file__).parent
        shutil.copytree(driver, out / "pymysql", ignore=ignore, dirs_exist_ok=True)
        return True


def loader_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(RUNTIME_DIR),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds, and no Docker exists here.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=LocalPackage(),
        ),
    )


class Loader(Construct):
    """A Lambda function in the private subnets that loads JSON objects
    dropped under ``incoming/`` in the data bucket into MySQL.

    It connects with IAM database authentication as ``settings.database_user``
    over TLS; failed events go to an encrypted dead-letter queue after Lambda's
    retries. Call ``trigger_from_bucket_notifications`` (bucket in this stack)
    or ``trigger_from_eventbridge`` (bucket in another stack) to wire events.

    Attributes:
        function: the Lambda function.
        security_group: egress to the database and HTTPS only.
        dead_letter_queue: the SQS queue for events that failed every retry.
        log_group: the function's log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        settings: LoaderConfig,
        vpc: ec2.IVpc,
        bucket_name: str,
        key: kms.IKey,
        database_host: str,
        database_port: int,
        database_name: str,
        database_resource_id: str,
        database_security_group: ec2.ISecurityGroup,
        master_secret_name: str,
        master_secret_arn_pattern: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket_name = bucket_name
        bucket_arn = f"arn:aws:s3:::{bucket_name}"

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"{names.loader_function}: MySQL and HTTPS egress only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            database_security_group, ec2.Port.tcp(database_port), "MySQL"
        )
        # S3 (gateway endpoint: S3's public ranges) and Secrets Manager (interface endpoint).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS")

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{names.loader_function}-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{names.loader_function}",
            retention=log_retention,
            encryption_key=key,
            removal_policy=removal_policy,
        )

        environment = {
            "DB_HOST": database_host,
            "DB_PORT": str(database_port),
            "DB_NAME": database_name,
            "DB_USER": settings.database_user,
            "BATCH_SIZE": str(settings.batch_size),
            "FUNCTION_ROLE": names.role,
            # Both regions: the secret is replicated, so a promoted replica can be bootstrapped.
            "DB_MASTER_SECRET_ID": master_secret_name,
        }

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=names.loader_function,
            description="Loads JSON objects from S3 incoming/ into MySQL (idempotent)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=loader_code(),
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            environment=environment,
            environment_encryption=key,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )

        if settings.reserved_concurrency is None:
            acknowledge(
                self.function,
                "NIST.800.53.R5-LambdaConcurrency",
                "No reservation by default (loader.reserved_concurrency): on new accounts "
                "(concurrency limit 10) any reservation fails the deploy; the loader is still "
                "bounded by the account limit, and the preflight checks the headroom when set",
            )
        role = self.function.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadIncoming",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[f"{bucket_arn}/{INCOMING_PREFIX}*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                # Without it a deleted object reads as 403 (retried, dead-lettered), not 404.
                sid="TellMissingObjectsApart",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    f"{bucket_arn}/{REJECTED_PREFIX}*",
                    f"{bucket_arn}/{QUARANTINE_PREFIX}*",
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseDataKeyThroughS3AndSqs",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [
                            f"s3.{stack.region}.amazonaws.com",  # objects and reports
                            f"sqs.{stack.region}.amazonaws.com",  # the dead-letter queue
                            # the master secret, read by the bootstrap action
                            f"secretsmanager.{stack.region}.amazonaws.com",
                        ]
                    }
                },
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ConnectAsLoaderUser",
                actions=["rds-db:connect"],
                resources=[
                    f"arn:aws:rds-db:{stack.region}:{stack.account}:dbuser:"
                    f"{database_resource_id}/{settings.database_user}"
                ],
            )
        )
        self._acknowledge(role, bucket_arn)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadMasterSecretForBootstrap",
                actions=["secretsmanager:GetSecretValue"],
                resources=[master_secret_arn_pattern],
            )
        )

    @staticmethod
    def _acknowledge(role: iam.IRole, bucket_arn: str) -> None:
        managed = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{}]"
        findings = {
            managed.format("AWSLambdaBasicExecutionRole"): (
                "Writing its own logs to CloudWatch Logs: the AWS-managed basic execution "
                "policy is the documented minimum"
            ),
            managed.format("AWSLambdaVPCAccessExecutionRole"): (
                "A function in a VPC must create and delete its network interfaces; those EC2 "
                "actions cannot be scoped to resources, and this policy is the documented minimum"
            ),
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{INCOMING_PREFIX}*]": (
                "The loader reads whichever object arrives under incoming/: object keys can "
                "only be named by their prefix"
            ),
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{REJECTED_PREFIX}*]": (
                "Rejected-record reports are written under rejected/ with the source object's "
                "key, so the resource is that prefix"
            ),
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{QUARANTINE_PREFIX}*]": (
                "Unparseable objects are copied under quarantine/ with their own key, so the "
                "resource is that prefix"
            ),
            "NIST.800.53.R5-IAMNoInlinePolicy": (
                "The loader's statements belong to its one role; inline keeps them from being "
                "attached to any other principal"
            ),
        }
        for finding, reason in findings.items():
            acknowledge(role, finding, reason)

    def trigger_from_bucket_notifications(self, bucket: s3.CfnBucket) -> None:
        """Configure ``s3:ObjectCreated:*`` notifications on the bucket itself
        (one per suffix), plus the permission S3 needs to invoke the function."""
        stack = Stack.of(self)
        permission = lambda_.CfnPermission(
            self,
            "S3InvokePermission",
            action="lambda:InvokeFunction",
            function_name=self.function.function_arn,
            principal="s3.amazonaws.com",
            source_arn=f"arn:aws:s3:::{self.bucket_name}",
            source_account=stack.account,
        )
        bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            # AWS Backup of S3 turns EventBridge delivery on for the buckets it protects;
            # declaring it keeps the template and the bucket in agreement (no drift).
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            ),
            lambda_configurations=[
                s3.CfnBucket.LambdaConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    function=self.function.function_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[
                                s3.CfnBucket.FilterRuleProperty(
                                    name="prefix", value=INCOMING_PREFIX
                                ),
                                s3.CfnBucket.FilterRuleProperty(name="suffix", value=suffix),
                            ]
                        )
                    ),
                )
                for suffix in SUFFIXES
            ],
        )
        # S3 checks that it may invoke the function when the configuration is set.
        bucket.node.add_dependency(permission)

    def trigger_from_eventbridge(self) -> events.Rule:
        """Invoke the function for Object Created events of a bucket owned by
        another stack, which turns EventBridge delivery on for it. (A direct
        notification would need this function to exist before that stack.)"""
        rule = events.Rule(
            self,
            "ObjectCreatedRule",
            description=f"{self.bucket_name}: objects created under {INCOMING_PREFIX}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket_name]},
                    "object": {
                        "key": [{"wildcard": f"{INCOMING_PREFIX}*{suffix}"} for suffix in SUFFIXES]
                    },
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=2,
                max_event_age=Duration.hours(6),
            )
        )
        return rule

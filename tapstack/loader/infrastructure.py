"""The S3 -> MySQL loader function of one region, and what triggers it."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_lambda_powertools
import jsii
import pymysql
import typing_extensions
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
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import LoaderConfig
from tapstack.loader.runtime import contract
from tapstack.loader.runtime.contract import INCOMING_PREFIX, QUARANTINE_PREFIX, REJECTED_PREFIX
from tapstack.naming import Names
from tapstack.storage.infrastructure import IncomingObjects

RUNTIME_DIR = Path(__file__).parent / "runtime"
#: The function's runtime and architecture; the compiled wheels bundled must match both.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
#: Downloaded wheels, kept between builds (``make clean`` removes them).
WHEEL_CACHE = Path(__file__).resolve().parents[2] / ".tapstack" / "wheels"
_WHEEL_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


@jsii.implements(ILocalBundling)
class LocalPackage:
    """Builds the function package without Docker: the runtime package as ``loader/``,
    copies of the pure-Python packages it imports beside it (``DEPENDENCIES``), taken from
    this environment, and the compiled ones (``COMPILED``) unpacked from their wheels for the
    function's platform. boto3, botocore and jmespath come with the Lambda runtime.

    A wheel is downloaded from PyPI once (``pip download --platform``, no Docker) at the
    version installed here (pyproject.toml pins it) into ``cache``; later builds unpack it
    from there in milliseconds. A build that cannot get a wheel fails, naming it: the runtime
    would still work without orjson, but with about 1.5 times the CPU per record, so a package
    without it is never deployed silently. ``platform``/``python_version`` default to the
    function's; tests build a twin for this machine's interpreter.
    """

    #: Pure Python, copied from this environment.
    DEPENDENCIES = (pymysql, aws_lambda_powertools, typing_extensions)
    #: Compiled, unpacked from wheels for the function's platform.
    COMPILED = ("orjson",)

    def __init__(
        self,
        *,
        platform: str = _WHEEL_PLATFORMS[ARCHITECTURE.name],
        python_version: str = RUNTIME.name.removeprefix("python"),
        cache: Path = WHEEL_CACHE,
    ) -> None:
        self.platform = platform
        self.python_version = python_version
        self.cache = cache

    def try_bundle(self, output_dir: str, *_options: Any, **_kw: Any) -> bool:
        out = Path(output_dir)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(RUNTIME_DIR, out / "loader", ignore=ignore, dirs_exist_ok=True)
        for module in self.DEPENDENCIES:
            source = Path(str(module.__file__))
            if source.name != "__init__.py":  # a single-module distribution
                shutil.copy2(source, out / source.name)
                continue
            compiled = [p.name for p in source.parent.rglob("*") if p.suffix in (".so", ".pyd")]
            if compiled:
                raise RuntimeError(f"{module.__name__} is not pure Python: {compiled}")
            shutil.copytree(source.parent, out / module.__name__, ignore=ignore, dirs_exist_ok=True)
        for name in self.COMPILED:
            with zipfile.ZipFile(self.wheel(name)) as wheel:
                wheel.extractall(out)
        return True

    def wheel(self, name: str) -> Path:
        """The wheel of ``name`` for this package's platform, downloaded once into the cache."""
        version = importlib.metadata.version(name)
        directory = self.cache / f"{self.platform}-cp{self.python_version.replace('.', '')}"
        found = self._cached(directory, name, version)
        if found is None:
            self._download(directory, f"{name}=={version}")
            found = self._cached(directory, name, version)
        if found is None:
            raise RuntimeError(
                f"no {name} {version} wheel for {self.platform}, Python {self.python_version} "
                f"in {directory} after pip download"
            )
        return found

    def _cached(self, directory: Path, name: str, version: str) -> Path | None:
        tag = f"-cp{self.python_version.replace('.', '')}-"
        arch = self.platform.split("_", 1)[1]  # manylinux2014_aarch64 -> aarch64
        for wheel in sorted(directory.glob(f"{name}-{version}-*.whl")):
            if tag in wheel.name and arch in wheel.name:
                return wheel
        return None

    def _download(self, directory: Path, requirement: str) -> None:
        command = [
            sys.executable, "-m", "pip", "download", requirement, "--no-deps",
            "--only-binary=:all:", "--implementation", "cp",
            "--platform", self.platform, "--python-version", self.python_version,
            "--dest", str(directory), "--quiet", "--disable-pip-version-check",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(
                f"cannot bundle {requirement} for {self.platform}, Python "
                f"{self.python_version}: pip download failed: {result.stderr.strip()[-2000:]}"
            )


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


@dataclass(frozen=True)
class LoaderDatabase:
    """The database the loader writes to, and the master secret its bootstrap action reads.

    Attributes:
        host: the endpoint address (a token).
        port: the MySQL port.
        name: the schema the loader writes into.
        resource_id: the instance's ``DbiResourceId`` (IAM authentication names it).
        reader_user: the web tier's read-only account, which the bootstrap action creates
            beside the loader's (``SELECT`` on the events table only).
        security_group: the database's group; the loader may reach it, and nothing else.
        master_secret_name: the master secret's name (replicated to both regions, so a
            promoted read replica can be bootstrapped too).
        master_secret_arn_pattern: matches that secret in this region.
    """

    host: str
    port: int
    name: str
    resource_id: str
    reader_user: str
    security_group: ec2.ISecurityGroup
    master_secret_name: str
    master_secret_arn_pattern: str


class LoaderFunction(Construct):
    """A Lambda function in the private subnets that loads JSON objects
    dropped under ``incoming/`` in the data bucket into MySQL.

    It connects with IAM database authentication as ``settings.database_user``
    over TLS; failed events go to an encrypted dead-letter queue after Lambda's
    retries. ``incoming`` (the data bucket) decides how its events reach the
    function: bucket notifications or an EventBridge rule.

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
        incoming: IncomingObjects,
        database: LoaderDatabase,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = self._security_group(names, vpc, database)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=names.loader_dead_letter_queue,
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
        self.function = self._function(names, settings, vpc, database, key)
        role = self.function.role
        assert role is not None
        bucket_arn = f"arn:aws:s3:::{incoming.bucket_name}"
        for statement in _statements(Stack.of(self), bucket_arn, key, database, settings):
            role.add_to_principal_policy(statement)
        self._acknowledge(role, bucket_arn)
        incoming.trigger(self, self.function, dead_letter_queue=self.dead_letter_queue)

    def _security_group(
        self, names: Names, vpc: ec2.IVpc, database: LoaderDatabase
    ) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"{names.loader_function}: MySQL and HTTPS egress only",
            allow_all_outbound=False,
        )
        group.add_egress_rule(database.security_group, ec2.Port.tcp(database.port), "MySQL")
        # S3 (gateway endpoint: S3's public ranges) and Secrets Manager (interface endpoint).
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS")
        return group

    def _function(
        self,
        names: Names,
        settings: LoaderConfig,
        vpc: ec2.IVpc,
        database: LoaderDatabase,
        key: kms.IKey,
    ) -> lambda_.Function:
        function = lambda_.Function(
            self,
            "Function",
            function_name=names.loader_function,
            description="Loads JSON objects from S3 incoming/ into MySQL (idempotent)",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=contract.HANDLER,
            code=loader_code(),
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            environment=_environment(names, settings, database),
            environment_encryption=key,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        if settings.reserved_concurrency is None:
            acknowledge(
                function,
                "NIST.800.53.R5-LambdaConcurrency",
                "No reservation by default (loader.reserved_concurrency): on new accounts "
                "(concurrency limit 10) any reservation fails the deploy; the loader is still "
                "bounded by the account limit, and the preflight checks the headroom when set",
            )
        return function

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


def _environment(names: Names, settings: LoaderConfig, database: LoaderDatabase) -> dict[str, str]:
    """The function's environment, under the names the runtime's contract defines."""
    return {
        contract.ENV_DB_HOST: database.host,
        contract.ENV_DB_PORT: str(database.port),
        contract.ENV_DB_NAME: database.name,
        contract.ENV_DB_USER: settings.database_user,
        contract.ENV_DB_READ_USER: database.reader_user,
        contract.ENV_BATCH_SIZE: str(settings.batch_size),
        contract.ENV_ROLE: names.role.value,
        contract.ENV_DB_MASTER_SECRET_ID: database.master_secret_name,
    }


def _statements(
    stack: Stack,
    bucket_arn: str,
    key: kms.IKey,
    database: LoaderDatabase,
    settings: LoaderConfig,
) -> list[iam.PolicyStatement]:
    """What the function's role may do beyond its logs and network interfaces."""
    return [
        iam.PolicyStatement(
            sid="ReadIncoming",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"{bucket_arn}/{INCOMING_PREFIX}*"],
        ),
        iam.PolicyStatement(
            # Without it a deleted object reads as 403 (retried, dead-lettered), not 404.
            sid="TellMissingObjectsApart",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
        ),
        iam.PolicyStatement(
            sid="WriteReports",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[f"{bucket_arn}/{REJECTED_PREFIX}*", f"{bucket_arn}/{QUARANTINE_PREFIX}*"],
        ),
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
        ),
        iam.PolicyStatement(
            sid="ConnectAsLoaderUser",
            actions=["rds-db:connect"],
            resources=[
                f"arn:aws:rds-db:{stack.region}:{stack.account}:dbuser:"
                f"{database.resource_id}/{settings.database_user}"
            ],
        ),
        iam.PolicyStatement(
            sid="ReadMasterSecretForBootstrap",
            actions=["secretsmanager:GetSecretValue"],
            resources=[database.master_secret_arn_pattern],
        ),
    ]

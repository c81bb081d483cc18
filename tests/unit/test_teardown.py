"""`tapstack destroy` (tapstack.teardown): empty versioned buckets and backup vaults, ask
first, run `cdk destroy`, report what is left.

S3 and CloudFormation are the embedded emulator's (moto server mode), one per module.
Recovery points are not: moto 5.2.5 implements backup vaults but neither
ListRecoveryPointsByBackupVault nor DeleteRecoveryPoint (moto/backup/urls.py has no route
for them; the server answers 404), so recovery-point calls go to a botocore ``Stubber``,
which checks each request and response against the AWS Backup service model.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from rich.console import Console

from tapstack import cli, teardown
from tapstack.cdk_cli import tool_environment
from tapstack.config import RemovalMode, TapStackConfig, parse_config
from tapstack.teardown import (
    CDK_DESTROY_ARGUMENTS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    TeardownError,
    TeardownPlan,
    delete_recovery_points,
    delete_validation_records,
    destroy,
    empty_bucket,
    teardown_plan,
)
from tapstack_lab.emulator import Emulator
from tests.support import Synthesized, default_config_data

ACCOUNT = "123456789012"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"
RETAINING_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}


def _config(environment: str, mode: str = "destroy", **dns: str) -> TapStackConfig:
    """The default configuration under its own environment slug: each test names its own
    buckets, vaults and stacks in the shared emulator."""
    data = default_config_data()
    data["environment"] = environment
    data["removal_mode"] = mode
    data["dns"].update(dns)
    return parse_config(data, "test")


def _output() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


# ---------------------------------------------------------------------------
# The emulator and clients
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(workdir=tmp_path_factory.mktemp("emulator")) as running:
        yield running


class Backup:
    """AWS Backup in one region: vaults from the emulator, recovery points from a Stubber
    (moto 5.2.5 has none; see the module docstring)."""

    _RECOVERY_POINT_CALLS = frozenset({"get_paginator", "delete_recovery_point"})

    def __init__(self, emulated: Any, stubbed: Any) -> None:
        self._emulated = emulated
        self._stubbed = stubbed

    def __getattr__(self, name: str) -> Any:
        target = self._stubbed if name in self._RECOVERY_POINT_CALLS else self._emulated
        return getattr(target, name)


@dataclass
class Aws:
    """Clients for the emulator (one per service and region, for this test only) and the
    recovery-point stubs per region."""

    endpoint: str
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)
    stubs: dict[str, Stubber] = field(default_factory=dict)

    def raw(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # the emulator's dummy credentials
        )

    def __call__(self, service: str, region: str) -> Any:
        if (service, region) not in self.cache:
            client = self.raw(service, region)
            if service == "backup":
                stubbed = self.raw(service, region)
                self.stubs[region] = Stubber(stubbed)
                self.stubs[region].activate()
                client = Backup(client, stubbed)
            self.cache[(service, region)] = client
        return self.cache[(service, region)]

    def points(self, region: str) -> Stubber:
        self("backup", region)
        return self.stubs[region]


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[Aws]:
    clients = Aws(emulator.endpoint)
    yield clients
    for stub in clients.stubs.values():
        stub.deactivate()


def _bucket(s3: Any, name: str, region: str) -> None:
    where = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": where} if where else {}))
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _fill(s3: Any, bucket: str) -> None:
    """Three versions each of three keys, a delete marker on two of them, and a version
    written on top of one marker: 9 + 2 + 1 = 12 entries."""
    keys = ("incoming/a.jsonl", "incoming/b.jsonl", "rejected/c.json")
    for key in keys:
        for version in range(3):
            s3.put_object(Bucket=bucket, Key=key, Body=f"{key} v{version}".encode())
    s3.delete_object(Bucket=bucket, Key=keys[0])
    s3.delete_object(Bucket=bucket, Key=keys[1])
    s3.put_object(Bucket=bucket, Key=keys[1], Body=b"written again")


def _entries(s3: Any, bucket: str) -> tuple[int, int]:
    """(versions, delete markers) in the bucket."""
    versions = markers = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += len(page.get("Versions", ()))
        markers += len(page.get("DeleteMarkers", ()))
    return versions, markers


def _exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def _point(region: str, vault: str, number: int, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "RecoveryPointArn": f"arn:aws:backup:{region}:{ACCOUNT}:recovery-point:rp-{number:04d}",
        "BackupVaultName": vault,
        "Status": status,
    }


def _expect_listing(
    stub: Stubber, vault: str, points: list[dict[str, Any]], next_token: str | None = None
) -> None:
    response: dict[str, Any] = {"RecoveryPoints": points}
    expected: dict[str, Any] = {"BackupVaultName": vault}
    if next_token:
        response["NextToken"] = next_token
    stub.add_response("list_recovery_points_by_backup_vault", response, expected)


def _expect_deletion(stub: Stubber, vault: str, point: dict[str, Any]) -> None:
    stub.add_response(
        "delete_recovery_point",
        {},
        {"BackupVaultName": vault, "RecoveryPointArn": point["RecoveryPointArn"]},
    )


# ---------------------------------------------------------------------------
# empty_bucket
# ---------------------------------------------------------------------------


def test_a_versioned_bucket_is_emptied_of_every_version_and_delete_marker(aws: Aws) -> None:
    s3 = aws("s3", PRIMARY)
    _bucket(s3, "teardown-versions", PRIMARY)
    _fill(s3, "teardown-versions")
    assert _entries(s3, "teardown-versions") == (10, 2)

    assert empty_bucket(s3, "teardown-versions") == 12

    assert _entries(s3, "teardown-versions") == (0, 0)
    s3.delete_bucket(Bucket="teardown-versions")  # S3 refuses this unless it is empty
    assert not _exists(s3, "teardown-versions")


def test_large_buckets_are_deleted_in_batches(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """DeleteObjects takes at most 1000 keys; with the batch at 5, 12 entries take three."""
    monkeypatch.setattr(teardown, "DELETE_BATCH", 5)
    s3 = aws("s3", SECONDARY)
    _bucket(s3, "teardown-batches", SECONDARY)
    _fill(s3, "teardown-batches")
    sizes: list[int] = []
    s3.meta.events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: sizes.append(len(params["Delete"]["Objects"])),
    )

    assert empty_bucket(s3, "teardown-batches") == 12

    assert sizes == [5, 5, 2]
    assert _entries(s3, "teardown-batches") == (0, 0)


def test_a_missing_bucket_counts_as_empty(aws: Aws) -> None:
    assert empty_bucket(aws("s3", PRIMARY), "teardown-never-created") == 0


def test_keys_s3_refuses_to_delete_are_named_with_their_reason(aws: Aws) -> None:
    s3 = aws.raw("s3", PRIMARY)
    listing = {
        "Versions": [
            {"Key": "locked.json", "VersionId": "v1"},
            {"Key": "ok.json", "VersionId": "v2"},
        ],
        "DeleteMarkers": [{"Key": "gone.json", "VersionId": "m1"}],
    }
    refused = {
        "Errors": [
            {
                "Key": "locked.json",
                "VersionId": "v1",
                "Code": "AccessDenied",
                "Message": "Access Denied because object protected by object lock.",
            }
        ]
    }
    with Stubber(s3) as stub:
        stub.add_response("list_object_versions", listing, {"Bucket": "b-x", "MaxKeys": 1000})
        stub.add_response("delete_objects", refused)
        with pytest.raises(TeardownError, match=r"b-x: S3 refused to delete 1 of 3") as raised:
            empty_bucket(s3, "b-x")
    assert "locked.json (version v1): AccessDenied" in str(raised.value)
    assert "object lock" in str(raised.value)


# ---------------------------------------------------------------------------
# delete_recovery_points (Stubber: moto 5.2.5 has no recovery points)
# ---------------------------------------------------------------------------


def test_every_recovery_point_is_deleted_across_pages(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    points = [_point(PRIMARY, "v", n) for n in range(3)]
    with Stubber(backup) as stub:
        _expect_listing(stub, "v", points[:2], next_token="page-2")
        stub.add_response(
            "list_recovery_points_by_backup_vault",
            {"RecoveryPoints": points[2:]},
            {"BackupVaultName": "v", "NextToken": "page-2"},
        )
        for point in points:
            _expect_deletion(stub, "v", point)
        assert delete_recovery_points(backup, "v") == 3
        stub.assert_no_pending_responses()


def test_a_missing_vault_has_no_recovery_points(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    with Stubber(backup) as stub:
        stub.add_client_error(
            "list_recovery_points_by_backup_vault",
            "ResourceNotFoundException",
            http_status_code=404,
        )
        assert delete_recovery_points(backup, "never-created") == 0


def test_a_vault_lock_is_named_as_the_reason_points_stay(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    point = _point(PRIMARY, "locked", 1)
    with Stubber(backup) as stub:
        _expect_listing(stub, "locked", [point])
        stub.add_client_error(
            "delete_recovery_point",
            "InvalidRequestException",
            "Recovery point cannot be deleted (backup vault is locked)",
        )
        stub.add_response(
            "describe_backup_vault",
            {"BackupVaultName": "locked", "Locked": True, "MinRetentionDays": 35},
            {"BackupVaultName": "locked"},
        )
        with pytest.raises(TeardownError, match="Vault Lock") as raised:
            delete_recovery_points(backup, "locked")
    assert point["RecoveryPointArn"] in str(raised.value)
    assert "InvalidRequestException" in str(raised.value)


def test_waiting_deletes_copies_that_land_later_until_the_vault_is_empty(aws: Aws) -> None:
    """Deletion is asynchronous (DELETING) and a copy job can land a new point meanwhile."""
    backup = aws.raw("backup", SECONDARY)
    first, copy = _point(SECONDARY, "v", 1), _point(SECONDARY, "v", 2)
    slept: list[float] = []
    with Stubber(backup) as stub:
        _expect_listing(stub, "v", [first])
        _expect_deletion(stub, "v", first)
        _expect_listing(stub, "v", [{**first, "Status": "DELETING"}, copy])
        _expect_deletion(stub, "v", copy)
        _expect_listing(stub, "v", [])
        count = delete_recovery_points(
            backup, "v", wait_seconds=60, poll_seconds=7, sleep=slept.append
        )
        stub.assert_no_pending_responses()
    assert count == 2
    assert slept == [7, 7]


def test_a_point_busy_with_a_job_fails_without_waiting(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    point = _point(PRIMARY, "v", 1)
    with Stubber(backup) as stub:
        _expect_listing(stub, "v", [point])
        stub.add_client_error("delete_recovery_point", "InvalidResourceStateException")
        with pytest.raises(TeardownError, match="in use by a running backup, copy or restore"):
            delete_recovery_points(backup, "v")


def test_a_point_that_expires_instead_of_going_names_the_missing_permission(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    point = _point(PRIMARY, "v", 1)
    with Stubber(backup) as stub:
        _expect_listing(stub, "v", [point])
        _expect_deletion(stub, "v", point)
        _expect_listing(stub, "v", [{**point, "Status": "EXPIRED"}])
        with pytest.raises(TeardownError, match="went to EXPIRED instead of being deleted"):
            delete_recovery_points(backup, "v", wait_seconds=60, sleep=lambda _: None)
        stub.assert_no_pending_responses()


def test_a_vault_still_holding_points_after_the_wait_fails_naming_them(aws: Aws) -> None:
    backup = aws.raw("backup", PRIMARY)
    point = _point(PRIMARY, "v", 1, status="DELETING")
    with Stubber(backup) as stub:
        _expect_listing(stub, "v", [point])
        # The wait (a microsecond) is over by the time the first listing has answered.
        with pytest.raises(TeardownError) as raised:
            delete_recovery_points(backup, "v", wait_seconds=1e-6, sleep=lambda _: None)
    assert str(raised.value) == (
        f"vault v still holds 1 recovery point(s) after 0s: {point['RecoveryPointArn']} (DELETING)"
    )


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


def test_the_plan_deletes_stacks_in_reverse_deploy_order(
    synth: Synthesized, synth_variant: Synthesized
) -> None:
    for built in (synth.built, synth_variant.built):
        plan = teardown_plan(built.primary.config)
        assert [(s.name, s.region) for s in plan.stacks] == [
            (stack.stack_name, stack.region) for stack in reversed(built.stacks)
        ]
    assert [s.name for s in teardown_plan(synth.built.primary.config).stacks] == [
        "tapstack-prod-secondary",
        "tapstack-prod-primary",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-dns",
    ]


def test_the_plan_empties_the_replication_source_before_its_destination() -> None:
    plan = teardown_plan(_config("prod"))
    assert [(b.name, b.region) for b in plan.buckets] == [
        (f"tapstack-prod-data-{ACCOUNT}-us-east-1", PRIMARY),
        (f"tapstack-prod-data-{ACCOUNT}-us-west-2", SECONDARY),
        (f"tapstack-prod-logs-{ACCOUNT}-us-east-1", PRIMARY),
        (f"tapstack-prod-logs-{ACCOUNT}-us-west-2", SECONDARY),
    ]
    assert [(v.name, v.region) for v in plan.vaults] == [
        ("tapstack-prod-vault-us-east-1", PRIMARY),
        ("tapstack-prod-vault-us-west-2", SECONDARY),
    ]
    assert plan.empties and plan.retained == () and plan.blockers == ()


def _retained_types(synthesized: Synthesized) -> set[str]:
    return {
        resource["Type"]
        for template in synthesized.templates.values()
        for resource in template["Resources"].values()
        if resource.get("DeletionPolicy") in RETAINING_POLICIES
    }


def test_the_retain_list_names_every_type_the_templates_keep(
    synth: Synthesized, synth_variant: Synthesized
) -> None:
    """What the user is told stays behind is what the synthesized templates retain."""
    retain_plan = teardown_plan(synth.built.primary.config)
    assert retain_plan.removal_mode is RemovalMode.RETAIN
    assert {r.resource_type for r in retain_plan.retained} == _retained_types(synth)
    destroy_plan = teardown_plan(synth_variant.built.primary.config)
    assert destroy_plan.removal_mode is RemovalMode.DESTROY
    assert _retained_types(synth_variant) == set()
    assert destroy_plan.retained == ()


def _protected(synthesized: Synthesized) -> set[tuple[str, str]]:
    """(stack kind, resource type) of every resource with deletion protection on."""
    protected = set()
    for kind, template in synthesized.templates.items():
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            attributes = {
                a["Key"]: a["Value"] for a in properties.get("LoadBalancerAttributes", [])
            }
            if (
                properties.get("DeletionProtection") is True
                or attributes.get("deletion_protection.enabled") == "true"
            ):
                protected.add((kind, resource["Type"]))
    return protected


def test_the_deletion_protection_warning_matches_the_templates(
    synth: Synthesized, synth_variant: Synthesized
) -> None:
    """Retain mode warns that the load balancers and databases block cdk destroy: they do."""
    assert _protected(synth) == {
        (kind, rtype)
        for kind in ("primary", "secondary")
        for rtype in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::RDS::DBInstance")
    }
    (blocker,) = teardown_plan(synth.built.primary.config).blockers
    assert "load balancers and the databases" in blocker
    assert "tapstack-prod-secondary and tapstack-prod-primary end in DELETE_FAILED" in blocker
    assert _protected(synth_variant) == set()
    assert teardown_plan(synth_variant.built.primary.config).blockers == ()


# ---------------------------------------------------------------------------
# destroy
# ---------------------------------------------------------------------------


def _deploy(plan: TeardownPlan, aws: Aws, *, vaults: bool = True) -> None:
    """The plan's stacks as tiny templates in the emulator, holding the buckets where
    TapStack puts them (primary buckets in the primary stack, secondary ones in
    secondary-storage), each bucket filled; the vaults through the API (moto's
    CloudFormation skips AWS::Backup types)."""
    prefix = plan.prefix
    holds = {f"{prefix}-primary": PRIMARY, f"{prefix}-secondary-storage": SECONDARY}
    for stack in plan.stacks:
        resources: dict[str, Any] = {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
        if stack.name in holds:
            for index, bucket in enumerate(
                b for b in plan.buckets if b.region == holds[stack.name]
            ):
                resources[f"Bucket{index}"] = {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {"BucketName": bucket.name},
                }
        cfn = aws("cloudformation", stack.region)
        cfn.create_stack(StackName=stack.name, TemplateBody=json.dumps({"Resources": resources}))
        assert cfn.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"] == (
            "CREATE_COMPLETE"
        )
    for bucket in plan.buckets:
        s3 = aws("s3", bucket.region)
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        _fill(s3, bucket.name)
    for vault in plan.vaults if vaults else ():
        aws("backup", vault.region).create_backup_vault(BackupVaultName=vault.name)


def _stack_buckets(plan: TeardownPlan, stack: str) -> list[str]:
    regions = {f"{plan.prefix}-primary": PRIMARY, f"{plan.prefix}-secondary-storage": SECONDARY}
    region = regions.get(stack)
    return [b.name for b in plan.buckets if b.region == region]


class FakeCdkDestroy:
    """Stands in for ``cdk destroy --all --force``: deletes the plan's stacks through the
    emulator's CloudFormation, in the plan's order.

    Destroy mode: the vaults go too (moto's CloudFormation has no AWS::Backup types), and
    where CloudFormation fails a stack whose bucket is not empty (BucketNotEmpty; moto
    silently keeps the bucket) this stops with status 1, leaving that stack and the ones
    after it. Retain mode: the stacks go and moto keeps the non-empty buckets, as the
    Retain policy would; the vaults stay."""

    def __init__(
        self,
        plan: TeardownPlan,
        aws: Aws,
        before: Callable[[int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.before = before
        self.calls: list[list[str]] = []
        # Its own clients: the event hooks of a test watch only what destroy() does.
        self.aws = Aws(aws.endpoint)

    def __call__(self, arguments: list[str]) -> int:
        self.calls.append(list(arguments))
        if self.before is not None:
            self.before(len(self.calls))
        for stack in self.plan.stacks:
            s3 = self.aws("s3", stack.region)
            buckets = [b for b in _stack_buckets(self.plan, stack.name) if _exists(s3, b)]
            if self.plan.empties and any(sum(_entries(s3, b)) for b in buckets):
                return 1
            self.aws("cloudformation", stack.region).delete_stack(StackName=stack.name)
        if self.plan.empties:
            for vault in self.plan.vaults:
                self.aws("backup", vault.region).delete_backup_vault(BackupVaultName=vault.name)
        return 0


def _expect_vaults_emptied(aws: Aws, plan: TeardownPlan, *, rounds: int = 1) -> None:
    """Primary vault: one recovery point; secondary vault: its copy. Each round lists them."""
    for round_ in range(rounds):
        for number, vault in enumerate(plan.vaults):
            stub = aws.points(vault.region)
            points = [_point(vault.region, vault.name, number)] if round_ == 0 else []
            _expect_listing(stub, vault.name, points)
            for point in points:
                _expect_deletion(stub, vault.name, point)


def _refuse_to_prompt(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} although --yes was given")


def test_destroy_mode_empties_everything_then_runs_cdk_destroy(aws: Aws) -> None:
    config = _config("tdestroy")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan)
    cdk = FakeCdkDestroy(plan, aws)
    listed: list[str] = []
    for region in (PRIMARY, SECONDARY):
        aws("s3", region).meta.events.register(
            "before-parameter-build.s3.ListObjectVersions",
            lambda params, **_: listed.append(params["Bucket"]),
        )
    console, out = _output()

    result = destroy(
        config, clients=aws, confirm=None, yes=True, run_cdk=cdk, console=console, wait_seconds=0
    )

    assert cdk.calls == [["destroy", "--all", "--force"]]
    assert result.exit_code == EXIT_OK, out.getvalue()
    assert result.versions == {b.name: 12 for b in plan.buckets}
    assert result.recovery_points == {v.name: 1 for v in plan.vaults}
    assert result.left == []
    for region in (PRIMARY, SECONDARY):
        aws.points(region).assert_no_pending_responses()
    # The replication source first, then its destination; then every bucket once more.
    firsts = list(dict.fromkeys(listed))
    assert firsts == [b.name for b in plan.buckets]
    assert listed[-4:] == [b.name for b in plan.buckets]
    assert f"nothing named by {plan.prefix} is left" in out.getvalue()


def test_versions_that_arrive_after_emptying_are_deleted_too(aws: Aws) -> None:
    """A replicated object or a log file landing in a bucket after its turn."""
    config = _config("tlate")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan)
    source, last = plan.buckets[0], plan.buckets[-1]
    secondary_s3 = aws("s3", last.region)
    arrived: list[str] = []

    def late_write(params: dict[str, Any], **_: Any) -> None:
        if params["Bucket"] == last.name and not arrived:
            aws("s3", source.region).put_object(Bucket=source.name, Key="late.json", Body=b"{}")
            arrived.append("late.json")

    secondary_s3.meta.events.register("before-parameter-build.s3.ListObjectVersions", late_write)
    console, out = _output()

    result = destroy(
        config,
        clients=aws,
        confirm=None,
        yes=True,
        run_cdk=FakeCdkDestroy(plan, aws),
        console=console,
        wait_seconds=0,
    )

    assert arrived == ["late.json"]
    assert result.versions[source.name] == 13
    assert f"{source.name}: 1 more version(s) arrived after emptying" in out.getvalue()
    assert result.exit_code == EXIT_OK and result.left == []


def test_a_failed_cdk_destroy_is_retried_once_after_emptying_again(aws: Aws) -> None:
    """Access logs arrive minutes late: the first cdk destroy meets a non-empty log bucket."""
    config = _config("tretry")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan, rounds=2)
    log_bucket = plan.buckets[2]

    def late_log(call: int) -> None:
        if call == 1:
            aws("s3", log_bucket.region).put_object(Bucket=log_bucket.name, Key="log", Body=b"")

    cdk = FakeCdkDestroy(plan, aws, before=late_log)
    console, out = _output()

    result = destroy(
        config, clients=aws, confirm=None, yes=True, run_cdk=cdk, console=console, wait_seconds=0
    )

    assert cdk.calls == [list(CDK_DESTROY_ARGUMENTS)] * 2
    assert result.cdk_runs == [1, 0]
    assert result.versions[log_bucket.name] == 13
    assert result.exit_code == EXIT_OK and result.left == []
    assert "emptying what is left once more and retrying" in out.getvalue()


def test_anything_left_after_cdk_destroy_fails_destroy_mode(aws: Aws) -> None:
    config = _config("tleft")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan)
    console, out = _output()

    result = destroy(
        config,
        clients=aws,
        confirm=None,
        yes=True,
        run_cdk=lambda arguments: 0,  # reports success, deletes nothing
        console=console,
        wait_seconds=0,
    )

    assert result.exit_code == EXIT_FAILED
    assert f"bucket {plan.buckets[0].name} (us-east-1)" in result.left
    assert f"backup vault {plan.vaults[1].name} (us-west-2)" in result.left
    assert f"stack {plan.stacks[0].name} (us-west-2): CREATE_COMPLETE" in result.left
    assert "left behind:" in out.getvalue()


def test_a_wrong_answer_refuses_and_deletes_nothing(aws: Aws) -> None:
    config = _config("twrong")
    plan = teardown_plan(config)
    _deploy(plan, aws)  # no recovery-point calls are stubbed: any would fail the test
    prompts: list[str] = []
    cdk = FakeCdkDestroy(plan, aws)
    console, out = _output()

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return "tapstack-prod"  # another environment's name

    result = destroy(config, clients=aws, confirm=answer, run_cdk=cdk, console=console)

    assert prompts == ["Type tapstack-twrong to destroy it: "]
    assert result.exit_code == EXIT_REFUSED and not result.confirmed
    assert cdk.calls == []
    for bucket in plan.buckets:
        assert _entries(aws("s3", bucket.region), bucket.name) == (10, 2)
    assert "nothing was changed" in out.getvalue()


def test_typing_the_prefix_confirms(aws: Aws) -> None:
    config = _config("tright")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan)
    cdk = FakeCdkDestroy(plan, aws)

    result = destroy(
        config,
        clients=aws,
        confirm=lambda prompt: "tapstack-tright\n",
        run_cdk=cdk,
        console=_output()[0],
        wait_seconds=0,
    )

    assert result.confirmed and result.exit_code == EXIT_OK
    assert cdk.calls == [list(CDK_DESTROY_ARGUMENTS)]


def test_yes_proceeds_without_asking(aws: Aws) -> None:
    config = _config("tyes")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    _expect_vaults_emptied(aws, plan)
    cdk = FakeCdkDestroy(plan, aws)

    result = destroy(
        config,
        clients=aws,
        confirm=_refuse_to_prompt,
        yes=True,
        run_cdk=cdk,
        console=_output()[0],
        wait_seconds=0,
    )

    assert result.confirmed and result.exit_code == EXIT_OK
    assert cdk.calls == [list(CDK_DESTROY_ARGUMENTS)]


def test_no_terminal_and_no_yes_refuses_in_one_line(aws: Aws) -> None:
    config = _config("tnotty")
    plan = teardown_plan(config)
    _deploy(plan, aws)
    cdk = FakeCdkDestroy(plan, aws)
    console, out = _output()

    result = destroy(config, clients=aws, confirm=None, run_cdk=cdk, console=console)

    assert result.exit_code == EXIT_REFUSED and cdk.calls == []
    refusal = [line for line in out.getvalue().splitlines() if "refusing" in line]
    assert refusal == [
        "error: refusing to destroy tapstack-tnotty: stdin is not a terminal to confirm on; "
        "pass --yes (make destroy DESTROY_ARGS=--yes) to destroy without asking"
    ]
    assert _entries(aws("s3", PRIMARY), plan.buckets[0].name) == (10, 2)


def test_retain_mode_empties_nothing_and_says_what_stays(aws: Aws) -> None:
    config = _config("tretain", mode="retain")
    plan = teardown_plan(config)
    _deploy(plan, aws)  # no recovery-point calls are stubbed: any would fail the test
    cdk = FakeCdkDestroy(plan, aws)
    console, out = _output()

    result = destroy(config, clients=aws, confirm=None, yes=True, run_cdk=cdk, console=console)

    assert cdk.calls == [list(CDK_DESTROY_ARGUMENTS)]
    assert result.versions == {} and result.recovery_points == {}
    for bucket in plan.buckets:
        assert _entries(aws("s3", bucket.region), bucket.name) == (10, 2)
    assert result.left == [f"bucket {b.name} ({b.region})" for b in plan.buckets] + [
        f"backup vault {v.name} ({v.region})" for v in plan.vaults
    ]
    assert result.exit_code == EXIT_OK
    text = out.getvalue()
    assert "removal_mode is retain: nothing is emptied" in text
    assert "the hosted zone tapstack.example.com" in text
    assert "final DB snapshot of tapstack-tretain-mysql-primary" in text
    assert "deletion protection" in text and "DELETE_FAILED" in text
    assert "left behind, as retain mode intends:" in text


def test_the_project_cdk_cli_destroys_the_stacks_once_they_are_empty(
    emulator: Emulator, synth_variant: Synthesized, aws: Aws
) -> None:
    """End to end with the real CDK CLI: `cdk destroy --all --force` on the synthesized
    destroy-mode app deletes the emulator's stacks (tiny stand-ins under the app's stack
    names, holding the named buckets). moto keeps a non-empty bucket where CloudFormation
    would fail, so nothing left means the buckets were emptied first."""
    config = synth_variant.built.primary.config
    plan = teardown_plan(config)
    _deploy(plan, aws, vaults=False)  # moto's CloudFormation cannot hold AWS::Backup types
    for vault in plan.vaults:
        aws.points(vault.region).add_client_error(
            "list_recovery_points_by_backup_vault", "ResourceNotFoundException"
        )
    console, out = _output()
    run_cdk = teardown.cdk_runner(
        "config/default.yaml",
        console=console,
        env=tool_environment(emulator.environment(PRIMARY)),
        app=synth_variant.outdir,
    )

    result = destroy(config, clients=aws, confirm=None, yes=True, run_cdk=run_cdk, console=console)

    text = out.getvalue()
    assert result.cdk_runs == [0], text
    assert result.exit_code == EXIT_OK and result.left == [], text
    assert result.versions == {b.name: 12 for b in plan.buckets}
    destroyed = [line.split()[1].rstrip(":") for line in text.splitlines() if "destroyed" in line]
    assert destroyed == [stack.name for stack in plan.stacks]


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def _config_file(tmp_path: Path, environment: str, mode: str) -> Path:
    data = default_config_data()
    data["environment"] = environment
    data["removal_mode"] = mode
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _recording_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> list[list[str]]:
    calls: list[list[str]] = []

    def runner(config_path: Any, **_: Any) -> Callable[[list[str]], int]:
        def run(arguments: list[str]) -> int:
            calls.append(arguments)
            return 0

        return run

    monkeypatch.setattr(teardown, "cdk_runner", runner)
    return calls


def test_the_command_refuses_without_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _recording_runner(monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO("tapstack-tcli\n"))  # piped, not a TTY

    code = cli.main(["--config", str(_config_file(tmp_path, "tcli", "destroy")), "destroy"])

    assert code == EXIT_REFUSED and calls == []
    assert "refusing to destroy tapstack-tcli" in capsys.readouterr().out


def test_the_command_with_yes_runs_cdk_destroy(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Retain mode, so nothing needs recovery points (which moto cannot list)."""
    calls = _recording_runner(monkeypatch)
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    path = _config_file(tmp_path, "tcliyes", "retain")
    code = cli.main(["--config", str(path), "destroy", "--yes"])

    assert calls == [list(CDK_DESTROY_ARGUMENTS)]
    assert code == EXIT_OK, capsys.readouterr().out


# ---------------------------------------------------------------------------
# certificate validation records in the app's zone
# ---------------------------------------------------------------------------


def test_destroy_mode_plans_to_delete_the_validation_records_of_every_managed_name() -> None:
    plan = teardown_plan(_config("tnames"))
    assert plan.zone_stack is not None and plan.zone_stack.name == "tapstack-tnames-dns"
    assert plan.validated_names == (
        "app.tapstack.example.com",
        "us-east-1.app.tapstack.example.com",
        "us-west-2.app.tapstack.example.com",
    )


@pytest.mark.parametrize(
    ("mode", "dns"),
    [("retain", {}), ("destroy", {"hosted_zone_id": "Z0123456789ABCDEFGHIJ"})],
)
def test_records_stay_in_a_retained_zone_and_in_a_zone_the_user_brings(
    mode: str, dns: dict[str, str]
) -> None:
    plan = teardown_plan(_config("tkeep", mode, **dns))
    assert plan.zone_stack is None
    assert plan.validated_names == ()


def _record(name: str, value: str) -> dict[str, Any]:
    return {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": name,
            "Type": "CNAME",
            "TTL": 300,
            "ResourceRecords": [{"Value": value}],
        },
    }


def test_the_validation_records_are_deleted_and_every_other_record_stays(aws: Aws) -> None:
    """CloudFormation leaves them when it deletes the certificates, and Route 53 refuses to
    delete a zone that holds them (HostedZoneNotEmpty)."""
    plan = teardown_plan(_config("tzone"))
    assert plan.zone_stack is not None
    route53 = aws("route53", PRIMARY)
    zone = route53.create_hosted_zone(Name="tapstack.example.com", CallerReference="tzone")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    validation = "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws."
    doomed = [f"_d930b28be6c5927595552b219965053e.{name}." for name in plan.validated_names]
    kept = [
        "_d930b28be6c5927595552b219965053e.other.tapstack.example.com.",  # not the app's
        "www.tapstack.example.com.",
    ]
    changes = [_record(name, validation) for name in doomed + kept[:1]]
    changes.append(_record(kept[1], "example.net."))
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    cfn = aws("cloudformation", PRIMARY)
    template = {
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"HostedZoneId": {"Value": zone_id}},
    }
    cfn.create_stack(StackName=plan.zone_stack.name, TemplateBody=json.dumps(template))

    deleted = delete_validation_records(cfn, route53, plan.zone_stack.name, plan.validated_names)

    assert deleted == 3
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert sorted(r["Name"] for r in records if r["Type"] == "CNAME") == sorted(kept)
    # Once the stack is gone there is nothing left to do.
    cfn.delete_stack(StackName=plan.zone_stack.name)
    assert delete_validation_records(cfn, route53, plan.zone_stack.name, plan.validated_names) == 0

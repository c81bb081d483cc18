"""Tearing an environment down: ``python -m tapstack destroy`` (``make destroy``).

CloudFormation cannot delete a bucket that still holds objects (``BucketNotEmpty``; in a
versioned bucket every old version and every delete marker counts) or a backup vault that
still holds recovery points. In ``removal_mode: destroy`` those resources are meant to go
with their stacks, so :func:`destroy` empties them first, runs ``cdk destroy --all --force``
and then checks that nothing it named is left. In ``retain`` mode it empties nothing: it
says what CloudFormation will leave behind and runs ``cdk destroy`` only.

Either way it asks first: the user types the environment's prefix (``tapstack-prod``), the
way GitHub asks for a repository's name before deleting it. ``--yes`` skips the question;
without a terminal and without ``--yes`` (CI) it refuses.

Order matters. S3 replication copies objects from the primary data bucket into the
secondary one, so the source is emptied before its destination; and replication, server
access logs and load balancer logs can still add versions after a bucket was emptied, so
every bucket is listed once more afterwards, and a failed ``cdk destroy`` is retried once
after emptying again (access logs arrive minutes after the requests they record).

A zone the app owns holds, besides its own records, the validation CNAMEs CloudFormation
wrote for the managed certificates. Deleting a certificate leaves them there (as
CloudFormation documents nowhere but users report:
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/837), and Route 53
refuses to delete a zone that holds records (``HostedZoneNotEmpty``). So destroy mode deletes
them too, before ``cdk destroy``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from tapstack.aws import ClientFactory
from tapstack.config import RemovalMode, TapStackConfig
from tapstack.naming import HOSTED_ZONE_ID, Names, stack_name, writer_region

#: Shows a prompt and returns what the user typed (``input``).
Prompt = Callable[[str], str]
#: Runs the project-local CDK CLI with these arguments; returns its exit status.
CdkRunner = Callable[[list[str]], int]

#: What ``make destroy`` runs once the data is gone (``--force``: we asked already).
CDK_DESTROY_ARGUMENTS = ("destroy", "--all", "--force")
#: DeleteObjects takes at most 1000 keys per request.
DELETE_BATCH = 1000
#: Where ACM's DNS validation records point:
#: ``_<hash>.<name>. CNAME _<hash>.<id>.acm-validations.aws.``.
ACM_VALIDATION_SUFFIX = ".acm-validations.aws."
#: AWS Backup deletes recovery points asynchronously; how long to wait for a vault to empty.
RECOVERY_POINT_WAIT_SECONDS = 900.0
RECOVERY_POINT_POLL_SECONDS = 10.0

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2


class TeardownError(RuntimeError):
    """Something could not be emptied or deleted; the message names it and why."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# ---------------------------------------------------------------------------
# Emptying buckets and vaults
# ---------------------------------------------------------------------------


def empty_bucket(s3_client: Any, bucket: str) -> int:
    """Delete every object version and delete marker in ``bucket``; return how many.

    A bucket that does not exist (``NoSuchBucket``) is already empty: 0. Keys that S3
    refuses to delete (an object lock, a bucket policy) raise :class:`TeardownError`
    with each key, version and reason.

    Each round lists the first ``DELETE_BATCH`` entries and deletes them, until a listing
    comes back empty. Listing from the start every time, rather than paginating on while
    deleting, never resumes from a marker that names a version just deleted (moto ends the
    listing there), and it picks up versions written meanwhile.
    """
    deleted = 0
    previous: set[tuple[str, str]] = set()
    while True:
        try:
            page = s3_client.list_object_versions(Bucket=bucket, MaxKeys=DELETE_BATCH)
        except ClientError as exc:
            if _code(exc) == "NoSuchBucket":
                return deleted
            raise
        batch = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in (*page.get("Versions", ()), *page.get("DeleteMarkers", ()))
        ]
        if not batch:
            return deleted
        # An unversioned bucket's objects all have version "null": a key written again is new.
        listed = {(e["Key"], e["VersionId"]) for e in batch if e["VersionId"] != "null"}
        if listed & previous:  # a deletion S3 acknowledged did not happen: do not loop forever
            key, version = sorted(listed & previous)[0]
            raise TeardownError(
                f"{bucket}: {key} (version {version}) is still listed after S3 confirmed its "
                "deletion"
            )
        deleted += _delete_versions(s3_client, bucket, batch)
        previous = listed


def _delete_versions(s3_client: Any, bucket: str, batch: list[dict[str, str]]) -> int:
    response = s3_client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors") or []
    if errors:
        shown = "; ".join(
            f"{e.get('Key')} (version {e.get('VersionId')}): {e.get('Code')} {e.get('Message')}"
            for e in errors[:10]
        )
        more = f"; and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise TeardownError(
            f"{bucket}: S3 refused to delete {len(errors)} of {len(batch)} object "
            f"version(s): {shown}{more}"
        )
    return len(batch)


def _recovery_points(backup_client: Any, vault: str) -> list[dict[str, Any]] | None:
    """The vault's recovery points, or ``None`` when the vault does not exist."""
    points: list[dict[str, Any]] = []
    try:
        paginator = backup_client.get_paginator("list_recovery_points_by_backup_vault")
        for page in paginator.paginate(BackupVaultName=vault):
            points.extend(page.get("RecoveryPoints", ()))
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
    return points


def _vault_locked(backup_client: Any, vault: str) -> bool | None:
    try:
        return bool(backup_client.describe_backup_vault(BackupVaultName=vault).get("Locked"))
    except ClientError:
        return None


def _refused(backup_client: Any, vault: str, arn: str, error: ClientError) -> TeardownError:
    reason = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    locked = _vault_locked(backup_client, vault)
    if locked:
        advice = (
            "the vault has an AWS Backup Vault Lock: its recovery points cannot be deleted "
            "before their retention ends (in compliance mode by nobody, not even the root "
            "user), so neither can the vault; keep it until they expire"
        )
    elif locked is None:
        advice = (
            "if the vault has an AWS Backup Vault Lock, its recovery points cannot be "
            "deleted before their retention ends"
        )
    else:
        advice = "check the caller's permissions on the vault and its access policy"
    return TeardownError(
        f"cannot delete recovery point {arn} in vault {vault} ({reason}): {advice}"
    )


def delete_recovery_points(
    backup_client: Any,
    vault: str,
    *,
    wait_seconds: float = 0.0,
    poll_seconds: float = RECOVERY_POINT_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Delete every recovery point in ``vault``; return how many were deleted.

    A vault that does not exist is fine (0). A vault lock makes the deletion fail:
    :class:`TeardownError` says so. With ``wait_seconds`` the vault is listed again every
    ``poll_seconds`` until it is empty: AWS Backup deletes asynchronously (points sit in
    ``DELETING``), points busy with a running job (``InvalidResourceStateException``) are
    retried, and copy jobs may still land new ones; a vault not empty by then raises.
    """
    deadline = time.monotonic() + wait_seconds
    requested: set[str] = set()
    while True:
        points = _recovery_points(backup_client, vault)
        if not points:  # None: no such vault
            return len(requested)
        busy = _request_deletions(backup_client, vault, points, requested)
        if wait_seconds <= 0:
            if busy:
                raise _busy_error(vault, busy)
            return len(requested)
        if time.monotonic() >= deadline:
            raise _not_empty_error(vault, points, wait_seconds)
        sleep(poll_seconds)


def _request_deletions(
    backup_client: Any, vault: str, points: list[dict[str, Any]], requested: set[str]
) -> list[str]:
    """Ask AWS Backup to delete every point in ``points`` not already ``DELETING``, adding
    each to ``requested``; return the ARNs of those busy with a running job."""
    busy: list[str] = []
    for point in points:
        arn, status = point["RecoveryPointArn"], point.get("Status")
        if status == "DELETING":
            continue
        if status == "EXPIRED" and arn in requested:
            # The documented outcome of a deletion without the permission to finish it.
            raise TeardownError(
                f"recovery point {arn} in vault {vault} went to EXPIRED instead of being "
                "deleted: the caller needs iam:CreateServiceLinkedRole for AWS Backup to "
                "finish manual deletions; add it and run destroy again"
            )
        try:
            backup_client.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=arn)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                continue
            if _code(exc) == "InvalidResourceStateException":
                busy.append(arn)
                continue
            raise _refused(backup_client, vault, arn, exc) from exc
        requested.add(arn)
    return busy


def _busy_error(vault: str, busy: list[str]) -> TeardownError:
    return TeardownError(
        f"vault {vault}: {len(busy)} recovery point(s) are in use by a running "
        f"backup, copy or restore job ({', '.join(busy[:3])}); run destroy again "
        "once the jobs have finished"
    )


def _not_empty_error(
    vault: str, points: list[dict[str, Any]], wait_seconds: float
) -> TeardownError:
    statuses = ", ".join(f"{p['RecoveryPointArn']} ({p.get('Status', '?')})" for p in points[:5])
    return TeardownError(
        f"vault {vault} still holds {len(points)} recovery point(s) after "
        f"{wait_seconds:.0f}s: {statuses}"
    )


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A resource the teardown names: a stack, a bucket or a vault, in its region."""

    name: str
    region: str
    role: str


@dataclass(frozen=True)
class Retained:
    """What CloudFormation leaves behind in retain mode, by CloudFormation type."""

    resource_type: str
    description: str


@dataclass(frozen=True)
class TeardownPlan:
    """What ``destroy`` will do for one configuration, decided before anything is touched."""

    prefix: str
    account: str
    removal_mode: RemovalMode
    #: Stacks in the order ``cdk destroy --all`` deletes them: the reverse of the deploy order.
    stacks: tuple[Named, ...]
    #: Buckets in the order they are emptied: a replication source before its destination.
    buckets: tuple[Named, ...]
    vaults: tuple[Named, ...]
    #: Retain mode: what stays after the stacks are gone. Empty in destroy mode.
    retained: tuple[Retained, ...] = ()
    #: Retain mode: deletion protection that makes ``cdk destroy`` fail until it is turned off.
    blockers: tuple[str, ...] = ()
    #: Destroy mode, with the zone in the app's dns stack: that stack, and the names whose
    #: certificate validation records are deleted from its zone first.
    zone_stack: Named | None = None
    validated_names: tuple[str, ...] = ()

    @property
    def empties(self) -> bool:
        """Only destroy mode empties buckets and vaults."""
        return self.removal_mode is RemovalMode.DESTROY


def teardown_plan(config: TapStackConfig) -> TeardownPlan:
    """The stacks, buckets and vaults of ``config`` and what each removal mode does with them."""
    primary = Names(config, config.primary.region)
    secondary = Names(config, config.secondary.region)
    buckets = _buckets(primary, secondary)
    vaults = _vaults(primary, secondary)
    retain = config.is_retain
    stacks = _stacks_in_destroy_order(config, primary, secondary)
    zone_stack = next((s for s in stacks if s.name == stack_name(config, "dns")), None)
    validated = tuple(
        dict.fromkeys(
            name
            for names in (primary, secondary)
            if config.manages_certificate(names.settings)
            for name in (config.dns.fqdn, f"{names.region}.{config.dns.fqdn}")
        )
    )
    return TeardownPlan(
        prefix=config.prefix,
        account=config.account,
        removal_mode=config.removal_mode,
        stacks=stacks,
        buckets=buckets,
        vaults=vaults,
        retained=_retained(config, primary, secondary, buckets, vaults) if retain else (),
        blockers=_retain_blockers(config, primary, secondary) if retain else (),
        zone_stack=None if retain or not validated else zone_stack,
        validated_names=() if retain or zone_stack is None else validated,
    )


def _stacks_in_destroy_order(
    config: TapStackConfig, primary: Names, secondary: Names
) -> tuple[Named, ...]:
    """The app's stacks, last deployed first: the order ``cdk destroy --all`` takes."""
    deploy_order: list[Named] = []
    if config.dns.hosted_zone_id is None:
        deploy_order.append(Named(stack_name(config, "dns"), primary.region, "hosted zone"))
    deploy_order += [
        Named(
            stack_name(config, "secondary-storage"),
            secondary.region,
            "secondary key, buckets and vault",
        ),
    ]
    # The standby's regional stack deploys after the writer's (its replica needs the source).
    regional = [
        Named(stack_name(config, names.slot.value), names.region, f"{names.slot} region")
        for names in (primary, secondary)
    ]
    deploy_order += sorted(regional, key=lambda stack: stack.region != writer_region(config))
    return tuple(reversed(deploy_order))


def _buckets(primary: Names, secondary: Names) -> tuple[Named, ...]:
    """The buckets in emptying order: the replication source before its destination."""
    return (
        Named(primary.data_bucket, primary.region, "primary data bucket (replication source)"),
        Named(
            secondary.data_bucket,
            secondary.region,
            "secondary data bucket (replication destination)",
        ),
        Named(primary.log_bucket, primary.region, "primary access-log bucket"),
        Named(secondary.log_bucket, secondary.region, "secondary access-log bucket"),
    )


def _vaults(primary: Names, secondary: Names) -> tuple[Named, ...]:
    return (
        Named(primary.backup_vault, primary.region, "primary backup vault (copies from here)"),
        Named(secondary.backup_vault, secondary.region, "secondary backup vault (copy target)"),
    )


def _retained(
    config: TapStackConfig,
    primary: Names,
    secondary: Names,
    buckets: Sequence[Named],
    vaults: Sequence[Named],
) -> tuple[Retained, ...]:
    """What CloudFormation leaves behind in retain mode."""
    regions = f"{primary.region} and {secondary.region}"
    writer = Names(config, writer_region(config))
    retained = []
    if config.dns.hosted_zone_id is None:
        retained.append(
            Retained(
                "AWS::Route53::HostedZone",
                f"the hosted zone {config.dns.domain_name} (billed monthly; a redeploy "
                "creates a second zone of the same name)",
            )
        )
    retained += [
        Retained(
            "AWS::S3::Bucket",
            "the buckets with every object version: " + ", ".join(b.name for b in buckets),
        ),
        Retained(
            "AWS::Backup::BackupVault",
            "the backup vaults with their recovery points: " + ", ".join(v.name for v in vaults),
        ),
        Retained(
            "AWS::KMS::Key",
            f"the data keys in {regions} (their alias {primary.kms_alias} is deleted; "
            "the keys stay enabled and billed until you schedule their deletion)",
        ),
        Retained(
            "AWS::Logs::LogGroup",
            f"the log groups in {regions}: VPC flow logs, RDS error and slow-query logs, "
            "the loader's" + (", the WAF's" if config.web.waf_enabled else ""),
        ),
        Retained(
            "AWS::SecretsManager::Secret",
            f"the database master user's secret, with its replica in {secondary.region}",
        ),
        Retained(
            "AWS::RDS::DBInstance",
            f"a final DB snapshot of {writer.db_instance} (RDS takes none of the read "
            f"replica {writer.other.db_instance}) and the writer's automated backups for "
            f"{config.database.backup_retention_days} day(s)",
        ),
    ]
    return tuple(retained)


def _retain_blockers(config: TapStackConfig, primary: Names, secondary: Names) -> tuple[str, ...]:
    """Deletion protection that makes ``cdk destroy`` fail in retain mode."""
    return (
        f"the load balancers and the databases ({primary.db_instance}, "
        f"{secondary.db_instance}) have deletion protection in retain mode: CloudFormation "
        f"cannot delete them, so {stack_name(config, 'secondary')} and "
        f"{stack_name(config, 'primary')} end in DELETE_FAILED. To remove everything, set "
        "removal_mode: destroy, deploy once (make deploy), then run make destroy again.",
    )


def print_plan(plan: TeardownPlan, console: Console) -> None:
    say = _printer(console)
    say(
        f"[bold]Destroying {plan.prefix}[/] in account {plan.account} "
        f"(removal_mode: {plan.removal_mode.value})"
    )
    say(f"Stacks, deleted in this order by cdk {' '.join(CDK_DESTROY_ARGUMENTS)}:")
    for index, stack in enumerate(plan.stacks, 1):
        say(f"  {index}. {stack.name} ({stack.region}): {stack.role}")
    if plan.empties:
        say("First emptied, every object version and delete marker (source before destination):")
        for bucket in plan.buckets:
            say(f"  - {bucket.name} ({bucket.region}): {bucket.role}")
        say("First emptied, every recovery point:")
        for vault in plan.vaults:
            say(f"  - {vault.name} ({vault.region}): {vault.role}")
        if plan.zone_stack is not None:
            say(
                "First deleted from the hosted zone, the certificates' validation records "
                f"of {', '.join(plan.validated_names)}"
            )
        return
    say("removal_mode is retain: nothing is emptied. CloudFormation leaves behind:")
    for item in plan.retained:
        say(f"  - {item.description}")
    for blocker in plan.blockers:
        say(f"[bold yellow]note:[/] {blocker}")


def _printer(console: Console) -> Callable[[str], None]:
    def say(text: str) -> None:
        console.print(text, soft_wrap=True, highlight=False)

    return say


# ---------------------------------------------------------------------------
# What is left
# ---------------------------------------------------------------------------


def _stack_status(cfn: Any, name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if _code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def _bucket_exists(s3: Any, name: str) -> bool:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket"):
            return False
        raise
    return True


def _vault_exists(backup: Any, name: str) -> bool:
    try:
        backup.describe_backup_vault(BackupVaultName=name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def leftovers(plan: TeardownPlan, clients: ClientFactory) -> list[str]:
    """Every stack, bucket and vault of the plan that still exists, described."""
    left = []
    for stack in plan.stacks:
        status = _stack_status(clients("cloudformation", stack.region), stack.name)
        if status is not None:
            left.append(f"stack {stack.name} ({stack.region}): {status}")
    for bucket in plan.buckets:
        if _bucket_exists(clients("s3", bucket.region), bucket.name):
            left.append(f"bucket {bucket.name} ({bucket.region})")
    for vault in plan.vaults:
        if _vault_exists(clients("backup", vault.region), vault.name):
            left.append(f"backup vault {vault.name} ({vault.region})")
    return left


# ---------------------------------------------------------------------------
# destroy
# ---------------------------------------------------------------------------


@dataclass
class DestroyResult:
    """What ``destroy`` did; ``exit_code`` is the command's exit status."""

    exit_code: int
    confirmed: bool = False
    #: Object versions and delete markers deleted, per bucket.
    versions: dict[str, int] = field(default_factory=dict)
    #: Recovery points deleted, per vault.
    recovery_points: dict[str, int] = field(default_factory=dict)
    #: The exit status of every ``cdk destroy`` run, in order.
    cdk_runs: list[int] = field(default_factory=list)
    #: Named resources that still exist at the end.
    left: list[str] = field(default_factory=list)


def destroy(
    config: TapStackConfig,
    *,
    clients: ClientFactory,
    confirm: Prompt | None,
    run_cdk: CdkRunner,
    yes: bool = False,
    console: Console | None = None,
    wait_seconds: float = RECOVERY_POINT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> DestroyResult:
    """Print the plan, ask, empty (destroy mode only), ``cdk destroy``, report what is left.

    ``confirm`` asks the user to type the prefix; ``None`` means there is no terminal to
    ask on, which refuses unless ``yes``. Nothing is touched before the confirmation.
    """
    console = console or Console()
    say = _printer(console)
    plan = teardown_plan(config)
    print_plan(plan, console)
    if not yes and not _confirmed(plan, confirm, say):
        return DestroyResult(EXIT_REFUSED)
    result = DestroyResult(EXIT_OK, confirmed=True)

    def emptied() -> bool:
        """Empty the buckets and vaults; ``False``, once said why, when something stays."""
        try:
            _empty(plan, clients, result, say, wait_seconds=wait_seconds, sleep=sleep)
        except TeardownError as exc:
            say(f"[bold red]error:[/] {exc}")
            return False
        return True

    if plan.empties and not emptied():
        say("cdk destroy was not run: it would fail on what could not be emptied")
        result.exit_code = EXIT_FAILED
        return result
    _cdk_destroy(plan, run_cdk, emptied, result, say)
    _report_leftovers(plan, clients, result, say)
    return result


def _confirmed(plan: TeardownPlan, confirm: Prompt | None, say: Callable[[str], None]) -> bool:
    """Whether the user typed the prefix; ``confirm`` is ``None`` without a terminal."""
    if confirm is None:
        say(
            f"[bold red]error:[/] refusing to destroy {plan.prefix}: stdin is not a terminal "
            "to confirm on; pass --yes (make destroy DESTROY_ARGS=--yes) to destroy "
            "without asking"
        )
        return False
    try:
        answer = confirm(f"Type {plan.prefix} to destroy it: ")
    except (EOFError, KeyboardInterrupt):
        answer = None
    if answer is None or answer.strip() != plan.prefix:
        say(f"[bold red]cancelled:[/] the answer was not {plan.prefix}; nothing was changed")
        return False
    return True


def _cdk_destroy(
    plan: TeardownPlan,
    run_cdk: CdkRunner,
    emptied: Callable[[], bool],
    result: DestroyResult,
    say: Callable[[str], None],
) -> None:
    """Run ``cdk destroy``; in destroy mode, when it fails, empty again and retry once."""
    result.cdk_runs.append(run_cdk(list(CDK_DESTROY_ARGUMENTS)))
    if result.cdk_runs[-1] != 0 and plan.empties:
        # Access logs (of the emptying itself, and the load balancers') arrive minutes late,
        # and replication can still be copying: empty what is left and try once more.
        say("cdk destroy failed; emptying what is left once more and retrying")
        if emptied():
            result.cdk_runs.append(run_cdk(list(CDK_DESTROY_ARGUMENTS)))


def _report_leftovers(
    plan: TeardownPlan, clients: ClientFactory, result: DestroyResult, say: Callable[[str], None]
) -> None:
    """List what still exists and set the exit code: cdk's failure first, then leftovers
    (which only destroy mode counts as a failure)."""
    result.left = leftovers(plan, clients)
    if not result.left:
        say(f"[green]done:[/] nothing named by {plan.prefix} is left")
    elif plan.empties:
        say("[bold red]left behind:[/]")
    else:
        say("left behind, as retain mode intends:")
    for item in result.left:
        say(f"  - {item}")
    if result.cdk_runs[-1] != 0:
        say(f"[bold red]error:[/] cdk destroy failed ({result.cdk_runs[-1]})")
        result.exit_code = result.cdk_runs[-1]
    elif plan.empties and result.left:
        result.exit_code = EXIT_FAILED


def _empty(
    plan: TeardownPlan,
    clients: ClientFactory,
    result: DestroyResult,
    say: Callable[[str], None],
    *,
    wait_seconds: float,
    sleep: Callable[[float], None],
) -> None:
    for bucket in plan.buckets:
        count = empty_bucket(clients("s3", bucket.region), bucket.name)
        result.versions[bucket.name] = result.versions.get(bucket.name, 0) + count
        say(f"emptied {bucket.name} ({bucket.region}): {count} version(s) and delete marker(s)")
    # Replication into a destination and log delivery can add versions after its turn.
    for bucket in plan.buckets:
        late = empty_bucket(clients("s3", bucket.region), bucket.name)
        if late:
            result.versions[bucket.name] += late
            say(
                f"{bucket.name}: {late} more version(s) arrived after emptying (replication "
                "or log delivery) and were deleted"
            )
    for vault in plan.vaults:
        count = delete_recovery_points(
            clients("backup", vault.region), vault.name, wait_seconds=wait_seconds, sleep=sleep
        )
        result.recovery_points[vault.name] = result.recovery_points.get(vault.name, 0) + count
        say(f"emptied {vault.name} ({vault.region}): {count} recovery point(s)")
    if plan.zone_stack is not None:
        stack = plan.zone_stack
        count = delete_validation_records(
            clients("cloudformation", stack.region),
            clients("route53", stack.region),
            stack.name,
            plan.validated_names,
        )
        say(f"deleted {count} certificate validation record(s) from the zone of {stack.name}")


def delete_validation_records(
    cfn_client: Any, route53_client: Any, zone_stack: str, names: Sequence[str]
) -> int:
    """Delete ACM's validation CNAMEs of ``names`` from the zone that ``zone_stack`` outputs
    (``HostedZoneId``); return how many. Nothing to do when the stack is gone. Other
    records, and other names' validation records, stay."""
    try:
        (stack,) = cfn_client.describe_stacks(StackName=zone_stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return 0
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    zone_id = outputs.get(HOSTED_ZONE_ID)
    if zone_id is None:
        return 0
    wanted = {name.lower().rstrip(".") for name in names}
    doomed = []
    for page in route53_client.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id
    ):
        for record in page["ResourceRecordSets"]:
            validated = record["Name"].lower().rstrip(".").split(".", 1)[-1]
            values = [r["Value"].lower() for r in record.get("ResourceRecords", [])]
            if (
                record["Type"] == "CNAME"
                and validated in wanted
                and values
                and all(v.endswith(ACM_VALIDATION_SUFFIX) for v in values)
            ):
                doomed.append({"Action": "DELETE", "ResourceRecordSet": record})
    for start in range(0, len(doomed), DELETE_BATCH):
        route53_client.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": doomed[start : start + DELETE_BATCH]}
        )
    return len(doomed)


def cdk_runner(
    config_path: str | Path,
    *,
    console: Console,
    env: Mapping[str, str] | None = None,
    app: str | Path | None = None,
) -> CdkRunner:
    """Run the project-local CDK CLI (Node 24 first on PATH) on ``config_path``'s app,
    streaming its output; ``app`` uses an already synthesized assembly instead."""
    from tapstack.cdk_cli import project_dir, require_cli, tool_environment
    from tapstack.process import run

    def run_cdk(arguments: Sequence[str]) -> int:
        environment = dict(env) if env is not None else tool_environment()
        environment["TAPSTACK_CONFIG"] = str(Path(config_path).resolve())
        project = project_dir()
        command = [str(require_cli(project)), *arguments, "--no-notices"]
        if app is not None:
            command += ["--app", str(app)]
        completed = run(
            command,
            env=environment,
            cwd=project,
            on_line=lambda line: console.print(line, markup=False, highlight=False),
        )
        return completed.returncode

    return run_cdk

"""The embedded AWS emulator: moto's server mode on 127.0.0.1, owned by the caller.

``Emulator`` starts ``python -m tapstack_lab.emulator`` as a child process (its own process
group), waits until it listens on a free port of 127.0.0.1 and stops it again on exit::

    with Emulator() as emulator:
        env = {**os.environ, **emulator.environment("us-east-1")}
        subprocess.run(["cdk", "deploy", ...], env=env)

Why a child process and not ``ThreadedMotoServer`` in the caller's own process:

* cleanup is certain: the child exits when its standard input closes (the parent died, even
  by SIGKILL); ``stop()`` signals its whole process group. (No ``preexec_fn``: Python code
  between fork and exec is unsafe in a threaded parent such as a pytest session.) Nothing
  survives the command that started it unless it asked for ``detached=True``
  (``tapstack demo --keep``);
* moto's state is global per process: a test elsewhere in the same pytest session that uses
  ``moto.mock_aws`` would reset or intercept the emulator's backends;
* the emulator gets its own interpreter (and GIL) on a second core while the CDK CLI and
  pytest run.

The child serves moto 5.2.5 with small compatibility fixes (``_apply_compat_patches``), so
that the *unchanged* synthesized templates deploy with the real CDK CLI. They change moto in
the emulator process only - never a template - and each exists because the deploy failed, or
came back wrong, without it:

``stack outputs are resolved one by one``
    moto evaluates all outputs of a stack together: one output it cannot resolve (``Fn::GetAtt``
    on a resource type it does not model, such as ``AWS::Backup::BackupVault``) makes
    ``CreateStack`` fail with an HTTP 500, or makes ``DescribeStacks`` drop *every* output of
    the stack. Here such an output is left out on its own; the deployer lists it.
``a failed resource fails the stack, as on CloudFormation``
    moto raises out of ``CreateStack`` when a resource cannot be created and leaves the stack
    ``CREATE_IN_PROGRESS`` forever. Here the stack gets a ``CREATE_FAILED`` event naming the
    resource, its type and the reason, and ends in ``ROLLBACK_COMPLETE``, so the CDK CLI and
    the deployer report the failure the way they do on AWS.
``cross-region read replica with a DB subnet group``
    moto applies ``DBSubnetGroupName`` while the copied replica still belongs to the source
    region, so it looks the group up there (DBSubnetGroupNotFound). Here the group is
    attached once the replica belongs to its own region. Every instance gets its own
    ``DbiResourceId``.
``property shapes``
    ``AWS::KMS::Key`` tags (CloudFormation ``Key``/``Value`` versus the API's ``TagKey``) and
    key policy (an object, not a string); ``AWS::SSM::Parameter`` tags (a map); on
    ``AWS::RDS::DBInstance`` a ``Ref`` to the parameter group (moto passes its object),
    ``VPCSecurityGroups`` (read as ``VpcSecurityGroupIds``), ``EnableIAMDatabaseAuthentication``
    and ``DeletionProtection`` (ignored by moto).
``subnet route table associations``
    ``AWS::EC2::SubnetRouteTableAssociation`` is recorded but not applied, so every subnet
    sat on the main route table, with no route out. Here the route table is associated.
``Fn::GetAtt``
    attributes moto does not answer but knows: ``AWS::RDS::DBInstance``
    ``DbiResourceId``/``DBInstanceArn``, ELBv2 ``CanonicalHostedZoneID``/
    ``LoadBalancerFullName``/``TargetGroupFullName``, ``AWS::Route53::HostedZone``
    ``NameServers``/``Id``. Any other attribute it cannot answer (for example ``Arn`` of an
    ``AWS::CloudWatch::Alarm``, a type moto does not model) resolves to a marked placeholder,
    ``arn:aws:emulator:REGION:ACCOUNT:not-emulated/LOGICAL-ID/ATTRIBUTE``, instead of failing
    the stack.

Every resource that moto skips (no model), every placeholder and every output left out is
written to a JSON Lines journal (``--journal``); the demo lists them. The resource types
that were not emulated are read back from the deployment itself (``tapstack_lab.deploy``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tapstack.process import terminate_process_group

#: moto's default account; the emulator serves the configuration's account when it differs.
DEFAULT_ACCOUNT = "123456789012"
#: Dummy credentials: moto accepts any, and nothing real must ever be used against it.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy for the emulator
    "AWS_SESSION_TOKEN": "testing",
}
_READY = "TAPSTACK-EMULATOR-READY"
#: The moto version the compatibility fixes were written and tested against (pyproject pins it).
TESTED_MOTO = "5.2.5"


class EmulatorError(RuntimeError):
    """The emulator did not start."""


class Emulator:
    """A moto server in a child process, listening on 127.0.0.1 on a free (or given) port."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int = 0,
        account: str = DEFAULT_ACCOUNT,
        workdir: str | os.PathLike[str] | None = None,
        detached: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        """``workdir`` holds the emulator's log and journal (a temporary directory if unset).

        ``detached=True`` lets the emulator outlive this process (``tapstack demo --keep``):
        it no longer watches its standard input or the parent's death; stop it with
        ``kill <pid>`` (printed by the demo).
        """
        self.port = port
        self.account = account
        self.detached = detached
        self.startup_timeout = startup_timeout
        self._workdir = Path(workdir) if workdir is not None else None
        self._own_workdir = False
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ paths
    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the emulator is not started")
        return self._workdir

    @property
    def log_path(self) -> Path:
        return self.workdir / "emulator.log"

    @property
    def journal_path(self) -> Path:
        return self.workdir / "journal.jsonl"

    @property
    def endpoint(self) -> str:
        """The endpoint URL: ``localhost``, not the IP (the CDK CLI's S3 client needs a name)."""
        if not self.port:
            raise RuntimeError("the emulator is not started")
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def environment(self, region: str | None = None) -> dict[str, str]:
        """Environment variables that point AWS SDKs and CLIs (boto3, the CDK CLI) at it."""
        env = {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}
        if region:
            env |= {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
        return env

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("the emulator is already started")
        if self._workdir is None:
            import tempfile

            self._workdir = Path(tempfile.mkdtemp(prefix="tapstack-emulator-"))
            self._own_workdir = not self.detached  # a detached emulator keeps its log
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = [
            sys.executable,
            "-m",
            "tapstack_lab.emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--journal",
            str(self.journal_path),
        ]
        if not self.detached:
            command.append("--exit-on-stdin-eof")
        # The child needs no AWS configuration of ours: no endpoint, no real credentials.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {"MOTO_ACCOUNT_ID": self.account, "PYTHONUNBUFFERED": "1"}
        # The lab is not installed with the product: the child finds it beside the repo root.
        lab_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (lab_root, env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if self.detached else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,  # own process group: Ctrl-C reaches us, we stop it
        )
        try:
            self.port = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        found: list[int] = []

        def read() -> None:
            assert self._process is not None and self._process.stdout is not None
            for raw in self._process.stdout:
                line = raw.decode(errors="replace").strip()
                if line.startswith(_READY):
                    found.append(int(line.split()[1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not found:
            tail = self.log_tail()
            if self._process.poll() is not None:
                raise EmulatorError(f"the emulator exited during startup:\n{tail}")
            raise EmulatorError(
                f"the emulator did not start within {self.startup_timeout:.0f}s:\n{tail}"
            )
        port = found[0]
        self._process.stdout.close()  # the child sends nothing else there
        # The port is bound before READY is printed; one request proves the app answers.
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(  # our own local endpoint
                    f"http://{self.host}:{port}/moto-api/data.json", timeout=5
                ):
                    return port
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the emulator and everything in its process group. Safe to call twice."""
        process, self._process = self._process, None
        try:
            if process is not None:
                terminate_process_group(process)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._own_workdir and self._workdir is not None:
                import shutil

                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def release(self) -> int | None:
        """Forget a *detached* emulator so that ``stop()`` leaves it running; returns its pid."""
        if not self.detached:
            raise RuntimeError("only a detached emulator outlives its owner")
        process, self._process = self._process, None
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.pid if process is not None else None

    # ------------------------------------------------------------- reading
    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except (OSError, RuntimeError):
            return "(no emulator log)"

    def journal(self) -> list[dict[str, Any]]:
        """What the emulator skipped or could not resolve, as it went (see the module doc)."""
        try:
            lines = self.journal_path.read_text().splitlines()
        except (OSError, RuntimeError):
            return []
        return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------------
# The child process: moto with TapStack's compatibility fixes
# ---------------------------------------------------------------------------

_journal_lock = threading.Lock()
_journal_file: Path | None = None
logger = logging.getLogger("tapstack.emulator")


_journaled: set[str] = set()


def _journal(entry: Mapping[str, Any]) -> None:
    """Append ``entry`` once (moto resolves the same resource several times per stack)."""
    if _journal_file is None:
        return
    line = json.dumps(entry, default=str, sort_keys=True)
    with _journal_lock:
        if line in _journaled:
            return
        _journaled.add(line)
        with _journal_file.open("a") as handle:
            handle.write(line + "\n")


def _apply_compat_patches() -> list[str]:
    """Apply the fixes described in the module docstring; returns their names."""
    cfn_models = _module("moto.cloudformation.models")
    parsing = _module("moto.cloudformation.parsing")
    rds_models = _module("moto.rds.models")

    applied: list[str] = []

    # --- resources moto has no model for: journal them -----------------------------------
    original_parse_and_create = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        resource_type = resource_json.get("Type", "")
        try:
            created = original_parse_and_create(
                logical_id, resource_json, resources_map, account_id, region_name
            )
        except Exception as error:
            if not hasattr(error, "_tapstack_resource"):
                error._tapstack_resource = (logical_id, resource_type)  # type: ignore[attr-defined]
            raise
        if created is None and not _condition_false(resource_json, resources_map):
            _journal(
                {
                    "event": "not_modelled",
                    "stack": resources_map["AWS::StackName"],
                    "region": region_name,
                    "logical_id": logical_id,
                    "type": resource_type,
                }
            )
        return created

    parsing.parse_and_create_resource = parse_and_create_resource
    applied.append("journal resources without a model")

    # --- outputs: one at a time ------------------------------------------------------------
    original_parse_output = parsing.parse_output

    def parse_output(output_logical_id: str, output_json: Any, resources_map: Any) -> Any:
        _resolving.output = True  # an output is left out rather than given a placeholder
        try:
            return original_parse_output(output_logical_id, output_json, resources_map)
        except Exception as error:  # any failure leaves this output out
            key = (resources_map["AWS::StackName"], output_logical_id)
            if key not in _reported_outputs:
                _reported_outputs.add(key)
                _journal(
                    {
                        "event": "output_unresolved",
                        "stack": key[0],
                        "output": output_logical_id,
                        "value": output_json.get("Value")
                        if isinstance(output_json, dict)
                        else None,
                        "reason": f"{type(error).__name__}: {error}",
                    }
                )
            return None
        finally:
            _resolving.output = False

    parsing.parse_output = parse_output

    original_validate_outputs = parsing.ResourceMap.validate_outputs

    def validate_outputs(self: Any) -> None:
        # An output that reads an attribute of a resource type moto has no model for makes
        # moto's validation fail; such outputs are left out instead (parse_output above).
        with contextlib.suppress(AttributeError):
            original_validate_outputs(self)

    parsing.ResourceMap.validate_outputs = validate_outputs
    applied.append("resolve stack outputs one by one")

    # --- a resource that fails fails its stack ---------------------------------------------
    original_create_resources = cfn_models.Stack.create_resources

    def create_resources(self: Any) -> None:
        try:
            original_create_resources(self)
        except Exception as error:  # reported as CloudFormation would
            logical_id, resource_type = getattr(error, "_tapstack_resource", ("", ""))
            reason = _error_text(error)
            logger.warning(
                "stack %s: %s (%s) failed: %s", self.name, logical_id, resource_type, reason
            )
            self.events.append(
                cfn_models.Event(
                    stack_id=self.stack_id,
                    stack_name=self.name,
                    logical_resource_id=logical_id or self.name,
                    physical_resource_id="",
                    resource_type=resource_type or "AWS::CloudFormation::Stack",
                    resource_status="CREATE_FAILED",
                    resource_status_reason=reason,
                    resource_properties=None,
                )
            )
            _journal(
                {
                    "event": "resource_failed",
                    "stack": self.name,
                    "region": self.region_name,
                    "logical_id": logical_id,
                    "type": resource_type,
                    "reason": reason,
                }
            )
            self.status = "ROLLBACK_COMPLETE"
            self._add_stack_event(
                "ROLLBACK_IN_PROGRESS",
                resource_status_reason=f"The following resource(s) failed to create: "
                f"[{logical_id}]. Rollback requested by user.",
            )
            self._add_stack_event("ROLLBACK_COMPLETE")

    cfn_models.Stack.create_resources = create_resources
    applied.append("a failed resource fails its stack")

    # --- cross-region read replica with a DB subnet group ----------------------------------
    original_replica = rds_models.RDSBackend.create_db_instance_read_replica

    def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        source = str(db_kwargs.get("source_db_instance_identifier") or "")
        subnet_group = db_kwargs.get("db_subnet_group_name")
        source_region = source.split(":")[3] if source.startswith("arn:") else self.region_name
        if not subnet_group or source_region == self.region_name:
            return original_replica(self, db_kwargs)
        replica = original_replica(
            self, {k: v for k, v in db_kwargs.items() if k != "db_subnet_group_name"}
        )
        replica.db_subnet_group_name = subnet_group  # looked up in the replica's own region
        return replica

    rds_models.RDSBackend.create_db_instance_read_replica = create_db_instance_read_replica
    applied.append("cross-region read replica with a DB subnet group")

    # --- CloudFormation property shapes moto reads wrongly ----------------------------------
    kms_models = _module("moto.kms.models")
    ssm_models = _module("moto.ssm.models")

    def kms_key(properties: dict[str, Any]) -> None:
        # Tags are [{Key, Value}] in CloudFormation, [{TagKey, TagValue}] in the KMS API;
        # KeyPolicy is a JSON object in the template, a string in the API.
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
            for tag in properties.get("Tags") or []
        ]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])

    def ssm_parameter(properties: dict[str, Any]) -> None:
        # AWS::SSM::Parameter's Tags is a map, not a list.
        tags = properties.get("Tags")
        if isinstance(tags, dict):
            properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]

    def rds_instance(properties: dict[str, Any]) -> None:
        # A Ref to an AWS::RDS::DBParameterGroup resolves to moto's object, not its name;
        # the template's VPCSecurityGroups is read by moto as VpcSecurityGroupIds.
        group = properties.get("DBParameterGroupName")
        if group is not None and not isinstance(group, str):
            properties["DBParameterGroupName"] = getattr(group, "name", str(group))
        if "VPCSecurityGroups" in properties and "VpcSecurityGroupIds" not in properties:
            properties["VpcSecurityGroupIds"] = properties["VPCSecurityGroups"]

    _transform_cfn_properties(kms_models.Key, kms_key)
    _transform_cfn_properties(ssm_models.Parameter, ssm_parameter)
    _transform_cfn_properties(rds_models.DBInstance, rds_instance)
    applied.append("KMS key, SSM parameter and RDS instance property shapes")

    # --- RDS instance properties moto's CloudFormation model ignores -----------------------
    def finish_db_instance(
        database: Any, properties: Mapping[str, Any], account_id: str, region_name: str
    ) -> None:
        # Read from the template, ignored by moto's CloudFormation model:
        database.enable_iam_database_authentication = bool(
            properties.get("EnableIAMDatabaseAuthentication", False)
        )
        database.deletion_protection = bool(properties.get("DeletionProtection", False))
        # moto gives every instance the same DbiResourceId; make it unique, as on AWS.
        database.dbi_resource_id = (
            "db-" + hashlib.sha256(database.arn.encode()).hexdigest()[:26].upper()
        )

    _after_cfn_create(rds_models.DBInstance, finish_db_instance)
    applied.append("RDS instance IAM authentication, deletion protection, DbiResourceId")

    # --- AWS::EC2::SubnetRouteTableAssociation: really associate ------------------------
    # moto records the association on the side but leaves the route table unassociated, so
    # DescribeRouteTables shows every subnet on the main table (no route out).
    ec2_backends = _module("moto.ec2.models").ec2_backends
    ec2_subnets = _module("moto.ec2.models.subnets")

    def finish_association(
        association: Any, properties: Mapping[str, Any], account_id: str, region_name: str
    ) -> None:
        ec2_backends[account_id][region_name].associate_route_table(
            association.route_table_id, subnet_id=association.subnet_id
        )

    _after_cfn_create(ec2_subnets.SubnetRouteTableAssociation, finish_association)
    applied.append("subnet route table associations")

    # --- Fn::GetAtt attributes moto does not answer ----------------------------------------
    elbv2_models = _module("moto.elbv2.models")
    route53_models = _module("moto.route53.models")

    def full_name(arn: str, marker: str, prefix: str = "") -> str:
        # ...:loadbalancer/app/NAME/ID -> app/NAME/ID; ...:targetgroup/NAME/ID -> the same
        return prefix + arn.split(marker, 1)[1] if marker in arn else arn

    _add_cfn_attributes(
        rds_models.DBInstance,
        {
            "DbiResourceId": lambda db: db.dbi_resource_id,
            "DBInstanceArn": lambda db: db.arn,
        },
    )
    _add_cfn_attributes(
        elbv2_models.FakeLoadBalancer,
        {
            "CanonicalHostedZoneID": lambda lb: lb.canonical_hosted_zone_id,
            "LoadBalancerFullName": lambda lb: full_name(lb.arn, ":loadbalancer/"),
            "LoadBalancerArn": lambda lb: lb.arn,
            "SecurityGroups": lambda lb: list(lb.security_groups or []),
        },
    )
    _add_cfn_attributes(
        elbv2_models.FakeTargetGroup,
        {
            "TargetGroupFullName": lambda tg: full_name(tg.arn, ":targetgroup/", "targetgroup/"),
            "TargetGroupName": lambda tg: tg.name,
            "TargetGroupArn": lambda tg: tg.arn,
            "LoadBalancerArns": lambda tg: list(getattr(tg, "load_balancer_arns", []) or []),
        },
    )
    _add_cfn_attributes(
        route53_models.FakeZone,
        {
            "Id": lambda zone: zone.resource_id,
            "NameServers": lambda zone: _zone_name_servers(zone),
        },
    )
    applied.append("Fn::GetAtt attributes for RDS, ELBv2 and Route 53")

    # --- any other Fn::GetAtt moto cannot answer: a marked placeholder, journaled ----------
    original_clean_json = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if not (
            isinstance(resource_json, dict)
            and "Fn::GetAtt" in resource_json
            and len(resource_json) == 1
        ):
            return original_clean_json(resource_json, resources_map)
        in_output = getattr(_resolving, "output", False)
        try:
            value = original_clean_json(resource_json, resources_map)
        except Exception as error:  # unsupported attribute or resource
            if in_output:
                raise
            return _placeholder(resource_json["Fn::GetAtt"], resources_map, error)
        if isinstance(value, dict) and "Fn::GetAtt" in value:  # moto gave up silently
            if in_output:
                raise ValueError(f"Fn::GetAtt {value['Fn::GetAtt']} is not implemented by moto")
            return _placeholder(resource_json["Fn::GetAtt"], resources_map, None)
        return value

    parsing.clean_json = clean_json
    applied.append("placeholder for other unsupported Fn::GetAtt")
    return applied


_resolving = threading.local()


def _placeholder(get_att: Any, resources_map: Any, error: BaseException | None) -> str:
    logical_id, attribute = (list(get_att) + ["", ""])[:2]
    if isinstance(get_att, str):
        logical_id, _, attribute = get_att.partition(".")
    resource_type = (resources_map._resource_json_map.get(logical_id) or {}).get("Type", "?")
    _journal(
        {
            "event": "attribute_not_emulated",
            "stack": resources_map["AWS::StackName"],
            "region": resources_map._region_name,
            "logical_id": logical_id,
            "type": resource_type,
            "attribute": attribute,
            "reason": _error_text(error) if error is not None else "not implemented by moto",
        }
    )
    return (
        f"arn:aws:emulator:{resources_map._region_name}:{resources_map._account_id}:"
        f"not-emulated/{logical_id}/{attribute}"
    )


def _zone_name_servers(zone: Any) -> list[str]:
    for record in getattr(zone, "rrsets", []):
        apex = record.name.rstrip(".") == zone.name.rstrip(".")
        if getattr(record, "type", None) == "NS" and apex:
            return [r.get("Value", "") if isinstance(r, dict) else str(r) for r in record.records]
    return []


def _add_cfn_attributes(model: Any, attributes: Mapping[str, Any]) -> None:
    """Answer ``Fn::GetAtt`` for ``attributes`` (name -> function of the resource) on
    ``model``, deferring to moto for every other attribute."""
    original_get = getattr(model, "get_cfn_attribute", None)
    original_has = model.has_cfn_attr.__func__

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name in attributes:
            return attributes[attribute_name](self)
        if original_get is None:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            raise UnformattedGetAttTemplateException()
        return original_get(self, attribute_name)

    def has_cfn_attr(cls: Any, attr: str) -> bool:
        return attr in attributes or original_has(cls, attr)

    model.get_cfn_attribute = get_cfn_attribute
    model.has_cfn_attr = classmethod(has_cfn_attr)


_reported_outputs: set[tuple[str, str]] = set()


def _module(name: str) -> Any:
    """A moto module, typed ``Any``: the fixes replace functions on it."""
    import importlib

    return importlib.import_module(name)


def _transform_cfn_properties(model: Any, transform: Any) -> None:
    """Wrap ``model.create_from_cloudformation_json`` so that ``transform`` first rewrites a
    copy of the resource's properties in place."""
    original = model.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        transform(properties)
        patched = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, patched, account_id, region_name, **kwargs)

    model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _after_cfn_create(model: Any, finish: Any) -> None:
    """Wrap ``model.create_from_cloudformation_json`` so that ``finish(resource, properties,
    account_id, region_name)`` completes what moto's model leaves out of a created resource
    (``properties`` as the template gave them)."""
    original = model.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = original(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        finish(resource, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return resource

    model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _condition_false(resource_json: Mapping[str, Any], resources_map: Any) -> bool:
    condition = resource_json.get("Condition")
    return bool(condition) and not resources_map.lazy_condition_map[condition]


def _error_text(error: BaseException) -> str:
    # moto's RESTError keeps the AWS message in .message; others use str().
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "error_type", None)
    return f"{code}: {message}" if code else f"{type(error).__name__}: {message}"


def serve(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tapstack_lab.emulator",
        description="Serve the TapStack emulator (moto) until stopped.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--journal", type=Path, help="JSON Lines file of skipped resources")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (the parent died or stopped us)",
    )
    args = parser.parse_args(argv)

    global _journal_file
    _journal_file = args.journal
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Quiet the request log; keep moto's own warnings (unsupported types) in the log file.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from importlib import metadata

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    version = metadata.version("moto")
    if version != TESTED_MOTO:
        logger.warning(
            "moto %s: the compatibility fixes were written against moto %s", version, TESTED_MOTO
        )
    applied = _apply_compat_patches()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    print(f"{_READY} {port}", flush=True)
    # Nobody reads our stdout after this line (a detached emulator's reader is gone): send
    # anything printed later to stderr, the log file, instead of a closed pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logger.warning("listening on %s:%s; compatibility fixes: %s", args.host, port, applied)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            with contextlib.suppress(OSError, ValueError):
                while sys.stdin.buffer.read(4096):
                    pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(1.0):
        pass
    # A daemon thread serves requests: leaving the process ends it. server.stop() could
    # block on a request in flight, and nothing needs to be flushed.
    return 0


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[Emulator]:
    """``with running() as emulator:`` - shorthand for ``with Emulator(**kwargs)``."""
    with Emulator(**kwargs) as emulator:
        yield emulator


if __name__ == "__main__":
    raise SystemExit(serve())

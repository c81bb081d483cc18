"""Rules real AWS enforces and the embedded emulator does not, checked on every template.

The emulator proves wiring and order; it accepts names, combinations and policies that
CloudFormation, IAM, KMS, RDS, S3 and Route 53 refuse. Each test here encodes one such rule,
cites where AWS states it, and runs on every synthesized shape: the default configuration,
the variant (destroy mode, a brought certificate, an existing zone), a second environment,
the longest names the configuration accepts, the writer moved to the secondary region, and
HTTPS switched off. A rule that only a real deploy can prove is listed in the README's
real-AWS section instead.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tapstack.physical_names import PhysicalName, physical_names
from tapstack.storage.contract import replicates_back
from tests.support import Synthesized

SHAPES = (
    "synth",
    "synth_variant",
    "synth_second_environment",
    "synth_longest_names",
    "synth_writer_secondary",
    "synth_http_only",
)


@pytest.fixture(params=SHAPES)
def app(request: pytest.FixtureRequest) -> Synthesized:
    synthesized: Synthesized = request.getfixturevalue(request.param)
    return synthesized


def _resources(app: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind, template in app.templates.items():
        for logical_id, resource in template["Resources"].items():
            yield kind, logical_id, resource


def _names(app: Synthesized) -> list[tuple[str, PhysicalName]]:
    """(region, name) for every explicit physical name of the app."""
    found = []
    for stack in app.built.stacks:
        kind = stack.stack_name.removeprefix(f"{app.built.primary.config.prefix}-")
        for name in physical_names(app.templates[kind], account=stack.account, region=stack.region):
            found.append((stack.region, name))
    return found


# --- CloudFormation ------------------------------------------------------------------------


def test_nothing_is_retained_when_its_own_create_rolls_back(app: Synthesized) -> None:
    """CloudFormation honours ``DeletionPolicy: Retain`` even when the create itself rolls
    back, so a failed first deploy leaves named resources behind and every retry fails with
    "already exists"; ``RetainExceptOnCreate`` deletes them (CloudFormation User Guide,
    "DeletionPolicy attribute")."""
    # UpdateReplacePolicy Retain stays allowed: it keeps the old resource of a replacement,
    # which a failed create never has.
    for kind, logical_id, resource in _resources(app):
        assert resource.get("DeletionPolicy") != "Retain", (kind, logical_id)


def test_destroy_mode_keeps_nothing(synth_variant: Synthesized) -> None:
    """removal_mode destroy: every resource goes with its stack (a redeploy must not meet
    a retained log group, bucket, vault, key alias or secret)."""
    kept = [
        (kind, logical_id, resource["DeletionPolicy"])
        for kind, logical_id, resource in _resources(synth_variant)
        if resource.get("DeletionPolicy") not in (None, "Delete")
    ]
    assert kept == []


def test_templates_fit_cloudformation_quotas(app: Synthesized) -> None:
    """CloudFormation quotas: 500 resources, 200 outputs and 200 parameters per template,
    1 MB for a template uploaded to S3, 1,024 characters of description (CloudFormation
    User Guide, "CloudFormation quotas")."""
    for kind, template in app.templates.items():
        assert len(template["Resources"]) <= 500, kind
        assert len(template.get("Outputs", {})) <= 200, kind
        assert len(template.get("Parameters", {})) <= 200, kind
        assert len(json.dumps(template)) <= 1_000_000, kind
        assert len(template.get("Description", "")) <= 1024, kind


# --- RDS -------------------------------------------------------------------------------------


def test_no_replicated_mysql_source_has_an_rds_managed_master_password(app: Synthesized) -> None:
    """ "Creating read replicas for source instance with engine mysql where
    ManageMasterUserPassword is enabled is not supported" (RDS User Guide, limitations of
    the Secrets Manager integration)."""
    for kind, logical_id, resource in _resources(app):
        if resource["Type"] == "AWS::RDS::DBInstance":
            assert "ManageMasterUserPassword" not in resource["Properties"], (kind, logical_id)


def test_the_cross_region_replica_is_created_the_way_rds_accepts(app: Synthesized) -> None:
    """A cross-region replica names its source by ARN, takes a KMS key of its own region
    for an encrypted source, and sets no StorageEncrypted (RDS User Guide, "Creating a read
    replica in a different AWS Region"; cfn-lint E3020)."""
    writer, standby = app.built.writer, app.built.standby
    kind = {app.built.primary: "primary", app.built.secondary: "secondary"}
    replica = app.one(kind[standby], "AWS::RDS::DBInstance")["Properties"]
    source = replica["SourceDBInstanceIdentifier"]
    assert source == writer.names.db_instance_arn
    assert source.startswith(f"arn:aws:rds:{writer.region}:{writer.account}:db:")
    assert "StorageEncrypted" not in replica
    assert "KmsKeyId" in replica
    source_props = app.one(kind[writer], "AWS::RDS::DBInstance")["Properties"]
    assert "SourceDBInstanceIdentifier" not in source_props
    assert source_props["BackupRetentionPeriod"] >= 1, "a replica's source must keep backups"


def test_every_instance_pins_its_version_and_its_parameter_family_matches_it(
    app: Synthesized,
) -> None:
    """RDS refuses a parameter group whose family is not the instance's engine version
    ("Use a parameter group with DBParameterGroupFamily mysql8.4"); and a replica that
    inherits its version could end up older than its source after an upgrade, which MySQL
    replication does not support (MySQL manual, "Replication Compatibility Between MySQL
    Versions")."""
    for kind in ("primary", "secondary"):
        db = app.one(kind, "AWS::RDS::DBInstance")["Properties"]
        family = app.one(kind, "AWS::RDS::DBParameterGroup")["Properties"]["Family"]
        version = db["EngineVersion"]
        assert re.fullmatch(r"8\.(0|4)\.\d+", version), (kind, version)
        assert family == "mysql" + ".".join(version.split(".")[:2]), (kind, family)


# --- Route 53 --------------------------------------------------------------------------------


def test_records_name_their_zone_by_id(app: Synthesized) -> None:
    """CloudFormation refuses a record set named by HostedZoneName once more than one
    hosted zone has that name (AWS::Route53::RecordSet, HostedZoneName)."""
    for kind, logical_id, resource in _resources(app):
        if resource["Type"] in ("AWS::Route53::RecordSet", "AWS::Route53::RecordSetGroup"):
            assert "HostedZoneName" not in resource["Properties"], (kind, logical_id)
            assert "HostedZoneId" in resource["Properties"], (kind, logical_id)


def test_alias_records_evaluate_target_health_and_carry_no_ttl(app: Synthesized) -> None:
    """Alias records take no TTL, and failover aliases need EvaluateTargetHealth set
    (Route 53 Developer Guide, "Values for alias records")."""
    for kind, logical_id, resource in _resources(app):
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Route53::RecordSet" and "AliasTarget" in props:
            assert "TTL" not in props, (kind, logical_id)
            assert "ResourceRecords" not in props, (kind, logical_id)
            assert isinstance(props["AliasTarget"].get("EvaluateTargetHealth"), bool)


def test_health_checks_use_values_route53_accepts(app: Synthesized) -> None:
    """RequestInterval is 10 or 30 and FailureThreshold 1-10 (Route 53 API,
    HealthCheckConfig); a fully qualified name fits 255 characters."""
    for _kind, _logical_id, resource in _resources(app):
        if resource["Type"] != "AWS::Route53::HealthCheck":
            continue
        config = resource["Properties"]["HealthCheckConfig"]
        assert config["RequestInterval"] in (10, 30)
        assert 1 <= config["FailureThreshold"] <= 10
        fqdn = config["FullyQualifiedDomainName"]
        assert not isinstance(fqdn, str) or len(fqdn) <= 253


def test_record_names_fit_dns(app: Synthesized) -> None:
    """A DNS name has at most 253 characters and labels of at most 63 (RFC 1035)."""
    for _kind, _logical_id, resource in _resources(app):
        if resource["Type"] == "AWS::Route53::RecordSet":
            name = resource["Properties"]["Name"].rstrip(".")
            assert len(name) <= 253, name
            assert all(1 <= len(label) <= 63 for label in name.split(".")), name


# --- ACM and the load balancers' listeners ---------------------------------------------------


def _stack_regions(app: Synthesized) -> dict[str, str]:
    prefix = f"{app.built.primary.config.prefix}-"
    return {stack.stack_name.removeprefix(prefix): stack.region for stack in app.built.stacks}


def test_certificates_are_requested_the_way_acm_issues_them(app: Synthesized) -> None:
    """The first name (common name) has at most 64 characters, every name at most 253
    (https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html); DNS
    validation with one DomainValidationOption per name, each naming the hosted zone, so that
    CloudFormation writes the validation records itself
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-certificatemanager-certificate-domainvalidationoption.html)."""
    for kind, logical_id, resource in _resources(app):
        if resource["Type"] != "AWS::CertificateManager::Certificate":
            continue
        props = resource["Properties"]
        names = [props["DomainName"], *props.get("SubjectAlternativeNames", [])]
        assert len(props["DomainName"]) <= 64, (kind, logical_id)
        assert all(len(name) <= 253 for name in names), (kind, logical_id)
        assert props["ValidationMethod"] == "DNS"
        options = props["DomainValidationOptions"]
        assert sorted(o["DomainName"] for o in options) == sorted(names), (kind, logical_id)
        assert all("HostedZoneId" in o for o in options), (kind, logical_id)


def test_every_https_listener_serves_a_certificate_of_its_own_region(app: Synthesized) -> None:
    """ACM certificates are regional: a load balancer serves only one of its own region
    (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html). A listener names its
    stack's own certificate, or a brought one whose ARN is of the stack's region."""
    regions = _stack_regions(app)
    for kind, logical_id, resource in _resources(app):
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::Listener":
            continue
        if props["Protocol"] != "HTTPS":
            assert "Certificates" not in props, (kind, logical_id)
            continue
        for certificate in props["Certificates"]:
            arn = certificate["CertificateArn"]
            if isinstance(arn, str):
                assert arn.split(":")[3] == regions[kind], (kind, logical_id, arn)
            else:
                own = app.templates[kind]["Resources"][arn["Ref"]]
                assert own["Type"] == "AWS::CertificateManager::Certificate", (kind, logical_id)


# --- IAM, KMS, Secrets Manager ----------------------------------------------------------------


def _statements(app: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind, logical_id, resource in _resources(app):
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props.get("PolicyDocument", {}))
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document.get("Statement", []):
                yield kind, logical_id, statement


def test_iam_never_grants_on_a_kms_alias_arn(app: Synthesized) -> None:
    """A policy that names a KMS key by its alias ARN grants nothing: "you cannot specify
    an alias ARN in the Resource element of a policy" for key operations (KMS Developer
    Guide, "Using aliases to control access to KMS keys")."""
    for kind, logical_id, statement in _statements(app):
        if not any(str(a).startswith("kms:") for a in _list(statement.get("Action"))):
            continue
        for resource in _list(statement.get("Resource")):
            assert ":alias/" not in json.dumps(resource), (kind, logical_id, resource)


def test_a_secret_replica_is_encrypted_with_a_key_of_its_own_region(app: Synthesized) -> None:
    """Secrets Manager encrypts a replica with a key in the replica's Region
    (AWS::SecretsManager::Secret ReplicaRegion KmsKeyId)."""
    for _kind, _logical_id, resource in _resources(app):
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        for replica in resource["Properties"].get("ReplicaRegions", []):
            assert f":kms:{replica['Region']}:" in replica["KmsKeyId"], replica


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- Lambda -----------------------------------------------------------------------------------


def test_lambda_reserves_no_concurrency_by_default(synth: Synthesized) -> None:
    """New accounts have a concurrency limit of 10, all of which must stay unreserved:
    any reservation fails ("decreases account's UnreservedConcurrentExecution below its
    minimum value of [10]"; Lambda Developer Guide, "Configuring reserved concurrency")."""
    for _kind, _logical_id, resource in _resources(synth):
        if resource["Type"] == "AWS::Lambda::Function":
            assert "ReservedConcurrentExecutions" not in resource["Properties"]


# --- S3 ------------------------------------------------------------------------------------


def test_buckets_use_no_acls_and_replicate_kms_objects_with_a_replica_key(
    app: Synthesized,
) -> None:
    """Buckets with ObjectOwnership BucketOwnerEnforced refuse ACLs ("The bucket does not
    allow ACLs"); replicating SSE-KMS objects needs SseKmsEncryptedObjects enabled and a
    ReplicaKmsKeyID (S3 User Guide, "Replicating objects created with server-side
    encryption")."""
    for kind, logical_id, resource in _resources(app):
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        props = resource["Properties"]
        assert "AccessControl" not in props, (kind, logical_id)
        for rule in props.get("ReplicationConfiguration", {}).get("Rules", []):
            criteria = rule["SourceSelectionCriteria"]["SseKmsEncryptedObjects"]
            assert criteria["Status"] == "Enabled"
            assert rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"]


def _deployed_before(app: Synthesized, kind: str) -> set[str]:
    """The stacks that deploy before ``kind``: its dependencies in the cloud assembly."""
    prefix = f"{app.built.primary.config.prefix}-"
    artifacts = app.manifest["artifacts"]
    found: set[str] = set()
    pending = [f"{prefix}{kind}"]
    while pending:
        for dependency in artifacts[pending.pop()].get("dependencies", []):
            if dependency.startswith(prefix) and dependency not in found:
                found.add(dependency)
                pending.append(dependency)
    return {
        name.removeprefix(prefix) for name in found if name.removeprefix(prefix) in app.templates
    }


def test_a_replication_rule_names_a_versioned_bucket_that_exists_when_it_is_set(
    app: Synthesized,
) -> None:
    """S3 checks the destination when a replication configuration is set and refuses a bucket
    that does not exist or is not versioned (PutBucketReplication: "InvalidRequest:
    Destination bucket must have versioning enabled"; S3 User Guide, "Requirements and
    considerations for replication": both buckets versioned). So a rule names a bucket of a
    stack that deploys earlier, except once the writer has moved: that environment exists
    already (its first deploy created both buckets), and no new environment starts from such
    a configuration (``writer_region``: "A new environment starts with the writer in the
    primary region"). Then the secondary's bucket replicates back: two-way replication, which
    does not loop because S3 does not replicate replicas ("What does Amazon S3 replicate?")."""
    config = app.built.primary.config
    buckets: dict[str, tuple[str, bool]] = {}
    for kind, _, resource in _resources(app):
        if resource["Type"] == "AWS::S3::Bucket":
            props = resource["Properties"]
            versioned = props.get("VersioningConfiguration", {}).get("Status") == "Enabled"
            buckets[props["BucketName"]] = (kind, versioned)
    rules = 0
    for kind, logical_id, resource in _resources(app):
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        for rule in resource["Properties"].get("ReplicationConfiguration", {}).get("Rules", []):
            rules += 1
            owner, versioned = buckets[rule["Destination"]["Bucket"].removeprefix("arn:aws:s3:::")]
            assert versioned, (kind, logical_id)
            if owner not in _deployed_before(app, kind):
                assert replicates_back(config), f"{kind}/{logical_id} -> a bucket of {owner}"
    assert rules == (2 if replicates_back(config) else 1)


def test_batch_replication_roles_serve_a_bucket_with_a_replication_rule(app: Synthesized) -> None:
    """Batch Replication replicates through the source bucket's replication configuration
    ("Replicating existing objects with Batch Replication", S3 User Guide): the role that
    Batch Operations assumes ("batchoperations.s3.amazonaws.com", "Granting permissions for
    Batch Operations") may initiate replication only on a bucket of its stack that has one."""
    found = 0
    for kind, template in app.templates.items():
        resources = template["Resources"]
        replicating = {
            f"arn:aws:s3:::{r['Properties']['BucketName']}/*"
            for r in resources.values()
            if r["Type"] == "AWS::S3::Bucket" and "ReplicationConfiguration" in r["Properties"]
        }
        roles = {
            logical_id
            for logical_id, r in resources.items()
            if r["Type"] == "AWS::IAM::Role"
            and "batchoperations.s3.amazonaws.com" in json.dumps(r["Properties"])
        }
        for policy in resources.values():
            if policy["Type"] != "AWS::IAM::Policy":
                continue
            if {ref["Ref"] for ref in policy["Properties"]["Roles"]} & roles:
                found += 1
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if "s3:InitiateReplication" in statement["Action"]:
                        assert statement["Resource"] in replicating, (kind, statement)
    assert found == (2 if replicates_back(app.built.primary.config) else 1)


# --- names ---------------------------------------------------------------------------------

#: Each service's rule for a name: (pattern, where AWS states it).
NAME_RULES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": (
        r"(?!xn--)(?!.*\.\.)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "S3 User Guide, bucket naming rules",
    ),
    "AWS::RDS::DBInstance": (
        r"(?!.*--)[a-z][a-z0-9-]{0,62}(?<!-)",
        "RDS API, DBInstanceIdentifier",
    ),
    "AWS::Logs::LogGroup": (r"[\.\-_/#A-Za-z0-9]{1,512}", "CloudWatch Logs API, CreateLogGroup"),
    "AWS::Lambda::Function": (r"[a-zA-Z0-9_-]{1,64}", "Lambda API, FunctionName"),
    "AWS::SQS::Queue": (r"[a-zA-Z0-9_-]{1,80}", "SQS API, CreateQueue"),
    "AWS::SNS::Topic": (r"[a-zA-Z0-9_-]{1,256}", "SNS API, CreateTopic"),
    "AWS::KMS::Alias": (r"alias/(?!aws/)[a-zA-Z0-9/_-]{1,250}", "KMS API, CreateAlias"),
    "AWS::Backup::BackupVault": (r"[a-zA-Z0-9_-]{2,50}", "AWS Backup API, CreateBackupVault"),
    "AWS::Backup::BackupPlan": (r"[a-zA-Z0-9_.-]{1,50}", "AWS Backup API, BackupPlanName"),
    "AWS::SecretsManager::Secret": (r"[a-zA-Z0-9/_+=.@-]{1,512}", "Secrets Manager, Name"),
    "AWS::SSM::Parameter": (r"[a-zA-Z0-9_.\-/]{1,1011}", "SSM API, PutParameter"),
    "AWS::CloudWatch::Alarm": (r"[^\x00-\x1f]{1,255}", "CloudWatch API, PutMetricAlarm"),
    "AWS::CloudWatch::Dashboard": (r"[A-Za-z0-9_-]{1,255}", "CloudWatch API, PutDashboard"),
    "AWS::WAFv2::WebACL": (r"[\w-]{1,128}", "WAF API, CreateWebACL"),
    "AWS::Events::Rule": (r"[\.\-_A-Za-z0-9]{1,64}", "EventBridge API, PutRule"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (r"(?!internal-)[a-zA-Z0-9-]{1,32}", "ELB"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (r"[a-zA-Z0-9-]{1,32}", "ELB API"),
    "AWS::IAM::Role": (r"[\w+=,.@-]{1,64}", "IAM API, CreateRole"),
}


def test_every_physical_name_fits_its_services_rules(app: Synthesized) -> None:
    names = _names(app)
    assert names, "the app names resources explicitly; the extractor found none"
    unchecked = {n.resource_type for _, n in names} - set(NAME_RULES)
    assert unchecked == set(), "add the naming rule of these types to NAME_RULES"
    for _region, name in names:
        pattern, source = NAME_RULES[name.resource_type]
        assert re.fullmatch(pattern, name.name), f"{name.name!r} breaks {source}"


def test_waf_log_groups_carry_the_prefix_waf_requires(app: Synthesized) -> None:
    """WAF logs only to log groups whose names start with aws-waf-logs- (WAF Developer
    Guide, "Sending web ACL traffic logs to CloudWatch Logs")."""
    targets = [
        resource["Properties"]["LogDestinationConfigs"]
        for _, _, resource in _resources(app)
        if resource["Type"] == "AWS::WAFv2::LoggingConfiguration"
    ]
    for destinations in targets:
        assert all(":log-group:aws-waf-logs-" in json.dumps(d) for d in destinations)


def test_no_two_resources_of_the_app_share_a_name(app: Synthesized) -> None:
    """Names are unique per account and Region (per partition for buckets, per account
    for IAM and dashboards): a clash fails the second create with "already exists"."""
    keys = Counter(
        (n.resource_type, n.name, "*" if n.is_global else region) for region, n in _names(app)
    )
    assert [key for key, count in keys.items() if count > 1] == []


def test_a_second_environment_shares_no_physical_name_with_the_first(
    synth: Synthesized, synth_second_environment: Synthesized
) -> None:
    """Two environments of one project in one account must deploy side by side: every
    physical name carries the project and the environment."""
    first = {(n.resource_type, n.name) for _, n in _names(synth)}
    second = {(n.resource_type, n.name) for _, n in _names(synth_second_environment)}
    assert len(first) > 30 and len(second) == len(first)
    assert first & second == set()

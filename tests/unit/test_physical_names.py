"""Every explicit physical name comes out of the synthesized templates, resolved, with its
scope; names known only at deploy time are left out."""

from __future__ import annotations

from typing import Any

import pytest

from tapstack.config import parse_config
from tapstack.naming import Names
from tapstack.physical_names import (
    NAME_PROPERTIES,
    PhysicalName,
    Scope,
    physical_names,
    resolve,
)
from tests.support import Synthesized, default_config_data

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def names(synth: Synthesized) -> dict[str, list[PhysicalName]]:
    regions = {"dns": "us-east-1", "primary": "us-east-1"}
    return {
        kind: physical_names(
            template, account=ACCOUNT, region=regions.get(kind, "us-west-2"), stack_name=kind
        )
        for kind, template in synth.templates.items()
    }


def by_name(found: list[PhysicalName]) -> dict[str, PhysicalName]:
    return {n.name: n for n in found}


def test_the_data_buckets_are_global_names_of_their_stacks(names) -> None:
    config = parse_config(default_config_data())
    primary = by_name(names["primary"])[Names(config, "us-east-1").data_bucket]
    secondary = by_name(names["secondary-storage"])[Names(config, "us-west-2").data_bucket]
    for found in (primary, secondary):
        assert found.resource_type == "AWS::S3::Bucket"
        assert found.property == "BucketName"
        assert found.scope is Scope.GLOBAL and found.is_global
    assert primary.name == "tapstack-prod-data-123456789012-us-east-1"
    assert primary.logical_id.startswith("StorageDataBucket")


def test_regional_names_of_the_primary_stack(names) -> None:
    config = parse_config(default_config_data())
    region = Names(config, "us-east-1")
    found = by_name(names["primary"])
    expected = {
        region.loader_function: ("AWS::Lambda::Function", "FunctionName"),
        f"/aws/lambda/{region.loader_function}": ("AWS::Logs::LogGroup", "LogGroupName"),
        region.alarm_topic: ("AWS::SNS::Topic", "TopicName"),
        f"{region.loader_function}-dlq": ("AWS::SQS::Queue", "QueueName"),
        region.kms_alias: ("AWS::KMS::Alias", "AliasName"),
        region.backup_vault: ("AWS::Backup::BackupVault", "BackupVaultName"),
        region.db_instance: ("AWS::RDS::DBInstance", "DBInstanceIdentifier"),
    }
    for name, (rtype, prop) in expected.items():
        assert name in found, f"{name} not found among {sorted(found)}"
        assert (found[name].resource_type, found[name].property) == (rtype, prop)
        assert found[name].scope is Scope.REGIONAL


def test_nested_backup_plan_name_and_global_dashboard(names) -> None:
    primary = names["primary"]
    plans = [n for n in primary if n.resource_type == "AWS::Backup::BackupPlan"]
    assert [p.property for p in plans] == ["BackupPlan.BackupPlanName"]
    assert plans[0].name.startswith("tapstack-prod")
    dashboards = [n for n in primary if n.resource_type == "AWS::CloudWatch::Dashboard"]
    assert [(d.name, d.scope) for d in dashboards] == [("tapstack-prod-us-east-1", Scope.GLOBAL)]


def test_the_secondary_storage_parameter_and_same_alias_in_each_region(names) -> None:
    storage = by_name(names["secondary-storage"])
    assert storage["/tapstack-prod/us-west-2/data-key-arn"].resource_type == "AWS::SSM::Parameter"
    assert storage["alias/tapstack-prod-data"].scope is Scope.REGIONAL
    assert "alias/tapstack-prod-data" in by_name(names["primary"])


def test_hosted_zones_are_not_physical_names(names) -> None:
    """Zone names need not be unique; preflight checks the zone on its own."""
    assert names["dns"] == []


def test_every_literal_name_property_in_the_templates_is_found(synth: Synthesized, names) -> None:
    """A cross-check that cannot pass by accident: walk the templates independently."""
    rules = {p.resource_type: p.path for p in NAME_PROPERTIES}
    for kind, template in synth.templates.items():
        expected = set()
        for logical_id, resource in template["Resources"].items():
            path = rules.get(resource["Type"])
            value: Any = resource.get("Properties", {})
            for key in path or ():
                value = value.get(key, {}) if isinstance(value, dict) else None
            if path and isinstance(value, str):
                expected.add((logical_id, value))
        if kind != "dns":
            assert expected, f"no literal names in {kind}"
        assert expected <= {(n.logical_id, n.name) for n in names[kind]}
    assert len(names["primary"]) >= 20


def test_no_name_is_left_unresolved(names) -> None:
    for found in names.values():
        for item in found:
            assert "${" not in item.name and "{" not in item.name, item


def test_join_and_sub_resolve_pseudo_parameters() -> None:
    template = {
        "Resources": {
            "Joined": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {
                        "Fn::Join": [
                            "-",
                            ["logs", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}],
                        ]
                    }
                },
            },
            "Subbed": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Fn::Sub": "/app/${AWS::Region}/${!Literal}"}},
            },
            "SubWithVariables": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": {
                        "Fn::Sub": ["${Stack}-${Env}-q", {"Env": "prod", "Stack": "s"}],
                    }
                },
            },
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r-${AWS::Partition}"}},
        }
    }
    found = {
        n.logical_id: n
        for n in physical_names(template, account="111122223333", region="eu-west-1")
    }
    assert found["Joined"].name == "logs-111122223333-eu-west-1"
    assert found["Joined"].scope is Scope.GLOBAL
    assert found["Subbed"].name == "/app/eu-west-1/${Literal}"
    assert found["SubWithVariables"].name == "s-prod-q"
    # A literal string is taken as it is: Fn::Sub syntax only counts inside Fn::Sub.
    assert found["Role"].name == "r-${AWS::Partition}"


def test_names_known_only_at_deploy_time_are_skipped() -> None:
    template = {
        "Resources": {
            "FromResource": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Join": ["-", [{"Ref": "Other"}, "x"]]}},
            },
            "FromAttribute": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"FunctionName": {"Fn::Sub": "${Other.Arn}-fn"}},
            },
            "Generated": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "NeedsAccount": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": {"Fn::Sub": "/x/${AWS::AccountId}"}},
            },
            "NotNamed": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        }
    }
    assert physical_names(template, region="us-east-1") == []
    resolved = physical_names(template, account="111122223333", region="us-east-1")
    assert [(n.logical_id, n.name) for n in resolved] == [("NeedsAccount", "/x/111122223333")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ({"Ref": "AWS::Region"}, "cn-north-1"),
        ({"Ref": "AWS::Partition"}, "aws-cn"),
        ({"Fn::Join": ["", ["a", {"Fn::Join": [".", ["b", "c"]]}]]}, "ab.c"),
        ({"Fn::GetAtt": ["X", "Arn"]}, None),
        ({"Ref": "AWS::NoValue"}, None),
        (None, None),
    ],
)
def test_resolve(value: Any, expected: str | None) -> None:
    assert resolve(value, {"AWS::Region": "cn-north-1", "AWS::Partition": "aws-cn"}) == expected

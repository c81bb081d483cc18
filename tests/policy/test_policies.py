"""Security and monitoring properties proven from the synthesized templates of
every stack: alarms and their actions, no custom resources, no wildcard
actions, no open ingress beyond the load balancer, nothing stored unencrypted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import Synthesized

ALL = ["dns", "secondary-storage", "primary", "secondary"]
REGIONAL = ["primary", "secondary"]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for doc_key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if doc_key in props:
                found += props[doc_key]["Statement"]
        for policy in props.get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


#: Alarms every region has, then those only one role has.
BOTH_REGIONS = {
    "web-cpu-high",
    "alb-5xx",
    "target-5xx",
    "unhealthy-hosts",
    "no-healthy-hosts",
    "target-response-time",
    "db-cpu-high",
    "db-free-storage-low",
    "db-free-memory-low",
    "db-connections-high",
    "loader-errors",
    "loader-throttles",
    "loader-dead-letters",
    "loader-quarantined",
}
EXPECTED_ALARMS = {
    "primary": BOTH_REGIONS
    | {
        "loader-read-only-writer",
        "s3-replication-failures",
        "s3-replication-latency",
        "primary-health-check",
        "standby-health-check",
    },
    "secondary": BOTH_REGIONS | {"replica-lag-high"},
}


@pytest.mark.parametrize("kind", REGIONAL)
def test_each_region_has_its_alarms(synth: Synthesized, kind: str) -> None:
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    names = {
        a["Properties"]["AlarmName"].removeprefix(f"tapstack-prod-{region}-")
        for a in synth.resources(kind, "AWS::CloudWatch::Alarm").values()
    }
    assert names == EXPECTED_ALARMS[kind]
    assert len(names) == {"primary": 19, "secondary": 15}[kind]


#: How each alarm treats missing data, chosen per metric: counters that are absent when
#: nothing happens are fine when missing; gauges that report only once their resource runs
#: are missing (an alarm evaluates on creation: "breaching" would page during a first
#: deploy); healthy hosts and health-check status breach, after more than a boot's time.
TREAT_MISSING = {
    "web-cpu-high": "missing",
    "alb-5xx": "notBreaching",
    "target-5xx": "notBreaching",
    "unhealthy-hosts": "notBreaching",
    "no-healthy-hosts": "breaching",
    "target-response-time": "notBreaching",
    "db-cpu-high": "missing",
    "db-free-storage-low": "missing",
    "db-free-memory-low": "missing",
    "db-connections-high": "missing",
    "replica-lag-high": "missing",
    "loader-errors": "notBreaching",
    "loader-throttles": "notBreaching",
    "loader-dead-letters": "notBreaching",
    "loader-quarantined": "notBreaching",
    "loader-read-only-writer": "notBreaching",
    "s3-replication-failures": "notBreaching",
    "s3-replication-latency": "notBreaching",
    "primary-health-check": "breaching",
    "standby-health-check": "breaching",
}


@pytest.mark.parametrize("kind", REGIONAL)
def test_each_alarm_treats_missing_data_as_its_metric_requires(
    synth: Synthesized, kind: str
) -> None:
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    for alarm in synth.resources(kind, "AWS::CloudWatch::Alarm").values():
        name = alarm["Properties"]["AlarmName"].removeprefix(f"tapstack-prod-{region}-")
        assert alarm["Properties"]["TreatMissingData"] == TREAT_MISSING[name], name


@pytest.mark.parametrize("kind", REGIONAL)
def test_every_alarm_notifies_the_topic_on_alarm_and_recoveries_only_from_alarm(
    synth: Synthesized, kind: str
) -> None:
    """An alarm's own OK action also fires on INSUFFICIENT_DATA -> OK, which every new alarm
    goes through on a first deploy: recoveries go through an EventBridge rule that matches
    ALARM -> OK only."""
    topic_id = next(iter(synth.resources(kind, "AWS::SNS::Topic")))
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    for logical_id, alarm in synth.resources(kind, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_id}], logical_id
        assert "OKActions" not in props, logical_id
        assert props["AlarmName"].startswith(f"tapstack-prod-{region}-"), logical_id
    rule = synth.one(kind, "AWS::Events::Rule", "MonitoringRecoveries")["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [{"prefix": f"tapstack-prod-{region}-"}],
            "previousState": {"value": ["ALARM"]},
            "state": {"value": ["OK"]},
        },
    }
    assert rule["Targets"][0]["Arn"] == {"Ref": topic_id}
    assert not synth.resources("dns", "AWS::CloudWatch::Alarm")


def test_only_the_watch_on_the_other_regions_name_is_silent_by_default(
    synth: Synthesized,
) -> None:
    """Before both regions are deployed and the domain is delegated, the other region's
    name does not resolve: that alarm keeps its state without paging until configured."""
    silent = {
        a["Properties"]["AlarmName"]
        for kind in REGIONAL
        for a in synth.resources(kind, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("ActionsEnabled") is False
    }
    assert silent == {"tapstack-prod-us-east-1-standby-health-check"}


def test_route53_health_check_alarms_live_in_us_east_1(synth: Synthesized) -> None:
    for kind in ("primary", "secondary"):
        route53 = [
            a
            for a in synth.resources(kind, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == "AWS/Route53"
        ]
        assert len(route53) == (2 if kind == "primary" else 0)


@pytest.mark.parametrize("kind", ALL)
def test_no_custom_resources_anywhere(synth: Synthesized, kind: str) -> None:
    types = {r["Type"] for r in synth.templates[kind]["Resources"].values()}
    assert not {t for t in types if t.startswith("Custom::")}
    assert "AWS::CloudFormation::CustomResource" not in types
    # Every Lambda function in the app is the loader: no provider frameworks.
    functions = synth.resources(kind, "AWS::Lambda::Function")
    assert all(k.startswith("LoaderFunction") for k in functions)


ACCOUNT_ROOT = {"AWS": "arn:aws:iam::123456789012:root"}


@pytest.mark.parametrize("kind", ALL)
def test_no_iam_statement_allows_every_action(synth: Synthesized, kind: str) -> None:
    for statement in _statements(synth.templates[kind]):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            assert action != "*", statement
            if action == "kms:*":
                # KMS's default key-policy statement: the account (through IAM) administers
                # its own key; without it a key can become unmanageable.
                assert statement["Principal"] == ACCOUNT_ROOT, statement
                continue
            assert not action.endswith(":*"), statement


@pytest.mark.parametrize("kind", ALL)
def test_resource_star_only_in_key_policies_where_it_means_this_key(
    synth: Synthesized, kind: str
) -> None:
    identity_statements = []
    for resource in synth.templates[kind]["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            identity_statements += props["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                identity_statements += policy["PolicyDocument"]["Statement"]
    assert identity_statements or kind in ("dns", "secondary-storage")
    for statement in identity_statements:
        assert "*" not in _as_list(statement.get("Resource")), statement


@pytest.mark.parametrize("kind", REGIONAL)
def test_only_the_load_balancer_takes_traffic_from_the_internet(
    synth: Synthesized, kind: str
) -> None:
    open_rules = []
    for logical_id, group in synth.resources(kind, "AWS::EC2::SecurityGroup").items():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                open_rules.append((logical_id, rule["FromPort"]))
    for logical_id, rule in synth.resources(kind, "AWS::EC2::SecurityGroupIngress").items():
        props = rule["Properties"]
        assert props.get("CidrIp") != "0.0.0.0/0" and props.get("CidrIpv6") != "::/0", logical_id
    # 443 serves HTTPS; 80 only redirects to it.
    assert open_rules == [("WebAlbSecurityGroup7BA6FBB1", 80), ("WebAlbSecurityGroup7BA6FBB1", 443)]


@pytest.mark.parametrize("kind", REGIONAL)
def test_egress_is_narrowed_to_what_each_tier_needs(synth: Synthesized, kind: str) -> None:
    groups = synth.resources(kind, "AWS::EC2::SecurityGroup")
    for logical_id, group in groups.items():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            if rule.get("CidrIp") == "0.0.0.0/0":
                assert (rule["IpProtocol"], rule.get("FromPort")) == ("tcp", 443), logical_id
            else:
                # CDK's "no egress" placeholder, or a rule inside the VPC
                assert rule["CidrIp"] in ("255.255.255.255/32",) or rule["CidrIp"].startswith(
                    "10."
                ), (
                    logical_id,
                    rule,
                )


@pytest.mark.parametrize("kind", ALL)
def test_nothing_is_stored_unencrypted(synth: Synthesized, kind: str) -> None:
    for logical_id, resource in synth.templates[kind]["Resources"].items():
        rtype, props = resource["Type"], resource.get("Properties", {})
        if rtype == "AWS::S3::Bucket":
            assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        elif rtype == "AWS::RDS::DBInstance":
            assert props.get("StorageEncrypted") is True or "KmsKeyId" in props, logical_id
        elif rtype == "AWS::SQS::Queue" or rtype == "AWS::SNS::Topic":
            assert "KmsMasterKeyId" in props, logical_id
        elif rtype == "AWS::Logs::LogGroup":
            assert "KmsKeyId" in props, logical_id
            assert "RetentionInDays" in props, logical_id
        elif rtype == "AWS::EC2::LaunchTemplate":
            for device in props["LaunchTemplateData"]["BlockDeviceMappings"]:
                assert device["Ebs"]["Encrypted"] is True, logical_id
        elif rtype == "AWS::Backup::BackupVault":
            assert "EncryptionKeyArn" in props, logical_id
        elif rtype == "AWS::Lambda::Function":
            assert "KmsKeyArn" in props, logical_id


@pytest.mark.parametrize("kind", REGIONAL)
def test_every_vpc_has_flow_logs_and_every_alb_access_logs(synth: Synthesized, kind: str) -> None:
    flow_log = synth.one(kind, "AWS::EC2::FlowLog")["Properties"]
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["ResourceType"] == "VPC"
    lb = synth.one(kind, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == f"tapstack-prod-logs-123456789012-{region}"
    assert json.dumps(flow_log).count("FlowLogGroup") >= 1

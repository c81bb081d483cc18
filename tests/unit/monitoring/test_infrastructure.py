"""Observability per region: the encrypted alarm topic with its e-mail
subscription, the dashboard, scaling events, and the WAF in front of the ALB."""

from __future__ import annotations

import json

import pytest

from tapstack.loader.runtime import contract
from tests.support import Synthesized

REGIONS = [("primary", "us-east-1"), ("secondary", "us-west-2")]


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_alarm_topic_is_encrypted_tls_only_and_subscribed(
    synth: Synthesized, kind: str, region: str
) -> None:
    topic = synth.one(kind, "AWS::SNS::Topic")["Properties"]
    assert topic["TopicName"] == f"tapstack-prod-alarms-{region}"
    assert "KmsMasterKeyId" in topic
    subscription = synth.one(kind, "AWS::SNS::Subscription")["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")
    policy = synth.one(kind, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


@pytest.mark.parametrize(("kind", "region"), REGIONS)
def test_dashboard_covers_traffic_errors_capacity_database_replication_and_loader(
    synth: Synthesized, kind: str, region: str
) -> None:
    dashboard = synth.one(kind, "AWS::CloudWatch::Dashboard")["Properties"]
    assert dashboard["DashboardName"] == f"tapstack-prod-{region}"
    body = json.dumps(dashboard["DashboardBody"])
    for metric in (
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "CPUUtilization",
        "FreeStorageSpace",
        "DatabaseConnections",
        "RowsInserted",
        "RowsUpdated",
    ):
        assert metric in body, metric
    assert ("ReplicaLag" in body) == (kind == "secondary")
    assert ("ReplicationLatency" in body) == (kind == "primary")


@pytest.mark.parametrize(("kind", "role"), [("primary", "writer"), ("secondary", "standby")])
def test_loader_alarms_read_the_metrics_the_runtime_emits_under_the_regions_role(
    synth: Synthesized, kind: str, role: str
) -> None:
    alarm = synth.one(kind, "AWS::CloudWatch::Alarm", "MonitoringLoaderQuarantined")["Properties"]
    assert alarm["Namespace"] == contract.METRICS_NAMESPACE
    assert alarm["MetricName"] == contract.METRIC_OBJECTS_QUARANTINED
    assert alarm["Dimensions"] == [{"Name": contract.ROLE_DIMENSION, "Value": role}]


def test_a_read_only_writer_database_alarms_in_the_writer_region(synth: Synthesized) -> None:
    """The loader fails on a read-only writer and emits ReadOnlyWriter (Role=writer); the
    alarm on it notifies the topic at the first one."""
    alarm = synth.one("primary", "AWS::CloudWatch::Alarm", "MonitoringLoaderReadOnlyWriter")
    properties = alarm["Properties"]
    assert properties["AlarmName"] == "tapstack-prod-us-east-1-loader-read-only-writer"
    assert properties["Namespace"] == contract.METRICS_NAMESPACE
    assert properties["MetricName"] == contract.METRIC_READ_ONLY_WRITER == "ReadOnlyWriter"
    assert properties["Dimensions"] == [{"Name": contract.ROLE_DIMENSION, "Value": "writer"}]
    assert (properties["Statistic"], properties["Period"]) == ("Sum", 300)
    assert (properties["ComparisonOperator"], properties["Threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert properties["TreatMissingData"] == "notBreaching"
    topic_id = next(iter(synth.resources("primary", "AWS::SNS::Topic")))
    assert properties["AlarmActions"] == [{"Ref": topic_id}]
    assert contract.METRIC_UNITS[contract.METRIC_READ_ONLY_WRITER] == "Count"
    body = json.dumps(synth.one("primary", "AWS::CloudWatch::Dashboard")["Properties"])
    assert "ReadOnlyWriter" in body


@pytest.mark.parametrize(
    ("fixture", "writer", "standby"),
    [("synth", "primary", "secondary"), ("synth_writer_secondary", "secondary", "primary")],
)
def test_the_read_only_writer_alarm_follows_the_writer_role(
    request: pytest.FixtureRequest, fixture: str, writer: str, standby: str
) -> None:
    """A standby skips while its database is read-only (a replica): it never emits the
    metric, so its region has no alarm on it."""
    synthesized: Synthesized = request.getfixturevalue(fixture)

    def alarms(kind: str) -> list[str]:
        return [
            a["Properties"]["AlarmName"]
            for a in synthesized.resources(kind, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == contract.METRIC_READ_ONLY_WRITER
        ]

    assert [name.rsplit("-", 4)[-4:] for name in alarms(writer)] == [
        ["loader", "read", "only", "writer"]
    ]
    assert alarms(standby) == []


@pytest.mark.parametrize(("kind", "_region"), REGIONS)
def test_failed_launches_and_terminations_reach_the_topic_and_routine_scaling_does_not(
    synth: Synthesized, kind: str, _region: str
) -> None:
    rule = synth.one(kind, "AWS::Events::Rule", "MonitoringScalingEvents")["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.autoscaling"]
    assert rule["EventPattern"]["detail-type"] == [
        "EC2 Instance Launch Unsuccessful",
        "EC2 Instance Terminate Unsuccessful",
    ]
    topic_id = next(iter(synth.resources(kind, "AWS::SNS::Topic")))
    assert rule["Targets"][0]["Arn"] == {"Ref": topic_id}


@pytest.mark.parametrize(("kind", "_region"), REGIONS)
def test_a_waf_web_acl_with_logging_guards_the_load_balancer(
    synth: Synthesized, kind: str, _region: str
) -> None:
    acl_id, acl = next(iter(synth.resources(kind, "AWS::WAFv2::WebACL").items()))
    rules = {r["Name"] for r in acl["Properties"]["Rules"]}
    assert rules == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "RatePerAddress",
    }
    assert acl["Properties"]["Scope"] == "REGIONAL"
    association = synth.one(kind, "AWS::WAFv2::WebACLAssociation")["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    logging = synth.one(kind, "AWS::WAFv2::LoggingConfiguration")["Properties"]
    assert ":log-group:aws-waf-logs-" in logging["LogDestinationConfigs"][0]


def test_alarm_thresholds_follow_the_configuration(synth_variant: Synthesized) -> None:
    alarms = {
        a["Properties"]["AlarmName"].removeprefix("tapstack-prod-us-west-2-"): a["Properties"]
        for a in synth_variant.resources("secondary", "AWS::CloudWatch::Alarm").values()
    }
    assert alarms["web-cpu-high"]["Threshold"] == 70
    assert alarms["replica-lag-high"]["Threshold"] == 120
    assert alarms["db-free-storage-low"]["Threshold"] == 9 * 1024**3
    assert alarms["target-response-time"]["Threshold"] == 0.5
    assert alarms["alb-5xx"]["Threshold"] == 3 and alarms["target-5xx"]["Threshold"] == 3


def test_alarm_thresholds_default_sensibly(synth: Synthesized) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("secondary", "AWS::CloudWatch::Alarm").values()
    }
    assert alarms["tapstack-prod-us-west-2-web-cpu-high"]["Threshold"] == 80
    assert alarms["tapstack-prod-us-west-2-replica-lag-high"]["Threshold"] == 60
    assert alarms["tapstack-prod-us-west-2-db-free-storage-low"]["Threshold"] == 5 * 1024**3
    assert alarms["tapstack-prod-us-west-2-no-healthy-hosts"]["TreatMissingData"] == "breaching"
    assert alarms["tapstack-prod-us-west-2-loader-errors"]["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("kind", "replica"), [("primary", True), ("secondary", False)])
def test_replica_lag_is_watched_where_the_replica_is(
    synth_writer_secondary: Synthesized, kind: str, replica: bool
) -> None:
    """With the writer in the secondary region the primary holds the replica: its lag alarm
    and graph move there; S3 replication flows both ways, and each region watches its rule."""
    names = {
        a["Properties"]["AlarmName"]
        for a in synth_writer_secondary.resources(kind, "AWS::CloudWatch::Alarm").values()
    }
    region = {"primary": "us-east-1", "secondary": "us-west-2"}[kind]
    assert (f"tapstack-prod-{region}-replica-lag-high" in names) is replica
    body = json.dumps(synth_writer_secondary.one(kind, "AWS::CloudWatch::Dashboard")["Properties"])
    assert ("ReplicaLag" in body) is replica
    # S3 replication flows both ways once the writer moved: both regions watch their rule.
    assert "ReplicationLatency" in body
    assert f"tapstack-prod-{region}-s3-replication-failures" in names
    role = "standby" if replica else "writer"
    assert f"# tapstack-prod - {region} ({role})" in body

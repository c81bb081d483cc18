"""The S3 -> MySQL loader function of each region: runtime, VPC placement, trigger."""

from __future__ import annotations

import json

import pytest

from tapstack.naming import Slot
from tests.integration.support import Region, Subnets, Target

pytestmark = pytest.mark.integration


def test_loader_function_exists_with_the_newest_python_runtime(region: Region) -> None:
    function = region.loader_function
    assert function["FunctionName"] == f"{region.target.config.prefix}-loader-{region.name}"
    assert function["Runtime"] == "python3.14"
    assert function["Handler"].endswith(".handler")


def test_loader_runs_in_the_private_subnets(region: Region) -> None:
    vpc = region.loader_function["VpcConfig"]
    assert set(vpc["SubnetIds"]) == Subnets.ids(region.subnets.private)
    assert vpc["SecurityGroupIds"]
    groups = region.client("ec2").describe_security_groups(GroupIds=vpc["SecurityGroupIds"])
    assert {g["VpcId"] for g in groups["SecurityGroups"]} == {region.vpc_id}


def test_loader_targets_its_regions_database(region: Region) -> None:
    variables = region.loader_function["Environment"]["Variables"]
    assert variables["DB_HOST"] == region.output("DatabaseEndpoint")
    assert variables["DB_NAME"] == region.target.config.database.database_name


def test_loader_may_be_invoked_by_its_trigger(region: Region) -> None:
    policy = json.loads(
        region.client("lambda").get_policy(FunctionName=region.names.loader_function)["Policy"]
    )
    principals = {s["Principal"]["Service"] for s in policy["Statement"]}
    # The primary stack's own bucket notifies the function; in the secondary region the
    # bucket belongs to the secondary-storage stack, and an EventBridge rule invokes it.
    in_same_stack = region.names.slot is Slot.PRIMARY
    expected = "s3.amazonaws.com" if in_same_stack else "events.amazonaws.com"
    assert expected in principals, policy
    for statement in policy["Statement"]:
        if statement["Principal"]["Service"] == "s3.amazonaws.com":
            source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
            assert source == f"arn:aws:s3:::{region.names.data_bucket}"


def _eventbridge_rules(region: Region) -> list[dict]:
    events = region.client("events")
    names = events.list_rule_names_by_target(TargetArn=region.loader_function["FunctionArn"])
    return [events.describe_rule(Name=name) for name in names["RuleNames"]]


def _bucket_notifications(region: Region) -> list[dict]:
    configuration = region.client("s3").get_bucket_notification_configuration(
        Bucket=region.names.data_bucket
    )
    arn = region.loader_function["FunctionArn"]
    return [
        c
        for c in configuration.get("LambdaFunctionConfigurations", [])
        if c["LambdaFunctionArn"] == arn
    ]


def test_secondary_loader_is_triggered_by_an_eventbridge_rule(secondary: Region) -> None:
    rules = _eventbridge_rules(secondary)
    assert len(rules) == 1, f"expected one rule targeting {secondary.names.loader_function}"
    pattern = json.loads(rules[0]["EventPattern"])
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [secondary.names.data_bucket]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "incoming/"}]}


def test_both_data_buckets_send_their_events_to_eventbridge(target: Target, region: Region) -> None:
    target.skip_in_emulator("AWS::S3::Bucket", "NotificationConfiguration.EventBridgeConfiguration")
    configuration = region.client("s3").get_bucket_notification_configuration(
        Bucket=region.names.data_bucket
    )
    assert "EventBridgeConfiguration" in configuration, configuration


def test_primary_loader_is_notified_by_its_bucket_for_incoming_objects(
    target: Target, primary: Region
) -> None:
    assert _eventbridge_rules(primary) == [], "the primary is triggered by its bucket"
    target.skip_in_emulator("AWS::S3::Bucket", "NotificationConfiguration")
    notifications = _bucket_notifications(primary)
    # One, by prefix only: the loader loads what it reads and quarantines the rest.
    [notification] = notifications
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    rules = {r["Name"].lower(): r["Value"] for r in notification["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "incoming/"}, primary.names.loader_function


def test_loader_failures_go_to_its_dead_letter_queue(target: Target, region: Region) -> None:
    target.skip_in_emulator("AWS::Lambda::Function", "DeadLetterConfig")
    queue = region.loader_function["DeadLetterConfig"]["TargetArn"]
    assert queue.endswith(f":{region.names.loader_function}-dlq")

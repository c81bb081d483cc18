"""The app as a whole: stacks, regions, deploy order, outputs, tags, and what
must never appear in any template."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import Synthesized

FORBIDDEN_TYPES = (
    "AWS::CloudFormation::CustomResource",
    "AWS::Lambda::LayerVersion",
    "AWS::AutoScaling::LaunchConfiguration",
)


def _artifact(synth: Synthesized, kind: str) -> dict:
    return synth.manifest["artifacts"][f"tapstack-prod-{kind}"]


def _stack_dependencies(synth: Synthesized, kind: str) -> set[str]:
    """Dependencies on other stacks (each stack also depends on its own asset manifest)."""
    return {d for d in _artifact(synth, kind).get("dependencies", []) if not d.endswith(".assets")}


def test_four_stacks_in_the_expected_regions(synth: Synthesized) -> None:
    regions = {
        kind: _artifact(synth, kind)["environment"]
        for kind in ("dns", "secondary-storage", "primary", "secondary")
    }
    assert regions == {
        "dns": "aws://123456789012/us-east-1",
        "secondary-storage": "aws://123456789012/us-west-2",
        "primary": "aws://123456789012/us-east-1",
        "secondary": "aws://123456789012/us-west-2",
    }


def test_deploy_order_is_storage_then_primary_then_secondary(synth: Synthesized) -> None:
    assert _stack_dependencies(synth, "dns") == set()
    assert _stack_dependencies(synth, "secondary-storage") == set()
    assert _stack_dependencies(synth, "primary") == {
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
    }
    assert _stack_dependencies(synth, "secondary") == {
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-primary",
    }
    assert [s.stack_name for s in synth.built.stacks] == [
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-primary",
        "tapstack-prod-secondary",
    ]


ALL_STACKS = ["dns", "secondary-storage", "primary", "secondary"]


@pytest.mark.parametrize("kind", ALL_STACKS)
def test_no_custom_resources_or_cross_stack_exports(synth: Synthesized, kind: str) -> None:
    template = synth.templates[kind]
    for logical_id, resource in template["Resources"].items():
        assert not resource["Type"].startswith("Custom::"), logical_id
        assert resource["Type"] not in FORBIDDEN_TYPES, logical_id
    text = json.dumps(template)
    assert "Fn::ImportValue" not in text
    for output in template.get("Outputs", {}).values():
        assert "Export" not in output


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        ("dns", {"HostedZoneId", "HostedZoneNameServers"}),
        (
            "primary",
            {
                "PrimaryVpcId",
                "PrimaryLoadBalancerDnsName",
                "PrimaryHealthCheckId",
                "ApplicationUrl",
            },
        ),
        ("secondary", {"SecondaryVpcId", "SecondaryLoadBalancerDnsName", "SecondaryHealthCheckId"}),
    ],
)
def test_outputs_have_stable_keys(synth: Synthesized, kind: str, keys: set[str]) -> None:
    assert keys <= set(synth.templates[kind]["Outputs"])


def test_output_keys_are_unique_across_stacks(synth: Synthesized) -> None:
    keys = [
        key
        for template in synth.templates.values()
        for key in template.get("Outputs", {})
        if key != "BootstrapVersion"
    ]
    assert len(keys) == len(set(keys)), "outputs are flattened across stacks"


def test_application_url_is_the_failover_record_over_https(synth: Synthesized) -> None:
    output = synth.templates["primary"]["Outputs"]["ApplicationUrl"]
    assert output["Value"] == "https://app.tapstack.example.com/"


def test_with_https_off_the_urls_are_plain_http(synth_http_only: Synthesized) -> None:
    outputs = synth_http_only.templates["primary"]["Outputs"]
    assert outputs["ApplicationUrl"]["Value"] == "http://app.tapstack.example.com/"
    assert outputs["PrimaryRegionalUrl"]["Value"] == "http://us-east-1.app.tapstack.example.com/"


TAGGABLE = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::IAM::Role",
    "AWS::Route53::HealthCheck",
    "AWS::EC2::NatGateway",
    "AWS::CertificateManager::Certificate",
)


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_environment_and_team_tags_on_every_taggable_resource(
    synth: Synthesized, kind: str
) -> None:
    checked = 0
    for logical_id, resource in synth.templates[kind]["Resources"].items():
        if resource["Type"] not in TAGGABLE:
            continue
        props = resource["Properties"]
        tags = props.get("Tags") or props.get("HealthCheckTags") or []
        tag_map = {t["Key"]: t["Value"] for t in tags}
        assert tag_map.get("Environment") == "Production", logical_id
        assert tag_map.get("Team") == "DevOps", logical_id
        checked += 1
    assert checked >= 10
    asg = synth.one(kind, "AWS::AutoScaling::AutoScalingGroup")["Properties"]["Tags"]
    assert {"Key": "Team", "PropagateAtLaunch": True, "Value": "DevOps"} in asg
    hosted = synth.one("dns", "AWS::Route53::HostedZone")["Properties"]["HostedZoneTags"]
    assert {"Key": "Environment", "Value": "Production"} in hosted


def test_destroy_mode_releases_the_hosted_zone_and_the_alb(synth_variant: Synthesized) -> None:
    lb = synth_variant.one("primary", "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "false"


def test_required_feature_flags_are_on_even_without_cdk_json() -> None:
    import aws_cdk as cdk

    from tapstack.app import REQUIRED_FEATURE_FLAGS, require_feature_flags

    app = cdk.App()
    require_feature_flags(app)
    assert all(app.node.try_get_context(flag) is True for flag in REQUIRED_FEATURE_FLAGS)


def test_an_app_that_turns_a_required_flag_off_is_refused() -> None:
    import aws_cdk as cdk

    from tapstack.app import require_feature_flags

    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": False})
    with pytest.raises(ValueError, match="serverAccessLogsUseBucketPolicy on, got False"):
        require_feature_flags(app)


def test_existing_zone_means_no_dns_stack(synth_variant: Synthesized) -> None:
    assert "dns" not in synth_variant.templates
    assert synth_variant.built.dns is None
    for kind in ("primary", "secondary"):
        assert synth_variant.resources(kind, "AWS::Route53::HostedZone") == {}
        assert "HostedZoneId" not in synth_variant.templates[kind].get("Parameters", {})
        for record in synth_variant.resources(kind, "AWS::Route53::RecordSet").values():
            assert record["Properties"]["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"


def test_with_the_writer_in_the_secondary_region_it_deploys_without_the_primary(
    synth_writer_secondary: Synthesized,
) -> None:
    """The writer region's stacks deploy alone (the other region may be down); only the
    standby's regional stack waits for the writer's (its replica needs the source)."""
    app = synth_writer_secondary
    assert _stack_dependencies(app, "secondary") == {
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
    }
    assert _stack_dependencies(app, "primary") == {
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-secondary",
    }
    assert [s.stack_name for s in app.built.stacks] == [
        "tapstack-prod-dns",
        "tapstack-prod-secondary-storage",
        "tapstack-prod-secondary",
        "tapstack-prod-primary",
    ]
    assert (app.built.writer, app.built.standby) == (app.built.secondary, app.built.primary)


def test_the_writer_regions_template_reads_nothing_from_the_other_region(
    synth_writer_secondary: Synthesized,
) -> None:
    """No export, no SSM parameter and no stack output of the other region: names and ARNs
    derived from the configuration only."""
    template = synth_writer_secondary.templates["secondary"]
    assert "Fn::ImportValue" not in json.dumps(template)
    # SSM parameters resolve in the stack's own region: the AMI, the bootstrap version, the
    # data key of the secondary-storage stack; the zone ID is passed by the deployer.
    ssm = {
        name: parameter["Default"]
        for name, parameter in template["Parameters"].items()
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value")
    }
    assert all(
        default.startswith(("/aws/service/", "/cdk-bootstrap/", "/tapstack-prod/us-west-2/"))
        for default in ssm.values()
    ), ssm
    assert set(template["Parameters"]) - set(ssm) == {"HostedZoneId"}
    # The mentions of the primary region are names, read by nobody at deploy time: the vault
    # the backup copies go to, by ARN (AWS Backup copies only when the plan runs), and the
    # primary's bucket as the DestinationBucket dimension of the reverse replication alarms.
    mentions = set(re.findall(r"[\w:/.-]*us-east-1[\w:/.-]*", json.dumps(template["Resources"])))
    assert mentions == {
        "arn:aws:backup:us-east-1:123456789012:backup-vault:tapstack-prod-vault-us-east-1",
        "tapstack-prod-data-123456789012-us-east-1",
    }

"""Logical IDs of the main resources are locked: renaming one would make
CloudFormation replace it (and, for stateful resources, lose its data).
Change this list only together with a migration note."""

from __future__ import annotations

import pytest

from tests.support import Synthesized

LOCKED: dict[str, dict[str, str]] = {
    "dns": {
        "HostedZoneDB99F866": "AWS::Route53::HostedZone",
    },
    "storage": {
        "DataKey2A0DE9E6": "AWS::KMS::Key",
        "StorageLogBucket7C8550DC": "AWS::S3::Bucket",
        "StorageDataBucketB1B922FA": "AWS::S3::Bucket",
        "BackupVaultADF21B19": "AWS::Backup::BackupVault",
    },
    "database": {
        "DatabaseSecurityGroup5C91FDCB": "AWS::EC2::SecurityGroup",
        "DatabaseErrorLogs89E52477": "AWS::Logs::LogGroup",
        "DatabaseSlowqueryLogs434FBADF": "AWS::Logs::LogGroup",
        "DatabaseInstanceAA8A5FDE": "AWS::RDS::DBInstance",
    },
    "backup_plan": {
        "BackupPlan52AA48B4": "AWS::Backup::BackupPlan",
        "BackupPlanSelection11D522BE": "AWS::Backup::BackupSelection",
    },
    "regional": {
        "NetworkVpc7FB7348F": "AWS::EC2::VPC",
        "NetworkVpcpublicSubnet1NATGateway939C8F7E": "AWS::EC2::NatGateway",
        "NetworkEndpointSecurityGroup6DEF6240": "AWS::EC2::SecurityGroup",
        "WebAlbSecurityGroup7BA6FBB1": "AWS::EC2::SecurityGroup",
        "WebInstanceSecurityGroup350E09E3": "AWS::EC2::SecurityGroup",
        "WebInstanceRole1878C71A": "AWS::IAM::Role",
        "WebLaunchTemplate2DE16FC2": "AWS::EC2::LaunchTemplate",
        "WebAutoScalingGroupASG148BE4DD": "AWS::AutoScaling::AutoScalingGroup",
        "WebLoadBalancer8E8983B1": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "WebLoadBalancerHttpListener6E69E303": "AWS::ElasticLoadBalancingV2::Listener",
        # A renamed listener is created before the old one is deleted: a second listener
        # on 443 fails (DuplicateListener).
        "WebLoadBalancerHttpsListenerF5A68E98": "AWS::ElasticLoadBalancingV2::Listener",
        "CertificateBDDE2430": "AWS::CertificateManager::Certificate",
        "WebTargetGroupFE6444AE": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "FailoverHealthCheckB7C7DF10": "AWS::Route53::HealthCheck",
        "FailoverRecord9E9280D2": "AWS::Route53::RecordSet",
        "NetworkFlowLogGroup4F8CEEEF": "AWS::Logs::LogGroup",
        "WebWebAclFFF190F2": "AWS::WAFv2::WebACL",
        "WebWebAclLogGroupF5900463": "AWS::Logs::LogGroup",
        "LoaderDeadLetterQueueADDEEE20": "AWS::SQS::Queue",
        "LoaderLogGroupC8484073": "AWS::Logs::LogGroup",
        "LoaderFunction8EC4C94F": "AWS::Lambda::Function",
        "AlarmTopicC2164170": "AWS::SNS::Topic",
        "MonitoringDashboard0C3675C6": "AWS::CloudWatch::Dashboard",
    },
}


@pytest.mark.parametrize(
    ("kind", "group"),
    [
        ("dns", "dns"),
        ("secondary-storage", "storage"),
        ("primary", "storage"),
        ("primary", "database"),
        ("primary", "backup_plan"),
        ("primary", "regional"),
        ("secondary", "database"),
        ("secondary", "regional"),
    ],
)
def test_main_resources_keep_their_logical_ids(synth: Synthesized, kind: str, group: str) -> None:
    resources = synth.templates[kind]["Resources"]
    missing = {
        logical_id: rtype
        for logical_id, rtype in LOCKED[group].items()
        if resources.get(logical_id, {}).get("Type") != rtype
    }
    assert missing == {}, f"renamed or removed in {kind}: {missing}"

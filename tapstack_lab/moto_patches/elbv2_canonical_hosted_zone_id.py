"""``Fn::GetAtt`` ``CanonicalHostedZoneID`` of an ELBv2 load balancer.

Gap
    ``AWS::ElasticLoadBalancingV2::LoadBalancer`` returns ``CanonicalHostedZoneID``, the
    zone an alias record to the load balancer names
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancingv2-loadbalancer.html#aws-resource-elasticloadbalancingv2-loadbalancer-return-values).
    moto 5.2.5's ``FakeLoadBalancer.get_cfn_attribute`` lists it as "not implemented":
    ``Fn::GetAtt`` logs a warning and leaves the ``{"Fn::GetAtt": [...]}`` object itself in
    the property, although the model knows the value (``canonical_hosted_zone_id``, which
    ``DescribeLoadBalancers`` reports).

Why the demo needs it
    The Route 53 failover records alias each region's load balancer; the integration suite
    (``tests/integration/test_dns.py``) checks that each record's alias target names the
    load balancer's zone. Without this patch the value is a placeholder and both checks
    fail.

Private members
    None: the patch wraps the model's ``get_cfn_attribute``/``has_cfn_attr`` (no public
    hook exists) and reads its public ``canonical_hosted_zone_id``.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation ELBv2 LoadBalancer: support Fn::GetAtt CanonicalHostedZoneID

    Reproduction (moto 5.2.5, ``mock_aws``): a stack with a VPC, two subnets, a security
    group, an ``AWS::ElasticLoadBalancingV2::LoadBalancer`` ``Lb`` and an
    ``AWS::SSM::Parameter`` whose ``Value`` is ``{"Fn::GetAtt": ["Lb",
    "CanonicalHostedZoneID"]}``; then ``ssm.get_parameter(Name=...)``.

    Expected: the load balancer's ``CanonicalHostedZoneId`` as ``describe_load_balancers``
    reports it (``Z35SXDOTRQ7X7K`` in us-east-1).

    Actual: the string ``{'Fn::GetAtt': ['Lb', 'CanonicalHostedZoneID']}`` and a warning
    ``"Fn::GetAtt" : [ "Lb" , "CanonicalHostedZoneID" ]"``.

    Suggested change (``moto/elbv2/models.py``, ``FakeLoadBalancer.get_cfn_attribute``):
    return ``self.canonical_hosted_zone_id`` (and ``LoadBalancerFullName``:
    the part of the ARN after ``loadbalancer/``) instead of raising
    ``NotImplementedError``.
"""

from __future__ import annotations

from tapstack_lab.moto_patches._hooks import add_cfn_attributes

NAME = "Fn::GetAtt CanonicalHostedZoneID of an ELBv2 load balancer"


def apply() -> None:
    from moto.elbv2.models import FakeLoadBalancer

    add_cfn_attributes(
        FakeLoadBalancer,
        NAME,
        {"CanonicalHostedZoneID": lambda lb: lb.canonical_hosted_zone_id},
    )

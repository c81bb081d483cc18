"""``AWS::EC2::SubnetRouteTableAssociation`` associates the route table with the subnet.

Gap
    On CloudFormation the resource associates the subnet with the route table
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-subnetroutetableassociation.html):
    ``DescribeRouteTables`` lists the association on that table. moto 5.2.5's model
    records the pair in ``EC2Backend.subnet_associations`` (``create_subnet_association``)
    but does not associate it, so ``DescribeRouteTables`` shows the table without the
    subnet and the subnet on the VPC's main route table.

Why the demo needs it
    The integration suite checks that each private subnet routes to the NAT gateway and
    each public one to the internet gateway (``tests/integration/test_network.py``). Without
    this patch every subnet sits on the main table, with no route out.

Private members
    None. The patch completes the created resource with the backend's public
    ``associate_route_table``; no public hook exists to change the model, so it wraps
    ``SubnetRouteTableAssociation.create_from_cloudformation_json``.

Upstream report (github.com/getmoto/moto, issue)
    Title: CloudFormation AWS::EC2::SubnetRouteTableAssociation does not associate the
    route table (DescribeRouteTables shows no association)

    Reproduction (moto 5.2.5, ``mock_aws``)::

        template = {"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
            "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Association": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Table"}}},
        }}
        cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
        ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id",
                                            "Values": [subnet_id]}])

    Expected: the table ``Table``, with an association for the subnet.

    Actual: no table (the association exists only in moto's ``subnet_associations``).

    Suggested fix (``moto/ec2/models/subnets.py``,
    ``SubnetRouteTableAssociation.create_from_cloudformation_json``): call
    ``ec2_backend.associate_route_table(route_table_id, subnet_id=subnet_id)`` (what
    ``AssociateRouteTable`` does), and return a model whose physical ID is the association
    ID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tapstack_lab.moto_patches._hooks import after_cfn_create

NAME = "subnet route table associations"


def apply() -> None:
    from moto.ec2.models.subnets import SubnetRouteTableAssociation

    after_cfn_create(SubnetRouteTableAssociation, NAME, _associate)


def _associate(
    association: Any, properties: Mapping[str, Any], account_id: str, region: str
) -> None:
    from moto.ec2.models import ec2_backends

    ec2_backends[account_id][region].associate_route_table(
        association.route_table_id, subnet_id=association.subnet_id
    )

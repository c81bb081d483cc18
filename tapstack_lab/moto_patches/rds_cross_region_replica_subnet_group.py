"""A cross-region read replica can be placed in a DB subnet group of its own region.

Gap
    ``CreateDBInstanceReadReplica`` with a source instance ARN of another region and
    ``DBSubnetGroupName`` places the replica in that subnet group *of the replica's region*
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html,
    ``DBSubnetGroupName``: "the specified DB subnet group must be in the same Amazon Web
    Services Region in which the operation is running"). moto 5.2.5 copies the source
    instance and applies the arguments while the copy still belongs to the source region's
    backend, so it looks the subnet group up there and fails with
    ``DBSubnetGroupNotFoundFault``.

Why the demo needs it
    The secondary stack creates the cross-region replica with the secondary region's
    subnet group (``AWS::RDS::DBInstance`` with ``SourceDBInstanceIdentifier`` and
    ``DBSubnetGroupName``). Without this patch the secondary stack fails.

Private members
    None. No public hook exists: the patch wraps the backend's public method
    ``RDSBackend.create_db_instance_read_replica`` and sets the replica's
    ``db_subnet_group_name`` attribute.

Upstream report (github.com/getmoto/moto, issue)
    Title: RDS: cross-region create_db_instance_read_replica with DBSubnetGroupName fails
    with DBSubnetGroupNotFoundFault

    Reproduction (moto 5.2.5, ``mock_aws``)::

        east = boto3.client("rds", region_name="us-east-1")
        west = boto3.client("rds", region_name="us-west-2")
        source = east.create_db_instance(DBInstanceIdentifier="source", Engine="mysql",
            DBInstanceClass="db.t3.micro", MasterUsername="admin",
            MasterUserPassword="password1", AllocatedStorage=20)["DBInstance"]
        # a subnet group "replica-subnets" created in us-west-2 (VPC, two subnets)
        west.create_db_instance_read_replica(DBInstanceIdentifier="replica",
            SourceDBInstanceIdentifier=source["DBInstanceArn"],
            DBSubnetGroupName="replica-subnets")
        #   -> DBSubnetGroupNotFoundFault: DBSubnetGroup replica-subnets not found.

    Expected: the replica is created in us-west-2, in ``replica-subnets``.

    Actual: ``DBSubnetGroupNotFoundFault``: the group is looked up in us-east-1.

    Suggested fix (``RDSBackend.create_db_instance_read_replica``): attach the copy to
    this backend (``db_kwargs["backend"] = self``, which moto already does) *before*
    ``replica.update(**db_kwargs)`` resolves the subnet group, or resolve
    ``db_subnet_group_name`` against ``self`` afterwards.
"""

from __future__ import annotations

from typing import Any

from tapstack_lab.moto_patches._hooks import Wrapper, replace_function

NAME = "cross-region read replica with a DB subnet group"


def apply() -> None:
    from moto.rds.models import RDSBackend

    replace_function(RDSBackend, "create_db_instance_read_replica", NAME, _subnet_group_last)


def _subnet_group_last(original: Wrapper) -> Wrapper:
    def create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
        source = str(db_kwargs.get("source_db_instance_identifier") or "")
        subnet_group = db_kwargs.get("db_subnet_group_name")
        source_region = source.split(":")[3] if source.startswith("arn:") else self.region_name
        if not subnet_group or source_region == self.region_name:
            return original(self, db_kwargs)
        without_group = {k: v for k, v in db_kwargs.items() if k != "db_subnet_group_name"}
        replica = original(self, without_group)
        replica.db_subnet_group_name = subnet_group  # now looked up in the replica's region
        return replica

    return create_db_instance_read_replica

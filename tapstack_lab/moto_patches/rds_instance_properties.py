"""``AWS::RDS::DBInstance`` properties moto's CloudFormation model reads wrongly or ignores.

Gap
    The template properties of ``AWS::RDS::DBInstance``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbinstance.html)
    versus moto 5.2.5's ``DBInstance.create_from_cloudformation_json``:

    * ``DBParameterGroupName: {"Ref": "Params"}``: moto resolves the ``Ref`` to its
      ``DBParameterGroup`` *object* (the model has no ``physical_resource_id``) and passes
      that object on as the group's name: ``CreateStack`` fails with
      ``AttributeError: 'DBParameterGroup' object has no attribute 'startswith'``;
    * ``EnableIAMDatabaseAuthentication`` and ``DeletionProtection`` are ignored: the
      instance reports both as false.

Why the demo needs it
    The database construct gives the instance its own parameter group: without the first
    fix the regional stacks do not deploy. The integration suite checks IAM authentication
    and deletion protection
    (``tests/integration/test_database.py::test_iam_authentication_and_deletion_protection_as_configured``).

Private members
    None: the patch wraps ``DBInstance.create_from_cloudformation_json`` (no public hook
    exists) and sets public attributes of the created instance.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation AWS::RDS::DBInstance: resolve a Ref to the DB parameter group;
    read EnableIAMDatabaseAuthentication and DeletionProtection

    Reproduction (moto 5.2.5, ``mock_aws``): a template with a VPC, two subnets, an
    ``AWS::RDS::DBSubnetGroup`` ``Subnets``, an ``AWS::RDS::DBParameterGroup`` ``Params``
    and an ``AWS::RDS::DBInstance`` (MySQL) with ``DBSubnetGroupName: {"Ref": "Subnets"}``,
    ``DBParameterGroupName: {"Ref": "Params"}``, ``EnableIAMDatabaseAuthentication: true``
    and ``DeletionProtection: true``; then ``rds.describe_db_instances()``.

    Expected: the stack is created; the instance reports the parameter group's name in
    ``DBParameterGroups``, ``IAMDatabaseAuthenticationEnabled: true`` and
    ``DeletionProtection: true``.

    Actual: ``CreateStack`` fails with ``AttributeError: 'DBParameterGroup' object has no
    attribute 'startswith'``. Without the parameter group the stack is created, but both
    flags are false.

    Suggested change (``moto/rds/models.py``, ``DBInstance.create_from_cloudformation_json``,
    as it already does for ``DBSubnetGroupName``): take ``.name`` of a resolved
    ``DBParameterGroup`` (or give that model a ``physical_resource_id``), and pass
    ``enable_iam_database_authentication`` and ``deletion_protection`` from the properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tapstack_lab.moto_patches._hooks import after_cfn_create, transform_cfn_properties

NAME = "RDS instance properties"


def apply() -> None:
    from moto.rds.models import DBInstance

    # Two wrappers of the same classmethod, so two labels; the outer one runs first.
    after_cfn_create(DBInstance, f"{NAME}: ignored", _complete)
    transform_cfn_properties(DBInstance, f"{NAME}: misread", _as_moto_reads_them)


def _as_moto_reads_them(properties: dict[str, Any]) -> None:
    group = properties.get("DBParameterGroupName")
    if group is not None and not isinstance(group, str):  # the resolved Ref: moto's object
        properties["DBParameterGroupName"] = getattr(group, "name", str(group))


def _complete(database: Any, properties: Mapping[str, Any], account_id: str, region: str) -> None:
    database.enable_iam_database_authentication = bool(
        properties.get("EnableIAMDatabaseAuthentication", False)
    )
    database.deletion_protection = bool(properties.get("DeletionProtection", False))

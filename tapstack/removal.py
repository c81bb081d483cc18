"""Removal policies: what CloudFormation does with a stateful resource on delete."""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from tapstack.config import TapStackConfig


def removal_policy(config: TapStackConfig) -> RemovalPolicy:
    """Retain in retain mode (production), DESTROY in destroy mode (throwaway).

    Retain mode is ``RetainExceptOnCreate`` (CDK: ``RETAIN_ON_UPDATE_OR_DELETE``), not
    ``Retain``: CloudFormation honours ``Retain`` even when the *create* itself rolls back,
    so a failed first deploy would leave named buckets, vaults and log groups behind and
    every retry would fail with "already exists". ``RetainExceptOnCreate`` deletes what a
    failed create made and keeps everything once the stack has been created.
    """
    return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if config.is_retain else RemovalPolicy.DESTROY


def retains(policy: RemovalPolicy) -> bool:
    """Whether ``policy`` keeps the resource when its stack is deleted (retain mode)."""
    return policy in (
        RemovalPolicy.RETAIN,
        RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        RemovalPolicy.SNAPSHOT,
    )

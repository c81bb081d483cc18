"""Small helpers shared by the stacks."""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from tapstack.config import TapStackConfig


def removal_policy(config: TapStackConfig) -> RemovalPolicy:
    """RETAIN in retain mode (production), DESTROY in destroy mode (throwaway)."""
    return RemovalPolicy.RETAIN if config.is_retain else RemovalPolicy.DESTROY

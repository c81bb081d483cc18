"""Failover operations: ``status``, ``failover``, ``switchover``, ``failback`` and ``drill``.

The orchestration (:mod:`tapstack.operations.orchestration`) is written once over the
provider interface (:mod:`tapstack.operations.provider`); the AWS provider
(:mod:`tapstack.operations.aws_provider`) is the product, and the failover lab plugs a local
provider into the same code. The writer region is configuration
(:mod:`tapstack.operations.config_file` edits it), so every change is a reviewable diff and
CloudFormation keeps owning every resource.
"""

"""Policy gates run at synthesis: cdk-nag's AWS Solutions and NIST 800-53 rev5
packs, and the acknowledgements of findings TapStack accepts on purpose.

Every acknowledgement is made with :func:`acknowledge` on the narrowest
construct, names the exact finding (``AwsSolutions-IAM5[Resource::...]``) and
gives the reason; :func:`acknowledgements` lists them all (the README's
table is checked against it by a test).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

ACKNOWLEDGED = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
#: The rule packs, by the prefix of their finding IDs.
PACKS = ("AwsSolutions", "NIST.800.53.R5")


def register_policy_packs(app: cdk.App) -> None:
    """Run both packs on every stack of the app; any unacknowledged finding fails synthesis."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Accept one finding on one construct, for a reason a reviewer can check."""
    if len(reason) < 30:
        raise ValueError(f"acknowledgement of {finding} needs a real reason, got {reason!r}")
    pack = next((p for p in PACKS if finding.startswith(f"{p}-")), None)
    if pack is None:
        raise ValueError(f"{finding!r} is not a finding of {' or '.join(PACKS)}")
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{pack}::{finding}", reason=reason)
    )


@dataclass(frozen=True)
class Acknowledgement:
    path: str
    finding: str
    reason: str


def acknowledgements(scope: IConstruct) -> list[Acknowledgement]:
    """Every acknowledgement of a cdk-nag finding made under ``scope``.

    (CDK records its own acknowledgements of cfn-lint rules the same way;
    those are not listed.)"""
    found = []
    for node in scope.node.find_all():
        for entry in node.node.metadata:
            if entry.type != ACKNOWLEDGED:
                continue
            data = entry.data
            for rule, reason in data.items():
                pack, _, finding = rule.partition("::")
                if pack in PACKS:
                    found.append(Acknowledgement(node.node.path, finding, reason))
    return found

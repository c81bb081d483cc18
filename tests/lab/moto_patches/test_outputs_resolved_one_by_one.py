"""An output moto cannot resolve is left out on its own; the stack and its other outputs stay."""

from __future__ import annotations

from typing import Any

from tests.lab.moto_patches.moto_support import create_stack, unpatched_then_patched


def output_of_an_unmodelled_type() -> dict[str, Any]:
    return create_stack(
        {
            "Resources": {
                "Vault": {
                    "Type": "AWS::Backup::BackupVault",  # moto has no model for it
                    "Properties": {"BackupVaultName": "vault"},
                },
                "Topic": {"Type": "AWS::SNS::Topic"},
            },
            "Outputs": {
                "VaultArn": {"Value": {"Fn::GetAtt": ["Vault", "BackupVaultArn"]}},
                "TopicArn": {"Value": {"Ref": "Topic"}},
            },
        }
    )


def test_an_unresolvable_output_is_left_out_and_the_others_are_reported() -> None:
    outcome = unpatched_then_patched(
        __file__, "output_of_an_unmodelled_type", "outputs_resolved_one_by_one"
    )

    # moto 5.2.5: an internal error out of CreateStack; no stack.
    assert "'NoneType' object has no attribute 'has_cfn_attr'" in outcome.unpatched["create_error"]
    assert "does not exist" in outcome.unpatched["describe_error"]

    assert outcome.patched["status"] == "CREATE_COMPLETE"
    assert list(outcome.patched["outputs"]) == ["TopicArn"]
    assert outcome.patched["outputs"]["TopicArn"].startswith("arn:aws:sns:us-east-1:")
    assert [(e["event"], e["output"]) for e in outcome.journal] == [
        ("output_unresolved", "VaultArn")
    ]

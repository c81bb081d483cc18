"""Removal policies: destroy mode lets every stateful resource go."""

from __future__ import annotations

from tests.support import Synthesized


def test_destroy_mode_lets_everything_go(synth_variant: Synthesized) -> None:
    db = synth_variant.one("primary", "AWS::RDS::DBInstance")
    assert db["DeletionPolicy"] == "Delete"
    assert db["Properties"]["DeletionProtection"] is False
    assert db["Properties"]["DeleteAutomatedBackups"] is True
    for kind in ("primary", "secondary-storage"):
        for rtype in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Backup::BackupVault"):
            for resource in synth_variant.resources(kind, rtype).values():
                assert resource["DeletionPolicy"] == "Delete", (kind, rtype)

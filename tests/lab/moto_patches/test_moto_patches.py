"""The patch set as a whole: it refuses an untested moto, and applies once."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from tapstack_lab import moto_patches
from tests.lab.moto_patches.moto_support import ROOT


def test_the_installed_moto_is_the_tested_one() -> None:
    assert metadata.version("moto") == moto_patches.TESTED_MOTO
    moto_patches.check_moto_version()  # does not raise


def test_another_moto_version_is_refused_naming_both_versions_and_the_way_out() -> None:
    with pytest.raises(
        moto_patches.UntestedMotoError,
        match=r"moto 5\.3\.0 is installed.*tested with moto 5\.2\.5 only.*"
        r"pip install 'moto\[server\]==5\.2\.5'",
    ):
        moto_patches.check_moto_version("5.3.0")


def test_the_version_is_checked_before_any_patch_is_applied() -> None:
    # In a fresh interpreter: had a patch been applied, it would leak into this session.
    script = """
import tapstack_lab.moto_patches as patches
from moto.cloudformation import parsing
original = parsing.clean_json
patches.installed_moto = lambda: "5.3.0"
try:
    patches.apply_all()
except patches.UntestedMotoError:
    print("refused", parsing.clean_json is original)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.split() == ["refused", "True"]


def test_applying_twice_changes_nothing_more() -> None:
    script = """
import tapstack_lab.moto_patches as patches
from moto.cloudformation import models, parsing
from moto.rds.models import DBInstance, RDSBackend
from moto.route53.models import HealthCheck
def installed():
    return (parsing.clean_json, parsing.parse_output, models.Stack.create_resources,
            DBInstance.create_from_cloudformation_json.__func__,
            RDSBackend.create_db_instance_read_replica,
            parsing.get_model_map()["AWS::CertificateManager::Certificate"],
            HealthCheck.create_from_cloudformation_json.__func__)
patches.apply_all()
first = installed()
patches.apply_all()
print(all(a is b for a, b in zip(first, installed())))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "True"


def test_every_patch_module_states_gap_reason_and_upstream_report() -> None:
    for patch in moto_patches.PATCHES:
        doc = patch.__doc__ or ""
        for section in ("Gap", "Why the demo needs it", "Private members", "Upstream report"):
            assert f"\n{section}" in doc, f"{patch.__name__}: no {section!r} section"
        assert "docs.aws.amazon.com" in doc, f"{patch.__name__}: no AWS reference"
        assert callable(patch.apply) and patch.NAME

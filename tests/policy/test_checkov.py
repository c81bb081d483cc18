"""checkov (CloudFormation framework) finds nothing in the synthesized
templates except the findings listed, with reasons, in policy/checkov-skips.yaml."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from tests.support import ROOT, Synthesized

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS = ROOT / "policy" / "checkov-skips.yaml"


#: Where the writer, the standby's replica and a promoted replica are, for the default
#: writer (primary).
WRITER_PRIMARY = {"writer": "primary", "replica": "secondary"}
#: ... and with the writer moved to the secondary region.
WRITER_SECONDARY = {"writer": "secondary", "replica": "primary", "promoted": "secondary"}


def _skips(
    https: bool,
    replica_multi_az: bool,
    roles: dict[str, str] = WRITER_PRIMARY,
    writer_multi_az: bool = True,
) -> set[tuple[str, str, str]]:
    entries = yaml.safe_load(SKIPS.read_text())
    skips = set()
    for entry in entries:
        assert len(entry["reason"]) > 40, f"{entry['check']}: give a real reason"
        assert entry.get("when") in (
            None,
            "http-only",
            "single-az-replica",
            "single-az-writer",
        ), entry
        if entry.get("when") == "http-only" and https:
            continue
        if entry.get("when") == "single-az-replica" and replica_multi_az:
            continue
        if entry.get("when") == "single-az-writer" and writer_multi_az:
            continue
        for template in entry["template"]:
            if template in ("writer", "replica", "promoted"):
                if template not in roles:
                    continue
                template = roles[template]
            skips.add((entry["check"], template, entry["resource"]))
    return skips


def _failed(outdir: Any, prefix: str = "tapstack-prod") -> set[tuple[str, str, str]]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup`")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(outdir),
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = set()
    for report in reports:
        for check in report["results"]["failed_checks"]:
            template = check["file_path"].rsplit("/", 1)[-1].removesuffix(".template.json")
            kind = template.removeprefix(f"{prefix}-")
            failed.add((check["check_id"], kind, check["resource"].split(".", 1)[1]))
    return failed


def test_checkov_finds_nothing_beyond_the_reviewed_skip_list(synth: Synthesized) -> None:
    failed = _failed(synth.outdir)
    skips = _skips(https=True, replica_multi_az=False)
    assert failed - skips == set(), "new checkov findings: fix them or list them with a reason"
    assert skips - failed == set(), "stale entries in policy/checkov-skips.yaml"


def test_checkov_finds_nothing_new_once_the_writer_moved_to_the_secondary_region(
    synth_writer_secondary: Synthesized,
) -> None:
    failed = _failed(synth_writer_secondary.outdir)
    skips = _skips(https=True, replica_multi_az=False, roles=WRITER_SECONDARY)
    assert failed - skips == set(), "new checkov findings: fix them or list them with a reason"
    assert skips - failed == set(), "stale entries in policy/checkov-skips.yaml"


def test_the_default_configuration_needs_no_plain_http_skip() -> None:
    """HTTPS by default: no skip for a listener serving plain HTTP applies to it."""
    listener = "WebLoadBalancerHttpListener6E69E303"
    assert {s for s in _skips(https=True, replica_multi_az=False) if s[2] == listener} == set()


def test_checkov_finds_only_the_plain_http_findings_more_with_https_off(
    synth_http_only: Synthesized,
) -> None:
    failed = _failed(synth_http_only.outdir)
    skips = _skips(https=False, replica_multi_az=False)
    assert failed - skips == set(), "new checkov findings: fix them or list them with a reason"
    assert skips - failed == set(), "stale entries in policy/checkov-skips.yaml"
    plain_http = {(c, kind) for c, kind, r in failed if r == "WebLoadBalancerHttpListener6E69E303"}
    assert plain_http == {
        (check, kind) for check in ("CKV_AWS_2", "CKV_AWS_103") for kind in ("primary", "secondary")
    }


def test_checkov_finds_nothing_in_the_lean_profile_beyond_its_single_az_writer(
    synth_lean: Synthesized,
) -> None:
    """config/lean.yaml: the production profile's reviewed findings, and one more, the
    single-AZ writer it chooses (database.multi_az: false)."""
    config = synth_lean.built.primary.config
    assert config.database.multi_az is False
    failed = _failed(synth_lean.outdir, prefix=config.prefix)
    skips = _skips(https=True, replica_multi_az=False, writer_multi_az=False)
    assert ("CKV_AWS_157", "primary", "DatabaseInstanceAA8A5FDE") in failed
    assert failed - skips == set(), "new checkov findings: fix them or list them with a reason"
    assert skips - failed == set(), "stale entries in policy/checkov-skips.yaml"

"""cfn-lint reports nothing on any synthesized template: no errors, and no
warnings except those ignored, with their reasons, in .cfnlintrc.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, Synthesized


@pytest.mark.parametrize("shape", ["synth", "synth_writer_secondary", "synth_lean"])
def test_cfn_lint_reports_no_findings(request: pytest.FixtureRequest, shape: str) -> None:
    synth: Synthesized = request.getfixturevalue(shape)
    templates = sorted(str(p) for p in synth.outdir.glob("*.template.json"))
    assert len(templates) == 4
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        cwd=ROOT,  # picks up .cfnlintrc.yaml
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == "", result.stdout
    assert result.returncode == 0, result.stderr


def test_every_ignored_cfn_lint_rule_has_a_reason() -> None:
    lines = (ROOT / ".cfnlintrc.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("- "):
            assert lines[index - 1].strip().startswith("#"), f"no reason above {line.strip()}"

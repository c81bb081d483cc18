"""cfn-lint finds no errors in any synthesized template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, Synthesized


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    templates = sorted(str(p) for p in synth.outdir.glob("*.template.json"))
    assert len(templates) == 3
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line or line.count(":E")]
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr  # 2 = errors
    assert result.returncode & 2 == 0, result.stdout
    assert errors == []

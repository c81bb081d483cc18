"""The emulator's child process refuses an untested moto and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_emulator_does_not_start_on_an_untested_moto(tmp_path: Path) -> None:
    script = """
import sys
import tapstack_lab.moto_patches as patches
from tapstack_lab.emulator import serve
patches.installed_moto = lambda: "5.3.0"
sys.exit(serve(["--port", "0"]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 2
    assert "TAPSTACK-EMULATOR-READY" not in done.stdout
    assert "moto 5.3.0 is installed" in done.stderr
    assert "tested with moto 5.2.5 only" in done.stderr

"""The demo (tapstack_lab.demo) holds a lock: two demos from one project would overwrite each
other's cdk.out/ and cfn-outputs/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tapstack_lab.demo import DemoBusy, demo_lock

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from tapstack_lab.demo import demo_lock
with demo_lock(Path({path!r})):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_demo_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    lock = tmp_path / "demo.lock"
    root = str(Path(__file__).resolve().parents[2])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(root=root, path=str(lock))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = rf"already running .*\(pid {holder.pid}\)"
        with pytest.raises(DemoBusy, match=busy), demo_lock(lock):
            pass
    finally:
        holder.kill()
        holder.wait()
    with demo_lock(lock):  # the kernel released it with the process: no stale lock
        pass

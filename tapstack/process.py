"""Child processes that never outlive the command that started them.

Every child is started in its own process group (``start_new_session=True``): a Ctrl-C in
the terminal reaches only our process, which then stops the whole group - the child and
anything it started - with SIGTERM, then SIGKILL. The group is signalled while its leader is
still unreaped (``waitid(WNOWAIT)``), so the group ID can never have been reused by an
unrelated process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


def _exited_unreaped(pid: int) -> bool:
    """True once ``pid`` has exited; leaves it unreaped (a zombie keeps its group ID)."""
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped
    return result is not None


def _wait_exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _exited_unreaped(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ignore Ctrl-C while cleaning up (a second Ctrl-C must not leave children behind).
    Cleanup is bounded: at most ``timeout`` seconds per process, then SIGKILL."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def terminate_process_group(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop ``process`` (started with ``start_new_session=True``) and its whole group:
    SIGTERM, then SIGKILL after ``timeout`` seconds; stragglers of an exited leader too.
    Ctrl-C is ignored meanwhile."""
    with sigint_deferred():
        _terminate(process, timeout)


def _terminate(process: subprocess.Popen[Any], timeout: float) -> None:
    if process.returncode is not None:
        return  # reaped earlier: its group ID may belong to someone else by now
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if not _exited_unreaped(process.pid):
        _killpg(process.pid, signal.SIGTERM)
        _wait_exited(process.pid, timeout)
    _killpg(process.pid, signal.SIGKILL)  # the leader is a zombie at most: the ID is ours
    process.wait()


def reap(process: subprocess.Popen[Any]) -> int:
    """Wait for a child that is finishing, SIGKILL what it left in its group, reap it."""
    if process.returncode is None:
        _wait_exited(process.pid, timeout=3600)
        _killpg(process.pid, signal.SIGKILL)
    return process.wait()


@dataclass
class Completed:
    """A finished command: exit status and its combined output."""

    returncode: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log: IO[str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    interactive: bool = False,
) -> Completed:
    """Run ``command`` in its own process group, streaming its output (stdout and stderr
    together) line by line to ``log`` and ``on_line``. On any exception - Ctrl-C included -
    the whole group is stopped before the exception propagates."""
    started = time.monotonic()
    if log is not None:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
    process = subprocess.Popen(
        list(command),
        stdin=None if interactive else subprocess.DEVNULL,  # interactive: approval prompts
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if log is not None:
                log.write(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f"{command[0]} ran longer than {timeout:.0f}s")
        returncode = reap(process)
    except BaseException:
        terminate_process_group(process)
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()
        if log is not None:
            log.flush()
    return Completed(returncode, "".join(lines), time.monotonic() - started)


def which_in(directory: Path, name: str) -> Path | None:
    candidate = directory / name
    return candidate if candidate.exists() else None

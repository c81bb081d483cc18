"""The embedded AWS emulator: moto's server mode on 127.0.0.1, owned by the caller.

``Emulator`` starts ``python -m tapstack_lab.emulator`` as a child process (its own process
group), waits until it listens on a free port of 127.0.0.1 and stops it again on exit::

    with Emulator() as emulator:
        env = {**os.environ, **emulator.environment("us-east-1")}
        subprocess.run(["cdk", "deploy", ...], env=env)

Why a child process and not ``ThreadedMotoServer`` in the caller's own process:

* cleanup is certain: the child exits when its standard input closes (the parent died, even
  by SIGKILL); ``stop()`` signals its whole process group. (No ``preexec_fn``: Python code
  between fork and exec is unsafe in a threaded parent such as a pytest session.) Nothing
  survives the command that started it unless it asked for ``detached=True``
  (``make demo DEMO_ARGS=--keep``);
* moto's state is global per process: a test elsewhere in the same pytest session that uses
  ``moto.mock_aws`` would reset or intercept the emulator's backends;
* the emulator gets its own interpreter (and GIL) on a second core while the CDK CLI and
  pytest run.

The child serves moto with TapStack's patches (``tapstack_lab.moto_patches``, one module per
gap of moto, each with its test and the text of an upstream report), so that the
*unchanged* synthesized templates deploy with the real CDK CLI. They change moto in the
emulator process only - never a template. The child refuses to start on a moto version
other than the one the patches were tested with (``moto_patches.TESTED_MOTO``).

Every placeholder the patches use and every output left out is written to a JSON Lines
journal (``--journal``); the demo lists them. The resource types that were not emulated are
read back from the deployment itself (``tapstack_lab.deploy``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tapstack.aws import ClientFactory, client_factory
from tapstack.process import terminate_process_group
from tapstack_lab import moto_patches
from tapstack_lab.lifecycle import Lifecycle
from tapstack_lab.moto_patches import journal as moto_patches_journal

#: moto's default account; the emulator serves the configuration's account when it differs.
DEFAULT_ACCOUNT = "123456789012"
#: Dummy credentials: moto accepts any, and nothing real must ever be used against it.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy for the emulator
    "AWS_SESSION_TOKEN": "testing",
}
_READY = "TAPSTACK-EMULATOR-READY"
logger = logging.getLogger("tapstack.emulator")


class EmulatorError(RuntimeError):
    """The emulator did not start."""


class Emulator(Lifecycle):
    """A moto server in a child process, listening on 127.0.0.1 on a free (or given) port."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int = 0,
        account: str = DEFAULT_ACCOUNT,
        workdir: str | os.PathLike[str] | None = None,
        detached: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        """``workdir`` holds the emulator's log and journal (a temporary directory if unset).

        ``detached=True`` lets the emulator outlive this process (``make demo DEMO_ARGS=--keep``):
        it no longer watches its standard input or the parent's death; stop it with
        ``kill <pid>`` (printed by the demo).
        """
        self.port = port
        self.account = account
        self.detached = detached
        self.startup_timeout = startup_timeout
        self._workdir = Path(workdir) if workdir is not None else None
        self._own_workdir = False
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ paths
    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the emulator is not started")
        return self._workdir

    @property
    def log_path(self) -> Path:
        return self.workdir / "emulator.log"

    @property
    def journal_path(self) -> Path:
        return self.workdir / "journal.jsonl"

    @property
    def endpoint(self) -> str:
        """The endpoint URL: ``localhost``, not the IP (the CDK CLI's S3 client needs a name)."""
        if not self.port:
            raise RuntimeError("the emulator is not started")
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def environment(self, region: str | None = None) -> dict[str, str]:
        """Environment variables that point AWS SDKs and CLIs (boto3, the CDK CLI) at it."""
        env = {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}
        if region:
            env |= {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
        return env

    # -------------------------------------------------------------- lifecycle
    def clients(self) -> ClientFactory:
        """``client(service, region)`` for this emulator, each client made once (making a
        boto3 client costs more than most calls)."""
        make = client_factory(self.environment())
        made: dict[tuple[str, str], Any] = {}

        def client(service: str, region: str) -> Any:
            if (service, region) not in made:
                made[service, region] = make(service, region)
            return made[service, region]

        return client

    def reset(self) -> None:
        """Forget every resource (moto's reset API): a clean account, in the same process."""
        # S310: the URL is our own emulator's, always http://localhost.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=10):  # noqa: S310
            pass

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("the emulator is already started")
        if self._workdir is None:
            import tempfile

            self._workdir = Path(tempfile.mkdtemp(prefix="tapstack-emulator-"))
            self._own_workdir = not self.detached  # a detached emulator keeps its log
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = [
            sys.executable,
            "-m",
            "tapstack_lab.emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--journal",
            str(self.journal_path),
        ]
        if not self.detached:
            command.append("--exit-on-stdin-eof")
        # The child needs no AWS configuration of ours: no endpoint, no real credentials.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {"MOTO_ACCOUNT_ID": self.account, "PYTHONUNBUFFERED": "1"}
        # The lab is not installed with the product: the child finds it beside the repo root.
        lab_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (lab_root, env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if self.detached else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,  # own process group: Ctrl-C reaches us, we stop it
        )
        try:
            self.port = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        found: list[int] = []

        def read() -> None:
            assert self._process is not None and self._process.stdout is not None
            for raw in self._process.stdout:
                line = raw.decode(errors="replace").strip()
                if line.startswith(_READY):
                    found.append(int(line.split()[1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not found:
            tail = self.log_tail()
            if self._process.poll() is not None:
                raise EmulatorError(f"the emulator exited during startup:\n{tail}")
            raise EmulatorError(
                f"the emulator did not start within {self.startup_timeout:.0f}s:\n{tail}"
            )
        port = found[0]
        self._process.stdout.close()  # the child sends nothing else there
        # The port is bound before READY is printed; one request proves the app answers.
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(  # our own local endpoint
                    f"http://{self.host}:{port}/moto-api/data.json", timeout=5
                ):
                    return port
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the emulator and everything in its process group. Safe to call twice."""
        process, self._process = self._process, None
        try:
            if process is not None:
                terminate_process_group(process)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._own_workdir and self._workdir is not None:
                import shutil

                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def release(self) -> int | None:
        """Forget a *detached* emulator so that ``stop()`` leaves it running; returns its pid."""
        if not self.detached:
            raise RuntimeError("only a detached emulator outlives its owner")
        process, self._process = self._process, None
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.pid if process is not None else None

    # ------------------------------------------------------------- reading
    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except (OSError, RuntimeError):
            return "(no emulator log)"

    def journal(self) -> list[dict[str, Any]]:
        """What the emulator skipped or could not resolve, as it went (see the module doc)."""
        try:
            lines = self.journal_path.read_text().splitlines()
        except (OSError, RuntimeError):
            return []
        return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------------
# The child process: moto's server with TapStack's patches
# ---------------------------------------------------------------------------


def serve(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tapstack_lab.emulator",
        description="Serve the TapStack emulator (moto) until stopped.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument(
        "--journal", type=Path, help="JSON Lines file of what the patches replaced or left out"
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (the parent died or stopped us)",
    )
    args = parser.parse_args(argv)

    moto_patches_journal.configure(args.journal)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Quiet the request log; keep moto's own warnings (unsupported types) in the log file.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    try:
        applied = moto_patches.apply_all()
    except moto_patches.UntestedMotoError as error:
        logger.error("%s", error)
        return 2
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    print(f"{_READY} {port}", flush=True)
    # Nobody reads our stdout after this line (a detached emulator's reader is gone): send
    # anything printed later to stderr, the log file, instead of a closed pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logger.warning("listening on %s:%s; moto patches: %s", args.host, port, applied)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            with contextlib.suppress(OSError, ValueError):
                while sys.stdin.buffer.read(4096):
                    pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(1.0):
        pass
    # A daemon thread serves requests: leaving the process ends it. server.stop() could
    # block on a request in flight, and nothing needs to be flushed.
    return 0


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[Emulator]:
    """``with running() as emulator:`` - shorthand for ``with Emulator(**kwargs)``."""
    with Emulator(**kwargs) as emulator:
        yield emulator


if __name__ == "__main__":
    raise SystemExit(serve())

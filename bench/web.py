#!/usr/bin/env python3
"""Measure the web server's memory and CPU under the load one instance serves.

    python bench/web.py                       # 20 s per phase
    python bench/web.py --seconds 60 --page-rate 5 --no-database

Runs ``tapstack/web/runtime/server.py`` on the web tier's Python (``.venv-web``, 3.9 like
Amazon Linux 2023's) as it runs on an instance: its database probe against a throwaway
local MariaDB (``LocalMariaDB``; ``--no-database`` for none), a probe account that is
refused, as on RDS. The load comes from this process, one new connection per request, at
fixed rates (requests spread evenly in time):

- Route 53: every health check on the region's name sends ``/health`` from each of its 16
  checkers every interval (10 s fast, 30 s standard). The secondary region's load balancer
  takes two checks (its own and the us-east-1 stack's watch), and ``--instances`` (1)
  instances share them: the worst case is one instance taking all of it.
- The load balancer's target-group check: ``/livez`` every 10 s from each of its nodes
  (one per AZ, two).
- Page requests: ``GET /`` at ``--page-rate`` a second.

Phases: idle (no requests), the profile's load (production: fast checks; lean: standard),
and 10x the production load. For each: the server's resident memory at the end and its peak
(``VmRSS``, ``VmHWM``), its CPU time over the phase as a share of one vCPU (``utime`` +
``stime`` from ``/proc``), the requests served and their median and p99 latency. Printed
against a t4g.micro's 1 GiB and its baseline (10% of each of its 2 vCPUs, 12 CPU credits an
hour: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html).
CPU is this machine's, not a Graviton core's: the share is an indication, not a measurement
on the instance.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SERVER = REPO / "tapstack" / "web" / "runtime" / "server.py"
WEB_PYTHON = REPO / ".venv-web" / "bin" / "python"
CHECKERS = 16
ALB_NODES = 2
ALB_INTERVAL = 10
#: t4g.micro: 1 GiB, 2 vCPUs, baseline 10% of each (https://aws.amazon.com/ec2/instance-types/t4/).
INSTANCE_MEMORY_MIB = 1024
BASELINE_SHARE_OF_ONE_VCPU = 0.20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    """Requests a second by path."""

    name: str
    rates: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.rates.values())


@dataclass
class Result:
    load: Load
    rss_mib: float
    peak_mib: float
    cpu_share: float
    latencies: list[float] = field(default_factory=list)
    failures: int = 0


def loads(page_rate: float, instances: int) -> list[Load]:
    """Idle, production (two fast checks on the secondary's name), lean (standard), 10x."""

    def load(name: str, interval: int, factor: float = 1.0) -> Load:
        health = 2 * CHECKERS / interval / instances
        return Load(
            name,
            {
                "/health": health * factor,
                "/livez": ALB_NODES / ALB_INTERVAL * factor,
                "/": page_rate / instances * factor,
            },
        )

    return [
        Load("idle", {}),
        load("production (fast checks)", 10),
        load("lean (standard checks)", 30),
        load("10x production", 10, 10.0),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def database(enabled: bool) -> Iterator[tuple[str, int] | None]:
    if not enabled:
        yield None
        return
    from tapstack_lab.mariadb import LocalMariaDB

    with LocalMariaDB(settings={"innodb-buffer-pool-size": "32M"}) as db:
        yield db.host, db.port


@contextmanager
def server(port: int, db: tuple[str, int] | None) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TAPSTACK_REGION": "us-west-2",
        "TAPSTACK_ROLE": "standby",
        "TAPSTACK_BIND": "127.0.0.1",
        "TAPSTACK_PORT": str(port),
        "TAPSTACK_INSTANCE_ID": "i-0bench00000000000",
    }
    if db is not None:
        env.update(
            TAPSTACK_DB_HOST=db[0],
            TAPSTACK_DB_PORT=str(db[1]),
            TAPSTACK_DB_PROBE_USER="tapstack_health",
        )
    process = subprocess.Popen(
        [str(WEB_PYTHON), str(SERVER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        return _get(port, "/livez") == 200
    except OSError:
        return False


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _kib(value: str) -> float:
    return int(value.strip().split()[0]) / 1024


def run_phase(process: subprocess.Popen[bytes], port: int, load: Load, seconds: float) -> Result:
    result = Result(load, 0, 0, 0)
    lock = threading.Lock()

    def send(path: str, rate: float) -> None:
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + sent / rate
            if now < due:
                time.sleep(min(due - now, 0.05))
                continue
            sent += 1
            began = time.monotonic()
            try:
                ok = _get(port, path) in (200, 503)
            except OSError:
                ok = False
            with lock:
                if ok:
                    result.latencies.append(time.monotonic() - began)
                else:
                    result.failures += 1

    cpu_before = _cpu_seconds(process.pid)
    wall_before = time.monotonic()
    threads = [threading.Thread(target=send, args=(p, r)) for p, r in load.rates.items() if r > 0]
    for thread in threads:
        thread.start()
    if not threads:
        time.sleep(seconds)
    for thread in threads:
        thread.join()
    status = _status(process.pid)
    result.cpu_share = (_cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - wall_before)
    result.rss_mib, result.peak_mib = _kib(status["VmRSS"]), _kib(status["VmHWM"])
    return result


def report(results: list[Result], seconds: float, instances: int, with_db: bool) -> None:
    print(
        f"\nweb server on {WEB_PYTHON.name} {_python_version()}, {seconds:g} s per phase, "
        f"load of the busier (secondary) region shared by {instances} instance(s), "
        f"database probe {'on (local MariaDB)' if with_db else 'off'}"
    )
    header = (
        f"{'phase':<27}{'req/s':>7}{'served':>8}{'failed':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'RSS MiB':>9}{'peak MiB':>9}{'CPU % of 1 vCPU':>17}{'of baseline':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ms = sorted(1000 * x for x in r.latencies)
        p50 = statistics.median(ms) if ms else 0.0
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0.0
        print(
            f"{r.load.name:<27}{r.load.total:>7.2f}{len(ms):>8}{r.failures:>7}{p50:>8.1f}{p99:>8.1f}"
            f"{r.rss_mib:>9.1f}{r.peak_mib:>9.1f}{100 * r.cpu_share:>17.2f}"
            f"{100 * r.cpu_share / BASELINE_SHARE_OF_ONE_VCPU:>12.1f}%"
        )
    peak = max(r.peak_mib for r in results)
    baseline = 100 * BASELINE_SHARE_OF_ONE_VCPU
    print(
        f"\nt4g.micro: {INSTANCE_MEMORY_MIB} MiB; the server's peak is {peak:.1f} MiB "
        f"({100 * peak / INSTANCE_MEMORY_MIB:.1f}%). Baseline: {baseline:.0f}% "
        "of one vCPU (10% of each of 2); below it the instance earns credits, and in unlimited "
        "mode pays nothing extra."
    )


def _python_version() -> str:
    out = subprocess.run([str(WEB_PYTHON), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--page-rate", type=float, default=2.0, help="page requests a second")
    parser.add_argument("--instances", type=int, default=1, help="instances sharing the load")
    parser.add_argument("--no-database", action="store_true", help="no database probe")
    args = parser.parse_args()
    if not WEB_PYTHON.exists():
        print(f"error: {WEB_PYTHON} is missing: run `make runtime-venvs`", file=sys.stderr)
        return 2
    port = free_port()
    results = []
    with database(not args.no_database) as db, server(port, db) as process:
        for load in loads(args.page_rate, args.instances):
            print(f"phase: {load.name} ({load.total:.2f} requests/s)...", flush=True)
            results.append(run_phase(process, port, load, args.seconds))
    report(results, args.seconds, args.instances, not args.no_database)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark the TapStack loader against a naive loader and LOAD DATA LOCAL INFILE.

    python bench/loader.py                     # 1,000,000 records
    python bench/loader.py --records 200000 --ids sequential

One throwaway MariaDB (``LocalMariaDB``, same settings for every method: see
``tapstack_lab/mariadb.py``; ``innodb_flush_log_at_trx_commit=1``, the durable default, as
on RDS) and one S3 emulator (``moto_server`` in a separate process, so the emulator's copy of
the object is not counted in the loader's memory). Every method loads into an empty
(truncated) ``events`` table, runs in a fresh Python process (so its peak memory is its own),
and its row count is checked afterwards:

(a) naive: one autocommitted ``INSERT`` per record, reading the JSON Lines file. With the
    default 1M records it runs on the first ``--naive-sample`` records (50,000) and reports
    that sample's rows/s.
(b) TapStack loader: ``Loader.handle_event`` with a real S3 event for the JSON Lines object in
    the emulated S3 (timed from the event to the manifest saying ``loaded``).
(c) ``LOAD DATA LOCAL INFILE`` of an equivalent tab-separated file (same rows, timestamps
    already in UTC): the practical upper limit for this server.

Peak memory is the growth of the process's peak resident set (``VmHWM``) during the load.
The memory-scaling check runs the loader on N/10 and N records (``--memory-up``: N and 10N)
and compares both that and the peak of Python allocations (``tracemalloc``, separate untimed
runs, because tracing slows Python down). The RSS figure of each size is the highest of
``--repeat`` runs (the timed runs at N, as many more at the other size): one run's peak
depends on whether its batches in flight happened to coincide, which moved it by +-2.5 MiB
between runs of the same size.

Records: ``id`` a random UUID (``--ids sequential`` for ordered ids), ``occurred_at`` in 2024
with a mix of UTC offsets, one of 12 ``type``s, and a nested ``payload`` of about 250 bytes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BUCKET = "tapstack-bench"
DATABASE = "tapstack_bench"
LOADER_USER = "tapstack_loader"
LOADER_PASSWORD = "bench-only-password"  # a throwaway local server, deleted after the run
REGION = "us-east-1"
TYPES = (
    "page_view",
    "click",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "refund",
    "login",
    "logout",
    "signup",
    "review",
)
TAGS = ("mobile", "desktop", "beta", "promo", "returning", "new", "eu", "us", "apac", "vip")
OFFSETS = ("Z", "+00:00", "+01:00", "+02:00", "-05:00", "-08:00", "+05:30", "+09:00")
CURRENCIES = ("EUR", "USD", "GBP", "JPY")


# ----------------------------------------------------------------- data set
def generate(n: int, seed: int, ids: str) -> Iterator[tuple[str, str, str, str, str]]:
    """(json_line, id, utc_datetime_text, type, payload_json) for n deterministic records."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for i in range(n):
        if ids == "uuid4":
            record_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        else:
            record_id = f"evt-{i:012d}"
        moment = start + timedelta(microseconds=rng.randrange(366 * 86_400_000_000))
        offset = rng.choice(OFFSETS)
        if offset in ("Z", "+00:00"):
            local, suffix = moment, offset
        else:
            sign = 1 if offset[0] == "+" else -1
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
            local, suffix = moment.astimezone(timezone(delta)), offset
        occurred_at = local.replace(tzinfo=None).isoformat(timespec="microseconds") + suffix
        payload = {
            "user_id": f"u-{rng.randrange(1_000_000):07d}",
            "session": f"{rng.getrandbits(64):016x}",
            "amount": round(rng.random() * 500, 2),
            "currency": rng.choice(CURRENCIES),
            "items": [
                {"sku": f"sku-{rng.randrange(50_000):05d}", "qty": rng.randint(1, 5)}
                for _ in range(rng.randint(0, 3))
            ],
            "tags": rng.sample(TAGS, rng.randint(0, 3)),
            "page": f"/products/{rng.randrange(10_000)}?ref=campaign-{rng.randrange(100)}",
        }
        event_type = rng.choice(TYPES)
        payload_json = dumps(payload)
        line = dumps(
            {"id": record_id, "occurred_at": occurred_at, "type": event_type, "payload": payload}
        )
        utc_text = moment.replace(tzinfo=None).isoformat(" ", timespec="microseconds")
        yield line, record_id, utc_text, event_type, payload_json


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def write_files(directory: Path, n: int, seed: int, ids: str) -> tuple[Path, Path]:
    jsonl, tsv = directory / f"events-{n}.jsonl", directory / f"events-{n}.tsv"
    with jsonl.open("w", encoding="utf-8") as lines, tsv.open("w", encoding="utf-8") as table:
        for line, record_id, utc_text, event_type, payload_json in generate(n, seed, ids):
            lines.write(line + "\n")
            fields = (record_id, utc_text, event_type, payload_json)
            table.write("\t".join(f.translate(_TSV_ESCAPES) for f in fields) + "\n")
    return jsonl, tsv


def head_lines(source: Path, target: Path, n: int) -> Path:
    with source.open("rb") as src, target.open("wb") as dst:
        for _ in range(n):
            dst.write(src.readline())
    return target


# ----------------------------------------------------------- measurement
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
    Path("/proc/self/clear_refs").write_text("5")


@dataclass
class Measurement:
    rows: int
    seconds: float
    peak_rss_growth: int  # bytes
    traced_peak: int | None = None  # bytes, tracemalloc
    cpu_seconds: float = 0.0  # this process, every thread

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _measured(run: Callable[[], int], *, trace: bool = False) -> Measurement:
    import gc
    import tracemalloc

    gc.collect()
    _reset_peak_rss()
    baseline = _status_kb("VmRSS")
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    rows = run()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    growth = (_status_kb("VmHWM") - baseline) * 1024
    return Measurement(rows, seconds, growth, traced, cpu_seconds)


# ------------------------------------------------- methods (child processes)
def _db_connect(port: int, **options: Any) -> Any:
    import pymysql

    return pymysql.connect(
        host="127.0.0.1",
        port=port,
        user=LOADER_USER,
        password=LOADER_PASSWORD,
        database=DATABASE,
        charset="utf8mb4",
        **options,
    )


def run_naive(port: int, jsonl: str, limit: int) -> Measurement:
    def load() -> int:
        conn = _db_connect(port, autocommit=True)
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        count = 0
        with conn.cursor() as cursor, open(jsonl, encoding="utf-8") as lines:
            for line in lines:
                if count >= limit:
                    break
                record = json.loads(line)
                moment = datetime.fromisoformat(record["occurred_at"]).astimezone(UTC)
                cursor.execute(
                    "INSERT INTO events (id, occurred_at, type, payload) VALUES (%s, %s, %s, %s)",
                    (
                        record["id"],
                        moment.replace(tzinfo=None),
                        record["type"],
                        encode(record.get("payload", {})),
                    ),
                )
                count += 1
        conn.close()
        return count

    return _measured(load)


def run_load_data(port: int, tsv: str) -> Measurement:
    def load() -> int:
        conn = _db_connect(port, autocommit=False, local_infile=True)
        with conn.cursor() as cursor:
            rows = cursor.execute(
                f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE events CHARACTER SET utf8mb4 "
                "(id, occurred_at, type, payload)"
            )
        conn.commit()
        conn.close()
        return int(rows)

    return _measured(load)


def run_tapstack(
    port: int, endpoint: str, key: str, etag: str, size: int, batch_size: int, trace: bool
) -> Measurement:
    import io

    import boto3

    from tapstack.loader.runtime.connections import connection_factory
    from tapstack.loader.runtime.loader import Loader
    from tapstack.loader.runtime.observability import loader_logger

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    loader = Loader(
        connect=connection_factory(
            host="127.0.0.1",
            port=port,
            user=LOADER_USER,
            password=lambda: LOADER_PASSWORD,
            database=DATABASE,
            ssl_context=None,
        ),
        s3=s3,
        batch_size=batch_size,
        logger=loader_logger(stream=io.StringIO()),
    )
    event = s3_event(key, etag, size)

    def load() -> int:
        result = loader.handle_event(event)["objects"][0]
        if result["status"] != "loaded":
            raise RuntimeError(f"the loader did not load the object: {result}")
        return int(result["rows_inserted"]) + int(result["rows_updated"])

    try:
        return _measured(load, trace=trace)
    finally:
        loader.close()


def s3_event(key: str, etag: str, size: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                    "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0"},
                },
            }
        ]
    }


def median(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda m: m.rows_per_second)[len(runs) // 2]


def in_child(function: Callable[..., Measurement], *args: Any) -> Measurement:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# ------------------------------------------------------------- harness
class MotoServer:
    """``moto_server`` in its own process on a free port."""

    def __enter__(self) -> MotoServer:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.process.kill()
        raise RuntimeError("moto_server did not start")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def table_fingerprint(db: Any) -> tuple[int, int]:
    """(row count, order-independent checksum of every column) of the events table."""
    with db.root_cursor(DATABASE) as cursor:
        cursor.execute(
            "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, "
            "DATE_FORMAT(occurred_at, '%Y-%m-%d %H:%i:%s.%f'), type, payload))), 0) FROM events"
        )
        count, checksum = cursor.fetchone()
    return int(count), int(checksum)


def truncate(db: Any) -> None:
    with db.root_cursor(DATABASE) as cursor:
        cursor.execute("TRUNCATE TABLE events")
        cursor.execute("TRUNCATE TABLE tapstack_load_manifest")


def mib(n: float) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=50_000,
        help="records loaded by the naive method (default 50,000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="loader batch size (default: the loader's default)",
    )
    parser.add_argument("--ids", choices=("uuid4", "sequential"), default="uuid4")
    parser.add_argument(
        "--memory-up",
        action="store_true",
        help="memory check on N and 10N records instead of N/10 and N",
    )
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--buffer-pool", default="2G", help="innodb_buffer_pool_size")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of (b) and (c); the median run is reported (default 3)",
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)

    import boto3

    from tapstack.loader.runtime.bootstrap import PasswordAuthentication, bootstrap_database
    from tapstack.loader.runtime.formats import JSON_BACKEND
    from tapstack.loader.runtime.loader import DEFAULT_BATCH_SIZE
    from tapstack_lab.mariadb import LocalMariaDB

    batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    n = args.records
    small, large = (n, 10 * n) if args.memory_up else (max(1, n // 10), n)
    naive_n = min(n, args.naive_sample)

    with tempfile.TemporaryDirectory(prefix="tapstack-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        biggest = max(n, large)
        jsonl_all, tsv_all = write_files(work, biggest, args.seed, args.ids)
        jsonl = jsonl_all if biggest == n else head_lines(jsonl_all, work / "n.jsonl", n)
        tsv = tsv_all if biggest == n else head_lines(tsv_all, work / "n.tsv", n)
        small_jsonl = head_lines(jsonl_all, work / "small.jsonl", small)
        n_bytes = jsonl.stat().st_size
        print(
            f"generated {biggest:,} records ({mib(jsonl_all.stat().st_size)} of JSON Lines, "
            f"ids={args.ids}) in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )

        with (
            LocalMariaDB(settings={"innodb-buffer-pool-size": args.buffer_pool}) as db,
            MotoServer() as moto,
        ):
            root = db.connect()
            bootstrap_database(
                root,
                database=DATABASE,
                loader_user=LOADER_USER,
                auth=PasswordAuthentication(LOADER_PASSWORD),
            )
            root.close()
            s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto.endpoint)
            s3.create_bucket(Bucket=BUCKET)
            objects: dict[int, tuple[str, str, int]] = {}
            for count, path in {n: jsonl, small: small_jsonl, large: jsonl_all}.items():
                key = f"incoming/bench/events-{count}.jsonl"
                s3.upload_file(str(path), BUCKET, key)
                etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
                objects[count] = (key, etag, path.stat().st_size)

            def tapstack(count: int, trace: bool = False) -> Measurement:
                truncate(db)
                return in_child(
                    run_tapstack, db.port, moto.endpoint, *objects[count], batch_size, trace
                )

            print(
                f"MariaDB {db.port}, moto_server {moto.endpoint}; loader batch size {batch_size:,}",
                flush=True,
            )
            truncate(db)
            naive = in_child(run_naive, db.port, str(jsonl), naive_n)
            naive_rows = table_fingerprint(db)[0]
            print(f"  (a) naive: {naive.rows:,} rows in {naive.seconds:.1f}s", flush=True)
            runs_b, runs_c, fingerprints = [], [], set()
            for _ in range(args.repeat):
                runs_b.append(tapstack(n))
                ours_print = table_fingerprint(db)
                fingerprints.add(ours_print)
                print(
                    f"  (b) tapstack: {runs_b[-1].rows:,} rows in {runs_b[-1].seconds:.1f}s",
                    flush=True,
                )
                truncate(db)
                runs_c.append(in_child(run_load_data, db.port, str(tsv)))
                reference_print = table_fingerprint(db)
                fingerprints.add(reference_print)
                print(
                    f"  (c) load data: {runs_c[-1].rows:,} rows in {runs_c[-1].seconds:.1f}s",
                    flush=True,
                )
            ours, reference = median(runs_b), median(runs_c)
            others = [tapstack(small if large == n else large) for _ in range(args.repeat)]
            # The highest peak of as many runs at each size: one run's peak depends on
            # whether its batches in flight happened to coincide (+-2.5 MiB between runs).
            peak_n = max(m.peak_rss_growth for m in runs_b)
            peak_other = max(m.peak_rss_growth for m in others)
            smaller_rss, larger_rss = (peak_other, peak_n) if large == n else (peak_n, peak_other)
            traced_small = tapstack(small, trace=True)
            traced_large = tapstack(large, trace=True)
            print("  memory runs done", flush=True)

    rows_ok = naive_rows == naive_n and ours_print[0] == n and reference_print[0] == n
    same_content = len(fingerprints) == 1  # every (b) and (c) run left identical rows
    b_over_a = ours.rows_per_second / naive.rows_per_second
    b_over_c = ours.rows_per_second / reference.rows_per_second
    rss_ratio = larger_rss / max(1, smaller_rss)
    traced_ratio = (traced_large.traced_peak or 0) / max(1, traced_small.traced_peak or 1)

    print()
    print(
        f"TapStack loader benchmark: {n:,} records, {mib(n_bytes)} JSON Lines, "
        f"ids={args.ids}, batch size {batch_size:,}"
    )
    print(
        "MariaDB 10.11 (private, innodb_flush_log_at_trx_commit=1, buffer pool "
        f"{args.buffer_pool}); S3 = moto_server in a separate process"
    )
    print(f"loader JSON parser: {JSON_BACKEND}; Python {sys.version.split()[0]}")
    load_end = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_start)} at the start, "
        f"{', '.join(f'{x:.2f}' for x in load_end)} at the end"
    )
    print()
    header = f"{'method':<52}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'peak memory':>14}"
    print(header)
    print("-" * len(header))
    sample_note = f" [first {naive_n:,} records]" if naive_n < n else ""
    for label, m in (
        ("(a) naive: autocommitted INSERT per record" + sample_note, naive),
        ("(b) TapStack loader from S3 (JSON Lines)", ours),
        ("(c) LOAD DATA LOCAL INFILE (TSV, one statement)", reference),
    ):
        print(
            f"{label:<52}{m.rows:>11,}{m.seconds:>9.1f}{m.rows_per_second:>11,.0f}"
            f"{mib(m.peak_rss_growth):>14}"
        )
    print("  peak memory = growth of the process's peak RSS during the load")
    print(
        f"  (b) CPU of the loader's process: {ours.cpu_seconds / max(1, ours.rows) * 1e6:.1f} "
        "microseconds per record (every thread: S3 reads, parsing, encoding, sending)"
    )
    if args.repeat > 1:
        print(
            f"  (b) and (c): median of {args.repeat} runs; rows/s of every run: "
            f"b {', '.join(f'{m.rows_per_second:,.0f}' for m in runs_b)}; "
            f"c {', '.join(f'{m.rows_per_second:,.0f}' for m in runs_c)}"
        )
    print()
    print(f"b / a = {b_over_a:,.1f}x      b / c = {b_over_c:.0%}")
    print(
        f"rows loaded as expected: {'yes' if rows_ok else 'NO'}; "
        f"(b) and (c) produced identical rows: {'yes' if same_content else 'NO'}"
    )
    print()
    print(f"loader memory, {small:,} vs {large:,} records:")
    print(
        f"  peak RSS growth:           {mib(smaller_rss):>10} vs "
        f"{mib(larger_rss):>10}  (x{rss_ratio:.2f}; the highest of {args.repeat} runs each: "
        f"{', '.join(mib(m.peak_rss_growth) for m in (others if large == n else runs_b))} vs "
        f"{', '.join(mib(m.peak_rss_growth) for m in (runs_b if large == n else others))})"
    )
    print(
        f"  peak Python heap (traced): {mib(traced_small.traced_peak or 0):>10} vs "
        f"{mib(traced_large.traced_peak or 0):>10}  (x{traced_ratio:.2f})"
    )
    print()
    targets = [
        (f"b >= 30x a ({b_over_a:,.1f}x)", b_over_a >= 30),
        (f"b >= 75% of c ({b_over_c:.0%})", b_over_c >= 0.75),
        (
            f"loader peak memory within 20% for a 10x larger file "
            f"(RSS x{rss_ratio:.2f}, heap x{traced_ratio:.2f})",
            rss_ratio <= 1.2 and traced_ratio <= 1.2,
        ),
        ("row counts and (b) = (c) content", rows_ok and same_content),
    ]
    for text, met in targets:
        print(f"  [{'MET' if met else 'NOT MET'}] {text}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())

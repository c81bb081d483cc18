"""The loader streams: its memory does not grow with the size of the object.

The object is served by moto in a separate process over HTTP, so the measurement (Python
allocations of this process, ``tracemalloc``) contains only what the loader itself holds,
not the emulator's copy of the object.
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import threading
import tracemalloc

import pytest

from tapstack.loader.runtime.database import BatchWriter, PreparedBatch
from tapstack.loader.runtime.loader import Loader, tune_allocator
from tapstack.loader.runtime.observability import loader_logger
from tests.runtime.loader.loader_support import BUCKET, REGION, jsonl, put, record


@pytest.fixture
def served_s3(moto_server):
    s3 = moto_server.client()
    existing = [bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])]
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def peak_while_loading(database, s3, event):
    loader = Loader(
        connect=database.loader_connect(),
        s3=s3,
        batch_size=500,
        chunk_size=16 << 10,
        logger=loader_logger(stream=io.StringIO()),
    )
    try:
        tracemalloc.start()
        try:
            result = loader.handle_event(event)["objects"][0]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        loader.close()
    assert result["status"] == "loaded"
    return peak, result


@pytest.mark.parametrize("form", ["jsonl", "json", "jsonl.gz"])
def test_peak_memory_stays_flat_for_a_ten_times_larger_object(database, served_s3, form):
    def plain(n):
        records = [record(i, id=f"{form}-{n}-{i}") for i in range(n)]
        return json.dumps(records).encode() if form == "json" else jsonl(records)

    def body(n):
        return gzip.compress(plain(n)) if form.endswith(".gz") else plain(n)

    # gzip shrinks these records about 14 times: twice as many keep the compressed objects
    # well beyond the decompressor's input buffer, as real gzip objects are.
    small_n = 4_000 if form.endswith(".gz") else 2_000
    prefix = f"incoming/memory-{database.name}"
    warm_up = put(served_s3, f"{prefix}/warm-up.{form}", body(50))
    small = put(served_s3, f"{prefix}/small.{form}", body(small_n))
    large = put(served_s3, f"{prefix}/large.{form}", body(small_n * 10))

    peak_while_loading(database, served_s3, warm_up)  # first-use caches are not the load's
    small_peak, _ = peak_while_loading(database, served_s3, small)
    large_peak, result = peak_while_loading(database, served_s3, large)

    assert result["rows_inserted"] == small_n * 10
    assert large_peak <= small_peak * 1.25, (small_peak, large_peak)
    decompressed = len(plain(small_n * 10))
    assert large_peak < decompressed / 4, (large_peak, decompressed)


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are glibc's (Lambda's Amazon Linux and this machine use glibc)",
)
def test_the_loader_fixes_glibcs_mmap_and_trim_thresholds_once():
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent


class _Cursor:
    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, args: object = None) -> None:
        return None


class _Connection:
    def cursor(self) -> _Cursor:
        return _Cursor()

    def commit(self) -> None:
        return None


class _HeldUpsert:
    """Writes each batch only when the test lets it (``release``)."""

    def __init__(self) -> None:
        self.conn = _Connection()
        self.writing = threading.Event()
        self.release = threading.Event()
        self.written: list[int] = []

    def write(self, values: bytes, ends: list[int], low: int, high: int) -> tuple[int, int]:
        self.writing.set()
        assert self.release.wait(10)
        self.written.append(ends[-1])
        return high - low, 0


def test_at_most_two_batches_are_alive_the_one_written_and_the_one_handed_over():
    upsert = _HeldUpsert()
    writer = BatchWriter(upsert, "UPDATE checkpoint").start()
    try:
        writer.submit(PreparedBatch(b"a", [1], 1, 0))  # taken by the writer
        assert upsert.writing.wait(10)
        handing = threading.Thread(target=writer.submit, args=(PreparedBatch(b"bb", [2], 2, 0),))
        handing.start()
        handing.join(0.5)
        # The decoder waits with the second batch instead of starting a third.
        assert handing.is_alive()
        upsert.release.set()
        handing.join(10)
        assert not handing.is_alive()
    finally:
        upsert.release.set()
        writer.close()
    assert upsert.written == [1, 2]
    assert writer.batches_committed == 2

"""Redelivery, crashes and concurrent invocations never write a record twice.

``database.audit_writes()`` installs a BEFORE INSERT trigger that logs every row write to
``events`` inside the writing transaction, so a batch written twice shows up as an id
written twice, even though the upsert would leave the table itself looking the same.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pymysql
import pytest

from tapstack.loader.runtime.database import LockTimeout
from tapstack.loader.runtime.loader import Loader
from tests.runtime.loader.loader_support import (
    BUCKET,
    COM_STMT_EXECUTE,
    LOADER_PASSWORD,
    LOADER_USER,
    CommitFailsOnBatch,
    jsonl,
    put,
    record,
)

REPO = Path(__file__).resolve().parents[3]


def assert_written_exactly_once(database, records):
    assert database.writes_per_id() == {r["id"]: 1 for r in records}
    assert sorted(database.events()) == sorted(r["id"] for r in records)


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


class StreamBreaksAfter:
    """An S3 client whose object bodies fail with a connection reset after ``limit`` bytes."""

    def __init__(self, s3, limit):
        self._s3 = s3
        self._limit = limit

    def get_object(self, **params):
        response = self._s3.get_object(**params)
        response["Body"] = _BreakingBody(response["Body"], self._limit)
        return response

    def __getattr__(self, name):
        return getattr(self._s3, name)


class _BreakingBody:
    def __init__(self, body, limit):
        self._body = body
        self._left = limit

    def read(self, size=-1):
        if self._left <= 0:
            raise ConnectionResetError("Connection reset by peer (injected)")
        data = self._body.read(min(size, self._left) if size and size > 0 else self._left)
        self._left -= len(data)
        return data

    def close(self):
        self._body.close()


class GatedS3:
    """An S3 client whose first object read waits until the test opens the gate."""

    def __init__(self, s3):
        self._s3 = s3
        self.reading = threading.Event()
        self.gate = threading.Event()

    def get_object(self, **params):
        self.reading.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return self._s3.get_object(**params)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def test_redelivered_event_loads_nothing_twice(make_loader, s3, database):
    database.audit_writes()
    records = [record(i) for i in range(40)]
    event = put(s3, "incoming/redelivered.jsonl", jsonl(records))

    first = make_loader(batch_size=15).handle_event(event)["objects"][0]
    again = make_loader(batch_size=15).handle_event(event)["objects"][0]  # a new container
    once_more = make_loader(batch_size=15).handle_event(event)["objects"][0]

    assert first["status"] == "loaded"
    assert (again["status"], again["reason"], again["rows_inserted"]) == (
        "skipped",
        "already loaded (manifest)",
        0,
    )
    assert once_more["status"] == "skipped"
    assert_written_exactly_once(database, records)
    [entry] = database.manifest()
    assert (entry["status"], entry["attempts"], entry["rows_inserted"]) == ("loaded", 1, 40)
    assert entry["skipped_deliveries"] == 2


def test_a_crash_while_committing_a_batch_is_retried_from_the_last_committed_batch(
    make_loader, s3, database
):
    database.audit_writes()
    records = [record(i) for i in range(100)]
    event = put(s3, "incoming/crash.jsonl", jsonl(records))
    connect = database.loader_connect()
    crashing = make_loader(batch_size=20, connect=lambda: CommitFailsOnBatch(connect(), 3))

    with pytest.raises(pymysql.err.OperationalError, match="injected at commit"):
        crashing.handle_event(event)

    [entry] = database.manifest()
    assert (entry["status"], entry["last_record"], entry["rows_inserted"]) == ("failed", 40, 40)
    assert "injected at commit" in entry["error"]
    assert len(database.events()) == 40  # the third batch was rolled back

    retried = make_loader(batch_size=20).handle_event(event)["objects"][0]

    assert (retried["status"], retried["resumed_after"], retried["rows_inserted"]) == (
        "loaded",
        40,
        60,
    )
    assert_written_exactly_once(database, records)
    [entry] = database.manifest()
    assert (entry["status"], entry["attempts"], entry["rows_inserted"]) == ("loaded", 2, 100)


def test_an_s3_stream_that_breaks_mid_file_raises_and_the_retry_resumes(make_loader, s3, database):
    database.audit_writes()
    records = [record(i) for i in range(400)]
    rejected_line = {"id": "no-timestamp"}
    body = jsonl(records[:10] + [rejected_line] + records[10:])
    event = put(s3, "incoming/flaky.jsonl", body)
    flaky = make_loader(batch_size=25, chunk_size=2048, s3=StreamBreaksAfter(s3, len(body) // 2))

    with pytest.raises(ConnectionResetError):
        flaky.handle_event(event)

    [entry] = database.manifest()
    assert entry["status"] == "failed"
    assert 0 < entry["last_record"] < len(records)
    assert len(database.events()) == entry["rows_inserted"]

    retried = make_loader(batch_size=25, chunk_size=2048).handle_event(event)["objects"][0]

    assert retried["resumed_after"] == entry["last_record"]
    assert (retried["status"], retried["records_rejected"]) == ("loaded", 1)
    assert_written_exactly_once(database, records)
    [entry] = database.manifest()
    assert (entry["rows_inserted"], entry["records_rejected"], entry["attempts"]) == (400, 1, 2)


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, {repo!r})
    import boto3
    from tapstack.loader.runtime.connections import connection_factory
    from tapstack.loader.runtime.loader import Loader

    connect = connection_factory(host="127.0.0.1", port={port}, user={user!r},
                                 password=lambda: {password!r}, database={database!r},
                                 ssl_context=None)

    class DiesInsideBatch:
        # Runs the first upsert of batch {kill_on} and dies before committing it.
        def __init__(self, conn):
            self.conn, self.batches, self.pending = conn, 0, False
        def _execute_command(self, command, sql):
            self.conn._execute_command(command, sql)
            if command == 0x17 and not self.pending:  # COM_STMT_EXECUTE: a batch begins
                self.pending = True
                self.batches += 1
        def _read_query_result(self, *args, **kwargs):
            result = self.conn._read_query_result(*args, **kwargs)
            if self.pending and self.batches == {kill_on}:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        def commit(self):
            self.pending = False
            self.conn.commit()
        def __getattr__(self, name):
            return getattr(self.conn, name)

    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url={endpoint!r})
    loader = Loader(connect=lambda: DiesInsideBatch(connect()), s3=s3, batch_size={batch})
    loader.handle_event(json.loads({event!r}))
    sys.exit("the loader finished although it should have been killed")
    """
)


def test_a_process_killed_inside_a_batch_leaves_no_partial_batch_and_the_retry_resumes(
    database, moto_server, mariadb
):
    database.audit_writes()
    s3 = moto_server.client()
    bucket_exists = BUCKET in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    if not bucket_exists:
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    records = [record(i) for i in range(250)]
    event = put(s3, f"incoming/killed-{database.name}.jsonl", jsonl(records))
    script = CHILD.format(
        repo=str(REPO),
        port=mariadb.port,
        user=LOADER_USER,
        password=LOADER_PASSWORD,
        database=database.name,
        endpoint=moto_server.endpoint,
        event=json.dumps(event),
        batch=50,
        kill_on=3,
    )

    child = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)

    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    [entry] = database.manifest()
    assert (entry["status"], entry["last_record"], entry["rows_inserted"]) == ("loading", 100, 100)
    assert len(database.events()) == 100  # the killed batch's INSERT was rolled back
    loader = Loader(connect=database.loader_connect(), s3=s3, batch_size=50, lock_timeout=30)
    try:
        retried = loader.handle_event(event)["objects"][0]
    finally:
        loader.close()

    assert (retried["status"], retried["resumed_after"], retried["rows_inserted"]) == (
        "loaded",
        100,
        150,
    )
    assert_written_exactly_once(database, records)
    assert database.manifest()[0]["attempts"] == 2


def lock_waiters(database):
    [(count,)] = database.query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User lock'"
    )
    return count


def run_in_thread(results, name, function):
    def target():
        try:
            results[name] = function()
        except BaseException as error:  # reported by the test
            results[name] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_two_concurrent_invocations_for_the_same_object_load_it_once(make_loader, s3, database):
    database.audit_writes()
    records = [record(i) for i in range(300)]
    event = put(s3, "incoming/concurrent.jsonl", jsonl(records))
    gated = GatedS3(s3)
    first = make_loader(s3=gated, batch_size=40)
    second = make_loader(batch_size=40)
    results = {}

    one = run_in_thread(results, "first", lambda: first.handle_event(event))
    assert gated.reading.wait(10), "the first invocation never started reading"
    two = run_in_thread(results, "second", lambda: second.handle_event(event))
    wait_until(lambda: lock_waiters(database) == 1)  # the second waits for the object's lock
    gated.gate.set()
    one.join(30)
    two.join(30)

    assert results["first"]["objects"][0]["status"] == "loaded"
    assert results["second"]["objects"][0]["status"] == "skipped"
    assert results["second"]["objects"][0]["reason"] == "already loaded (manifest)"
    assert_written_exactly_once(database, records)
    [entry] = database.manifest()
    assert (entry["status"], entry["attempts"], entry["rows_inserted"]) == ("loaded", 1, 300)


def test_an_invocation_that_waits_too_long_for_the_lock_raises_so_lambda_retries_it(
    make_loader, s3, database
):
    records = [record(i) for i in range(10)]
    event = put(s3, "incoming/slow.jsonl", jsonl(records))
    gated = GatedS3(s3)
    holder = make_loader(s3=gated)
    impatient = make_loader(lock_timeout=1)
    results = {}

    thread = run_in_thread(results, "holder", lambda: holder.handle_event(event))
    assert gated.reading.wait(10)
    with pytest.raises(LockTimeout, match="still loading this object"):
        impatient.handle_event(event)
    gated.gate.set()
    thread.join(30)

    assert results["holder"]["objects"][0]["status"] == "loaded"
    later = make_loader().handle_event(event)["objects"][0]
    assert later["status"] == "skipped"
    assert database.manifest()[0]["attempts"] == 1


def test_the_manifest_checkpoint_commits_with_each_batch(make_loader, s3, database):
    records = [record(i) for i in range(90)]
    event = put(s3, "incoming/checkpoints.jsonl", jsonl(records))
    seen = []
    connect = database.loader_connect()

    class RecordsCheckpoints(CommitFailsOnBatch):
        def commit(self):
            pending = self._insert_pending
            super().commit()
            if pending:
                seen.append(
                    database.query("SELECT rows_inserted, last_record FROM tapstack_load_manifest")[
                        0
                    ]
                )

    make_loader(batch_size=30, connect=lambda: RecordsCheckpoints(connect(), 0)).handle_event(event)

    assert seen == [(30, 30), (60, 60), (90, 90)]


def test_a_loader_can_be_closed_and_used_again(make_loader, s3, database):
    loader: Loader = make_loader().loader
    loader.handle_event(put(s3, "incoming/one.jsonl", jsonl([record(1)])))
    loader.close()
    loader.handle_event(put(s3, "incoming/two.jsonl", jsonl([record(2)])))

    assert sorted(database.events()) == ["evt-000001", "evt-000002"]


def test_a_version_that_disappears_after_some_batches_were_committed_is_marked_partial(
    make_loader, s3, database
):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    records = [record(i) for i in range(60)]
    event = put(s3, "incoming/vanishing.jsonl", jsonl(records))
    connect = database.loader_connect()
    crashing = make_loader(batch_size=20, connect=lambda: CommitFailsOnBatch(connect(), 2))
    with pytest.raises(pymysql.err.OperationalError, match="injected at commit"):
        crashing.handle_event(event)  # the first batch of 20 is committed
    version_id = event["Records"][0]["s3"]["object"]["versionId"]
    s3.delete_object(Bucket=BUCKET, Key="incoming/vanishing.jsonl", VersionId=version_id)
    retry = make_loader(batch_size=20)

    result = retry.handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"]) == ("partial", 0)
    assert "no longer exists; its records up to 20 were committed" in result["reason"]
    assert "(20 rows inserted, 0 updated)" in result["reason"]
    [entry] = database.manifest()
    assert (entry["status"], entry["rows_inserted"], entry["last_record"]) == ("partial", 20, 20)
    assert "its records up to 20 were committed by earlier attempts" in entry["error"]
    assert len(database.events()) == 20
    [error] = [line for line in retry.logs() if line["level"] == "ERROR"]
    assert "partly loaded" in error["message"]
    assert (error["uri"], error["version_id"], error["last_committed_record"]) == (
        f"s3://{BUCKET}/incoming/vanishing.jsonl",
        version_id,
        20,
    )
    again = make_loader().handle_event(event)["objects"][0]
    assert (again["status"], again["reason"]) == ("skipped", "already partial (manifest)")


def test_a_version_that_disappears_before_anything_was_committed_is_skipped(
    make_loader, s3, database
):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    event = put(s3, "incoming/gone-early.jsonl", jsonl([record(1)]))
    version_id = event["Records"][0]["s3"]["object"]["versionId"]
    s3.delete_object(Bucket=BUCKET, Key="incoming/gone-early.jsonl", VersionId=version_id)

    result = make_loader().handle_event(event)["objects"][0]

    assert result["status"] == "skipped"
    assert database.manifest()[0]["status"] == "skipped"


class DeadlocksOnInserts(CommitFailsOnBatch):
    """A connection whose ``deadlock_on``-th batch attempts (1-based) fail as InnoDB deadlock
    victims at their first upsert."""

    def __init__(self, conn, deadlock_on):
        super().__init__(conn, fail_on=0)
        self._deadlock_on = set(deadlock_on)
        self._attempts = 0

    def _execute_command(self, command, sql):
        if command == COM_STMT_EXECUTE and not self._insert_pending:
            self._attempts += 1
            if self._attempts in self._deadlock_on:
                raise pymysql.err.OperationalError(
                    1213, "Deadlock found when trying to get lock; try restarting"
                )
        return super()._execute_command(command, sql)


def test_a_batch_chosen_as_a_deadlock_victim_is_run_again_once_and_written_once(
    make_loader, s3, database
):
    database.audit_writes()
    records = [record(i) for i in range(60)]
    event = put(s3, "incoming/deadlock.jsonl", jsonl(records))
    connect = database.loader_connect()
    loader = make_loader(batch_size=20, connect=lambda: DeadlocksOnInserts(connect(), {2}))

    result = loader.handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"]) == ("loaded", 60)
    assert_written_exactly_once(database, records)
    [entry] = database.manifest()
    assert (entry["status"], entry["attempts"], entry["rows_inserted"]) == ("loaded", 1, 60)
    [warning] = [line for line in loader.logs() if line["level"] == "WARNING"]
    assert (warning["message"], warning["batches"]) == (
        "batches were run again after an InnoDB deadlock",
        1,
    )


def test_a_batch_that_deadlocks_twice_fails_the_invocation_after_the_committed_batches(
    make_loader, s3, database
):
    records = [record(i) for i in range(60)]
    event = put(s3, "incoming/deadlock-twice.jsonl", jsonl(records))
    connect = database.loader_connect()
    loader = make_loader(batch_size=20, connect=lambda: DeadlocksOnInserts(connect(), {2, 3}))

    with pytest.raises(pymysql.err.OperationalError, match="Deadlock found"):
        loader.handle_event(event)

    [entry] = database.manifest()
    assert (entry["status"], entry["last_record"], entry["rows_inserted"]) == ("failed", 20, 20)

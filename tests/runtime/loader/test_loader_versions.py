"""Versions of one key: an older version never overwrites the rows of a newer one.

S3 delivers events late, twice and out of order; the loader locks per key and compares the
events' sequencers (or, without one, asks S3 which version is current).
"""

from __future__ import annotations

import json

import pymysql
import pytest

from tapstack.loader.runtime.contract import WRITER
from tapstack.loader.runtime.events import ObjectRef, parse_event, sequencer_is_newer
from tapstack.loader.runtime.observability import loader_metrics
from tests.runtime.loader.loader_support import (
    BUCKET,
    jsonl,
    put,
    record,
    s3_event,
    stored,
    without_sequencer,
)
from tests.runtime.loader.test_loader_exactly_once import (
    CommitFailsOnBatch,
    GatedS3,
    lock_waiters,
    run_in_thread,
    wait_until,
)

KEY = "incoming/versions.jsonl"


def version(n, count=30, **changes):
    """The records of version ``n`` of the object: same ids, version-specific content."""
    return [record(i, type=f"v{n}", payload={"version": n}, **changes) for i in range(count)]


@pytest.fixture
def versioned(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def version_of(event):
    return event["Records"][0]["s3"]["object"]["versionId"]


def manifest_by_version(database):
    rows = database.query("SELECT version_id, status, sequencer, error FROM tapstack_load_manifest")
    return {row[0]: {"status": row[1], "sequencer": row[2], "error": row[3]} for row in rows}


def test_an_older_versions_event_arriving_after_a_newer_one_loaded_is_superseded(
    make_loader, versioned, database, capsys
):
    v1 = put(versioned, KEY, jsonl(version(1)))
    v2 = put(versioned, KEY, jsonl(version(2)))
    loader = make_loader(metrics=loader_metrics(WRITER))

    newer = loader.handle_event(v2)["objects"][0]
    late = loader.handle_event(v1)["objects"][0]
    again = loader.handle_event(v1)["objects"][0]

    assert newer["status"] == "loaded"
    assert (late["status"], late["rows_inserted"]) == ("superseded", 0)
    assert f"a newer version of s3://{BUCKET}/{KEY} is loaded" in late["reason"]
    assert (again["status"], again["reason"]) == ("skipped", "already superseded (manifest)")
    assert database.events() == {r["id"]: stored(r) for r in version(2)}
    manifest = manifest_by_version(database)
    assert manifest[version_of(v1)]["status"] == "superseded"
    assert manifest[version_of(v1)]["sequencer"] == v1["Records"][0]["s3"]["object"]["sequencer"]
    assert version_of(v2) in manifest[version_of(v1)]["error"]
    assert manifest[version_of(v2)]["status"] == "loaded"
    [logged] = [line for line in loader.logs() if line.get("status") == "superseded"]
    assert logged["level"] == "INFO"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(m["status"], m["ObjectsSkipped"], m["RowsInserted"]) for m in metrics] == [
        ("loaded", [0], [len(version(2))]),
        ("superseded", [1], [0]),
        ("skipped", [1], [0]),
    ]


def test_two_versions_of_a_key_loading_at_once_end_with_the_newer_versions_rows(
    make_loader, versioned, database
):
    v1 = put(versioned, KEY, jsonl(version(1, count=200)))
    v2 = put(versioned, KEY, jsonl(version(2, count=200)))
    gated = GatedS3(versioned)
    first = make_loader(s3=gated, batch_size=40)
    second = make_loader(batch_size=40)
    results = {}

    one = run_in_thread(results, "v1", lambda: first.handle_event(v1))
    assert gated.reading.wait(10), "v1 never started reading"
    two = run_in_thread(results, "v2", lambda: second.handle_event(v2))
    wait_until(lambda: lock_waiters(database) == 1)  # v2 waits for the key's lock
    gated.gate.set()
    one.join(30)
    two.join(30)

    assert results["v1"]["objects"][0]["status"] == "loaded"
    assert results["v2"]["objects"][0]["status"] == "loaded"
    assert database.events() == {r["id"]: stored(r) for r in version(2, count=200)}


def test_a_failed_older_version_is_not_resumed_over_a_newer_one(make_loader, versioned, database):
    v1 = put(versioned, KEY, jsonl(version(1, count=60)))
    v2 = put(versioned, KEY, jsonl(version(2, count=60)))
    connect = database.loader_connect()
    crashing = make_loader(batch_size=20, connect=lambda: CommitFailsOnBatch(connect(), 2))
    with pytest.raises(pymysql.err.OperationalError, match="injected at commit"):
        crashing.handle_event(v1)  # 20 records of v1 committed
    make_loader().handle_event(v2)

    retried = make_loader(batch_size=20).handle_event(v1)["objects"][0]

    assert retried["status"] == "superseded"
    assert database.events() == {r["id"]: stored(r) for r in version(2, count=60)}
    assert manifest_by_version(database)[version_of(v1)]["status"] == "superseded"


def test_without_a_sequencer_only_the_current_version_loads(make_loader, versioned, database):
    v1 = put(versioned, KEY, jsonl(version(1)))
    v2 = put(versioned, KEY, jsonl(version(2)))
    loader = make_loader()
    loader.handle_event(v2)

    stale = loader.handle_event(without_sequencer(v1))["objects"][0]

    assert stale["status"] == "superseded"
    assert "no longer the current version" in stale["reason"]
    assert database.events() == {r["id"]: stored(r) for r in version(2)}

    v3 = put(versioned, KEY, jsonl(version(3)), sequencer=None)  # e.g. sent by tapstack redrive
    current = loader.handle_event(v3)["objects"][0]

    assert current["status"] == "loaded"
    assert database.events() == {r["id"]: stored(r) for r in version(3)}
    assert manifest_by_version(database)[version_of(v3)]["sequencer"] is None


def test_an_older_version_with_a_sequencer_is_superseded_by_a_current_one_without(
    make_loader, versioned, database
):
    v1 = put(versioned, KEY, jsonl(version(1)))
    v2 = put(versioned, KEY, jsonl(version(2)), sequencer=None)
    loader = make_loader()
    loader.handle_event(v2)

    late = loader.handle_event(v1)["objects"][0]

    assert late["status"] == "superseded"
    assert database.events() == {r["id"]: stored(r) for r in version(2)}


def test_a_sequencer_less_event_for_a_key_with_no_other_version_loads_without_asking_s3(
    make_loader, versioned, database
):
    class NoHead:
        def __init__(self, s3):
            self._s3 = s3

        def head_object(self, **params):
            raise AssertionError("HeadObject is only needed to order two versions")

        def __getattr__(self, name):
            return getattr(self._s3, name)

    event = put(versioned, KEY, jsonl(version(1)), sequencer=None)

    result = make_loader(s3=NoHead(versioned)).handle_event(event)["objects"][0]

    assert result["status"] == "loaded"


def test_versions_of_different_keys_do_not_supersede_each_other(make_loader, versioned, database):
    later_key = put(versioned, "incoming/b.jsonl", jsonl([record(2)]))
    earlier_key = put(versioned, "incoming/a.jsonl", jsonl([record(1)]))
    loader = make_loader()

    results = [loader.handle_event(e)["objects"][0]["status"] for e in (earlier_key, later_key)]

    assert results == ["loaded", "loaded"]


def test_sequencers_compare_as_hex_after_left_padding_the_shorter_with_zeros():
    assert sequencer_is_newer("0A", "9")
    assert sequencer_is_newer("10", "F")
    assert sequencer_is_newer("0066C3A1D2E3F4A5B7", "66C3A1D2E3F4A5B6")
    assert not sequencer_is_newer("00F", "10")
    assert not sequencer_is_newer("abc", "ABC")
    assert not sequencer_is_newer("0066C3A1D2E3F4A5B6", "0066C3A1D2E3F4A5B6")


def test_events_carry_their_sequencer_upper_case_and_none_when_missing_or_not_hex():
    def sequencer_of(value):
        event = s3_event(KEY, etag="e", size=1, sequencer=value)
        [ref] = parse_event(event)
        assert isinstance(ref, ObjectRef)
        return ref.sequencer

    assert sequencer_of("0066c3a1d2e3f4a5b6") == "0066C3A1D2E3F4A5B6"
    assert sequencer_of(None) is None
    assert sequencer_of("not-hex") is None
    assert sequencer_of("") is None
    eventbridge = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": BUCKET},
            "object": {"key": KEY, "etag": "e", "sequencer": "00617F08299329D189"},
        },
    }
    [ref] = parse_event(eventbridge)
    assert isinstance(ref, ObjectRef)
    assert ref.sequencer == "00617F08299329D189"


def test_every_version_of_a_key_shares_one_lock_name_and_keeps_its_own_manifest_row():
    one = ObjectRef(BUCKET, KEY, "jsonl", etag="a", version_id="1")
    two = ObjectRef(BUCKET, KEY, "jsonl", etag="b", version_id="2")
    other = ObjectRef(BUCKET, "incoming/other.jsonl", "jsonl", etag="a", version_id="1")

    assert one.key_id == two.key_id != other.key_id
    assert one.object_id != two.object_id

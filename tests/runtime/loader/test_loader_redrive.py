"""After a promotion, `tapstack redrive` re-sends every object under incoming/:
the loader loads what the old primary never loaded and skips the rest."""

from __future__ import annotations

import io
import json

import pytest
from botocore.response import StreamingBody

from tapstack.loader.redrive import object_created_events, redrive
from tests.runtime.loader.loader_support import BUCKET, REGION, jsonl, put, record, stored


class CapturingLambda:
    """Records asynchronous invocations the way Lambda accepts them (202)."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
        assert (FunctionName, InvocationType) == ("loader-fn", "Event")
        self.payloads.append(json.loads(Payload))
        return {"StatusCode": 202, "Payload": StreamingBody(io.BytesIO(b""), 0)}


def test_redrive_events_cover_the_latest_version_of_every_incoming_object(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    put(s3, "incoming/a.jsonl", b"{}\n")
    latest = s3.put_object(Bucket=BUCKET, Key="incoming/a.jsonl", Body=b"{}\n{}\n")
    put(s3, "incoming/with space.json", b"[]")
    put(s3, "rejected/a.jsonl.jsonl", b"{}\n")

    events = list(object_created_events(s3, BUCKET, region=REGION, records_per_event=1))

    objects = [e["Records"][0]["s3"]["object"] for e in events]
    assert sorted(o["key"] for o in objects) == ["incoming/a.jsonl", "incoming/with+space.json"]
    a = next(o for o in objects if o["key"] == "incoming/a.jsonl")
    assert a["versionId"] == latest["VersionId"] and a["size"] == 6


def test_redrive_loads_what_was_never_loaded_and_skips_what_was(make_loader, s3, database):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    loaded_records = [record(i) for i in range(5)]
    make_loader().handle_event(put(s3, "incoming/loaded.jsonl", jsonl(loaded_records)))
    missed_records = [record(i) for i in range(5, 9)]
    put(s3, "incoming/missed-during-failover.jsonl", jsonl(missed_records))  # no event

    invoker = CapturingLambda()
    result = redrive(s3, invoker, bucket=BUCKET, function_name="loader-fn", region=REGION)
    assert (result.events, result.objects) == (1, 2)

    outcome = make_loader().handle_event(invoker.payloads[0])
    statuses = {o["key"]: o["status"] for o in outcome["objects"]}
    assert statuses == {
        "incoming/loaded.jsonl": "skipped",
        "incoming/missed-during-failover.jsonl": "loaded",
    }
    assert database.events() == {r["id"]: stored(r) for r in loaded_records + missed_records}


def test_a_dry_run_counts_and_invokes_nothing(s3):
    put(s3, "incoming/x.jsonl", b"{}\n")
    invoker = CapturingLambda()
    result = redrive(
        s3, invoker, bucket=BUCKET, function_name="loader-fn", region=REGION, dry_run=True
    )
    assert (result.events, result.objects, invoker.payloads) == (1, 1, [])
    with pytest.raises(ValueError, match="at least 1"):
        list(object_created_events(s3, BUCKET, region=REGION, records_per_event=0))

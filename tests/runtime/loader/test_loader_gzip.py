"""gzip objects: by name (``.jsonl.gz``, ``.ndjson.gz``, ``.json.gz``), by stored
``Content-Encoding: gzip`` or by their magic number; corrupt streams and gzip bombs are
quarantined with the reason and load nothing."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.runtime.loader.loader_support import (
    BUCKET,
    jsonl,
    keys,
    put,
    read_jsonl,
    record,
    s3_event,
)


def stored_reason(s3, result):
    body = s3.get_object(Bucket=BUCKET, Key=result["report_key"] + ".reason.json")["Body"]
    return json.loads(body.read())


@pytest.mark.parametrize("name", ["day.jsonl.gz", "day.ndjson.gz", "day.json.gz"])
def test_gzip_objects_named_so_load_every_record(make_loader, s3, database, name):
    records = [record(i) for i in range(30)] + [{"id": "bad"}]
    plain = json.dumps(records).encode() if ".json." in name else jsonl(records)
    event = put(s3, f"incoming/{name}", gzip.compress(plain))

    result = make_loader(chunk_size=256).handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        30,
        1,
    )
    assert len(database.events()) == 30
    [line] = read_jsonl(s3, f"rejected/{name}.jsonl")
    assert line["reason"] == "occurred_at: required field is missing"


def test_an_object_stored_with_content_encoding_gzip_loads_decompressed(make_loader, s3, database):
    body = gzip.compress(jsonl([record(1), record(2)]))
    response = s3.put_object(
        Bucket=BUCKET, Key="incoming/encoded.jsonl", Body=body, ContentEncoding="gzip"
    )
    event = s3_event("incoming/encoded.jsonl", etag=response["ETag"].strip('"'), size=len(body))

    result = make_loader().handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"]) == ("loaded", 2)


def test_gzip_bytes_under_a_plain_name_are_recognised_by_their_magic_number(
    make_loader, s3, database
):
    event = put(s3, "incoming/unmarked.jsonl", gzip.compress(jsonl([record(1), record(2)])))

    result = make_loader().handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        2,
        0,
    )


def test_concatenated_gzip_members_load_as_one_stream(make_loader, s3, database):
    body = gzip.compress(jsonl([record(1)])) + gzip.compress(jsonl([record(2)]))

    result = make_loader().handle_event(put(s3, "incoming/cat.jsonl.gz", body))["objects"][0]

    assert result["rows_inserted"] == 2


@pytest.mark.parametrize("name", ["truncated.jsonl.gz", "truncated.json.gz", "truncated.jsonl"])
def test_a_truncated_gzip_stream_is_quarantined_and_loads_nothing(make_loader, s3, database, name):
    records = [record(i) for i in range(2000)]
    plain = json.dumps(records).encode() if ".json." in name else jsonl(records)
    whole = gzip.compress(plain)
    event = put(s3, f"incoming/{name}", whole[: len(whole) // 2])

    result = make_loader(batch_size=10, chunk_size=1024).handle_event(event)["objects"][0]

    assert result["status"] == "quarantined"
    assert "the gzip stream is corrupt or truncated after" in result["reason"]
    assert database.events() == {}
    assert stored_reason(s3, result)["loaded"] == 0


def test_a_gz_name_over_bytes_that_are_not_gzip_is_quarantined(make_loader, s3, database):
    event = put(s3, "incoming/liar.jsonl.gz", jsonl([record(1)]))

    result = make_loader().handle_event(event)["objects"][0]

    assert result["status"] == "quarantined"
    assert "declared gzip (by its .gz name or Content-Encoding) but its bytes" in result["reason"]
    assert database.events() == {}


def test_a_gzip_bomb_is_quarantined_once_it_exceeds_the_decompressed_limit(
    make_loader, s3, database
):
    bomb = gzip.compress(jsonl([record(1)]) + b" " * 5_000_000)  # 5 MB of blanks
    assert len(bomb) < 10_000

    result = make_loader(max_decompressed_bytes=1_000_000).handle_event(
        put(s3, "incoming/bomb.jsonl.gz", bomb)
    )["objects"][0]

    assert result["status"] == "quarantined"
    assert "decompresses to more than 1000000 bytes (a gzip bomb" in result["reason"]
    assert database.events() == {}
    assert keys(s3, "quarantine/") == [
        "quarantine/bomb.jsonl.gz",
        "quarantine/bomb.jsonl.gz.reason.json",
    ]

"""Objects that cannot be parsed at all are quarantined and load nothing."""

from __future__ import annotations

import json

from tests.runtime.loader.loader_support import BUCKET, jsonl, keys, put, read_jsonl, record


def reason_of(s3, key):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def assert_quarantined(s3, database, result, key, body, reason_part):
    relative = key.removeprefix("incoming/")
    assert result["status"] == "quarantined"
    assert reason_part in result["reason"]
    assert result["report_key"] == f"quarantine/{relative}"
    copy = s3.get_object(Bucket=BUCKET, Key=f"quarantine/{relative}")["Body"].read()
    assert copy == body
    reason = reason_of(s3, f"quarantine/{relative}.reason.json")
    assert reason_part in reason["reason"]
    assert reason["source"]["key"] == key
    assert reason["loaded"] == 0
    assert database.events() == {}
    [entry] = database.manifest()
    assert (entry["status"], entry["rows_inserted"]) == ("quarantined", 0)
    assert reason_part in entry["error"]


def test_a_json_array_with_broken_syntax_is_quarantined_and_loads_nothing(
    make_loader, s3, database
):
    body = b'[{"id": "evt-1", "occurred_at": "2024-01-01T00:00:00Z", "type": "t"}, {"id": ]'
    result = make_loader().handle_event(put(s3, "incoming/broken.json", body))["objects"][0]

    assert_quarantined(
        s3, database, result, "incoming/broken.json", body, "record 2 is not valid JSON"
    )
    assert reason_of(s3, "quarantine/broken.json.reason.json")["location"]["record_number"] == 2


def test_an_array_broken_in_its_last_record_loads_none_of_the_records_before_it(
    make_loader, s3, database
):
    records = [record(i) for i in range(3000)]
    body = json.dumps(records).encode()
    body = body[: body.rindex(b"}")]  # truncated inside the very last record
    loader = make_loader(batch_size=100, chunk_size=4096)

    result = loader.handle_event(put(s3, "incoming/big/truncated.json", body))["objects"][0]

    assert_quarantined(
        s3, database, result, "incoming/big/truncated.json", body, "record 3000 is not valid JSON"
    )
    assert keys(s3, "rejected/") == []


def test_an_array_missing_its_closing_bracket_is_quarantined(make_loader, s3, database):
    body = json.dumps([record(1), record(2)]).encode()[:-1]
    result = make_loader().handle_event(put(s3, "incoming/open.json", body))["objects"][0]

    assert_quarantined(
        s3, database, result, "incoming/open.json", body, "the array is never closed"
    )


def test_a_json_file_whose_top_level_value_is_not_an_array_is_quarantined(
    make_loader, s3, database
):
    body = json.dumps(record(1)).encode()
    result = make_loader().handle_event(put(s3, "incoming/object.json", body))["objects"][0]

    assert_quarantined(
        s3, database, result, "incoming/object.json", body, "must be an array of records"
    )


def test_a_json_array_that_is_not_utf8_is_quarantined(make_loader, s3, database):
    body = json.dumps([record(1), record(2, type="caf\u00e9")], ensure_ascii=False).encode(
        "latin-1"
    )
    result = make_loader().handle_event(put(s3, "incoming/latin1.json", body))["objects"][0]

    assert_quarantined(s3, database, result, "incoming/latin1.json", body, "not valid UTF-8")


def test_a_json_lines_file_in_which_no_line_parses_is_quarantined(make_loader, s3, database):
    body = jsonl([record(1), record(2)]).decode().encode("utf-16")
    result = make_loader().handle_event(put(s3, "incoming/utf16.jsonl", body))["objects"][0]

    assert_quarantined(s3, database, result, "incoming/utf16.jsonl", body, "no line is valid JSON")
    assert keys(s3, "rejected/") == []


def test_one_unparsable_line_in_json_lines_is_a_rejected_record_not_a_quarantine(
    make_loader, s3, database
):
    body = jsonl([record(1)]) + b"\x00\x01 binary noise\n" + jsonl([record(2)])
    result = make_loader().handle_event(put(s3, "incoming/noisy.jsonl", body))["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        2,
        1,
    )
    assert [r["line"] for r in read_jsonl(s3, "rejected/noisy.jsonl.jsonl")] == [2]
    assert keys(s3, "quarantine/") == []


def test_a_quarantined_object_is_not_processed_again_when_redelivered(make_loader, s3, database):
    event = put(s3, "incoming/again.json", b"[1, 2")
    loader = make_loader()

    first = loader.handle_event(event)["objects"][0]
    second = loader.handle_event(event)["objects"][0]

    assert first["status"] == "quarantined"
    assert (second["status"], second["reason"]) == ("skipped", "already quarantined (manifest)")
    assert database.manifest()[0]["attempts"] == 1

"""Loading valid and partly invalid objects: what lands in the table and in rejected/."""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime, timedelta

import pytest

from tapstack.loader.runtime.contract import (
    METRIC_READ_ONLY_WRITER,
    METRIC_UNITS,
    METRICS_NAMESPACE,
    ROLE_DIMENSION,
    STANDBY,
    WRITER,
)
from tapstack.loader.runtime.observability import loader_metrics, publish_object_metrics
from tests.runtime.loader.loader_support import (
    BUCKET,
    jsonl,
    keys,
    put,
    read_jsonl,
    record,
    s3_event,
    stored,
)


def test_valid_jsonl_file_loads_every_record(make_loader, s3, database):
    records = [record(i) for i in range(25)]
    event = put(s3, "incoming/2024/03/events.jsonl", jsonl(records))

    result = make_loader(batch_size=10).handle_event(event)

    assert result["objects"][0]["status"] == "loaded"
    assert result["objects"][0]["rows_inserted"] == 25
    assert database.events() == {r["id"]: stored(r) for r in records}
    [entry] = database.manifest()
    assert entry["status"] == "loaded"
    assert (entry["rows_inserted"], entry["records_rejected"], entry["last_record"]) == (25, 0, 25)
    assert keys(s3, "rejected/") == []


def test_valid_json_array_file_loads_every_record(make_loader, s3, database):
    records = [record(i) for i in range(12)]
    body = json.dumps(records, indent=2).encode()
    event = put(s3, "incoming/batch.json", body)

    result = make_loader(batch_size=5).handle_event(event)

    assert result["objects"][0]["rows_inserted"] == 12
    assert database.events() == {r["id"]: stored(r) for r in records}


def test_ndjson_extension_loads_like_json_lines(make_loader, s3, database):
    records = [record(i) for i in range(3)]
    event = put(s3, "incoming/feed.ndjson", jsonl(records))

    make_loader().handle_event(event)

    assert database.events() == {r["id"]: stored(r) for r in records}


def test_timestamps_are_converted_to_utc_and_payload_defaults_to_an_empty_object(
    make_loader, s3, database
):
    records = [
        record(1, occurred_at="2024-06-30T23:30:00-02:00", payload=...),
        record(2, occurred_at="2024-01-01T00:00:00.5Z"),
        record(3, occurred_at="2024-01-01T05:30:00.000001+05:30"),
    ]
    make_loader().handle_event(put(s3, "incoming/tz.jsonl", jsonl(records)))

    rows = database.events()
    assert rows["evt-000001"] == ("2024-07-01 01:30:00.000000", "view", {})
    assert rows["evt-000002"][0] == "2024-01-01 00:00:00.500000"
    assert rows["evt-000003"][0] == "2024-01-01 00:00:00.000001"


def test_invalid_records_are_rejected_with_their_line_and_reason_and_the_rest_loads(
    make_loader, s3, database
):
    lines = [
        json.dumps(record(1)),
        json.dumps(record(2, occurred_at="2024-03-01T10:00:00")),  # no timezone
        "",  # blank lines are skipped but still counted
        "{this is not json",
        json.dumps(record(3, id="")),
        json.dumps(record(4, colour="blue")),
        json.dumps(["an", "array"]),
        json.dumps(record(5, type=None)),
        json.dumps(record(6, payload=[1, 2])),
        json.dumps(record(7, id="x" * 65)),
        json.dumps(record(8, id=" padded")),
        json.dumps(record(9, occurred_at="yesterday")),
        json.dumps(record(10, occurred_at=...)),
        '{"id": "evt-nan", "occurred_at": "2024-03-01T10:00:00Z", "type": "t", "n": NaN}',
        json.dumps(record(11)),
    ]
    body = ("\n".join(lines) + "\n").encode()
    event = put(s3, "incoming/mixed.jsonl", body)

    result = make_loader().handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        2,
        12,
    )
    assert result["report_key"] == "rejected/mixed.jsonl.jsonl"
    assert sorted(database.events()) == ["evt-000001", "evt-000011"]
    rejected = read_jsonl(s3, "rejected/mixed.jsonl.jsonl")
    assert [(r["line"], r["reason"]) for r in rejected] == [
        (2, "occurred_at: has no timezone (add Z or an offset such as +02:00)"),
        (4, "invalid JSON: Expecting property name enclosed in double quotes at character 2"),
        (5, "id: must not be empty"),
        (6, "unknown field(s): colour"),
        (7, "record must be a JSON object, got array"),
        (8, "type: must be a string, got null"),
        (9, "payload: must be a JSON object, got array"),
        (10, "id: is 65 characters long, the maximum is 64"),
        (11, "id: must not start or end with whitespace"),
        (12, "occurred_at: is not an ISO-8601 timestamp: 'yesterday'"),
        (13, "occurred_at: required field is missing"),
        (14, "invalid JSON: NaN is not valid JSON"),
    ]
    assert rejected[0]["record"] == record(2, occurred_at="2024-03-01T10:00:00")
    assert rejected[1]["text"] == "{this is not json"
    [entry] = database.manifest()
    assert (entry["rows_inserted"], entry["records_rejected"]) == (2, 12)
    assert entry["report_key"] == "rejected/mixed.jsonl.jsonl"


def test_rejected_elements_of_a_json_array_carry_their_record_numbers(make_loader, s3, database):
    body = json.dumps([record(1), {"id": "evt-2"}, 42, record(4)]).encode()
    event = put(s3, "incoming/nested/array.json", body)

    make_loader().handle_event(event)

    assert sorted(database.events()) == ["evt-000001", "evt-000004"]
    assert read_jsonl(s3, "rejected/nested/array.json.jsonl") == [
        {
            "record_number": 2,
            "reason": "occurred_at: required field is missing",
            "record": {"id": "evt-2"},
        },
        {"record_number": 3, "reason": "record must be a JSON object, got number", "record": 42},
    ]


def test_a_line_that_is_not_utf8_is_rejected_and_the_other_lines_load(make_loader, s3, database):
    body = jsonl([record(1)]) + b'{"id": "caf\xe9"}\n' + jsonl([record(3)])
    result = make_loader().handle_event(put(s3, "incoming/latin1.jsonl", body))["objects"][0]

    assert (result["rows_inserted"], result["records_rejected"]) == (2, 1)
    [rejected] = read_jsonl(s3, "rejected/latin1.jsonl.jsonl")
    assert rejected["line"] == 2
    assert rejected["reason"] == "line is not valid UTF-8 (byte 12)"
    assert rejected["text"] == '{"id": "caf\\xe9"}'


def test_url_encoded_keys_are_decoded_before_loading(make_loader, s3, database):
    key = "incoming/daily report/été 2024+q1.jsonl"
    response = s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl([record(1), {"id": 2}]))
    event = s3_event(key, etag=response["ETag"].strip('"'), size=10)
    assert (
        "daily+report/%C3%A9t%C3%A9+2024%2Bq1.jsonl" in event["Records"][0]["s3"]["object"]["key"]
    )

    result = make_loader().handle_event(event)["objects"][0]

    assert (result["key"], result["status"], result["rows_inserted"]) == (key, "loaded", 1)
    assert keys(s3, "rejected/") == ["rejected/daily report/été 2024+q1.jsonl.jsonl"]
    assert database.manifest()[0]["object_key"] == key


def test_keys_outside_incoming_folder_placeholders_and_removals_are_ignored(
    make_loader, s3, database
):
    loader = make_loader()
    events = [
        put(s3, "outgoing/events.jsonl", jsonl([record(1)])),
        put(s3, "rejected/events.jsonl.jsonl", jsonl([record(3)])),
        put(s3, "incoming/2024/", b""),
        s3_event("incoming/gone.jsonl", etag="x", size=1, event_name="ObjectRemoved:Delete"),
    ]

    results = [loader.handle_event(event)["objects"][0] for event in events]

    assert [r["status"] for r in results] == ["ignored"] * 4
    assert "is not ObjectCreated" in results[-1]["reason"]
    assert database.events() == {}
    assert database.manifest() == []
    logged = [line for line in loader.logs() if line["message"] == "event record ignored"]
    assert [line["key"] for line in logged] == [
        "outgoing/events.jsonl",
        "rejected/events.jsonl.jsonl",
        "incoming/2024/",
        "incoming/gone.jsonl",
    ]


@pytest.mark.parametrize("key", ["incoming/events.csv", "incoming/events.JSONL", "incoming/x.gz"])
def test_an_object_of_an_unsupported_format_under_incoming_is_quarantined_with_the_reason(
    make_loader, s3, database, key
):
    result = make_loader().handle_event(put(s3, key, b"id,type\n1,click\n"))["objects"][0]

    assert (result["status"], result["report_key"]) == ("quarantined", "quarantine/" + key[9:])
    name = key.rpartition("/")[2]
    assert f"{name!r} names no supported format" in result["reason"]
    assert ".jsonl, .ndjson, .json, .jsonl.gz" in result["reason"]
    reason = json.loads(
        s3.get_object(Bucket=BUCKET, Key=result["report_key"] + ".reason.json")["Body"].read()
    )
    assert (reason["source"]["key"], reason["loaded"]) == (key, 0)
    copy = s3.get_object(Bucket=BUCKET, Key=result["report_key"])["Body"].read()
    assert copy == b"id,type\n1,click\n"
    assert database.events() == {}
    assert [row["status"] for row in database.manifest()] == ["quarantined"]


def test_every_record_of_a_multi_record_event_is_processed(make_loader, s3, database):
    first = put(s3, "incoming/a.jsonl", jsonl([record(1)]))
    second = put(s3, "incoming/b.json", json.dumps([record(2)]).encode())
    event = {"Records": first["Records"] + second["Records"]}

    result = make_loader().handle_event(event)

    assert [o["status"] for o in result["objects"]] == ["loaded", "loaded"]
    assert sorted(database.events()) == ["evt-000001", "evt-000002"]


def test_a_later_record_with_the_same_id_replaces_the_earlier_one(make_loader, s3, database):
    loader = make_loader(batch_size=2)
    loader.handle_event(put(s3, "incoming/day1.jsonl", jsonl([record(1), record(2)])))
    updated = record(2, type="refund", payload={"v": 2})
    loader.handle_event(
        put(s3, "incoming/day2.jsonl", jsonl([record(3, id="evt-000002"), updated]))
    )

    rows = database.events()
    assert rows["evt-000002"] == stored(updated)
    assert len(rows) == 2


def test_versioned_objects_are_read_at_the_version_the_event_names(make_loader, s3, database):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = put(s3, "incoming/v.jsonl", jsonl([record(1)]))
    second = put(s3, "incoming/v.jsonl", jsonl([record(2), record(3)]))
    loader = make_loader()

    loader.handle_event(first)
    assert sorted(database.events()) == ["evt-000001"]
    loader.handle_event(second)

    assert sorted(database.events()) == ["evt-000001", "evt-000002", "evt-000003"]
    versions = {row["version_id"]: row["rows_inserted"] for row in database.manifest()}
    assert versions == {
        first["Records"][0]["s3"]["object"]["versionId"]: 1,
        second["Records"][0]["s3"]["object"]["versionId"]: 2,
    }


def test_an_unversioned_object_overwritten_before_loading_is_skipped_not_misloaded(
    make_loader, s3, database
):
    stale = put(s3, "incoming/o.jsonl", jsonl([record(1)]))
    fresh = put(s3, "incoming/o.jsonl", jsonl([record(2)]))
    loader = make_loader()

    skipped = loader.handle_event(stale)["objects"][0]
    loaded = loader.handle_event(fresh)["objects"][0]

    assert skipped["status"] == "skipped"
    assert "was overwritten after this event" in skipped["reason"]
    assert loaded["status"] == "loaded"
    assert sorted(database.events()) == ["evt-000002"]


def test_an_object_deleted_before_loading_is_skipped(make_loader, s3, database):
    event = put(s3, "incoming/deleted.jsonl", jsonl([record(1)]))
    s3.delete_object(Bucket=BUCKET, Key="incoming/deleted.jsonl")

    result = make_loader().handle_event(event)["objects"][0]

    assert result["status"] == "skipped"
    assert "no longer exists" in result["reason"]
    assert database.manifest()[0]["status"] == "skipped"


def test_each_object_is_logged_as_one_json_line_with_its_outcome(make_loader, s3, database):
    loader = make_loader()
    loader.handle_event(put(s3, "incoming/m.jsonl", jsonl([record(1), {"id": "bad"}])))

    [line] = [entry for entry in loader.logs() if entry["message"] == "object loaded"]
    assert (line["bucket"], line["key"], line["level"]) == (BUCKET, "incoming/m.jsonl", "INFO")
    assert (line["status"], line["rows_inserted"], line["records_rejected"]) == ("loaded", 1, 1)
    assert line["service"] == "tapstack-loader"
    assert isinstance(line["duration_ms"], int)
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)


def test_each_object_publishes_one_emf_document_in_the_loader_namespace_by_role(
    make_loader, s3, database, capsys
):
    loader = make_loader(metrics=loader_metrics(STANDBY))
    capsys.readouterr()
    loader.handle_event(put(s3, "incoming/m.jsonl", jsonl([record(1), {"id": "bad"}])))
    loader.handle_event(s3_event("elsewhere/x.jsonl", etag="e", size=1))

    loaded, ignored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [directive] = loaded["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE == "TapStack/Loader"
    assert directive["Dimensions"] == [[ROLE_DIMENSION]] == [["Role"]]
    assert loaded["Role"] == "standby"
    # Every metric of the contract but ReadOnlyWriter, which only a failing writer publishes
    # (test_loader_database).
    per_object = {k: v for k, v in METRIC_UNITS.items() if k != METRIC_READ_ONLY_WRITER}
    assert (
        {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        == per_object
        == {
            "RowsInserted": "Count",
            "RowsUpdated": "Count",
            "RecordsRejected": "Count",
            "ObjectsSkipped": "Count",
            "ObjectsQuarantined": "Count",
            "DurationMs": "Milliseconds",
        }
    )
    assert METRIC_UNITS[METRIC_READ_ONLY_WRITER] == "Count"
    values = {name: loaded[name] for name in per_object}
    assert values == {
        **values,
        "RowsInserted": [1],
        "RowsUpdated": [0],
        "RecordsRejected": [1],
        "ObjectsSkipped": [0],
    }
    assert (loaded["status"], loaded["key"]) == ("loaded", "incoming/m.jsonl")
    assert (ignored["status"], ignored["ObjectsSkipped"], ignored["RowsInserted"]) == (
        "ignored",
        [1],
        [0],
    )


def test_a_loader_without_metrics_publishes_none_and_metrics_need_a_known_role(
    make_loader, s3, database, capsys
):
    make_loader().handle_event(put(s3, "incoming/quiet.jsonl", jsonl([record(1)])))

    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="role must be one of writer, standby, got 'primary'"):
        loader_metrics("primary")
    with pytest.raises(ValueError, match=r"unknown metric\(s\): \['RowsLost'\]"):
        publish_object_metrics(loader_metrics(WRITER), {"RowsLost": 1})


def eventbridge_event(s3_event_payload):
    """The EventBridge form of the same S3 event, as the secondary region's rule delivers it."""
    s3_record = s3_event_payload["Records"][0]["s3"]

    obj = {
        "key": urllib.parse.unquote_plus(s3_record["object"]["key"]),
        "size": s3_record["object"]["size"],
        "etag": s3_record["object"]["eTag"],
        "sequencer": "0066C3A1D2E3F4A5B6",
    }
    if "versionId" in s3_record["object"]:
        obj["version-id"] = s3_record["object"]["versionId"]
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-west-2",
        "resources": [f"arn:aws:s3:::{s3_record['bucket']['name']}"],
        "detail": {
            "version": "0",
            "bucket": {"name": s3_record["bucket"]["name"]},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def test_eventbridge_object_created_events_load_like_notifications(make_loader, s3, database):
    records = [record(i) for i in range(7)]
    event = eventbridge_event(put(s3, "incoming/from eventbridge.jsonl", jsonl(records)))

    result = make_loader().handle_event(event)

    assert result["objects"][0]["status"] == "loaded"
    assert database.events() == {r["id"]: stored(r) for r in records}
    again = make_loader().handle_event(event)["objects"][0]
    assert (again["status"], again["reason"]) == ("skipped", "already loaded (manifest)")
    assert len(database.events()) == 7


# Forms datetime.fromisoformat accepts besides the usual one, with the UTC instant each must
# be stored as; None: must be rejected (outside the DATETIME range).
UNUSUAL_TIMESTAMPS = {
    "2024-W18-3T12:00:00.123456Z": "2024-05-01 12:00:00.123456",  # ISO week date
    "2024-W18-3T12:00:00.123456+00:00": "2024-05-01 12:00:00.123456",
    "2024-W18-3T14:00:00.123456+02:00": "2024-05-01 12:00:00.123456",
    "2024W183T120000.000001Z": "2024-05-01 12:00:00.000001",  # basic week date
    "20240501T120000Z": "2024-05-01 12:00:00.000000",  # basic format
    "20240501T120000.123456Z": "2024-05-01 12:00:00.123456",
    "2024-05-01T12:00:00,123456Z": "2024-05-01 12:00:00.123456",  # decimal comma
    "2024-05-01 12:00:00.123456Z": "2024-05-01 12:00:00.123456",  # space separator
    "2024-05-01x12:00:00.123456Z": "2024-05-01 12:00:00.123456",  # any separator
    "2024-05-01T12Z": "2024-05-01 12:00:00.000000",  # hours only
    "2024-05-01T12:00:00.123456-00:00": "2024-05-01 12:00:00.123456",
    "2024-05-01T12:00:00.1234567Z": "2024-05-01 12:00:00.123456",  # 7 fraction digits
    "1000-W01-1T00:00:00.000000Z": None,  # week 1 of 1000 starts in 999
}


def test_timestamps_in_any_form_fromisoformat_accepts_load_as_their_utc_instant_or_are_rejected(
    make_loader, s3, database
):
    """Week dates once reached MySQL as '2024-W18-3 12:00:00.123456' and failed every batch."""
    odd = [record(100 + n, occurred_at=value) for n, value in enumerate(UNUSUAL_TIMESTAMPS)]
    ordinal = record(200, occurred_at="2024-122T12:00:00Z")  # accepted by newer Pythons only
    records = [record(1), *odd, ordinal, record(2)]
    event = put(s3, "incoming/odd-timestamps.jsonl", jsonl(records))

    result = make_loader(batch_size=100).handle_event(event)["objects"][0]

    assert result["status"] == "loaded"
    rows = database.events()
    assert rows["evt-000001"] == stored(record(1))
    assert rows["evt-000002"] == stored(record(2))
    for document, expected in zip(odd, UNUSUAL_TIMESTAMPS.values(), strict=True):
        stored_at = rows.get(document["id"], (None,))[0]
        assert stored_at == expected, document["occurred_at"]
    rejected = {r["record"]["id"]: r["reason"] for r in read_jsonl(s3, result["report_key"])}
    assert (
        rejected["evt-000112"]
        == "occurred_at: is before the year 1000 (outside the DATETIME range)"
    )
    if ordinal["id"] in rows:
        assert rows[ordinal["id"]][0] == "2024-05-01 12:00:00.000000"
    else:
        assert rejected[ordinal["id"]].startswith("occurred_at: is not an ISO-8601 timestamp")
    assert len(rows) + len(rejected) == len(records)

"""The streaming readers agree with ``json.loads`` whatever the chunk boundaries."""

from __future__ import annotations

import io
import json

import pytest

from tapstack.loader.runtime.events import EventError, IgnoredRecord, ObjectRef, parse_event
from tapstack.loader.runtime.formats import (
    MalformedObject,
    ParseFailure,
    iter_json_array,
    iter_json_lines,
)

ARRAY = [
    {"id": "a", "n": 12345678901234567890, "f": -1.5e-7, "t": True, "z": None},
    12.5,
    'a string with \\ and " and , and ] inside',
    [1, [2, [3]]],
    {"nested": {"deep": [{"x": "\u00e9\u4e2d\U0001f600"}]}},
    -0,
    {},
    [],
    1e3,
]


def read_array(data: bytes, **options) -> list:
    return [
        value for items in iter_json_array(io.BytesIO(data), **options) for _, value, _ in items
    ]


def read_lines(data: bytes, **options) -> list:
    return [item for items in iter_json_lines(io.BytesIO(data), **options) for item in items]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 13, 64, 4096])
def test_json_arrays_decode_the_same_for_every_chunk_size(chunk_size):
    data = json.dumps(ARRAY, ensure_ascii=False, indent=1).encode()

    assert read_array(data, chunk_size=chunk_size) == ARRAY


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 4096])
def test_a_number_split_across_chunks_is_read_whole(chunk_size):
    assert read_array(b"[1234567, 89, 1.25e+10]", chunk_size=chunk_size) == [1234567, 89, 1.25e10]


@pytest.mark.parametrize("chunk_size", [1, 4, 4096])
def test_a_utf8_bom_and_surrounding_whitespace_are_accepted(chunk_size):
    assert read_array(b'\xef\xbb\xbf \n[ {"a": 1} ] \n', chunk_size=chunk_size) == [{"a": 1}]
    assert read_array(b"[]", chunk_size=chunk_size) == []


@pytest.mark.parametrize("chunk_size", [1, 3, 4096])
def test_whitespace_between_a_record_and_its_comma_is_accepted(chunk_size):
    data = b'[1 , "a"\n,{"b": 2}\t,[]  ]'

    assert read_array(data, chunk_size=chunk_size) == [1, "a", {"b": 2}, []]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the object is empty"),
        (b"  \n", "the object is empty"),
        (b'{"a": 1}', "must be an array of records"),
        (b"[1, 2", "the array is never closed"),
        (b"[1, 2,]", "record 3 is not valid JSON: Expecting value at character 1"),
        (b"[1 2]", "expected ',' or ']' after record 1, found '2'"),
        (b"[1, 2] [3]", "unexpected data after the end of the array"),
        (b'[1, "\xff"]', "not valid UTF-8 (byte 6)"),
        (b"[1, NaN]", "record 2 is not valid JSON: NaN is not valid JSON"),
        (b'[{"a": 1}, {"b": }]', "record 2 is not valid JSON: Expecting value"),
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 4096])
def test_broken_arrays_raise_malformed_object(data, reason, chunk_size):
    with pytest.raises(MalformedObject) as error:
        read_array(data, chunk_size=chunk_size)

    assert reason in error.value.reason


def test_a_broken_array_record_longer_than_the_limit_is_reported_as_such():
    data = b"[" + b'{"a": "' + b"x" * 500 + b'" ' + b"y" * 500 + b"}]"
    with pytest.raises(MalformedObject, match="or it is longer than 100 bytes"):
        read_array(data, chunk_size=64, max_record_bytes=100)


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 11, 4096])
def test_json_lines_keep_line_numbers_across_chunks(chunk_size):
    data = b'{"a": 1}\r\n\n  [2]  \n"three"\n{"broken": \n{"b": 4}'
    items = read_lines(data, chunk_size=chunk_size)

    assert [(number, value) for number, value, _ in items] == [
        (1, {"a": 1}),
        (3, [2]),
        (4, "three"),
        (5, ParseFailure("invalid JSON: Expecting value at character 11")),
        (6, {"b": 4}),
    ]
    assert items[3][2] == '{"broken": '


def test_over_long_json_lines_are_reported_without_being_kept():
    data = b'{"ok": 1}\n' + b'{"big": "' + b"x" * 10_000 + b'"}\n{"ok": 2}\n'
    items = read_lines(data, chunk_size=256, max_record_bytes=1000)

    assert [(number, value) for number, value, _ in items] == [
        (1, {"ok": 1}),
        (2, ParseFailure("line is longer than 1000 bytes")),
        (3, {"ok": 2}),
    ]
    assert len(items[1][2]) <= 1024  # only a preview of the line is kept


@pytest.mark.parametrize("chunk_size", [1, 7, 256, 1500, 8192])
def test_over_long_json_lines_are_reported_wherever_the_chunks_cut_them(chunk_size):
    long_x, long_y = b'"' + b"x" * 2000 + b'"', b'"' + b"y" * 2000
    data = b'{"ok": 1}\n' + long_x + b'\n\xff\n{"ok": 2}\n' + long_y  # the last line has no newline
    items = read_lines(data, chunk_size=chunk_size, max_record_bytes=1000)

    too_long = ParseFailure("line is longer than 1000 bytes")
    assert [(number, value) for number, value, _ in items] == [
        (1, {"ok": 1}),
        (2, too_long),
        (3, ParseFailure("line is not valid UTF-8 (byte 1)")),
        (4, {"ok": 2}),
        (5, too_long),
    ]
    for (_, _, preview), line in ((items[1], long_x), (items[4], long_y)):
        assert 1000 <= len(preview) <= 1024  # only the start of the line is kept
        assert line.decode().startswith(preview)


@pytest.mark.parametrize("chunk_size", [1, 2, 4096])
def test_a_utf8_bom_before_the_first_json_line_is_dropped(chunk_size):
    items = read_lines(b'\xef\xbb\xbf{"a": 1}\n[2]\n', chunk_size=chunk_size)

    assert [(number, value) for number, value, _ in items] == [(1, {"a": 1}), (2, [2])]


def test_a_json_lines_line_with_invalid_utf8_fails_alone():
    items = read_lines(b'{"a": 1}\n\xc3\x28\n{"b": 2}\n')

    assert [(number, value) for number, value, _ in items] == [
        (1, {"a": 1}),
        (2, ParseFailure("line is not valid UTF-8 (byte 1)")),
        (3, {"b": 2}),
    ]


def test_s3_test_events_and_removals_are_ignored_and_other_payloads_refused():
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    assert parse_event(test_event) == [IgnoredRecord("b", None, "s3:TestEvent")]
    with pytest.raises(EventError, match="no Records list"):
        parse_event({"detail-type": "Object Created"})
    with pytest.raises(EventError, match=r"Records\[0\] is not an S3 event record"):
        parse_event({"Records": [{"eventSource": "aws:sqs"}]})


def test_report_keys_keep_the_key_relative_to_incoming():
    ref = ObjectRef(bucket="b", key="incoming/2024/day.json", format="json", etag="e")

    assert ref.rejected_key == "rejected/2024/day.json.jsonl"
    assert ref.quarantine_key == "quarantine/2024/day.json"
    assert ref.quarantine_reason_key == "quarantine/2024/day.json.reason.json"
    unversioned = ObjectRef(bucket="b", key="incoming/x.json", format="json", etag="e1")
    versioned = ObjectRef(
        bucket="b", key="incoming/x.json", format="json", etag="e1", version_id="v1"
    )
    assert unversioned.object_id != versioned.object_id
    assert len(unversioned.object_id) == 64


def test_eventbridge_events_other_than_object_created_are_ignored():
    event = {
        "source": "aws.s3",
        "detail-type": "Object Deleted",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "incoming/a.jsonl"}},
    }
    assert parse_event(event) == [
        IgnoredRecord("b", "incoming/a.jsonl", "event Object Deleted is not Object Created")
    ]
    with pytest.raises(EventError, match="no detail.bucket/object"):
        parse_event({"source": "aws.s3", "detail-type": "Object Created", "detail": {}})


def test_eventbridge_keys_are_taken_as_they_are_not_url_decoded():
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "region": "us-west-2",
        "detail": {
            "bucket": {"name": "b"},
            "object": {"key": "incoming/a+b c.json", "etag": "e1", "version-id": "v1", "size": 3},
        },
    }
    [ref] = parse_event(event)
    assert isinstance(ref, ObjectRef)
    assert (ref.key, ref.format, ref.version_id, ref.etag) == (
        "incoming/a+b c.json",
        "json",
        "v1",
        "e1",
    )

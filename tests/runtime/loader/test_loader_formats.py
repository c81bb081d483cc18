"""The streaming readers agree with ``json.loads`` whatever the chunk boundaries."""

from __future__ import annotations

import io
import json
import random

import orjson
import pytest

from tapstack.loader.runtime import formats
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


@pytest.fixture(params=["orjson", "json"])
def backend(request, monkeypatch) -> str:
    """Every reader test runs with orjson (the function package's parser) and without it
    (the pure-Python fallback): both must give the same items."""
    monkeypatch.setattr(formats, "_orjson", orjson if request.param == "orjson" else None)
    return request.param


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


@pytest.mark.parametrize("chunk_size", [1, 64, 4096])
def test_a_broken_array_record_longer_than_the_limit_is_reported_from_its_first_bytes(chunk_size):
    data = b"[" + b'{"a": "' + b"x" * 500 + b'" ' + b"y" * 500 + b"}]"
    with pytest.raises(MalformedObject) as error:
        read_array(data, chunk_size=chunk_size, max_record_bytes=100)

    assert error.value.reason == (
        "record 1 is not a complete JSON value within 100 bytes "
        "(Unterminated string starting at character 7), the limit per record"
    )


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


# ------------------------------------------------ limits, exact and independent of chunking
LIMIT = 40


def record_of(size: int, char: str) -> bytes:
    """A JSON object of exactly ``size`` bytes in UTF-8, made mostly of ``char``."""
    frame = b'{"s":"' + b'"}'
    width = len(char.encode())
    count = (size - len(frame)) // width
    text = char * count + "x" * (size - len(frame) - count * width)
    record = b'{"s":"' + text.encode() + b'"}'
    assert len(record) == size
    return record


MULTI_BYTE = ["\u00e9", "\u4e2d", "\U0001f600"]  # 2, 3 and 4 bytes in UTF-8


@pytest.mark.parametrize("char", MULTI_BYTE)
def test_json_lines_at_the_byte_limit_load_and_one_byte_more_fails_wherever_chunks_cut(
    backend, char
):
    exact, over = record_of(LIMIT, char), record_of(LIMIT + 1, char)
    data = (
        b'{"ok":1}\n'
        + exact
        + b"\n"
        + over
        + b"\n"
        + exact
        + b"\r\n"
        + over
        + b"\r\n"
        + b"\xef\xbb\xbf" * 0
        + exact
        + b"\n"
        + over  # the last line has no line break
    )
    too_long = ParseFailure(f"line is longer than {LIMIT} bytes")
    expected = [
        (1, {"ok": 1}),
        (2, json.loads(exact)),
        (3, too_long),
        (4, json.loads(exact)),
        (5, too_long),
        (6, json.loads(exact)),
        (7, too_long),
    ]
    previews = set()
    for chunk_size in range(1, len(data) + 2):
        items = read_lines(data, chunk_size=chunk_size, max_record_bytes=LIMIT)

        assert [(number, value) for number, value, _ in items] == expected, chunk_size
        previews.update(text for _, value, text in items if value == too_long)
    # The preview of an over-long line is its first LIMIT + 1 bytes, cut before a split
    # character, whatever the chunks.
    assert previews == {over[: LIMIT + 1].decode("utf-8", "ignore")}


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4096])
def test_a_byte_order_mark_does_not_count_towards_the_first_lines_limit(backend, chunk_size):
    exact = record_of(LIMIT, "\u00e9")
    data = b"\xef\xbb\xbf" + exact + b"\n" + exact

    items = read_lines(data, chunk_size=chunk_size, max_record_bytes=LIMIT)

    assert [value for _, value, _ in items] == [json.loads(exact)] * 2


@pytest.mark.parametrize("char", MULTI_BYTE)
def test_array_elements_at_the_byte_limit_load_wherever_chunks_cut(char):
    exact = record_of(LIMIT, char)
    data = b"[" + exact + b",\n " + exact + b" ," + exact + b"]"

    for chunk_size in range(1, len(data) + 2):
        values = read_array(data, chunk_size=chunk_size, max_record_bytes=LIMIT)

        assert values == [json.loads(exact)] * 3, chunk_size


@pytest.mark.parametrize("char", MULTI_BYTE)
def test_an_array_element_one_byte_over_the_limit_fails_alike_wherever_chunks_cut(char):
    exact, over = record_of(LIMIT, char), record_of(LIMIT + 1, char)
    data = b"[" + exact + b"," + over + b"," + exact + b"]"

    reasons = set()
    for chunk_size in range(1, len(data) + 2):
        with pytest.raises(MalformedObject) as error:
            read_array(data, chunk_size=chunk_size, max_record_bytes=LIMIT)
        reasons.add(error.value.reason)

    # One reason, read from the record's first LIMIT bytes (which end just before its
    # closing brace), whatever the chunks.
    assert len(reasons) == 1
    [reason] = reasons
    assert reason.startswith(f"record 2 is not a complete JSON value within {LIMIT} bytes (")
    assert reason.endswith("), the limit per record")


def test_an_endless_number_in_an_array_is_stopped_at_the_limit():
    data = b"[1, " + b"9" * 10_000 + b"]"

    for chunk_size in (1, 7, 64, 100_000):
        with pytest.raises(MalformedObject) as error:
            read_array(data, chunk_size=chunk_size, max_record_bytes=LIMIT)
        assert error.value.reason == (
            f"record 2 is not a complete JSON value within {LIMIT} bytes, the limit per record"
        )


# -------------------------------------------------------------------- duplicate keys
@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": 1, "a": 1}', "a"),  # the same value twice is still two statements
        ('{"p": {"x": 1, "y": {"z": [{"k": 1, "k": 2}]}}}', "k"),
        ('[{"k": 1}, [{"k": 1, "j": 2, "k": 3}]]', "k"),
        ('{"a" :1, "a"\t:2}', "a"),  # whitespace before the colons
        ('{"a": 1, "\\u0061": 2}', "a"),  # the same key, escaped
        ('{"a": "\\u003a", "a": ":"}', "a"),  # colons hidden in escapes
        ('{"a\\u003a": 1, "a:": 2}', "a:"),
        ('{"": 1, "": 2}', ""),
        ('{"n": 123456789012345678901234567890, "n": 1}', "n"),
    ],
)
def test_json_lines_with_a_duplicate_key_are_rejected_with_the_key(backend, line, key):
    [(number, value, text)] = read_lines(b"\n" + line.encode() + b"\n")

    assert (number, value, text) == (2, ParseFailure(f"duplicate key {key!r}"), line)


def test_a_long_duplicate_key_is_shortened_in_the_reason(backend):
    key = "k" * 500
    [(_, value, _)] = read_lines(json.dumps({key: 1}).replace("}", f', "{key}": 2}}').encode())

    assert value == ParseFailure(f"duplicate key {'k' * 100 + '...'!r}")


@pytest.mark.parametrize("chunk_size", [1, 5, 4096])
def test_array_records_with_a_duplicate_key_are_rejected_and_the_others_kept(chunk_size):
    data = b'[{"a": 1}, {"b": 1, "b": 2}, {"c": [{"d": 1, "d": 2}]}, {"e": ":", "f": "e:"}]'

    items = [
        item for items in iter_json_array(io.BytesIO(data), chunk_size=chunk_size) for item in items
    ]

    assert items == [
        (1, {"a": 1}, None),
        (2, ParseFailure("duplicate key 'b'"), '{"b": 1, "b": 2}'),
        (3, ParseFailure("duplicate key 'd'"), '{"c": [{"d": 1, "d": 2}]}'),
        (4, {"e": ":", "f": "e:"}, None),
    ]


# ------------------------------------------- orjson and the standard library agree
AGREEING_LINES = [
    '{"id": "a", "n": 12345678901234567890, "m": -9223372036854775808}',
    '{"big": 123456789012345678901234567890, "neg": -18446744073709551616}',
    '{"huge": 1e400}',
    '{"f": [1.5e300, 1e16, 1e-7, -0.0, 0.1, 5e-324]}',
    '{"s": "\\ud800"}',  # a lone surrogate escape: decoded, rejected later by the schema
    '{"s": "\\ud83d\\ude00 \\u00e9 \\n \\" \\\\ \\/"}',
    '{"time": "12:00:00", "url": "https://x/?a=b:c", "k:": ":v"}',
    '  {"padded": true}  \r',
    "NaN",
    '{"a": Infinity}',
    "[" * 1100 + "]" * 1100,
    '{"a": 1} {"b": 2}',
    '{"a": 1,}',
    '"\u2028\u00a0"',
    "\ufeff{}",
]


@pytest.mark.parametrize("line", AGREEING_LINES)
def test_orjson_and_the_standard_library_read_every_line_the_same(monkeypatch, line):
    def read(parser):
        monkeypatch.setattr(formats, "_orjson", parser)
        return read_lines(line.encode("utf-8", "surrogatepass"))

    fast, exact = read(orjson), read(None)

    assert repr(fast) == repr(exact)  # repr: types count (an int is not a float) and nan
    assert fast


def test_orjson_and_the_standard_library_agree_on_generated_lines_with_repeated_keys(
    monkeypatch,
):
    """Lines built from keys and strings full of colons, quotes and escapes, some with a key
    repeated at some depth: the fast path's cheap test must never let a repeat through."""
    rng = random.Random(13)
    atoms = ["a", "b", ":", "a:", '\\"', "\\u003a", "\\u0061", " : ", "\\\\", 'x\\":']

    def string() -> str:
        return '"' + "".join(rng.choice(atoms) for _ in range(rng.randint(0, 3))) + '"'

    def value(depth: int) -> str:
        kind = rng.random()
        if depth > 3 or kind < 0.4:
            return rng.choice([string(), "1", "-2.5e-7", "123456789012345678901", "null"])
        if kind < 0.6:
            return "[" + ",".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        keys = [string() for _ in range(rng.randint(0, 4))]
        if keys and rng.random() < 0.3:
            keys.append(rng.choice(keys))
        colon = rng.choice([":", " :", ":\t"])
        comma = rng.choice([",", ", "])  # "," and ":": compact lines, as machines write them
        return "{" + comma.join(k + colon + value(depth + 1) for k in keys) + "}"

    lines = "\n".join(value(0) for _ in range(3000)).encode()
    monkeypatch.setattr(formats, "_orjson", orjson)
    fast = read_lines(lines)
    monkeypatch.setattr(formats, "_orjson", None)
    exact = read_lines(lines)

    assert repr(fast) == repr(exact)
    duplicates = [v for _, v, _ in exact if isinstance(v, ParseFailure) and "duplicate" in v.reason]
    assert len(duplicates) > 100

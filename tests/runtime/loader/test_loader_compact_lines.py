"""``Table.encode_line``: the shortcut for compact lines gives the full path's row or nothing.

The full path decodes a line (``formats``, with its duplicate-key and number checks) and then
validates and encodes the record (``Table.encode_row``). ``encode_line`` reads the fields of a
compact line in place. Whatever the line, it must return exactly the full path's row, or
``None``; it must never accept a line the full path rejects. Lines are generated compact (the
form the shortcut takes) and then bent: escapes, control characters, whitespace, duplicate
keys, key order, numbers beyond 64 bits, timestamps at day and year boundaries.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapstack.loader.runtime import schema
from tapstack.loader.runtime.formats import ParseFailure, _Decoder
from tapstack.loader.runtime.schema import EVENTS, RecordError

EXAMPLES = 3000


def full_path(line: str) -> bytes | str:
    """The row the loader writes for ``line`` without the shortcut, or why it rejects it."""
    value = _Decoder().line(line)
    if type(value) is ParseFailure:
        return value.reason
    try:
        return EVENTS.encode_row(value)
    except RecordError as error:
        return str(error)


def assert_same_as_full_path(line: str) -> bytes | None:
    row = EVENTS.encode_line(line)
    if row is not None:
        assert row == full_path(line), line
    return row


offsets = st.sampled_from([0, 60, 120, -300, -480, 330, 345, 540, 14 * 60, -12 * 60, -59])
moments = st.builds(
    lambda moment, minutes, form: (
        moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(
            timespec="microseconds"
        )
        if form == "offset"
        else moment.isoformat(timespec="microseconds") + "Z"
    ),
    st.one_of(
        st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.sampled_from(
            [
                datetime(1000, 1, 1, 0, 30),  # UTC falls before the year 1000
                datetime(9999, 12, 31, 23, 30),  # UTC falls after 9999
                datetime(2024, 2, 29, 23, 30),  # leap day to March 1st
                datetime(2023, 12, 31, 23, 0),  # year end
                datetime(2024, 3, 1, 0, 15),  # back to the leap day
            ]
        ),
    ),
    offsets,
    st.sampled_from(["offset", "Z"]),
)
odd_texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=12
)
ids = (
    st.text(alphabet=string.ascii_letters + string.digits + "-_ é😀", min_size=1, max_size=66)
    | odd_texts
)
# The extended form's shape with any year, month, day and offset digits: invalid dates,
# years before 1000, offsets of 24 hours and more.
shaped = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:30:00.000000{}".format,
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 23),
    st.sampled_from(["Z", "+00:00", "+23:59", "+24:00", "-05:60", "+05:30", "-12:00"]),
)
timestamps = (
    moments
    | shaped
    | odd_texts
    | st.sampled_from(["2024-05-01T12:00:00Z", "2024-W18-3T12:00Z", "2024-05-01 12:00:00Z"])
)
types = st.text(alphabet=string.printable + "é", min_size=0, max_size=66) | odd_texts
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_texts
)
payloads = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_texts, inner, max_size=3),
    max_leaves=8,
).map(lambda value: value if isinstance(value, dict) else {"v": value})


def deep(levels: int) -> dict[str, Any]:
    """An object nesting ``levels`` objects and arrays, alternately, around a number."""
    inner: Any = 1
    for level in reversed(range(1, levels)):
        inner = [inner] if level % 2 else {"d": inner}
    return {"d": inner}


any_records = st.fixed_dictionaries(
    {"id": ids, "occurred_at": timestamps, "type": types},
    optional={"payload": payloads | st.integers(29, 34).map(deep) | scalars},
)
fitting_records = st.fixed_dictionaries(
    {
        "id": st.text(alphabet=string.ascii_letters + "-é😀", min_size=1, max_size=64),
        "occurred_at": moments | shaped,
        "type": st.text(alphabet=string.ascii_letters + " é", min_size=1, max_size=64),
        "payload": payloads,
    }
)
records = any_records | fitting_records


def compact(record: dict[str, Any], writer: str) -> str:
    if writer == "orjson":
        try:
            return orjson.dumps(record).decode()
        except TypeError:  # beyond 64-bit integers, surrogates: the standard library writes
            pass
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=writer == "ascii")
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


BENDS = [
    lambda line: line,
    lambda line: line + "\r",
    lambda line: " " + line,
    lambda line: line.replace(",", ", ", 1),
    lambda line: line.replace('"payload":', '"payload": '),
    lambda line: line[:-1] + ',"payload":{}}',  # a second payload key
    lambda line: line[:-1] + ',"id":"x"}',  # a duplicate id
    lambda line: line.replace('"type"', '"typ\\u0065"'),
    lambda line: line.replace('":"', '":"\\u0041', 1),
    lambda line: line.replace('":"', '":"\\"', 1),
    lambda line: line.replace('":"', '":"\t', 1),
    lambda line: line.replace("}}", ',"k":null}}'),
    lambda line: line.replace("}}", ',"n":18446744073709551616}}'),
    lambda line: line.replace("}}", ',"a":1,"a":2}}'),
    lambda line: line.replace("}}", ',"f":1e16}}'),
    lambda line: line.replace("}}", ',"s":"\\ud800"}}'),
    lambda line: line.replace("}}", "}}}"),
    lambda line: line[:-1],
]


def test_a_compact_line_gets_the_full_paths_row_or_none():
    taken = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
    @given(
        record=records,
        writer=st.sampled_from(["orjson", "ascii", "utf8"]),
        bend=st.just(0) | st.sampled_from(range(len(BENDS))),
    )
    def check(record: dict[str, Any], writer: str, bend: int) -> None:
        row = assert_same_as_full_path(BENDS[bend](compact(record, writer)))
        taken.append(row is not None)

    check()
    # The property is about the lines the shortcut takes: enough of them must be generated.
    assert sum(taken) >= EXAMPLES // 20, f"{sum(taken)} of {len(taken)} took the shortcut"


def test_machine_written_lines_take_the_shortcut():
    """The form producers write (and the benchmark's): every field, in order, compact."""
    moment = datetime(2024, 5, 1, 23, 30, 0, 123456, tzinfo=UTC)
    for minutes in (0, 120, -300, 330, -720, 840):
        local = moment.astimezone(timezone(timedelta(minutes=minutes)))
        record = {
            "id": "6f1c1a52-1f0e-4d4e-9a55-4f0b9d0e8a11",
            "occurred_at": local.isoformat(timespec="microseconds"),
            "type": "add to cart",
            "payload": {"user": "é😀", "amount": 12.5, "items": [{"qty": 2}], "ok": True},
        }
        line = orjson.dumps(record).decode()
        row = assert_same_as_full_path(line)
        assert row is not None, line
        assert b"\x1a2024-05-01 23:30:00.123456" in row
        assert assert_same_as_full_path(line + "\r") == row


@pytest.mark.parametrize(
    "line, why",
    [
        ('{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t"}', "no payload"),
        (
            '{"occurred_at":"2024-05-01T12:00:00.000000Z","id":"a","type":"t","payload":{}}',
            "fields out of column order",
        ),
        (
            '{"id":"a\\"b","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":{}}',
            "an escaped quote in a string",
        ),
        (
            '{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":{"x":null}}',
            "a null in the payload",
        ),
        (
            '{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":{"x":1,"x":2}}',
            "a duplicate key in the payload",
        ),
        (
            '{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":[1]}',
            "a payload that is not an object",
        ),
        (
            '{"id":" a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":{}}',
            "an id with leading whitespace",
        ),
        (
            '{"id":"a","occurred_at":"2024-05-01\x0112:00:00Z","type":"t","payload":{}}',
            "a control character in a timestamp",
        ),
    ],
)
def test_other_lines_take_the_full_path(line, why):
    assert EVENTS.encode_line(line) is None, why


def test_a_payload_at_the_nesting_limit_is_taken_and_one_level_more_is_not():
    head = '{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":'
    at_limit = head + orjson.dumps(deep(schema.MAX_JSON_NESTING)).decode() + "}"
    beyond = head + orjson.dumps(deep(schema.MAX_JSON_NESTING + 1)).decode() + "}"
    assert assert_same_as_full_path(at_limit) is not None
    assert EVENTS.encode_line(beyond) is None
    assert "levels deep" in str(full_path(beyond))


def test_without_orjson_every_line_takes_the_full_path(monkeypatch):
    monkeypatch.setattr(schema, "_orjson", None)
    line = '{"id":"a","occurred_at":"2024-05-01T12:00:00.000000Z","type":"t","payload":{}}'
    assert EVENTS.encode_line(line) is None


@pytest.mark.parametrize("text", ["[1]", '"{}"', "{", '{"a":1} ', '{"a": 1}'])
def test_a_json_column_takes_only_an_object_as_orjson_writes_it(text):
    # Not JSON (orjson.JSONDecodeError is a ValueError) or not the form taken.
    with pytest.raises((schema._NotCanonical, ValueError)):
        schema.JsonObject().from_raw(text)

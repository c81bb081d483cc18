"""Row encoding: the fast paths (timestamps from slices of their text, payloads through
orjson) give exactly what the general paths give, as binary-protocol string parameters."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tapstack.loader.runtime import schema
from tapstack.loader.runtime.schema import (
    EVENTS,
    JsonObject,
    RecordError,
    Timestamp,
    VarChar,
    length_prefix,
)
from tests.runtime.loader.loader_support import parameter_value


def reference_text(text: str) -> bytes:
    """The UTC instant computed the slow, obvious way."""
    utc = datetime.fromisoformat(text).astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f").encode()


def generated_timestamps(count: int) -> list[str]:
    rng = random.Random(7)
    values = []
    for _ in range(count):
        moment = datetime(2024, 1, 1) + timedelta(microseconds=rng.randrange(366 * 86_400 * 10**6))
        minutes = rng.choice([0, 30, 45]) + 60 * rng.randint(0, 14)
        sign = rng.choice("+-")
        offset = "Z" if rng.random() < 0.1 else f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
        values.append(moment.isoformat(timespec="microseconds") + offset)
    return values


EDGES = [
    "2024-02-29T23:59:59.999999-00:01",  # into the next day (and month)
    "2024-03-01T00:00:00.000000+00:01",  # into the previous day
    "2024-12-31T23:30:00.000000-05:00",  # into the next year
    "2024-06-15T12:00:00.000000-00:00",
    "2024-06-15T00:00:00.000000+14:00",
    "2024-06-15T23:59:59.000000-12:00",
    "1000-01-01T00:30:00.000000+00:30",  # exactly the first DATETIME instant
]


@pytest.mark.parametrize("text", EDGES + generated_timestamps(2000))
def test_timestamps_with_offsets_encode_as_their_utc_instant(text):
    assert parameter_value(Timestamp(6).to_param(text)) == reference_text(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1000-01-01T00:30:00.000000+00:31", "before the year 1000"),
        ("9999-12-31T23:30:00.000000-01:00", "outside the supported range"),
    ],
)
def test_timestamps_that_leave_the_datetime_range_in_utc_are_refused(text, reason):
    with pytest.raises(RecordError, match=reason):
        Timestamp(6).to_param(text)


PAYLOADS = [
    {},
    {"a": None, "b": [True, False, None], "s": "it's a \\ test", "u": "\u00e9\u4e2d\U0001f600"},
    {"min": -(2**63), "max": 2**64 - 1, "f": 1e308},
    {"ctl": "\x00\x1f\x7f\u2028", "quote": '"', "null": "null"},
    {"nested": [[{"x": [1, [2, [3]]]}]], "f": 0.5},
]


@pytest.fixture(params=["orjson", "json"])
def encoder(request, monkeypatch):
    monkeypatch.setattr(schema, "_orjson", orjson if request.param == "orjson" else None)
    return JsonObject().to_param


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_encode_to_the_same_parameter_with_or_without_orjson(monkeypatch, payload):
    monkeypatch.setattr(schema, "_orjson", orjson)
    fast = JsonObject().to_param(payload)
    monkeypatch.setattr(schema, "_orjson", None)
    exact = JsonObject().to_param(payload)

    assert fast == exact


def test_payload_parameters_are_the_documents_utf8_with_nothing_escaped_for_sql(encoder):
    document = parameter_value(encoder({"s": "it's \\ é", "q": "'); DROP TABLE events; --"}))

    assert document == '{"s":"it\'s \\\\ é","q":"\'); DROP TABLE events; --"}'.encode()


@pytest.mark.parametrize(
    ("size", "prefix"),
    [
        (0, b"\x00"),
        (250, b"\xfa"),
        (251, b"\xfc\xfb\x00"),
        (65535, b"\xfc\xff\xff"),
        (65536, b"\xfd\x00\x00\x01"),
        (2**24 - 1, b"\xfd\xff\xff\xff"),
        (2**24, b"\xfe\x00\x00\x00\x01\x00\x00\x00\x00"),
    ],
)
def test_parameter_lengths_are_length_encoded_integers_at_every_boundary(size, prefix):
    # https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
    assert length_prefix(size) == prefix


@pytest.mark.parametrize("length", [1, 250, 251, 70_000])
def test_payloads_of_any_length_carry_their_exact_byte_count(encoder, length):
    payload = {"s": "é" * length}

    assert parameter_value(encoder(payload)) == ('{"s":"' + "é" * length + '"}').encode()


def test_a_row_is_its_columns_parameters_in_column_order_with_defaults_filled_in():
    row = EVENTS.encode_row(
        {"type": "click", "id": "évt-1", "occurred_at": "2024-05-01T12:00:00.000000+02:00"}
    )

    assert row == b"".join(
        [
            length_prefix(len("évt-1".encode())) + "évt-1".encode(),
            b"\x1a2024-05-01 10:00:00.000000",
            b"\x05click",
            b"\x02{}",
        ]
    )
    assert parameter_value(VarChar(64).to_param("x" * 64)) == b"x" * 64


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"n": float("inf")}, "outside the double-precision range"),  # 1e999 decodes to inf
        ({"n": [float("-inf")]}, "outside the double-precision range"),
        ({"s": "\ud800"}, "unpaired UTF-16 surrogate"),
    ],
)
def test_payloads_json_cannot_hold_are_refused_with_or_without_orjson(encoder, payload, reason):
    with pytest.raises(RecordError, match=reason):
        encoder(payload)


def test_the_64_bit_integer_range_is_stored_exactly(encoder):
    parameter = encoder(json.loads('{"min": -9223372036854775808, "max": 18446744073709551615}'))

    assert parameter_value(parameter) == b'{"min":-9223372036854775808,"max":18446744073709551615}'


@pytest.mark.parametrize("number", ["123456789012345678901234567890", "-9223372036854775809"])
def test_integers_beyond_64_bits_are_refused_with_or_without_orjson(encoder, number):
    # MySQL 8.4 stores them as a rounded double: the stricter server's rule (schema docstring).
    with pytest.raises(RecordError, match=r"outside -2\*\*63\.\.2\*\*64-1"):
        encoder(json.loads('{"n": ' + number + "}"))

"""Property: whatever a record contains, it is loaded or rejected with a reason; the object
never fails. Generated with Hypothesis, loaded into the real MariaDB.

Records mix valid and invalid fields with arbitrary JSON: nesting from 1 to 120 levels,
strings with every code point class (NUL, controls, non-BMP, unpaired surrogate escapes),
integers far beyond 64 bits, floats up to the double range, and raw lines that no JSON
encoder writes (``NaN``, ``1e999``, 5000-digit numbers, duplicate keys, invalid UTF-8,
lines over the record limit). For every object:

* ``handle_event`` returns (a JSON Lines object in which no line parses is quarantined,
  which is also an answer, not a failure);
* every non-blank line is either in the table, stored as read, or in the rejected report
  with a non-empty reason, never both;
* the report is strict JSON (no ``NaN``/``Infinity``), and the counts match.

The examples (``max_examples``) are set per test below; ``derandomize`` makes a run repeatable.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.loader.loader_support import BUCKET, put, stored

MAX_RECORD_BYTES = 3000
#: Objects generated per run (each holds up to 12 records).
JSON_LINES_EXAMPLES = 150
JSON_ARRAY_EXAMPLES = 75
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one database and loader for every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for level in range(depth - 1):
        value = {"d": value} if level % 2 else [value]
    return value if isinstance(value, dict) else {"a": value}


payloads = json_values | st.integers(min_value=1, max_value=120).map(nested)
valid_ids = st.text(
    alphabet=string.ascii_letters + string.digits + "-_é😀", min_size=1, max_size=70
)
ids = valid_ids | st.text(max_size=70) | json_values
moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
).flatmap(
    lambda moment: st.sampled_from(
        [
            moment.replace(tzinfo=UTC).isoformat(),
            moment.replace(tzinfo=timezone(timedelta(hours=14))).isoformat(),
            moment.replace(tzinfo=timezone(timedelta(hours=-12))).isoformat(),
            moment.isoformat(),  # no timezone
        ]
    )
)
timestamps = moments | st.text(max_size=30) | json_values
types = st.text(min_size=1, max_size=70) | json_values
records = st.fixed_dictionaries(
    {"id": ids, "occurred_at": timestamps, "type": types},
    optional={"payload": payloads, "extra": json_values},
)


def encoded(value: Any, form: str) -> bytes:
    """``value`` as JSON: ASCII only, as UTF-8, or compact (what ``Table.encode_line`` takes)."""
    separators = (",", ":") if form == "compact" else None
    text = json.dumps(value, ensure_ascii=form == "ascii", separators=separators)
    return text.encode("utf-8", "surrogatepass")


def raw(record_id: str, tail: bytes) -> bytes:
    """A line as no JSON encoder writes it: ``tail`` follows the id, timestamp and type."""
    head = f'{{"id": "{record_id}", "occurred_at": "2024-01-01T00:00:00Z", "type": "t"'
    return head.encode() + tail


raw_lines = st.sampled_from(
    [
        raw("nan", b', "payload": {"x": NaN}}'),
        raw("inf", b', "payload": {"x": 1e999}}'),
        raw("big", b', "payload": {"x": ' + b"9" * 5000 + b"}}"),
        raw("dup", b', "id": "dup2"}'),
        raw("sur", b', "payload": {"s": "\\ud800"}}'),
        raw("nul", b', "payload": {"s": "\\u0000"}}'),
        raw("bad-utf8", b', "payload": {"s": "\xff\xfe"}}'),
        raw("long", b', "payload": {"s": "' + b"x" * MAX_RECORD_BYTES + b'"}}'),
        b"[" * 3000 + b"]" * 3000,
        b"not json at all",
        b"   ",
        b"",
    ]
)
record_texts = st.tuples(records, st.sampled_from(["ascii", "utf8", "compact"])).map(
    lambda pair: encoded(*pair)
)
lines = st.lists(record_texts | raw_lines, min_size=1, max_size=12)
element_texts = record_texts | raw_lines.filter(bytes.strip)


def strict_json(line: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"the report line has {name}, which is not JSON: {line}")

    return json.loads(line, parse_constant=refuse)


def report(s3: Any, key: str | None) -> list[dict[str, Any]]:
    if key is None:
        return []
    text = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
    # JSON Lines end at "\n" only: U+2028 or U+0085 inside a record are not line ends.
    return [strict_json(line) for line in text.split("\n") if line]


class Rows:
    """Reads rows of ``events`` on one connection kept for the whole test (a new connection
    per example would cost more than the example)."""

    def __init__(self, database: Any) -> None:
        self._conn = database.server.connect(database.name)

    def get(self, ids: list[str]) -> dict[str, tuple[str, str, Any]]:
        if not ids:
            return {}
        with self._conn.cursor() as cursor:
            cursor.execute(
                "SELECT id, DATE_FORMAT(occurred_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), type, "
                "payload FROM events WHERE id IN %s",
                (ids,),
            )
            rows = cursor.fetchall()
        self._conn.commit()
        return {row[0]: (row[1], row[2], json.loads(row[3])) for row in rows}

    def close(self) -> None:
        self._conn.close()


def check_accounting(result, body_lines, reported, rows, field):
    """Every non-blank line is loaded as read or reported with a reason, never both; returns
    the records loaded, by id (the last of an id wins)."""
    numbered = {n: line for n, line in enumerate(body_lines, start=1) if line.strip()}
    rejected = {line[field] for line in reported}
    assert all(isinstance(line["reason"], str) and line["reason"] for line in reported)
    assert len(rejected) == len(reported) == result["records_rejected"]
    assert rejected <= set(numbered)
    latest = {}
    for number in sorted(set(numbered) - rejected):
        record = json.loads(numbered[number])
        latest[record["id"]] = record
    assert rows.get(list(latest)) == {key: stored(record) for key, record in latest.items()}
    return latest


@pytest.fixture
def rows(database):
    reader = Rows(database)
    yield reader
    reader.close()


def test_any_json_lines_content_ends_loaded_or_rejected_with_a_reason(make_loader, s3, rows):
    loader = make_loader(max_record_bytes=MAX_RECORD_BYTES, chunk_size=97, batch_size=4)
    seen: set[str] = set()
    counter = iter(range(10**9))

    @settings(SETTINGS, max_examples=JSON_LINES_EXAMPLES)
    @given(body_lines=lines)
    def check(body_lines: list[bytes]) -> None:
        key = f"incoming/property-{next(counter)}.jsonl"
        event = put(s3, key, b"\n".join(body_lines))

        result = loader.handle_event(event)["objects"][0]

        if result["status"] == "quarantined":
            assert result["reason"].startswith("no line is valid JSON")
            return
        assert result["status"] == "loaded", result
        decoded = [line.decode("utf-8", "replace") for line in body_lines]
        latest = check_accounting(result, decoded, report(s3, result["report_key"]), rows, "line")
        new = set(latest) - seen
        assert result["rows_inserted"] == len(new)
        seen.update(latest)

    check()


def test_any_json_array_content_ends_loaded_rejected_or_quarantined_with_a_reason(
    make_loader, s3, rows
):
    loader = make_loader(max_record_bytes=MAX_RECORD_BYTES, chunk_size=97, batch_size=4)
    counter = iter(range(10**9))

    @settings(SETTINGS, max_examples=JSON_ARRAY_EXAMPLES)
    @given(elements=st.lists(element_texts, max_size=8))
    def check(elements: list[bytes]) -> None:
        key = f"incoming/property-{next(counter)}.json"
        event = put(s3, key, b"[" + b",\n".join(elements) + b"]")

        result = loader.handle_event(event)["objects"][0]

        if result["status"] == "quarantined":  # the array's structure is broken: a reason
            assert result["reason"], result
            return
        assert result["status"] == "loaded", result
        decoded = [element.decode("utf-8") for element in elements]
        check_accounting(result, decoded, report(s3, result["report_key"]), rows, "record_number")

    check()

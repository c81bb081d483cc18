"""The rejected report is strict JSON whatever the records hold."""

from __future__ import annotations

import json

from tapstack.loader.runtime.rejects import report_line
from tests.runtime.loader.loader_support import BUCKET, put, record

HEAD = '{"id": "huge", "occurred_at": "2024-01-01T00:00:00Z", "type": "t", '


def strict_lines(s3, key):
    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line, parse_constant=refuse) for line in body.split("\n") if line]


def test_a_number_beyond_the_double_range_is_reported_by_its_text_as_read(
    make_loader, s3, database
):
    line = HEAD + '"payload": {"x": 1e999}}'
    body = (json.dumps(record(1)) + "\n" + line + "\n").encode()

    result = make_loader().handle_event(put(s3, "incoming/huge.jsonl", body))["objects"][0]

    [rejected] = strict_lines(s3, result["report_key"])
    assert rejected == {
        "line": 2,
        "reason": "payload: contains a number outside the double-precision range",
        "text": line,
    }


def test_an_array_element_beyond_the_double_range_is_reported_as_a_json_string(
    make_loader, s3, database
):
    element = HEAD + '"payload": {"x": -1e999}}'
    body = f"[{json.dumps(record(1))}, {element}]".encode()

    result = make_loader().handle_event(put(s3, "incoming/huge.json", body))["objects"][0]

    [rejected] = strict_lines(s3, result["report_key"])
    assert rejected["record_number"] == 2
    assert json.loads(rejected["record_text"].replace("-Infinity", "null"))["payload"] == {
        "x": None
    }
    assert "-Infinity" in rejected["record_text"]


def test_a_report_line_never_raises_and_never_writes_nan():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]

    lines = [
        report_line("record_number", 1, "r", record={"x": float("nan")}),
        report_line("record_number", 2, "r", record=deep),
        report_line("line", 3, "r", record={"x": float("inf")}, text='{"x": 1e999}'),
        report_line("line", 4, "r", text="\ud800 not json"),
    ]

    parsed = [json.loads(line, parse_constant=lambda name: 1 / 0) for line in lines]
    assert parsed[0] == {"record_number": 1, "reason": "r", "record_text": '{"x":NaN}'}
    assert parsed[1]["record_unavailable"] == (
        "the record cannot be written as JSON (RecursionError)"
    )
    assert parsed[2] == {"line": 3, "reason": "r", "text": '{"x": 1e999}'}
    assert parsed[3] == {"line": 4, "reason": "r", "text": "\ud800 not json"}

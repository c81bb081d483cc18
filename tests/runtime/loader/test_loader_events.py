"""Which keys the loader acts on, and as what: every key under incoming/ is loaded or
quarantined; folder placeholders and keys elsewhere are ignored."""

from __future__ import annotations

import pytest

from tapstack.loader.runtime.events import UNSUPPORTED, IgnoredRecord, classify_key, parse_event
from tests.runtime.loader.loader_support import s3_event


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("incoming/a.jsonl", ("jsonl", None)),
        ("incoming/a.ndjson", ("jsonl", None)),
        ("incoming/a.json", ("json", None)),
        ("incoming/2024/a.jsonl.gz", ("jsonl", "gzip")),
        ("incoming/a.ndjson.gz", ("jsonl", "gzip")),
        ("incoming/a.json.gz", ("json", "gzip")),
        ("incoming/a.csv", (UNSUPPORTED, None)),
        ("incoming/a.gz", (UNSUPPORTED, None)),
        ("incoming/a.JSONL", (UNSUPPORTED, None)),  # suffixes are case-sensitive, as in S3
        ("incoming/.json", (UNSUPPORTED, None)),
        ("incoming/noextension", (UNSUPPORTED, None)),
        ("incoming/a.jsonl.gz.tmp", (UNSUPPORTED, None)),
        ("incoming/2024/", None),  # a console "folder"
        ("outgoing/a.jsonl", None),
        ("rejected/a.jsonl.jsonl", None),
    ],
)
def test_keys_are_classified_by_their_suffix_under_incoming(key, kind):
    assert classify_key(key) == kind


def test_an_unsupported_key_is_handed_to_the_loader_and_one_outside_incoming_is_ignored():
    unsupported, outside = (
        parse_event(s3_event(key, etag="e", size=1))[0]
        for key in ("incoming/data.csv", "elsewhere/data.jsonl")
    )

    assert (unsupported.format, unsupported.compression) == (UNSUPPORTED, None)
    assert outside == IgnoredRecord(
        "tapstack-ingest-test", "elsewhere/data.jsonl", "key is not an object under incoming/"
    )


def test_eventbridge_events_carry_the_compression_of_their_key():
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "region": "eu-west-1",
        "detail": {
            "bucket": {"name": "b"},
            "object": {"key": "incoming/day.jsonl.gz", "etag": "e", "size": 3},
        },
    }

    [ref] = parse_event(event)

    assert (ref.format, ref.compression, ref.key) == ("jsonl", "gzip", "incoming/day.jsonl.gz")

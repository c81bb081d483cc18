"""Keys the loader derives (``rejected/``, ``quarantine/``, the reason file) stay within S3's
1024-byte key limit for every valid source key, shortened deterministically and traceably.

S3: "The object key name is a sequence of Unicode characters with UTF-8 encoding of up to
1,024 bytes long." https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
moto does not enforce the limit, so ``S3KeyLimit`` does, as S3 would (KeyTooLongError).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from tapstack.loader.runtime.contract import MAX_KEY_BYTES
from tapstack.loader.runtime.events import ObjectRef, derived_key
from tests.runtime.loader.loader_support import BUCKET, jsonl, keys, put, record

S3_KEY_LIMIT = 1024  # bytes of UTF-8, from the page above


class S3KeyLimit:
    """The S3 client, refusing keys longer than S3 allows on every write the loader makes."""

    def __init__(self, s3):
        self._s3 = s3

    def _check(self, key):
        if len(key.encode("utf-8")) > S3_KEY_LIMIT:
            raise ClientError(
                {"Error": {"Code": "KeyTooLongError", "Message": "Your key is too long"}},
                "PutObject",
            )

    def put_object(self, **params):
        self._check(params["Key"])
        return self._s3.put_object(**params)

    def upload_fileobj(self, fileobj, bucket, key, **kwargs):
        self._check(key)
        return self._s3.upload_fileobj(fileobj, bucket, key, **kwargs)

    def copy(self, source, bucket, key, **kwargs):
        self._check(key)
        return self._s3.copy(source, bucket, key, **kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def longest_key(extension, char="é"):
    """A key of exactly 1024 bytes: incoming/, multi-byte characters, the extension."""
    room = S3_KEY_LIMIT - len("incoming/") - len(extension)
    stem = char * (room // len(char.encode())) + "x" * (room % len(char.encode()))
    key = f"incoming/{stem}{extension}"
    assert len(key.encode()) == S3_KEY_LIMIT
    return key


def test_a_1024_byte_key_with_rejected_records_finishes_with_a_shortened_report_key(
    make_loader, s3, database
):
    key = longest_key(".jsonl")
    event = put(s3, key, jsonl([record(1), {"id": "broken"}]))

    result = make_loader(s3=S3KeyLimit(s3)).handle_event(event)["objects"][0]

    digest = hashlib.sha256(key.encode()).hexdigest()
    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        1,
        1,
    )
    report_key = result["report_key"]
    assert len(report_key.encode()) <= MAX_KEY_BYTES == S3_KEY_LIMIT
    assert report_key.startswith("rejected/ééé")
    assert report_key.endswith(f"~{digest[:16]}.jsonl")
    assert keys(s3, "rejected/") == [report_key]
    head = s3.head_object(Bucket=BUCKET, Key=report_key)
    assert head["Metadata"]["source-key-sha256"] == digest
    [entry] = database.manifest()
    assert (entry["object_key"], entry["report_key"]) == (key, report_key)


def test_a_1024_byte_key_that_cannot_be_parsed_is_quarantined_with_its_full_key(
    make_loader, s3, database
):
    key = longest_key(".json", char="日")  # three bytes per character

    result = make_loader(s3=S3KeyLimit(s3)).handle_event(put(s3, key, b"[{"))["objects"][0]

    assert result["status"] == "quarantined"
    copy, reason_key = sorted(keys(s3, "quarantine/"))
    assert copy == result["report_key"]
    assert reason_key == copy + ".reason.json"
    assert all(len(k.encode()) <= S3_KEY_LIMIT for k in (copy, reason_key))
    reason = json.loads(s3.get_object(Bucket=BUCKET, Key=reason_key)["Body"].read())
    assert reason["source"]["key"] == key


def test_the_source_key_is_in_the_metadata_when_it_fits(make_loader, s3, database):
    key = "incoming/2024/05/day one.jsonl"
    result = make_loader().handle_event(put(s3, key, jsonl([{"id": "x"}])))["objects"][0]

    metadata = s3.head_object(Bucket=BUCKET, Key=result["report_key"])["Metadata"]

    assert result["report_key"] == "rejected/2024/05/day one.jsonl.jsonl"  # short: unchanged
    assert urllib.parse.unquote(metadata["source-key"]) == key


@pytest.mark.parametrize("char", ["a", "é", "日", "😀"])
def test_derived_keys_fit_are_deterministic_and_differ_for_keys_sharing_their_start(char):
    first = ObjectRef("b", longest_key(".jsonl", char), "jsonl", "e")
    twin = ObjectRef("b", first.key[:-7] + "y.jsonl", "jsonl", "e")

    derived = [first.rejected_key, first.quarantine_key, first.quarantine_reason_key]

    assert all(len(k.encode("utf-8")) <= MAX_KEY_BYTES for k in derived)
    assert derived == [first.rejected_key, first.quarantine_key, first.quarantine_reason_key]
    assert first.rejected_key != twin.rejected_key
    assert first.quarantine_key != twin.quarantine_key
    assert first.quarantine_reason_key == first.quarantine_key + ".reason.json"


def test_a_short_key_derives_the_plain_names():
    ref = ObjectRef("b", "incoming/2024/day.json", "json", "e")

    assert ref.rejected_key == "rejected/2024/day.json.jsonl"
    assert ref.quarantine_key == "quarantine/2024/day.json"
    assert ref.quarantine_reason_key == "quarantine/2024/day.json.reason.json"


def test_shortening_cuts_at_a_character_boundary():
    key = derived_key("rejected/", "日" * 400, ".jsonl", "incoming/" + "日" * 400)

    # Whole three-byte characters, as many as fit: within two bytes of the limit.
    assert re.fullmatch(r"rejected/日+~[0-9a-f]{16}\.jsonl", key)
    assert MAX_KEY_BYTES - 2 <= len(key.encode()) <= MAX_KEY_BYTES

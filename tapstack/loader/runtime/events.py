"""S3 event notifications: which objects to load, and where their reports go.

Only ``ObjectCreated:*`` records for keys under ``incoming/`` are acted on; other records
are returned as ignored with the reason. Keys in S3 events are URL-encoded (spaces as
``+``) and are decoded with ``urllib.parse.unquote_plus``. The key's suffix gives the
format (``contract.FORMATS``): ``.jsonl``/``.ndjson`` (JSON Lines) or ``.json`` (a JSON
array), each optionally followed by ``.gz`` (gzip). Any other key under ``incoming/`` is
an object of the ``unsupported`` format, which the loader quarantines with the reason
instead of ignoring it; "folder" placeholders (keys ending in ``/``) are ignored.

Reports live in the same bucket under the key relative to ``incoming/``. For
``incoming/2024/day.json``:

* rejected records: ``rejected/2024/day.json.jsonl`` (always JSON Lines; keeping the full
  relative key means ``day.json`` and ``day.jsonl`` can never share a report);
* an unparseable object: ``quarantine/2024/day.json`` (a copy) and
  ``quarantine/2024/day.json.reason.json``.

S3 keys are at most 1024 bytes of UTF-8 (``contract.MAX_KEY_BYTES``), and a derived key is
longer than its source key. When one would not fit, ``derived_key`` shortens it
deterministically: the relative key is cut at a UTF-8 character boundary and followed by
``~`` and the first 16 hex digits of the SHA-256 of the full source key, then the suffix
(``rejected/2024/<cut>~1f2e3d4c5b6a7988.jsonl``). The same source key always gives the same
derived key, two keys that share their first kilobyte still get different ones, and the
full source key is in the manifest row (``object_key`` next to ``report_key``), in the
quarantine reason file and in the report's metadata (``source-key-sha256``, and
``source-key`` percent-encoded when it fits S3's 2 KB of user metadata).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html (key length)
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html (metadata size)

Each record's ``sequencer`` (``Records[].s3.object.sequencer``, or ``detail.object.sequencer``
in the EventBridge form) orders the events of one key: the greater hexadecimal value is the
later event. Sequencers may differ in length, so they are compared after left-padding the
shorter one with zeros (``sequencer_is_newer``). A missing or non-hexadecimal sequencer
(``tapstack redrive`` sends none) is ``None``: unknown.

Why not Powertools' event source data classes (``S3Event``, ``S3EventBridgeNotificationEvent``):
they are unvalidated dict wrappers, so the checks, the key classification and the sequencer
rules below would all stay; importing one imports the whole ``data_classes`` package (about 40
event types), which measured +54 ms per cold start on top of Logger and Metrics (fastest of 25
fresh imports without bytecode, as Lambda imports the bundle; 173 -> 227 ms); and
they decode keys differently from this module (``S3Object.key`` is left URL-encoded while
``S3EventBridgeNotificationObject.key`` is URL-decoded), so every key would be read raw anyway.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .contract import (
    COMPRESSED_SUFFIXES,
    FORMATS,
    INCOMING_PREFIX,
    MAX_KEY_BYTES,
    QUARANTINE_PREFIX,
    REJECTED_PREFIX,
)

__all__ = [
    "UNSUPPORTED",
    "EventError",
    "IgnoredRecord",
    "ObjectRef",
    "parse_event",
    "sequencer_is_newer",
]


#: The format of an object under ``incoming/`` whose key names no supported format.
UNSUPPORTED = "unsupported"
#: The reason file's suffix after the quarantine key.
REASON_SUFFIX = ".reason.json"
_HASH_DIGITS = 16


def derived_key(
    prefix: str, relative_key: str, suffix: str, source_key: str, *, reserve: int = 0
) -> str:
    """``prefix + relative_key + suffix``, or, when that exceeds ``MAX_KEY_BYTES - reserve``
    bytes of UTF-8, ``prefix + <relative_key cut at a character boundary> + "~" + <16 hex
    digits of the SHA-256 of source_key> + suffix``, as long as fits. ``reserve`` keeps room
    for a longer key derived from this one (the quarantine copy's reason file)."""
    limit = MAX_KEY_BYTES - reserve
    key = prefix + relative_key + suffix
    if len(key.encode("utf-8")) <= limit:
        return key
    digest = hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
    tail = "~" + digest + suffix
    budget = limit - len((prefix + tail).encode("utf-8"))
    if budget < 0:
        raise ValueError(f"prefix and suffix alone exceed {MAX_KEY_BYTES} bytes: {prefix!r}")
    cut = relative_key.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return prefix + cut + tail


class EventError(ValueError):
    """The invocation payload is not an S3 event notification."""


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object version to load."""

    bucket: str
    key: str
    format: str  # "jsonl", "json" or UNSUPPORTED
    etag: str
    version_id: str | None = None
    size: int | None = None
    region: str | None = None
    sequencer: str | None = None  # upper-case hex; None when the event had none
    compression: str | None = None  # "gzip" when the key says so (the loader also sniffs)

    @property
    def relative_key(self) -> str:
        return self.key[len(INCOMING_PREFIX) :]

    @property
    def version_token(self) -> str:
        """What identifies this version: the version id, or the ETag when unversioned."""
        return f"version:{self.version_id}" if self.version_id else f"etag:{self.etag}"

    @property
    def object_id(self) -> str:
        """sha256 of bucket, key and version: the manifest's primary key."""
        text = "\0".join((self.bucket, self.key, self.version_token))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def key_id(self) -> str:
        """sha256 of bucket and key: names the lock shared by every version of the key."""
        text = "\0".join((self.bucket, self.key))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def rejected_key(self) -> str:
        return derived_key(REJECTED_PREFIX, self.relative_key, ".jsonl", self.key)

    @property
    def quarantine_key(self) -> str:
        """The copy's key; short enough that the reason file's key (this plus
        ``.reason.json``) fits as well."""
        return derived_key(
            QUARANTINE_PREFIX, self.relative_key, "", self.key, reserve=len(REASON_SUFFIX)
        )

    @property
    def quarantine_reason_key(self) -> str:
        return self.quarantine_key + REASON_SUFFIX


@dataclass(frozen=True)
class IgnoredRecord:
    """An event record the loader does not act on, and why."""

    bucket: str | None
    key: str | None
    reason: str


def _sequencer(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    if not text or len(text) > 64 or text.strip(_HEX_DIGITS):
        return None
    return text


_HEX_DIGITS = "0123456789ABCDEF"


def sequencer_is_newer(sequencer: str, than: str) -> bool:
    """Whether ``sequencer`` is a later event of the same key than ``than`` (S3's rule:
    left-pad the shorter value with zeros, then compare as strings)."""
    width = max(len(sequencer), len(than))
    return sequencer.upper().rjust(width, "0") > than.upper().rjust(width, "0")


def classify_key(key: str) -> tuple[str, str | None] | None:
    """(format, compression) of a key under ``incoming/``, ``(UNSUPPORTED, None)`` when its
    name gives no supported format, ``None`` when the loader does not act on it (outside
    ``incoming/``, or a folder placeholder). Suffixes are case-sensitive, like S3 filters."""
    if not key.startswith(INCOMING_PREFIX) or key.endswith("/"):
        return None
    name = key.rpartition("/")[2]
    compression = None
    stem, dot, extension = name.rpartition(".")
    if stem and dot + extension in COMPRESSED_SUFFIXES:
        compression = COMPRESSED_SUFFIXES[dot + extension]
        stem, dot, extension = stem.rpartition(".")
    fmt = FORMATS.get(dot + extension) if stem else None
    if fmt is None:
        return UNSUPPORTED, None
    return fmt, compression


def _from_eventbridge(event: dict[str, Any]) -> list[ObjectRef | IgnoredRecord]:
    """An EventBridge ``Object Created`` event (how the secondary region's loader is
    triggered): one object, its key not URL-encoded."""
    try:
        detail = event["detail"]
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]
    except (KeyError, TypeError):
        raise EventError("not an S3 Object Created event: no detail.bucket/object") from None
    kind = classify_key(key)
    if kind is None:
        return [IgnoredRecord(bucket, key, _NOT_LOADABLE)]
    return [
        ObjectRef(
            bucket=bucket,
            key=key,
            format=kind[0],
            compression=kind[1],
            etag=str(obj.get("etag") or "").strip('"'),
            version_id=obj.get("version-id") or None,
            size=obj.get("size"),
            region=event.get("region"),
            sequencer=_sequencer(obj.get("sequencer")),
        )
    ]


_NOT_LOADABLE = f"key is not an object under {INCOMING_PREFIX}"


def parse_event(event: Any) -> list[ObjectRef | IgnoredRecord]:
    """Turn an S3 event notification (or the EventBridge form of an S3 Object
    Created event) into objects to load and records to ignore."""
    if not isinstance(event, dict):
        raise EventError(f"expected an S3 event object, got {type(event).__name__}")
    if event.get("source") == "aws.s3" and "detail-type" in event:
        if event["detail-type"] != "Object Created":
            detail = event.get("detail") or {}
            return [
                IgnoredRecord(
                    (detail.get("bucket") or {}).get("name"),
                    (detail.get("object") or {}).get("key"),
                    f"event {event['detail-type']} is not Object Created",
                )
            ]
        return _from_eventbridge(event)
    if event.get("Event") == "s3:TestEvent":
        return [IgnoredRecord(event.get("Bucket"), None, "s3:TestEvent")]
    records = event.get("Records")
    if not isinstance(records, list):
        raise EventError("not an S3 event notification: no Records list")
    parsed: list[ObjectRef | IgnoredRecord] = []
    for index, record in enumerate(records):
        try:
            s3 = record["s3"]
            bucket = s3["bucket"]["name"]
            obj = s3["object"]
            key = urllib.parse.unquote_plus(obj["key"])
            name = record["eventName"]
        except (KeyError, TypeError):
            raise EventError(f"Records[{index}] is not an S3 event record") from None
        if not name.startswith("ObjectCreated:"):
            parsed.append(IgnoredRecord(bucket, key, f"event {name} is not ObjectCreated"))
            continue
        kind = classify_key(key)
        if kind is None:
            parsed.append(IgnoredRecord(bucket, key, _NOT_LOADABLE))
            continue
        parsed.append(
            ObjectRef(
                bucket=bucket,
                key=key,
                format=kind[0],
                compression=kind[1],
                etag=str(obj.get("eTag") or obj.get("etag") or "").strip('"'),
                version_id=obj.get("versionId") or None,
                size=obj.get("size"),
                region=record.get("awsRegion"),
                sequencer=_sequencer(obj.get("sequencer")),
            )
        )
    return parsed

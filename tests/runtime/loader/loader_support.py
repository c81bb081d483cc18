"""Helpers shared by the loader tests: data, S3 event payloads, database inspection."""

from __future__ import annotations

import io
import itertools
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pymysql

from tapstack.loader.runtime.connections import connection_factory
from tapstack.loader.runtime.loader import Loader
from tapstack_lab.mariadb import LocalMariaDB

BUCKET = "tapstack-ingest-test"
REGION = "eu-west-1"
LOADER_USER = "tapstack_loader"
LOADER_PASSWORD = "loader-test-password"  # throwaway local server


@dataclass
class ScratchDatabase:
    """One test's database on the shared server, with root-side inspection helpers."""

    server: LocalMariaDB
    name: str

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        conn = self.server.connect(self.name)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def execute(self, *statements: str) -> None:
        conn = self.server.connect(self.name)
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def loader_connect(self, **overrides: Any) -> Callable[[], Any]:
        options: dict[str, Any] = {
            "host": self.server.host,
            "port": self.server.port,
            "user": LOADER_USER,
            "password": lambda: LOADER_PASSWORD,
            "database": self.name,
            "ssl_context": None,
        }
        options.update(overrides)
        return connection_factory(**options)

    def events(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """id -> (occurred_at as text, type, payload) for every row of ``events``."""
        rows = self.query(
            "SELECT id, DATE_FORMAT(occurred_at, '%Y-%m-%d %H:%i:%s.%f'), type, payload FROM events"
        )
        return {row[0]: (row[1], row[2], json.loads(row[3])) for row in rows}

    def manifest(self) -> list[dict[str, Any]]:
        columns = (
            "object_key",
            "version_id",
            "etag",
            "status",
            "rows_inserted",
            "rows_updated",
            "records_rejected",
            "last_record",
            "attempts",
            "skipped_deliveries",
            "report_key",
            "error",
        )
        rows = self.query(f"SELECT {', '.join(columns)} FROM tapstack_load_manifest")
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def audit_writes(self) -> None:
        """Record every row write into ``events`` (rolled back with its transaction)."""
        self.execute(
            "CREATE TABLE write_audit (seq BIGINT AUTO_INCREMENT PRIMARY KEY, "
            "id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL)",
            "CREATE TRIGGER events_write_audit BEFORE INSERT ON events FOR EACH ROW "
            "INSERT INTO write_audit (id) VALUES (NEW.id)",
        )

    def writes_per_id(self) -> dict[str, int]:
        return dict(self.query("SELECT id, COUNT(*) FROM write_audit GROUP BY id"))


@dataclass
class CapturedLoader:
    loader: Loader
    output: io.StringIO = field(default_factory=io.StringIO)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines()]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


# ------------------------------------------------------------ data helpers
def record(i: int, **changes: Any) -> dict[str, Any]:
    """A valid ``events`` record; keyword arguments replace fields, ``...`` removes one."""
    document: dict[str, Any] = {
        "id": f"evt-{i:06d}",
        "occurred_at": f"2024-03-{1 + i % 28:02d}T10:{i % 60:02d}:00.{i % 1000:03d}000+02:00",
        "type": ("click", "view", "purchase")[i % 3],
        "payload": {"n": i, "tags": ["a", "b"], "note": 'it\'s \\ "quoted"'},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not ...}


def stored(document: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """What the ``events`` row for a valid record must contain."""
    moment = datetime.fromisoformat(document["occurred_at"]).astimezone(UTC)
    return (
        moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
        document["type"],
        document.get("payload", {}),
    )


def jsonl(records: list[Any], *, spaced: bool = False) -> bytes:
    """JSON Lines as producers write them: compact, so that lines with every column in order
    take ``Table.encode_line``'s shortcut; ``spaced`` lines (``json.dumps``'s default
    separators) all take the full path."""
    separators = None if spaced else (",", ":")
    return "".join(
        json.dumps(r, ensure_ascii=False, separators=separators) + "\n" for r in records
    ).encode()


_sequencers = itertools.count(0x0066C3A1D2E3F4A5B6)


def next_sequencer() -> str:
    """A sequencer greater than every one handed out before (S3's are 18 hex digits)."""
    return f"{next(_sequencers):018X}"


def s3_event(
    key: str,
    *,
    etag: str,
    size: int,
    version_id: str | None = None,
    bucket: str = BUCKET,
    event_name: str = "ObjectCreated:Put",
    sequencer: Any = ...,
) -> dict[str, Any]:
    """An S3 event notification exactly as S3 sends it (keys URL-encoded, + for space).

    ``sequencer``: ``...`` (default) takes the next one, so later events order after earlier
    ones as they do in S3; ``None`` leaves it out, as ``tapstack redrive`` does.
    """
    obj: dict[str, Any] = {
        "key": urllib.parse.quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
    }
    if sequencer is ...:
        sequencer = next_sequencer()
    if sequencer is not None:
        obj["sequencer"] = sequencer
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE:uploader"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHv",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "tapstack-incoming",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def put(s3: Any, key: str, body: bytes, bucket: str = BUCKET, **event: Any) -> dict[str, Any]:
    """Upload an object and return the S3 event its upload produces (``event``: options of
    ``s3_event``, e.g. ``sequencer=None``)."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return s3_event(
        key,
        etag=response["ETag"].strip('"'),
        size=len(body),
        version_id=response.get("VersionId"),
        bucket=bucket,
        **event,
    )


def without_sequencer(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as ``tapstack redrive`` sends it: no sequencer."""
    copy = json.loads(json.dumps(event))
    for item in copy["Records"]:
        item["s3"]["object"].pop("sequencer", None)
    return copy


def read_jsonl(s3: Any, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def keys(s3: Any, prefix: str = "") -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


@dataclass
class MotoServer:
    endpoint: str

    def client(self) -> Any:
        return boto3.client("s3", region_name=REGION, endpoint_url=self.endpoint)


COM_STMT_EXECUTE = 0x17  # the command that runs a prepared upsert (database.PreparedUpsert)


class CommitFailsOnBatch:
    """A connection that is lost while committing its ``fail_on``-th batch (a batch: the
    prepared upserts run since the last commit or rollback)."""

    def __init__(self, conn, fail_on):
        self._conn = conn
        self._fail_on = fail_on
        self._batches = 0
        self._insert_pending = False

    def _execute_command(self, command, sql):
        if command == COM_STMT_EXECUTE:
            self._insert_pending = True
        return self._conn._execute_command(command, sql)

    def commit(self):
        if self._insert_pending:
            self._insert_pending = False
            self._batches += 1
            if self._batches == self._fail_on:
                raise pymysql.err.OperationalError(2013, "Lost connection (injected at commit)")
        self._conn.commit()

    def rollback(self):
        self._insert_pending = False
        self._conn.rollback()

    def __getattr__(self, name):
        return getattr(self._conn, name)


def parameter_value(parameter: bytes) -> bytes:
    """The bytes of one binary-protocol string parameter, checking its length prefix."""
    first = parameter[0]
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first, 0)  # bytes of length after the first
    length = int.from_bytes(parameter[1 : 1 + size], "little") if size else first
    value = parameter[1 + size :]
    assert len(value) == length, f"prefix says {length} bytes, {len(value)} follow"
    return value

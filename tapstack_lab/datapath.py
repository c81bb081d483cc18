"""The data path, end to end, without AWS: S3 object -> loader -> MySQL.

``run_data_path`` uploads a sample JSON Lines file (with invalid records among valid ones)
under ``incoming/`` into the emulated data bucket, builds the S3 event notification the
bucket sends for it, and runs the loader on that event in this process - against the
emulated S3 (reading the object, writing the ``rejected/`` report) and a throwaway local
MariaDB (``tapstack_lab.mariadb.LocalMariaDB``) prepared by the loader's own
``bootstrap_database`` in password mode. It then delivers the same event a second time, as
S3 may, to show that the loader skips an object it already loaded.

This is the one place that knows the loader runtime's interface (``tapstack.loader.runtime``):
``Loader(connect=..., s3=...)``, ``Loader.handle_event(event)`` and ``bootstrap_database``.
In Lambda the handler builds the same ``Loader`` with IAM-token connections over TLS; here
the connection is a password user on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SAMPLE_KEY = "incoming/demo/{stamp}/events.jsonl"
#: What the sample must produce: the demo fails when the loader disagrees.
SAMPLE_VALID = 6
SAMPLE_INVALID = 3


def sample_records() -> list[str]:
    """JSON Lines: six valid events and three invalid lines."""
    valid = [
        {
            "id": f"evt-{n:04d}",
            "occurred_at": f"2026-01-15T10:{n:02d}:00Z",
            "type": kind,
            "payload": {"order": 1000 + n, "amount_cents": 250 * n},
        }
        for n, kind in enumerate(
            [
                "order.created",
                "order.paid",
                "order.shipped",
                "order.created",
                "refund",
                "order.paid",
            ],
            start=1,
        )
    ]
    lines = [json.dumps(record) for record in valid]
    lines.insert(2, '{"id": "evt-bad-1", "occurred_at": "yesterday", "type": "order.created"}')
    lines.insert(5, "this line is not JSON")
    lines.append('{"id": "evt-bad-3", "occurred_at": "2026-01-15T11:00:00Z", "kind": "typo"}')
    return lines


@dataclass
class DataPathResult:
    bucket: str
    key: str
    lines: int
    status: str
    inserted: int  # rows of the table the object created
    updated: int  # existing rows it changed
    rejected: int  # records in its rejected/ report
    rows_in_table: int
    report_key: str | None
    report: list[dict[str, Any]] = field(default_factory=list)
    redelivery: str = ""
    server: str = ""
    seconds: float = 0.0
    loader_log: str = ""


def s3_event(
    *, bucket: str, key: str, region: str, size: int, etag: str, version_id: str | None
) -> dict[str, Any]:
    """The ``ObjectCreated:Put`` notification S3 sends for the object (keys URL-encoded)."""
    obj: dict[str, Any] = {
        "key": urllib.parse.quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag.strip('"'),
        "sequencer": f"{time.time_ns():X}",
    }
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "tapstack-loader",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


def stored_object_event(s3: Any, *, bucket: str, key: str, region: str) -> dict[str, Any]:
    """``s3_event`` for the object as stored now: its size, ETag and version from HEAD."""
    head = s3.head_object(Bucket=bucket, Key=key)
    return s3_event(
        bucket=bucket,
        key=key,
        region=region,
        size=int(head["ContentLength"]),
        etag=head["ETag"],
        version_id=head.get("VersionId"),
    )


def run_data_path(
    s3: Any,
    *,
    bucket: str,
    region: str,
    database: str,
    loader_user: str,
) -> DataPathResult:
    """Upload, load, count; see the module docstring. ``s3`` is a boto3 S3 client for the
    emulator's region of ``bucket``."""
    from tapstack.loader.runtime.bootstrap import PasswordAuthentication, bootstrap_database
    from tapstack.loader.runtime.connections import connection_factory
    from tapstack.loader.runtime.loader import Loader
    from tapstack.loader.runtime.observability import loader_logger
    from tapstack_lab.mariadb import LocalMariaDB

    started = time.monotonic()
    lines = sample_records()
    key = SAMPLE_KEY.format(stamp=datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    event = stored_object_event(s3, bucket=bucket, key=key, region=region)
    log = io.StringIO()
    password = secrets.token_urlsafe(18)
    with LocalMariaDB() as db:
        admin = db.connect()
        try:
            bootstrap_database(
                admin,
                database=database,
                loader_user=loader_user,
                auth=PasswordAuthentication(password=password),
            )
            server = str(admin.get_server_info())
        finally:
            admin.close()
        loader = Loader(
            connect=connection_factory(
                host=db.host,
                port=db.port,
                user=loader_user,
                password=lambda: password,
                database=database,
                ssl_context=None,
            ),
            s3=s3,
            logger=loader_logger(stream=log),
        )
        try:
            first = loader.handle_event(event)["objects"][0]
            again = loader.handle_event(event)["objects"][0]  # S3 may deliver an event twice
        finally:
            loader.close()
        with db.root_cursor(database) as cursor:
            cursor.execute("SELECT COUNT(*) FROM `events`")
            rows = int(cursor.fetchone()[0])
    report: list[dict[str, Any]] = []
    if first.get("report_key"):
        body = s3.get_object(Bucket=bucket, Key=first["report_key"])["Body"].read().decode()
        # JSON Lines end at "\n" only (a record may hold U+2028, which splitlines() splits on).
        report = [json.loads(line) for line in body.split("\n") if line.strip()]
    return DataPathResult(
        bucket=bucket,
        key=key,
        lines=len(lines),
        status=str(first.get("status")),
        inserted=int(first.get("rows_inserted") or 0),
        updated=int(first.get("rows_updated") or 0),
        rejected=int(first.get("records_rejected") or 0),
        rows_in_table=rows,
        report_key=first.get("report_key"),
        report=report,
        redelivery=f"{again.get('status')}: {again.get('reason') or ''}".strip(": "),
        server=server,
        seconds=time.monotonic() - started,
        loader_log=log.getvalue(),
    )

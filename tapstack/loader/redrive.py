"""Re-drive the loader over every object under ``incoming/``: the recovery step
after a replica is promoted.

While a region's database is a read-only replica its loader skips the objects
that S3 replication brings in (the rows arrive by database replication). When
the primary region is lost, objects that reached the secondary bucket but that
the old primary never loaded would stay unloaded. After promotion, an operator
runs ``python -m tapstack redrive --region <secondary>``: it sends the loader an
S3 event for the latest version of every object under ``incoming/``. The
loader's manifest makes this safe to run any number of times: loaded versions
are skipped, missing ones are loaded, half-loaded ones resume.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tapstack.loader.runtime.contract import INCOMING_PREFIX

#: Records per invocation: small enough that one invocation finishes well within
#: the function's timeout for typical objects, large enough to keep invocations few.
RECORDS_PER_EVENT = 20


def object_created_events(
    s3: Any, bucket: str, *, region: str, records_per_event: int = RECORDS_PER_EVENT
) -> Iterator[dict[str, Any]]:
    """S3-notification-shaped events for the latest version of every object under
    ``incoming/`` (keys URL-encoded, as S3 sends them)."""
    if records_per_event < 1:
        raise ValueError(f"records_per_event must be at least 1, got {records_per_event}")
    batch: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=INCOMING_PREFIX):
        for version in page.get("Versions", []):
            if not version.get("IsLatest"):
                continue
            obj: dict[str, Any] = {
                "key": urllib.parse.quote_plus(version["Key"], safe="/"),
                "size": version["Size"],
                "eTag": version["ETag"].strip('"'),
            }
            if version.get("VersionId") and version["VersionId"] != "null":
                obj["versionId"] = version["VersionId"]
            batch.append(
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": region,
                    "eventName": "ObjectCreated:Redrive",
                    "s3": {"bucket": {"name": bucket}, "object": obj},
                }
            )
            if len(batch) == records_per_event:
                yield {"Records": batch}
                batch = []
    if batch:
        yield {"Records": batch}


@dataclass(frozen=True)
class RedriveResult:
    events: int
    objects: int


def redrive(
    s3: Any,
    lambda_client: Any,
    *,
    bucket: str,
    function_name: str,
    region: str,
    dry_run: bool = False,
) -> RedriveResult:
    """Invoke the loader asynchronously (so Lambda's retries and dead-letter queue
    apply) with an event for every object under ``incoming/``."""
    events = objects = 0
    for event in object_created_events(s3, bucket, region=region):
        events += 1
        objects += len(event["Records"])
        if dry_run:
            continue
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )
        if response.get("StatusCode") != 202:
            raise RuntimeError(
                f"{function_name} did not accept event {events}: {response.get('StatusCode')}"
            )
    return RedriveResult(events=events, objects=objects)

"""What the loader and the infrastructure that deploys it agree on: one module, both import it.

The loader's package is what ships to Lambda, so the contract lives in it and the
infrastructure (``tapstack.loader.infrastructure``, ``tapstack.storage``, ``tapstack.monitoring``)
imports it from here; the runtime never imports the infrastructure. Only the standard library
is used, so the module loads in the Lambda runtime as it does at synthesis.
"""

from __future__ import annotations

# --- S3 layout of the data bucket ----------------------------------------------------------
#: Producers drop objects here; every key under it triggers the loader (an object of an
#: unsupported format is quarantined with the reason, never ignored).
INCOMING_PREFIX = "incoming/"
#: One JSON Lines report per object with rejected records, under the key relative to incoming/.
REJECTED_PREFIX = "rejected/"
#: A copy of an object that could not be parsed at all, and its ``.reason.json``.
QUARANTINE_PREFIX = "quarantine/"
#: Key suffix -> format the loader parses it as.
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
#: A key ending in one of these after a format suffix (``day.jsonl.gz``) is gzip-compressed.
#: An object stored with ``Content-Encoding: gzip``, or whose bytes start with the gzip magic
#: number, is decompressed as well, whatever its name.
COMPRESSED_SUFFIXES = {".gz": "gzip"}
#: Key suffixes the loader parses: every format, alone or compressed.
SUFFIXES = tuple(FORMATS) + tuple(f + c for f in FORMATS for c in COMPRESSED_SUFFIXES)
#: S3's limit on a key, in bytes of its UTF-8 encoding; the keys the loader derives
#: (``rejected/``, ``quarantine/``) are shortened to fit it (see ``events.derived_key``).
MAX_KEY_BYTES = 1024

# --- metrics --------------------------------------------------------------------------------
#: CloudWatch namespace of the loader's Embedded Metric Format documents.
METRICS_NAMESPACE = "TapStack/Loader"
#: The one dimension of every loader metric; its value is the region's role.
ROLE_DIMENSION = "Role"
#: Values of ROLE_DIMENSION (and of the ROLE variable): what the region does today.
WRITER = "writer"
STANDBY = "standby"
ROLES = (WRITER, STANDBY)
#: The metrics of one object handled, and their CloudWatch units (the alarms use these names).
METRIC_ROWS_INSERTED = "RowsInserted"
METRIC_ROWS_UPDATED = "RowsUpdated"
METRIC_RECORDS_REJECTED = "RecordsRejected"
METRIC_OBJECTS_SKIPPED = "ObjectsSkipped"
METRIC_OBJECTS_QUARANTINED = "ObjectsQuarantined"
METRIC_DURATION = "DurationMs"
#: An object the writer could not load because its database was read-only (a maintenance
#: window, a switchover under way, or a ROLE that no longer matches the database); the
#: invocation fails and Lambda retries. Only a writer emits it, with Role=writer.
METRIC_READ_ONLY_WRITER = "ReadOnlyWriter"
METRIC_UNITS = {
    METRIC_ROWS_INSERTED: "Count",
    METRIC_ROWS_UPDATED: "Count",
    METRIC_RECORDS_REJECTED: "Count",
    METRIC_OBJECTS_SKIPPED: "Count",
    METRIC_OBJECTS_QUARANTINED: "Count",
    METRIC_DURATION: "Milliseconds",
    METRIC_READ_ONLY_WRITER: "Count",
}

# --- the function's environment -------------------------------------------------------------
#: Variable names; the typed model in ``config`` parses them (with their defaults and limits),
#: the infrastructure sets them. ROLE is required: a standby loader must never report as writer.
ENV_DB_HOST = "DB_HOST"
ENV_DB_PORT = "DB_PORT"
ENV_DB_NAME = "DB_NAME"
ENV_DB_USER = "DB_USER"
#: The web tier's read-only account; the bootstrap action creates it (unset: it does not).
ENV_DB_READ_USER = "DB_READ_USER"
ENV_DB_MASTER_SECRET_ID = "DB_MASTER_SECRET_ID"  # noqa: S105 (a variable name, no secret)
ENV_BATCH_SIZE = "BATCH_SIZE"
ENV_ROLE = "ROLE"
#: Optional tuning; the infrastructure does not set them today.
ENV_BATCH_MAX_BYTES = "BATCH_MAX_BYTES"
ENV_MAX_RECORD_BYTES = "MAX_RECORD_BYTES"
ENV_MAX_DECOMPRESSED_BYTES = "MAX_DECOMPRESSED_BYTES"
ENV_DB_CONNECT_TIMEOUT = "DB_CONNECT_TIMEOUT"
ENV_DB_READ_TIMEOUT = "DB_READ_TIMEOUT"
ENV_LOCK_TIMEOUT_SECONDS = "LOCK_TIMEOUT_SECONDS"
ENV_LOG_LEVEL = "LOG_LEVEL"
#: Set by Lambda itself, never by the infrastructure.
ENV_AWS_REGION = "AWS_REGION"

#: The Lambda handler, relative to the package root (the runtime ships as package ``loader``).
HANDLER = "loader.handler.handler"

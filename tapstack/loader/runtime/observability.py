"""Structured JSON logs and CloudWatch Embedded Metric Format (EMF) metrics on stdout.

Lambda ships stdout to CloudWatch Logs, which extracts EMF documents into metrics, so
publishing a metric is one ``print``: no network call, no extra permission, no latency.

Every log line is one JSON object with ``timestamp`` (ISO-8601 UTC), ``level``,
``message``, the invocation's ``requestId`` when known, and the caller's fields.

Metrics (namespace ``TapStack/Loader``, dimension ``FunctionRole``, default ``loader``, set
with the ``FUNCTION_ROLE`` variable), one EMF document per object handled:

* ``RowsLoaded`` - records written by this invocation (Count)
* ``RowsRejected`` - records written to ``rejected/`` (Count)
* ``ObjectsSkipped`` - objects not loaded: already loaded, ignored key, read-only database,
  gone from S3, or superseded by a newer version of the key (Count; the ``status`` and
  ``reason`` properties say which)
* ``ObjectsQuarantined`` - objects moved to ``quarantine/`` (Count)
* ``DurationMs`` - time spent on the object (Milliseconds)
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["METRICS_NAMESPACE", "METRIC_UNITS", "JsonLogger", "MetricsEmitter"]

METRICS_NAMESPACE = "TapStack/Loader"
METRIC_UNITS = {
    "RowsLoaded": "Count",
    "RowsRejected": "Count",
    "ObjectsSkipped": "Count",
    "ObjectsQuarantined": "Count",
    "DurationMs": "Milliseconds",
}
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def _default(value: Any) -> str:
    return str(value)


class JsonLogger:
    """Writes one JSON object per line to ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO | None = None, *, level: str = "INFO") -> None:
        self._stream = stream
        self.level = _LEVELS.get(level.upper(), 20)
        self.context: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        # Resolved on use so test harnesses that swap sys.stdout see the output.
        return self._stream if self._stream is not None else sys.stdout

    def write(self, document: dict[str, Any]) -> None:
        line = json.dumps(document, default=_default, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def log(self, level: str, message: str, **fields: Any) -> None:
        if _LEVELS[level] < self.level:
            return
        document = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "message": message,
            **self.context,
            **fields,
        }
        self.write(document)

    def debug(self, message: str, **fields: Any) -> None:
        self.log("DEBUG", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)


class MetricsEmitter:
    """Prints EMF documents through a ``JsonLogger``'s stream."""

    def __init__(self, logger: JsonLogger, *, function_role: str = "loader") -> None:
        self.logger = logger
        self.function_role = function_role

    def emit(
        self, metrics: dict[str, float], *, message: str, level: str = "INFO", **properties: Any
    ) -> None:
        """One log line that is also an EMF document: ``message`` plus the metric values."""
        unknown = set(metrics) - set(METRIC_UNITS)
        if unknown:
            raise ValueError(f"unknown metric(s): {sorted(unknown)}")
        now = datetime.now(UTC)
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(now.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["FunctionRole"]],
                        "Metrics": [{"Name": name, "Unit": METRIC_UNITS[name]} for name in metrics],
                    }
                ],
            },
            "timestamp": now.isoformat(timespec="milliseconds"),
            "level": level,
            "message": message,
            "FunctionRole": self.function_role,
            **self.logger.context,
            **properties,
            **metrics,
        }
        self.logger.write(document)

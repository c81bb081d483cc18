"""Lines of the rejected report (``rejected/<key>.jsonl``): strict JSON, whatever the record.

One line per rejected record: ``{"line" | "record_number": n, "reason": "...", ...}`` and
what was read:

* ``"record"``: the decoded record, when it can be written back as strict JSON;
* ``"text"``: the line as read (JSON Lines), when the line is not JSON or its record cannot
  be written back as strict JSON (a number beyond the double range, which decodes to
  infinity, for example);
* ``"record_text"``: a JSON array element that cannot be written back as strict JSON, as a
  string holding Python's non-strict rendering (``{"x":Infinity}``), so the line itself stays
  strict JSON;
* ``"record_unavailable"``: why neither was possible (nesting deeper than the encoder goes).

Lines never contain ``NaN`` or ``Infinity`` (``allow_nan=False``), and ``report_line`` never
raises for any record: the report must not be what fails an object.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NO_RECORD", "report_line"]

#: The default of ``record``: the rejected item has no decoded record (a line that is not JSON).
NO_RECORD = object()
_strict = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_lenient = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=repr).encode
_UNWRITABLE = (ValueError, TypeError, RecursionError, OverflowError, MemoryError)


def report_line(
    number_field: str,
    number: int,
    reason: str,
    *,
    record: Any = NO_RECORD,
    text: str | None = None,
) -> bytes:
    """The UTF-8 line (with its newline) for one rejected record; never raises."""
    head: dict[str, Any] = {number_field: number, "reason": str(reason)}
    if record is not NO_RECORD:
        try:
            return _encode({**head, "record": record})
        except _UNWRITABLE:
            pass
    if text is not None:
        return _encode({**head, "text": text})
    if record is NO_RECORD:
        return _encode(head)
    try:
        return _encode({**head, "record_text": _lenient(record)})
    except _UNWRITABLE as error:
        why = f"the record cannot be written as JSON ({type(error).__name__})"
        return _encode({**head, "record_unavailable": why})


def _encode(document: dict[str, Any]) -> bytes:
    # backslashreplace: an unpaired surrogate (from a \\ud800 escape) becomes the text \\ud800.
    return _strict(document).encode("utf-8", "backslashreplace") + b"\n"

"""The emulator's journal: what the patches left out or replaced, one JSON object a line.

The demo reads it back (``Emulator.journal()``) to list what was not emulated. Unset (the
default, as in tests), nothing is written.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_path: Path | None = None
_written: set[str] = set()


def configure(path: Path | None) -> None:
    """Write entries to ``path`` from now on (``None``: write nothing)."""
    global _path
    with _lock:
        _path = path
        _written.clear()


def record(entry: Mapping[str, Any]) -> None:
    """Append ``entry`` once (moto resolves the same resource several times per stack)."""
    line = json.dumps(entry, default=str, sort_keys=True)
    with _lock:
        if _path is None or line in _written:
            return
        _written.add(line)
        with _path.open("a") as handle:
            handle.write(line + "\n")


def error_text(error: BaseException) -> str:
    """``Code: message`` of a moto error (its ``RESTError`` keeps the AWS message in
    ``.message``), else ``ExceptionType: message``."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "error_type", None)
    return f"{code}: {message}" if code else f"{type(error).__name__}: {message}"

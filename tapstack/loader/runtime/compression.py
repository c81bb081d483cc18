"""gzip objects, decompressed on the fly at flat memory.

An object is read as gzip when its key ends in ``.gz`` (``day.jsonl.gz``), when it is
stored with ``Content-Encoding: gzip``, or when its first bytes are the gzip magic number
(``1f 8b``; no JSON text can start with them, so the sniff never mistakes a plain object).
``gzip.GzipFile`` reads the S3 stream 16 KiB at a time and hands the readers (``formats``)
decompressed chunks, so memory does not grow with the object, compressed or not.
Concatenated gzip members (what ``cat a.gz b.gz`` and many log shippers produce) are read as
one stream, as ``gunzip`` does.

Limits and failures end as ``MalformedObject`` (the object is quarantined with the reason):

* more than ``max_bytes`` decompressed bytes (``DEFAULT_MAX_DECOMPRESSED_BYTES``, setting
  ``MAX_DECOMPRESSED_BYTES``): a gzip bomb, or an object too large for one invocation;
* a corrupt or truncated stream, or a ``.gz`` object that is not gzip at all.

A JSON Lines object is checked whole (decompressed and discarded) before its first batch is
written, as JSON arrays are parsed twice: a stream that breaks half-way would otherwise
have loaded its first half.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any

from .formats import MalformedObject

__all__ = ["DEFAULT_MAX_DECOMPRESSED_BYTES", "GZIP_MAGIC", "open_decompressed"]

GZIP_MAGIC = b"\x1f\x8b"
#: The most compressed bytes read from S3 at a time (``GzipFile`` asks for 128 KiB): zlib
#: keeps a copy of the input it has not decompressed yet, so this bounds what it holds.
READ_SIZE = 16 << 10
#: 4 GiB: more than a loader invocation parses in its 15 minutes.
DEFAULT_MAX_DECOMPRESSED_BYTES = 4 << 30


def open_decompressed(
    body: Any, *, declared: bool, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
) -> tuple[Any, bool]:
    """The stream to parse for an S3 ``body``, and whether it is gzip. ``declared``: the key
    or the ``Content-Encoding`` says gzip (then bytes without the magic number are an
    error); otherwise the first bytes decide."""
    head = _read_exactly(body, len(GZIP_MAGIC))
    stream = _Prefixed(head, body)
    if head == GZIP_MAGIC:
        stream.max_read = READ_SIZE
        return _Gunzip(stream, max_bytes), True
    if declared:
        raise MalformedObject(
            "the object is declared gzip (by its .gz name or Content-Encoding) but its bytes "
            f"are not (they start with {head!r}, not the gzip magic number 1f 8b)",
            {"bytes_read": len(head)},
        )
    return stream, False


def _read_exactly(body: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = body.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _Prefixed(io.RawIOBase):
    """``body`` with ``head`` (bytes already read from it) put back in front; reads of at
    most ``max_read`` bytes when given (what ``GzipFile`` holds of the compressed stream)."""

    def __init__(self, head: bytes, body: Any) -> None:
        self._head = head
        self._body = body
        self.max_read: int | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.max_read is not None:
            size = self.max_read if size is None or size < 0 else min(size, self.max_read)
        if not self._head:
            return self._body.read() if size is None or size < 0 else self._body.read(size)
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._body.read()
        if size <= len(head):
            self._head = head[size:]
            return head[:size]
        return head + (self._body.read(size - len(head)) or b"")

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


class _Gunzip:
    """Decompressed reads with a size limit; gzip's errors become ``MalformedObject``."""

    def __init__(self, stream: _Prefixed, max_bytes: int) -> None:
        self._stream = stream
        self._file = gzip.GzipFile(fileobj=stream, mode="rb")
        self._max_bytes = max_bytes
        self.bytes_out = 0

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else self._max_bytes + 1
        try:
            data = self._file.read(min(want, self._max_bytes + 1 - self.bytes_out))
        except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as error:
            raise MalformedObject(
                f"the gzip stream is corrupt or truncated after {self.bytes_out} "
                f"decompressed bytes: {error}",
                {"decompressed_bytes": self.bytes_out},
            ) from None
        self.bytes_out += len(data)
        if self.bytes_out > self._max_bytes:
            raise MalformedObject(
                f"the object decompresses to more than {self._max_bytes} bytes (a gzip bomb, "
                "or an object too large for one invocation: split it)",
                {"decompressed_bytes": self.bytes_out},
            )
        return data

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._stream.close()

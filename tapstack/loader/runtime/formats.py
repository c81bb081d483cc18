"""Streaming readers for JSON Lines and JSON array objects.

Both readers pull fixed-size chunks from a binary stream (an S3 ``StreamingBody``) and yield
lists of ``(number, value, text)`` items, one list per chunk, so memory stays proportional to
the chunk size plus the largest record, never to the object:

* ``number`` is the 1-based line number (JSON Lines) or record number (JSON array);
* ``value`` is the decoded JSON value, or a ``ParseFailure`` for a line that is not JSON;
* ``text`` is the line as read (JSON Lines; used for reject reports), ``None`` for arrays.

JSON Lines: every non-blank line is one JSON value. A line that is not valid UTF-8 or not
valid JSON is reported as a ``ParseFailure`` item, not an exception: one bad line does not
make the rest of the file unreadable. Lines longer than ``max_record_bytes`` are skipped
without being held in memory and reported the same way.

JSON arrays: the top-level value must be an array; elements are decoded one at a time with
the C scanner over a rolling text buffer (``json`` only ever sees the buffer, never the
file). Anything that breaks the array's structure - invalid UTF-8, invalid JSON inside an
element, a missing comma, an unclosed array, trailing data - raises ``MalformedObject``:
from that point on the record boundaries are unknowable, so the whole object is rejected.

``NaN``/``Infinity`` literals are not JSON and are treated as parse errors.
"""

from __future__ import annotations

import codecs
import json
import json.scanner
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, NamedTuple

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_RECORD_BYTES",
    "MalformedObject",
    "ParseFailure",
    "iter_json_array",
    "iter_json_lines",
]

DEFAULT_CHUNK_SIZE = 256 << 10
DEFAULT_MAX_RECORD_BYTES = 1 << 20
_PREVIEW_CHARS = 1024
_JSON_WS = " \t\r\n"
_WS = re.compile(r"[ \t\r\n]*")
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]+")


class MalformedObject(ValueError):
    """The object as a whole cannot be parsed; ``location`` says where it broke."""

    def __init__(self, reason: str, location: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.location = location or {}


class ParseFailure(NamedTuple):
    """A JSON Lines line that could not be decoded; ``reason`` is human readable."""

    reason: str


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


# The C scanner behind json.loads, called directly: decodes one value at an index and
# returns it with the index where it ends (typeshed mistypes make_scanner's argument).
_scan = json.scanner.make_scanner(
    json.JSONDecoder(parse_constant=_reject_constant)  # type: ignore[arg-type]
)


def _describe(error: BaseException, start: int = 0) -> str:
    """A JSON decoding error as text; positions are 1-based and relative to ``start``."""
    if isinstance(error, StopIteration):
        return f"Expecting value at character {int(error.value or 0) - start + 1}"
    if isinstance(error, json.JSONDecodeError):
        at = "" if error.msg.endswith(" at") else " at"
        return f"{error.msg}{at} character {error.pos - start + 1}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def _parse_line(text: str) -> Any:
    """Decode one non-blank JSON Lines line, or return a ``ParseFailure``."""
    stripped = text.strip(_JSON_WS)
    try:
        value, end = _scan(stripped, 0)
    except (StopIteration, ValueError, RecursionError) as error:
        lead = len(text) - len(text.lstrip(_JSON_WS))
        return ParseFailure("invalid JSON: " + _describe(error, -lead))
    if end != len(stripped):
        lead = len(text) - len(text.lstrip(_JSON_WS))
        return ParseFailure(
            f"invalid JSON: extra data after the value at character {end + lead + 1}"
        )
    return value


def iter_json_lines(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[list[tuple[int, Any, str]]]:
    """Yield ``(line_number, value_or_ParseFailure, line_text)`` items, one list per chunk."""
    too_long = ParseFailure(f"line is longer than {max_record_bytes} bytes")
    number = 0
    for overlong, block in _line_blocks(stream, chunk_size, max_record_bytes):
        items: list[tuple[int, Any, str]] = []
        if overlong is not None:
            number += 1
            items.append((number, too_long, overlong.decode("utf-8", "backslashreplace")))
        if block is not None:
            number = _decode_lines(block, number, items, too_long, max_record_bytes)
        if items:
            yield items


def _line_blocks(
    stream: BinaryIO, chunk_size: int, max_record_bytes: int
) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Split the stream into blocks of whole lines, one block per chunk that ends a line.

    Yields ``(overlong, block)``. ``overlong`` is the preview of an over-long line that ends
    at the start of this block (its bytes were dropped as they were read), else ``None``.
    ``block`` is the block's other lines joined by newlines, without the first block's UTF-8
    BOM, or ``None`` when the block held only the end of the over-long line.
    """
    pending = b""  # the start of a line whose newline has not been read yet
    overlong: bytes | None = None  # preview of an over-long line being skipped
    first = True
    while True:
        chunk = stream.read(chunk_size)
        eof = not chunk
        if eof:
            block, pending = pending, b""
            if not block and overlong is None:
                return
        else:
            cut = chunk.rfind(b"\n")
            if cut < 0:
                if overlong is None:
                    pending += chunk
                    if len(pending) > max_record_bytes:
                        overlong, pending = pending[:_PREVIEW_CHARS], b""
                continue
            block, pending = pending + chunk[:cut], chunk[cut + 1 :]
        if first:
            first = False
            if block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
        if overlong is None:
            yield None, block
        else:
            # The first line of the block is the end of the over-long line.
            cut = block.find(b"\n")
            yield overlong, (block[cut + 1 :] if cut >= 0 else None)
            overlong = None
        if eof:
            return
        if len(pending) > max_record_bytes:
            overlong, pending = pending[:_PREVIEW_CHARS], b""


def _decode_lines(
    block: bytes,
    number: int,
    items: list[tuple[int, Any, str]],
    too_long: ParseFailure,
    max_record_bytes: int,
) -> int:
    """Append the items of the block's lines, numbered after ``number``; return the last number."""
    try:
        lines: list[str] | None = block.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = None
    if lines is None:
        return _decode_lines_one_by_one(block, number, items, too_long, max_record_bytes)
    for text in lines:
        number += 1
        if len(text) > max_record_bytes:
            items.append((number, too_long, text[:_PREVIEW_CHARS]))
        elif text and not text.isspace():
            items.append((number, _parse_line(text), text))
    return number


def _decode_lines_one_by_one(
    block: bytes,
    number: int,
    items: list[tuple[int, Any, str]],
    too_long: ParseFailure,
    max_record_bytes: int,
) -> int:
    """The slow path of ``_decode_lines``, only for blocks that are not valid UTF-8: an
    invalid line fails alone instead of failing the block."""
    for raw in block.split(b"\n"):
        number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            failure = ParseFailure(f"line is not valid UTF-8 (byte {error.start + 1})")
            preview = raw[:_PREVIEW_CHARS].decode("utf-8", "backslashreplace")
            items.append((number, failure, preview))
            continue
        if len(text) > max_record_bytes:
            items.append((number, too_long, text[:_PREVIEW_CHARS]))
        elif text and not text.isspace():
            items.append((number, _parse_line(text), text))
    return number


def iter_json_array(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[list[tuple[int, Any, None]]]:
    """Yield ``(record_number, value, None)`` items of a top-level JSON array, per chunk.

    Raises ``MalformedObject`` as soon as the array's structure is known to be broken.
    """
    reader = _ArrayReader(stream, chunk_size)
    parser = _ArrayParser(reader, max_record_bytes)
    while parser.parse_buffer():
        # Hand out what was decoded before reading on, so that only one chunk's records are
        # ever held.
        if parser.items:
            yield parser.items
            parser.items = []
        reader.refill(parser.number)
    parser.check_complete()
    if parser.items:
        yield parser.items


class _ArrayParser:
    """The state machine over a top-level JSON array: one method per state.

    States go start -> first -> (value -> after)* -> done. Each state method is called with
    the buffer and the position of its next non-whitespace character, and returns ``False``
    when it cannot decide before the next chunk is read.
    """

    def __init__(self, reader: _ArrayReader, max_record_bytes: int) -> None:
        self.reader = reader
        self.max_record_bytes = max_record_bytes
        self.number = 0  # records decoded so far
        self.items: list[tuple[int, Any, None]] = []  # decoded, not yet handed out
        self.state: Callable[[str, int], bool] = self._start

    def parse_buffer(self) -> bool:
        """Run the states over the buffered text; ``True`` if the next chunk is needed,
        ``False`` at the end of the object."""
        reader = self.reader
        while True:
            buf, pos = reader.buf, reader.pos
            if pos < len(buf) and buf[pos] in _JSON_WS:
                pos = reader.pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= len(buf):
                return not reader.eof
            if not self.state(buf, pos):
                return True

    def check_complete(self) -> None:
        """At the end of the object: raise unless the array was closed."""
        if self.state != self._done:
            problem = (
                "the object is empty" if self.state == self._start else "the array is never closed"
            )
            raise MalformedObject(
                f"unexpected end of the object: {problem}", self.reader.location(self.number)
            )

    def _start(self, buf: str, pos: int) -> bool:
        char = buf[pos]
        if char == "\ufeff" and self.reader.at_start(pos):
            self.reader.pos = pos + 1
            return True
        if char != "[":
            raise MalformedObject(
                "the top-level JSON value must be an array of records",
                self.reader.location(self.number),
            )
        self.reader.pos = pos + 1
        self.state = self._first
        return True

    def _first(self, buf: str, pos: int) -> bool:
        if buf[pos] != "]":
            return self._value(buf, pos)
        self.reader.pos = pos + 1  # "[]": an empty array
        self.state = self._done
        return True

    def _value(self, buf: str, pos: int) -> bool:
        reader = self.reader
        try:
            value, end = _scan(buf, pos)
        except (StopIteration, ValueError, RecursionError) as error:
            # The record may simply continue in the next chunk. Only once the object has
            # ended, or the record is longer than any record may be, is it broken.
            if not reader.eof and len(buf) - pos <= self.max_record_bytes:
                return False
            reason = f"record {self.number + 1} is not valid JSON: {_describe(error, pos)}"
            if not reader.eof:
                reason += f" (or it is longer than {self.max_record_bytes} bytes)"
            raise MalformedObject(reason, reader.location(self.number)) from None
        if not reader.eof and not (end < len(buf) and buf[end] in ",]"):
            # Only a following ',' or ']' proves the value complete: a number at the end of
            # the buffer ("1.", "12", "1e") may continue in the next chunk.
            after = _WS.match(buf, end).end()  # type: ignore[union-attr]
            if after >= len(buf) or _NUMBER_TAIL.fullmatch(buf, end):
                return False
        self.number += 1
        self.items.append((self.number, value, None))
        if end < len(buf) and buf[end] == ",":
            # The usual case, taken here to save a step: what state "after" would do.
            reader.pos = end + 1
            self.state = self._value
        else:
            reader.pos = end
            self.state = self._after
        return True

    def _after(self, buf: str, pos: int) -> bool:
        char = buf[pos]
        if char == ",":
            self.state = self._value
        elif char == "]":
            self.state = self._done
        else:
            raise MalformedObject(
                f"expected ',' or ']' after record {self.number}, found {char!r}",
                self.reader.location(self.number),
            )
        self.reader.pos = pos + 1
        return True

    def _done(self, buf: str, pos: int) -> bool:
        raise MalformedObject(
            "unexpected data after the end of the array", self.reader.location(self.number)
        )


class _ArrayReader:
    """A rolling text buffer over a binary stream, decoded incrementally as UTF-8."""

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0
        self.chars_dropped = 0

    def at_start(self, pos: int) -> bool:
        return self.chars_dropped + pos == 0

    def location(self, number: int) -> dict[str, Any]:
        return {"record_number": number + 1, "bytes_read": self.bytes_read}

    def refill(self, number: int) -> None:
        """Drop the consumed text and append the next chunk (or finish at the end)."""
        chunk = self.stream.read(self.chunk_size)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            byte = self.bytes_read + error.start + 1
            raise MalformedObject(
                f"the object is not valid UTF-8 (byte {byte})", self.location(number)
            ) from None
        self.chars_dropped += self.pos
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self.eof = not chunk
        self.bytes_read += len(chunk)

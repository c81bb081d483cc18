"""Streaming readers for JSON Lines and JSON array objects.

Both readers pull fixed-size chunks from a binary stream (an S3 ``StreamingBody``) and yield
lists of ``(number, value, text)`` items, one list per chunk, so memory stays proportional to
the chunk size plus the largest record, never to the object:

* ``number`` is the 1-based line number (JSON Lines) or record number (JSON array);
* ``value`` is the decoded JSON value, or a ``ParseFailure`` for a record that cannot be
  loaded as read (not JSON, not UTF-8, too long, or an object with a duplicate key); for a
  JSON Lines line that the optional ``encode_line`` takes (``schema.Table.encode_line``), the
  row it returns (``bytes``, which no decoded value is), without decoding the line;
* ``text`` is the line as read (JSON Lines; used for reject reports); for arrays, a preview of
  the element when ``value`` is a ``ParseFailure``, else ``None``.

Limits are exact and do not depend on where the read chunks fall: ``max_record_bytes`` counts
the bytes of a line without its line break (``\\n`` or ``\\r\\n``), or of an array element from
its first to its last character, in UTF-8 as stored. A record of exactly that many bytes is
read; one byte more is not.

JSON Lines: every non-blank line is one JSON value. A line that is not valid UTF-8, not valid
JSON, longer than ``max_record_bytes`` (skipped without being held in memory) or that holds an
object with a duplicate key is reported as a ``ParseFailure`` item, not an exception: one bad
line does not make the rest of the file unreadable.

JSON arrays: the top-level value must be an array; elements are decoded one at a time with
the C scanner over a rolling text buffer (``json`` only ever sees the buffer, never the
file). Anything that breaks the array's structure - invalid UTF-8, invalid JSON inside an
element, an element that does not end within ``max_record_bytes``, a missing comma, an
unclosed array, trailing data - raises ``MalformedObject``: from that point on the record
boundaries are unknowable, so the whole object is rejected. An element with a duplicate key
is well-formed JSON, so it is a ``ParseFailure`` item like in JSON Lines.

Duplicate keys: ``{"a": 1, "a": 2}`` says two things, and JSON parsers disagree on which one
wins (RFC 8259, section 4), so such a record is rejected with the reason
``duplicate key 'a'``, at any nesting level.

JSON Lines lines are decoded with orjson (a C parser; its wheel is bundled into the function
package) when it is importable, else with the standard library's C scanner. Both give the same
values and the same outcome for every line: orjson keeps the last of duplicate keys silently
and turns integers beyond 64 bits into floats, so a line is re-read with the standard library
(with a duplicate-key check) whenever orjson fails or a cheap test cannot rule either out (see
``_Decoder.line``). ``JSON_BACKEND`` names the parser in use.

``NaN``/``Infinity`` literals are not JSON and are treated as parse errors.
"""

from __future__ import annotations

import codecs
import json
import json.scanner
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, NamedTuple

try:  # the C parser, bundled into the function package; the loader works without it
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by monkeypatching _orjson to None
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_RECORD_BYTES",
    "JSON_BACKEND",
    "MalformedObject",
    "ParseFailure",
    "iter_json_array",
    "iter_json_lines",
]

DEFAULT_CHUNK_SIZE = 256 << 10
DEFAULT_MAX_RECORD_BYTES = 1 << 20
#: The parser JSON Lines are decoded with.
JSON_BACKEND = f"orjson {_orjson.__version__}" if _orjson is not None else "json (standard library)"
_PREVIEW_BYTES = 1024
_KEY_PREVIEW_CHARS = 100
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
    """A record that could not be decoded; ``reason`` is human readable."""

    reason: str


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


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


def _preview(raw: bytes, size: int = _PREVIEW_BYTES) -> str:
    """The first ``size`` bytes of a record as text, never cutting a character in two;
    bytes that are not UTF-8 are shown as backslash escapes."""
    decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
    return decoder.decode(raw[:size], final=len(raw) <= size)


def _line_bytes(text: str, limit: int) -> int:
    """The UTF-8 length of a line without a final ``\\r``, computed only when the character
    count cannot tell whether it exceeds ``limit`` (a character is 1 to 4 bytes)."""
    cr = text.endswith("\r")
    chars = len(text) - cr
    if chars > limit or chars * 4 <= limit:
        return chars
    return len(text.encode("utf-8")) - cr


def _text_bytes(text: str, start: int, end: int, limit: int) -> int:
    """The UTF-8 length of ``text[start:end]``, or its character count when that alone tells
    whether it exceeds ``limit``."""
    chars = end - start
    if chars > limit or chars * 4 <= limit:
        return chars
    return len(text[start:end].encode("utf-8"))


class _Decoder:
    """Decodes records: the standard library's C scanner with a duplicate-key check, and
    orjson in front of it for JSON Lines when available. One per reader (not thread-safe)."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []
        duplicates = self.duplicates

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            value = dict(items)
            if len(value) != len(items) and not duplicates:
                seen: set[str] = set()
                for key, _ in items:
                    if key in seen:
                        duplicates.append(key)
                        break
                    seen.add(key)
            return value

        # The C scanner behind json.loads, called directly: decodes one value at an index and
        # returns it with the index where it ends (typeshed mistypes make_scanner's argument).
        self._scan = json.scanner.make_scanner(
            json.JSONDecoder(  # type: ignore[arg-type]
                parse_constant=_reject_constant, object_pairs_hook=pairs
            )
        )
        self.line: Callable[[str], Any] = self._line_exact if _orjson is None else self._line_fast

    def scan(self, text: str, pos: int) -> tuple[Any, int]:
        """Decode the value at ``pos``: ``(value, end)``, raising like ``json`` does. A
        duplicate key is left in ``self.duplicates`` (the first one found)."""
        self.duplicates.clear()
        return self._scan(text, pos)  # type: ignore[no-any-return]

    def duplicate_failure(self) -> ParseFailure:
        key = self.duplicates[0]
        shown = key if len(key) <= _KEY_PREVIEW_CHARS else key[:_KEY_PREVIEW_CHARS] + "..."
        return ParseFailure(f"duplicate key {shown!r}")

    def _line_exact(self, text: str) -> Any:
        """Decode one non-blank JSON Lines line, or return a ``ParseFailure``."""
        stripped = text.strip(_JSON_WS)
        try:
            value, end = self.scan(stripped, 0)
        except (StopIteration, ValueError, RecursionError) as error:
            lead = len(text) - len(text.lstrip(_JSON_WS))
            return ParseFailure("invalid JSON: " + _describe(error, -lead))
        if end != len(stripped):
            lead = len(text) - len(text.lstrip(_JSON_WS))
            return ParseFailure(
                f"invalid JSON: extra data after the value at character {end + lead + 1}"
            )
        if self.duplicates:
            return self.duplicate_failure()
        return value

    def _line_fast(self, text: str) -> Any:
        """``_line_exact``'s result, from orjson when it is provably the same.

        orjson accepts exactly the JSON texts the standard library does (NaN aside, which
        both refuse here), but it keeps the last of duplicate keys and reads integers beyond
        64 bits as floats. Re-encoded compactly, the value shows both at C speed:

        * a colon outside strings is always a key's, so the line's colons are its keys plus
          the colons in its strings, and the re-encoding's are its distinct keys plus the
          colons in its (kept) strings. Without ``\\u003a`` escapes a string has as many
          colons in the line as decoded, so the counts are equal if and only if no key
          repeats (a dropped key also drops its value's colons: the count only falls);
        * a float from an integer beyond 64 bits has an exponent (``e+``) when encoded.

        Any other line (or an orjson error) is decoded by ``_line_exact``, whose value and
        reason are the pure-Python build's.
        """
        try:
            value = _orjson.loads(text)  # type: ignore[union-attr]
            encoded = _orjson.dumps(value)  # type: ignore[union-attr]
        except (ValueError, TypeError):  # orjson's errors subclass them
            return self._line_exact(text)
        if encoded == text.encode():
            # The line is the compact encoding of its value (the usual case for machine-
            # written lines): every key in it is a distinct key of the value, every number
            # reads back as written. A tenth of the cost of the tests below.
            return value
        if text.count(":") != encoded.count(b":") or b"e+" in encoded or "\\u003" in text:
            return self._line_exact(text)
        return value


def iter_json_lines(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    encode_line: Callable[[str], bytes | None] | None = None,
) -> Iterator[list[tuple[int, Any, str]]]:
    """Yield ``(line_number, value_or_ParseFailure, line_text)`` items, one list per chunk.

    With ``encode_line`` (``schema.Table.encode_line``), a line it returns a row for is
    yielded with that row (``bytes``, which no decoded JSON value is) instead of its value.
    """
    lines = _Lines(_Decoder(), max_record_bytes, encode_line)
    chunks = _without_bom(stream, chunk_size)
    for overlong, block in _line_blocks(chunks, max_record_bytes):
        items: list[tuple[int, Any, str]] = []
        if overlong is not None:
            lines.number += 1
            items.append((lines.number, lines.too_long, _preview(overlong, lines.preview)))
        if block is not None:
            lines.decode(block, items)
        if items:
            yield items


def _without_bom(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """The stream's chunks without a leading UTF-8 byte order mark."""
    head = b""
    while len(head) < len(codecs.BOM_UTF8):
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        head += chunk
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    if head:
        yield head
    while chunk := stream.read(chunk_size):
        yield chunk


def _line_blocks(
    chunks: Iterable[bytes], max_record_bytes: int
) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Split the chunks into blocks of whole lines, one block per chunk that ends a line.

    Yields ``(overlong, block)``. ``overlong`` is the start of an over-long line that ends
    at the start of this block (its other bytes were dropped as they were read), else
    ``None``. ``block`` is the block's other lines joined by newlines, or ``None`` when the
    block held only the end of the over-long line. A line still without its newline is
    dropped once it is longer than the limit plus one byte (a ``\\r`` of its line break);
    shorter lines are measured exactly by ``_Lines``.
    """
    hold = max_record_bytes + 1
    pending = b""  # the start of a line whose newline has not been read yet
    overlong: bytes | None = None  # the start of an over-long line being skipped
    for chunk in chunks:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if overlong is None:
                pending += chunk
                if len(pending) > hold:
                    overlong, pending = pending[:_PREVIEW_BYTES], b""
            continue
        block, pending = pending + chunk[:cut], chunk[cut + 1 :]
        if overlong is None:
            yield None, block
        else:
            # The first line of the block is the end of the over-long line.
            cut = block.find(b"\n")
            yield overlong, (block[cut + 1 :] if cut >= 0 else None)
            overlong = None
        if len(pending) > hold:
            overlong, pending = pending[:_PREVIEW_BYTES], b""
    if overlong is not None:
        yield overlong, None
    elif pending:
        yield None, pending


class _Lines:
    """Decodes blocks of whole lines into items, numbering the lines."""

    def __init__(
        self,
        decoder: _Decoder,
        max_record_bytes: int,
        encode_line: Callable[[str], bytes | None] | None = None,
    ) -> None:
        self.decoder = decoder
        self.encode_line = encode_line
        self.max_record_bytes = max_record_bytes
        self.too_long = ParseFailure(f"line is longer than {max_record_bytes} bytes")
        # An over-long line has at least max_record_bytes + 1 bytes before its line break,
        # however it was read: the preview is the same for every chunk size.
        self.preview = min(_PREVIEW_BYTES, max_record_bytes + 1)
        self.number = 0

    def decode(self, block: bytes, items: list[tuple[int, Any, str]]) -> None:
        """Append the items of the block's lines."""
        try:
            lines = block.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            self._decode_one_by_one(block, items)
            return
        limit = self.max_record_bytes
        quarter = limit // 4  # a line of at most this many characters is within the limit
        parse = self.decoder.line
        number = self.number
        append = items.append
        encode = self.encode_line
        for text in lines:
            number += 1
            if len(text) > quarter and _line_bytes(text, limit) > limit:
                append((number, self.too_long, _preview(text.encode(), self.preview)))
            elif encode is not None and (row := encode(text)) is not None:
                append((number, row, text))
            elif text and not text.isspace():
                append((number, parse(text), text))
        self.number = number

    def _decode_one_by_one(self, block: bytes, items: list[tuple[int, Any, str]]) -> None:
        """The slow path of ``decode``, only for blocks that are not valid UTF-8: an invalid
        line fails alone instead of failing the block."""
        for raw in block.split(b"\n"):
            self.number += 1
            if len(raw) - raw.endswith(b"\r") > self.max_record_bytes:
                items.append((self.number, self.too_long, _preview(raw, self.preview)))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                failure = ParseFailure(f"line is not valid UTF-8 (byte {error.start + 1})")
                items.append((self.number, failure, _preview(raw)))
                continue
            if text and not text.isspace():
                items.append((self.number, self.decoder.line(text), text))


def iter_json_array(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[list[tuple[int, Any, str | None]]]:
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
        self.decoder = _Decoder()
        self.number = 0  # records decoded so far
        self.items: list[tuple[int, Any, str | None]] = []  # decoded, not yet handed out
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
        reader, decoder, limit = self.reader, self.decoder, self.max_record_bytes
        try:
            value, end = decoder.scan(buf, pos)
        except (StopIteration, ValueError, RecursionError) as error:
            # The record may simply continue in the next chunk. Only once the object has
            # ended, or the record is longer than any record may be, is it broken.
            if not reader.eof and _text_bytes(buf, pos, len(buf), limit) <= limit:
                return False
            raise self._broken(buf, pos, error) from None
        if not reader.eof and not (end < len(buf) and buf[end] in ",]"):
            # Only a following ',' or ']' proves the value complete: a number at the end of
            # the buffer ("1.", "12", "1e") may continue in the next chunk.
            after = _WS.match(buf, end).end()  # type: ignore[union-attr]
            may_continue = after >= len(buf) or _NUMBER_TAIL.fullmatch(buf, end)
            if may_continue and _text_bytes(buf, pos, len(buf), limit) <= limit:
                return False
        if _text_bytes(buf, pos, end, limit) > limit:
            raise self._broken(buf, pos, None)
        self.number += 1
        if decoder.duplicates:
            failure = decoder.duplicate_failure()
            self.items.append((self.number, failure, _preview(buf[pos:end].encode("utf-8"))))
        else:
            self.items.append((self.number, value, None))
        if end < len(buf) and buf[end] == ",":
            # The usual case, taken here to save a step: what state "after" would do.
            reader.pos = end + 1
            self.state = self._value
        else:
            reader.pos = end
            self.state = self._after
        return True

    def _broken(self, buf: str, pos: int, error: BaseException | None) -> MalformedObject:
        """The record at ``pos`` is not a JSON value of at most ``max_record_bytes`` bytes.

        When more than that many bytes of it were read, the reason is taken from its first
        ``max_record_bytes`` bytes only, so that it does not depend on how much else the
        buffer holds; otherwise (the object ended) from all of it."""
        limit, number = self.max_record_bytes, self.number + 1
        location = self.reader.location(self.number)
        if error is not None and _text_bytes(buf, pos, len(buf), limit) <= limit:
            return MalformedObject(
                f"record {number} is not valid JSON: {_describe(error, pos)}", location
            )
        window = buf[pos : pos + limit].encode("utf-8")[:limit].decode("utf-8", "ignore")
        reason = f"record {number} is not a complete JSON value within {limit} bytes"
        try:
            self.decoder.scan(window, 0)
        except (StopIteration, ValueError, RecursionError) as cut:
            reason += f" ({_describe(cut)})"
        return MalformedObject(reason + ", the limit per record", location)

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

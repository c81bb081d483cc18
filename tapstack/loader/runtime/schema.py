"""Target tables, declared once: DDL, record validation and row encoding come from here.

A ``Table`` is a list of ``Column``s. Each column type knows its DDL and how to turn a JSON
value into the parameter the server receives, raising ``RecordError`` with a human-readable
reason when the value does not fit. ``Table.encode_row`` validates one decoded JSON record and
returns its row of parameters for the prepared multi-row upsert (``database.PreparedUpsert``):
each column's value as UTF-8 text after its length, the binary protocol's string parameter.
Nothing is escaped or quoted, and the server parses no literal.

Rules for the default ``events`` table (one JSON object per record):

* ``id``: non-empty string of at most 64 printable characters without leading or trailing
  whitespace (MySQL compares ``VARCHAR`` keys with trailing spaces ignored, so ``"a "`` and
  ``"a"`` would silently be the same row). Compared case-sensitively (``utf8mb4_bin``).
* ``occurred_at``: ISO-8601 timestamp string with a timezone (``Z`` or ``±HH:MM``), in any
  form ``datetime.fromisoformat`` accepts (so also basic format ``20240501T120000Z`` and week
  dates ``2024-W18-3T12:00:00Z``), converted to UTC and stored as ``DATETIME(6)``; years
  1000-9999 (the ``DATETIME`` range). The parameter is always the canonical
  ``YYYY-MM-DD HH:MM:SS.ffffff`` text of the parsed instant, so the server never sees a
  value it could refuse.
* ``type``: non-empty string of at most 64 printable characters.
* ``payload``: JSON object, stored as ``JSON``; ``{}`` when the field is absent (``null`` is
  rejected: a record either has a payload object or omits it). Checked against the stricter
  of the limits of MySQL 8.4 (production) and MariaDB (local tests), so that a payload the
  loader accepts is one both servers store unchanged (see "JSON limits" below).
* Any other field rejects the record, so a typo such as ``"ocurred_at"`` cannot silently
  load a record with a defaulted value.

JSON limits
-----------
``JsonObject`` enforces, for the whole payload (the payload object is level 1):

* nesting: at most ``MAX_JSON_NESTING`` = 31 levels of objects and arrays. MySQL 8.4 refuses
  documents deeper than 100 levels (error 3157, ``ER_JSON_DOCUMENT_TOO_DEEP``); MariaDB
  before 12.2 limits nesting to 32 in its JSON parser, which ``JSON_VALID`` (the ``CHECK`` of
  its ``JSON`` columns) turns into a refusal (error 4025) from 32 nested objects and arrays
  on - measured on MariaDB 10.11: 31 load, 32 do not. The stricter, 31, applies;
* integers: within -2**63 .. 2**64-1. MySQL stores a JSON integer outside the 64-bit range
  as a double (rounded: the stored value is not the one sent) and refuses one beyond the
  double range (error 3140); MariaDB stores the text. Floats are finite doubles by
  construction (``1e999`` decodes to infinity, which is rejected as not JSON);
* object keys: at most 65535 bytes of UTF-8 (MySQL error 3151, ``ER_JSON_KEY_TOO_BIG``);
* strings: valid UTF-8, so no unpaired surrogate escapes (MySQL error 3140; MariaDB's
  ``JSON_VALID`` refuses them as well).

https://dev.mysql.com/doc/refman/8.4/en/json.html (the JSON type; numbers, keys, size)
https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html (3140, 3151, 3157)
https://mariadb.com/kb/en/json_depth/ ("the maximum depth is 32" before MariaDB 12.2)
https://mariadb.com/kb/en/json-data-type/ (a ``JSON`` column is ``LONGTEXT`` with a
``CHECK (JSON_VALID(...))``)

No record content raises anything but ``RecordError`` from ``Table.encode_row``: values
nested too deeply for the C encoder, numbers, code points and sizes all end as a reason.

Parameters are sent as ``MYSQL_TYPE_STRING`` in the connection's character set (utf8mb4), so
the server converts them exactly as it would the same text in a literal, under the same
strict ``sql_mode``: ``DATETIME(6)`` from the canonical text, ``JSON`` from the document.
https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_execute.html
"""

from __future__ import annotations

import functools
import json
import json.encoder
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

try:  # bundled into the function package (see formats); the standard library otherwise
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by monkeypatching _orjson to None
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "EVENTS",
    "MANIFEST_TABLE",
    "MAX_JSON_KEY_BYTES",
    "REFUSED_TABLE",
    "MAX_JSON_NESTING",
    "Column",
    "JsonObject",
    "RecordError",
    "Table",
    "Timestamp",
    "VarChar",
    "json_type_name",
    "manifest_ddl",
    "refused_ddl",
]


class RecordError(ValueError):
    """A record (or one of its fields) does not match the table schema."""


#: The stricter of MySQL 8.4's (100) and MariaDB's (31 nested objects and arrays) limits.
MAX_JSON_NESTING = 31
#: MySQL's limit on a key of a JSON object (ER_JSON_KEY_TOO_BIG).
MAX_JSON_KEY_BYTES = 65535
#: JSON integers both servers store exactly (MySQL: int64 or uint64).
MIN_JSON_INTEGER = -(2**63)
MAX_JSON_INTEGER = 2**64 - 1
# A JSON text with fewer opening brackets cannot nest deeper, and one without a run of 19
# digits holds no integer outside the 64-bit range: both checks run in C on the encoded
# text, and only a payload that fails them is walked in Python. (The run is found by
# mapping every digit to "0" and searching for 19 of them: a third of a regular
# expression's cost.)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _has_long_digit_run(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS_TO_ZERO)


_JSON_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _public_json_encoder() -> Callable[[Any], str]:
    return json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
    ).encode


def _fast_json_encoder() -> Callable[[Any], str]:
    """The C encoder called directly (about 40% faster per record than ``JSONEncoder.encode``,
    which re-checks its arguments on every call); falls back to the public API if this
    CPython build does not have it or it disagrees with the public encoder."""
    public = _public_json_encoder()
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return public
    try:
        encoder = make(
            None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False
        )

        def encode(value: Any) -> str:
            return "".join(encoder(value, 0))

        sample = {"a": [1, 2.5, None, True], "b": {"c": 'd"\\\n\u00e9'}, "e": ""}
        if encode(sample) != public(sample):
            return public
        return encode
    except Exception:  # any incompatibility means: use the public encoder
        return public


_encode_json = _fast_json_encoder()
_fromisoformat = datetime.fromisoformat
# Matched only after fromisoformat accepted the text (which checks month and day ranges).
_EXTENDED = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
).fullmatch
_TIMESTAMP_LENGTH = chr(26)  # the length byte of "YYYY-MM-DD HH:MM:SS.ffffff", as text
# "HH:MM" of every minute of a day, and back; the minutes east of UTC of every offset
# fromisoformat accepts in the extended form (below 24 hours).
_CLOCK_TEXT = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))
_CLOCK_MINUTES = {text: m for m, text in enumerate(_CLOCK_TEXT)}
_OFFSET_MINUTES = {"Z": 0} | {
    sign + text: m * (1 if sign == "+" else -1)
    for sign in "+-"
    for m, text in enumerate(_CLOCK_TEXT)
}
# The raw text of a field in a compact JSON line (``Table.encode_line``): a string (its text is
# its value when it has no escape, which encode_line ensures) and an object, whose extent its
# column type checks. Strings are matched up to the next quote, which is several times faster
# than a character class that also excludes backslashes.
_RAW_STRING = r'"([^"]*)"'
_RAW_OBJECT = r"(\{.*\})"


class _NotCanonical(Exception):
    """A field's raw text is not the form ``Table.encode_line`` takes as it is."""


# A binary-protocol string parameter is its length (a length-encoded integer) and its bytes.
_SHORT_LENGTHS = tuple(bytes((n,)) for n in range(251))


def length_prefix(size: int) -> bytes:
    """The length-encoded integer ``size`` (one byte below 251)."""
    if size < 251:
        return _SHORT_LENGTHS[size]
    if size < 1 << 16:
        return b"\xfc" + size.to_bytes(2, "little")
    if size < 1 << 24:
        return b"\xfd" + size.to_bytes(3, "little")
    return b"\xfe" + size.to_bytes(8, "little")


def _param(data: bytes) -> bytes:
    """``data`` as a string parameter: its length, then the bytes."""
    size = len(data)
    return (_SHORT_LENGTHS[size] if size < 251 else length_prefix(size)) + data


class VarChar:
    """``VARCHAR(length)`` holding a printable, non-empty string."""

    raw_pattern = _RAW_STRING

    def __init__(self, length: int, *, trimmed: bool = False) -> None:
        self.length = length
        self.trimmed = trimmed

    def ddl(self, *, key: bool = False) -> str:
        collation = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if key else ""
        return f"VARCHAR({self.length}){collation}"

    def to_param(self, value: Any) -> bytes:
        if (
            type(value) is str
            and 0 < len(value) <= self.length
            and value.isprintable()
            and not (self.trimmed and value.strip() != value)
        ):
            # isprintable() is False for unpaired surrogates: the text encodes as UTF-8.
            return _param(value.encode())
        return self._checked_to_param(value)

    from_raw = to_param  # the raw text of a string without escapes is its value

    def _checked_to_param(self, value: Any) -> bytes:
        """``to_param`` one check at a time, to say which one fails."""
        if type(value) is not str:
            raise RecordError(f"must be a string, got {json_type_name(value)}")
        if not value:
            raise RecordError("must not be empty")
        if len(value) > self.length:
            raise RecordError(f"is {len(value)} characters long, the maximum is {self.length}")
        # isprintable() is False for control characters and unpaired surrogates (which
        # cannot be encoded as UTF-8), both of which have no business in an id or a type.
        if not value.isprintable():
            raise RecordError("contains control or non-printable characters")
        if self.trimmed and value.strip() != value:
            raise RecordError("must not start or end with whitespace")
        return _param(value.encode())


@functools.lru_cache(maxsize=4096)
def _next_day(day: str, days: int) -> str | None:
    """The ISO date ``days`` after ``day``, or ``None`` outside the years 1000-9999 (left to
    the general path, which says why). Cached: the records of an object fall on few days."""
    try:
        shifted = date.fromisoformat(day) + timedelta(days=days)
    except OverflowError:
        return None
    return shifted.isoformat() if shifted.year >= 1000 else None


def _extended_param(value: str) -> bytes | None:
    """The parameter of a valid timestamp in the extended form with microseconds
    (``2024-05-01T12:00:00.123456`` and ``Z`` or an offset: ``_EXTENDED``), made from slices
    of it, or ``None`` for an offset or a date outside the tables (the caller formats the
    parsed value then). Formatting the parsed value costs about as much as the rest of the
    record together. Only this exact shape qualifies - fromisoformat also accepts week dates,
    basic format, any separator, a comma before the fraction... whose text MySQL would
    refuse. The text is ASCII (the pattern), 26 characters: one length byte."""
    offset = _OFFSET_MINUTES.get(value[26:])
    if offset == 0:
        return (_TIMESTAMP_LENGTH + value[:10] + " " + value[11:26]).encode()
    if offset is None:
        return None
    minutes = _CLOCK_MINUTES[value[11:16]] - offset
    day: str | None = value[:10]
    if minutes < 0:
        day, minutes = _next_day(day, -1), minutes + 1440
    elif minutes >= 1440:
        day, minutes = _next_day(day, 1), minutes - 1440
    if day is None:
        return None
    return (_TIMESTAMP_LENGTH + day + " " + _CLOCK_TEXT[minutes] + value[16:26]).encode()


class Timestamp:
    """``DATETIME(precision)`` in UTC, from an ISO-8601 string that has a timezone."""

    raw_pattern = _RAW_STRING

    def __init__(self, precision: int = 6) -> None:
        self.precision = precision

    def from_raw(self, text: str) -> bytes:
        """``to_param`` of the raw text of a JSON string without escapes, which is its value
        unless it holds a control character (which JSON has no raw form for).

        The extended form with a year from 1000 is taken without ``to_param``'s checks, which
        it passes by its shape: it is printable, has a timezone, and ``fromisoformat``
        (called for the month's days, which the pattern does not check) accepts it."""
        if _EXTENDED(text) is not None and text[0] != "0":
            _fromisoformat(text)  # raises ValueError: the full path then says why
            param = _extended_param(text)
            if param is not None:
                return param
        if not text.isprintable():
            raise _NotCanonical
        return self.to_param(text)

    def ddl(self, *, key: bool = False) -> str:
        return f"DATETIME({self.precision})"

    def to_param(self, value: Any) -> bytes:
        if type(value) is not str:
            raise RecordError(f"must be an ISO-8601 timestamp string, got {json_type_name(value)}")
        try:
            moment = _fromisoformat(value)
        except ValueError:
            raise RecordError(f"is not an ISO-8601 timestamp: {value[:40]!r}") from None
        if moment.tzinfo is None:
            raise RecordError("has no timezone (add Z or an offset such as +02:00)")
        if moment.year < 1000:
            raise RecordError("is before the year 1000 (outside the DATETIME range)")
        if _EXTENDED(value) is not None:
            param = _extended_param(value)
            if param is not None:
                return param
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            raise RecordError("is outside the supported range") from None
        if utc.year < 1000:
            raise RecordError("is before the year 1000 (outside the DATETIME range)")
        return _param(utc.isoformat(" ", "microseconds")[:-6].encode())  # drop "+00:00"


def _check_json_limits(value: Any, max_nesting: int) -> None:
    """Walk a decoded JSON value (iteratively: any depth) and raise ``RecordError`` at the
    first limit of the module docstring's "JSON limits" it breaks."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > max_nesting:
            raise RecordError(
                f"nests objects and arrays more than {max_nesting} levels deep (MariaDB's "
                "limit; MySQL's is 100)"
            )
        if type(item) is dict:
            for key, child in item.items():
                if len(key) * 4 > MAX_JSON_KEY_BYTES and (
                    len(key.encode("utf-8", "surrogatepass")) > MAX_JSON_KEY_BYTES
                ):
                    raise RecordError(f"has an object key longer than {MAX_JSON_KEY_BYTES} bytes")
                if type(child) in (dict, list):
                    stack.append((child, level + 1))
                elif type(child) is int and not MIN_JSON_INTEGER <= child <= MAX_JSON_INTEGER:
                    raise RecordError(_INTEGER_RANGE)
        elif type(item) is list:
            for child in item:
                if type(child) in (dict, list):
                    stack.append((child, level + 1))
                elif type(child) is int and not MIN_JSON_INTEGER <= child <= MAX_JSON_INTEGER:
                    raise RecordError(_INTEGER_RANGE)


_INTEGER_RANGE = (
    "contains an integer outside -2**63..2**64-1 (MySQL would store it as a rounded double)"
)


class JsonObject:
    """``JSON`` column holding a JSON object, within both servers' limits (``max_nesting``
    levels of objects and arrays; see the module docstring)."""

    raw_pattern = _RAW_OBJECT

    def __init__(self, *, max_nesting: int = MAX_JSON_NESTING) -> None:
        self.max_nesting = max_nesting

    def from_raw(self, text: str) -> bytes:
        """``to_param`` of the object ``text`` reads as, when ``text`` is that object's
        compact orjson encoding without ``null`` (``to_param``'s orjson branch then gives
        this very document); raises otherwise, including for text that is not JSON."""
        document = text.encode()
        if _orjson is None or b"null" in document:
            raise _NotCanonical
        value = _orjson.loads(document)
        if type(value) is not dict or _orjson.dumps(value) != document:
            raise _NotCanonical
        return self.checked(value, document, integers_checked=True)

    def ddl(self, *, key: bool = False) -> str:
        return "JSON"

    def to_param(self, value: Any) -> bytes:
        if type(value) is not dict:
            raise RecordError(f"must be a JSON object, got {json_type_name(value)}")
        if _orjson is not None:
            # A fifth of the standard encoder's cost, and already UTF-8. orjson refuses
            # surrogates and integers beyond 64 bits and writes NaN and infinities as null:
            # those (and any payload with a null, or "null" in a string) go the standard
            # encoder's way, which reports them. Either way the document ends in checked(),
            # which holds both servers' limits (nesting, 64-bit integers, key sizes).
            try:
                encoded = _orjson.dumps(value)
            except TypeError:  # orjson.JSONEncodeError
                encoded = b"null"
            if b"null" not in encoded:
                # orjson encodes exactly the integers of -2**63..2**64-1 (TypeError beyond),
                # the range both servers store exactly: only nesting and keys are left.
                return self.checked(value, encoded, integers_checked=True)
        try:
            text = _encode_json(value)
        except ValueError:  # 1e999 decodes to inf, which is not valid JSON
            raise RecordError("contains a number outside the double-precision range") from None
        except RecursionError:  # deeper than the C encoder goes: far beyond the limit
            raise RecordError(
                f"nests objects and arrays more than {self.max_nesting} levels deep"
            ) from None
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError("contains an unpaired UTF-16 surrogate escape") from None
        return self.checked(value, encoded)

    def checked(
        self, value: dict[str, Any], document: bytes, *, integers_checked: bool = False
    ) -> bytes:
        """The parameter of ``value`` encoded as ``document`` (UTF-8 JSON), once both
        servers' limits are checked: every way of encoding a payload ends here. The walk
        runs only when a check on the bytes cannot rule a limit out: fewer brackets than
        the nesting limit, no key longer than the whole document, no run of 19 digits
        (unless the encoder already refused integers outside the range)."""
        if (
            document.count(b"{") + document.count(b"[") > self.max_nesting
            or len(document) > MAX_JSON_KEY_BYTES
            or (not integers_checked and _has_long_digit_run(document))
        ):
            _check_json_limits(value, self.max_nesting)
        return _param(document)


ColumnType = VarChar | Timestamp | JsonObject
_MISSING = object()
_call = operator.call


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    primary_key: bool = False
    default: Any = _MISSING

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def ddl(self) -> str:
        return f"`{self.name}` {self.type.ddl(key=self.primary_key)} NOT NULL"


class Table:
    """A target table: its columns, DDL and the record-to-parameters encoder."""

    def __init__(self, name: str, columns: Sequence[Column]) -> None:
        self.name = name
        self.columns = tuple(columns)
        self.column_names = tuple(column.name for column in self.columns)
        self.primary_key = tuple(column.name for column in self.columns if column.primary_key)
        if not self.primary_key:
            raise ValueError(f"table {name} needs a primary key to upsert by")
        self._names = frozenset(self.column_names)
        self._plan = tuple(
            (
                column.name,
                column.type.to_param,
                None if column.required else column.type.to_param(column.default),
            )
            for column in self.columns
        )
        # A record with every column, encoded by C loops: the values in column order
        # (itemgetter) through each column's encoder (map with operator.call).
        self._values_in_order: Callable[[dict[str, Any]], Any] = operator.itemgetter(
            *self.column_names
        )
        if len(self.columns) == 1:  # itemgetter of one name returns the value, not a tuple
            only = self.column_names[0]

            def one_value(record: dict[str, Any]) -> tuple[Any]:
                return (record[only],)

            self._values_in_order = one_value
        self._encoders = tuple(to_param for _, to_param, _ in self._plan)
        # Table.encode_line: the compact JSON of a record with every column, in column order.
        fields = ",".join(
            re.escape(json.dumps(column.name)) + ":" + column.type.raw_pattern
            for column in self.columns
        )
        self._compact_line = re.compile(r"\{" + fields + r"\}\r?", re.DOTALL).fullmatch
        self._string_fields = tuple(
            index
            for index, column in enumerate(self.columns)
            if column.type.raw_pattern is _RAW_STRING
        )
        self._raw_encoders = tuple(column.type.from_raw for column in self.columns)

    def ddl(self) -> str:
        lines = [column.ddl() for column in self.columns]
        lines.append("PRIMARY KEY (" + ", ".join(f"`{n}`" for n in self.primary_key) + ")")
        body = ",\n  ".join(lines)
        return (
            f"CREATE TABLE IF NOT EXISTS `{self.name}` (\n  {body}\n)"
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )

    def encode_row(self, record: Any) -> bytes:
        """Validate one decoded record and return its row of parameters: each column's
        value, in column order, as a binary-protocol string parameter (length, bytes)."""
        if type(record) is not dict:
            raise RecordError(f"record must be a JSON object, got {json_type_name(record)}")
        if not record.keys() <= self._names:
            unknown = sorted(set(record) - self._names)
            raise RecordError("unknown field(s): " + ", ".join(unknown))
        if len(record) == len(self._plan):
            # Every column is present (the usual case): one pass without the bookkeeping
            # below, which runs again to name the column when a value does not fit.
            try:
                return b"".join(map(_call, self._encoders, self._values_in_order(record)))
            except RecordError:
                pass
        return self._encode_columns(record)

    def encode_line(self, line: str) -> bytes | None:
        """``encode_row`` of the record on a JSON Lines line, without decoding the line
        first, when the line is the common machine-written form: the compact JSON of an
        object with every column, in column order, its strings without escapes (so their
        raw text is their value) and its objects as orjson writes them (``JsonObject``).
        Returns ``None`` for any other line, and for one whose record does not fit (the
        line is then decoded and encoded in full, which says why).

        The fields' raw text goes through the same column encoders as ``encode_row``, so
        whenever a row is returned it is the row ``encode_row`` returns for the decoded
        record (``test_loader_compact_lines`` checks it on generated lines). What it saves
        is measured in the ``loader`` module's docstring ("Decoding").
        """
        match = self._compact_line(line)
        if match is None:
            return None
        fields = match.groups()
        # A string field is matched up to the next quote: without a backslash in it, that
        # quote is its end and its text is its value. An escape (even of a quote, which the
        # match stops at) leaves a backslash in the field.
        if "\\" in line and any("\\" in fields[index] for index in self._string_fields):
            return None
        try:
            return b"".join(map(_call, self._raw_encoders, fields))
        except Exception:  # RecordError, _NotCanonical, orjson's errors: the full path says
            return None

    def _encode_columns(self, record: dict[str, Any]) -> bytes:
        parts = []
        for name, to_param, default in self._plan:
            value = record.get(name, _MISSING)
            if value is _MISSING:
                if default is None:
                    raise RecordError(f"{name}: required field is missing")
                parts.append(default)
                continue
            try:
                parts.append(to_param(value))
            except RecordError as error:
                raise RecordError(f"{name}: {error}") from None
        return b"".join(parts)


EVENTS = Table(
    "events",
    [
        Column("id", VarChar(64, trimmed=True), primary_key=True),
        Column("occurred_at", Timestamp(6)),
        Column("type", VarChar(64)),
        Column("payload", JsonObject(), default={}),
    ],
)

MANIFEST_TABLE = "tapstack_load_manifest"
MANIFEST_COLUMNS = (
    "object_id",
    "key_id",
    "bucket",
    "object_key",
    "version_id",
    "etag",
    "sequencer",
    "size_bytes",
    "status",
    "rows_inserted",
    "rows_updated",
    "records_rejected",
    "last_record",
    "attempts",
    "skipped_deliveries",
    "report_key",
    "error",
    "started_at",
    "updated_at",
    "finished_at",
)


def manifest_ddl() -> str:
    """One row per S3 object version the loader has seen (see ``database`` for the states)."""
    return f"""CREATE TABLE IF NOT EXISTS `{MANIFEST_TABLE}` (
  `object_id` CHAR(64) CHARACTER SET ascii NOT NULL
      COMMENT 'sha256 of bucket, key and version id (or ETag when unversioned)',
  `key_id` CHAR(64) CHARACTER SET ascii NOT NULL
      COMMENT 'sha256 of bucket and key: finds the other versions of the same key',
  `bucket` VARCHAR(63) CHARACTER SET ascii NOT NULL,
  `object_key` VARCHAR(1024) NOT NULL,
  `version_id` VARCHAR(1024) CHARACTER SET ascii NULL,
  `etag` VARCHAR(128) CHARACTER SET ascii NOT NULL,
  `sequencer` VARCHAR(64) CHARACTER SET ascii NULL
      COMMENT 'S3 event sequencer (hex); NULL when the event had none (redrive)',
  `size_bytes` BIGINT NULL,
  `status` VARCHAR(16) CHARACTER SET ascii NOT NULL
      COMMENT 'loading | failed | loaded | quarantined | skipped | superseded | partial',
  `rows_inserted` BIGINT NOT NULL DEFAULT 0 COMMENT 'rows of the target table it created',
  `rows_updated` BIGINT NOT NULL DEFAULT 0
      COMMENT 'existing rows it changed (a row set to what it held counts in neither)',
  `records_rejected` BIGINT NOT NULL DEFAULT 0 COMMENT 'records in its rejected/ report',
  `last_record` BIGINT NOT NULL DEFAULT 0
      COMMENT 'checkpoint: records up to this line/record number are committed',
  `attempts` INT NOT NULL DEFAULT 0,
  `skipped_deliveries` INT NOT NULL DEFAULT 0
      COMMENT 'redeliveries that found the object already done and loaded nothing',
  `report_key` VARCHAR(1100) NULL COMMENT 'rejected/ or quarantine/ object written',
  `error` TEXT NULL,
  `started_at` DATETIME(6) NOT NULL,
  `updated_at` DATETIME(6) NOT NULL,
  `finished_at` DATETIME(6) NULL,
  PRIMARY KEY (`object_id`),
  KEY `manifest_by_key` (`bucket`, `object_key`(255)),
  KEY `manifest_by_key_id` (`key_id`),
  KEY `manifest_by_status` (`status`, `updated_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


REFUSED_TABLE = "tapstack_load_refused"
REFUSED_COLUMNS = ("object_id", "record_number", "reason", "refused_at")


def refused_ddl() -> str:
    """Records the database refused although the loader's validation accepted them (see
    ``isolation``), committed with their batch so that a resumed attempt still reports them."""
    return f"""CREATE TABLE IF NOT EXISTS `{REFUSED_TABLE}` (
  `object_id` CHAR(64) CHARACTER SET ascii NOT NULL COMMENT 'the manifest row of the version',
  `record_number` BIGINT NOT NULL COMMENT 'line (JSON Lines) or record number (JSON array)',
  `reason` TEXT NOT NULL COMMENT 'the server error that refused it',
  `refused_at` DATETIME(6) NOT NULL,
  PRIMARY KEY (`object_id`, `record_number`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

"""Records the database refuses: found in their batch, rejected alone, the rest committed.

The loader validates every record before it writes it (``schema``), but the server has the
last word: a ``CHECK`` constraint or a trigger the loader does not know, a limit of another
server version. When a batch's upserts fail because of its data - a server
error whose code is in ``DATA_ERRORS``, as opposed to the connection, a lock or the server
itself, which fail the object as before - ``isolate_refused`` finds the records at fault by
bisection over the batch's already encoded rows, without reading the object again:

* inside the batch's transaction, each half is tried as one upsert under a savepoint;
  a half that fails is rolled back to the savepoint and split again, down to single rows;
* a single row that fails is refused with the server's error as its reason; every other
  row is written, in the batch's order (so a later record of the same id still wins).

For ``k`` refused rows among ``n``, that is about ``2 k log2(n)`` upserts over about
``k log2(n)`` batch sizes of rows, and at most ``2 n`` upserts when every row fails (each
upsert is one prepared statement per size it holds: ``database.PreparedUpsert``).
The caller commits the written rows, the refusals (``tapstack_load_refused``) and the
manifest checkpoint in that same transaction, so a crash or a retry sees the batch either
entirely done, refusals included, or not at all: exactly once, as for any batch.

Counts (``upsert_counts``) follow MySQL's affected-rows rules for
``INSERT ... ON DUPLICATE KEY UPDATE``: 1 per row inserted, 2 per existing row changed,
0 per existing row left as it was (1 with ``CLIENT_FOUND_ROWS``); the statement's info
string (``Records: n  Duplicates: d``) gives the number of rows that matched an existing
one, so inserted and updated rows are told apart exactly. The server sends it in the OK
packet of a prepared statement's execution as of a text query's (tested on MariaDB).
https://dev.mysql.com/doc/refman/8.4/en/insert-on-duplicate.html
https://dev.mysql.com/doc/c-api/8.4/en/mysql-info.html
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["DATA_ERRORS", "is_data_error", "isolate_refused", "refusal_reason", "upsert_counts"]

#: Server errors caused by the values of a row (MySQL 8.4 and MariaDB codes). Anything else
#: (connection, lock, deadlock, privilege, packet size, server) fails the batch as a whole.
DATA_ERRORS = frozenset(
    {
        1048,  # ER_BAD_NULL_ERROR: column cannot be null
        1062,  # ER_DUP_ENTRY: duplicate in a unique key the upsert does not update by
        1263,  # ER_WARN_NULL_TO_NOTNULL
        1264,  # ER_WARN_DATA_OUT_OF_RANGE
        1265,  # WARN_DATA_TRUNCATED
        1292,  # ER_TRUNCATED_WRONG_VALUE: incorrect date/time value
        1300,  # ER_INVALID_CHARACTER_STRING
        1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: incorrect string value
        1367,  # ER_ILLEGAL_VALUE_FOR_TYPE
        1406,  # ER_DATA_TOO_LONG
        1411,  # ER_WRONG_VALUE_FOR_TYPE
        1452,  # ER_NO_REFERENCED_ROW_2: foreign key
        1644,  # ER_SIGNAL_EXCEPTION: a trigger's SIGNAL refused the row
        1690,  # ER_DATA_OUT_OF_RANGE
        3140,  # ER_INVALID_JSON_TEXT
        3141,  # ER_INVALID_JSON_TEXT_IN_PARAM
        3144,  # ER_INVALID_JSON_CHARSET
        3146,  # ER_INVALID_TYPE_FOR_JSON
        3150,  # ER_JSON_VALUE_TOO_BIG
        3151,  # ER_JSON_KEY_TOO_BIG
        3156,  # ER_INVALID_JSON_VALUE_FOR_CAST
        3157,  # ER_JSON_DOCUMENT_TOO_DEEP
        3819,  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
        4025,  # ER_CONSTRAINT_FAILED (MariaDB: CHECK, including JSON_VALID on JSON columns)
        4040,  # ER_JSON_DEPTH (MariaDB)
    }
)
_SAVEPOINT = "tapstack_isolate"
_INFO = re.compile(rb"Records:\s*(\d+)\s+Duplicates:\s*(\d+)")
_CLIENT_FOUND_ROWS = 2


def is_data_error(error: BaseException) -> bool:
    """Whether a server error is about the values of a row (``DATA_ERRORS``)."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return bool(args) and isinstance(args[0], int) and args[0] in DATA_ERRORS


def refusal_reason(error: BaseException) -> str:
    """The reason a refused record carries: the server's error code and message."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    if len(args) >= 2:
        return f"the database refused it: error {args[0]}: {args[1]}"
    return f"the database refused it: {error}"


def upsert_counts(conn: Any, affected: int, rows: int) -> tuple[int, int]:
    """(inserted, updated) rows of the upsert just run on ``conn`` (``rows`` rows sent,
    ``affected`` its affected-rows count). See the module docstring."""
    found_rows = bool(getattr(conn, "client_flag", 0) & _CLIENT_FOUND_ROWS)
    result = getattr(conn, "_result", None)
    match = _INFO.search(getattr(result, "message", b"") or b"") if rows > 1 else None
    if match is not None:
        duplicates = int(match.group(2))
        if found_rows:  # duplicates = rows matched; affected = inserted + rows + changed
            inserted = rows - duplicates
            return inserted, max(0, affected - rows)
        return max(0, affected - 2 * duplicates), duplicates  # duplicates = rows changed
    if rows == 1:
        # With CLIENT_FOUND_ROWS (which the loader's connections do not set) an unchanged
        # row also counts 1, so a single row's 1 is counted as inserted.
        return int(affected == 1), int(affected == 2)
    # No info string (a driver that does not expose it): changed rows count 2, inserted 1.
    updated = max(0, affected - rows)
    return max(0, affected - 2 * updated), updated


def isolate_refused(
    cursor: Any, write: Callable[[int, int], tuple[int, int]], rows: int
) -> tuple[list[tuple[int, str]], int, int]:
    """Write every row of a batch whose upsert failed with a data error, except those the
    database refuses, in the open transaction (the caller commits).

    ``write(low, high)`` upserts rows ``low`` to ``high - 1`` of the ``rows`` rows and
    returns (inserted, updated). Returns ``(refused, inserted, updated)``: ``refused`` lists
    ``(row index, reason)`` in order. Errors that are not data errors propagate (the caller
    rolls the transaction back).
    """
    refused: list[tuple[int, str]] = []
    inserted = updated = 0
    middle = rows // 2
    pending = [(middle, rows), (0, middle)] if rows > 1 else [(0, rows)]
    while pending:
        low, high = pending.pop()
        if low >= high:
            continue
        cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            new, changed = write(low, high)
        except Exception as error:
            if not is_data_error(error):
                raise
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            if high - low == 1:
                refused.append((low, refusal_reason(error)))
            else:
                middle = (low + high) // 2
                pending += [(middle, high), (low, middle)]  # the first half runs first
            continue
        inserted += new
        updated += changed
    return refused, inserted, updated

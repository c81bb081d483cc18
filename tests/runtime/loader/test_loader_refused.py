"""Records the database refuses although the loader's validation accepted them.

The test schema gets a CHECK constraint (``type`` may not be ``refused``) and a trigger that
refuses ``type`` ``out-of-range`` with error 1264, as a server can refuse what the loader
does not know about; one test uses MariaDB's own JSON depth limit with a validator set to
MySQL's. Each refused record must be rejected alone, with the server's reason, and every
other record of the object must load, exactly once, across batches, crashes and retries.
"""

from __future__ import annotations

import json

import pymysql
import pytest

from tapstack.loader.runtime.database import PreparedUpsert, prepare_session
from tapstack.loader.runtime.isolation import DATA_ERRORS, is_data_error
from tapstack.loader.runtime.schema import (
    EVENTS,
    Column,
    JsonObject,
    RecordError,
    Table,
    Timestamp,
    VarChar,
)
from tests.runtime.loader.loader_support import (
    CommitFailsOnBatch,
    jsonl,
    keys,
    parameter_value,
    put,
    read_jsonl,
    record,
)

CHECK_REASON = "error 4025: CONSTRAINT `no_refused_type` failed"


@pytest.fixture
def refusing(database):
    """The events table refuses type 'refused' (CHECK) and 'out-of-range' (trigger, 1264)."""
    database.execute(
        "ALTER TABLE events ADD CONSTRAINT no_refused_type CHECK (type <> 'refused')",
        "CREATE TRIGGER events_out_of_range BEFORE INSERT ON events FOR EACH ROW "
        "IF NEW.type = 'out-of-range' THEN SIGNAL SQLSTATE '22003' SET MYSQL_ERRNO = 1264, "
        "MESSAGE_TEXT = 'Out of range value for column type'; END IF",
    )
    return database


def records_refusing(count, refused, kind="refused"):
    return [record(i, type=kind) if i in refused else record(i) for i in range(1, count + 1)]


def rejected_lines(s3, name):
    return read_jsonl(s3, f"rejected/{name}.jsonl")


@pytest.mark.parametrize(("where", "refused"), [("first", {1}), ("middle", {5}), ("last", {10})])
def test_a_record_the_database_refuses_is_rejected_alone_and_its_batch_loads(
    make_loader, s3, refusing, where, refused
):
    event = put(s3, f"incoming/{where}.jsonl", jsonl(records_refusing(10, refused)))

    result = make_loader(batch_size=10).handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        9,
        1,
    )
    [line] = rejected_lines(s3, f"{where}.jsonl")
    assert line["line"] == next(iter(refused))
    assert line["reason"].startswith("the database refused it: " + CHECK_REASON)
    assert line["record"]["type"] == "refused"
    expected = {f"evt-{i:06d}" for i in range(1, 11)} - {f"evt-{i:06d}" for i in refused}
    assert set(refusing.events()) == expected
    [entry] = refusing.manifest()
    assert (entry["status"], entry["rows_inserted"], entry["records_rejected"]) == (
        "loaded",
        9,
        1,
    )


def test_refusals_across_a_batch_boundary_and_several_in_one_batch_are_each_rejected(
    make_loader, s3, refusing
):
    refused = {5, 6, 12, 13, 15}  # 5|6 straddle batches 1 and 2; 12, 13, 15 share batch 3
    records = records_refusing(20, refused)
    records[12] = record(13, type="out-of-range")
    event = put(s3, "incoming/many.jsonl", jsonl(records))
    loader = make_loader(batch_size=5)

    result = loader.handle_event(event)["objects"][0]

    assert (result["rows_inserted"], result["records_rejected"]) == (15, 5)
    lines = rejected_lines(s3, "many.jsonl")
    assert [line["line"] for line in lines] == sorted(refused)
    by_line = {line["line"]: line["reason"] for line in lines}
    assert "error 1264: Out of range value for column type" in by_line[13]
    assert all(CHECK_REASON in by_line[n] for n in refused - {13})
    assert sorted(refusing.events()) == [f"evt-{i:06d}" for i in range(1, 21) if i not in refused]
    [warning] = [line for line in loader.logs() if "refused records" in line["message"]]
    assert (warning["records_refused"], warning["batches"]) == (5, 3)


def test_refusals_in_any_statement_of_a_batch_of_several_statements_are_each_rejected(
    make_loader, s3, refusing
):
    # A batch of 2,345 rows is 14 statements (2 x 1,000, 3 x 100, 4 x 10, 5 x 1): refusals in
    # the first, a middle and the last one roll back the statements before them, too.
    refused = {1, 1500, 2101, 2345}
    event = put(s3, "incoming/statements.jsonl", jsonl(records_refusing(2345, refused)))

    result = make_loader(batch_size=2345).handle_event(event)["objects"][0]

    assert (result["rows_inserted"], result["records_rejected"]) == (2341, 4)
    assert [line["line"] for line in rejected_lines(s3, "statements.jsonl")] == sorted(refused)
    assert len(refusing.events()) == 2341
    [entry] = refusing.manifest()
    assert (entry["status"], entry["rows_inserted"], entry["last_record"]) == ("loaded", 2341, 2345)


def test_validation_rejects_and_database_refusals_share_one_report(make_loader, s3, refusing):
    body = json.dumps([record(1), record(2, type="refused"), {"id": "no-type"}, record(4)])

    result = make_loader().handle_event(put(s3, "incoming/both.json", body.encode()))
    result = result["objects"][0]

    assert (result["rows_inserted"], result["records_rejected"]) == (2, 2)
    lines = rejected_lines(s3, "both.json")
    assert [line["record_number"] for line in lines] == [3, 2]  # the database's come last
    assert "required field is missing" in lines[0]["reason"]
    assert lines[1]["record"] == record(2, type="refused")


def test_the_database_refusing_every_record_of_a_batch_loads_nothing_and_rejects_each(
    make_loader, s3, refusing
):
    event = put(s3, "incoming/all.jsonl", jsonl(records_refusing(7, set(range(1, 8)))))

    result = make_loader(batch_size=7).handle_event(event)["objects"][0]

    assert (result["status"], result["rows_inserted"], result["records_rejected"]) == (
        "loaded",
        0,
        7,
    )
    assert [line["line"] for line in rejected_lines(s3, "all.jsonl")] == list(range(1, 8))
    assert refusing.events() == {}


def test_mariadbs_json_depth_limit_refuses_a_payload_validated_to_mysqls_limit(
    make_loader, s3, database
):
    """A real refusal: a validator set to MySQL 8.4's nesting limit (100) lets through a
    payload 40 levels deep, which MariaDB's JSON_VALID check refuses."""
    mysql_only = Table(
        "events",
        [
            Column("id", VarChar(64, trimmed=True), primary_key=True),
            Column("occurred_at", Timestamp(6)),
            Column("type", VarChar(64)),
            Column("payload", JsonObject(max_nesting=100), default={}),
        ],
    )
    deep: dict = {}
    for _ in range(39):
        deep = {"d": deep}
    body = jsonl([record(1), record(2, payload=deep), record(3)])

    result = make_loader(table=mysql_only).handle_event(put(s3, "incoming/deep.jsonl", body))

    assert result["objects"][0]["rows_inserted"] == 2
    [line] = rejected_lines(s3, "deep.jsonl")
    assert line["line"] == 2
    assert "error 4025: CONSTRAINT `events.payload` failed" in line["reason"]
    assert sorted(database.events()) == ["evt-000001", "evt-000003"]


def test_the_default_validator_rejects_that_payload_itself(make_loader, s3, database):
    deep: dict = {}
    for _ in range(39):
        deep = {"d": deep}
    body = jsonl([record(1, payload=deep)])

    make_loader().handle_event(put(s3, "incoming/deep.jsonl", body))

    [line] = rejected_lines(s3, "deep.jsonl")
    assert "payload: nests objects and arrays more than 31 levels deep" in line["reason"]
    assert EVENTS.columns[3].type.max_nesting == 31


def test_an_error_that_is_not_about_the_data_still_fails_the_object(make_loader, s3, database):
    database.execute(
        "CREATE TRIGGER events_locked BEFORE INSERT ON events FOR EACH ROW "
        "IF NEW.type = 'locked' THEN SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1205, "
        "MESSAGE_TEXT = 'Lock wait timeout exceeded'; END IF"
    )
    event = put(s3, "incoming/locked.jsonl", jsonl([record(1), record(2, type="locked")]))

    with pytest.raises(pymysql.err.OperationalError, match="Lock wait timeout"):
        make_loader().handle_event(event)

    assert database.events() == {}
    assert [row["status"] for row in database.manifest()] == ["failed"]
    assert keys(s3, "rejected/") == []


def test_data_errors_are_told_apart_from_connection_lock_and_server_errors():
    assert is_data_error(pymysql.err.DataError(1264, "Out of range value"))
    assert is_data_error(pymysql.err.OperationalError(3140, "Invalid JSON text"))
    assert is_data_error(pymysql.err.OperationalError(4025, "CONSTRAINT failed"))
    assert not is_data_error(pymysql.err.OperationalError(1213, "Deadlock found"))
    assert not is_data_error(pymysql.err.OperationalError(1205, "Lock wait timeout"))
    assert not is_data_error(pymysql.err.OperationalError(2013, "Lost connection"))
    assert not is_data_error(pymysql.err.InternalError(1153, "packet too large"))
    assert not is_data_error(RuntimeError("no code"))
    assert {1264, 1366, 1406, 3140, 3141, 3146, 3819, 4025} <= DATA_ERRORS


def test_a_crash_while_committing_an_isolated_batch_loads_it_once_on_the_retry(
    make_loader, s3, refusing
):
    refusing.audit_writes()
    event = put(s3, "incoming/crash.jsonl", jsonl(records_refusing(15, {7, 12})))
    connect = refusing.loader_connect()
    crashing = make_loader(batch_size=5, connect=lambda: CommitFailsOnBatch(connect(), 2))
    with pytest.raises(pymysql.err.OperationalError, match="injected at commit"):
        crashing.handle_event(event)  # batch 1 committed; batch 2 (with 7) lost at commit
    assert refusing.query("SELECT COUNT(*) FROM tapstack_load_refused") == [(0,)]

    result = make_loader(batch_size=5).handle_event(event)["objects"][0]

    assert (result["status"], result["resumed_after"]) == ("loaded", 5)
    assert (result["rows_inserted"], result["records_rejected"]) == (8, 2)
    assert [line["line"] for line in rejected_lines(s3, "crash.jsonl")] == [7, 12]
    assert set(refusing.writes_per_id().values()) == {1}  # no row written twice
    assert len(refusing.events()) == 13
    [entry] = refusing.manifest()
    assert (entry["rows_inserted"], entry["records_rejected"], entry["attempts"]) == (13, 2, 2)


def test_a_retry_that_resumes_after_an_isolated_batch_still_reports_its_refusal(
    make_loader, s3, refusing
):
    event = put(s3, "incoming/resume.jsonl", jsonl(records_refusing(15, {2})))
    connect = refusing.loader_connect()
    crashing = make_loader(batch_size=5, connect=lambda: CommitFailsOnBatch(connect(), 3))
    with pytest.raises(pymysql.err.OperationalError, match="injected at commit"):
        crashing.handle_event(event)  # batches 1 (isolated) and 2 committed, 3 lost

    result = make_loader(batch_size=5).handle_event(event)["objects"][0]

    assert (result["resumed_after"], result["rows_inserted"]) == (10, 5)
    [line] = rejected_lines(s3, "resume.jsonl")
    assert (line["line"], line["record"]["id"]) == (2, "evt-000002")
    assert CHECK_REASON in line["reason"]
    assert len(refusing.events()) == 14


class CountingS3:
    """The S3 client, counting GetObject calls by key."""

    def __init__(self, s3):
        self._s3 = s3
        self.reads = []

    def get_object(self, **params):
        self.reads.append(params["Key"])
        return self._s3.get_object(**params)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def test_the_object_of_a_refused_record_is_read_again_only_to_report_it(make_loader, s3, refusing):
    counting = CountingS3(s3)
    loader = make_loader(s3=counting)

    loader.handle_event(put(s3, "incoming/refusing.jsonl", jsonl(records_refusing(4, {3}))))
    loader.handle_event(put(s3, "incoming/plain.jsonl", jsonl([record(9)])))

    assert counting.reads == [
        "incoming/refusing.jsonl",
        "incoming/refusing.jsonl",
        "incoming/plain.jsonl",
    ]


def nested_payload(levels):
    """A payload of exactly ``levels`` nested containers: the payload object is level 1, and
    odd levels are objects, even ones arrays."""
    value: dict | list = {} if levels % 2 else []
    for level in range(levels - 1, 0, -1):
        value = {"d": value} if level % 2 else [value]
    assert isinstance(value, dict)
    return value


def test_the_nesting_limit_is_exactly_mariadbs(make_loader, s3, database):
    """MariaDB (before 12.2) stores 31 levels and refuses 32, which is why the validator
    allows 31: https://mariadb.com/kb/en/json_depth/ ("the maximum depth is 32")."""
    mysql_only = Table(
        "events",
        [
            Column("id", VarChar(64, trimmed=True), primary_key=True),
            Column("occurred_at", Timestamp(6)),
            Column("type", VarChar(64)),
            Column("payload", JsonObject(max_nesting=100), default={}),
        ],
    )
    body = jsonl([record(31, payload=nested_payload(31)), record(32, payload=nested_payload(32))])

    make_loader(table=mysql_only).handle_event(put(s3, "incoming/levels.jsonl", body))

    assert list(database.events()) == ["evt-000031"]
    [line] = rejected_lines(s3, "levels.jsonl")
    assert (line["line"], "error 4025" in line["reason"]) == (2, True)
    assert EVENTS.columns[3].type.to_param(nested_payload(31))
    with pytest.raises(RecordError, match="more than 31 levels deep"):
        EVENTS.columns[3].type.to_param(nested_payload(32))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"n": 2**64 - 1, "m": -(2**63)}, None),
        ({"n": 2**64}, "contains an integer outside -2\\*\\*63..2\\*\\*64-1"),
        ({"n": [-(2**63) - 1]}, "contains an integer outside"),
        ({"k" * 65535: 1}, None),
        ({"é" * 32768: 1}, "has an object key longer than 65535 bytes"),
        ({"s": "\ud800"}, "unpaired UTF-16 surrogate"),
        ({"x": float("inf")}, "outside the double-precision range"),
    ],
)
def test_payload_limits_of_mysql_84_are_checked_before_the_database_sees_them(payload, reason):
    payload_type = EVENTS.columns[3].type
    if reason is None:
        assert parameter_value(payload_type.to_param(payload)).startswith(b"{")
    else:
        with pytest.raises(RecordError, match=reason):
            payload_type.to_param(payload)


def upsert_rows(count, *, start=0):
    """``count`` encoded rows with multi-byte ids and types, and where each row ends."""
    values, ends = bytearray(), []
    for i in range(start, start + count):
        values += EVENTS.encode_row(record(i, type="tÿpe-😀", id=f"évt-{i:06d}"))
        ends.append(len(values))
    return values, ends


def test_a_batch_is_written_by_statements_of_1000_100_10_and_1_rows_prepared_once(database):
    conn = database.loader_connect()()
    try:
        upsert = PreparedUpsert(conn, EVENTS, prepare_session(conn))
        values, ends = upsert_rows(2345)

        assert upsert.write(values, ends, 0, 2345) == (2345, 0)
        assert upsert.statements_executed == 2 + 3 + 4 + 5
        assert upsert.statements_prepared == 4
        assert upsert.write(values, ends, 0, 2345) == (0, 0)  # the same values change nothing
        assert upsert.statements_prepared == 4
        conn.commit()
    finally:
        conn.close()
    assert len(database.events()) == 2345
    assert database.query("SELECT type FROM events WHERE id = 'évt-002344'") == [("tÿpe-😀",)]


def test_rows_are_cut_out_of_a_batch_at_their_exact_bytes_for_any_range(database):
    conn = database.loader_connect()()
    try:
        upsert = PreparedUpsert(conn, EVENTS, prepare_session(conn))
        values, ends = upsert_rows(30)
        changed, _ = upsert_rows(30)
        changed = changed.replace("tÿpe-😀".encode(), "tÿpe-😁".encode())

        assert upsert.write(values, ends, 7, 19) == (12, 0)
        assert upsert.write(changed, ends, 0, 30) == (18, 12)
        conn.commit()
    finally:
        conn.close()
    assert sorted(database.events()) == [f"évt-{i:06d}" for i in range(30)]
    assert database.query("SELECT DISTINCT type FROM events") == [("tÿpe-😁",)]


def test_statement_sizes_that_would_pass_the_placeholder_limit_are_left_out(database):
    conn = database.loader_connect()()
    try:
        wide = Table(
            "wide",
            [Column("id", VarChar(8), primary_key=True)]
            + [Column(f"c{i}", VarChar(8)) for i in range(99)],
        )
        upsert = PreparedUpsert(conn, wide, prepare_session(conn))
    finally:
        conn.close()

    assert upsert.sizes == (100, 10, 1)  # 1,000 rows of 100 columns: 100,000 placeholders

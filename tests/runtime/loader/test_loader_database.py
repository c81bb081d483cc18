"""Database states: read-only standbys and writers, missing schema, bootstrap (and its absence),
unreachable servers."""

from __future__ import annotations

import json
import uuid

import pymysql
import pytest

from tapstack.loader.runtime.bootstrap import (
    IamAuthentication,
    PasswordAuthentication,
    _authentication_clause,
    bootstrap_database,
)
from tapstack.loader.runtime.connections import connection_factory
from tapstack.loader.runtime.contract import STANDBY, WRITER
from tapstack.loader.runtime.database import (
    Dialect,
    MissingSchemaError,
    NotBootstrappedError,
    ReadOnlyWriterError,
    not_bootstrapped,
    read_only_reason,
)
from tapstack.loader.runtime.observability import loader_metrics
from tapstack_lab.mariadb import free_port
from tests.runtime.loader.loader_support import (
    BUCKET,
    LOADER_PASSWORD,
    LOADER_USER,
    jsonl,
    put,
    record,
)


def test_a_standby_skips_while_its_database_is_read_only_and_loads_after_promotion(
    make_loader, s3, database, read_only_server, capsys
):
    records = [record(i) for i in range(5)]
    event = put(s3, "incoming/replica.jsonl", jsonl(records))
    loader = make_loader(role=STANDBY, metrics=loader_metrics(STANDBY))
    capsys.readouterr()

    on_replica = loader.handle_event(event)["objects"][0]

    assert on_replica["status"] == "skipped"
    assert "read-only (read_only=ON)" in on_replica["reason"]
    assert database.events() == {}
    assert database.manifest() == []
    [logged] = [line for line in loader.logs() if line["message"] == "object skipped"]
    assert "arrive through replication" in logged["reason"]
    [metrics] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (metrics["Role"], metrics["ObjectsSkipped"], metrics["RowsInserted"]) == (
        "standby",
        [1],
        [0],
    )

    read_only_server(False)  # promotion
    promoted = loader.handle_event(event)["objects"][0]

    assert (promoted["status"], promoted["rows_inserted"]) == ("loaded", 5)
    assert len(database.events()) == 5


def test_a_read_only_writer_fails_loudly_loads_nothing_and_loads_on_the_retry(
    make_loader, s3, database, read_only_server, capsys
):
    """A writer whose database is read-only (maintenance, a switchover) must not report
    success: nothing would be in the manifest and nothing would retry, so the object would
    never load. It raises, so Lambda retries; the retry after the window loads it."""
    records = [record(i) for i in range(5)]
    event = put(s3, "incoming/maintenance.jsonl", jsonl(records))
    loader = make_loader(role=WRITER, metrics=loader_metrics(WRITER))
    capsys.readouterr()

    with pytest.raises(ReadOnlyWriterError) as error:
        loader.handle_event(event)

    message = str(error.value)
    assert message.startswith("the database is read-only (read_only=ON), but this region is ")
    assert "the writer (ROLE=writer)" in message
    assert f"s3://{BUCKET}/incoming/maintenance.jsonl was not loaded" in message
    assert "Lambda retries it" in message
    assert database.events() == {}
    assert database.manifest() == []
    [failure] = [line for line in loader.logs() if line["level"] == "ERROR"]
    assert failure["message"] == "object failed; the invocation raises so Lambda retries it"
    assert failure["error"].startswith("ReadOnlyWriterError: the database is read-only")
    assert not [line for line in loader.logs() if line["message"] == "object skipped"]
    [metrics] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (metrics["Role"], metrics["ReadOnlyWriter"], metrics["status"]) == (
        "writer",
        [1],
        "failed",
    )
    assert "ObjectsSkipped" not in metrics
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"][0] == {
        "Name": "ReadOnlyWriter",
        "Unit": "Count",
    }

    read_only_server(False)  # the maintenance window ends; Lambda's retry
    retried = loader.handle_event(event)["objects"][0]

    assert (retried["status"], retried["rows_inserted"]) == ("loaded", 5)
    assert len(database.events()) == 5
    assert [row["status"] for row in database.manifest()] == ["loaded"]


def test_the_loader_is_a_writer_unless_told_otherwise_and_refuses_an_unknown_role(
    make_loader, s3, database
):
    assert make_loader().loader.role == WRITER
    with pytest.raises(ValueError, match="role must be one of writer, standby, got 'primary'"):
        make_loader(role="primary")


def test_before_bootstrap_the_refused_loader_user_fails_with_the_bootstrap_hint(
    make_loader, s3, database
):
    """The IAM user exists only once bootstrap-database ran: until then RDS answers 1045."""
    loader = make_loader(connect=database.loader_connect(user="not_bootstrapped_yet"))

    with pytest.raises(NotBootstrappedError) as error:
        loader.handle_event(put(s3, "incoming/early.jsonl", jsonl([record(1)])))

    message = str(error.value)
    assert message.startswith("the database refused the loader's user ((1045, ")
    assert "Access denied for user 'not_bootstrapped_yet'" in message
    assert "run `python -m tapstack bootstrap-database` once" in message
    assert isinstance(error.value.__cause__, pymysql.err.OperationalError)
    [failure] = [line for line in loader.logs() if line["level"] == "ERROR"]
    assert "python -m tapstack bootstrap-database" in failure["error"]


def test_a_database_that_bootstrap_has_not_created_fails_with_the_bootstrap_hint(
    make_loader, s3, database
):
    loader = make_loader(connect=database.loader_connect(database="never_bootstrapped"))

    with pytest.raises(NotBootstrappedError) as error:
        loader.handle_event(put(s3, "incoming/early.jsonl", jsonl([record(1)])))

    # 1044 for the loader's user, which has no grant on it (1049 for a user with one on *.*)
    assert str(error.value).startswith("the database refused the loader's user ((1044, ")
    assert "run `python -m tapstack bootstrap-database` once" in str(error.value)


def test_other_connection_errors_are_not_mistaken_for_a_missing_bootstrap():
    assert not_bootstrapped(pymysql.err.OperationalError(2003, "Can't connect")) is None
    assert not_bootstrapped(OSError("no route to host")) is None
    assert isinstance(
        not_bootstrapped(pymysql.err.OperationalError(1045, "Access denied")),
        NotBootstrappedError,
    )


def test_the_loader_user_cannot_write_to_a_read_only_server(database, read_only_server):
    conn = database.loader_connect(autocommit=True)()
    try:
        with conn.cursor() as cursor, pytest.raises(pymysql.err.OperationalError) as error:
            cursor.execute("INSERT INTO events VALUES ('x', NOW(), 't', '{}')")
    finally:
        conn.close()
    assert error.value.args[0] == 1290  # --read-only: the user really has no SUPER


def test_loading_into_a_database_without_tables_fails_with_a_bootstrap_hint(
    make_loader, s3, database
):
    database.execute("DROP TABLE tapstack_load_manifest")
    event = put(s3, "incoming/early.jsonl", jsonl([record(1)]))

    with pytest.raises(MissingSchemaError) as error:
        make_loader().handle_event(event)

    message = str(error.value)
    assert f"table `{database.name}`.`tapstack_load_manifest` does not exist" in message
    assert "run `python -m tapstack bootstrap-database` once" in message
    assert '{"tapstack_action": "bootstrap"}' in message


def test_a_table_missing_a_column_fails_with_a_clear_message(make_loader, s3, database):
    database.execute("ALTER TABLE events DROP COLUMN payload")

    with pytest.raises(MissingSchemaError, match=r"`events` lacks column\(s\) payload"):
        make_loader().handle_event(put(s3, "incoming/x.jsonl", jsonl([record(1)])))


def test_an_unreachable_database_raises_instead_of_being_swallowed(make_loader, s3, database):
    port = free_port()  # nothing listens there
    loader = make_loader(
        connect=connection_factory(
            host="127.0.0.1",
            port=port,
            user=LOADER_USER,
            password=lambda: LOADER_PASSWORD,
            database=database.name,
            ssl_context=None,
            connect_timeout=2,
        )
    )

    with pytest.raises(pymysql.err.OperationalError, match="Can't connect"):
        loader.handle_event(put(s3, "incoming/x.jsonl", jsonl([record(1)])))

    failure = [line for line in loader.logs() if line["level"] == "ERROR"]
    assert failure and "Lambda retries" in failure[0]["message"]


def test_bootstrap_is_idempotent_and_grants_only_select_insert_update(mariadb):
    name = f"t_{uuid.uuid4().hex[:12]}"
    user = f"u_{uuid.uuid4().hex[:8]}"
    root = mariadb.connect()
    try:
        first = bootstrap_database(
            root, database=name, loader_user=user, auth=PasswordAuthentication("pw-1")
        )
        with root.cursor() as cursor:
            cursor.execute(f"INSERT INTO `{name}`.events VALUES ('kept', NOW(), 't', '{{}}')")
        second = bootstrap_database(
            root, database=name, loader_user=user, auth=PasswordAuthentication("pw-1")
        )
        with root.cursor() as cursor:
            cursor.execute("SHOW GRANTS FOR %s@'%%'", (user,))
            grants = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT id FROM `{name}`.events")
            kept = cursor.fetchall()
    finally:
        root.close()
    try:
        assert first == second
        assert first["status"] == "ok"
        assert first["privileges"] == ["SELECT", "INSERT", "UPDATE"]
        assert kept == (("kept",),)
        assert grants[1:] == [f"GRANT SELECT, INSERT, UPDATE ON `{name}`.* TO `{user}`@`%`"]
        assert grants[0].startswith(f"GRANT USAGE ON *.* TO `{user}`@`%`")
        loader_conn = mariadb.connect(name, user=user, password="pw-1")
        with loader_conn.cursor() as cursor, pytest.raises(pymysql.err.OperationalError) as denied:
            cursor.execute("DELETE FROM events")
        loader_conn.close()
        assert denied.value.args[0] == 1142  # DELETE command denied
    finally:
        mariadb.drop_database(name)
        with mariadb.root_cursor() as cursor:
            cursor.execute("DROP USER %s@'%%'", (user,))


def test_bootstrap_creates_the_web_tiers_reader_with_select_on_events_only(mariadb):
    name = f"t_{uuid.uuid4().hex[:12]}"
    loader, reader = f"u_{uuid.uuid4().hex[:8]}", f"r_{uuid.uuid4().hex[:8]}"
    root = mariadb.connect()
    try:
        results = [
            bootstrap_database(
                root,
                database=name,
                loader_user=loader,
                auth=PasswordAuthentication("pw-1"),
                reader_user=reader,
                reader_auth=PasswordAuthentication("reader-pw"),
            )
            for _ in range(2)
        ]
        with root.cursor() as cursor:
            cursor.execute(f"INSERT INTO `{name}`.events VALUES ('e1', NOW(), 't', '{{}}')")
            cursor.execute("SHOW GRANTS FOR %s@'%%'", (reader,))
            grants = [row[0] for row in cursor.fetchall()]
    finally:
        root.close()
    try:
        assert results[0] == results[1], "idempotent"
        assert results[0]["reader"] == f"{reader}@%"
        assert results[0]["reader_privileges"] == ["SELECT ON events"]
        assert grants[1:] == [f"GRANT SELECT ON `{name}`.`events` TO `{reader}`@`%`"]
        conn = mariadb.connect(name, user=reader, password="reader-pw")
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT id FROM events")
                assert cursor.fetchall() == (("e1",),)
                for statement in (
                    "SELECT * FROM tapstack_load_manifest",
                    "INSERT INTO events VALUES ('e2', NOW(), 't', '{}')",
                    "UPDATE events SET type = 'x'",
                ):
                    with pytest.raises(pymysql.err.OperationalError) as denied:
                        cursor.execute(statement)
                    assert denied.value.args[0] == 1142, statement  # command denied
        finally:
            conn.close()
    finally:
        mariadb.drop_database(name)
        with mariadb.root_cursor() as cursor:
            cursor.execute("DROP USER %s@'%%', %s@'%%'", (loader, reader))


def test_the_reader_is_authenticated_like_the_loader_unless_told_otherwise(mariadb):
    name = f"t_{uuid.uuid4().hex[:12]}"
    loader, reader = f"u_{uuid.uuid4().hex[:8]}", f"r_{uuid.uuid4().hex[:8]}"
    root = mariadb.connect()
    try:
        bootstrap_database(
            root,
            database=name,
            loader_user=loader,
            auth=PasswordAuthentication("shared-pw"),
            reader_user=reader,
        )
    finally:
        root.close()
    try:
        mariadb.connect(name, user=reader, password="shared-pw").close()
    finally:
        mariadb.drop_database(name)
        with mariadb.root_cursor() as cursor:
            cursor.execute("DROP USER %s@'%%', %s@'%%'", (loader, reader))


def test_the_reader_must_be_another_account_than_the_loader(mariadb):
    root = mariadb.connect()
    try:
        with pytest.raises(ValueError, match="reader 'same' must be another account"):
            bootstrap_database(
                root,
                database="never_created",
                loader_user="same",
                auth=PasswordAuthentication("p"),
                reader_user="same",
            )
        with pytest.raises(ValueError, match="reader user name"):
            bootstrap_database(
                root,
                database="never_created",
                loader_user="loader",
                auth=PasswordAuthentication("p"),
                reader_user="r'; DROP USER root; --",
            )
    finally:
        root.close()


def test_bootstrap_does_nothing_on_a_read_only_replica(mariadb, read_only_server):
    root = mariadb.connect()
    try:
        result = bootstrap_database(
            root, database="never_created", loader_user="nobody", auth=PasswordAuthentication("x")
        )
        with root.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE 'never_created'")
            created = cursor.fetchall()
    finally:
        root.close()

    assert result["status"] == "skipped"
    assert result["reason"].startswith("the database is read-only (read_only=ON): ")
    assert "this is a replica" in result["reason"]
    assert created == ()


def test_the_iam_user_statement_uses_the_rds_plugin_and_requires_tls():
    assert _authentication_clause(IamAuthentication(), Dialect("8.0.39")) == (
        " IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
    )
    assert _authentication_clause(IamAuthentication(), Dialect("10.11.9-MariaDB-log")) == (
        " IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS' REQUIRE SSL"
    )


def test_upserts_use_the_row_alias_on_mysql_and_values_on_mariadb():
    from tapstack.loader.runtime.schema import EVENTS

    _, mysql = Dialect("8.0.39").upsert_prefix_suffix(EVENTS)
    _, old_mysql = Dialect("8.0.18-log").upsert_prefix_suffix(EVENTS)
    _, mariadb = Dialect("10.11.19-MariaDB-0+deb12u1").upsert_prefix_suffix(EVENTS)

    assert mysql.startswith(" AS `new_row` ON DUPLICATE KEY UPDATE `occurred_at` = ")
    assert "VALUES(`payload`)" in old_mysql
    assert "VALUES(`payload`)" in mariadb


def test_bad_identifiers_are_refused_before_reaching_sql(mariadb):
    root = mariadb.connect()
    try:
        with pytest.raises(ValueError, match="database name"):
            bootstrap_database(
                root,
                database="x`; DROP DATABASE mysql; --",
                loader_user="u",
                auth=PasswordAuthentication("p"),
            )
    finally:
        root.close()


class ServerVariables:
    """A connection whose SHOW GLOBAL VARIABLES returns the given values."""

    def __init__(self, **values):
        self.values = values

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def execute(self, sql, args=None):
        assert sql.startswith("SHOW GLOBAL VARIABLES")

    def fetchall(self):
        return list(self.values.items())

    def commit(self):
        pass


def test_any_read_only_value_other_than_off_makes_the_database_read_only():
    """MariaDB 11 turns read_only into a set of values such as NO_LOCK."""
    reason = read_only_reason(ServerVariables(read_only="NO_LOCK", innodb_read_only="OFF"))

    assert reason is not None
    assert reason.startswith("the database is read-only (read_only=NO_LOCK)")
    for value in ("ON", "1", "NO_LOCK_NO_ADMIN", "on"):
        assert read_only_reason(ServerVariables(read_only=value)) is not None, value
    for value in ("OFF", "0", "", "off"):
        assert read_only_reason(ServerVariables(read_only=value, super_read_only=value)) is None

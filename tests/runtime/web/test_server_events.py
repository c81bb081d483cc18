"""The web server's event reads (GET /events, GET /events/<id>) against real MariaDB servers
(tapstack_lab.mariadb): one with TLS, reached as a read-only password account, as the lab does.

IAM authentication cannot be exercised here (MariaDB has no AWSAuthenticationPlugin): its
token is checked against botocore's in test_rds_auth_token.py, and its clear-text login is
refused without TLS below.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapstack_lab.mariadb import LocalMariaDB
from tests.runtime.web import instance_server
from tests.runtime.web.instance_server import SERVER_PATH, server

DATABASE = "tapstack"
READER, READER_PASSWORD = "tapstack_reader", "reader-secret-1"
# tapstack.loader.runtime.schema.EVENTS.ddl(), which this interpreter (3.9) cannot import;
# test_infrastructure.py checks that the server's table and columns are the loader's.
EVENTS_DDL = """CREATE TABLE `events` (
  `id` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `occurred_at` DATETIME(6) NOT NULL,
  `type` VARCHAR(64) NOT NULL,
  `payload` JSON NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
ROWS = [
    ("evt-1", "2024-05-01 12:00:00.000000", "signup", '{"user": "ana"}'),
    ("evt-2", "2024-05-01 12:00:05.250000", "order", '{"total": 12.5, "items": [1, 2]}'),
    ("evt-3", "2024-05-01 12:00:05.250000", "order", '{"note": "same instant as evt-2"}'),
    ("evt/é 4", "2024-04-30 23:59:59.999999", "refund", "{}"),
]


@pytest.fixture(scope="module")
def mariadb() -> Iterator[LocalMariaDB]:
    db = LocalMariaDB(settings={"innodb-buffer-pool-size": "32M"}, tls=True)
    db.start()
    try:
        with db.root_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{DATABASE}`")
            cursor.execute(EVENTS_DDL)
            cursor.execute("CREATE TABLE `secrets` (`v` VARCHAR(10))")
            cursor.executemany("INSERT INTO `events` VALUES (%s, %s, %s, %s)", ROWS)
            # What bootstrap-database grants the reader: SELECT on the events table only.
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (READER, READER_PASSWORD))
            cursor.execute(f"GRANT SELECT ON `{DATABASE}`.`events` TO %s@'%%'", (READER,))
        yield db
    finally:
        db.stop()


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "reader-password"
    path.write_text(READER_PASSWORD + "\n")
    return path


def read_settings(db: LocalMariaDB, password_file: Path, **changes):
    values = dict(
        region="us-east-1",
        role="writer",
        bind="127.0.0.1",
        port=0,
        db_host=db.host,
        db_port=db.port,
        db_name=DATABASE,
        db_read_user=READER,
        db_auth="password",
        db_password_file=str(password_file),
        db_tls_ca=str(db.tls_ca_path),
        db_read_timeout=2.0,
        maintenance_file="/nonexistent/maintenance",
    )
    values.update(changes)
    return server.Settings(**values)


def serving(settings):
    return instance_server.serving(settings, "i-events")


def get(srv, path: str, headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def reading(mariadb, password_file):
    with serving(read_settings(mariadb, password_file)) as srv:
        yield srv


def test_an_event_is_read_by_id_with_its_time_in_iso_utc_and_its_payload_as_an_object(reading):
    status, headers, body = get(reading, "/events/evt-2")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "id": "evt-2",
        "occurred_at": "2024-05-01T12:00:05.250000Z",
        "type": "order",
        "payload": {"total": 12.5, "items": [1, 2]},
    }


def test_an_id_with_a_slash_and_non_ascii_characters_is_read_percent_encoded(reading):
    status, _, body = get(reading, "/events/evt%2F%C3%A9%204")
    assert (status, body["id"], body["payload"]) == (200, "evt/é 4", {})
    assert body["occurred_at"] == "2024-04-30T23:59:59.999999Z"


def test_an_unknown_id_is_404_json_naming_it(reading):
    assert get(reading, "/events/evt-404")[::2] == (404, {"error": "not found", "id": "evt-404"})


def test_ids_compare_case_sensitively_as_the_loader_stores_them(reading):
    assert get(reading, "/events/EVT-1")[0] == 404


@pytest.mark.parametrize("raw", ["%20evt-1", "x" * 65, "evt%0A1", "%FF"])
def test_an_id_no_event_can_have_is_400(reading, raw):
    status, _, body = get(reading, "/events/" + raw)
    assert status == 400
    assert "event id" in body["error"]


def test_a_quote_in_the_id_is_a_parameter_value_not_sql(reading):
    status, _, body = get(reading, "/events/x'%20OR%20'1'='1")
    assert (status, body["error"]) == (404, "not found")


def test_latest_lists_the_newest_first_by_time_then_id_with_region_and_role(reading):
    status, _, body = get(reading, "/events?latest=3")
    assert status == 200
    assert (body["region"], body["role"]) == ("us-east-1", "writer")
    assert [event["id"] for event in body["events"]] == ["evt-3", "evt-2", "evt-1"]
    assert body["events"][2] == {
        "id": "evt-1",
        "occurred_at": "2024-05-01T12:00:00.000000Z",
        "type": "signup",
        "payload": {"user": "ana"},
    }


def test_latest_defaults_to_ten_and_returns_what_there_is(reading):
    status, _, body = get(reading, "/events")
    assert status == 200
    assert [event["id"] for event in body["events"]] == ["evt-3", "evt-2", "evt-1", "evt/é 4"]


def test_latest_one_hundred_is_the_most_allowed(reading):
    assert get(reading, "/events?latest=100")[0] == 200


@pytest.mark.parametrize(
    "query",
    [
        "latest=0",
        "latest=101",
        "latest=-1",
        "latest=ten",
        "latest=",
        "latest=1&latest=2",
        "latest=%D9%A3",
        "limit=5",
    ],
)
def test_a_bad_latest_or_another_parameter_is_400_json(reading, query):
    status, _, body = get(reading, "/events?" + query)
    assert status == 400
    assert "latest" in body["error"]


def test_reads_reuse_their_connection(mariadb, reading):
    def connections() -> int:
        with mariadb.root_cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
            return int(cursor.fetchone()[1])

    get(reading, "/events/evt-1")
    before = connections()
    for _ in range(5):
        assert get(reading, "/events/evt-1")[0] == 200
    assert connections() - before == 1  # only the root_cursor that counted


def test_a_read_after_the_server_dropped_the_idle_connection_still_succeeds(mariadb, reading):
    assert get(reading, "/events/evt-1")[0] == 200
    with mariadb.root_cursor() as cursor:
        cursor.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (READER,))
        for (thread,) in cursor.fetchall():
            cursor.execute(f"KILL {int(thread)}")
    assert get(reading, "/events/evt-1")[0] == 200


def test_reads_travel_over_tls_when_a_ca_is_configured(mariadb, password_file):
    with mariadb.root_cursor() as cursor:  # the account now refuses a login without TLS
        cursor.execute("ALTER USER %s@'%%' REQUIRE SSL", (READER,))
    try:
        with serving(read_settings(mariadb, password_file)) as srv:
            assert get(srv, "/events/evt-1")[0] == 200
        with serving(read_settings(mariadb, password_file, db_tls_ca=None)) as srv:
            status, _, body = get(srv, "/events/evt-1")
    finally:
        with mariadb.root_cursor() as cursor:
            cursor.execute("ALTER USER %s@'%%' REQUIRE NONE", (READER,))
    assert status == 503
    assert body["reason"].startswith("1045 Access denied for user 'tapstack_reader'")


def test_password_authentication_works_without_tls_when_no_ca_is_configured(mariadb, password_file):
    with serving(read_settings(mariadb, password_file, db_tls_ca=None)) as srv:
        assert get(srv, "/events/evt-3")[2]["id"] == "evt-3"


def test_a_server_certificate_from_another_ca_is_refused_with_503(mariadb, password_file):
    rds_bundle = SERVER_PATH.parents[2] / "loader" / "runtime" / "certs" / "rds-ca-bundle.pem"
    with serving(read_settings(mariadb, password_file, db_tls_ca=str(rds_bundle))) as srv:
        status, _, body = get(srv, "/events/evt-1")
    assert status == 503
    assert "CERTIFICATE_VERIFY_FAILED" in body["reason"]


def test_a_wrong_password_is_503_with_the_servers_refusal(mariadb, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    with serving(read_settings(mariadb, wrong)) as srv:
        status, _, body = get(srv, "/events/evt-1")
    assert (status, body["error"]) == (503, "database unavailable")
    assert body["reason"].startswith("1045 Access denied for user 'tapstack_reader'")


def test_the_reader_sees_only_what_it_was_granted(mariadb):
    conn = server._MySQLConnection((mariadb.host, mariadb.port), 2.0)
    try:
        conn.login(READER, READER_PASSWORD, DATABASE, None, mariadb.host, server._NATIVE)
        with pytest.raises(server.MySQLError, match="^1142 SELECT command denied"):
            conn.execute("SELECT `v` FROM `secrets`", [])
    finally:
        conn.close()


def test_a_clear_text_password_is_never_sent_without_tls(mariadb):
    conn = server._MySQLConnection((mariadb.host, mariadb.port), 2.0)
    try:
        with pytest.raises(server.MySQLError, match="clear-text password, sent only over TLS"):
            conn._auth_response(server._CLEAR, "token", b"")
    finally:
        conn.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_database_that_refuses_connections_is_503_json_and_the_server_keeps_serving(
    mariadb, password_file, capsys
):
    settings = read_settings(mariadb, password_file, db_port=closed_port())
    with serving(settings) as srv:
        status, _, body = get(srv, "/events?latest=5")
        assert get(srv, "/livez")[0] == 200
    assert (status, body["error"]) == (503, "database unavailable")
    assert "refused" in body["reason"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (line,) = [entry for entry in logged if entry.get("path") == "/events?latest=5"]
    assert line["status"] == 503 and "refused" in line["error"]


def test_a_database_that_accepts_but_never_answers_is_503_within_the_read_timeout(
    mariadb, password_file
):
    with socket.socket() as silent:  # the kernel accepts; nobody ever writes a greeting
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = read_settings(
            mariadb, password_file, db_port=silent.getsockname()[1], db_read_timeout=0.3
        )
        with serving(settings) as srv:
            status, _, body = get(srv, "/events/evt-1")
    assert (status, body["reason"]) == (503, "timed out")


def test_a_missing_events_table_is_503_with_the_servers_message(mariadb, password_file):
    with mariadb.root_cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS `empty`")
        cursor.execute("GRANT SELECT ON `empty`.* TO %s@'%%'", (READER,))
    with serving(read_settings(mariadb, password_file, db_name="empty")) as srv:
        status, _, body = get(srv, "/events/evt-1")
    assert status == 503
    assert body["reason"].startswith("1146 Table 'empty.events' doesn't exist")


def test_the_events_paths_are_404_when_reads_are_not_configured(mariadb, password_file):
    with serving(read_settings(mariadb, password_file, db_read_user=None)) as srv:
        status, _, body = get(srv, "/events/evt-1")
    assert (status, body["error"]) == (404, "not found")
    assert "TAPSTACK_DB_READ_USER" in body["reason"]

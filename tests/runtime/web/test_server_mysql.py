"""The web server's database probe against a real MariaDB server (tapstack_lab.mariadb).

What matters to the database is how a probe ends: a connection closed during the handshake
is an aborted connect (and, where the server resolves client names, a connect error that
leads to ``Host ... is blocked`` after ``max_connect_errors``); a login that succeeds and
ends with COM_QUIT is not.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest

from tapstack_lab.mariadb import LocalMariaDB
from tests.runtime.web import instance_server
from tests.runtime.web.instance_server import server

PROBE_USER = "tapstack_health"


@pytest.fixture(scope="module")
def mariadb() -> Iterator[LocalMariaDB]:
    db = LocalMariaDB(settings={"innodb-buffer-pool-size": "32M"})
    db.start()
    try:
        with db.root_cursor() as cursor:  # no password and no privileges: a probe account
            cursor.execute(f"CREATE USER '{PROBE_USER}'@'%' IDENTIFIED BY ''")
        yield db
    finally:
        db.stop()


def aborted_connects(db: LocalMariaDB) -> int:
    with db.root_cursor() as cursor:  # a clean login: does not count itself
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Aborted_connects'")
        return int(cursor.fetchone()[1])


def aborted_connects_after(db: LocalMariaDB, before: int, expected: int) -> int:
    """Aborted_connects once the server has dealt with the probe's connection."""
    deadline = time.monotonic() + 2
    while True:  # the server counts the abort on its own thread, a moment after the close
        count = aborted_connects(db) - before
        if count >= expected or time.monotonic() > deadline:
            if count == expected == 0:
                time.sleep(0.2)  # give a late abort the chance to show
                count = aborted_connects(db) - before
            return count
        time.sleep(0.02)


def test_probe_reads_the_greeting_of_a_real_server(mariadb):
    before = aborted_connects(mariadb)
    result = server.probe_mysql(mariadb.host, mariadb.port, 2.0)
    assert result["reachable"] is True
    assert "MariaDB" in result["server_version"]
    assert result["login"] is None
    assert isinstance(result["latency_ms"], float)
    # closing after the greeting is an aborted connect, hence TAPSTACK_DB_PROBE_USER
    assert aborted_connects_after(mariadb, before, 1) == 1


def test_probe_logging_in_as_a_passwordless_account_leaves_no_aborted_connect(mariadb):
    before = aborted_connects(mariadb)
    for _ in range(3):
        result = server.probe_mysql(mariadb.host, mariadb.port, 2.0, PROBE_USER)
        assert result["reachable"] is True
        assert result["login"] == "ok"
        assert result["server_message"] is None
    assert aborted_connects_after(mariadb, before, 0) == 0


def test_probe_as_an_unknown_account_is_refused_but_counts_the_server_as_reachable(mariadb):
    result = server.probe_mysql(mariadb.host, mariadb.port, 2.0, "no_such_account")
    assert result["reachable"] is True
    assert result["login"] == "refused"
    assert result["server_message"].startswith("1045 Access denied for user 'no_such_account'")


def serving(settings):
    return instance_server.serving(settings, "i-mariadb")


def test_health_reports_a_real_server_and_the_probe_login(mariadb, tmp_path):
    settings = server.Settings(
        region="us-east-1",
        role="writer",
        bind="127.0.0.1",
        port=0,
        db_host=mariadb.host,
        db_port=mariadb.port,
        db_probe_user=PROBE_USER,
        maintenance_file=str(tmp_path / "maintenance"),
    )
    with serving(settings) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=5)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            status, report = response.status, json.loads(response.read())
        finally:
            conn.close()
    assert (status, report["status"]) == (200, "ok")
    assert report["database"]["reachable"] is True
    assert report["database"]["login"] == "ok"
    assert "MariaDB" in report["database"]["server_version"]

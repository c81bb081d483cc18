"""Create the schema and the loader's database user (idempotent).

Bootstrap also upgrades a manifest made by an earlier loader (``database.upgrade_manifest``:
``rows_loaded``/``rows_rejected`` become ``legacy_rows_written``/``records_rejected``, and
``rows_inserted``/``rows_updated`` are added), so it must run once after a deploy that
changes the schema: the loader refuses to start on an old schema and says so.

Invoked as ``{"tapstack_action": "bootstrap"}`` on the loader function: it reads the
master-user secret (``DB_MASTER_SECRET_ID``, by name: it is replicated to both regions),
connects as the master user over TLS and
runs ``bootstrap_database``. Running it again changes nothing. On a read-only replica it does
nothing and says so (the schema and the user arrive by replication).

``bootstrap_database`` takes an open connection and an authentication mode, so tests run the
exact same statements against MariaDB with a password user instead of the RDS IAM plugin.

The loader user gets ``SELECT, INSERT, UPDATE`` on the loader's database and nothing else:
upserts are ``INSERT ... ON DUPLICATE KEY UPDATE`` (no ``DELETE``, no ``FILE``, no
``LOAD DATA``), the manifest is read and updated, and named locks, ``SHOW VARIABLES`` and
``information_schema`` need no privilege.

With ``reader_user`` (``DB_READ_USER``: the web tier's account) it also creates that account,
authenticated the same way, with ``SELECT`` on the events table alone: the web servers read
events and nothing else (not the manifest). Accounts and grants replicate, so the standby's
read replica has it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .database import (
    REPLICA_EXPLANATION,
    Dialect,
    check_schema,
    read_only_reason,
    upgrade_manifest,
)
from .schema import EVENTS, MANIFEST_TABLE, REFUSED_TABLE, Table, manifest_ddl, refused_ddl

__all__ = [
    "LOADER_PRIVILEGES",
    "READER_PRIVILEGES",
    "IamAuthentication",
    "PasswordAuthentication",
    "bootstrap_database",
    "master_credentials",
]

LOADER_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")
READER_PRIVILEGES = ("SELECT",)
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_USER = re.compile(r"^[A-Za-z0-9_]{1,32}$")


@dataclass(frozen=True)
class IamAuthentication:
    """RDS IAM database authentication; connections must use TLS."""


@dataclass(frozen=True)
class PasswordAuthentication:
    """A password user, for local servers (tests, benchmarks, demos)."""

    password: str
    require_ssl: bool = False


Authentication = IamAuthentication | PasswordAuthentication


def _identifier(name: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(name):
        raise ValueError(f"{what} {name!r} must match {pattern.pattern}")
    return name


def bootstrap_database(
    conn: Any,
    *,
    database: str,
    loader_user: str,
    auth: Authentication,
    table: Table = EVENTS,
    user_host: str = "%",
    reader_user: str | None = None,
    reader_auth: Authentication | None = None,
) -> dict[str, Any]:
    """Create database, tables and loader user if missing; grant the loader's privileges;
    with ``reader_user``, the read-only account too (``reader_auth``, default ``auth``).

    ``conn`` is an administrative connection (autocommit on). Returns a summary.
    """
    database = _identifier(database, _NAME, "database name")
    loader_user = _identifier(loader_user, _USER, "loader user name")
    if reader_user is not None:
        reader_user = _identifier(reader_user, _USER, "reader user name")
        if reader_user == loader_user:
            raise ValueError(f"the reader {reader_user!r} must be another account than the loader")
    reason = read_only_reason(conn)
    if reason is not None:
        return {"status": "skipped", "reason": f"{reason}: {REPLICA_EXPLANATION}"}
    with conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        dialect = Dialect(str(cursor.fetchone()[0]))
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            if dialect.is_mariadb
            else f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4"
        )
        cursor.execute(f"USE `{database}`")
        cursor.execute(table.ddl())
        upgraded = upgrade_manifest(cursor)
        cursor.execute(manifest_ddl())
        cursor.execute(refused_ddl())
        account = (loader_user, user_host)
        _create_account(cursor, account, auth, dialect)
        cursor.execute(f"GRANT {', '.join(LOADER_PRIVILEGES)} ON `{database}`.* TO %s@%s", account)
        if reader_user is not None:
            reader = (reader_user, user_host)
            _create_account(cursor, reader, reader_auth or auth, dialect)
            privileges = ", ".join(READER_PRIVILEGES)
            cursor.execute(f"GRANT {privileges} ON `{database}`.`{table.name}` TO %s@%s", reader)
    conn.commit()
    check_schema(conn, table)
    summary = {
        "status": "ok",
        "database": database,
        "tables": [table.name, MANIFEST_TABLE, REFUSED_TABLE],
        "manifest_upgraded": upgraded,
        "user": f"{loader_user}@{user_host}",
        "authentication": "iam" if isinstance(auth, IamAuthentication) else "password",
        "privileges": list(LOADER_PRIVILEGES),
    }
    if reader_user is not None:
        summary["reader"] = f"{reader_user}@{user_host}"
        summary["reader_privileges"] = [f"{p} ON {table.name}" for p in READER_PRIVILEGES]
    return summary


def _create_account(
    cursor: Any, account: tuple[str, str], auth: Authentication, dialect: Dialect
) -> None:
    cursor.execute(
        "CREATE USER IF NOT EXISTS %s@%s" + _authentication_clause(auth, dialect),
        account + _authentication_args(auth),
    )
    # ALTER as well, so a user that existed with another method converges to this one.
    cursor.execute(
        "ALTER USER %s@%s" + _authentication_clause(auth, dialect),
        account + _authentication_args(auth),
    )


def _authentication_clause(auth: Authentication, dialect: Dialect) -> str:
    if isinstance(auth, IamAuthentication):
        method = (
            " IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS'"
            if dialect.is_mariadb
            else " IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
        )
        return method + " REQUIRE SSL"
    return " IDENTIFIED BY %s" + (" REQUIRE SSL" if auth.require_ssl else " REQUIRE NONE")


def _authentication_args(auth: Authentication) -> tuple[str, ...]:
    return () if isinstance(auth, IamAuthentication) else (auth.password,)


def master_credentials(secrets_client: Any, secret_arn: str) -> tuple[str, str]:
    """(username, password) from the master-user secret (JSON with username and password)."""
    value = secrets_client.get_secret_value(SecretId=secret_arn)
    try:
        secret = json.loads(value["SecretString"])
        return str(secret["username"]), str(secret["password"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"secret {secret_arn} is not an RDS master secret (JSON with username and password)"
        ) from None


def run_bootstrap(
    *,
    secrets_client: Any,
    secret_arn: str,
    connect_as: Callable[[str, str], Any],
    database: str,
    loader_user: str,
    reader_user: str | None = None,
) -> dict[str, Any]:
    """The Lambda bootstrap action: master credentials from Secrets Manager, IAM users."""
    username, password = master_credentials(secrets_client, secret_arn)
    conn = connect_as(username, password)
    try:
        return bootstrap_database(
            conn,
            database=database,
            loader_user=loader_user,
            auth=IamAuthentication(),
            reader_user=reader_user,
        )
    finally:
        conn.close()

"""Database connection factories.

In Lambda the loader authenticates with RDS IAM database authentication: the password is a
short-lived token signed with the function's role (``rds.generate_db_auth_token``, computed
locally, no API call), sent over TLS that verifies the server against the Amazon RDS CA
bundle shipped in ``certs/`` and checks that the certificate matches ``DB_HOST``. pymysql
answers the server's ``mysql_clear_password`` request with the token, which is why TLS is
mandatory. Nothing secret is stored in code or environment variables.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

__all__ = [
    "RDS_CA_BUNDLE",
    "connection_factory",
    "iam_token_provider",
    "tls_context",
]

RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-ca-bundle.pem"


def tls_context(ca_file: str | Path = RDS_CA_BUNDLE) -> ssl.SSLContext:
    """Verify the server certificate against ``ca_file`` and the host name, strictly (RFC
    5280, ``VERIFY_X509_STRICT``); TLS 1.2+."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    # Python 3.13+ (Lambda's runtime) verifies strictly by default; older interpreters do
    # here too, so a certificate chain that passes on the test machine passes on Lambda.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def iam_token_provider(
    rds_client: Any, *, host: str, port: int, user: str, region: str
) -> Callable[[], str]:
    """A fresh IAM authentication token per connection (tokens are valid for 15 minutes)."""

    def token() -> str:
        return str(
            rds_client.generate_db_auth_token(
                DBHostname=host, Port=port, DBUsername=user, Region=region
            )
        )

    return token


def connection_factory(
    *,
    host: str,
    port: int,
    user: str,
    password: Callable[[], str],
    database: str | None,
    ssl_context: ssl.SSLContext | None,
    connect_timeout: float = 10.0,
    read_timeout: float | None = 300.0,
    autocommit: bool = False,
) -> Callable[[], pymysql.connections.Connection[Any]]:
    """A callable that opens a new pymysql connection (``password`` is asked each time)."""

    def connect() -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            host=host,
            port=port,
            user=user,
            password=password(),
            database=database,
            ssl=ssl_context,
            charset="utf8mb4",
            autocommit=autocommit,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            program_name="tapstack-loader",
        )

    return connect

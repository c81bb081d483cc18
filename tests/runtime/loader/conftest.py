"""Fixtures for the loader tests: a private MariaDB, moto S3 and real S3 event payloads.

* ``mariadb`` (session): one throwaway MariaDB server with TLS, shared by all tests.
* ``database``: a fresh database per test, bootstrapped by the loader's own bootstrap
  function in password mode, so the loader connects as a user with only SELECT, INSERT
  and UPDATE (and no SUPER: ``read_only`` applies to it).
* ``read_only_server``: the server read-only for one test (``SET GLOBAL read_only``).
* ``s3``: moto's in-process S3 with an empty bucket.
* ``make_loader``: builds a ``Loader`` whose JSON log lines are captured.
* ``moto_server`` (session, started on first use): moto in a separate process, for tests
  that need a real HTTP stream (memory) or a second process (crash).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tapstack.loader.runtime.bootstrap import PasswordAuthentication, bootstrap_database
from tapstack.loader.runtime.loader import Loader
from tapstack.loader.runtime.observability import loader_logger
from tapstack_lab.mariadb import LocalMariaDB
from tests.runtime.loader.loader_support import (
    BUCKET,
    LOADER_PASSWORD,
    LOADER_USER,
    REGION,
    CapturedLoader,
    MotoServer,
    ScratchDatabase,
)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[LocalMariaDB]:
    with LocalMariaDB(tls=True) as server:
        yield server


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def database(mariadb: LocalMariaDB) -> Iterator[ScratchDatabase]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    root = mariadb.connect()
    try:
        bootstrap_database(
            root,
            database=name,
            loader_user=LOADER_USER,
            auth=PasswordAuthentication(LOADER_PASSWORD),
        )
    finally:
        root.close()
    yield ScratchDatabase(mariadb, name)
    mariadb.drop_database(name)


@pytest.fixture
def read_only_server(mariadb: LocalMariaDB) -> Iterator[Callable[[bool], None]]:
    """Makes the shared server read-only for one test (restored afterwards): a replica, or a
    writer in a maintenance window. Call the fixture's value with False to end it."""

    def set_read_only(enabled: bool) -> None:
        with mariadb.root_cursor() as cursor:
            cursor.execute(f"SET GLOBAL read_only = {int(enabled)}")

    set_read_only(True)
    try:
        yield set_read_only
    finally:
        set_read_only(False)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield client


@pytest.fixture
def make_loader(database: ScratchDatabase, s3: Any) -> Iterator[Callable[..., CapturedLoader]]:
    made: list[CapturedLoader] = []

    def make(**overrides: Any) -> CapturedLoader:
        output = io.StringIO()
        options: dict[str, Any] = {
            "connect": database.loader_connect(),
            "s3": s3,
            "logger": loader_logger(stream=output),
            "lock_timeout": 30,
        }
        options.update(overrides)
        captured = CapturedLoader(Loader(**options), output)
        made.append(captured)
        return captured

    yield make
    for captured in made:
        captured.loader.close()


# ------------------------------------------------------------- moto server
@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)
        yield MotoServer(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)

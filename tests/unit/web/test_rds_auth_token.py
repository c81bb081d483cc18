"""The web server's RDS IAM token, computed again by botocore now: the recorded answers of
tests/runtime/web/test_rds_auth_token.py stay botocore's as botocore changes.

https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.AWSCLI.html
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import botocore.auth
import botocore.session
import pytest

SERVER_PATH = Path(__file__).resolve().parents[3] / "tapstack" / "web" / "runtime" / "server.py"
AT = datetime(2026, 12, 1, 23, 40, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def server():
    spec = importlib.util.spec_from_file_location("tapstack_web_server_for_tokens", SERVER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def botocore_token(host: str, port: int, user: str, region: str, keys: tuple[str, str, str]):
    session = botocore.session.Session()
    access_key, secret_key, session_token = keys
    session.set_credentials(access_key, secret_key, session_token or None)  # "": none at all
    client = session.create_client("rds", region_name=region)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=AT):
        return client.generate_db_auth_token(host, port, user)


@pytest.mark.parametrize(
    ("host", "port", "user", "region", "keys"),
    [
        (
            "tapstack-writer.abcdefghijkl.eu-west-1.rds.amazonaws.com",
            3306,
            "tapstack_reader",
            "eu-west-1",
            ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "tok/+="),
        ),
        (
            "tapstack-standby-g2.zyxwvutsrqpo.us-west-2.rds.amazonaws.com",
            3307,
            "reader_2",
            "us-west-2",
            ("ASIAEXAMPLEKEY000001", "s3cr3t~key with space", ""),
        ),
    ],
)
def test_the_servers_token_is_botocores(server, host, port, user, region, keys):
    expected = botocore_token(host, port, user, region, keys)
    assert server.rds_auth_token(host, port, user, region, keys, AT) == expected
    assert "X-Amz-Date=20261201T234005Z" in expected  # the instant was frozen for botocore

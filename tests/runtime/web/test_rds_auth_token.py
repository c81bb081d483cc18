"""The server's RDS IAM authentication token against answers recorded from botocore.

An RDS IAM token is a SigV4 presigned ``connect`` request for the service ``rds-db``, valid
15 minutes, without its ``https://`` (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.AWSCLI.html).
The expected tokens are botocore 1.44.8's ``rds.generate_db_auth_token`` for the inputs below at
the instant below (tests/unit/web/test_rds_auth_token.py computes them again with botocore).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer

import pytest

from tests.runtime.web.instance_server import QuietHandler, server

HOST = "tapstack-writer.abcdefghijkl.eu-west-1.rds.amazonaws.com"
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars"
AT = datetime(2026, 12, 1, 23, 40, 5, tzinfo=timezone.utc)
QUERY = (
    "Action=connect&DBUser=tapstack_reader&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261201%2Feu-west-1%2Frds-db%2Faws4_request"
    "&X-Amz-Date=20261201T234005Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
)
WITH_SESSION_TOKEN = (
    f"{HOST}:3306/?{QUERY}&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%2Bwith%3Dchars"
    "&X-Amz-Signature=18180bf69bfe117a455232b4dc8d02e47e389a56bf36e67bf5f1b7629a590005"
)
WITHOUT_SESSION_TOKEN = (
    f"{HOST}:3306/?{QUERY}"
    "&X-Amz-Signature=02a6faefd38c75ba21297808f9e6d0cc2ea345573c69e52eb7741cdfc9b3593c"
)


def token(session_token: str, at: datetime = AT) -> str:
    keys = (ACCESS_KEY, SECRET_KEY, session_token)
    return server.rds_auth_token(HOST, 3306, "tapstack_reader", "eu-west-1", keys, at)


def test_the_token_with_a_session_token_is_botocores():
    assert token(SESSION_TOKEN) == WITH_SESSION_TOKEN


def test_the_token_without_a_session_token_is_botocores():
    assert token("") == WITHOUT_SESSION_TOKEN


def test_the_token_is_signed_in_utc_whatever_the_timezone_of_the_clock():
    in_paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert token(SESSION_TOKEN, in_paris) == WITH_SESSION_TOKEN


def test_another_instant_signs_differently():
    assert token(SESSION_TOKEN, AT + timedelta(seconds=1)) != WITH_SESSION_TOKEN


class FakeCredentials(QuietHandler):
    """IMDSv2's role credentials: the role's name, then its keys, each with the session token."""

    expiration = "2026-12-02T05:40:05Z"
    fetches = 0

    def do_PUT(self):
        self._reply(200, "imds-token")

    def do_GET(self):
        base = "/latest/meta-data/iam/security-credentials/"
        if self.headers.get("X-aws-ec2-metadata-token") != "imds-token":
            self._reply(401, "")
        elif self.path == base:
            self._reply(200, "tapstack-web-role\n")
        elif self.path == base + "tapstack-web-role":
            type(self).fetches += 1
            keys = {"AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY}
            keys.update(Token=SESSION_TOKEN, Expiration=self.expiration, Code="Success")
            self._reply(200, json.dumps(keys))
        else:
            self._reply(404, "")


@pytest.fixture
def imds_url():
    FakeCredentials.fetches = 0
    imds = ThreadingHTTPServer(("127.0.0.1", 0), FakeCredentials)
    thread = threading.Thread(target=imds.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"http://127.0.0.1:{imds.server_address[1]}"
    imds.shutdown()
    imds.server_close()
    thread.join(timeout=5)


def test_role_credentials_come_from_imdsv2_and_are_reused_until_shortly_before_expiry(imds_url):
    expires = datetime(2026, 12, 2, 5, 40, 5, tzinfo=timezone.utc).timestamp()
    now = [expires - 3600]
    credentials = server.InstanceCredentials(imds_url, clock=lambda: now[0])
    assert credentials.get() == (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    now[0] = expires - server.CREDENTIALS_REFRESH_SECONDS - 1
    credentials.get()
    assert FakeCredentials.fetches == 1
    now[0] = expires - server.CREDENTIALS_REFRESH_SECONDS + 1
    credentials.get()
    assert FakeCredentials.fetches == 2


def test_no_metadata_service_makes_reads_unavailable_with_the_reason():
    credentials = server.InstanceCredentials("http://127.0.0.1:9")
    with pytest.raises(server.DatabaseUnavailable, match="no instance role credentials from IMDS"):
        credentials.get()

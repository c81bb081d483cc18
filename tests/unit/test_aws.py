"""tapstack.aws: the boto3 clients of the operator commands."""

from __future__ import annotations

import boto3
import pytest

from tapstack.aws import client_factory


def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_an_endpoint_gets_the_credentials_given_beside_it() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://localhost:4566",
        "AWS_ACCESS_KEY_ID": "lab",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    client = client_factory(env)("s3", "us-west-2")
    assert client.meta.endpoint_url == "http://localhost:4566"
    assert client.meta.region_name == "us-west-2"
    assert client._request_signer._credentials.access_key == "lab"


def test_credentials_cached_by_boto3s_default_session_are_never_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "earlier")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "earlier")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.client("s3", region_name="us-east-1")  # the default session resolves them now
    _no_ambient_credentials(monkeypatch, tmp_path)
    client = client_factory({"AWS_ENDPOINT_URL": "http://localhost:4566"})("s3", "us-east-1")
    assert client._request_signer._credentials is None

"""`tapstack bootstrap-database` invokes the writer region's loader's bootstrap action
and reports its result or its error."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tapstack.cli import BOOTSTRAP_EVENT, invoke_bootstrap
from tapstack.config import load_config
from tests.support import DEFAULT_CONFIG


def _payload(data: object) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _client() -> tuple[object, Stubber]:
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_bootstrap_invokes_the_primary_loader_synchronously() -> None:
    client, stub = _client()
    stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": _payload({"bootstrap": "done", "user": "tapstack_loader"})},
        {
            "FunctionName": "tapstack-prod-loader-us-east-1",
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(BOOTSTRAP_EVENT).encode(),
        },
    )
    with stub:
        result = invoke_bootstrap(load_config(DEFAULT_CONFIG), client)
    assert result == {"bootstrap": "done", "user": "tapstack_loader"}
    stub.assert_no_pending_responses()


def test_a_failed_bootstrap_raises_with_the_functions_error() -> None:
    client, stub = _client()
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": _payload({"errorMessage": "cannot read the master secret"}),
        },
    )
    with stub, pytest.raises(RuntimeError, match="cannot read the master secret"):
        invoke_bootstrap(load_config(DEFAULT_CONFIG), client)


def test_bootstrap_invokes_the_writer_regions_loader_once_the_writer_moved() -> None:
    client, stub = _client()
    stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": _payload({"status": "ok"})},
        {
            "FunctionName": "tapstack-prod-loader-us-west-2",
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(BOOTSTRAP_EVENT).encode(),
        },
    )
    config = load_config(DEFAULT_CONFIG).model_copy(update={"writer_region": "us-west-2"})
    with stub:
        assert invoke_bootstrap(config, client) == {"status": "ok"}
    stub.assert_no_pending_responses()


def test_a_bootstrap_skipped_on_a_read_only_writer_fails_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tapstack import cli

    skipped = {"status": "skipped", "reason": "the database is read-only"}
    monkeypatch.setattr(cli, "invoke_bootstrap", lambda config, client: skipped)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert cli.main(["bootstrap-database"]) == 1
    assert "database is read-only, nothing was created" in capsys.readouterr().out

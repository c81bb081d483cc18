"""`tapstack bootstrap-database` invokes the primary loader's bootstrap action
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

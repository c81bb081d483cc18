"""The demo's data path on its own: a sample file with invalid lines goes
through the loader into a throwaway MariaDB, and a redelivery loads nothing."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from tapstack_lab.datapath import SAMPLE_INVALID, SAMPLE_VALID, run_data_path, sample_records


def test_the_sample_holds_the_advertised_valid_and_invalid_lines() -> None:
    lines = sample_records()
    assert len(lines) == SAMPLE_VALID + SAMPLE_INVALID
    parsed = 0
    for line in lines:
        try:
            json.loads(line)
            parsed += 1
        except json.JSONDecodeError:
            pass
    assert parsed == len(lines) - 1, "exactly one line is not JSON at all"


def test_the_data_path_loads_the_valid_records_rejects_the_rest_and_skips_redelivery(
    monkeypatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="demo-data")
        result = run_data_path(
            s3,
            bucket="demo-data",
            region="us-east-1",
            database="tapstack",
            loader_user="tapstack_loader",
        )
        assert result.report_key is not None
        report = s3.get_object(Bucket="demo-data", Key=result.report_key)["Body"].read()
    assert (result.status, result.inserted, result.updated, result.rows_in_table) == (
        "loaded",
        6,
        0,
        6,
    )
    assert result.rejected == 3
    assert result.redelivery.startswith("skipped")
    assert len(report.decode().splitlines()) == 3
    assert {item["line"] for item in result.report} == {3, 6, 9}

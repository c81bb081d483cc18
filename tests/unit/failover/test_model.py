"""The failover model: detection time and read RTO from the health check's
interval and failure threshold."""

from __future__ import annotations

import json

from tapstack.config import load_config
from tapstack.failover.model import FailoverModel
from tests.support import DEFAULT_CONFIG


def test_modelled_failover_figures_follow_the_configuration() -> None:
    model = FailoverModel.from_config(load_config(DEFAULT_CONFIG))
    assert model.detection == 30
    assert model.read_rto == 90
    slow = FailoverModel(health_check_interval=30, failure_threshold=3)
    assert (slow.detection, slow.read_rto) == (90, 150)
    assert json.dumps(model.rows()).count("detection") >= 2


def test_without_rtc_the_objects_rpo_has_no_bound() -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html:
    only RTC replicates 99.99% of objects within 15 minutes; without it there is no SLA."""
    rows = {r[0]: r[1:] for r in FailoverModel(30, 3, replication_time_control=False).rows()}
    assert rows["RPO objects"] == (
        "unbounded (usually minutes)",
        "best-effort S3 replication: storage.replication_time_control is off",
    )
    with_rtc = {r[0]: r[1] for r in FailoverModel(10, 3).rows()}
    assert with_rtc["RPO objects"] == "<= 15 min"

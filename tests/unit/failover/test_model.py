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

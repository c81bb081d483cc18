"""Shared fixtures: configurations and the synthesized app, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tapstack.config import MAX_DNS_NAME
from tests.support import (
    Synthesized,
    default_config_data,
    http_only_data,
    lean_config_data,
    synthesize,
    writer_secondary_data,
)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default configuration, synthesized once for the whole session."""
    return synthesize(default_config_data(), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synth_lean(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The lean profile (config/lean.yaml) as shipped, synthesized once for the session."""
    return synthesize(lean_config_data(), tmp_path_factory.mktemp("cdk.out.lean"))


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A second shape, synthesized once: a certificate the user brings in the primary region
    (the secondary's is managed, validated in the existing zone), SSH from one address, a
    key pair, an existing hosted zone, NAT per AZ, a Graviton instance type, destroy mode
    and non-default alarm thresholds."""
    data = default_config_data()
    data["primary"]["nat_gateways"] = 2
    data["primary"]["certificate_arn"] = (
        "arn:aws:acm:us-east-1:123456789012:certificate/0f5e1c7e-1111-2222-3333-444455556666"
    )
    data["web"]["ssh_allowed_cidr"] = "203.0.113.10/32"
    data["web"]["key_pair_name"] = "ops-key"
    data["web"]["instance_type"] = "t4g.small"
    data["dns"]["hosted_zone_id"] = "Z0123456789ABCDEFGHIJ"
    data["removal_mode"] = "destroy"
    data["monitoring"].update(
        cpu_alarm_percent=70,
        replica_lag_alarm_seconds=120,
        rds_free_storage_alarm_gib=9,
        target_response_time_alarm_seconds=0.5,
        alb_5xx_alarm_count=3,
    )
    return synthesize(data, tmp_path_factory.mktemp("cdk.out.variant"))


@pytest.fixture(scope="session")
def synth_writer_secondary(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default configuration after the writer moved to the secondary region (issue 11),
    synthesized once: the secondary's replica promoted in place, the primary's database a
    new replica (generation 1) of it."""
    return synthesize(writer_secondary_data(), tmp_path_factory.mktemp("cdk.out.writer"))


@pytest.fixture(scope="session")
def synth_http_only(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default configuration with ``web.https: false``, synthesized once (the
    configuration warns about it)."""
    with pytest.warns(UserWarning, match="web.https is false"):
        return synthesize(http_only_data(), tmp_path_factory.mktemp("cdk.out.http"))


@pytest.fixture
def config_data() -> Iterator[dict[str, Any]]:
    yield default_config_data()


@pytest.fixture(scope="session")
def synth_second_environment(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default configuration as a second environment (``staging``) of the same project
    in the same account: nothing it names may collide with the first."""
    data = default_config_data()
    data["environment"] = "staging"
    return synthesize(data, tmp_path_factory.mktemp("cdk.out.staging"))


#: The longest names configuration accepts: 16-character project, 10-character environment,
#: the longest region codes, a 63-character record label and the longest domain the
#: configuration lets through with it.
LONGEST_NAMES = {
    "project_name": "p" * 15 + "1",
    "environment": "e" * 9 + "2",
    "account": "210987654321",
    "primary": {"region": "ap-northeast-1", "vpc_cidr": "10.30.0.0/16"},
    "secondary": {"region": "ap-southeast-2", "vpc_cidr": "10.40.0.0/16"},
}


def longest_domain_for(*, record_name: str, regions: tuple[str, ...]) -> str:
    """The longest domain name (within a character) the configuration accepts with
    ``record_name`` and ``regions``: ``<region>.<record>.<domain>`` must fit in
    :data:`MAX_DNS_NAME`."""
    remaining = MAX_DNS_NAME - max(len(r) for r in regions) - len(record_name) - 2 - len(".com")
    labels = []
    while remaining >= 2:
        size = min(63, remaining - 1)
        labels.append("d" * size)
        remaining -= size + 1
    return ".".join([*labels, "com"])


@pytest.fixture(scope="session")
def synth_longest_names(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The longest names the configuration accepts: every derived name must still fit."""
    data = default_config_data()
    data.update(LONGEST_NAMES)
    data["dns"]["record_name"] = "r" * 63
    data["dns"]["domain_name"] = longest_domain_for(
        record_name="r" * 63, regions=("ap-northeast-1", "ap-southeast-2")
    )
    # A name this long cannot be a certificate's first name (ACM allows 64 characters):
    # such a user brings certificates.
    certificate = "arn:aws:acm:{}:210987654321:certificate/0f5e1c7e-1111-2222-3333-44445555666{}"
    for number, slot in enumerate(("primary", "secondary"), start=1):
        settings = data[slot]  # LONGEST_NAMES's own mapping: copy, never change it
        data[slot] = {**settings, "certificate_arn": certificate.format(settings["region"], number)}
    return synthesize(data, tmp_path_factory.mktemp("cdk.out.longest"))

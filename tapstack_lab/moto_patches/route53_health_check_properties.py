"""``AWS::Route53::HealthCheck``: the ``HealthCheckConfig`` flags moto's CloudFormation model
ignores.

Gap
    ``HealthCheckConfig`` of ``AWS::Route53::HealthCheck``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-route53-healthcheck-healthcheckconfig.html)
    takes ``EnableSNI``, ``MeasureLatency``, ``Inverted``, ``Disabled`` and
    ``HealthThreshold`` besides the endpoint. moto 5.2.5's
    ``HealthCheck.create_from_cloudformation_json`` passes on only the endpoint, type,
    path, search string, interval and threshold, so a check created from a template reports
    ``EnableSNI: false`` and ``MeasureLatency: false`` whatever the template says (the API's
    ``CreateHealthCheck`` reads them all).

Why the demo needs it
    TapStack's health checks run over HTTPS with SNI on the region's name, which its
    certificate carries; the integration suite checks ``EnableSNI``
    (``tests/integration/test_dns.py::test_health_check_probes_the_deep_health_endpoint``).

Private members
    None: the patch wraps ``HealthCheck.create_from_cloudformation_json`` (no public hook
    exists) and sets the created check's public attributes (``enable_sni``,
    ``measure_latency``, ``inverted``, ``disabled``, ``health_threshold``), which
    ``GetHealthCheck`` reports.

Upstream report (github.com/getmoto/moto, pull request)
    Title: CloudFormation AWS::Route53::HealthCheck: read EnableSNI, MeasureLatency,
    Inverted, Disabled and HealthThreshold

    Reproduction (moto 5.2.5, ``mock_aws``): a stack with one ``AWS::Route53::HealthCheck``
    whose ``HealthCheckConfig`` is ``{"Type": "HTTPS", "FullyQualifiedDomainName":
    "app.example.org", "Port": 443, "ResourcePath": "/health", "EnableSNI": true,
    "MeasureLatency": true}``; then ``route53.get_health_check(...)``.

    Expected: ``EnableSNI: true`` and ``MeasureLatency: true`` in ``HealthCheckConfig``.

    Actual: both ``false`` (see ``tests/lab/moto_patches/test_route53_health_check_properties.py``).

    Suggested change (``moto/route53/models.py``, ``HealthCheck.create_from_cloudformation_json``):
    add ``"enable_sni": properties.get("EnableSNI")``, ``"measure_latency"``,
    ``"inverted"``, ``"disabled"`` and ``"health_threshold"`` to ``health_check_args``, as
    ``Route53.create_health_check`` in ``responses.py`` already does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tapstack_lab.moto_patches._hooks import after_cfn_create

NAME = "Route 53 health check flags"

#: HealthCheckConfig key -> the attribute of moto's HealthCheck that GetHealthCheck reports.
FLAGS = {
    "EnableSNI": "enable_sni",
    "MeasureLatency": "measure_latency",
    "Inverted": "inverted",
    "Disabled": "disabled",
    "HealthThreshold": "health_threshold",
}


def apply() -> None:
    from moto.route53.models import HealthCheck

    after_cfn_create(HealthCheck, NAME, _complete)


def _complete(check: Any, properties: Mapping[str, Any], account_id: str, region: str) -> None:
    config = properties.get("HealthCheckConfig") or {}
    for key, attribute in FLAGS.items():
        if key in config:
            setattr(check, attribute, config[key])

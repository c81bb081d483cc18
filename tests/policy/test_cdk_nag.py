"""cdk-nag's AWS Solutions and NIST 800-53 rev5 packs run on every synthesis
and leave no unacknowledged finding; every acknowledgement is narrow, exact,
reasoned and documented in docs/acknowledged-findings.md."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from tapstack.compliance import acknowledge, acknowledgements, register_policy_packs
from tests.support import ROOT, Synthesized

#: The production profile, with the writer in either region, the lean profile, and HTTPS off.
SYNTHESES = ["synth", "synth_writer_secondary", "synth_lean", "synth_http_only"]

#: What cdk-nag finds on a listener that serves plain HTTP.
PLAIN_HTTP_FINDINGS = (
    "NIST.800.53.R5-ALBHttpToHttpsRedirection",
    "NIST.800.53.R5-ELBv2ACMCertificateRequired",
)


@pytest.mark.parametrize("shape", SYNTHESES)
def test_both_packs_ran_and_report_no_unacknowledged_finding(
    request: pytest.FixtureRequest, shape: str
) -> None:
    synth: Synthesized = request.getfixturevalue(shape)
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert set(plugins) >= {"AwsSolutions", "NIST.800.53.R5"}
    for name in ("AwsSolutions", "NIST.800.53.R5"):
        assert plugins[name]["conclusion"] == "success", name
        assert plugins[name]["violations"] == [], name


@pytest.mark.parametrize("shape", SYNTHESES)
def test_every_acknowledgement_is_used_by_a_finding(
    request: pytest.FixtureRequest, shape: str
) -> None:
    """In every shape: the writer moved, the promoted replica carries no replica's
    acknowledgement, and the replica in the primary region carries them all."""
    synth: Synthesized = request.getfixturevalue(shape)
    assert synth.stale_acknowledgements() == []


def test_an_unacknowledged_finding_fails_synthesis(tmp_path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Scratch")
    s3.Bucket(stack, "Plain")  # no SSL enforcement, no logging, no KMS
    register_policy_packs(app)
    with pytest.raises(Exception, match="AwsSolutions-S10|AwsSolutions-S1"):
        app.synth()


def test_every_acknowledgement_is_on_a_resource_construct_not_an_app_or_stack(
    synth: Synthesized,
) -> None:
    found = acknowledgements(synth.built.app)
    assert len(found) >= 30
    stack_paths = {s.node.path for s in synth.built.stacks}
    for ack in found:
        assert ack.path and ack.path not in stack_paths, ack
        assert "/" in ack.path, ack


def test_every_acknowledgement_names_an_exact_finding_with_a_reason(synth: Synthesized) -> None:
    for ack in acknowledgements(synth.built.app):
        assert ack.finding.startswith(("AwsSolutions-", "NIST.800.53.R5-")), ack
        assert len(ack.reason) >= 30 and "TODO" not in ack.reason, ack
        if ack.finding.startswith("AwsSolutions-IAM"):
            assert "[" in ack.finding, f"IAM findings are acknowledged one by one: {ack}"


def test_acknowledging_needs_a_real_reason_and_a_known_pack() -> None:
    stack = cdk.Stack(cdk.App(), "Scratch")
    bucket = s3.Bucket(stack, "B")
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(bucket, "AwsSolutions-S1", "TODO")
    with pytest.raises(ValueError, match="is not a finding of"):
        acknowledge(bucket, "S1", "a long enough reason that still names no pack at all")


def test_every_acknowledged_finding_is_documented(
    synth: Synthesized,
    synth_variant: Synthesized,
    synth_writer_secondary: Synthesized,
    synth_http_only: Synthesized,
) -> None:
    documented = (ROOT / "docs" / "acknowledged-findings.md").read_text()
    findings = {
        a.finding.replace("us-east-1", "REGION").replace("us-west-2", "REGION")
        for s in (synth, synth_variant, synth_writer_secondary, synth_http_only)
        for a in acknowledgements(s.built.app)
    }
    missing = sorted(f for f in findings if f"`{f}`" not in documented)
    assert missing == [], "document these in docs/acknowledged-findings.md"


def _listener_acknowledgements(synth: Synthesized) -> set[tuple[str, str]]:
    return {
        (a.path.split("/", 1)[1], a.finding)
        for a in acknowledgements(synth.built.app)
        if "/Web/LoadBalancer/Http" in a.path
    }


def test_the_default_configuration_acknowledges_no_plain_http_listener(
    synth: Synthesized,
) -> None:
    """HTTPS by default: the only listener finding left is the redirect's missing
    certificate (a redirect serves none), never one for serving plain HTTP."""
    assert _listener_acknowledgements(synth) == {
        ("Web/LoadBalancer/HttpListener", "NIST.800.53.R5-ELBv2ACMCertificateRequired")
    }
    reasons = [
        a.reason for a in acknowledgements(synth.built.app) if "/Web/LoadBalancer/Http" in a.path
    ]
    assert all("only redirects" in reason for reason in reasons), reasons


def test_with_https_off_the_plain_http_findings_are_acknowledged_as_the_opt_out(
    synth_http_only: Synthesized,
) -> None:
    assert _listener_acknowledgements(synth_http_only) == {
        ("Web/LoadBalancer/HttpListener", finding) for finding in PLAIN_HTTP_FINDINGS
    }
    for ack in acknowledgements(synth_http_only.built.app):
        if ack.finding in PLAIN_HTTP_FINDINGS:
            assert ack.reason.startswith("web.https is false"), ack

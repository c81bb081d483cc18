"""The dns stack owns the public hosted zone and exports its ID as an output."""

from __future__ import annotations

from tests.support import Synthesized


def test_dns_stack_owns_the_public_hosted_zone(synth: Synthesized) -> None:
    zone = synth.one("dns", "AWS::Route53::HostedZone")
    assert zone["Properties"]["Name"] == "tapstack.example.com."
    assert zone["DeletionPolicy"] == "RetainExceptOnCreate"
    assert synth.templates["dns"]["Outputs"]["HostedZoneId"]["Value"] == {
        "Ref": next(iter(synth.resources("dns", "AWS::Route53::HostedZone")))
    }

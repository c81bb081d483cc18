"""``python -m tapstack cost``: the estimate of the chosen configuration, as tables per
region with a total or as JSON, from an assembly of that configuration only; and the
price file it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tapstack.assembly import read_cloud_assembly
from tapstack.cli import main
from tapstack.cost.estimate import estimate
from tapstack.cost.prices import PRICES_FILE, PriceBook
from tests.support import DEFAULT_CONFIG, LEAN_CONFIG, Synthesized


def test_json_gives_the_total_per_region_and_every_line_with_its_source(
    synth_lean: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--config", str(LEAN_CONFIG), "cost", "--cdk-out", str(synth_lean.outdir), "--json"]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    expected = estimate(read_cloud_assembly(synth_lean.outdir), PriceBook.load())
    assert document["total_usd"] == round(expected.total_usd, 2)
    assert set(document["regions"]) == {"us-east-1", "us-west-2"}
    assert sum(document["regions"].values()) == pytest.approx(document["total_usd"], abs=0.02)
    assert document["not_priced"] == []
    assert all(item["source"] and item["as_of"] for item in document["items"])
    assert document["usage"]["page_requests_per_second"] == "1.0"


def test_without_an_assembly_the_command_synthesizes_the_chosen_configuration(
    synth_lean: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    """One synthesis in the command's own temporary directory: the same total as the
    session's synthesis of config/lean.yaml."""
    assert main(["cost", "--config", str(LEAN_CONFIG), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    expected = estimate(read_cloud_assembly(synth_lean.outdir), PriceBook.load())
    assert document["prefix"] == "tapstack-dev"
    assert document["total_usd"] == round(expected.total_usd, 2)


def test_the_table_shows_each_region_and_the_total(
    synth: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(DEFAULT_CONFIG), "cost", "--cdk-out", str(synth.outdir)])
    out = capsys.readouterr().out
    assert code == 0
    total = estimate(read_cloud_assembly(synth.outdir), PriceBook.load()).total_usd
    assert "us-east-1, monthly estimate" in out and "us-west-2, monthly estimate" in out
    assert f"${total:,.2f}" in out
    assert "Free tiers are not deducted" in out


def test_an_assembly_of_another_configuration_is_refused(
    synth: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(LEAN_CONFIG), "cost", "--cdk-out", str(synth.outdir)])
    assert code == 1
    assert "was not synthesized from" in capsys.readouterr().out


def test_a_missing_assembly_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cost", "--cdk-out", str(tmp_path / "nowhere")]) == 1
    assert "run `make synth` first" in capsys.readouterr().out


def test_the_price_file_prices_both_regions_alike_with_a_source_and_date_for_each() -> None:
    document = json.loads(PRICES_FILE.read_text())
    regions = document["regions"]
    assert set(regions) == {"us-east-1", "us-west-2"}
    assert set(regions["us-east-1"]) == set(regions["us-west-2"])
    for entries in regions.values():
        for key, entry in entries.items():
            assert entry["source"].startswith("https://"), key
            assert len(entry["as_of"]) == 10 and entry["as_of"][4] == "-", key
            assert entry["usd"] >= 0 and entry["unit"], key


def test_a_price_file_without_a_source_is_refused() -> None:
    entry = {"usd": 1.0, "unit": "hour", "as_of": "2026-12-01"}
    with pytest.raises(ValueError, match="us-east-1 x lacks source"):
        PriceBook.from_document({"currency": "USD", "regions": {"us-east-1": {"x": entry}}})
    with pytest.raises(ValueError, match="must be in USD"):
        PriceBook.from_document({"currency": "EUR", "regions": {}})


def test_the_readme_shows_both_profiles_totals_as_tapstack_cost_computes_them(
    synth: Synthesized, synth_lean: Synthesized
) -> None:
    from tests.support import ROOT

    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- cost totals:", 1)[1].split("\n\n", 1)[0]
    production = estimate(read_cloud_assembly(synth.outdir), PriceBook.load())
    lean = estimate(read_cloud_assembly(synth_lean.outdir), PriceBook.load())
    assert f"| **total** | **${production.total_usd:,.2f}** | **${lean.total_usd:,.2f}** |" in table
    for region in ("us-east-1", "us-west-2"):
        amounts = f"${production.by_region()[region]:,.2f} | ${lean.by_region()[region]:,.2f}"
        assert f"| **{region}** | {amounts} |" in table
    oldest, newest = PriceBook.load().dates()
    assert oldest in readme.split("## Cost", 1)[1].split("\n## ", 1)[0]

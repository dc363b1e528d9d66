"""The campaigns demo step: a real assignment from the At-risk segment, reported on labelled simulated responses."""

from __future__ import annotations

from rich.console import Console

from shoplens.config import Settings
from shoplens.datasets import demo_data_dir
from shoplens.demo import campaigns as demo
from shoplens.demo.context import DemoContext
from shoplens.insights.report import Report


def test_demo_campaign_is_assigned_for_real_and_reported_on_labelled_simulated_responses(demo_wh) -> None:
    console = Console(record=True, width=160)
    report = Report("test")
    ctx = DemoContext(settings=Settings(warehouse=demo_wh.path), warehouse=demo_wh, console=console, report=report,
                      data_dir=demo_data_dir())
    orders_before = demo_wh.row_count("orders")
    demo.run(ctx)
    result = ctx.results["campaigns"]
    counts = result["assignment"]
    assert counts["assigned"] > 100 and counts["excluded_no_consent"] > 0 and set(counts["arms"]) == {
        "control", "discount_10"}
    r = result["report"]
    assert r["simulated"] is True and r["response_model"]["lifts"] == {"discount_10": 0.15}
    conv = next(a for a in r["arms"] if a["arm"] == "discount_10" and a["metric"] == "conversion")
    assert abs(conv["true_effect"] - 0.15) < 1e-12 and conv["covered"] == (conv["ci_low"] <= 0.15 <= conv["ci_high"])
    assert demo_wh.row_count("orders") == orders_before  # simulated responses never reach the orders table
    logged = demo_wh.query("SELECT count(*) AS n FROM decisions WHERE policy = 'campaign:demo-winback'")["n"][0]
    assert logged == counts["newly_assigned"]
    text = console.export_text()
    assert text.count("SIMULATED") >= 3  # the console labels every simulated figure
    section = next(s for s in report.sections if s.key == "campaigns")
    html = section.title + section.text + "".join(section.blocks)
    assert "simulated" in section.title.lower() and html.count("SIMULATED") >= 2
    said = [line for lines in ctx.said.values() for line in lines]  # the short story says it is simulated
    assert len(said) == 2 and "SIMULATED" in said[1] and "the true lift is +15 points" in said[1]
    hill = result["hillstrom"]  # the real past campaign, analysed as `campaign analyze` does
    assert {a["arm"] for a in hill["arms"]} == {"No E-Mail", "Mens E-Mail", "Womens E-Mail"}
    assert {a["metric"] for a in hill["arms"]} == {"visit", "conversion", "spend"} and "Hillstrom" in text

"""`shoplens campaign ...` end to end: the contract's commands, JSON shapes and error paths."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.errors import UserInputError
from shoplens.datasets import demo_data_dir

from .conftest import CONSENTING

runner = CliRunner()
SAMPLE = str(demo_data_dir() / "hillstrom_sample.csv.gz")
KEYS = {"arm", "metric", "n", "mean", "effect", "relative_effect", "ci_low", "ci_high", "p_value", "chance_to_win"}


def _run(*args: str, wh=None):
    base = ["--warehouse", str(wh)] if wh is not None else []
    return runner.invoke(app, [*base, "campaign", *args])


def _fails(res, message: str) -> None:
    """A user mistake: a UserInputError naming the problem (main() turns it into one line and exit 2)."""
    assert isinstance(res.exception, UserInputError) and message in str(res.exception), res.output


def test_analyze_prints_the_contract_json():
    res = _run("analyze", SAMPLE, "--arm-column", "segment", "--control", "No E-Mail",
               "--metrics", "visit,conversion,spend", "--pre-metric", "history", "--uplift", "visit",
               "--covariates", "recency,history,mens,womens,zip_code,newbie,channel", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["arms"]) == 9 and all(KEYS | {"effect_cuped", "ci_low_cuped", "ci_high_cuped"} <= set(a)
                                         for a in out["arms"])
    assert [a["arm"] for a in out["arms"] if a["effect"] is None] == ["No E-Mail"] * 3
    assert set(out["srm"]) >= {"p_value", "alarm"} and not out["srm"]["alarm"]
    assert {u["arm"] for u in out["uplift"]} == {"Mens E-Mail", "Womens E-Mail"}
    assert all({"arm", "metric", "qini", "auuc", "auuc_random", "test_fraction"} <= set(u) for u in out["uplift"])
    frame = pd.read_csv(SAMPLE)
    mens = next(a for a in out["arms"] if a["arm"] == "Mens E-Mail" and a["metric"] == "visit")
    means = frame.groupby("segment")["visit"].mean()
    assert abs(mens["effect"] - (means["Mens E-Mail"] - means["No E-Mail"])) < 1e-9


def test_analyze_table_output_and_weights():
    res = _run("analyze", SAMPLE, "--arm-column", "segment", "--control", "No E-Mail", "--metrics", "visit",
               "--weights", "No E-Mail=0.8,Mens E-Mail=0.1,Womens E-Mail=0.1")
    assert res.exit_code == 0, res.output
    assert "Sample-ratio mismatch" in res.output  # a third each is far from the 80/10/10 stated


def test_analyze_user_mistakes_exit_2_with_one_line():
    for args, message in [
        ((SAMPLE, "--arm-column", "segment", "--control", "Nobody", "--metrics", "visit"), "control arm 'Nobody'"),
        ((SAMPLE, "--arm-column", "segment", "--control", "No E-Mail", "--metrics", "zip_code"), "must be numeric"),
        (("/nonexistent.csv", "--arm-column", "a", "--control", "b", "--metrics", "c"), "file not found"),
        ((SAMPLE, "--arm-column", "segment", "--control", "No E-Mail", "--metrics", "visit", "--weights", "x"),
         "ARM=SHARE"),
    ]:
        _fails(_run("analyze", *args), message)


def test_create_assign_report_list_show_stop(shop, tmp_path):
    shop.close()  # the CLI opens the warehouse itself
    wh = shop.path
    res = _run("create", "spring", "--audience", "all", "--arms", "free_shipping,discount_10", "--control", "0.2",
               "--goal", "margin", "--window", "14", "--cost", "discount_10=2.5", "--json", wh=wh)
    assert res.exit_code == 0, res.output
    created = json.loads(res.output)
    assert created["version"] == 1 and created["arms"][1] == {"name": "discount_10", "kind": "discount",
                                                              "value": 10.0, "cost": 2.5}
    out1, out2 = tmp_path / "a1.csv", tmp_path / "a2.csv"
    res = _run("assign", "spring", "--as-of", "2024-06-01", "--output", str(out1), "--json", wh=wh)
    assert res.exit_code == 0, res.output
    counts = json.loads(res.output)
    assert counts["assigned"] == CONSENTING and counts["excluded_no_consent"] == 40
    assert _run("assign", "spring", "--as-of", "2024-06-09", "--output", str(out2), wh=wh).exit_code == 0
    first, second = pd.read_csv(out1, dtype=str), pd.read_csv(out2, dtype=str)
    assert list(first.columns) == ["customer_id", "arm", "propensity", "assigned_at"]
    assert "control" in set(first["arm"])
    pd.testing.assert_frame_equal(first, second)  # assigning again returns the same arms
    res = _run("report", "spring", "--json", wh=wh)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert all(KEYS <= set(a) for a in report["arms"]) and set(report["srm"]) >= {"p_value", "alarm"}
    assert {a["metric"] for a in report["arms"]} == {"conversion", "revenue", "margin"}
    assert report["conclusion"]["en"] and report["conclusion"]["zh"]
    assert _run("report", "spring", wh=wh).exit_code == 0
    # the report only reads (it opens the warehouse read-only); rewards are an explicit, idempotent step
    from shoplens.store.warehouse import Warehouse

    from .snapshot import warehouse_snapshot

    def snap():
        with Warehouse(wh, read_only=True) as w:
            return warehouse_snapshot(w)

    before = snap()
    assert _run("report", "spring", "--as-of", "2024-07-01", "--json", wh=wh).exit_code == 0
    assert snap() == before
    posted = json.loads(_run("rewards", "spring", "--as-of", "2024-07-01", "--json", wh=wh).output)
    assert posted == {"campaign": "spring", "closed": CONSENTING, "posted": CONSENTING}
    assert json.loads(_run("rewards", "spring", "--as-of", "2024-07-01", "--json", wh=wh).output)["posted"] == 0
    assert "0 reward(s) written" in _run("rewards", "spring", "--as-of", "2024-07-01", wh=wh).output
    listed = json.loads(_run("list", "--json", wh=wh).output)
    assert listed["count"] == 1 and listed["data"][0]["assigned"] == CONSENTING
    shown = json.loads(_run("show", "spring", "--json", wh=wh).output)
    assert [r["newly_assigned"] for r in shown["runs"]] == [CONSENTING, 0]
    assert json.loads(_run("stop", "spring", "--json", wh=wh).output)["status"] == "stopped"
    _fails(_run("assign", "spring", wh=wh), "stopped")


def test_campaign_user_mistakes_exit_2(shop):
    shop.close()
    wh = shop.path
    for args, message in [
        (("create", "x", "--audience", "all", "--arms", "a", "--control", "1.5"), "--control"),
        (("create", "x", "--audience", "all", "--arms", "a", "--policy", "greedy"), "--policy must be one of"),
        (("create", "x", "--audience", "all", "--arms", "a", "--cost", "b=1"), "not in --arms"),
        (("create", "x", "--audience", "all", "--arms", "a", "--cost", "a"), "ARM=AMOUNT"),
        (("report", "nothing"), "no campaign 'nothing'"),
        (("show", "nothing"), "no campaign 'nothing'"),
    ]:
        _fails(_run(*args, wh=wh), message)


def test_the_console_command_turns_mistakes_into_one_line_and_exit_2(tmp_path):
    for args in (["campaign", "analyze", SAMPLE, "--arm-column", "segment", "--control", "Nobody", "--metrics", "visit"],
                 ["--warehouse", str(tmp_path / "w.duckdb"), "campaign", "report", "nothing"]):
        proc = subprocess.run([sys.executable, "-m", "shoplens.cli", *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:")


def test_create_with_a_bandit_and_a_budget_from_the_cli(shop):
    shop.close()
    wh = shop.path
    res = _run("create", "learn", "--audience", "all", "--arms", "a,discount_10", "--cost", "discount_10=2",
               "--policy", "bandit", "--budget", "60", "--json", wh=wh)
    assert res.exit_code == 0, res.output
    created = json.loads(res.output)
    assert created["policy"] == "bandit" and created["budget"] == 60.0
    counts = json.loads(_run("assign", "learn", "--as-of", "2024-06-01", "--json", wh=wh).output)
    assert counts["excluded_budget"] > 0 and counts["arms"].get("discount_10", 0) <= 30
    _fails(_run("create", "x", "--audience", "all", "--arms", "a", "--budget", "-5", wh=wh), "--budget")


def test_report_says_which_attribution_it_used(shop):
    shop.close()
    wh = shop.path
    _run("create", "spring", "--audience", "all", "--arms", "a", "--control", "0.5", wh=wh)
    _run("assign", "spring", "--as-of", "2024-06-01", wh=wh)
    report = json.loads(_run("report", "spring", "--json", wh=wh).output)
    assert report["attribution"]["method"] == "intention_to_treat"
    _fails(_run("report", "spring", "--attribution", "last-click", wh=wh), "--attribution")
    res = _run("report", "spring", "--attribution", "exposure", wh=wh)
    assert "no exposure events" in str(res.exception)

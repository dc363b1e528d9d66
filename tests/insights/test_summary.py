"""The shop summary: what changed (by shoplens.metrics), why, what to do; in English and Chinese."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from shoplens.errors import UserInputError
from shoplens.insights.summary import shop_summary
from shoplens.metrics import SHOP_KPIS
from shoplens.store.transform import first_row
from tests.ingest.helpers import run_cli


def test_changes_use_the_metric_definitions(demo_wh):
    s = shop_summary(demo_wh, days=30)
    by = {c["metric"]: c for c in s.changes}
    # a period as long as the whole history holds every order: the same figures as the shop's KPIs
    whole = shop_summary(demo_wh, days=400)
    kpis = first_row(SHOP_KPIS.run(demo_wh))
    totals = {c["metric"]: c["current"] for c in whole.changes}
    assert totals["revenue"] == pytest.approx(kpis["revenue"]) and totals["orders"] == kpis["orders"]
    assert totals["customers"] == kpis["customers"]
    # the last 30 days, counted independently
    n = demo_wh.con.execute("SELECT count(*) FROM orders WHERE ordered_at >= DATE '2011-11-10' "
                            "AND coalesce(status, 'completed') NOT IN ('cancelled')").fetchone()[0]
    assert 0 < by["orders"]["current"] <= n
    assert s.period == {"days": 30, "start": "2011-11-10", "end": "2011-12-10", "last": "2011-12-09",
                        "previous_start": "2011-10-11"}
    assert by["revenue"]["change"] == pytest.approx(by["revenue"]["current"] / by["revenue"]["previous"] - 1)


def test_why_is_ranked_and_names_products(demo_wh):
    s = shop_summary(demo_wh)
    assert s.why, "the demo shop's revenue moved: something explains it"
    moves = [abs(x["change"]) for x in s.why if x["kind"] != "aspect"]
    assert moves == sorted(moves, reverse=True)
    products = [x for x in s.why if x["kind"] == "product"]
    assert all(p["name"] != p["key"] for p in products)  # names, ids kept in `key`


def test_lines_fit_and_actions_appear_once_computed(demo_wh):
    before = shop_summary(demo_wh)
    assert 5 <= len(before.lines()) <= 40 and before.actions == []
    assert "shoplens customers rules" in "\n".join(before.lines())  # says how to get actions
    from shoplens.customers.rules import generate_rules

    generate_rules(demo_wh)
    after = shop_summary(demo_wh)
    assert [a["kind"] for a in after.actions][:1] == ["rule"] and 5 <= len(after.lines()) <= 40


def test_chinese_sentences(demo_wh):
    lines = shop_summary(demo_wh, lang="zh").lines()
    text = "\n".join(lines)
    assert "最近 30 天" in text and "净收入" in text and "此前" in text
    assert not re.search(r"\b(was|Last|Why|Net revenue)\b", text)


def test_empty_warehouse_and_bad_input(tmp_wh):
    s = shop_summary(tmp_wh)
    assert s.changes == [] and "shoplens ingest" in s.lines()[0]
    with pytest.raises(UserInputError, match="lang"):
        shop_summary(tmp_wh, lang="fr")
    with pytest.raises(UserInputError, match="days"):
        shop_summary(tmp_wh, days=0)


def test_cli_summary(demo_warehouse_path, tmp_path):
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, path)
    out = run_cli("--warehouse", str(path), "summary")
    assert out.returncode == 0, out.stderr
    assert 5 <= len(out.stdout.strip().splitlines()) <= 40 and "Net revenue" in out.stdout
    data = json.loads(run_cli("--warehouse", str(path), "summary", "--json", "--lang", "zh").stdout)
    assert data["lang"] == "zh" and [c["metric"] for c in data["changes"]][:3] == ["revenue", "customers", "orders"]
    bad = run_cli("--warehouse", str(path), "summary", "--lang", "fr")
    assert bad.returncode == 2 and "--lang must be en or zh" in bad.stderr and "Traceback" not in bad.stderr


def test_the_churn_action_names_its_reason_in_words_in_both_languages(demo_wh):
    """The most common reason of high churn risk reads as words (the rules' words), in Chinese too."""
    demo_wh.write_table("customer_churn", pd.DataFrame({
        "customer_id": ["a", "b", "c"], "churn_risk": [0.9, 0.8, 0.1], "risk_band": ["high", "high", "low"],
        "reasons": ["", "", ""], "top_reason_feature": ["items_per_order", "items_per_order", "orders"]}), kind="insight")
    en = [a["text"] for a in shop_summary(demo_wh).actions if a["kind"] == "churn"]
    zh = [a["text"] for a in shop_summary(demo_wh, lang="zh").actions if a["kind"] == "churn"]
    assert en == ["2 customers at high churn risk; most often because of different products per order"]
    assert zh == ["2 位客户流失风险高；最常见原因：每单商品种数"]


def test_a_segment_that_explains_the_change_is_named_in_chinese(demo_wh):
    demo_wh.write_table("customer_segments", demo_wh.query(
        "SELECT DISTINCT customer_id, 0 AS segment_id, 'Lapsed customers' AS segment_name FROM orders "
        "WHERE customer_id IS NOT NULL"), kind="customer")
    en = [x for x in shop_summary(demo_wh).why if x["kind"] == "segment"]
    zh = [x for x in shop_summary(demo_wh, lang="zh").why if x["kind"] == "segment"]
    assert [x["name"] for x in en] == ["Lapsed customers"] and [x["name"] for x in zh] == ["久未购买的客户"]
    assert "久未购买的客户" in zh[0]["text"] and zh[0]["key"] == "Lapsed customers"  # the key stays the stored name

"""The alert rules: each fires on a case built for it, with its evidence, and stays quiet otherwise;
alerts are stored once per key; the alerts CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.config import AlertSettings
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.monitor import alerts as rules
from shoplens.metrics import revenue_orders_sql
from shoplens.monitor.drift import check_drift
from shoplens.store.warehouse import utcnow

# the campaign tests' small shop, and their way to assign and simulate known responses
from shoplens.campaigns.report import campaign_report
from tests.campaigns.conftest import load_orders, shop  # noqa: F401  (a fixture)
from tests.campaigns.test_report import _campaign, _simulate

SETTINGS = AlertSettings()


# -- emerging complaint ------------------------------------------------------------------------------

def _aspects(wh, months: dict[str, dict[str, tuple[int, int]]]) -> None:
    """text_review_aspects rows: month -> aspect -> (mentions, negative). Synthetic: exact shares."""
    rows = []
    for month, counts in months.items():
        for aspect, (mentions, negative) in counts.items():
            rows += [{"created_at": pd.Timestamp(f"{month}-15"), "aspect": aspect,
                      "polarity": "negative" if i < negative else "positive"} for i in range(mentions)]
    wh.con.register("_rows", pd.DataFrame(rows))
    wh.con.execute("CREATE OR REPLACE TABLE text_review_aspects AS SELECT * FROM _rows")
    wh.con.unregister("_rows")


def test_a_rising_complaint_fires_with_its_evidence(tmp_wh):
    _aspects(tmp_wh, {"2024-01": {"fit": (40, 4), "price": (40, 10)},
                      "2024-02": {"fit": (40, 24), "price": (40, 11)}})
    found = rules.emerging_complaint_alerts(tmp_wh, SETTINGS)
    assert [a.key for a in found] == ["emerging_complaint:fit:2024-02-01"]
    alert = found[0]
    assert alert.evidence["negative_share"] == pytest.approx(0.6)
    assert alert.evidence["negative_share_previous"] == pytest.approx(0.1)
    assert alert.evidence["p_value"] < 0.001
    assert "60% of 40 mentions of fit" in alert.message


def test_steady_complaints_raise_nothing(tmp_wh):
    _aspects(tmp_wh, {"2024-01": {"fit": (40, 10)}, "2024-02": {"fit": (40, 11)}})
    assert rules.emerging_complaint_alerts(tmp_wh, SETTINGS) == []


def test_without_analysed_texts_the_rule_says_why(tmp_wh):
    found, quiet = rules.evaluate(tmp_wh, SETTINGS, {"emerging_complaint": rules.emerging_complaint_alerts})
    assert found == [] and "text analyze" in quiet["emerging_complaint"]


# -- drift -------------------------------------------------------------------------------------------

def test_a_significant_drift_fires_and_a_stable_one_does_not(demo_wh):
    check_drift(demo_wh)
    assert rules.drift_alerts(demo_wh, SETTINGS) == []  # the demo shop is stable
    # the last 30 days: prices five times as high (a currency switch, a data error)
    demo_wh.con.execute("""UPDATE order_items SET unit_price = unit_price * 5 WHERE order_id IN
                           (SELECT order_id FROM orders WHERE ordered_at > (SELECT max(ordered_at) - INTERVAL 30 DAY
                                                                            FROM orders))""")
    check_drift(demo_wh)
    (alert,) = rules.drift_alerts(demo_wh, SETTINGS)
    features = {c["feature"] for c in alert.evidence["checks"]}
    assert {"median_unit_price", "order_value"} <= features
    assert all(c["psi"] > 0.25 for c in alert.evidence["checks"])
    assert alert.severity == "critical" and "median_unit_price (PSI" in alert.message


def test_no_drift_check_means_no_drift_alert(demo_wh):
    with pytest.raises(InsufficientDataError, match="no drift check"):
        rules.drift_alerts(demo_wh, SETTINGS)


# -- KPI drop ----------------------------------------------------------------------------------------

def test_kpis_follow_the_shop_metrics(demo_wh):
    from shoplens.metrics import NET_REVENUE_BY_MONTH

    series = rules.kpi_series(demo_wh).set_index(rules.kpi_series(demo_wh)["period"].dt.strftime("%Y-%m"))
    monthly = demo_wh.query(NET_REVENUE_BY_MONTH.sql).set_index("month")
    for month in series.index:
        assert series.loc[month, "orders"] == monthly.loc[month, "orders"]
        assert series.loc[month, "revenue"] == pytest.approx(monthly.loc[month, "revenue"], abs=0.01)
    # the month of the newest order is still open: never judged
    assert monthly.index[-1] not in series.index


def test_a_kpi_drop_beyond_its_usual_range_fires(demo_wh):
    assert rules.kpi_drop_alerts(demo_wh, SETTINGS) == []  # the demo's last complete month is usual
    # four in five of November's orders gone
    demo_wh.con.execute("""DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01'
                           AND hash(order_id) % 5 <> 0""")
    found = {a.evidence["kpi"]: a for a in rules.kpi_drop_alerts(demo_wh, SETTINGS)}
    assert {"revenue", "orders", "customers"} <= set(found)
    revenue = found["revenue"].evidence
    low, high = revenue["usual_range"]
    assert revenue["change"] < low < high and revenue["change"] < -0.5
    assert str(revenue["period"])[:7] == "2011-11" and len(revenue["history"]) >= SETTINGS.min_history
    assert found["revenue"].key == "kpi_drop:revenue:month:2011-11-01"
    assert "usual month-on-month change" in found["revenue"].message


def test_too_short_a_history_has_no_usual_range(demo_wh):
    demo_wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                        "AND hash(order_id) % 5 <> 0")
    assert rules.kpi_drop_alerts(demo_wh, AlertSettings(min_history=20, history_periods=24)) == []


# -- campaign verdict --------------------------------------------------------------------------------

@pytest.fixture()
def fixed_key(monkeypatch):
    """A fixed shop secret before the shop is loaded: the pseudonyms, and so the campaign's arms (hashed
    from them), are the same on every run; with a fresh random key a 50/50 split fails the sample-ratio
    check now and then, and a report with that warning rightly concludes nothing."""
    monkeypatch.setenv("SHOPLENS_SECRET", "alerts-test-secret-0123456789abcdefghijkl")


def test_a_campaign_that_concludes_raises_its_verdict(fixed_key, shop, tmp_path):  # noqa: F811
    rows = _campaign(shop, cost=3.0)
    _simulate(shop, tmp_path, rows, 0.1, 0.6, seed=0)
    (alert,) = rules.campaign_verdict_alerts(shop, SETTINGS)
    assert alert.key == "campaign_verdict:spring:v1:roll out"
    assert alert.message.startswith("Roll out discount_10 to all")
    assert {a["arm"] for a in alert.evidence["arms"]} == {"control", "discount_10"}
    assert alert.evidence["window"]["share_closed"] == 0.0 and not alert.evidence["srm"]["alarm"]


def test_a_campaign_without_a_clear_winner_stays_quiet(fixed_key, shop, tmp_path):  # noqa: F811
    """Exactly half of each arm buys (no chance involved): no difference, so no verdict yet."""
    rows = _campaign(shop, cost=0.0)
    orders = []
    for _, group in rows.groupby("arm"):
        for cid in sorted(group.index)[: len(group) // 2]:
            orders.append((f"R{cid}", cid, "2024-06-05 12:00:00", "completed", 30.0))
    load_orders(shop, tmp_path, orders, name="responses")
    report = campaign_report(shop, "spring")
    assert report["conclusion"]["en"].startswith("No clear winner")
    assert rules.campaign_verdict_alerts(shop, SETTINGS) == []


def test_the_verdict_is_the_reports_own():
    assert rules.campaign_verdict({"conclusion": {"en": "Do not roll out: even the best arm..."}}) == "do not roll out"
    assert rules.campaign_verdict({"conclusion": {"en": "Warning: sample-ratio mismatch ... Roll out"}}) is None
    assert rules.campaign_verdict({}) is None


# -- storage -----------------------------------------------------------------------------------------

def test_an_alert_is_stored_once_per_key(tmp_wh):
    first = rules.Alert("drift", "drift:x:2024-01-01", "t", "m", {"psi": 0.4}, computed_at=utcnow())
    assert rules.record(tmp_wh, [first]) == [first]
    assert rules.record(tmp_wh, [rules.Alert("drift", "drift:x:2024-01-01", "t", "again")]) == []
    stored = rules.list_alerts(tmp_wh)
    assert stored["message"].tolist() == ["m"] and stored["evidence"][0] == {"psi": 0.4}
    assert stored["delivery"].tolist() == ["pending"]
    rules.mark_delivery(tmp_wh, first.alert_id, "failed", attempts=4, error="HTTP 503")
    assert rules.undelivered(tmp_wh)[0]["evidence"] == {"psi": 0.4}  # failed ones are tried again
    rules.mark_delivery(tmp_wh, first.alert_id, "delivered", attempts=1)
    row = rules.list_alerts(tmp_wh).iloc[0]
    assert rules.undelivered(tmp_wh) == [] and row["attempts"] == 5 and row["delivered_at"] is not pd.NaT


def test_an_unknown_kind_is_a_clear_error(tmp_wh):
    with pytest.raises(UserInputError, match="choose one of: emerging_complaint"):
        rules.list_alerts(tmp_wh, kind="drfit")


# -- CLI ---------------------------------------------------------------------------------------------

def test_alerts_check_and_list_from_the_cli(demo_wh, monkeypatch):
    path = demo_wh.path
    demo_wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                        "AND hash(order_id) % 5 <> 0")
    demo_wh.close()
    runner = CliRunner()
    checked = runner.invoke(app, ["-w", str(path), "alerts", "check", "--json"])
    assert checked.exit_code == 0, checked.output
    result = json.loads(checked.output)
    kinds = {a["kind"] for a in result["new"]}
    assert kinds == {"kpi_drop"} and result["webhook"] is False and result["delivered"] == 0
    assert set(result["quiet"]) == {"emerging_complaint", "drift", "campaign_verdict"}
    again = json.loads(runner.invoke(app, ["-w", str(path), "alerts", "check", "--json"]).output)
    assert again["new"] == []  # raised once
    listed = json.loads(runner.invoke(app, ["-w", str(path), "alerts", "list", "--json"]).output)
    assert {a["delivery"] for a in listed} == {"no webhook"} and all(a["computed_at"] for a in listed)
    text = runner.invoke(app, ["-w", str(path), "alerts", "list"])
    assert text.exit_code == 0 and "kpi_drop" in text.output
    wrong = runner.invoke(app, ["-w", str(path), "alerts", "list", "--kind", "nope"])
    assert wrong.exit_code != 0
    zh = runner.invoke(app, ["-w", str(path), "alerts", "list", "--lang", "zh"])
    assert zh.exit_code == 0 and "指标下降" in zh.output and "kpi_drop" not in zh.output and "fell" not in zh.output
    zh_json = json.loads(runner.invoke(app, ["-w", str(path), "alerts", "list", "--lang", "zh", "--json"]).output)
    assert [a["key"] for a in zh_json] == [a["key"] for a in listed]  # the same alerts, in other words
    assert all(a["kind_zh"] == "指标下降" and "下降" in a["title"] and "（" in a["message"] for a in zh_json)
    bad = runner.invoke(app, ["-w", str(path), "alerts", "list", "--lang", "fr"])
    assert bad.exit_code != 0 and "--lang must be en or zh" in f"{bad.output}{bad.exception}"


def test_every_rule_has_its_chinese_words():
    """Each rule's alert reads in Chinese from its evidence, with the figures of the English one."""
    kpi = rules.text_zh("kpi_drop", "kpi_drop:revenue:month:2011-11-01", {
        "kpi": "revenue", "period": "2011-11-01T00:00:00", "value": 1000.0, "previous_value": 1500.0, "change": -1 / 3,
        "usual_range": [-0.12, 0.25], "percentiles": [5, 95], "history": {"a": 0.1, "b": -0.05, "c": 0.2}})
    assert kpi == ("净收入下降超出正常范围", "净收入在 2011-11 下降 33.3%（1,500.00 → 1,000.00）；其通常的环比变化为 -12.0% 至 "
                   "+25.0%（最近 3 个月的第 5 至第 95 百分位）。")
    complaint = rules.text_zh("emerging_complaint", "emerging_complaint:price:2011-11-01", {
        "aspect": "price", "period": "2011-11-01", "mentions": 40, "negative_share": 0.5, "mentions_previous": 30,
        "negative_share_previous": 0.2, "p_value": 0.004})
    assert complaint[0] == "关于价格的投诉正在增加" and "40 次提及价格中有 50%" in complaint[1] and "p = 0.004" in complaint[1]
    drift = rules.text_zh("drift", "drift:order_value:2011-12-09", {"thresholds": {"significant": 0.25}, "checks": [
        {"feature": "order_value", "psi": 0.31, "current_start": "2011-11-09", "current_end": "2011-12-09"}]})
    assert "order_value（PSI 0.31）" in drift[1] and "0.25" in drift[1]
    verdict = rules.text_zh("campaign_verdict", "campaign_verdict:x:v1:roll out",
                            {"campaign": "x", "verdict": "roll out", "conclusion_zh": "推广 10off。"})
    assert verdict == ("营销活动 x：全面推广", "推广 10off。")
    assert rules.text_zh("kpi_drop", "kpi_drop:revenue:month:x", {"kpi": "revenue"}) is None  # old evidence: English stays


def test_a_broken_rule_is_named_and_the_others_still_run(demo_wh):
    def broken(wh, settings):
        raise RuntimeError("bug")

    demo_wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                        "AND hash(order_id) % 5 <> 0")
    found, quiet = rules.evaluate(demo_wh, SETTINGS, {"broken": broken, "kpi_drop": rules.kpi_drop_alerts})
    assert quiet == {"broken": "failed: RuntimeError: bug"} and {a.kind for a in found} == {"kpi_drop"}


def test_weekly_kpis_cover_every_week_but_the_open_one(demo_wh):
    weeks = rules.kpi_series(demo_wh, "week")
    assert (weeks["period"].dt.dayofweek == 0).all() and (weeks["period"].diff().dropna() == pd.Timedelta(days=7)).all()
    last_order = demo_wh.con.execute("SELECT max(ordered_at) FROM orders").fetchone()[0]
    assert weeks["period"].iloc[-1] + pd.Timedelta(days=7) <= pd.Timestamp(last_order)  # the open week left out
    purchases = demo_wh.con.execute(
        "SELECT count(*) FROM (" + revenue_orders_sql() + ") m "
        "WHERE kind = 'purchase' AND ordered_at < ?", [weeks["period"].iloc[-1] + pd.Timedelta(days=7)]).fetchone()[0]
    assert weeks["orders"].sum() == purchases

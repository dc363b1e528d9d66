"""Attribution of orders to assignments and the campaign report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplens.campaigns.assign import assign_campaign
from shoplens.campaigns.campaign import (
    Campaign,
    create_campaign,
    get_campaign,
    parse_arm,
)
from shoplens.campaigns.report import attribute, campaign_report, post_rewards
from shoplens.errors import InsufficientDataError
from shoplens.privacy.ids import to_external

from .conftest import load_orders, shop_id

KEYS = {"arm", "metric", "n", "mean", "effect", "relative_effect", "ci_low", "ci_high", "p_value", "chance_to_win"}


def _campaign(wh, name="spring", window=14, cost=3.0, control=0.5):
    create_campaign(wh, Campaign(name, "all", (parse_arm("discount_10", cost),), control=control, goal="margin",
                                 window_days=window))
    return assign_campaign(wh, name, as_of="2024-06-01").rows.set_index("customer_id")


def test_only_orders_in_the_window_after_assignment_count_net_of_returns(shop, tmp_path):
    arms = _campaign(shop)
    treated = [c for c in arms.index if arms.loc[c, "arm"] == "discount_10"][:5]
    before, inside, after, returned, reversed_ = treated
    load_orders(shop, tmp_path, [
        ("A1", before, "2024-05-31 23:00:00", "completed", 80.0),    # the day before: pre-period only
        ("A2", inside, "2024-06-01 00:00:00", "completed", 120.0),   # at assignment: counts
        ("A3", after, "2024-06-15 00:00:00", "completed", 70.0),     # window end (exclusive): no
        ("A4", returned, "2024-06-03 10:00:00", "completed", 60.0),  # bought...
        ("A5", returned, "2024-06-05 10:00:00", "completed", -60.0),  # ...and returned in the window
        ("A6", reversed_, "2024-06-04 10:00:00", "returned", 90.0),  # taken back in full: nets to zero
    ], name="window")
    frame = attribute(shop, get_campaign(shop, "spring")).assign(
        customer_id=lambda d: to_external(shop, d["customer_id"].tolist())).set_index("customer_id")
    got = frame.loc[treated, ["orders", "conversion", "revenue", "margin", "pre_revenue"]]
    assert got.loc[before].tolist() == [0, 0.0, 0.0, 0.0, 130.0]
    assert got.loc[inside].tolist() == [1, 1.0, 120.0, 117.0, 50.0]  # margin: less the 3.0 cost per use
    assert got.loc[after].tolist() == [0, 0.0, 0.0, 0.0, 50.0]
    assert got.loc[returned].tolist() == [1, 1.0, 0.0, -3.0, 50.0]
    assert got.loc[reversed_].tolist() == [0, 0.0, 0.0, 0.0, 50.0]
    untouched = frame.drop(index=treated)
    assert (untouched["orders"] == 0).all() and (untouched["pre_revenue"] == 50.0).all()


def test_an_order_counts_for_each_campaign_running_at_once(shop, tmp_path):
    _campaign(shop, "one")
    _campaign(shop, "two", window=30)
    load_orders(shop, tmp_path, [("B1", shop_id(1), "2024-06-10 09:00:00", "completed", 40.0)], name="both")
    for name in ("one", "two"):
        frame = attribute(shop, get_campaign(shop, name))
        row = frame[to_external(shop, frame["customer_id"].tolist()) == np.array(shop_id(1))].iloc[0]
        assert row["conversion"] == 1.0 and row["revenue"] == 40.0


def _simulate(wh, tmp_path, rows, p_control, p_offer, seed):
    """Simulated responses (known true effect): one order of 30 within the window with the arm's probability."""
    rng = np.random.default_rng(seed)
    orders = []
    for cid, row in rows.iterrows():
        p = p_control if row["arm"] == "control" else p_offer
        if rng.random() < p:
            orders.append((f"R{cid}", cid, "2024-06-05 12:00:00", "completed", 30.0))
    load_orders(wh, tmp_path, orders, name="responses")


def test_the_report_recovers_a_known_lift_and_says_so(shop, tmp_path):
    rows = _campaign(shop, cost=3.0)
    _simulate(shop, tmp_path, rows, 0.1, 0.6, seed=0)
    r = campaign_report(shop, "spring")
    assert {(a["arm"], a["metric"]) for a in r["arms"]} == {
        (arm, m) for arm in ("control", "discount_10") for m in ("conversion", "revenue", "margin")}
    assert all(KEYS | {"effect_cuped", "ci_low_cuped", "ci_high_cuped"} <= set(a) for a in r["arms"])
    conv = next(a for a in r["arms"] if a["arm"] == "discount_10" and a["metric"] == "conversion")
    # recovered: the truth within two half-widths of the estimate (about 4 standard errors; a 95 % interval
    # alone misses 1 run in 20), and the interval excludes zero
    assert abs(conv["effect"] - 0.5) < conv["ci_high"] - conv["ci_low"] and conv["ci_low"] > 0
    margin = next(a for a in r["arms"] if a["arm"] == "discount_10" and a["metric"] == "margin")
    # margin per customer: 30 x lift in conversion - 3 x the offer arm's conversion rate
    assert abs(margin["effect"] - (30 * 0.5 - 3 * 0.6)) < margin["ci_high"] - margin["ci_low"]
    assert r["arms"][0]["metric"] == "margin"  # the goal first
    assert not r["srm"]["alarm"] and r["currency"] == "GBP"
    assert r["conclusion"]["en"].startswith("Roll out discount_10 to all")
    assert "推广 discount_10" in r["conclusion"]["zh"]
    assert r["window"]["share_closed"] == 0.0 and r["rewards_logged"] == 0
    policies = {p["policy"]: p for p in r["policies"]}
    assert policies["all-discount_10"]["value"] > policies["all-control"]["value"]


def test_no_effect_reads_as_no_clear_winner(shop, tmp_path):
    rows = _campaign(shop)
    _simulate(shop, tmp_path, rows, 0.3, 0.3, seed=1)
    r = campaign_report(shop, "spring")
    margin = next(a for a in r["arms"] if a["arm"] == "discount_10" and a["metric"] == "conversion")
    assert margin["ci_low"] < 0 < margin["ci_high"]
    assert r["conclusion"]["en"].startswith("No clear winner") and "暂无明确结论" in r["conclusion"]["zh"]


def test_rewards_reach_the_decision_log_once_the_window_closes(shop, tmp_path):
    from .snapshot import warehouse_snapshot

    rows = _campaign(shop)
    _simulate(shop, tmp_path, rows, 0.2, 0.4, seed=2)
    load_orders(shop, tmp_path, [("LATE", shop_id(1), "2024-07-01 00:00:00", "completed", 5.0)], name="late")
    before = warehouse_snapshot(shop)
    r = campaign_report(shop, "spring")
    again = campaign_report(shop, "spring")
    # a report only reads: every window has closed, yet nothing is written, however often it is read
    assert r["window"]["share_closed"] == 1.0 and r["rewards_logged"] == again["rewards_logged"] == 0
    assert warehouse_snapshot(shop) == before
    posted = post_rewards(shop, "spring")
    assert posted == {"campaign": "spring", "closed": len(rows), "posted": len(rows)}
    log = shop.query("SELECT a.customer_id, d.reward FROM decisions d JOIN campaign_assignments a USING (decision_id)")
    margins = attribute(shop, get_campaign(shop, "spring")).set_index("customer_id")["margin"]
    assert np.allclose(log.set_index("customer_id")["reward"].sort_index(), margins.sort_index())
    assert campaign_report(shop, "spring")["rewards_logged"] == len(rows)
    written = warehouse_snapshot(shop)
    assert post_rewards(shop, "spring")["posted"] == 0 and warehouse_snapshot(shop) == written  # idempotent
    # a return of an attributed order arrives late: only that reward is written again
    converted = shop.query("SELECT a.customer_id FROM campaign_assignments a JOIN decisions d USING (decision_id) "
                           "WHERE d.reward > 0 ORDER BY a.customer_id LIMIT 1")["customer_id"].tolist()
    shop_customer = to_external(shop, converted)[0]
    load_orders(shop, tmp_path, [("RET", shop_customer, "2024-06-06 12:00:00", "completed", -30.0)], name="ret")
    assert post_rewards(shop, "spring")["posted"] == 1


def test_assignment_runs_and_the_refresh_job_post_the_rewards_of_closed_windows(shop, tmp_path):
    from shoplens.services import refresh_results

    rows = _campaign(shop)
    _simulate(shop, tmp_path, rows, 0.2, 0.4, seed=3)
    # assigning again before the 14-day window closes posts nothing; after, every reward
    assert assign_campaign(shop, "spring", as_of="2024-06-10").to_dict()["rewards_posted"] == 0
    assert assign_campaign(shop, "spring", as_of="2024-06-20").to_dict()["rewards_posted"] == len(rows)
    shop.con.execute("UPDATE decisions SET reward = NULL, rewarded_at = NULL")
    _campaign(shop, "later")  # a second campaign: the refresh job posts for every campaign
    # the refresh reads the windows closed by the last order in the warehouse
    assert {r["result"] for r in refresh_results(shop)} >= {"campaign_rewards"}
    assert shop.query("SELECT count(reward) AS n FROM decisions")["n"][0] == 0
    load_orders(shop, tmp_path, [("LATE", shop_id(1), "2024-07-01 00:00:00", "completed", 5.0)], name="late")
    done = {r["result"] for r in refresh_results(shop)}
    assert "campaign_rewards" in done
    rewarded = shop.query("SELECT policy, count(reward) AS n FROM decisions GROUP BY policy ORDER BY policy")
    assert rewarded.set_index("policy")["n"].to_dict() == {"campaign:later": len(rows), "campaign:spring": len(rows)}


def test_an_unplanned_split_raises_the_alarm_in_the_report(shop, tmp_path):
    _campaign(shop, control=0.5)
    # lose most of the control group (e.g. a broken export): the split no longer matches the plan
    shop.con.execute("DELETE FROM campaign_assignments WHERE arm = 'control' AND customer_id IN "
                     "(SELECT customer_id FROM campaign_assignments WHERE arm = 'control' LIMIT 80)")
    r = campaign_report(shop, "spring")
    assert r["srm"]["alarm"] and r["conclusion"]["en"].startswith("Warning: sample-ratio mismatch")
    assert r["conclusion"]["zh"].startswith("警告")


def test_reporting_before_assigning_is_a_clear_error(shop):
    create_campaign(shop, Campaign("empty", "all", (parse_arm("a"),)))
    with pytest.raises(InsufficientDataError, match="campaign assign empty"):
        campaign_report(shop, "empty")


def test_report_as_of_ignores_later_orders(shop, tmp_path):
    rows = _campaign(shop)
    _simulate(shop, tmp_path, rows, 0.0, 1.0, seed=3)
    early = campaign_report(shop, "spring", as_of="2024-06-03")
    assert all(a["mean"] == 0 for a in early["arms"] if a["metric"] == "conversion")
    assert isinstance(pd.Timestamp(early["window"]["data_until"]), pd.Timestamp)


def test_exposure_attribution_scales_the_effect_to_the_customers_who_saw_the_offer(shop, tmp_path):
    from shoplens.errors import UserInputError
    from shoplens.ingest import ingest

    rows = _campaign(shop, control=0.5)
    _simulate(shop, tmp_path, rows, 0.1, 0.5, seed=3)
    with pytest.raises(InsufficientDataError, match="no exposure events"):
        campaign_report(shop, "spring", attribution="exposure")
    offered = [c for c in rows.index if rows.loc[c, "arm"] == "discount_10"]
    seen = offered[: len(offered) // 2]
    lines = ["customer_id,event_type,occurred_at,event_name"]
    lines += [f"{c},promotion_view,2024-06-02 09:00:00,spring:discount_10" for c in seen]
    lines += [f"{c},promotion_view,2024-06-02 09:05:00,another-campaign" for c in offered]  # not this campaign
    lines += [f"{c},promotion_view,2024-07-20 09:00:00,spring" for c in offered]  # after the window
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n")
    ingest(shop, [tmp_path / "events.csv"], table="events")
    itt = campaign_report(shop, "spring")
    assert itt["attribution"] == {"method": "intention_to_treat", "exposed": None}
    assert "effect_exposed" not in itt["arms"][1]
    r = campaign_report(shop, "spring", attribution="exposure")
    assert r["attribution"]["method"] == "exposure" and r["attribution"]["exposed"]["discount_10"] == len(seen)
    assert r["attribution"]["exposed"]["control"] == 0
    conv = next(a for a in r["arms"] if a["arm"] == "discount_10" and a["metric"] == "conversion")
    base = next(a for a in itt["arms"] if a["arm"] == "discount_10" and a["metric"] == "conversion")
    assert conv["effect"] == base["effect"]  # the randomised comparison is unchanged
    assert conv["exposure_rate"] == pytest.approx(len(seen) / len(offered))
    assert conv["effect_exposed"] == pytest.approx(base["effect"] / conv["exposure_rate"])
    assert conv["ci_low_exposed"] == pytest.approx(base["ci_low"] / conv["exposure_rate"])
    with pytest.raises(UserInputError, match="--attribution"):
        campaign_report(shop, "spring", attribution="last-click")


def test_policy_estimates_include_the_best_single_arm_and_a_cross_fitted_learned_policy(shop, tmp_path):
    """The offer moves only frequent buyers (three more past orders): giving it to them alone (what a
    policy learned on the context should find) earns more than giving everyone one arm."""
    frequent = {shop_id(i) for i in range(1, 301, 2)}
    load_orders(shop, tmp_path, [(f"F{c}{k}", c, f"2024-0{k + 2}-10 12:00:00", "completed", 20.0)
                                 for c in sorted(frequent) for k in range(3)], name="frequent")
    create_campaign(shop, Campaign("target", "all", (parse_arm("discount_10"),), control=0.5, goal="conversion",
                                   window_days=14))
    rows = assign_campaign(shop, "target", as_of="2024-06-01").rows.set_index("customer_id")
    rng = np.random.default_rng(7)
    orders = []
    for cid, row in rows.iterrows():
        p = 0.3 if row["arm"] == "control" else (0.9 if cid in frequent else 0.0)
        if rng.random() < p:
            orders.append((f"T{cid}", cid, "2024-06-05 12:00:00", "completed", 30.0))
    load_orders(shop, tmp_path, orders, name="target")
    policies = {p["policy"]: p for p in campaign_report(shop, "target")["policies"]}
    singles = [policies["all-control"]["value"], policies["all-discount_10"]["value"]]
    assert policies["best-arm"]["value"] == max(singles) and policies["best-arm"]["arm"] == "discount_10"
    learned = policies["learned"]
    assert learned["estimator"] == "snipw" and learned["ci_low"] <= learned["value"] <= learned["ci_high"]
    assert learned["value"] > max(singles) + 0.1  # the truth: 0.6 against 0.45 and 0.3
    assert 0.3 < learned["arm_shares"]["discount_10"] < 0.7  # about the frequent half
    # a campaign too small to learn from (an arm with fewer than 5 customers in a half) has no learned entry
    create_campaign(shop, Campaign("tiny", "file:" + str(_ids(tmp_path, 12)), (parse_arm("discount_10"),),
                                   control=0.5))
    assign_campaign(shop, "tiny", as_of="2024-06-01")
    assert "learned" not in {p["policy"] for p in campaign_report(shop, "tiny")["policies"]}


def _ids(tmp_path, n):
    path = tmp_path / "few.csv"
    path.write_text("customer_id\n" + "\n".join(shop_id(i) for i in range(1, n + 1)) + "\n")
    return path

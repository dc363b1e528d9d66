"""The bandit policy: a random control, offers learned from attributed outcomes, propensities logged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from shoplens.campaigns.assign import assign_campaign, salt
from shoplens.campaigns.bandit import EXPLORATION, learned_policy
from shoplens.campaigns.campaign import (
    Campaign,
    create_campaign,
    get_campaign,
    parse_arm,
)
from shoplens.campaigns.report import campaign_report
from shoplens.decide.abtest import bucket
from shoplens.privacy.ids import to_internal

from .conftest import CONSENTING, load_orders, shop_id

CONTROL_SHARE = 0.2


def _wave(wh, tmp_path, ids: list[str], as_of: str):
    (tmp_path / "audience.csv").write_text("customer_id\n" + "\n".join(ids) + "\n")
    return assign_campaign(wh, "learn", as_of=as_of)


def _bandit(wh, tmp_path):
    create_campaign(wh, Campaign("learn", f"file:{tmp_path / 'audience.csv'}",
                                 (parse_arm("weak_offer"), parse_arm("strong_offer")), control=CONTROL_SHARE,
                                 goal="conversion", window_days=7, policy="bandit"))


def test_the_bandit_learns_the_better_offer_from_attributed_orders(shop, tmp_path):
    _bandit(shop, tmp_path)
    first = [shop_id(i) for i in range(1, 131)]
    second = [shop_id(i) for i in range(131, CONSENTING + 1)]
    one = _wave(shop, tmp_path, first, "2024-06-01").rows.set_index("customer_id")
    offers_one = one[one["arm"] != "control"]["arm"].value_counts(normalize=True)
    assert 0.3 < offers_one["strong_offer"] < 0.7  # nothing learned yet: both offers alike
    # the truth: only the strong offer brings orders (inside the 7-day window); nobody posts a reward
    load_orders(shop, tmp_path, [(f"W{c}", c, "2024-06-03 10:00:00", "completed", 40.0)
                                 for c in one.index[one["arm"] == "strong_offer"]], name="responses")
    _, seen = learned_policy(shop, get_campaign(shop, "learn"), pd.Timestamp("2024-06-20").to_pydatetime())
    assert seen == int((one["arm"] != "control").sum())  # every closed offer window, control left out
    two = _wave(shop, tmp_path, second, "2024-06-20").rows.set_index("customer_id").loc[second]
    offers_two = two[two["arm"] != "control"]
    assert (offers_two["arm"] == "strong_offer").mean() > 0.8
    # the control stays the random holdout: the same hash as the split policy's, at its planned share
    internal = dict(zip(first + second, to_internal(shop, first + second)))
    both = pd.concat([one, two])
    in_control = {c: bucket(internal[c], salt("learn")) < CONTROL_SHARE for c in both.index}
    assert all((both.loc[c, "arm"] == "control") == v for c, v in in_control.items())
    assert (both.loc[both["arm"] == "control", "propensity"] == CONTROL_SHARE).all()
    # offers: (1 - control) x the policy's chance, never below the exploration floor
    floor = (1 - CONTROL_SHARE) * EXPLORATION / 2
    assert (offers_two["propensity"] >= floor - 1e-12).all() and (offers_two["propensity"] <= 1 - CONTROL_SHARE).all()
    assert offers_two.loc[offers_two["arm"] == "strong_offer", "propensity"].min() > 0.6


def test_bandit_assignments_are_sticky_and_logged_with_context_and_propensity(shop, tmp_path):
    _bandit(shop, tmp_path)
    ids = [shop_id(i) for i in range(1, 61)]
    first = _wave(shop, tmp_path, ids, "2024-06-01").rows.set_index("customer_id")
    again = _wave(shop, tmp_path, ids, "2024-06-10")
    pd.testing.assert_frame_equal(again.rows.set_index("customer_id").loc[first.index], first)
    assert again.counts["newly_assigned"] == 0
    logged = shop.query("SELECT decision_id, action, propensity, context FROM decisions WHERE policy = 'campaign:learn'")
    assert len(logged) == len(ids) and logged["propensity"].between(0, 1, inclusive="right").all()
    context = json.loads(logged["context"].iloc[0])
    assert set(context) == {"recency_days", "orders", "log_spend"} and context["orders"] == 1


def test_the_bandit_report_checks_the_control_share_and_weighs_by_logged_propensities(shop, tmp_path):
    _bandit(shop, tmp_path)
    ids = [shop_id(i) for i in range(1, CONSENTING + 1)]
    rows = _wave(shop, tmp_path, ids, "2024-06-01").rows.set_index("customer_id")
    rng = np.random.default_rng(0)
    buyers = [c for c in rows.index if rng.random() < (0.5 if rows.loc[c, "arm"] != "control" else 0.1)]
    load_orders(shop, tmp_path, [(f"R{c}", c, "2024-06-03 10:00:00", "completed", 30.0) for c in buyers], name="r")
    r = campaign_report(shop, "learn")
    assert r["campaign"]["policy"] == "bandit"
    assert set(r["srm"]["counts"]) == {"control", "offers"} and not r["srm"]["alarm"]
    assert r["srm"]["expected_share"]["control"] == CONTROL_SHARE
    pooled = next(a for a in r["offers_vs_control"] if a["arm"] == "offers" and a["metric"] == "conversion")
    assert pooled["ci_low"] > 0 and abs(pooled["effect"] - 0.4) < pooled["ci_high"] - pooled["ci_low"]
    assert {p["policy"] for p in r["policies"]} >= {"all-control", "all-strong_offer", "all-weak_offer"}

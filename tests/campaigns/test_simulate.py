"""Simulated responses with a known true effect: the report's intervals recover it."""

from __future__ import annotations

import numpy as np
import pytest

from shoplens.campaigns.analysis import analyze_arrays
from shoplens.campaigns.assign import assign_campaign
from shoplens.campaigns.campaign import Campaign, create_campaign, parse_arm
from shoplens.campaigns.simulate import (
    ResponseModel,
    simulate_outcomes,
    simulated_report,
)
from shoplens.errors import InsufficientDataError, UserInputError


def _coverage(lift: float, n: int = 400, sims: int = 400) -> float:
    model = ResponseModel(base=0.1, lifts={"offer": lift}, order_value=40.0)
    arms = np.array(["control", "offer"] * (n // 2))
    hits = 0
    for seed in range(sims):
        y = simulate_outcomes(arms, model, {"offer": 2.0}, seed=seed)
        row = analyze_arrays(arms, {"margin": y["margin"]}, control="control")["arms"][1]
        hits += row["ci_low"] <= model.true_effect("offer", "margin", cost=2.0) <= row["ci_high"]
    return hits / sims


def test_the_interval_covers_the_true_effect_at_about_the_nominal_rate():
    assert 0.92 <= _coverage(0.0) <= 0.98  # zero effect: covers zero (margin truth is -0.2: the cost)
    assert 0.92 <= _coverage(0.08) <= 0.98


def test_the_simulated_report_of_a_real_assignment_is_labelled_and_recovers_the_truth(shop):
    create_campaign(shop, Campaign("sim", "all", (parse_arm("discount_10", 2.0), parse_arm("free_shipping")),
                                   control=0.3, goal="margin", window_days=14))
    with pytest.raises(InsufficientDataError, match="assigned no one"):
        simulated_report(shop, "sim", ResponseModel())
    assign_campaign(shop, "sim", as_of="2024-06-01")
    model = ResponseModel(base=0.1, lifts={"discount_10": 0.4, "free_shipping": 0.0}, order_value=40.0)
    r = simulated_report(shop, "sim", model, seed=1)
    assert r["simulated"] is True and r["response_model"]["lifts"] == {"discount_10": 0.4, "free_shipping": 0.0}
    rows = {(a["arm"], a["metric"]): a for a in r["arms"]}
    big = rows[("discount_10", "conversion")]
    assert big["true_effect"] == pytest.approx(0.4) and big["covered"] and big["ci_low"] > 0
    assert rows[("discount_10", "margin")]["true_effect"] == pytest.approx(0.4 * 40 - 2.0 * 0.5)
    assert rows[("free_shipping", "conversion")]["true_effect"] == 0.0
    assert rows[("control", "margin")]["covered"] is None
    # nothing is written: the orders table holds only the shop's real orders
    assert shop.query("SELECT count(*) AS n FROM orders")["n"][0] == 300


def test_an_impossible_response_model_is_refused():
    with pytest.raises(UserInputError, match="must lie in 0..1"):
        ResponseModel(base=0.9, lifts={"a": 0.2})

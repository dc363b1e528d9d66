"""Simulated responses to a campaign: a documented response model with a known true effect.

For a shop with no real responses yet (the demo), the report can be run on responses drawn
from :class:`ResponseModel`, never written to the warehouse (the orders table stays the
shop's real orders). Everything it returns is labelled ``simulated``, with the model and the
true effects, so a reader can check that the interval recovers the truth.

The model: within the window, each assigned customer converts with probability
``base + lifts[arm]`` (the control: ``base``), and a converting customer spends
``order_value``; the margin is that less the arm's cost per use. So the true effects
against control are ``lifts[arm]`` on conversion, ``lifts[arm] x order_value`` on revenue
and ``lifts[arm] x order_value - cost x (base + lifts[arm])`` on margin.

>>> m = ResponseModel(base=0.1, lifts={"discount_10": 0.05}, order_value=40.0)
>>> round(m.true_effect("discount_10", "margin", cost=2.0), 3)
1.7
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shoplens.campaigns.analysis import analyze_arrays
from shoplens.campaigns.campaign import CONTROL, get_campaign
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.warehouse import Warehouse

METRICS = ("conversion", "revenue", "margin")


@dataclass(frozen=True)
class ResponseModel:
    """Conversion ``base + lifts[arm]`` in the window; ``order_value`` spent per conversion."""

    base: float = 0.10
    lifts: dict[str, float] = field(default_factory=dict)
    order_value: float = 40.0

    def __post_init__(self) -> None:
        for arm, lift in {CONTROL: 0.0, **self.lifts}.items():
            if not 0 <= self.base + lift <= 1:
                raise UserInputError(f"simulated conversion of {arm!r} ({self.base} + {lift}) must lie in 0..1")

    def rate(self, arm: str) -> float:
        return self.base + (0.0 if arm == CONTROL else self.lifts.get(arm, 0.0))

    def true_effect(self, arm: str, metric: str, cost: float = 0.0) -> float:
        """The effect against control the model builds in (see the module doc)."""
        lift = self.rate(arm) - self.base
        if metric == "conversion":
            return lift
        if metric == "revenue":
            return lift * self.order_value
        return lift * self.order_value - cost * self.rate(arm)


def simulate_outcomes(arms: np.ndarray, model: ResponseModel, costs: dict[str, float],
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Per-customer conversion, revenue and margin drawn from ``model`` for the given arms."""
    arms = np.asarray(arms).astype(str)
    p = np.array([model.rate(a) for a in arms])
    conversion = (np.random.default_rng(seed).random(len(arms)) < p).astype(float)
    revenue = conversion * model.order_value
    margin = revenue - np.array([costs.get(a, 0.0) for a in arms]) * conversion
    return {"conversion": conversion, "revenue": revenue, "margin": margin}


def simulated_report(wh: Warehouse, name: str, model: ResponseModel, *, seed: int = 0) -> dict[str, Any]:
    """The report of campaign ``name``'s real assignment on responses drawn from ``model``:
    the ``campaign report`` arms and srm, plus ``simulated`` (True), ``response_model``, and per
    offer arm and metric ``true_effect`` and ``covered`` (the 95 % interval holds the truth)."""
    campaign = get_campaign(wh, name)
    assigned = wh.query("SELECT arm FROM campaign_assignments WHERE campaign = ? ORDER BY assigned_at, customer_id",
                        [name]) if wh.has_table("campaign_assignments") else pd.DataFrame({"arm": []})
    if assigned.empty:
        raise InsufficientDataError(f"campaign {name!r} has assigned no one yet: run `shoplens campaign assign {name}`")
    costs = {a.name: a.cost for a in campaign.arms}
    arms = assigned["arm"].to_numpy().astype(str)
    outcomes = simulate_outcomes(arms, model, costs, seed)
    metrics = [campaign.goal, *[m for m in METRICS if m != campaign.goal]]
    result = analyze_arrays(arms, {m: outcomes[m] for m in metrics}, control=CONTROL, arms=campaign.arm_names,
                            weights=campaign.weights() if campaign.policy == "split" else None)
    for row in result["arms"]:
        if row["arm"] == CONTROL:
            row["true_effect"] = row["covered"] = None
            continue
        truth = model.true_effect(row["arm"], row["metric"], costs.get(row["arm"], 0.0))
        row["true_effect"] = truth
        row["covered"] = (None if row.get("ci_low") is None
                          else bool(row["ci_low"] <= truth <= row["ci_high"]))
    result["simulated"] = True
    result["response_model"] = asdict(model) | {"seed": seed}
    result["campaign"] = {"name": campaign.name, "version": campaign.version, "goal": campaign.goal,
                          "audience": campaign.audience, "policy": campaign.policy}
    return result

"""The ``bandit`` policy of a campaign: learn which offer to give whom, keep the control random.

The control group stays a fixed random holdout: a customer is in ``control`` exactly when the
hash of campaign and customer falls below the control share (the same customers as under the
``split`` policy), so the control-vs-offers comparison stays a clean randomised one. The others
get an offer chosen by linear Thompson sampling (:class:`shoplens.decide.policies.LinearTS`, one
linear model per offer) on the customer's context at assignment time:

- ``recency_days``: days since the last order (999 when none), ``orders``: orders so far,
  ``log_spend``: log(1 + net revenue so far) (the shop's one definition, :mod:`shoplens.metrics`).

The model is fitted again at every assignment run from the campaign's own attributed outcomes:
every earlier offer assignment whose window has closed, its reward the campaign's goal metric
(:func:`shoplens.campaigns.report.attribute`; nothing is posted by hand), scaled by the
rewards' standard deviation. The Thompson probabilities are mixed with 10 % uniform
exploration, so every offer keeps a chance of at least ``0.1 / offers`` and the logged
propensities stay usable for off-policy estimates. The draw itself is a second hash of
campaign and customer (reproducible for the same model); the propensity logged is
``(1 - control) * P(offer)``, stored with the context in the decision log.

>>> round(float(mix(np.array([1.0, 0.0])).min()), 3)
0.05
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shoplens.campaigns.campaign import CONTROL, Campaign
from shoplens.decide.abtest import bucket
from shoplens.store.warehouse import Warehouse

FEATURES = ("recency_days", "orders", "log_spend")
EXPLORATION = 0.1
NO_ORDER_RECENCY = 999.0


def mix(p: np.ndarray, exploration: float = EXPLORATION) -> np.ndarray:
    """Thompson probabilities with a uniform share ``exploration`` (every offer keeps a chance)."""
    return (1 - exploration) * p / p.sum() + exploration / len(p)


def contexts(wh: Warehouse, ids: list[str], at: datetime) -> pd.DataFrame:
    """The bandit's context of each (warehouse) customer id at ``at``, indexed by id, in ``ids`` order."""
    from shoplens.campaigns.assign import profile_sql

    frame = pd.DataFrame(index=pd.Index(ids, name="customer_id"), columns=list(FEATURES), dtype=float)
    if not ids:
        return frame
    got = wh.query(f"""SELECT customer_id, days_since_last_order AS recency_days, orders, net_revenue
                       FROM ({profile_sql(at)}) p WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))""",
                   [ids]).set_index("customer_id")
    got = got.reindex(ids)
    frame["recency_days"] = got["recency_days"].astype(float).fillna(NO_ORDER_RECENCY).clip(lower=0).to_numpy()
    frame["orders"] = got["orders"].astype(float).fillna(0.0).to_numpy()
    frame["log_spend"] = np.log1p(got["net_revenue"].astype(float).fillna(0.0).clip(lower=0)).to_numpy()
    return frame


def _offers(campaign: Campaign) -> list[str]:
    return [a.name for a in campaign.arms]


def learned_policy(wh: Warehouse, campaign: Campaign, at: datetime) -> tuple[Any, int]:
    """The campaign's LinearTS fitted on its closed windows before ``at``, and how many rewards it saw."""
    from shoplens.campaigns.report import attribute
    from shoplens.decide.policies import LinearTS

    policy = LinearTS(features=list(FEATURES), seed=0)
    outcomes = attribute(wh, campaign, as_of=at)
    closed = outcomes[outcomes["window_closed"] & (outcomes["arm"] != CONTROL)
                      & outcomes["arm"].isin(_offers(campaign)) & outcomes["decision_id"].notna()]
    if closed.empty:
        return policy, 0
    logged = wh.query("SELECT decision_id, context FROM decisions WHERE decision_id IN (SELECT unnest(?::VARCHAR[]))",
                      [closed["decision_id"].tolist()]).set_index("decision_id")["context"]
    rewards = closed[campaign.goal].to_numpy(float)
    scale = float(rewards.std()) or 1.0
    ctx = [json.loads(logged[d]) if isinstance(logged.get(d), str) else {} for d in closed["decision_id"]]
    policy.fit(ctx, closed["arm"].tolist(), (rewards / scale).tolist())
    return policy, len(closed)


def choose(wh: Warehouse, campaign: Campaign, ids: list[str], at: datetime) -> pd.DataFrame:
    """Arms of new (warehouse) customer ids: ``customer_id, arm, propensity, context`` (context as JSON)."""
    from shoplens.campaigns.assign import salt

    offers = _offers(campaign)
    ctx = contexts(wh, ids, at)
    policy, _ = learned_policy(wh, campaign, at) if ids else (None, 0)
    arms, props, texts = [], [], []
    for cid, row in zip(ids, ctx.to_dict("records")):
        texts.append(json.dumps({k: round(float(v), 6) for k, v in row.items()}, sort_keys=True))
        if bucket(cid, salt(campaign.name)) < campaign.control:
            arms.append(CONTROL)
            props.append(campaign.control)
            continue
        p = mix(policy.probabilities(row, offers))
        k = min(int(np.searchsorted(np.cumsum(p), bucket(cid, salt(campaign.name) + ":bandit"), side="right")),
                len(offers) - 1)
        arms.append(offers[k])
        props.append((1 - campaign.control) * float(p[k]))
    return pd.DataFrame({"customer_id": ids, "arm": arms, "propensity": props, "context": texts})

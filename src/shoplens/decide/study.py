"""The offer study and the A/A test of the demo, as functions over a warehouse.

:func:`offer_study`: uniform logging, then a LinearTS bandit serving offers online (simulated
responses over real customer contexts, offers only to customers with marketing consent), both
through the decision log; then off-policy evaluation and off-policy learning, each checked
against the simulator's true value. :func:`aa_test`: an A/A test on the shop's real revenue,
analysed plainly, with CUPED and the Bayesian way.

>>> study = offer_study(demo_warehouse(), n_logged=100, n_bandit=100)
>>> sorted(study["truth"])  # the simulator's true click rate of each policy
['learned-dr', 'offer-bandit', 'uniform']
>>> study["excluded_without_marketing_consent"] > 0  # offers reach consenting customers only
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shoplens.decide import abtest
from shoplens.decide.log import Decider, DecisionLog
from shoplens.decide.ope import LoggedFeedback, estimate_all, select_estimator
from shoplens.decide.opl import learn_and_evaluate
from shoplens.decide.policies import EpsilonGreedy, LinearTS
from shoplens.decide.simulate import OfferEnvironment
from shoplens.metrics import revenue_orders_sql
from shoplens.privacy.consent import _allowed_internal
from shoplens.privacy.ids import to_external
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, first_row


def offer_study(wh: Warehouse, *, n_logged: int = 1500, n_bandit: int = 1500, learn_every: int = 50,
                seed: int = 0) -> dict[str, Any]:
    """Uniform logging, then a LinearTS bandit online, both through the decision log; then
    off-policy evaluation of the bandit and off-policy learning, checked against the simulator."""
    env = OfferEnvironment.from_warehouse(wh, seed=seed)
    # customers in the order of their shop ids: pseudonyms depend on the shop's random key, so ordering
    # by them would make the seeded draws (and every figure of the study) differ between demo builds
    order = np.argsort(np.asarray(to_external(wh, env.customers["customer_id"].tolist()), dtype=str), kind="stable")
    env = replace(env, customers=env.customers.iloc[order].reset_index(drop=True))
    # offers reach only customers with marketing consent (the Decider would log the others as not offered)
    marketable = set(_allowed_internal(wh, env.customers["customer_id"], "offer"))
    excluded = int((~env.customers["customer_id"].isin(marketable)).sum())
    env = replace(env, customers=env.customers[env.customers["customer_id"].isin(marketable)].reset_index(drop=True))
    rng = np.random.default_rng(seed)
    offers = list(env.offers)
    log = DecisionLog(wh)
    phases = [("uniform-logger", EpsilonGreedy(epsilon=1.0, seed=seed), n_logged),
              ("offer-bandit", LinearTS(v=0.5, seed=seed), n_bandit)]
    curves, deciders = [], {}
    shop_ids = to_external(wh, env.customers["customer_id"].tolist())  # the Decider takes the shop's ids
    for name, policy, n in phases:
        decider = Decider(wh, policy, name=name, version=type(policy).__name__, seed=seed)
        deciders[name] = decider
        clicks = 0.0
        for start in range(0, n, learn_every):  # rewards arrive in batches, joined by decision id
            pick = rng.integers(len(env.customers), size=min(learn_every, n - start))
            ctx = env.customers.iloc[pick].reset_index(drop=True)
            contexts = ctx[env.features].to_dict("records")
            decisions = decider.decide_batch([shop_ids[i] for i in pick], contexts, offers)
            rewards = env.rewards(ctx, [d["action"] for d in decisions], rng)
            log.log_rewards(pd.DataFrame({"decision_id": [d["decision_id"] for d in decisions], "reward": rewards}))
            decider.learn()
            for j, r in enumerate(rewards):
                clicks += r
                curves.append({"decision": start + j + 1, "policy": name, "click_rate": clicks / (start + j + 1)})
    bandit = deciders["offer-bandit"].policy

    # off-policy evaluation of the final bandit on the uniform logs
    logs = log.feedback(policy="uniform-logger")
    order = [offers.index(a) for a in logs.action_names]
    dist = bandit.action_distribution(logs)
    estimates = estimate_all(logs, dist, n_bootstrap=200, seed=seed)
    choice = select_estimator(estimates)

    def bandit_dist(ctx: pd.DataFrame) -> np.ndarray:
        fb = LoggedFeedback(np.zeros(len(ctx), int), np.zeros(len(ctx)), np.ones(len(ctx)), len(offers),
                            context=ctx[env.features], action_names=offers)
        return bandit.action_distribution(fb)

    truth = {"offer-bandit": env.true_value(bandit_dist, n=2000),
             "uniform": env.true_value(lambda c: np.full((len(c), len(offers)), 1 / len(offers)))}

    learned = learn_and_evaluate(logs, method="dr", seed=seed)
    policy = learned["policy"]

    def learned_dist(ctx: pd.DataFrame) -> np.ndarray:
        fb = LoggedFeedback(np.zeros(len(ctx), int), np.zeros(len(ctx)), np.ones(len(ctx)), logs.n_actions,
                            context=ctx[env.features], action_names=list(logs.action_names))
        d = policy.action_distribution(fb)
        return d[:, np.argsort(order)] if len(order) == len(offers) else d

    truth["learned-dr"] = env.true_value(learned_dist)
    registry = ModelRegistry(wh)
    window = tuple(first_row(wh.con.execute("SELECT min(occurred_at), max(occurred_at) FROM decisions")))  # type: ignore[arg-type]
    registry.register("offer-bandit", bandit, kind="bandit", data_window=window,
                      metrics={"ope_" + choice["selected"]: estimates[choice["selected"]]["value"]})
    registry.register("offer-policy-dr", policy, kind="off-policy-learner", data_window=window,
                      metrics={"ope_" + learned["selected"]: learned["estimates"][learned["selected"]]["value"]})
    return {"curves": pd.DataFrame(curves), "estimates": estimates, "selected": choice, "truth": truth,
            "learned": learned, "n_logged": len(logs), "excluded_without_marketing_consent": excluded}


def aa_test(wh: Warehouse, *, split: str = "2011-07-01", salt: str = "demo-aa") -> dict[str, Any]:
    """An A/A test on real revenue: customers split by hashed assignment of their shop ids, metric =
    net revenue after ``split``, pre_metric = net revenue before. No effect exists, so the analysis
    should find none; CUPED should shrink the interval. The split and the row order follow the
    shop's ids, not the pseudonyms, so the figures do not depend on the shop's secret key."""
    # net revenue per customer (purchases minus returns), as everywhere else (shoplens.metrics)
    units = wh.query(f"""
        SELECT customer_id,
               coalesce(sum(amount) FILTER (WHERE ordered_at >= ?), 0) AS metric,
               coalesce(sum(amount) FILTER (WHERE ordered_at < ?), 0) AS pre_metric
        FROM ({revenue_orders_sql()}) r WHERE customer_id IS NOT NULL
        GROUP BY customer_id HAVING count(*) FILTER (WHERE kind = 'purchase') > 0""", [split, split])
    units["customer_id"] = to_external(wh, units["customer_id"].tolist())
    units["variant"] = [abtest.assign(c, ["A", "B"], salt=salt) for c in units["customer_id"]]
    units = units.sort_values("customer_id", kind="stable").reset_index(drop=True)[
        ["customer_id", "variant", "metric", "pre_metric"]]
    plain = abtest.analyze_units(units, difference="relative")
    cuped = abtest.analyze_units(units, covariates=["pre_metric"], difference="relative")
    bayes = abtest.analyze_units(units, covariates=["pre_metric"], method="bayesian")
    return {"units": units, "plain": plain, "cuped": cuped, "bayesian": bayes}

"""Demo step: a bandit serves offers (simulated responses, real customer contexts, consent
respected: offers only to customers with marketing consent), is evaluated off-policy on uniform logs, a better policy is learned off-policy,
prices are simulated on calibrated demand curves, and an A/A test is analysed with CUPED."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from rich.markup import escape

from shoplens.cli_common import frame_table, rows_table
from shoplens.decide import abtest
from shoplens.decide.log import Decider, DecisionLog
from shoplens.decide.ope import LoggedFeedback, estimate_all, select_estimator
from shoplens.decide.opl import learn_and_evaluate
from shoplens.decide.policies import EpsilonGreedy, LinearTS
from shoplens.decide.pricing import calibrate_from_warehouse, scenarios_from, simulate_pricing
from shoplens.decide.simulate import OfferEnvironment
from shoplens.privacy.consent import _allowed_internal
from shoplens.metrics import revenue_orders_sql
from shoplens.privacy.ids import to_external
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, first_row


def offer_study(wh: Warehouse, *, n_logged: int = 1500, n_bandit: int = 1500, learn_every: int = 50,
                seed: int = 0) -> dict[str, Any]:
    """Uniform logging, then a LinearTS bandit online, both through the decision log; then
    off-policy evaluation of the bandit and off-policy learning, checked against the simulator."""
    env = OfferEnvironment.from_warehouse(wh, seed=seed)
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
    """An A/A test on real revenue: customers split by hashed assignment (in SQL), metric =
    net revenue after ``split``, pre_metric = net revenue before. No effect exists, so the analysis
    should find none; CUPED should shrink the interval."""
    variant = abtest.assignment_sql("customer_id", ["A", "B"], salt=salt)
    # net revenue per customer (purchases minus returns), as everywhere else (shoplens.metrics)
    units = wh.query(f"""
        SELECT customer_id, {variant} AS variant,
               coalesce(sum(amount) FILTER (WHERE ordered_at >= ?), 0) AS metric,
               coalesce(sum(amount) FILTER (WHERE ordered_at < ?), 0) AS pre_metric
        FROM ({revenue_orders_sql()}) r WHERE customer_id IS NOT NULL
        GROUP BY customer_id HAVING count(*) FILTER (WHERE kind = 'purchase') > 0
        ORDER BY customer_id""", [split, split])
    plain = abtest.analyze_units(units, difference="relative")
    cuped = abtest.analyze_units(units, covariates=["pre_metric"], difference="relative")
    bayes = abtest.analyze_units(units, covariates=["pre_metric"], method="bayesian")
    return {"units": units, "plain": plain, "cuped": cuped, "bayesian": bayes}


def run(ctx: Any) -> None:
    wh, console = ctx.warehouse, ctx.console
    study = offer_study(wh)
    curves, est, truth = study["curves"], study["estimates"], study["truth"]
    console.print(f"Offers go only to customers with marketing consent: "
                  f"{study['excluded_without_marketing_consent']:,} customers without it are never offered anything.")
    final = curves.groupby("policy")["click_rate"].last()
    console.print(rows_table([{"policy": p, "click_rate": f"{float(v):.4f}"} for p, v in final.items()],
                             title="Offer bandit: click rate while serving (simulated responses, real contexts)"))
    est_rows = [{"estimator": k, "value": round(v["value"], 4), "ci_low": round(v["ci_low"], 4),
                 "ci_high": round(v["ci_high"], 4)} for k, v in est.items()]
    console.print(rows_table([{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()} for r in est_rows],
                             title=f"Off-policy value of the bandit on {study['n_logged']:,} uniform "
                                             f"logs (true value {truth['offer-bandit']:.4f})"))
    console.print(f"Trusted estimator: [bold]{escape(str(study['selected']['selected']))}[/bold] "
                  f"({escape(str(study['selected']['reason']))})")
    learned = study["learned"]
    sel = learned["estimates"][learned["selected"]]
    console.print(f"Learned DR policy: estimated {sel['value']:.4f} [{sel['ci_low']:.4f}, {sel['ci_high']:.4f}] "
                  f"on {learned['n_test']} held-out rows; true {truth['learned-dr']:.4f}; "
                  f"logging policy {learned['logged_policy_value']:.4f}")

    calibration = calibrate_from_warehouse(wh, min_days=20)
    pricing = simulate_pricing(scenarios_from(calibration, n_products=15), steps=90, seed=0)
    console.print(frame_table(pricing["summary"].round(4).astype(str), title=f"Pricing simulation ({pricing['products']} products, "
                                                                  f"90 days, demand calibrated on the shop's prices)"))

    aa = aa_test(wh)
    rows = []
    for label, res in (("plain", aa["plain"]), ("CUPED", aa["cuped"])):
        b = res.variants[1]
        rows.append({"analysis": label, "effect": round(b["effect"], 4), "ci_low": round(b["ci"][0], 4),
                     "ci_high": round(b["ci"][1], 4), "p_value": round(b["p_value"], 4),
                     "srm_p": round(res.srm["p_value"], 4)})
    console.print(rows_table([{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
                             title="A/A test on real revenue (B vs A, relative)"))
    cb = aa["bayesian"].variants[1]
    console.print(f"CUPED variance reduction {aa['cuped'].cuped['variance_reduction']:.1%}; "
                  f"Bayesian chance B beats A {cb['chance_to_win']:.1%}")

    fig_curve = px.line(curves, x="decision", y="click_rate", color="policy",
                        title="Running click rate: uniform logging vs LinearTS bandit")
    fig_ope = go.Figure(go.Scatter(
        x=[r["estimator"] for r in est_rows], y=[r["value"] for r in est_rows], mode="markers",
        error_y={"type": "data", "symmetric": False, "array": [r["ci_high"] - r["value"] for r in est_rows],
                 "arrayminus": [r["value"] - r["ci_low"] for r in est_rows]}, name="estimate (95 % CI)"))
    fig_ope.add_hline(y=truth["offer-bandit"], line_dash="dash", annotation_text="true value (simulator)")
    fig_ope.update_layout(title="Off-policy estimates of the bandit's click rate")
    fig_regret = px.line(pricing["curves"], x="step", y="cumulative_regret", color="policy",
                         title="Pricing: cumulative regret vs the best fixed price (in days of optimal profit)")
    fig_ab = go.Figure(go.Scatter(
        x=[r["effect"] for r in rows], y=[r["analysis"] for r in rows], mode="markers",
        error_x={"type": "data", "symmetric": False, "array": [r["ci_high"] - r["effect"] for r in rows],
                 "arrayminus": [r["effect"] - r["ci_low"] for r in rows]}))
    fig_ab.add_vline(x=0, line_dash="dash")
    fig_ab.update_layout(title="A/A test: relative effect on revenue with 95 % CI (no real effect exists)")
    ctx.report.add_section(
        "Decisions", key="decide",
        text=("Offers are served by a LinearTS bandit through the decision log (every decision with its "
              "propensity) to customers who consent to marketing "
              f"({study['excluded_without_marketing_consent']:,} without that consent are never offered anything); "
              "customers without personalisation consent get a logged, non-personalised choice. "
              "Responses are simulated from a click model over real customer contexts, so the off-policy "
              "estimates can be checked against the true value. Prices are simulated on demand curves "
              "calibrated from the shop's own price variation; the A/A test uses real revenue."),
        tables=[("Off-policy estimates of the bandit", pd.DataFrame(est_rows)),
                ("Pricing simulation", pricing["summary"]), ("A/A test", pd.DataFrame(rows))],
        figures=[fig_curve, fig_ope, fig_regret, fig_ab])
    ctx.results["decide"] = {"truth": truth, "selected": study["selected"]["selected"],
                             "pricing": pricing["summary"], "aa": rows}

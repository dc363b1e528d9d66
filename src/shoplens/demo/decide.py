"""Demo step: a bandit serves offers (simulated responses, real customer contexts, consent
respected: offers only to customers with marketing consent), is evaluated off-policy on uniform logs, a better policy is learned off-policy,
prices are simulated on calibrated demand curves, and an A/A test is analysed with CUPED."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from rich.markup import escape

from shoplens.cli_common import frame_table, rows_table
from shoplens.decide.pricing import calibrate_from_warehouse, scenarios_from, simulate_pricing
from shoplens.decide.study import aa_test, offer_study
from shoplens.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
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

"""Demo step: RFM and behavioural segments, CLV with its holdout check, churn risk
with reasons, cohorts and patterns, customer profiles and generated rules."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from rich.markup import escape

from shoplens.cli_common import frame_table, rows_table
from shoplens.customers.churn import fit_churn
from shoplens.customers.output import exposable
from shoplens.customers.clv import fit_clv, holdout_by_frequency
from shoplens.customers.cohorts import compute_cohorts
from shoplens.customers.data import last_order_date
from shoplens.customers.features import FeatureCache
from shoplens.customers.profile import build_profile, profile_card
from shoplens.customers.rfm import compute_rfm, segment_summary
from shoplens.customers.rules import apply_rules, generate_rules
from shoplens.customers.segments import build_segments
from shoplens.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Run every customer analysis on the demo warehouse and report it."""
    wh, con = ctx.warehouse, ctx.console
    end = last_order_date(wh)
    features = FeatureCache()  # churn, segments, profile and rules share the features at each date

    # RFM
    rfm = compute_rfm(wh)
    rfm_sum = segment_summary(rfm)
    shown = rfm_sum.assign(pct_customers=lambda d: (d["share_of_customers"] * 100).round(1),
                           pct_revenue=lambda d: (d["share_of_revenue"] * 100).round(1),
                           days_since_order=lambda d: d["avg_recency_days"].round(0), orders=lambda d: d["avg_orders"].round(1))
    con.print(frame_table(shown[["segment", "segment_zh", "customers", "pct_customers", "pct_revenue", "days_since_order", "orders"]],
                          title="RFM segments (English / 中文)"))
    for row in rfm_sum.itertuples():
        con.print(f"  [bold]{escape(row.segment)}[/bold] ({escape(row.segment_zh)}): {escape(row.meaning)}. "
                  f"Do: {escape(row.action)}.")
    fig_rfm = px.bar(rfm_sum, x="segment", y="customers", color="share_of_revenue", hover_data=["segment_zh", "action"],
                     title="RFM segments: customers (colour: share of revenue)", color_continuous_scale="Blues")

    # Behavioural segments
    seg = build_segments(wh, cache=features)
    con.print(frame_table(seg.model.selection_.round(3), title="Number of segments: silhouette and bootstrap stability"))
    for row in seg.profiles.itertuples():
        con.print(f"[bold]{escape(row.segment_name)}[/bold]: {escape(row.description)}")
    fig_seg = px.bar(seg.profiles, x="segment_name", y=["share_of_customers", "share_of_revenue"], barmode="group",
                     title="Behavioural segments: share of customers vs share of revenue")

    # CLV: honest check on a holdout, then scores on all history
    cal_end = end - timedelta(days=121)
    check = fit_clv(wh, calibration_end=cal_end, holdout_end=end - timedelta(days=1), write=False, register=False)
    con.print(rows_table([{"measure": k, "value": round(v, 2)} for k, v in check.holdout.items() if not k.startswith("holdout_")],
                         title=f"CLV holdout check: fitted to {cal_end}, predicted the next 120 days"))
    clv = fit_clv(wh)
    params = pd.DataFrame([{"model": m, **p} for m, p in clv.summary(4).items() if m in ("bgnbd", "pareto_nbd", "gamma_gamma")])
    con.print(frame_table(params, title="Lifetime-value model parameters (weeks)"))
    if clv.dropout()["note"]:
        con.print(escape(clv.dropout()["note"]), style="dim")
    by_freq = holdout_by_frequency(check)
    fig_hold = go.Figure([go.Bar(x=by_freq["frequency"], y=by_freq["actual"], name="actual"),
                          go.Bar(x=by_freq["frequency"], y=by_freq["predicted_bgnbd"], name="BG/NBD predicted")])
    fig_hold.update_layout(title="Holdout: mean purchases per customer by calibration repeat purchases",
                           xaxis_title="repeat purchases in calibration (7 = 7+)", yaxis_title="purchases in holdout")
    fig_clv = px.histogram(clv.customers[clv.customers["clv"] > 0], x="clv", nbins=60, log_y=True,
                           title="12-month discounted CLV per customer"
                           + (f" ({ctx.report.currency})" if ctx.report.currency else ""))

    # Churn
    churn = fit_churn(wh, cache=features)
    con.print(rows_table([{"metric": k, "value": (round(v, 3) if isinstance(v, float) else v)} for k, v in churn.metrics.items()],
                         title="Churn model validated on the later window"))
    top = exposable(wh, churn.scores.sort_values("churn_risk", ascending=False).head(20))
    top = top.head(5)[["customer_id", "churn_risk", "reasons"]]
    con.print("[bold]Highest churn risk and why[/bold]")
    for row in top.itertuples():
        con.print(f"  customer {escape(str(row.customer_id))}: {row.churn_risk:.0%} risk: {escape(str(row.reasons))}")
    cal = churn.calibration
    fig_cal = go.Figure([go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name="model"),
                         go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"})])
    fig_cal.update_layout(title=f"Churn calibration on the later window (ROC-AUC {churn.metrics['roc_auc']:.2f})",
                          xaxis_title="predicted churn risk", yaxis_title="observed churn rate")

    # Cohorts and patterns
    coh = compute_cohorts(wh)
    matrix = coh.matrix()
    matrix.index = matrix.index.astype(str)
    fig_coh = px.imshow(matrix, text_auto=".0%", color_continuous_scale="Blues", aspect="auto",
                        labels={"x": "months since first purchase", "y": "acquisition month", "color": "active"},
                        title="Cohort retention: share of each month's new customers buying N months later")
    wk = coh.weekday_hour.pivot_table(index="day", columns="hour", values="orders", aggfunc="sum").fillna(0)
    fig_wk = px.imshow(wk, aspect="auto", color_continuous_scale="Oranges", title="Orders by weekday and hour (UTC)")
    an = coh.anomalies
    fig_an = px.line(an, x="week", y="revenue", title="Weekly revenue with anomalies (robust z > 3.5)")
    flagged = an[an["revenue_anomaly"]]
    fig_an.add_scatter(x=flagged["week"], y=flagged["revenue"], mode="markers", marker={"color": "red", "size": 10},
                       name="anomaly")
    con.print(frame_table(coh.intervals, title="Days between orders"))

    # Profiles and rules
    profile = build_profile(wh, cache=features)
    cards = profile_card(exposable(wh, profile.sort_values("clv", ascending=False).head(20)).head(3))
    for rec in cards.to_dict("records"):
        con.print(rows_table([{"field": k, "value": v} for k, v in rec.items()], title=f"Customer {rec['customer_id']}"))
    rules = generate_rules(wh, cache=features)
    tags = apply_rules(wh, cache=features)
    r = rules.rules
    con.print("[bold]Generated rules (lift on the mining window -> on the later window)[/bold]")
    for row in r.itertuples():
        con.print(f"  {escape(row.rule_id)} {escape(row.rule)}  [dim]support {row.support}, lift {row.lift_mining:.2f} -> {row.lift_later:.2f}"
                  f"{'' if row.validated else ' (not validated)'}[/dim]")
    for row in r.head(3).itertuples():
        con.print(f"[bold]{escape(row.rule_id)}[/bold] {escape(row.explanation)}\n     {escape(row.explanation_zh)}")
    con.print(f"Rules applied: {tags['customer_id'].nunique():,} customers tagged (table customer_rule_tags).")
    fig_rules = px.bar(r, x="rule_id", y=["lift_mining", "lift_later"], barmode="group", hover_data=["rule"],
                       title="Rule lift: mining window vs later window")

    nba = profile["next_best_action"].value_counts().rename_axis("next_best_action").reset_index(name="customers")
    ctx.report.add_section(
        "Customers", key="customers",
        text=("Who the customers are, what they are worth and who is about to leave. RFM segments follow the classic "
              "grid (labels in English and Chinese); behavioural segments are found automatically and described in "
              "plain words. CLV comes from BG/NBD + Gamma-Gamma fitted by maximum likelihood; churn risk from a "
              "gradient-boosted model validated on a later 90-day window; rules are mined on one window and their "
              "lift re-measured on the next.\n\n" + (clv.dropout()["note"] or "") + "\n\n" + "\n\n".join(f"{p.segment_name}: {p.description}" for p in seg.profiles.itertuples())),
        figures=[fig_rfm, fig_seg, fig_clv, fig_hold, fig_cal, fig_coh, fig_wk, fig_an, fig_rules],
        tables=[("RFM segments", rfm_sum[["segment", "segment_zh", "customers", "share_of_revenue", "meaning", "action"]]),
                ("Behavioural segments", seg.profiles[["segment_name", "customers", "share_of_revenue", "description"]]),
                ("CLV parameters", params),
                ("CLV holdout check", pd.DataFrame([check.holdout])),
                ("Churn model (later window)", pd.DataFrame([churn.metrics])),
                ("Churn drivers", churn.importance.head(8)),
                ("Highest churn risk and why", top),
                ("Next best actions", nba),
                ("Generated rules", r[["rule_id", "rule", "rule_zh", "support", "lift_mining", "lift_later", "validated", "explanation"]]),
                ("Category trends", coh.category_trends.head(10))],
    )
    ctx.results["customers"] = {"rfm": rfm, "segments": seg.assignments, "clv": clv.customers, "churn": churn.scores,
                                "profile": profile, "rules": r, "churn_metrics": churn.metrics,
                                "clv_holdout": check.holdout}

"""``shoplens customers ...``: RFM, segments, CLV, churn, cohorts, profile and rules.

Each command computes its result (written to a ``customer_*`` table) and prints
a table, or one JSON object with ``--json``. Per-customer rows leave only for
customers who allow personalisation, with the shop's own ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table
from shoplens.customers.output import exposable, records

customers_app = typer.Typer(help="Customer insight: RFM, segments, lifetime value, churn, cohorts, profiles, rules.",
                            no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="analysis date YYYY-MM-DD (exclusive) [default: day after the last purchase]",
                                                show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", help="per-customer rows to print / include in JSON")]


@customers_app.command("rfm")
def rfm_cmd(ctx: typer.Context, as_of: AsOfOpt = None, limit: LimitOpt = 20, json_out: JsonOpt = False) -> None:
    """Recency, frequency, monetary value, 1-5 scores and named segments (English and Chinese).

    JSON: {as_of, segments: [{segment, segment_zh, customers, share_of_revenue, ...}], customers: [...], count,
    evaluation, table}. An --as-of before the day after the last purchase is a look back: written to
    `eval_customer_rfm`, never over the served `customer_rfm`.
    """
    from shoplens.customers.data import last_order_date
    from shoplens.customers.rfm import compute_rfm, segment_summary
    from shoplens.store.warehouse import serves

    with open_warehouse(ctx) as wh:
        rfm = compute_rfm(wh, as_of=as_of)
        evaluation = not serves(rfm["as_of"].iloc[0], last_order_date(wh))
        summary = segment_summary(rfm)
        cols = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code",
                "segment", "segment_zh"]
        shown = exposable(wh, rfm[cols].sort_values("monetary", ascending=False))
    if json_out:
        print_json({"as_of": rfm["as_of"].iloc[0], "segments": records(summary),
                    "customers": records(shown.head(limit)), "count": len(shown), "evaluation": evaluation,
                    "table": ("eval_" if evaluation else "") + "customer_rfm"})
        return
    console.print(frame_table(summary[["segment", "segment_zh", "customers", "share_of_customers", "share_of_revenue",
                                       "avg_recency_days", "avg_orders", "avg_monetary", "action"]],
                              title=f"RFM segments as of {rfm['as_of'].iloc[0]:%Y-%m-%d}"))
    console.print(frame_table(shown.head(limit), title="Top customers by net spend"))


@customers_app.command("clv")
def clv_cmd(
    ctx: typer.Context,
    calibration_end: Annotated[Optional[str], typer.Option("--calibration-end", help="last day (YYYY-MM-DD) of the fitting period [default: last purchase day]", show_default=False)] = None,
    holdout_end: Annotated[Optional[str], typer.Option("--holdout-end", help="last day of the holdout used to evaluate predictions [default: last purchase day]", show_default=False)] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="day or week: unit of recency, T and the parameters")] = "week",
    horizon_months: Annotated[int, typer.Option("--horizon-months", help="CLV horizon in months")] = 12,
    monthly_discount: Annotated[float, typer.Option("--monthly-discount", help="monthly discount rate of CLV")] = 0.01,
    limit: LimitOpt = 15,
    json_out: JsonOpt = False,
) -> None:
    """Lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma fitted on all customers, with a holdout check.

    Same-day orders of a customer are merged into one transaction; time is whole days
    between purchase dates and the calibration end (/7 for weeks).
    With --calibration-end before the last purchase day this is an evaluation run: the rows go to
    `eval_customer_clv` and no model is registered (the served `customer_clv` is left as it is).
    JSON: {bgnbd: {r, alpha, a, b}, pareto_nbd: {r, alpha, s, beta}, gamma_gamma: {p, q, v},
    holdout: {actual_total, predicted_total_bgnbd, predicted_total_pareto_nbd, mae_bgnbd},
    dropout: {identified, lr_bgnbd, identified_pareto_nbd, lr_pareto_nbd, p_alive_basis, note}, evaluation, table}.
    When the history shows no permanent dropout, p_alive is the probability of a purchase within 90 days
    (dropout.p_alive_basis) and dropout.note says why.
    """
    from shoplens.customers.clv import fit_clv

    with open_warehouse(ctx) as wh:
        res = fit_clv(wh, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit,  # type: ignore[arg-type]
                      horizon_months=horizon_months, monthly_discount=monthly_discount)
        top = exposable(wh, res.customers.sort_values("clv", ascending=False))
    summary = res.summary()
    holdout_keys = ("actual_total", "predicted_total_bgnbd", "predicted_total_pareto_nbd", "mae_bgnbd")
    summary["holdout"] = {k: res.holdout.get(k) for k in holdout_keys}
    summary["evaluation"] = res.evaluation
    summary["table"] = res.table
    if json_out:
        print_json(summary)
        return
    if res.evaluation:
        console.print(f"Evaluation run (calibration to {res.calibration_end}, holdout to {res.holdout_end}): "
                      f"rows written to {res.table}; the served customer_clv and the promoted models are unchanged.")
    params = [{"model": m, **{k: round(v, 4) for k, v in summary[m].items()}} for m in ("bgnbd", "pareto_nbd", "gamma_gamma")]
    for p in params:
        console.print(rows_table([p], title=f"{p.pop('model')} parameters (time unit: {time_unit})"))
    if res.holdout.get("actual_total") is not None:
        console.print(rows_table([res.holdout], title=f"Holdout {res.calibration_end} .. {res.holdout_end}"))
    if summary["dropout"]["note"]:
        console.print(escape(summary["dropout"]["note"]), style="yellow")
    cols = ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases", "expected_spend", "clv"]
    console.print(frame_table(top[cols].head(limit), title=f"Highest {horizon_months}-month discounted CLV"))


@customers_app.command("segments")
def segments_cmd(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    min_k: Annotated[int, typer.Option("--min-k", help="fewest segments to consider")] = 3,
    max_k: Annotated[int, typer.Option("--max-k", help="most segments to consider")] = 8,
    attributes: Annotated[Optional[str], typer.Option(
        "--attributes", help="customer attributes to segment on too, comma-separated (e.g. age,income); "
                             "see `shoplens customers attributes`")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Behavioural segments on fused features; the number of segments is chosen automatically
    (best silhouette among bootstrap-stable partitions) and each is described in plain words.
    With --attributes, the customer attributes named (demographics, tiers) are features too.

    JSON: {as_of, k, selection: [{k, silhouette, stability_ari, smallest_share}], segments: [{segment_id,
    segment_name, customers, share_of_customers, share_of_revenue, avg_<feature>..., description, traits, description_zh, traits_zh}]};
    the descriptions (English and Chinese) quote the avg_ columns.
    """
    from shoplens.customers.segments import build_segments
    from shoplens.errors import UserInputError

    if not 2 <= min_k <= max_k:
        raise UserInputError(f"--min-k {min_k} / --max-k {max_k}: need 2 <= min-k <= max-k")
    with open_warehouse(ctx) as wh:
        names = [a.strip() for a in (attributes or "").split(",") if a.strip()]
        res = build_segments(wh, as_of=as_of, k_range=(min_k, max_k), attributes=names)
    as_of_value = res.assignments["as_of"].iloc[0]
    if json_out:
        print_json({"as_of": as_of_value, "k": res.model.n_segments_, "selection": records(res.model.selection_),
                    "segments": records(res.profiles)})
        return
    console.print(frame_table(res.model.selection_, title="Choice of the number of segments"))
    for row in res.profiles.itertuples():
        console.print(f"[bold]{escape(row.segment_name)}[/bold]: {escape(row.description)}")


@customers_app.command("churn")
def churn_cmd(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    horizon_days: Annotated[int, typer.Option("--horizon-days", help="a customer churns after no purchase for this many days")] = 90,
    limit: LimitOpt = 15,
    json_out: JsonOpt = False,
) -> None:
    """Churn risk per customer with its top reasons, from a gradient-boosted model validated on a later window.

    JSON: {metrics: {roc_auc, pr_auc, brier, baseline_recency_roc_auc, ...}, calibration: [...],
    customers: [{customer_id, churn_risk, risk_band, reasons}], count}.
    """
    from shoplens.customers.churn import fit_churn

    with open_warehouse(ctx) as wh:
        res = fit_churn(wh, as_of=as_of, horizon_days=horizon_days)
        shown = exposable(wh, res.scores.sort_values("churn_risk", ascending=False)[["customer_id", "churn_risk", "risk_band", "reasons"]])
    if json_out:
        print_json({"metrics": res.metrics, "calibration": records(res.calibration),
                    "importance": records(res.importance), "customers": records(shown.head(limit)), "count": len(shown)})
        return
    console.print(rows_table([res.metrics], title="Churn model, validated on the later window"))
    console.print(frame_table(res.calibration, title="Calibration on the later window (risk deciles)"))
    console.print(frame_table(shown.head(limit), title="Highest churn risk"))


@customers_app.command("cohorts")
def cohorts_cmd(ctx: typer.Context, as_of: AsOfOpt = None, json_out: JsonOpt = False) -> None:
    """Monthly acquisition-cohort retention, days between orders, weekday/hour patterns, category trends, anomalies.

    JSON: {retention: [{cohort, months_since, cohort_customers, active_customers, retention}], intervals: [...],
    weekday_hour: [...], category_trends: [...], anomalies: [...]} (anomalies: flagged weeks only).
    """
    from shoplens.customers.cohorts import compute_cohorts

    with open_warehouse(ctx) as wh:
        res = compute_cohorts(wh, as_of=as_of)
    flagged = res.anomalies[res.anomalies["revenue_anomaly"] | res.anomalies["orders_anomaly"]]
    if json_out:
        print_json({"retention": records(res.retention), "intervals": records(res.intervals),
                    "weekday_hour": records(res.weekday_hour), "category_trends": records(res.category_trends),
                    "anomalies": records(flagged)})
        return
    matrix = res.matrix()
    matrix = matrix[[c for c in matrix.columns if c <= 6]].reset_index()
    matrix["cohort"] = matrix["cohort"].astype(str)
    matrix.columns = [str(c) for c in matrix.columns]
    console.print(frame_table(matrix.round(2), title="Retention by acquisition month (share active N months later)"))
    console.print(frame_table(res.intervals, title="Days between orders"))
    console.print(frame_table(res.category_trends.head(10), title="Category trends (last 3 months vs the 3 before)"))
    console.print(frame_table(flagged, title="Anomalous weeks (robust z > 3.5)"))


@customers_app.command("attributes")
def attributes_cmd(
    ctx: typer.Context,
    customer_id: Annotated[Optional[str], typer.Argument(help="the shop's customer id; omit for every attribute")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Customer attributes a customers file brought (demographics, tiers, tags): each attribute with its
    type, how many customers have it and its most common values; or one customer's attributes.

    JSON: {data: [{attribute, type, customers, common_values}], count}; for CUSTOMER_ID {customer_id, attributes}.
    """
    from shoplens.customers.attributes import attribute_summary, customer_attributes
    from shoplens.errors import NotFoundError, UserInputError
    from shoplens.privacy.consent import _check_internal
    from shoplens.privacy.ids import to_internal

    with open_warehouse(ctx) as wh:
        if customer_id is None:
            summary = attribute_summary(wh)
            if json_out:
                print_json({"data": summary, "count": len(summary)})
                return
            if not summary:
                console.print("No customer attributes yet: ingest a customers file with columns beyond the canonical "
                              "ones (see docs/own-data.md#customer-attributes).")
                return
            console.print(rows_table([{**r, "common_values": ", ".join(map(str, r["common_values"]))} for r in summary],
                                     title="Customer attributes"))
            return
        internal = to_internal(wh, [customer_id])[0]
        if internal is None or not wh.con.execute("SELECT count(*) FROM customers WHERE customer_id = ?",
                                                  [internal]).fetchone()[0]:
            raise NotFoundError(f"no customer {customer_id!r} in the warehouse")
        consent = _check_internal(wh, [internal], "profile")
        if internal not in consent:
            raise UserInputError(f"customer {customer_id!r}: {consent.reason(internal)}; no attributes are shown")
        attributes = customer_attributes(wh, internal)
    if json_out:
        print_json({"customer_id": customer_id, "attributes": attributes})
        return
    console.print(rows_table([{"attribute": k, "value": v} for k, v in attributes.items()],
                             title=f"Customer {customer_id}"))


@customers_app.command("profile")
def profile_cmd(
    ctx: typer.Context,
    customer_id: Annotated[Optional[str], typer.Argument(help="the shop's customer id; omit for the most valuable customers")] = None,
    as_of: AsOfOpt = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="recompute RFM, segments, CLV and churn first")] = False,
    limit: LimitOpt = 10,
    json_out: JsonOpt = False,
) -> None:
    """The customer-360 profile: behaviour, signals, segment, CLV, churn risk and next best action, each with its reason.

    JSON: one profile object for CUSTOMER_ID (with ``attributes``: the customer attributes a customers
    file brought, typed, by name), else {data: [profiles by CLV], count}.
    """
    from shoplens.customers.profile import profile_card
    from shoplens.services import customer_profile, customer_profiles

    with open_warehouse(ctx) as wh:
        if customer_id is not None:
            row = customer_profile(wh, customer_id, as_of=as_of, refresh=refresh)
            if json_out:
                print_json(records(row)[0])
                return
            card = profile_card(row)
            fields = [{"field": k, "value": v} for k, v in records(card)[0].items()]
            fields += [{"field": f"attribute {k}", "value": v} for k, v in row["attributes"].iloc[0].items()]
            console.print(rows_table(fields, title=f"Customer {customer_id}"))
            return
        shown = customer_profiles(wh, as_of=as_of, refresh=refresh)
    if json_out:
        print_json({"data": records(shown.head(limit)), "count": len(shown)})
        return
    cols = ["customer_id", "segment", "behaviour_segment", "clv", "churn_risk", "next_best_action", "action_reason"]
    console.print(frame_table(shown[cols].head(limit), title="Customer profiles (most valuable first)"))


@customers_app.command("rules")
def rules_cmd(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    horizon_days: Annotated[int, typer.Option("--horizon-days", help="outcome window after each cut-off")] = 90,
    min_support: Annotated[float, typer.Option("--min-support", help="smallest share of customers a rule must cover")] = 0.03,
    min_lift: Annotated[float, typer.Option("--min-lift", help="smallest lift on the mining window")] = 1.3,
    export: Annotated[Optional[Path], typer.Option("--export", help="write the rules to this .yaml/.yml or .json file")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="tag today's matching customers with each validated rule")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Generate business rules with support and lift measured on a later window (English + Chinese).

    JSON: {mining_cutoff, validation_cutoff, horizon_days, rules: [{rule_id, rule, rule_zh, support, lift_mining,
    lift_later, validated, explanation, explanation_zh, ...}], tags: {rule_id: customers} (with --apply)}.
    """
    from shoplens.customers.rules import apply_rules, generate_rules
    from shoplens.store.files import register_file

    with open_warehouse(ctx) as wh:
        res = generate_rules(wh, as_of=as_of, horizon_days=horizon_days, min_support=min_support, min_lift=min_lift)
        tags = apply_rules(wh, as_of=as_of) if apply else None
        if export is not None:  # recorded as a shoplens file holding no customer data
            register_file(wh, res.export(export), "rules", names_customers=False)
    out: dict[str, Any] = {"mining_cutoff": res.mining_cutoff, "validation_cutoff": res.validation_cutoff,
                           "horizon_days": res.horizon_days, "rules": res.to_records()}
    if tags is not None:
        out["tags"] = {str(k): int(v) for k, v in tags["rule_id"].value_counts().sort_index().items()}
        out["tagged_customers"] = int(tags["customer_id"].nunique())
    if json_out:
        print_json(out)
        return
    console.print(frame_table(res.rules[["rule_id", "rule", "support", "lift_mining", "lift_later", "validated"]],
                              title=f"Rules mined after {res.mining_cutoff}, lift checked after {res.validation_cutoff}"))
    for r in res.rules.head(5).itertuples():
        console.print(f"[bold]{escape(r.rule_id)}[/bold] {escape(r.explanation)}\n     {escape(r.explanation_zh)}")
    if tags is not None:
        console.print(f"Tagged {out['tagged_customers']:,} customers (table customer_rule_tags): {escape(str(out['tags']))}")
    if export is not None:
        console.print(f"Rules written to {escape(str(export))}")


def register(app: typer.Typer) -> None:
    """Add ``shoplens customers ...`` to the main CLI."""
    app.add_typer(customers_app, name="customers")

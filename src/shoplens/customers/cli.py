"""``shoplens customers ...``: RFM, segments, CLV, churn, cohorts, profile and rules.

Each command computes its result (written to a ``customer_*`` table) and prints
a table, or one JSON object with ``--json``. Per-customer rows leave only for
customers who allow personalisation, with the shop's own ids.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import pandas as pd
import typer

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table
from shoplens.store.warehouse import Warehouse

customers_app = typer.Typer(help="Customer insight: RFM, segments, lifetime value, churn, cohorts, profiles, rules.",
                            no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="analysis date YYYY-MM-DD (exclusive) [default: day after the last purchase]",
                                                show_default=False)]
LimitOpt = Annotated[int, typer.Option("--limit", help="per-customer rows to print / include in JSON")]


def exposable(wh: Warehouse, frame: pd.DataFrame, column: str = "customer_id") -> pd.DataFrame:
    """Rows of customers who allow personalisation, with the shop's own ids (consent + pseudonyms)."""
    from shoplens.privacy.consent import allowed
    from shoplens.privacy.ids import to_external

    if frame.empty:
        return frame
    keep = set(allowed(wh, frame[column].astype(str).tolist(), "personalization"))
    out = frame[frame[column].astype(str).isin(keep)].copy()
    out[column] = to_external(wh, out[column].astype(str).tolist())
    return out


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@customers_app.command("rfm")
def rfm_cmd(ctx: typer.Context, as_of: AsOfOpt = None, limit: LimitOpt = 20, json_out: JsonOpt = False) -> None:
    """Recency, frequency, monetary value, 1-5 scores and named segments (English and Chinese).

    JSON: {as_of, segments: [{segment, segment_zh, customers, share_of_revenue, ...}], customers: [...], count}.
    """
    from shoplens.customers.rfm import compute_rfm, segment_summary

    with open_warehouse(ctx) as wh:
        rfm = compute_rfm(wh, as_of=as_of)
        summary = segment_summary(rfm)
        cols = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code",
                "segment", "segment_zh"]
        shown = exposable(wh, rfm[cols].sort_values("monetary", ascending=False))
    if json_out:
        print_json({"as_of": rfm["as_of"].iloc[0], "segments": records(summary),
                    "customers": records(shown.head(limit)), "count": len(shown)})
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
    JSON: {bgnbd: {r, alpha, a, b}, pareto_nbd: {r, alpha, s, beta}, gamma_gamma: {p, q, v},
    holdout: {actual_total, predicted_total_bgnbd, predicted_total_pareto_nbd, mae_bgnbd}}.
    """
    from shoplens.customers.clv import fit_clv

    with open_warehouse(ctx) as wh:
        res = fit_clv(wh, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit,  # type: ignore[arg-type]
                      horizon_months=horizon_months, monthly_discount=monthly_discount)
        top = exposable(wh, res.customers.sort_values("clv", ascending=False))
    summary = res.summary()
    holdout_keys = ("actual_total", "predicted_total_bgnbd", "predicted_total_pareto_nbd", "mae_bgnbd")
    summary["holdout"] = {k: res.holdout.get(k) for k in holdout_keys}
    if json_out:
        print_json(summary)
        return
    params = [{"model": m, **{k: round(v, 4) for k, v in summary[m].items()}} for m in ("bgnbd", "pareto_nbd", "gamma_gamma")]
    for p in params:
        console.print(rows_table([p], title=f"{p.pop('model')} parameters (time unit: {time_unit})"))
    if res.holdout.get("actual_total") is not None:
        console.print(rows_table([res.holdout], title=f"Holdout {res.calibration_end} .. {res.holdout_end}"))
    cols = ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases", "expected_spend", "clv"]
    console.print(frame_table(top[cols].head(limit), title=f"Highest {horizon_months}-month discounted CLV"))


def register(app: typer.Typer) -> None:
    """Add ``shoplens customers ...`` to the main CLI."""
    app.add_typer(customers_app, name="customers")

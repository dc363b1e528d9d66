"""Demo step: drift of the recent month against the training window (PSI per feature, text-model
confidence), model freshness from the registry, and how to serve it all."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from shoplens.cli_common import frame_table, rows_table
from shoplens.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    from shoplens.monitor.drift import MODERATE, SIGNIFICANT, check_drift
    from shoplens.monitor.retrain import staleness
    from shoplens.store.registry import ModelRegistry

    wh = ctx.warehouse
    drift = check_drift(wh, recent_days=30)
    shown = drift[["feature", "kind", "psi", "status", "reference_n", "current_n"]].round({"psi": 4})
    window = drift.iloc[0]
    ctx.console.print(frame_table(
        shown, title=f"Drift: last 30 days ({window['current_start']:%Y-%m-%d}..{window['current_end']:%Y-%m-%d}) vs "
                     f"training window ({window['reference_start']:%Y-%m-%d}..{window['reference_end']:%Y-%m-%d})"))
    models = ModelRegistry(wh).list() if wh.has_table("_models") else None
    fresh = []
    if models is not None and len(models):
        for row in models[models["status"] == "promoted"].itertuples():
            reasons = staleness(wh, row.name)
            fresh.append({"model": row.name, "version": row.version, "trained_at": row.created_at,
                          "data_end": row.data_end, "stale": "; ".join(reasons) or "fresh"})
        ctx.console.print(rows_table(fresh, title="Served models (shoplens retrain --if-stale retrains the stale ones)"))
    ctx.console.print("Serve the API and dashboard: [bold]shoplens keys create --role admin[/bold] then "
                      "[bold]shoplens serve[/bold] (http://127.0.0.1:8000/)")

    colors = ["#c62828" if s == "significant" else "#f9a825" if s == "moderate" else "#2e7d32" for s in drift["status"]]
    fig = go.Figure(go.Bar(x=drift["feature"], y=drift["psi"], marker_color=colors))
    for level, label in ((MODERATE, "moderate"), (SIGNIFICANT, "significant")):
        fig.add_hline(y=level, line_dash="dot", annotation_text=label)
    fig.update_layout(title="Population stability index: last 30 days vs training window", yaxis_title="PSI")
    ctx.report.add_section(
        "Monitoring", key="monitor",
        text="Each feature's distribution in the most recent 30 days is compared with the models' training window "
             "(population stability index over the reference deciles; above 0.1 is a moderate shift, above 0.25 a "
             "significant one that makes `shoplens retrain --if-stale` retrain). The same checks appear in "
             "`shoplens status`, the API (/api/v1/status) and the dashboard's data-quality page.",
        tables=[("Drift checks", shown)] + ([("Served models", pd.DataFrame(fresh))] if fresh else []),
        figures=[fig])
    ctx.results["monitor"] = {"drift": drift, "models": fresh}

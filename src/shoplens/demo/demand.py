"""Demo step: weekly demand forecasts with 80 % intervals per category and for the
top products, reorder advice and market trends.

>>> # run(ctx)  (the demand step of `shoplens demo`)
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shoplens.cli_common import frame_table
from shoplens.demand.series import demand_series
from shoplens.demand.service import forecast_demand, reorder_demand, trends_demand
from shoplens.demo.context import DemoContext

HORIZON = 8
HISTORY_WEEKS = 26


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame, keys: list[str], title: str) -> go.Figure:
    """Small multiples: weekly units (history) and the forecast with its 80 % band per key."""
    cols = 2
    rows = (len(keys) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[str(k)[:40] for k in keys], vertical_spacing=0.12)
    for i, key in enumerate(keys):
        r, c = i // cols + 1, i % cols + 1
        h = history[history["key"] == key].tail(HISTORY_WEEKS)
        f = forecast[forecast["key"] == key]
        show = i == 0
        fig.add_trace(go.Scatter(x=h["period_start"], y=h["units"], mode="lines", name="units sold",
                                 line={"color": "#1f3a5f"}, showlegend=show, legendgroup="h"), r, c)
        fig.add_trace(go.Scatter(x=pd.concat([f["period_start"], f["period_start"][::-1]]),
                                 y=pd.concat([f["hi80"], f["lo80"][::-1]]), fill="toself", mode="lines",
                                 line={"width": 0}, fillcolor="rgba(230,126,34,0.25)", name="80 % interval",
                                 showlegend=show, legendgroup="i"), r, c)
        fig.add_trace(go.Scatter(x=f["period_start"], y=f["forecast"], mode="lines+markers", name="forecast",
                                 line={"color": "#e67e22"}, showlegend=show, legendgroup="f"), r, c)
    fig.update_layout(title=title, height=260 * rows, margin={"t": 70})
    return fig


def run(ctx: DemoContext) -> None:
    wh, console = ctx.warehouse, ctx.console
    categories = forecast_demand(wh, horizon=HORIZON, freq="week", level="category", write=False)
    products = forecast_demand(wh, horizon=HORIZON, freq="week", level="product")
    cat_history = demand_series(wh, freq="week", level="category", until=categories.until)
    prod_history = demand_series(wh, freq="week", level="product", until=products.until)
    top_products = (prod_history.groupby("key")["revenue"].sum().nlargest(6).index.tolist())
    top_categories = categories.forecast.groupby("key")["forecast"].sum().nlargest(6).index.tolist()
    names = wh.query("SELECT product_id, name FROM products").set_index("product_id")["name"]

    console.print(f"Weekly forecasts from {products.summary()['first_period']} for {HORIZON} weeks: "
                  f"{categories.summary()['series']} categories, {products.summary()['series']:,} products; "
                  "models chosen per product: " + ", ".join(f"{k} {v:,}" for k, v in products.summary()["models"].items()))
    cat_table = (categories.forecast.groupby("key")
                 .agg(forecast=("forecast", "sum"), lo80=("lo80", "sum"), hi80=("hi80", "sum"), model=("model", "first"))
                 .sort_values("forecast", ascending=False).reset_index()
                 .rename(columns={"key": "category", "forecast": f"units next {HORIZON} weeks",
                                  "lo80": "sum of lo80", "hi80": "sum of hi80"}))
    console.print(frame_table(cat_table, title=f"Category demand, next {HORIZON} weeks"))

    advice = reorder_demand(wh, forecast=products.forecast, lead_time_days=14, service_level=0.95, cover_days=28)
    cols = ["product_id", "name", "lead_time_demand", "safety_stock", "reorder_point", "order_quantity",
            "expected_short_per_cycle", "fill_rate", "expected_excess_at_arrival"]
    console.print(frame_table(advice[cols], title="Reorder advice: 14-day lead time, 95 % cycle service level",
                              max_rows=10))

    cat_trends = trends_demand(wh, level="category", weeks=26)
    prod_trends = trends_demand(wh, level="product", weeks=26, write=False)
    trend_cols = [c for c in ["key", "trend", "slope_pct_per_week", "p_value", "units", "units_change_pct",
                              "negative_share_earlier", "negative_share_recent", "complaints_rising_while_falling"]
                  if c in cat_trends.columns]
    console.print(frame_table(cat_trends[trend_cols], title="Category trends, last 26 weeks (share of shop demand)"))
    movers = prod_trends[prod_trends["trend"].isin(["rising", "falling"])].copy()
    movers.insert(1, "name", movers["key"].map(names))
    console.print(frame_table(movers[["key", "name", "trend", "slope_pct_per_week", "p_value", "units"]],
                              title="Products rising or falling most significantly", max_rows=10))
    launches = prod_trends[prod_trends["trend"] == "new"].sort_values("units", ascending=False).copy()
    launches.insert(1, "name", launches["key"].map(names))
    launch_cols = ["key", "name", "first_sale", "weeks_since_launch", "units_first_4_weeks", "units_last_4_weeks",
                   "ramp_up_ratio"]

    counts = prod_trends["trend"].value_counts().to_dict()
    ctx.results["demand"] = {"products": products.summary(), "categories": categories.summary(),
                             "trend_counts": counts}
    label = {k: f"{k} {names.get(k, '')}"[:40] for k in top_products}
    prod_fc = products.forecast.assign(key=products.forecast["key"].map(label).fillna(products.forecast["key"]))
    prod_hist = prod_history.assign(key=prod_history["key"].map(label).fillna(prod_history["key"]))
    ctx.report.add_section(
        "Demand", key="demand",
        text=(f"Weekly demand (units sold, cancellations and returns kept apart) forecast {HORIZON} weeks ahead with "
              "80 % intervals. Each series gets the model that won a rolling cross-validation among seasonal naive, "
              "AutoETS, AutoARIMA and the intermittent-demand methods (Croston SBA, ADIDA, IMAPA, TSB); intervals "
              "are calibrated on the cross-validation errors.\n\n"
              "Reorder advice assumes a 14-day lead time and a 95 % chance of no stock-out per cycle; trends test "
              f"each category's share of shop demand over 26 weeks (Mann-Kendall, Theil-Sen slope). Products: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + "."),
        figures=[
            forecast_figure(cat_history, categories.forecast, top_categories, "Category demand: history and forecast"),
            forecast_figure(prod_hist, prod_fc, [label[k] for k in top_products],
                            "Top products by revenue: history and forecast"),
        ],
        tables=[
            (f"Category demand, next {HORIZON} weeks", cat_table),
            ("Reorder advice (largest lead-time demand first)", advice[cols]),
            ("Category trends", cat_trends[trend_cols]),
            ("Products rising or falling", movers[["key", "name", "trend", "slope_pct_per_week", "p_value", "units"]]),
            ("New products: ramp-up", launches[launch_cols]),
        ],
    )

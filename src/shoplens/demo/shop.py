"""Demo steps about the shop as a whole: load the bundled files (with the accounting and the
quarantine reasons) and the overview of KPIs, revenue, categories and products."""

from __future__ import annotations

import pandas as pd
import plotly.express as px

from shoplens.cli_common import accounting_rows, accounting_title, fmt, frame_table, ingest_with_progress, rows_table
from shoplens.demo.context import DemoContext
from shoplens.formatting import count, counted, money, percent, when
from shoplens.insights.overview import overview
from shoplens.insights.report import kpi_html
from shoplens.insights.quality import quarantine_reasons
from shoplens.services import demo_jobs


def step_ingest(ctx: DemoContext) -> None:
    """Load every file of the demo shop (the privacy policy applied) and show the accounting."""
    results = ingest_with_progress(ctx.warehouse, ctx.settings, ctx.console, demo_jobs(ctx.data_dir))
    rows = accounting_rows(results)
    ctx.console.print(rows_table(rows, title=accounting_title(results)))
    q = quarantine_reasons(ctx.warehouse, limit=10)  # the shop's ids, never pseudonyms
    ctx.report.add_section(
        "Data", key="data",
        text="Every file of the demo shop was validated on the way in; rows that failed a check are kept in "
        "quarantine with the reason, never dropped silently.",
        tables=[("Ingest accounting", pd.DataFrame(rows)), ("Quarantine reasons", q)],
    )
    ctx.results["ingest"] = results
    if ctx.report.currency is None:  # the currency the shop's settings or its orders state, never assumed
        from shoplens.insights.shop_report import shop_currency

        ctx.report.currency = shop_currency(ctx.warehouse)
    files = sum(len(r.files) for r in results)
    quarantined = sum(r.quarantined for r in results)
    ctx.say(f"{counted(sum(r.loaded + r.updated for r in results), 'row')} loaded into "
            f"{counted(len({r.table for r in results}), 'table')} from {counted(files, 'file')}; "
            + (f"{counted(quarantined, 'row')} quarantined with the reason" if quarantined else "nothing quarantined"))


def step_overview(ctx: DemoContext) -> None:
    """The shop's KPIs, revenue by month, top categories and products."""
    ov = overview(ctx.warehouse)
    k = ov["kpis"]
    cur = k.get("currency")
    items = [
        ("customers", count(k["customers"])),
        ("orders", count(k["orders"])),
        ("net revenue", money(k["revenue"], cur)),
        ("average order value", money(k["average_order_value"], cur)),
        ("repeat-purchase rate", percent(k["repeat_purchase_rate"] or 0)),
        ("cancellations / returns", count(k["cancellations"])),
        ("period", f"{fmt(k['first_order'])[:10]} … {fmt(k['last_order'])[:10]}"),
    ]
    ctx.console.print(rows_table([{"metric": a, "value": b} for a, b in items], title="Shop overview"))
    ctx.console.print(frame_table(ov["revenue_by_month"], title="Revenue by month"))
    ctx.console.print(frame_table(ov["top_categories"], title="Top categories"))
    ctx.console.print(frame_table(ov["top_products"], title="Top products"))
    section = ctx.report.add_section("Overview", key="overview")
    section.blocks.append(kpi_html(items))
    rbm = ov["revenue_by_month"]
    ctx.report.add_figure(section, px.bar(rbm, x="month", y="revenue", title="Net revenue by month",
                                          hover_data=["orders", "customers"]))
    ctx.report.add_figure(section, px.bar(ov["top_categories"], x="revenue", y="category", orientation="h",
                                          title="Revenue by category").update_yaxes(autorange="reversed"))
    ctx.report.add_table(section, "Top products", ov["top_products"])
    ctx.results["overview"] = ov
    ctx.say(f"{counted(k['customers'], 'customer')}, {counted(k['orders'], 'order')}, net revenue "
            f"{money(k['revenue'], k.get('currency'))} from {when(k['first_order'])[:10]} to {when(k['last_order'])[:10]}")

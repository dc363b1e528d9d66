"""Demo step: score the demo shop's reviews and support messages, then show the
sentiment trend, top complaints with quotes, emerging complaints and the
support intent mix in the terminal and the report."""

from __future__ import annotations

import time

import plotly.express as px
from rich.markup import escape

from shoplens.cli_common import frame_table, rows_table
from shoplens.demo.context import DemoContext
from shoplens.errors import InsufficientDataError
from shoplens.text.analyze import analyze_warehouse
from shoplens.text.insights import (emerging_complaints, intent_mix, review_topics, sentiment_trend, top_entities,
                                    top_negative_aspects)


def run(ctx: DemoContext) -> None:
    wh = ctx.warehouse
    start = time.perf_counter()
    added = analyze_warehouse(wh)
    seconds = time.perf_counter() - start
    ctx.console.print(rows_table([{"table": k, "rows": v} for k, v in added.items()],
                                 title=f"Text analysis ({seconds:.1f} s)"))
    mix = wh.query("SELECT language, sentiment, count(*) AS reviews FROM text_reviews GROUP BY ALL ORDER BY ALL")
    ctx.console.print(frame_table(mix, title="Review sentiment by language"))

    trend = sentiment_trend(wh, by="all")
    by_category = sentiment_trend(wh, by="category", period="quarter")
    ctx.console.print(frame_table(trend, title="Review sentiment per month"))

    complaints = top_negative_aspects(wh, limit=8, quotes=2)
    shown = complaints.assign(quotes=complaints["quotes"].map(lambda q: " | ".join(x[:70] for x in q)),
                              product=complaints["product"].fillna("").str.slice(0, 28))
    shown = shown[["product_id", "product", "aspect", "negative", "mentions", "quotes"]]
    ctx.console.print(frame_table(shown, title="Top complaints (negative aspects per product, with quotes)"))
    ctx.console.print("[dim]The demo's reviews are real texts; the product each is linked to was assigned by the demo's "
                      "build script (datasets/demo/SOURCE.md), so a quote may not fit its product.[/dim]")

    try:
        emerging = emerging_complaints(wh, period="quarter")
        ctx.console.print(frame_table(emerging[["aspect", "period", "mentions", "negative_share", "negative_share_previous",
                                                "change", "p_value", "significant"]].round(3), title="Emerging complaints: latest quarter vs the one before "
                                      "(one-sided two-proportion z-test)"))
    except InsufficientDataError as exc:
        emerging = None
        ctx.console.print(f"[dim]emerging complaints: {escape(str(exc))}[/dim]")

    intents = intent_mix(wh, period="quarter")
    top_intents = wh.query("SELECT intent, count(*) AS messages, avg(intent_score) AS mean_confidence "
                           "FROM text_messages GROUP BY ALL ORDER BY messages DESC LIMIT 10")
    ctx.console.print(frame_table(top_intents, title="Support intents (top 10)"))

    try:
        topics = review_topics(wh, quotes=1)
        topics_shown = topics.assign(share=topics["share"].round(3), negative_share=topics["negative_share"].round(3),
                                     quotes=topics["quotes"].map(lambda q: " | ".join(x[:60] for x in q)))
        topics_shown = topics_shown[["language", "topic", "name", "reviews", "share", "negative_share", "quotes"]]
        ctx.console.print(frame_table(topics_shown, title="Review topics (NMF on TF-IDF, per language)", max_rows=20))
    except InsufficientDataError as exc:
        topics_shown = None
        ctx.console.print(f"[dim]review topics: {escape(str(exc))}[/dim]")
    entities = top_entities(wh, limit=10)
    ctx.console.print(frame_table(entities, title="Most mentioned entities (reviews and support messages)"))

    figures = [
        px.line(trend, x="period", y=["positive_share", "negative_share"], title="Review sentiment per month",
                labels={"value": "share of reviews", "variable": ""}),
        px.bar(by_category[by_category["reviews"] >= 10], x="period", y="negative_share", color="key", barmode="group",
               title="Negative share per product category per quarter (≥ 10 reviews)"),
        px.bar(intents, x="period", y="messages", color="intent", title="Support intent mix per quarter"),
    ]
    tables = [("Top complaints with quotes", shown), ("Support intents", top_intents)]
    if emerging is not None:
        tables.insert(1, ("Emerging complaints (latest quarter vs previous)", emerging.round(3)))
    if topics_shown is not None:
        tables.append(("Review topics", topics_shown))
    tables.append(("Most mentioned entities", entities))
    ctx.report.add_section(
        "Reviews and support messages", key="text",
        text=f"{added['text_reviews']:,} reviews and {added['text_messages']:,} support messages were scored by the "
        "shipped Chinese/English models (sentiment, aspects with evidence, support intent, entities; topics found "
        "with NMF per language). Complaints are aspect "
        "mentions read as negative, quoted from the reviews; an emerging complaint is an aspect whose negative share "
        "rose significantly versus the previous period.",
        tables=tables, figures=figures,
    )
    ctx.results["text"] = {"added": added, "seconds": seconds}

"""Demo step: real behaviour events streamed through the collector, in process.

The bundled slice of the Taobao UserBehavior log (60 shoppers' complete histories,
``datasets/demo/SOURCE.md``) is sent as Segment calls in /batch-sized requests through the
same code the REST collector runs (checks, de-duplication, the fsynced log), one request sent
twice as an SDK retry would, and folded into the warehouse in micro-batches. Each shopper's
events before their first purchase go under an anonymous device id and an ``identify`` at that
purchase merges them, as a storefront sees a visitor who signs in at checkout.
"""

from __future__ import annotations

import time

import pandas as pd

from shoplens.behaviour import funnel, sessions
from shoplens.cli_common import rows_table
from shoplens.demo.context import DemoContext
from shoplens.stream.collector import CollectResult, Collector, FoldResult
from shoplens.stream.presets import read_calls

SAMPLE = "taobao_userbehavior_sample.csv.gz"
REQUEST = 500  # events per /batch request (well under the SDKs' 500 KB)
FOLD_EVERY = 4  # requests between folds (the server folds every 0.5 s)


def run(ctx: DemoContext) -> None:
    wh, con = ctx.warehouse, ctx.console
    path = ctx.data_dir / SAMPLE
    if wh.engine_name == "spark" or not path.exists():
        con.print("The event collector writes DuckDB warehouses; skipped on this one.")
        return
    calls = list(read_calls(path, "taobao-userbehavior", anonymous_until_purchase=True))
    requests = [calls[i:i + REQUEST] for i in range(0, len(calls), REQUEST)]
    requests.insert(3, requests[2])  # an SDK retrying a request whose answer it lost
    collector = Collector(wh, ctx.settings)
    sent, folded, lags = CollectResult(), FoldResult(), []
    started = time.perf_counter()
    try:
        for n, request in enumerate(requests, start=1):
            sent.add(collector.collect(request))
            if n % FOLD_EVERY == 0 or n == len(requests):
                t0 = time.perf_counter()
                folded.add(collector.fold(wh))
                lags.append(time.perf_counter() - t0)
    finally:
        collector.close()
    seconds = time.perf_counter() - started
    behaviour = wh.query("SELECT event_name, count(*) AS events FROM events WHERE message_id LIKE 'taobao:%' "
                         "GROUP BY 1 ORDER BY 2 DESC")
    identifies = sum(1 for c in calls if c["type"] == "identify")
    con.print(f"{len(calls) - identifies:,} Taobao events of 60 shoppers (and {identifies} sign-ins) sent as "
              f"{len(requests)} /batch requests (one retried): {sent.accepted:,} accepted, {sent.duplicates:,} duplicates stored once, {len(sent.rejected)} rejected.",
              markup=False)
    con.print(f"Folded into the warehouse in {len(lags)} micro-batches ({seconds:.1f} s in all, longest fold "
              f"{max(lags):.2f} s): {folded.events.loaded:,} events, {folded.products.loaded:,} products seen in events.",
              markup=False)
    con.print(f"{folded.identities} anonymous visitors signed in at checkout and were stitched to their customer id "
              f"({folded.stitched_rows:,} earlier events moved to them).", markup=False)
    con.print(rows_table(behaviour.to_dict("records"), title="Events by name"))
    ctx.say(f"{sent.accepted:,} real Taobao events streamed through the collector ({sent.duplicates:,} re-sent "
            f"duplicates stored once, {folded.identities} visitors stitched at checkout)")
    steps, visits = _behaviour(ctx)
    live = _live_change(ctx, collector_for=lambda: Collector(wh, ctx.settings))
    if behaviour_line := "; ".join(ctx.results.pop(k) for k in ("events_funnel", "events_live") if k in ctx.results):
        ctx.say(behaviour_line)
    ctx.report.add_section(
        "Behaviour events", key="events",
        text=(f"{sent.accepted:,} real Taobao events streamed through the collector ({sent.duplicates:,} re-sent "
              f"duplicates stored once); {folded.identities} visitors stitched to customers at checkout."),
        tables=[("Events by name", behaviour),
                ("Collector accounting", pd.DataFrame([{"accepted": sent.accepted, "duplicates": sent.duplicates,
                                                        "rejected": len(sent.rejected), "folds": len(lags),
                                                        "identities stitched": folded.identities}])),
                ("Funnel: Product Viewed -> Product Added -> Order Completed, within 1 day", steps),
                ("Sessions (30 minutes of inactivity end one)", visits),
                ("A new visitor's recommendations before and after two product views (illustrative visitor)", live)])
    ctx.results["events"] = {"sent": sent.to_dict(), "folded": folded.to_dict(), "seconds": seconds}


def _behaviour(ctx: DemoContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The funnel and session figures of the streamed events (`shoplens events funnel|sessions`)."""
    con = ctx.console
    steps = funnel(ctx.warehouse, "Product Viewed,Product Added,Order Completed", window="1d").frame()
    steps = steps[["event", "users", "conversion", "drop_off", "median_seconds_to_convert"]]
    summary = sessions(ctx.warehouse).summary
    visits = pd.DataFrame([{k: summary[k] for k in ("sessions", "users", "events_per_session", "median_seconds",
                                                     "bounce_rate")}])
    con.print(rows_table(steps.to_dict("records"), title="Funnel within 1 day (shoplens events funnel)"))
    con.print(rows_table(visits.to_dict("records"), title="Sessions (shoplens events sessions)"))
    last = steps.iloc[-1]
    ctx.results["events_funnel"] = (f"funnel view -> cart -> order within a day: {int(steps.iloc[0]['users'])} "
                                    f"shoppers, {last['conversion']:.0%} ordered; {summary['sessions']:,} sessions, "
                                    f"{summary['bounce_rate']:.0%} bounced")
    return steps, visits


def _live_change(ctx: DemoContext, collector_for) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A new (illustrative) visitor views two of the shop's best sellers: their recommendations turn from
    popular to personal at the next fold, with reasons naming what they viewed."""
    from shoplens.errors import NotFoundError
    from shoplens.services import recommend

    wh, con = ctx.warehouse, ctx.console
    best = wh.query("""SELECT i.product_id FROM order_items i JOIN products p USING (product_id)
                       WHERE i.quantity > 0 GROUP BY 1 ORDER BY sum(i.quantity) DESC, 1 LIMIT 2""")["product_id"].tolist()
    visitor = "anon:demo-visitor"
    try:
        before = recommend(wh, [visitor], k=3, live=True)
    except NotFoundError as exc:  # no recommender trained in this demo run: nothing to show
        con.print(f"live recommendations skipped: {exc}", markup=False)
        return pd.DataFrame()
    collector = collector_for()
    try:
        collector.collect([{"type": "track", "event": "Product Viewed", "anonymousId": "demo-visitor",
                            "messageId": f"demo-visitor-{i}", "properties": {"product_id": p}}
                           for i, p in enumerate(best)])
        collector.fold(wh)
    finally:
        collector.close()
    after = recommend(wh, [visitor], k=3, live=True)
    table = pd.concat([before.assign(when="before the views"), after.assign(when="after the next fold")])
    table = table[["when", "product_id", "reason"]]
    con.print(rows_table(table.to_dict("records"), title="A new visitor's recommendations (illustrative visitor)"))
    ctx.results["events_live"] = ("a new visitor viewed 2 products: recommendations turned personal at the next "
                                  f"fold ({after['reason'].iloc[0] if len(after) else 'no answer'})")
    return table

"""The events demo step: the bundled Taobao slice streamed through the collector."""

from __future__ import annotations

from rich.console import Console

from shoplens.config import Settings
from shoplens.datasets import demo_data_dir
from shoplens.demo import events as demo
from shoplens.demo.context import DemoContext
from shoplens.insights.report import Report
from shoplens.privacy.ids import to_internal

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"


def test_demo_streams_real_events_with_a_retry_and_stitches_sign_ins(demo_wh) -> None:
    console = Console(record=True, width=160)
    ctx = DemoContext(settings=Settings(warehouse=demo_wh.path, secret=DEMO_SECRET), warehouse=demo_wh,
                      console=console, report=Report("test"), data_dir=demo_data_dir())
    demo.run(ctx)
    result = ctx.results["events"]
    # 6,156 rows of the slice + one identify per shopper who bought (34), one 500-event request sent twice
    assert result["sent"] == {"accepted": 6190, "duplicates": 500, "rejected": []}
    assert result["folded"]["events"]["loaded"] == 6156 and result["folded"]["identities"] == 34
    wh = demo_wh
    assert wh.con.execute("SELECT count(*) FROM events WHERE message_id LIKE 'taobao:%'").fetchall()[0][0] == 6156
    # user 1 bought nothing: anonymous throughout; user 100 bought: all of its history is under its id
    assert wh.con.execute("SELECT count(*) FROM events WHERE customer_id = ?", to_internal(wh, ["anon:tb-device-1"])).fetchall()[0][0] > 0
    assert wh.con.execute("SELECT count(*) FROM events WHERE customer_id = ?", to_internal(wh, ["anon:tb-device-100"])).fetchall()[0][0] == 0
    text = console.export_text()
    assert "500 duplicates stored once" in text and "34 anonymous visitors signed in at checkout" in text
    said = [line for lines in ctx.said.values() for line in lines]
    assert len(said) <= 2 and "funnel view -> cart -> order within a day" in said[1]


def test_demo_shows_funnel_sessions_and_a_visitors_recommendations_turning_personal(demo_wh) -> None:
    from shoplens.recs.service import train

    train(demo_wh, model="item_knn")
    console = Console(record=True, width=200)
    report = Report("test")
    ctx = DemoContext(settings=Settings(warehouse=demo_wh.path, secret=DEMO_SECRET), warehouse=demo_wh,
                      console=console, report=report, data_dir=demo_data_dir())
    demo.run(ctx)
    text = console.export_text()
    assert "Funnel within 1 day" in text and "Sessions (shoplens events sessions)" in text
    lines = " ".join(line for said in ctx.said.values() for line in said)
    assert "recommendations turned personal at the next fold (because you viewed" in lines
    assert "not personalised" in text and "because you viewed" in text  # before, then after

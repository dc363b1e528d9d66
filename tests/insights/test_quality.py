"""Data quality: quarantined rows by table and reason (shop ids, never pseudonyms) and recent ingest runs."""

from __future__ import annotations

import re

from shoplens.insights.quality import ingest_runs, quarantine_by_table, quarantine_reasons


def test_quarantine_counts_add_up_and_name_shop_ids(demo_wh, tmp_path):
    from shoplens.config import Settings
    from shoplens.ingest import ingest

    bad = tmp_path / "customers.csv"
    bad.write_text("customer_id,country,birth_year\nq-1,France,1985\n,Spain,1990\n,Spain,1991\nq-2,Italy,1700\n")
    ingest(demo_wh, [bad], table="customers",  # with the demo shop's secret, as the server ingests
           settings=Settings(warehouse=demo_wh.path, secret="test-secret-key-for-the-demo-suite-0123456789"))
    total = demo_wh.con.execute("SELECT count(*) FROM _quarantine").fetchone()[0]
    assert total > 0, "the demo shop has rows that fail a check"
    reasons = quarantine_reasons(demo_wh)
    assert reasons["rows"].sum() == quarantine_by_table(demo_wh)["rows"].sum() == total
    assert reasons["rows"].is_monotonic_decreasing
    assert not any(re.search(r"\bc[0-9a-f]{20}\b", r) for r in reasons["reason"])  # no pseudonym leaves
    assert len(quarantine_reasons(demo_wh, limit=1)) == 1


def test_ingest_runs_newest_first_and_limited(demo_wh):
    runs = ingest_runs(demo_wh)
    assert {"orders", "reviews"} <= set(runs["table"]) and runs["finished_at"].is_monotonic_decreasing
    assert len(ingest_runs(demo_wh, limit=2)) == 2
    assert (runs["read"] == runs["loaded"] + runs["updated"] + runs["quarantined"] + runs["duplicates"]).all()

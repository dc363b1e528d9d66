"""End to end: the demo on the bundled shop, as a new user runs it."""

from __future__ import annotations

import json
import re

from shoplens.formatting import money
from shoplens.config import Settings
from shoplens.insights.overview import kpis
from shoplens.store import Warehouse
from shoplens.store.warehouse import table_status

from tests.ingest.helpers import run_cli


def test_demo_end_to_end(tmp_path):
    wh_path = tmp_path / "shop" / "warehouse.duckdb"
    proc = run_cli("--warehouse", str(wh_path), "demo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Report:" in proc.stdout and "What changed" in proc.stdout and "What to do" in proc.stdout
    assert "Shop overview" not in proc.stdout  # a step's detail shows only with --verbose
    assert len(proc.stdout.splitlines()) < 80  # a short story
    report = wh_path.parent / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "Net revenue by month" in html and "plotly" in html.lower()
    assert '<script src="http' not in html and "<script src='http" not in html  # charts open offline
    with Warehouse(wh_path, read_only=True) as wh:
        k = kpis(wh)
        st = table_status(wh)
        acct = wh.query("SELECT table_name, \"read\", loaded, updated, quarantined, duplicates FROM _ingest_runs")
    assert k["customers"] > 1000 and k["orders"] > 4000 and 0 < k["repeat_purchase_rate"] < 1
    assert k["revenue"] > 1_000_000 and k["currency"] == "GBP"
    assert st["order_items"]["rows"] > 100_000 and st["reviews"]["rows"] > 2800  # the privacy step erases one customer
    assert (acct["read"] == acct.loaded + acct.updated + acct.quarantined + acct.duplicates).all()
    # the report was written after the last step that changes data (the privacy step's erasure):
    # its KPI tiles show the warehouse as it is now, as the API and the dashboard do
    tiles = dict((label, value) for value, label in re.findall(r'<div class="kpi"><b>([^<]*)</b>([^<]*)</div>', html))
    assert tiles["customers"] == f"{k['customers']:,}" and tiles["orders"] == f"{k['orders']:,}"
    assert tiles["net revenue"] == money(k["revenue"], "GBP") and tiles["net revenue"].startswith("£")
    assert re.search(r'<section id="summary">.*Last 30 days', html, re.S)  # the report opens with the summary
    # a second demo run rebuilds the warehouse instead of piling up
    again = run_cli("--warehouse", str(wh_path), "demo", "--only", "overview")
    assert again.returncode == 0, again.stderr[-2000:]
    st2 = json.loads(run_cli("--warehouse", str(wh_path), "status", "--json").stdout)
    loaded = int(acct.loc[acct.table_name == "order_items", "loaded"].sum())
    assert st2["tables"]["order_items"]["rows"] == loaded  # fresh: not piled on the first run


def test_demo_refuses_to_replace_real_data(tmp_path):
    wh_path = tmp_path / "w.duckdb"
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,ordered_at\nO1,2011-01-01\n")
    assert run_cli("--warehouse", str(wh_path), "ingest", "orders", str(orders)).returncode == 0
    proc = run_cli("--warehouse", str(wh_path), "demo")
    assert proc.returncode == 2 and "holds data that the demo did not create" in proc.stderr
    with Warehouse(wh_path, read_only=True) as wh:
        assert wh.row_count("orders") == 1


def test_settings_from_env_and_file(tmp_path, monkeypatch):
    cfg = tmp_path / "shoplens.toml"
    cfg.write_text('warehouse = "from-file.duckdb"\nmax_future_days = 3\n')
    monkeypatch.setenv("SHOPLENS_CONFIG", str(cfg))
    assert Settings().warehouse.name == "from-file.duckdb" and Settings().max_future_days == 3
    monkeypatch.setenv("SHOPLENS_WAREHOUSE", "from-env.duckdb")
    assert Settings().warehouse.name == "from-env.duckdb"

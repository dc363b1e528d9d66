"""Ingest benchmark: order_items scaled to N rows (real demo rows replicated with new
order ids), shoplens ingest (validation, references, de-duplication, upsert) against
a plain pandas read_csv + DuckDB insert baseline, in the same run.

    python bench/ingest.py --rows 10000000 --repeats 3

Each measurement runs in a fresh subprocess, so peak memory (max RSS) is its own, and so
is its CPU time (user + system, all threads, of the measured part): on a machine shared
with other jobs the wall time mostly measures the wait for a core, the CPU time does not.
Prints a table and a JSON line; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    """Canonical orders.csv and order_items.csv with ``rows`` order lines."""
    from shoplens.datasets import demo_data_dir

    items, orders = folder / "order_items.csv", folder / "orders.csv"
    if items.exists() and orders.exists():
        return orders, items
    con = duckdb.connect()
    src = demo_data_dir() / "online_retail_sample.csv.gz"
    con.execute(
        f"""CREATE TABLE base AS SELECT InvoiceNo AS order_id, StockCode AS product_id, Quantity AS quantity,
               UnitPrice AS unit_price, InvoiceDate AS ordered_at, CustomerID AS customer_id,
               row_number() OVER (PARTITION BY InvoiceNo ORDER BY StockCode) AS line_number
            FROM read_csv('{src}', all_varchar=true) WHERE UnitPrice::DOUBLE >= 0 AND Quantity::DOUBLE <> 0"""
    )
    n = con.execute("SELECT count(*) FROM base").fetchone()[0]
    copies = -(-rows // n)
    con.execute(
        f"""CREATE TABLE scaled AS SELECT b.order_id || '-' || r.i AS order_id, b.line_number, b.product_id,
               b.quantity, b.unit_price, b.ordered_at, b.customer_id
            FROM range({copies}) r(i), base b LIMIT {rows}"""
    )
    con.execute(f"COPY (SELECT order_id, line_number, product_id, quantity, unit_price FROM scaled) TO '{items}' (HEADER)")
    con.execute(
        f"COPY (SELECT order_id, any_value(customer_id) AS customer_id, min(ordered_at) AS ordered_at "
        f"FROM scaled GROUP BY order_id) TO '{orders}' (HEADER)"
    )
    return orders, items


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_shoplens(orders: Path, items: Path, workdir: Path) -> dict:
    from shoplens.config import load_settings
    from shoplens.services import ingest_files, open_warehouse

    # the path `shoplens ingest` takes: settings (env, shoplens.toml) -> warehouse -> ingest with the policy
    settings = load_settings(warehouse=workdir / "w.duckdb", memory_limit="1GB")
    with open_warehouse(settings) as wh:
        ingest_files(settings, wh, [orders], table="orders")
        t0, c0 = time.perf_counter(), cpu_seconds()
        r = ingest_files(settings, wh, [items], table="order_items")
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"seconds": seconds, "cpu_seconds": cpu, "read": r.read, "loaded": r.loaded}


def run_baseline(orders: Path, items: Path, workdir: Path) -> dict:
    import pandas as pd

    from shoplens.schema import TABLES, create_table_sql

    con = duckdb.connect(str(workdir / "b.duckdb"))
    con.execute(create_table_sql(TABLES["order_items"]))
    t0, c0 = time.perf_counter(), cpu_seconds()
    df = pd.read_csv(items, dtype={"order_id": str, "product_id": str})
    con.execute("INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) "
                "SELECT order_id, line_number, product_id, quantity, unit_price FROM df")
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"seconds": seconds, "cpu_seconds": cpu, "read": len(df), "loaded": len(df)}


def child(mode: str, orders: Path, items: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        fn = run_shoplens if mode == "shoplens" else run_baseline
        out = fn(orders, items, Path(d))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "shoplens-bench-ingest")
    ap.add_argument("--child", choices=["shoplens", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--orders", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--items", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.orders, a.items)
        return
    folder = a.workdir / f"rows-{a.rows}"
    folder.mkdir(parents=True, exist_ok=True)
    orders, items = make_data(a.rows, folder)
    size_mb = items.stat().st_size / 1e6
    print(f"order_items.csv: {a.rows:,} rows, {size_mb:,.0f} MB; cores: {os.cpu_count()}", flush=True)
    results: dict[str, list[dict]] = {"shoplens": [], "baseline": []}
    for rep in range(a.repeats):
        for mode in ("shoplens", "baseline"):  # interleaved, so machine noise hits both
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--orders", str(orders), "--items", str(items)],
                capture_output=True, text=True, check=True,
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(res)
            print(f"  run {rep + 1} {mode:9s} {res['seconds']:7.2f} s  {a.rows / res['seconds']:>12,.0f} rows/s  "
                  f"cpu {res['cpu_seconds']:6.2f} s  peak {res['peak_mb']:,.0f} MB  load {os.getloadavg()[0]:.1f}", flush=True)
    med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in results.items()}
    cpu = {m: statistics.median(r["cpu_seconds"] for r in rs) for m, rs in results.items()}
    peak = {m: max(r["peak_mb"] for r in rs) for m, rs in results.items()}
    summary = {
        "rows": a.rows,
        "shoplens_rows_per_s": round(a.rows / med["shoplens"]),
        "baseline_rows_per_s": round(a.rows / med["baseline"]),
        "speedup_vs_baseline": round(med["baseline"] / med["shoplens"], 2),
        "shoplens_peak_mb": round(peak["shoplens"]),
        "baseline_peak_mb": round(peak["baseline"]),
        "shoplens_median_s": round(med["shoplens"], 2),
        "baseline_median_s": round(med["baseline"], 2),
        "shoplens_cpu_s": round(cpu["shoplens"], 2),
        "baseline_cpu_s": round(cpu["baseline"], 2),
        "cpu_ratio": round(cpu["baseline"] / cpu["shoplens"], 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(f"\nmedian of {a.repeats}: shoplens {summary['shoplens_rows_per_s']:,} rows/s (peak {summary['shoplens_peak_mb']:,} MB), "
          f"pandas+DuckDB baseline {summary['baseline_rows_per_s']:,} rows/s (peak {summary['baseline_peak_mb']:,} MB), "
          f"ratio {summary['speedup_vs_baseline']}x; CPU time {summary['shoplens_cpu_s']} s vs {summary['baseline_cpu_s']} s, "
          f"ratio {summary['cpu_ratio']}x")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

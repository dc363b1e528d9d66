"""Scale benchmark: the same pipeline on DuckDB and on Spark (local mode), one run.

Real UCI Online Retail invoice lines are replicated with new keys (invoice and
customer ids get a copy suffix, products stay the same) up to ``--rows`` lines,
written as Parquet parts (a data-lake layout), then each engine, in its own fresh
process, runs:

1. ingest with the ``online-retail`` preset (validation, quarantine, de-duplication,
   upsert into order_items, orders, products, customers), no mirroring;
2. the overview KPIs transform;
3. per-customer RFM features (:data:`RFM_SQL`, one SQL definition);
4. the product's customer transforms: RFM with scores and segments
   (``shoplens.customers.rfm.RFM``, window functions) and profile features
   (``shoplens.customers.features.features_transform``), summarised on the engine.

    python bench/scale.py --data-dir ../shared/data --rows 1000000 --repeats 3
    python bench/scale.py --data-dir ../shared/data --rows 50000000 --parts 64 --repeats 1 \
        --duckdb-memory 6GB --spark-driver-memory 6g --shuffle-partitions 32

Generated input is cached under --cache (system temp by default), one part at a time.
Resources: DuckDB's memory_limit and Spark's driver memory (in local mode the driver
runs the tasks) are options, so both engines can be given the same memory budget.

Prints a table (medians over repeats, Spark/DuckDB ratio) and a JSON line.
DuckDB is the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent

# Per-customer RFM features as one transform (DuckDB SQL, runs on both engines).
# Recency is counted from the day after the last order in the data.
RFM_SQL = """
WITH sales AS (
    SELECT o.customer_id, o.order_id, o.ordered_at, sum(i.quantity * i.unit_price) AS amount
    FROM orders o JOIN order_items i USING (order_id)
    WHERE o.customer_id IS NOT NULL AND coalesce(o.status, 'completed') = 'completed'
    GROUP BY o.customer_id, o.order_id, o.ordered_at
), ref AS (SELECT max(ordered_at) AS last_day FROM orders)
SELECT s.customer_id,
       date_diff('day', max(s.ordered_at)::DATE, (SELECT last_day FROM ref)::DATE) + 1 AS recency_days,
       count(*) AS frequency,
       sum(s.amount) AS monetary
FROM sales s GROUP BY s.customer_id
"""


def make_data(data_dir: Path, rows: int, parts: int, out: Path) -> list[Path]:
    """``rows`` invoice lines in ``parts`` Parquet files (cached in ``out``)."""
    files = sorted(out.glob("part-*.parquet"))
    if len(files) == parts:
        return files
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    src = data_dir / "online_retail" / "online_retail.csv.gz"
    if not src.exists():
        from shoplens.datasets import demo_data_dir

        src = demo_data_dir() / "online_retail_sample.csv.gz"
        print(f"note: {data_dir} has no online_retail; using the bundled 25 % sample", file=sys.stderr)
    # Line k (1-based) is copy (k - 1) // n of base line (k - 1) % n + 1: each part is
    # written straight from the copies it spans, so memory stays at one part whatever --rows.
    con = duckdb.connect(config={"memory_limit": "4GB", "preserve_insertion_order": True})
    con.execute(f"SET temp_directory = '{out / 'tmp'}'")
    con.execute(f"CREATE TABLE base AS SELECT row_number() OVER () AS b, * FROM read_csv('{src}', all_varchar=true)")
    n = con.execute("SELECT count(*) FROM base").fetchone()[0]  # type: ignore[index]
    per_part = -(-rows // parts)
    for p in range(parts):
        lo, hi = p * per_part, min((p + 1) * per_part, rows)  # lines lo+1 .. hi
        if lo >= hi:
            break
        con.execute(
            f"""COPY (SELECT InvoiceNo || '-' || r.i AS InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
                       CASE WHEN CustomerID IS NOT NULL THEN CAST(CAST(CustomerID AS BIGINT) + 100000 * r.i AS VARCHAR) END
                       AS CustomerID, Country
                FROM range({lo // n}, {(hi - 1) // n + 1}) r(i), base
                WHERE r.i * {n} + b > {lo} AND r.i * {n} + b <= {hi}
                ORDER BY r.i, b)
                TO '{out}/part-{p:03d}.parquet' (FORMAT parquet)"""
        )
    con.close()
    shutil.rmtree(out / "tmp", ignore_errors=True)
    return sorted(out.glob("part-*.parquet"))


def run_engine(engine: str, files: list[str], workdir: str, master: str, *, duckdb_memory: str = "4GB",
               spark_driver_memory: str = "2g", shuffle_partitions: int = 8) -> dict:
    """One measurement in this (fresh) process."""
    from shoplens.ingest import ingest
    from shoplens.insights.overview import KPIS
    from shoplens.store.transform import Transform
    from shoplens.store.warehouse import Warehouse

    rfm = Transform("customer_rfm", RFM_SQL, inputs=("orders", "order_items"))
    out: dict = {"engine": engine}
    t0 = time.perf_counter()
    if engine == "spark":  # the session the engine will pick up (one per process), with the bench's resources
        from shoplens.store.engine import spark_session

        spark_session(master, shuffle_partitions=shuffle_partitions,
                      conf={"spark.driver.memory": spark_driver_memory, "spark.local.dir": str(Path(workdir) / "spark-local")})
    wh = Warehouse(Path(workdir) / "w.duckdb", engine=engine, spark_master=master, memory_limit=duckdb_memory)
    if engine == "spark":
        _ = wh.engine.spark  # JVM start-up, reported apart
    out["startup_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    r = ingest(wh, files, preset="online-retail", mirror=False)
    out["ingest_s"] = time.perf_counter() - t
    out["read"] = r.read
    out["accounting"] = {"loaded": r.loaded, "updated": r.updated, "quarantined": r.quarantined, "duplicates": r.duplicates}
    t = time.perf_counter()
    k = KPIS.run(wh)
    out["overview_s"] = time.perf_counter() - t
    out["orders"] = int(k["orders"][0])
    t = time.perf_counter()
    summary = wh.engine.query(f"SELECT count(*) AS customers, sum(monetary) AS monetary, avg(recency_days) AS r FROM ({rfm.render()})")
    out["rfm_s"] = time.perf_counter() - t
    out["rfm_customers"] = int(summary["customers"][0])
    # the product's customer transforms (one definition, run on the engine): RFM scores
    # (window functions) and profile features; results summarised on the engine
    from shoplens.customers.data import last_order_date
    from shoplens.customers.features import features_transform
    from shoplens.customers.rfm import RFM

    day = last_order_date(wh)
    as_of = datetime(day.year, day.month, day.day)
    t = time.perf_counter()
    scored = wh.engine.query(f"SELECT count(*) AS customers, count(DISTINCT segment) AS segments FROM ({RFM.render(as_of=as_of)})")
    out["rfm_scores_s"] = time.perf_counter() - t
    out["rfm_scored_customers"] = int(scored["customers"][0])
    t = time.perf_counter()
    feats = features_transform(wh, signals=False).render(as_of=as_of)
    f = wh.engine.query(f"SELECT count(*) AS customers, sum(net_revenue) AS revenue FROM ({feats})")
    out["features_s"] = time.perf_counter() - t
    out["feature_customers"] = int(f["customers"][0])
    out["total_s"] = out["ingest_s"] + out["overview_s"] + out["rfm_s"] + out["rfm_scores_s"] + out["features_s"]
    wh.close()
    return out


def measure(engine: str, files: list[Path], args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"scale-{engine}-", dir=args.workdir) as workdir:
        cmd = [sys.executable, __file__, "--_child", engine, "--_workdir", workdir, "--spark-master", args.spark_master,
               "--duckdb-memory", args.duckdb_memory, "--spark-driver-memory", args.spark_driver_memory,
               "--shuffle-partitions", str(args.shuffle_partitions), "--_files", *[str(f) for f in files]]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if not ln.lstrip().startswith("at ")]
            raise SystemExit(f"{engine} run failed after {time.perf_counter() - t:.0f} s:\n" + "\n".join(lines[-40:]))
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        # progress on stderr, so a long run's finished engines are on record if a later one fails
        print(f"{datetime.now():%H:%M:%S} {engine}: {json.dumps(out)}", file=sys.stderr, flush=True)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=HERE.parent.parent / "shared" / "data",
                    help="folder holding online_retail/online_retail.csv.gz (default ../shared/data)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="invoice lines to generate (50000000 for the full run)")
    ap.add_argument("--parts", type=int, default=8, help="Parquet files to split the lines into")
    ap.add_argument("--repeats", type=int, default=1, help="runs per engine; medians are reported")
    ap.add_argument("--engines", default="duckdb,spark", help="comma-separated engines to run")
    ap.add_argument("--spark-master", default="local[2]", help="Spark master URL (local[N] or a cluster)")
    ap.add_argument("--duckdb-memory", default="4GB", help="DuckDB memory_limit (it spills to its temp dir beyond)")
    ap.add_argument("--spark-driver-memory", default="2g",
                    help="spark.driver.memory (in local mode the driver JVM also runs the tasks)")
    ap.add_argument("--shuffle-partitions", type=int, default=8, help="spark.sql.shuffle.partitions")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where each engine's warehouse (DuckDB file, Parquet tables, spills) goes; default: system temp")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "shoplens-scale",
                    help="where generated input is kept between runs")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_workdir", help=argparse.SUPPRESS)
    ap.add_argument("--_files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(json.dumps(run_engine(args._child, args._files, args._workdir, args.spark_master,
                                    duckdb_memory=args.duckdb_memory, spark_driver_memory=args.spark_driver_memory,
                                    shuffle_partitions=args.shuffle_partitions)))
        return

    t = time.perf_counter()
    files = make_data(args.data_dir, args.rows, args.parts, args.cache / f"rows-{args.rows}-parts-{args.parts}")
    print(f"{datetime.now():%H:%M:%S} input: {len(files)} Parquet parts in {files[0].parent} "
          f"({sum(f.stat().st_size for f in files) / 1e9:.2f} GB, {time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    results: dict[str, list[dict]] = {}
    for _ in range(args.repeats):
        for engine in args.engines.split(","):
            results.setdefault(engine, []).append(measure(engine, files, args))
    phases = ["startup_s", "ingest_s", "overview_s", "rfm_s", "rfm_scores_s", "features_s", "total_s"]
    med = {e: {p: statistics.median(r[p] for r in runs) for p in phases} for e, runs in results.items()}
    first = {e: runs[0] for e, runs in results.items()}
    engines = list(med)
    if len(engines) == 2 and first[engines[0]]["accounting"] != first[engines[1]]["accounting"]:
        raise SystemExit(f"engines disagree: {first}")
    print(f"rows={first[engines[0]]['read']:,} repeats={args.repeats} master={args.spark_master} cores={os.cpu_count()} "
          f"duckdb_memory={args.duckdb_memory} spark_driver_memory={args.spark_driver_memory} "
          f"shuffle_partitions={args.shuffle_partitions}")
    print(f"{'phase':<12}" + "".join(f"{e:>12}" for e in engines) + ("   spark/duckdb" if len(engines) == 2 else ""))
    for p in phases:
        line = f"{p:<12}" + "".join(f"{med[e][p]:>12.2f}" for e in engines)
        if len(engines) == 2 and med["duckdb"][p] > 0:
            line += f"   {med['spark'][p] / med['duckdb'][p]:>8.2f}x"
        print(line)
    print(json.dumps({"rows": args.rows, "repeats": args.repeats, "master": args.spark_master,
                      "duckdb_memory": args.duckdb_memory, "spark_driver_memory": args.spark_driver_memory,
                      "shuffle_partitions": args.shuffle_partitions, "median": med,
                      "accounting": {e: r["accounting"] for e, r in first.items()},
                      "orders": {e: r["orders"] for e, r in first.items()},
                      "rfm_customers": {e: r["rfm_customers"] for e, r in first.items()},
                      "feature_customers": {e: r["feature_customers"] for e, r in first.items()}}))


if __name__ == "__main__":
    main()

"""Demand benchmarks: speed on 10,000 product series, and the rolling-origin
backtests reported in docs/demand.md.

    python bench/demand.py speed --data-dir ../shared/data --series 10000 --repeats 3
    python bench/demand.py backtest --data-dir ../shared/data --origins 4 --horizon 4

speed: the 10,000 (product, country) weekly series of UCI Online Retail with the
most units (real, mostly intermittent series; zero-filled from first sale). Times
the full shoplens forecaster (cross-validated choice among 7 models + calibrated
intervals) and statsforecast AutoETS alone, against a plain pandas + statsmodels
loop (one ExponentialSmoothing fit per series). The loop is timed on a subset and
extrapolated per series (it says so in the output). Medians over repeats.

backtest: Online Retail (weekly, per product and per category) and The Complete
Journey sample (weekly, per product category: the 75,000-line sample is far too
sparse per product), each loaded into a scratch warehouse and run through the same
``demand_series`` + ``backtest`` code the CLI uses. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd


def online_retail_csv(data_dir: Path) -> Path:
    path = data_dir / "online_retail" / "online_retail.csv.gz"
    if not path.is_file():
        sys.exit(f"{path}: not found; pass --data-dir pointing at the shared data folder (../shared/data)")
    return path


# -- speed ------------------------------------------------------------------------------
def product_country_series(data_dir: Path, n: int) -> pd.DataFrame:
    """Weekly units of the ``n`` (product, country) pairs selling most, zero-filled."""
    src = online_retail_csv(data_dir)
    con = duckdb.connect()
    return con.execute(f"""
        WITH lines AS (
            SELECT StockCode || '|' || Country AS key,
                   date_trunc('week', strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S'))::DATE AS period_start,
                   Quantity::DOUBLE AS units
            FROM read_csv('{src}', all_varchar=true)
            WHERE NOT InvoiceNo LIKE 'C%' AND NOT InvoiceNo LIKE 'A%' AND Quantity::DOUBLE > 0
              AND InvoiceDate < '2011-12-05'),
        top AS (SELECT key FROM lines GROUP BY key ORDER BY sum(units) DESC, key LIMIT {n}),
        spans AS (SELECT key, min(period_start) AS first FROM lines WHERE key IN (SELECT key FROM top) GROUP BY key),
        grid AS (SELECT key, unnest(generate_series(first::TIMESTAMP, TIMESTAMP '2011-11-28', INTERVAL 7 DAY))::DATE
                 AS period_start FROM spans),
        agg AS (SELECT key, period_start, sum(units) AS units FROM lines GROUP BY ALL)
        SELECT g.key, g.period_start::TIMESTAMP AS period_start, coalesce(a.units, 0) AS units
        FROM grid g LEFT JOIN agg a USING (key, period_start) ORDER BY key, period_start""").df()


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (worker pools)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_shoplens(series: pd.DataFrame, horizon: int, n_jobs: int) -> tuple[float, float, pd.Series]:
    """Wall seconds, CPU seconds (load-independent) and the models chosen."""
    from shoplens.demand.forecast import DemandForecaster

    t0, c0 = time.perf_counter(), cpu_seconds()
    model = DemandForecaster(freq="week", horizon=horizon, n_jobs=n_jobs).fit(series)
    out = model.predict()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert out["key"].nunique() == series["key"].nunique()
    return elapsed, cpu, model.profile_["model"].value_counts()


def time_autoets(series: pd.DataFrame, horizon: int, n_jobs: int) -> float:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Naive

    df = series.rename(columns={"key": "unique_id", "period_start": "ds", "units": "y"})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        StatsForecast(models=[AutoETS(season_length=1)], freq="W-MON", n_jobs=n_jobs,
                      fallback_model=Naive()).forecast(h=horizon, df=df, level=[80])
    return time.perf_counter() - t0


def time_statsmodels_loop(series: pd.DataFrame, horizon: int) -> float:
    """The plain approach: group by product, one statsmodels ETS fit and forecast per series."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, g in series.groupby("key"):
            y = g["units"].to_numpy()
            if len(y) < 10:  # statsmodels needs enough points for a trend model
                np.repeat(y.mean(), horizon)
                continue
            fit = ExponentialSmoothing(y, trend="add", damped_trend=True).fit()
            fit.forecast(horizon)
    return time.perf_counter() - t0


def speed(args: argparse.Namespace) -> None:
    series = product_country_series(args.data_dir, args.series)
    n = series["key"].nunique()
    keys = series["key"].drop_duplicates().sample(min(args.baseline_series, n), random_state=0)
    subset = series[series["key"].isin(keys)]
    ours, cpus, ets, loop = [], [], [], []
    for r in range(args.repeats):
        t, cpu, models = time_shoplens(series, args.horizon, args.n_jobs)
        ours.append(t)
        cpus.append(cpu)
        ets.append(time_autoets(series, args.horizon, args.n_jobs))
        loop.append(time_statsmodels_loop(subset, args.horizon) * n / len(keys))
        print(f"repeat {r + 1}: shoplens {ours[-1]:.1f} s ({cpus[-1]:.1f} CPU s), AutoETS {ets[-1]:.1f} s, "
              f"statsmodels loop (extrapolated) {loop[-1]:.1f} s", file=sys.stderr)
    result = {
        "series": n, "rows": len(series), "horizon": args.horizon, "n_jobs": args.n_jobs, "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "shoplens_auto_seconds": statistics.median(ours),
        "shoplens_auto_cpu_seconds": statistics.median(cpus),
        "load_average_1min_at_end": os.getloadavg()[0],
        "statsforecast_autoets_seconds": statistics.median(ets),
        "statsmodels_loop_seconds_extrapolated": statistics.median(loop),
        "statsmodels_loop_measured_on_series": len(keys),
        "speedup_auto_vs_loop": statistics.median(loop) / statistics.median(ours),
        "speedup_autoets_vs_loop": statistics.median(loop) / statistics.median(ets),
        "models_chosen": {str(k): int(v) for k, v in models.items()},
    }
    print(f"| {n:,} weekly series, horizon {args.horizon}, n_jobs {args.n_jobs} | seconds (median of {args.repeats}) |")
    print("|---|---:|")
    print(f"| shoplens DemandForecaster (CV choice of 7 models + intervals) | {result['shoplens_auto_seconds']:.1f} |")
    print(f"| same, CPU seconds of all processes (on an idle {args.n_jobs}-core machine the wall time lies between "
          f"this / {args.n_jobs} and this) "
          f"| {result['shoplens_auto_cpu_seconds']:.1f} |")
    print(f"| statsforecast AutoETS only | {result['statsforecast_autoets_seconds']:.1f} |")
    print(f"| pandas + statsmodels ExponentialSmoothing loop (timed on {len(keys)} series, extrapolated) "
          f"| {result['statsmodels_loop_seconds_extrapolated']:.1f} |")
    print(json.dumps(result))


# -- backtest ---------------------------------------------------------------------------
def online_retail_warehouse(data_dir: Path, folder: Path):
    from shoplens.ingest import ingest
    from shoplens.store.warehouse import Warehouse

    wh = Warehouse(folder / "online_retail.duckdb")
    ingest(wh, [online_retail_csv(data_dir)], preset="online-retail")
    return wh


def complete_journey_warehouse(data_dir: Path, folder: Path):
    """Receipt lines -> canonical orders/order_items/products (baskets are orders)."""
    from shoplens.store.warehouse import Warehouse

    cj = data_dir / "completejourney"
    tx, products = cj / "transactions_sample.csv.gz", cj / "products.csv.gz"
    for p in (tx, products):
        if not p.is_file():
            sys.exit(f"{p}: not found; pass --data-dir pointing at the shared data folder")
    wh = Warehouse(folder / "complete_journey.duckdb")
    con = wh.con
    con.execute(f"""INSERT INTO orders (order_id, customer_id, ordered_at, status)
        SELECT basket_id::VARCHAR, any_value(household_id)::VARCHAR, min(transaction_timestamp)::TIMESTAMP, 'completed'
        FROM read_csv('{tx}') GROUP BY basket_id""")
    con.execute(f"""INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price)
        SELECT basket_id::VARCHAR, row_number() OVER (PARTITION BY basket_id ORDER BY product_id), product_id::VARCHAR,
               quantity, CASE WHEN quantity <> 0 THEN greatest(sales_value / quantity, 0) ELSE 0 END
        FROM read_csv('{tx}') WHERE quantity <> 0""")
    con.execute(f"""INSERT INTO products (product_id, category)
        SELECT product_id::VARCHAR, coalesce(product_category, department) FROM read_csv('{products}', all_varchar=true)""")
    return wh


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| subset | model | series | MASE | sMAPE % | 80 % coverage | MASE vs seasonal naive |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in summary.itertuples():
        cov = "—" if pd.isna(r.coverage80) else f"{r.coverage80:.1%}"
        lines.append(f"| {r.subset} | {r.model} | {r.series:,} | {r.mase:.3f} | {r.smape:.1f} | {cov} | "
                     f"{r.mase_vs_seasonal_naive:.3f} |")
    return "\n".join(lines)


def backtest_cmd(args: argparse.Namespace) -> None:
    from shoplens.demand.evaluate import backtest
    from shoplens.demand.series import demand_series

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = []
        if "online_retail" in args.datasets:
            wh = online_retail_warehouse(args.data_dir, folder)
            for level in args.levels:
                runs.append((f"Online Retail, weekly, per {level}",
                             demand_series(wh, freq="week", level=level, until="2011-12-05")))
            wh.close()
        if "complete_journey" in args.datasets:
            wh = complete_journey_warehouse(args.data_dir, folder)
            runs.append(("Complete Journey (sample), weekly, per product category",
                         demand_series(wh, freq="week", level="category", until="2017-12-25")))
            wh.close()
        for title, series in runs:
            t0 = time.perf_counter()
            summary, points = backtest(series, freq="week", horizon=args.horizon, origins=args.origins,
                                       n_jobs=args.n_jobs)
            cutoffs = sorted(points["cutoff"].unique())
            print(f"\n### {title}\n")
            print(f"{series['key'].nunique():,} series; origins {', '.join(str(pd.Timestamp(c).date()) for c in cutoffs)}; "
                  f"horizon {args.horizon} weeks; {time.perf_counter() - t0:.0f} s\n")
            print(markdown(summary))
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("speed", help="10,000-series speed benchmark")
    sp.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    sp.add_argument("--series", type=int, default=10_000)
    sp.add_argument("--horizon", type=int, default=4)
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--n-jobs", type=int, default=2)
    sp.add_argument("--baseline-series", type=int, default=300, help="series the statsmodels loop is timed on")
    bt = sub.add_parser("backtest", help="rolling-origin backtests for docs/demand.md")
    bt.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    bt.add_argument("--origins", type=int, default=4)
    bt.add_argument("--horizon", type=int, default=4)
    bt.add_argument("--n-jobs", type=int, default=2)
    bt.add_argument("--datasets", nargs="+", default=["online_retail", "complete_journey"])
    bt.add_argument("--levels", nargs="+", default=["product", "category"])
    args = parser.parse_args()
    speed(args) if args.command == "speed" else backtest_cmd(args)


if __name__ == "__main__":
    main()

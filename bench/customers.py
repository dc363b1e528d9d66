"""Customer-insight benchmark.

1. BG/NBD and Pareto/NBD fitted on CDNOW by shoplens and by ``lifetimes`` (same
   inputs, same run, medians over repeats), with the parameters side by side.
2. The customer pipeline at scale: UCI Online Retail customers replicated with
   new keys to ``--customers`` customers; each replica's real order history is
   played twice (as observed, then shifted one year later), which gives about
   ten orders per customer (1M customers -> ~10M orders). Order lines are
   replicated only for the first ``--item-customers`` customers (the full 240M
   lines do not fit a shared 2-core machine); the other customers have orders
   without lines. Times RFM, CLV (fit + scoring), churn, segments and the profile,
   the peak memory of the process, and a plain-pandas RFM on the same orders.

    python bench/customers.py --data-dir ../shared/data --customers 1000000 --repeats 5
    python bench/customers.py --dropout .shoplens/warehouse.duckdb   # CLV vs churn on a warehouse

Prints a table and one JSON line; figures go to docs/customers.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def cdnow_summary(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = pd.read_csv(data_dir / "cdnow" / "CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                     names=["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"],
                     dtype={"customer_id": str, "date": str})
    df["day"] = pd.to_datetime(df["date"])
    tx = df.groupby(["customer_id", "day"], as_index=False)["dollar_value"].sum()
    cal = pd.Timestamp("1997-09-30")
    g = tx[tx["day"] <= cal].groupby("customer_id")["day"]
    first, last, n = g.min(), g.max(), g.size()
    return ((n - 1).to_numpy(float), ((last - first).dt.days / 7).to_numpy(float), ((cal - first).dt.days / 7).to_numpy(float))


def cdnow_holdout_plot(data_dir: Path, out: Path) -> dict:
    """Cumulative repeat transactions in the 39-week holdout: actual vs BG/NBD and Pareto/NBD (matplotlib PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from shoplens.customers.btyd import BetaGeoModel, ParetoNBDModel

    df = pd.read_csv(data_dir / "cdnow" / "CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                     names=["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"],
                     dtype={"customer_id": str, "date": str})
    days = pd.DataFrame({"customer_id": df["customer_id"], "day": pd.to_datetime(df["date"])}).drop_duplicates()
    cal = pd.Timestamp("1997-09-30")
    x, t_x, T = cdnow_summary(data_dir)
    bg, pn = BetaGeoModel().fit(x, t_x, T), ParetoNBDModel().fit(x, t_x, T)
    weeks = np.arange(1, 40)
    hold = days[days["day"] > cal]
    hold_week = np.ceil((hold["day"] - cal).dt.days / 7).astype(int)
    actual = np.array([(hold_week <= w).sum() for w in weeks])
    pred_bg = np.array([bg.expected_purchases(w, x, t_x, T).sum() for w in weeks])
    pred_pn = np.array([pn.expected_purchases(w, x, t_x, T).sum() for w in weeks])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(weeks, actual, "k-", label="actual")
    ax.plot(weeks, pred_bg, "b--", label="BG/NBD (shoplens)")
    ax.plot(weeks, pred_pn, "g:", label="Pareto/NBD (shoplens)")
    ax.set_xlabel("weeks after the calibration end (1997-09-30)")
    ax.set_ylabel("cumulative repeat transactions")
    ax.set_title("CDNOW 1/10 sample: 39-week holdout")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return {"week": weeks.tolist(), "actual": actual.tolist(), "bgnbd": pred_bg.round(1).tolist(), "pareto_nbd": pred_pn.round(1).tolist()}


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_cdnow(data_dir: Path, repeats: int) -> dict:
    from shoplens.customers.btyd import BetaGeoModel, ParetoNBDModel

    x, t_x, T = cdnow_summary(data_dir)
    BetaGeoModel().fit(x, t_x, T)  # warm-up: first call imports scipy.optimize pieces
    out: dict = {}
    for name, ours, theirs, keys in [
        ("bgnbd", lambda: BetaGeoModel().fit(x, t_x, T), "BetaGeoFitter", ("r", "alpha", "a", "b")),
        ("pareto_nbd", lambda: ParetoNBDModel().fit(x, t_x, T), "ParetoNBDFitter", ("r", "alpha", "s", "beta")),
    ]:
        t_ours, model = median_time(ours, repeats)
        row = {"shoplens_s": t_ours, "shoplens_params": {k: model.params_[k] for k in keys}}  # type: ignore[attr-defined]
        try:
            import lifetimes

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter = getattr(lifetimes, theirs)
                t_lt, lt = median_time(lambda: fitter().fit(x, t_x, T), repeats)
            row["lifetimes_s"] = t_lt
            row["lifetimes_params"] = {k: float(lt.params_[k]) for k in keys}  # type: ignore[attr-defined]
            row["speedup"] = t_lt / t_ours
            row["same_to_3_digits"] = all(
                float(f"{row['shoplens_params'][k]:.3g}") == float(f"{row['lifetimes_params'][k]:.3g}") for k in keys)
        except Exception as exc:  # noqa: BLE001 - lifetimes breaks on some pandas versions: say so, exit 1
            from baselines import fail

            fail("lifetimes (BG/NBD, Pareto/NBD)", exc)
        out[name] = row
    return out


def dropout_check(warehouse: Path) -> dict:
    """Does the history show permanent dropout, and do CLV and churn tell the same story?

    On a warehouse (the demo's, or Online Retail ingested with the preset): the dropout test
    (BG/NBD and Pareto/NBD against the no-dropout NBD), and, at the churn model's validation
    cut-off, how well each model's P(no purchase within 90 days) ranks who really bought nothing
    in the next 90 days (ROC-AUC, Brier), plus the rank correlation of the served p_alive with
    1 - churn risk.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from shoplens.customers.churn import fit_churn
    from shoplens.customers.clv import fit_clv
    from shoplens.store.warehouse import Warehouse

    with Warehouse(warehouse, read_only=True) as wh:
        served = fit_clv(wh, write=False, register=False)
        churn = fit_churn(wh, write=False, register=False)
        cut = pd.Timestamp(churn.metrics["validation_cutoff"])
        check = fit_clv(wh, calibration_end=(cut - pd.Timedelta(days=1)).date(),
                        holdout_end=(cut + pd.Timedelta(days=89)).date(), write=False, register=False)
    c = check.customers
    bought_nothing = (c["holdout_actual"] == 0).to_numpy()
    p_none = 1 - c["p_purchase_90d"].to_numpy()
    both = served.customers.merge(churn.scores[["customer_id", "churn_risk"]], on="customer_id")
    return {
        "customers": len(served.customers),
        "bgnbd": served.bgnbd.params_, "pareto_nbd": served.pareto_nbd.params_, "dropout": served.dropout(),
        "at_validation_cutoff": {"cutoff": cut.date().isoformat(), "bgnbd": check.bgnbd.params_,
                                 "dropout_identified": check.bgnbd.dropout_identified_,
                                 "actual_no_purchase_rate": float(bought_nothing.mean()),
                                 "btyd_mean_p_no_purchase": float(p_none.mean()),
                                 "btyd_roc_auc": float(roc_auc_score(bought_nothing, p_none)),
                                 "btyd_brier": float(brier_score_loss(bought_nothing, p_none)),
                                 "churn_roc_auc": churn.metrics["roc_auc"], "churn_brier": churn.metrics["brier"]},
        "spearman_p_alive_vs_1_minus_churn": float(both["p_alive"].corr(1 - both["churn_risk"], method="spearman")),
    }


def build_scaled(data_dir: Path, path: Path, customers: int, item_customers: int) -> dict:
    """Bench warehouse: replicated real orders (two yearly epochs per replica), lines for the first replicas."""
    import duckdb

    from shoplens.store.warehouse import Warehouse

    preset = tomllib.loads((Path(__file__).parents[1] / "src/shoplens/ingest/presets/online-retail.toml").read_text())
    category = preset["tables"]["products"]["category"]["expr"]
    src = data_dir / "online_retail" / "online_retail.csv.gz"
    with Warehouse(path, memory_limit="3GB") as wh:
        con: duckdb.DuckDBPyConnection = wh.con
        con.execute(f"""CREATE TEMP TABLE raw AS SELECT * FROM read_csv('{src}', all_varchar=true)
                        WHERE CustomerID IS NOT NULL AND CustomerID <> ''""")
        base_customers = con.execute("SELECT count(DISTINCT CustomerID) FROM raw").fetchone()[0]
        copies = math.ceil(customers / base_customers)
        item_copies = max(1, math.ceil(item_customers / base_customers))
        con.execute("""CREATE TEMP TABLE base_orders AS SELECT InvoiceNo AS order_id, any_value(CustomerID) AS customer_id,
                        min(InvoiceDate::TIMESTAMP) AS ordered_at,
                        CASE WHEN upper(InvoiceNo) LIKE 'C%' THEN 'cancelled' WHEN upper(InvoiceNo) LIKE 'A%' THEN 'adjustment' ELSE 'completed' END AS status,
                        round(sum(Quantity::DOUBLE * UnitPrice::DOUBLE), 2) AS total_amount
                        FROM raw GROUP BY InvoiceNo""")
        con.execute(f"""INSERT INTO orders (order_id, customer_id, ordered_at, status, total_amount, currency, channel)
            SELECT o.order_id || '-' || r.i || '-' || e.y, o.customer_id || '-' || r.i, o.ordered_at + to_years(e.y::INTEGER),
                   o.status, o.total_amount, 'GBP', 'web'
            FROM base_orders o, range({copies}) r(i), range(2) e(y)""")
        # keep exactly `customers` customers
        con.execute(f"""DELETE FROM orders WHERE customer_id IN (
            SELECT customer_id FROM (SELECT DISTINCT customer_id FROM orders) ORDER BY customer_id OFFSET {customers})""")
        con.execute(f"""INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price)
            SELECT InvoiceNo || '-' || r.i || '-' || e.y, row_number() OVER (PARTITION BY InvoiceNo, r.i, e.y ORDER BY StockCode),
                   StockCode, Quantity::DOUBLE, UnitPrice::DOUBLE
            FROM raw, range({item_copies}) r(i), range(2) e(y) WHERE Quantity::DOUBLE <> 0 AND UnitPrice::DOUBLE >= 0""")
        con.execute(f"""INSERT INTO products (product_id, name, category, price, currency)
            SELECT StockCode, any_value(Description), any_value({category}), median(UnitPrice::DOUBLE), 'GBP'
            FROM raw GROUP BY StockCode""")
        con.execute("""INSERT INTO customers (customer_id, consent_personalization)
                       SELECT DISTINCT customer_id, TRUE FROM orders""")
        counts = {t: wh.row_count(t) for t in ("customers", "orders", "order_items", "products")}
    return {"copies": copies, "item_copies": item_copies, **counts}


def run_pipeline(path: str) -> dict:
    """Runs in a fresh process so that its peak RSS is the pipeline's own."""
    from shoplens.customers.churn import fit_churn
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.features import FeatureCache
    from shoplens.customers.profile import write_profile
    from shoplens.customers.rfm import compute_rfm
    from shoplens.customers.segments import build_segments
    from shoplens.store.warehouse import Warehouse

    times: dict[str, float] = {}
    with Warehouse(path, memory_limit="2GB") as wh:
        cache = FeatureCache()  # as in `shoplens demo`: the steps share the features at each date
        for name, fn in [("rfm", lambda: compute_rfm(wh)), ("clv_fit_and_score", lambda: fit_clv(wh)),
                         ("churn", lambda: fit_churn(wh, cache=cache)),
                         ("segments", lambda: build_segments(wh, cache=cache)),
                         ("profile", lambda: write_profile(wh, cache=cache))]:  # the table, not read back (as `serve`'s refresh job)
            t0 = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{name}: {times[name]:.1f} s, peak RSS so far {rss:,.0f} MB", file=sys.stderr, flush=True)
        cache = None  # the features are freed before reading orders back
        times["pipeline_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        orders = wh.query("SELECT customer_id, order_id, ordered_at, total_amount FROM orders "
                          "WHERE status = 'completed' AND total_amount >= 0")
        times["pandas_read_orders"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        end = orders["ordered_at"].max().normalize() + pd.Timedelta(days=1)
        g = orders.groupby("customer_id")
        rfm = pd.DataFrame({"recency_days": (end - g["ordered_at"].max()).dt.days, "frequency": g["order_id"].nunique(),
                            "monetary": g["total_amount"].sum()})
        for col, asc in (("recency_days", False), ("frequency", True), ("monetary", True)):
            rfm[col[0] + "_score"] = np.minimum(5, 1 + np.floor(5 * (rfm[col].rank(method="min", ascending=asc) - 1) / (len(rfm) - 1)))
        times["pandas_rfm_baseline"] = time.perf_counter() - t0
    times["pipeline_total"] = sum(times[k] for k in ("rfm", "clv_fit_and_score", "churn", "segments", "profile"))
    times["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="folder holding cdnow/ and online_retail/")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--item-customers", type=int, default=100_000, help="customers whose order lines are replicated too")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the CDNOW fits (median reported)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--skip-scale", action="store_true", help="only the CDNOW comparison")
    ap.add_argument("--reuse", action="store_true", help="reuse the scaled warehouse already in --workdir")
    ap.add_argument("--plot", type=Path, default=None, help="write the CDNOW holdout plot (PNG) here")
    ap.add_argument("--dropout", type=Path, default=None, metavar="WAREHOUSE",
                    help="only the dropout check (CLV vs churn) on this warehouse, e.g. the demo's")
    ap.add_argument("--pipeline", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pipeline:
        print(json.dumps(run_pipeline(args.pipeline)))
        return
    if args.dropout:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            print(json.dumps(dropout_check(args.dropout), default=str))
        return
    from baselines import require

    require("lifetimes", baseline="lifetimes (BG/NBD, Pareto/NBD)")  # before any work: the figures are ratios to it
    if args.plot:
        curve = cdnow_holdout_plot(args.data_dir, args.plot)
        print(f"holdout plot written to {args.plot}; week 39: actual {curve['actual'][-1]}, "
              f"BG/NBD {curve['bgnbd'][-1]}, Pareto/NBD {curve['pareto_nbd'][-1]}")
    result: dict = {"cdnow": bench_cdnow(args.data_dir, args.repeats)}
    for name, row in result["cdnow"].items():
        print(f"{name:11s} shoplens {row['shoplens_s'] * 1000:8.1f} ms", end="")
        if "lifetimes_s" in row:
            print(f" | lifetimes {row['lifetimes_s'] * 1000:8.1f} ms | speed-up {row['speedup']:.1f}x | "
                  f"same params (3 s.f.): {row['same_to_3_digits']}")
        else:
            print(f" | lifetimes failed: {row['lifetimes_error']}")
        print("            shoplens ", {k: round(v, 4) for k, v in row["shoplens_params"].items()})
        if "lifetimes_params" in row:
            print("            lifetimes", {k: round(v, 4) for k, v in row["lifetimes_params"].items()})
    if not args.skip_scale:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shoplens-bench-customers-"))
        path = workdir / "warehouse.duckdb"
        if args.reuse and path.exists():
            result["data"] = {"reused": str(path)}
        else:
            if path.exists():
                path.unlink()
            t0 = time.perf_counter()
            result["data"] = build_scaled(args.data_dir, path, args.customers, args.item_customers)
            result["data"]["build_s"] = time.perf_counter() - t0
        print("data:", result["data"])
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([sys.executable, __file__, "--pipeline", str(path)], stdout=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(1)
        result["pipeline"] = json.loads(proc.stdout.strip().splitlines()[-1])
        p = result["pipeline"]
        for k, v in p.items():
            print(f"{k:22s} {v:10.1f}" + (" MB" if k.endswith("_mb") else " s"))
        print(f"RFM: shoplens {p['rfm']:.1f} s vs pandas {p['pandas_rfm_baseline']:.1f} s "
              f"(+{p['pandas_read_orders']:.1f} s to read the orders): ratio {p['pandas_rfm_baseline'] / p['rfm']:.2f}x")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()

"""Recommender benchmark: held-out quality of every model on two real data sets, training
time against implicit's ALS timed in the same run, and serving latency at 100k and 1M products.

    python bench/recs.py --data-dir ../shared/data --repeats 3
    python bench/recs.py --data-dir ../shared/data --skip quality taobao training --products 100000 1000000

1. Online Retail (UCI): ingested with `shoplens ingest --preset online-retail` into a
   temporary warehouse; train before 2011-11-01, truth = products each returning
   customer bought on or after it (customers and products seen before), K = 10.
2. Taobao UserBehavior (head, 815 users): views, carts, favourites and purchases
   (Beijing dates 2017-11-25 .. 2017-12-03); train before 2017-12-02 00:00 Beijing,
   truth = every product a returning user interacted with on or after it (any kind).
3. Training time: the hybrid, shoplens's ``ALS()`` (from the interactions frame: index,
   matrices and bought-together pairs included) and the plain implicit ALS (128 factors,
   15 iterations) on the same matrix, medians over ``--repeats``, with their ratio.
4. Latency: Online Retail scaled to each ``--products`` size (the catalogue copied 25 or
   250 times, each customer's history mapped onto one copy), one customer per request,
   k = 10, p50/p99 over ``--requests`` requests without and with reasons; the hybrid is the
   model ``shoplens demo`` and ``recs train`` serve (``Hybrid()`` defaults). implicit's own
   ``recommend`` on the ALS factors is timed in the same run as the baseline.

Prints tables and one JSON line; figures go to docs/recs.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def online_retail(data_dir: Path, workdir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from shoplens.ingest import ingest
    from shoplens.recs.interactions import load_catalogue, load_interactions, load_segments
    from shoplens.store.warehouse import Warehouse

    with Warehouse(workdir / "online_retail.duckdb") as wh:
        ingest(wh, [data_dir / "online_retail" / "online_retail.csv.gz"], preset="online-retail")
        return load_interactions(wh), load_catalogue(wh), load_segments(wh)


def taobao(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(data_dir / "taobao_userbehavior_head" / "user_behavior_head.csv.gz", dtype=str)
    at = pd.to_datetime(raw["timestamp"].astype("int64"), unit="s")  # UTC
    beijing = at + pd.Timedelta(hours=8)
    keep = (beijing >= "2017-11-25") & (beijing < "2017-12-04")  # the documented window (35 stray rows out)
    kind = raw["behavior_type"].map({"pv": "view", "cart": "cart", "fav": "favorite", "buy": "purchase"})
    weight = kind.map({"view": 0.1, "cart": 0.5, "favorite": 0.4, "purchase": 1.0})
    rows = pd.DataFrame({"customer_id": raw["user_id"], "product_id": raw["item_id"], "occurred_at": at,
                         "kind": kind, "weight": weight, "basket_id": raw["user_id"] + "@" + beijing.dt.strftime("%Y%m%d"),
                         "quantity": 1.0})[keep.to_numpy()].reset_index(drop=True)
    catalogue = raw[["item_id", "category_id"]].drop_duplicates("item_id").rename(
        columns={"item_id": "product_id", "category_id": "category"})
    catalogue["category"] = "cat" + catalogue["category"]
    return rows, catalogue


def quality(name: str, rows: pd.DataFrame, cutoff: str, catalogue: pd.DataFrame, segments: pd.DataFrame | None,
            truth_kinds: tuple[str, ...], hybrid_kwargs: dict) -> pd.DataFrame:
    from shoplens.recs.evaluate import evaluate_models, temporal_split
    from shoplens.recs.hybrid import Hybrid
    from shoplens.recs.service import model_factories

    train, truth = temporal_split(rows, cutoff, truth_kinds=truth_kinds)
    factories = model_factories()
    models = {m: f() for m, f in factories.items() if m != "hybrid"}
    models["hybrid"] = Hybrid(**hybrid_kwargs)
    print(f"[{name}] train rows {len(train):,}, truth {len(truth):,} pairs of {truth['customer_id'].nunique():,} customers",
          file=sys.stderr)
    table = evaluate_models(models, train, truth, 10, catalogue=catalogue, segments=segments,
                            progress=lambda m: print(f"[{name}] {m}", file=sys.stderr))
    return table.assign(dataset=name, customers_tested=truth["customer_id"].nunique())


def training_times(rows: pd.DataFrame, catalogue: pd.DataFrame, cutoff: str, repeats: int) -> dict:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from shoplens.recs.hybrid import Hybrid
    from shoplens.recs.interactions import window
    from shoplens.recs.models import ALS

    train = window(rows, end=cutoff)
    hybrid_s, shoplens_als_s, implicit_s, cpu_s = [], [], [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        Hybrid().fit(train, catalogue=catalogue)
        hybrid_s.append(time.perf_counter() - t0)
        cpu_s.append(time.process_time() - c0)
        t0 = time.perf_counter()
        als = ALS().fit(train, catalogue=catalogue)
        shoplens_als_s.append(time.perf_counter() - t0)
        matrix = als.user_items_
        t0 = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):
            AlternatingLeastSquares(factors=128, iterations=15, random_state=0).fit(matrix, show_progress=False)
        implicit_s.append(time.perf_counter() - t0)
    med = statistics.median
    return {"hybrid_s": med(hybrid_s), "hybrid_runs": hybrid_s, "hybrid_cpu_s": med(cpu_s),
            "shoplens_als_s": med(shoplens_als_s), "shoplens_als_runs": shoplens_als_s,
            "implicit_als_s": med(implicit_s), "implicit_runs": implicit_s,
            "ratio_als_over_implicit_als": med(shoplens_als_s) / med(implicit_s),
            "ratio_hybrid_over_implicit_als": med(hybrid_s) / med(implicit_s)}


def scaled_catalogue(rows: pd.DataFrame, catalogue: pd.DataFrame, copies: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's history onto one of ``copies`` copies of the catalogue (ids 'P~i')."""
    codes = pd.util.hash_pandas_object(rows["customer_id"], index=False).to_numpy() % copies
    scaled = rows.assign(product_id=rows["product_id"] + "~" + codes.astype(str))
    cat = pd.concat([catalogue.assign(product_id=catalogue["product_id"] + f"~{i}") for i in range(copies)],
                    ignore_index=True)
    return scaled, cat


def latency(rows: pd.DataFrame, catalogue: pd.DataFrame, requests: int, products: int,
            names: tuple[str, ...] = ("als", "buy_again", "hybrid")) -> dict:
    """p50/p99 of one-customer requests at ``products`` products (wall clock, and CPU time of the
    request's thread, which a busy shared machine inflates much less), for ALS, buy-again and the hybrid."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from shoplens.recs.hybrid import Hybrid
    from shoplens.recs.models import ALS, BuyAgain

    copies = max(1, round(products / catalogue["product_id"].nunique()))
    scaled, cat = scaled_catalogue(rows, catalogue, copies)
    out: dict = {"products": 0}
    rng = np.random.default_rng(0)
    makers = {name: make for name, make in {"als": lambda: ALS(factors=64), "buy_again": BuyAgain,
                                              "hybrid": Hybrid}.items() if name in names or name == "als"}

    def ms(xs: list[float], q: float) -> float:
        return 1000 * float(np.percentile(xs, q))

    for name, make in makers.items():
        model = make()
        t0 = time.perf_counter()
        model.fit(scaled, catalogue=cat)
        fit_s = time.perf_counter() - t0
        out["products"] = len(model.products_)
        customers = rng.choice(np.asarray(model.customers_), size=requests)
        for c in customers[:20]:  # warm-up (first-use caches)
            model.recommend([c], k=10, explain=True)
        plain, explained, cpu = [], [], []
        for c in customers:
            t0 = time.perf_counter()
            model.recommend([c], k=10, explain=False)
            plain.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.thread_time()
            model.recommend([c], k=10, explain=True)
            explained.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        out[name] = {"fit_s": fit_s, "p50_ms": ms(plain, 50), "p99_ms": ms(plain, 99),
                     "p50_ms_with_reasons": ms(explained, 50), "p99_ms_with_reasons": ms(explained, 99),
                     "cpu_p50_ms_with_reasons": ms(cpu, 50), "cpu_p99_ms_with_reasons": ms(cpu, 99)}
        print(f"[latency {out['products']:,}] {name}: {json.dumps(out[name])}", file=sys.stderr)
        if name == "als":  # implicit's own top-K on the same factors: the baseline
            raw = AlternatingLeastSquares(factors=64, iterations=15, random_state=0)
            raw.user_factors, raw.item_factors = model.model_.user_factors, model.model_.item_factors
            rows_idx = model.customers_.get_indexer(customers)
            times, cpu = [], []
            with threadpool_limits(limits=1, user_api="blas"):
                for r in rows_idx:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    raw.recommend(int(r), model.user_items_[int(r)], N=10, filter_already_liked_items=False)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.thread_time() - c0)
            out["implicit_als"] = {"p50_ms": ms(times, 50), "p99_ms": ms(times, 99),
                                   "cpu_p50_ms": ms(cpu, 50), "cpu_p99_ms": ms(cpu, 99)}
        del model
    base = out["implicit_als"]
    out["ratios_with_reasons_vs_implicit"] = {
        name: {"p50": out[name]["p50_ms_with_reasons"] / base["p50_ms"], "p99": out[name]["p99_ms_with_reasons"] / base["p99_ms"],
               "cpu_p99": out[name]["cpu_p99_ms_with_reasons"] / base["cpu_p99_ms"]}
        for name in makers}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="folder of the shared data sets")
    ap.add_argument("--repeats", type=int, default=3, help="training-time repeats (medians reported)")
    ap.add_argument("--requests", type=int, default=1000, help="latency requests per model (each with and without reasons)")
    ap.add_argument("--products", type=int, nargs="+", default=[100_000, 1_000_000],
                    help="catalogue sizes of the latency test")
    ap.add_argument("--latency-models", nargs="+", default=["als", "buy_again", "hybrid"],
                    choices=["als", "buy_again", "hybrid"], help="models of the latency test (ALS always: the baseline's factors)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["quality", "taobao", "training", "latency"],
                    help="parts to skip")
    args = ap.parse_args()
    if not (args.data_dir / "online_retail").is_dir():
        sys.exit(f"{args.data_dir}: no online_retail folder here (pass --data-dir to the shared data)")
    result: dict = {"date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        rows, catalogue, segments = online_retail(args.data_dir, Path(tmp))
    pd.set_option("display.width", 200)
    cols = ["dataset", "model", "ndcg", "recall", "map", "hit_rate", "ndcg_repeat", "ndcg_new", "coverage", "novelty",
            "train_seconds"]
    if "quality" not in args.skip:
        retail = quality("online_retail", rows, "2011-11-01", catalogue, segments, ("purchase",), {})
        print(retail[cols].round(4).to_string(index=False))
        result["online_retail"] = retail[cols].round(4).to_dict("records")
    if "taobao" not in args.skip:
        tb_rows, tb_cat = taobao(args.data_dir)
        tb = quality("taobao", tb_rows, "2017-12-01 16:00", tb_cat, None, ("view", "cart", "favorite", "purchase"),
                     {"target_kinds": ("view", "cart", "favorite", "purchase")})
        print(tb[cols].round(4).to_string(index=False))
        result["taobao"] = tb[cols].round(4).to_dict("records")
    if "training" not in args.skip:
        result["training"] = training_times(rows, catalogue, "2011-11-01", args.repeats)
        print(json.dumps(result["training"], default=float))
    if "latency" not in args.skip:
        before = rows[rows["occurred_at"] < "2011-11-01"]
        result["latency"] = {str(n): latency(before, catalogue, args.requests, n, tuple(args.latency_models))
                             for n in args.products}
        print(json.dumps(result["latency"], default=float))
    result["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()

"""Live recommendations benchmark: how long from behaviour events written to the warehouse until the
recommendation API answers with them, and what a live answer costs against a cached and a batch one.

    python bench/live_recs.py --visitors 200 --repeats 200
    python bench/live_recs.py --data-dir ../shared/data --visitors 200 --repeats 200

1. **Event to visible**: for each of ``--visitors`` new visitors (ids the model never saw) the API
   answers the popular list and caches it; then, timed together, ``--views`` product view events are
   written to the warehouse's ``events`` table through the server's own connection (as the collector
   folds a micro-batch), the post-fold callbacks run (``notify_events_folded``: the cache drops the
   visitor's answers) and the same question is asked again; it must come back personalised with a
   reason naming a viewed product (counted; the run fails if not). p50/p95 over the visitors, with
   the write, callback and answer parts. In-process (FastAPI's TestClient: the ASGI app, no socket).
   The collector's micro-batch interval adds to this (an event waits at most one interval).
2. **Cost**: per request, median over ``--repeats`` requests: a cached answer (the same question
   again), a computed batch answer (``live=false``: the served model alone), a computed live answer
   for a visitor with events, and a known customer's blended answer; with the ratio live / batch
   and live / cached. Cached and computed answers go through the API (the response cache on for the
   cached one, off for the computed ones); ``shoplens.recs.service.recommend`` is also timed
   directly (no HTTP), batch against live.

Data: the bundled demo shop (Online Retail sample, 3,309 products) and, with ``--data-dir``, the
Taobao UserBehavior head (``taobao_userbehavior_head``, loaded with the ``taobao-userbehavior``
preset; the largest real catalogue here). ``--model`` is trained on the demo shop (``hybrid``: what
``shoplens demo`` serves; ``item_knn``: quicker), ``--taobao-model`` on the Taobao head (item-kNN:
``recs train --model hybrid`` stops with a scikit-learn binning error on that warehouse today). Prints a table per data set and one JSON line;
figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")
SECRET = "bench-" + "Vn4pQ8sX2kT6wZ0rL3yH7cM1bF5dJ9gA"  # only for the throw-away bench warehouses


def build(folder: Path, data: str, data_dir: Path | None, model: str) -> Path:
    from shoplens.config import Settings
    from shoplens.recs.service import train
    from shoplens.services import ingest_demo_shop, ingest_files
    from shoplens.store.warehouse import Warehouse

    path = folder / data / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    settings = Settings(warehouse=path, secret=SECRET)
    with Warehouse(path) as wh:
        if data == "demo":
            ingest_demo_shop(settings, wh)
        else:
            source = data_dir / "taobao_userbehavior_head" / "user_behavior_head.csv.gz"  # type: ignore[operator]
            ingest_files(settings, wh, [source], preset="taobao-userbehavior")
        t0 = time.perf_counter()
        train(wh, model=model)
        print(f"  {data}: trained {model} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run(path: Path, visitors: int, views: int, repeats: int, seed: int) -> dict[str, Any]:
    import numpy as np
    from fastapi.testclient import TestClient

    from shoplens.config import Settings
    from shoplens.privacy.ids import to_internal
    from shoplens.recs.service import load_model, recommend
    from shoplens.serve.app import create_app
    from shoplens.serve.cache import notify_events_folded
    from shoplens.serve.keys import KeyStore
    from shoplens.serve.settings import ServeSettings

    key = KeyStore.for_warehouse(path).create("analyst")
    headers = {"Authorization": f"Bearer {key}"}
    # the bench measures answers, not the rate limiter
    app = create_app(Settings(warehouse=path, secret=SECRET),
                     ServeSettings(rate_limit_per_minute=10**9, rate_limit_burst=10**9))
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    with TestClient(app) as client:
        wh = app.state.warehouse
        _, model = load_model(wh)
        out["products"] = int(len(model.products_))
        out["customers_in_model"] = int(len(model.customers_))
        # products a storefront shows most: the popular half of the catalogue the model knows
        pool = model.products_[model.popular_order_[: max(50, len(model.products_) // 2)]].astype(str)
        clock = iter(range(10**9))

        def write(shop_id: str, products: list[str]) -> str:
            internal = to_internal(wh, [shop_id])[0]
            for p in products:
                wh.con.execute("INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at, "
                               "received_at) VALUES (?, ?, 'view', ?, TIMESTAMP '2030-01-01' + to_seconds(?), now())",
                               [internal, shop_id, p, next(clock)])
            return internal

        def ask(shop_id: str, extra: str = "") -> dict[str, Any]:
            r = client.get(f"/api/v1/recommendations/{shop_id}?n=10{extra}", headers=headers)
            r.raise_for_status()
            return r.json()

        # 1. event to visible
        total, writes, callbacks, answers, named = [], [], [], [], 0
        for i in range(visitors):
            shop_id = f"bench-visitor-{seed}-{i}"
            first = ask(shop_id)
            assert not first["personalised"] and ask(shop_id) == first  # popular, and cached
            products = list(rng.choice(pool, size=views, replace=False))
            t0 = time.perf_counter()
            internal = write(shop_id, products)
            t1 = time.perf_counter()
            notify_events_folded(app.state, [internal])
            t2 = time.perf_counter()
            body = ask(shop_id)
            t3 = time.perf_counter()
            total.append(t3 - t0), writes.append(t1 - t0), callbacks.append(t2 - t1), answers.append(t3 - t2)
            named += body["personalised"] and any(p in i["reason"] for i in body["data"] for p in products)
        if named != visitors:
            raise SystemExit(f"error: only {named} of {visitors} visitors got a list naming a viewed product")
        out["event_to_visible_ms"] = {"p50": ms(pct(total, 0.5)), "p95": ms(pct(total, 0.95)),
                                      "max": ms(max(total)), "write_p50": ms(pct(writes, 0.5)),
                                      "callback_p50": ms(pct(callbacks, 0.5)), "answer_p50": ms(pct(answers, 0.5)),
                                      "visitors": visitors, "views_each": views, "personalised_and_named": named}

        # 2. cost per request
        def timed(fn, n: int) -> float:
            times = []
            for j in range(n):
                t0 = time.perf_counter()
                fn(j)
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        with_events = [f"bench-visitor-{seed}-{i}" for i in range(visitors)]
        known = [str(c) for c in model.customers_[: repeats]]
        from shoplens.privacy.ids import to_external

        known_shop = [c for c in to_external(wh, known) if c is not None]
        for c in known_shop[: max(1, repeats // 4)]:  # a session for some known customers: their lists blend
            write(c, list(rng.choice(pool, size=views, replace=False)))
        blended = known_shop[: max(1, repeats // 4)]
        n = min(repeats, len(with_events))
        cached = timed(lambda j: ask(with_events[0]), repeats)
        app.state.responses.enabled = False  # every answer below is computed (the same questions as above)
        batch_api = timed(lambda j: ask(with_events[j % n], "&live=false"), repeats)
        live_api = timed(lambda j: ask(with_events[j % n]), repeats)
        blended_api = timed(lambda j: ask(blended[j % len(blended)]), repeats)
        app.state.responses.enabled = True
        default = app.state.consent_default
        batch_fn = timed(lambda j: recommend(wh, [with_events[j % n]], k=10, model=model, consent_default=default),
                         repeats)
        live_fn = timed(lambda j: recommend(wh, [with_events[j % n]], k=10, model=model, consent_default=default,
                                            live=True), repeats)
        out["cost_ms"] = {"api_cached": ms(cached), "api_batch": ms(batch_api), "api_live": ms(live_api),
                          "api_live_known_customer": ms(blended_api), "fn_batch": ms(batch_fn),
                          "fn_live": ms(live_fn), "repeats": repeats}
        out["ratios"] = {"api_live_over_batch": round(live_api / batch_api, 2),
                         "api_live_over_cached": round(live_api / cached, 1),
                         "fn_live_over_batch": round(live_fn / batch_fn, 2)}
        out["events_in_warehouse"] = int(wh.con.execute("SELECT count(*) FROM events").fetchone()[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder with taobao_userbehavior_head (adds the Taobao run)")
    parser.add_argument("--model", default="hybrid", help="model trained on the demo shop (hybrid: what the demo serves)")
    parser.add_argument("--taobao-model", default="item_knn",
                        help="model trained on the Taobao head (the hybrid does not train there yet: see docs/benchmarks.md)")
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--views", type=int, default=2, help="view events written per visitor")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data_sets = ["demo"]
    if args.data_dir is not None:
        if not (args.data_dir / "taobao_userbehavior_head" / "user_behavior_head.csv.gz").is_file():
            print(f"error: {args.data_dir}/taobao_userbehavior_head/user_behavior_head.csv.gz not found "
                  "(pass the folder that holds taobao_userbehavior_head)", file=sys.stderr)
            raise SystemExit(2)
        data_sets.append("taobao")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="live-recs-bench-") as tmp:
        for data in data_sets:
            model = args.model if data == "demo" else args.taobao_model
            path = build(Path(tmp), data, args.data_dir, model)
            results[f"{data}_model"] = model
            results[data] = run(path, args.visitors, args.views, args.repeats, args.seed)
    for data in data_sets:
        r = results[data]
        e, c, q = r["event_to_visible_ms"], r["cost_ms"], r["ratios"]
        print(f"\n{data}: {r['products']:,} products, {r['customers_in_model']:,} customers in the "
              f"{results[data + '_model']} model")
        print(f"  event -> visible (ms, {e['visitors']} visitors x {e['views_each']} views): p50 {e['p50']}  "
              f"p95 {e['p95']}  max {e['max']}  (write {e['write_p50']}, callback {e['callback_p50']}, "
              f"answer {e['answer_p50']}); personalised and naming a viewed product: {e['personalised_and_named']}")
        print(f"  per request (median ms): cached {c['api_cached']}  batch {c['api_batch']}  live {c['api_live']}  "
              f"live known customer {c['api_live_known_customer']}  |  function: batch {c['fn_batch']}  "
              f"live {c['fn_live']}")
        print(f"  ratios: live/batch {q['api_live_over_batch']} (API), {q['fn_live_over_batch']} (function); "
              f"live/cached {q['api_live_over_cached']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

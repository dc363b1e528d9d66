"""Where the 1M-customer pipeline's memory goes: `bench/customers.py`'s steps (RFM, CLV, churn,
segments, profile, one FeatureCache) on its scaled warehouse, with a thread sampling the process's
RSS every 50 ms and the churn step's parts marked (features, labels, canonical order, fits, predictions,
contributions, reasons, table writes). Prints, per part, the RSS when it started and the highest seen
during it, then one JSON line (step times, max RSS, a digest of the churn scores to compare versions).

    python bench/customers.py --data-dir ../shared/data --workdir /tmp/cust   # builds /tmp/cust/warehouse.duckdb
    python bench/profile_memory.py /tmp/cust/warehouse.duckdb
"""

from __future__ import annotations

import functools
import json
import resource
import sys
import threading
import time

import pandas as pd

import shoplens.customers.churn as churn
import shoplens.customers.features as features
import shoplens.store.registry as registry
from shoplens.store.warehouse import Warehouse
from baselines import require

psutil = require("psutil", baseline="memory sampler (RSS of the process)")  # the bench extra

stack = ["start"]
peaks: dict[str, list[float]] = {}


def sampler(stop: threading.Event) -> None:
    proc = psutil.Process()
    while not stop.is_set():
        rss = proc.memory_info().rss / 2**20
        name = "/".join(stack)
        first = peaks.setdefault(name, [rss, rss])
        first[1] = max(first[1], rss)
        time.sleep(0.05)


def mark(owner: object, attr: str, label: str | None = None) -> None:
    fn = getattr(owner, attr)

    @functools.wraps(fn)
    def wrapped(*a, **k):
        stack.append(label or attr)
        try:
            return fn(*a, **k)
        finally:
            stack.pop()

    setattr(owner, attr, wrapped)


def main() -> None:
    for attr in ("customer_features", "churn_labels", "_canonical", "calibration_table", "reasons_in_words", "_dataset"):
        mark(churn, attr)
    mark(features, "customer_features", "compute_features")
    mark(churn.ChurnModel, "fit", "model.fit")
    mark(churn.ChurnModel, "predict_proba", "predict")
    mark(churn.ChurnModel, "contributions")
    mark(Warehouse, "write_table")
    mark(registry.ModelRegistry, "register")
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.features import FeatureCache
    from shoplens.customers.profile import write_profile
    from shoplens.customers.rfm import compute_rfm
    from shoplens.customers.segments import build_segments

    stop = threading.Event()
    threading.Thread(target=sampler, args=(stop,), daemon=True).start()
    out: dict = {}
    with Warehouse(sys.argv[1], memory_limit="2GB") as wh:  # as bench/customers.py
        cache = FeatureCache()
        steps = {"rfm": lambda: compute_rfm(wh), "clv": lambda: fit_clv(wh), "churn": lambda: churn.fit_churn(wh, cache=cache),
                 "segments": lambda: build_segments(wh, cache=cache), "profile": lambda: write_profile(wh, cache=cache)}
        for name, fn in steps.items():
            stack[:] = [name]
            t0 = time.perf_counter()
            result = fn()
            out[name] = time.perf_counter() - t0
            if name == "churn":
                out["churn_scores_digest"] = str(pd.util.hash_pandas_object(result.scores, index=False).sum())
            del result
            print(f"{name}: {out[name]:.1f} s, max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
                  file=sys.stderr, flush=True)
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stop.set()
    time.sleep(0.2)
    for name, (start, peak) in peaks.items():
        print(f"{name:70s} start {start:7.0f} MB  peak {peak:7.0f} MB", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

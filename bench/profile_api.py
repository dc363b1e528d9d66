"""Where a computed API answer's CPU goes: `shoplens serve` (response cache off) runs with cProfile in
every thread (each thread's own CPU time) while wrk sends one endpoint's requests from 50 connections;
prints the CPU per request of the main parts (route, its DuckDB reads, pandas, the HTTP stack).

    python bench/profile_api.py --warehouse W --endpoint recommendations --seconds 20
    python bench/profile_api.py --warehouse W --endpoint customer360 --seconds 20

``W``: a warehouse as `bench/api.py` builds it (demo shop, item-kNN, customer results; its
SHOPLENS_SECRET in the environment). Startup and the first requests' imports are kept out: the
server is warmed, AnyIO's idle worker threads are left to exit (10 s), then SIGUSR1 starts the
profilers. DuckDB's calls are not separate cProfile entries (pybind11): a statement's CPU is the own
time of the shoplens function that runs it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ENDPOINTS = {"recommendations": ("routes/recs.py:_answer", "/api/v1/recommendations/{c}?n=10"),
             "customer360": ("routes/customers.py:customer_profile", "/api/v1/customers/{c}")}
# (label, function) pairs reported per request; a missing one is skipped
PARTS = ["routes/recs.py:_answer", "routes/customers.py:customer_profile", "live.py:recent_signals",
         "base.py:recommend", "base.py:_rows_frame", "base.py:_reasons", "models.py:_score",
         "consent.py:_check_internal", "ids.py:to_internal", "deps.py:authenticate", "access_log.py:record",
         "profile.py:customer_360", "profile.py:purchase_summary", "live.py:activity", "warehouse.py:query",
         "warehouse.py:tables", "warehouse.py:has_table", "attributes.py:customer_attributes",
         "fastapi/routing.py:_match", "routing.py:serialize_response"]


def serve_child(out: str, argv: list[str]) -> None:
    """`shoplens serve` whose threads are profiled from SIGUSR1 on; the stats are written at exit."""
    import atexit

    profiles: list[cProfile.Profile] = []

    def start(frame, event, arg):  # first event of every new thread
        sys.setprofile(None)
        p = cProfile.Profile(time.thread_time)
        profiles.append(p)
        p.enable()

    def on(signum, frame):
        threading.setprofile(start)
        start(None, None, None)  # the main thread (event loop) too

    def dump() -> None:
        merged = None
        for p in profiles:
            p.disable()
            try:
                s = pstats.Stats(p)
            except TypeError:  # a thread that made no call
                continue
            merged = s if merged is None else merged.add(s) or merged
        if merged is not None:
            merged.dump_stats(out)

    atexit.register(dump)
    signal.signal(signal.SIGUSR1, on)
    sys.argv = ["shoplens", *argv]
    from shoplens.cli import main

    main()


def report(path: str, key: str) -> None:
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]

    def find(sub: str) -> list:
        return [(k, v) for k, v in stats.items() if sub in f"{k[0]}:{k[2]}"]

    n = find(key)[0][1][1]
    total = sum(v[2] for v in stats.values())
    pandas = sum(v[2] for k, v in stats.items() if "/pandas/" in k[0] or "/numpy/" in k[0])
    print(f"requests profiled: {n}; CPU per request: {1000 * total / n:.2f} ms (every thread), "
          f"of which in pandas/numpy code {1000 * pandas / n:.2f} ms")
    for sub in PARTS:
        for k, v in find(sub):
            print(f"  {sub:42s} cumulative {1000 * v[3] / n:7.2f} ms  own {1000 * v[2] / n:6.2f} ms  "
                  f"calls/request {v[1] / n:4.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", type=Path, help="required except in the server child")
    ap.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="recommendations")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--out", default="api.prof", help="raw profile (pstats) written here")
    ap.add_argument("--serve-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_child is not None:
        serve_child(a.out, a.serve_child)
        return
    if a.warehouse is None:
        ap.error("--warehouse is required")
    import httpx
    from api import free_port, load_wrk  # bench/api.py

    from shoplens.privacy.ids import to_external
    from shoplens.serve.keys import KeyStore
    from shoplens.store.warehouse import Warehouse

    with Warehouse(a.warehouse, read_only=True) as wh:
        internal = [r[0] for r in wh.con.execute(
            "SELECT customer_id FROM customers WHERE coalesce(consent_personalization, TRUE) ORDER BY customer_id").fetchall()]
        customers = random.Random(0).sample(to_external(wh, internal), min(200, len(internal)))
    store = KeyStore.for_warehouse(a.warehouse)
    key = store.create("analyst", note="bench/profile_api.py")
    port = free_port()
    env = {**os.environ, "SHOPLENS_RESPONSE_CACHE": "false", "SHOPLENS_RATE_LIMIT_PER_MINUTE": str(10**9),
           "SHOPLENS_RATE_LIMIT_BURST": str(10**9)}
    server = subprocess.Popen([sys.executable, __file__, "--out", a.out, "--serve-child", "-w", str(a.warehouse), "serve",
                               "--port", str(port), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    fn, template = ENDPOINTS[a.endpoint]
    rng = random.Random(1)
    batch = [("GET", template.format(c=rng.choice(customers)), None) for _ in range(2000)]
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit("the server exited")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _, path, _ in batch[:40]:  # warm: lazy imports, first queries
            httpx.get(base + path, headers=headers, timeout=60).raise_for_status()
        time.sleep(12)  # AnyIO's idle worker threads exit after 10 s: the profiled ones start after the signal
        server.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        load0 = os.getloadavg()[0]
        res = load_wrk(base, batch, key, a.clients, a.seconds, server.pid)
        print(f"wrk: {res['requests']} requests in {res['seconds']:.1f} s ({res['rps']:.1f} req/s), p50 {res['p50_ms']:.0f} ms, "
              f"p99 {res['p99_ms']:.0f} ms, server CPU {res['server_cpu_ms']:.1f} ms/request; "
              f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
        store.revoke(key.split("_")[1])
    report(a.out, fn)


if __name__ == "__main__":
    main()

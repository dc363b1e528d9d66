"""API load benchmark: requests/s and p50/p99 latency of the recommendation, customer 360 and text endpoints
under 50 concurrent clients on loopback, against the server's own health endpoint (same HTTP stack,
no key check, no work) as the baseline measured in the same run.

    python bench/api.py --warehouse /tmp/bench/w.duckdb --clients 50 --requests 3000 --repeats 3

Without ``--warehouse`` a fresh demo warehouse is built in a temporary folder (ingest, an
item-kNN recommender (``--model hybrid`` trains what the demo serves) and the customer results
the customer 360 shows). Endpoints: recommendations, the customer 360, text analysis
(``--skip-text`` leaves it out) and the health baseline. The server runs in its
own process (``shoplens serve``, one uvicorn worker: DuckDB allows one writing process), the
clients in this one (httpx, asyncio). Every request is counted; a run stops after
``--requests`` requests or ``--max-seconds``. Prints a table and one JSON line.

``--driver wrk`` drives the server with wrk (C, event loop; ``apt-get install wrk``) instead:
the Python client costs more CPU per request than the server does, and on a 2-core machine it
takes the cores the server needs. wrk runs for ``--max-seconds`` per endpoint and repeat,
cycling through the same request list (a Lua script), with ``--clients`` connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SECRET = "bench-" + "Zq8xK2mV9pL4nR7tW1yB5cF3hJ6dG0sA"  # only for the throw-away bench warehouse


def build_warehouse(folder: Path, model: str) -> Path:
    from shoplens.config import Settings
    from shoplens.recs.service import train
    from shoplens.services import ingest_demo_shop
    from shoplens.store.warehouse import Warehouse

    path = folder / "warehouse.duckdb"
    settings = Settings(warehouse=path, secret=SECRET)
    from shoplens.customers.profile import write_profile

    with Warehouse(path) as wh:
        ingest_demo_shop(settings, wh)
        train(wh, model=model)
        write_profile(wh)  # the segments, RFM, CLV and churn the customer 360 shows
        try:  # the text endpoint needs the text package's results when it scores the warehouse
            from shoplens.text.analyze import analyze_warehouse  # type: ignore[import-not-found]

            analyze_warehouse(wh)
        except ImportError:
            pass
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int, secret: str | None, cache: bool) -> subprocess.Popen:
    env = dict(os.environ)
    env["SHOPLENS_RESPONSE_CACHE"] = "true" if cache else "false"
    if secret:
        env["SHOPLENS_SECRET"] = secret
    env["SHOPLENS_RATE_LIMIT_PER_MINUTE"] = str(10**9)  # the bench measures throughput, not the limiter
    env["SHOPLENS_RATE_LIMIT_BURST"] = str(10**9)
    proc = subprocess.Popen([sys.executable, "-m", "shoplens.cli", "-w", str(path), "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(base: str, requests: list[tuple[str, str, dict | None]], key: str, clients: int,
               max_seconds: float, pid: int) -> dict:
    """Send ``requests`` (method, path, json) from ``clients`` concurrent connections."""
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(requests))
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    deadline = time.perf_counter() + max_seconds

    async def client(session: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue and time.perf_counter() < deadline:
            method, path, body = queue.pop()
            t0 = time.perf_counter()
            try:
                r = await session.request(method, path, json=body, headers=headers)
            except httpx.TransportError:  # e.g. a keep-alive connection the server closed: counted, not fatal
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors += 1

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as session:
        await session.get("/api/v1/health")  # warm the pool
        cpu0 = server_cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(pid) - cpu0
    latencies.sort()
    n = len(latencies)
    # server CPU per request: what one core can serve when the machine is not shared (1000 / ms = req/s)
    return {"requests": n, "errors": errors, "seconds": elapsed, "rps": n / elapsed,
            "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))],
            "server_cpu_ms": 1000 * cpu / max(n, 1)}


WRK_SCRIPT = """
local requests = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  return wrk.format(r[1], r[2], r[3] and {["Authorization"] = "Bearer %s", ["Content-Type"] = "application/json"}
                    or {["Authorization"] = "Bearer %s"}, r[3])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
      e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def load_wrk(base: str, requests: list[tuple[str, str, dict | None]], key: str, clients: int, seconds: float,
             pid: int) -> dict:
    """The same measurement as :func:`load`, with wrk as the load generator (duration-bound)."""
    entries = ",".join("{%s,%s,%s}" % (_lua_string(m), _lua_string(p), _lua_string(json.dumps(b)) if b else "nil")
                       for m, p, b in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % (entries, key, key))
    try:
        cpu0 = server_cpu_seconds(pid)
        out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                              "-s", f.name, base], capture_output=True, text=True, check=True).stdout
        cpu = server_cpu_seconds(pid) - cpu0
    finally:
        os.unlink(f.name)
    m = re.search(r"^WRK (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if m is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    n, duration_us, errors, p50_us, p99_us = (int(v) for v in m.groups())
    elapsed = duration_us / 1e6
    return {"requests": n, "errors": errors, "seconds": elapsed, "rps": n / elapsed, "p50_ms": p50_us / 1000,
            "p99_ms": p99_us / 1000, "server_cpu_ms": 1000 * cpu / max(n, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, help="a warehouse with a trained recommender (default: build one)")
    parser.add_argument("--model", default="item_knn", help="recommender to train when building (default item_knn)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint and repeat")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="cap per endpoint and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cache", action="store_true", help="turn the server's response cache off (cold answers)")
    parser.add_argument("--customers", type=int, default=200,
                        help="distinct customers asked for (the storefront's active ones); each is asked once "
                             "before timing when the cache is on, so the timed run measures warm answers")
    parser.add_argument("--skip-text", action="store_true", help="leave out POST /text/analyze (bound by the text models)")
    parser.add_argument("--driver", choices=("httpx", "wrk"), default="httpx",
                        help="load generator: httpx (Python, in this process) or wrk (C; needs `wrk` on PATH)")
    args = parser.parse_args()
    if args.driver == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--driver wrk needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)")

    from shoplens.privacy.ids import to_external
    from shoplens.serve.keys import KeyStore
    from shoplens.store.warehouse import Warehouse

    tmp = tempfile.TemporaryDirectory(prefix="bench-api-")
    secret = None
    if args.warehouse is None:
        print(f"building a demo warehouse with a {args.model} recommender ...", file=sys.stderr)
        path = build_warehouse(Path(tmp.name), args.model)
        secret = SECRET
        os.environ["SHOPLENS_SECRET"] = secret
    else:
        path = args.warehouse
    with Warehouse(path, read_only=True) as wh:
        internal = [r[0] for r in wh.con.execute(
            "SELECT customer_id FROM customers WHERE coalesce(consent_personalization, TRUE) ORDER BY customer_id"
        ).fetchall()]
        customers = to_external(wh, internal)
        reviews = [r[0] for r in wh.con.execute("SELECT text FROM reviews WHERE text IS NOT NULL LIMIT 500").fetchall()]
    store = KeyStore.for_warehouse(path)
    key = store.create("analyst", note="bench/api.py")
    port = free_port()
    server = start_server(path, port, secret, not args.no_cache)
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(0)
    customers = rng.sample(customers, min(args.customers, len(customers)))
    endpoints = {
        "health (baseline)": lambda: ("GET", "/api/v1/health", None),
        "recommendations": lambda: ("GET", f"/api/v1/recommendations/{rng.choice(customers)}?n=10", None),
        "customer 360": lambda: ("GET", f"/api/v1/customers/{rng.choice(customers)}", None),
        "text/analyze": lambda: ("POST", "/api/v1/text/analyze", {"text": rng.choice(reviews)}),
    }
    if args.skip_text:
        endpoints.pop("text/analyze")
    results: dict[str, list[dict]] = {name: [] for name in endpoints}
    try:
        probe = None if args.skip_text else httpx.post(f"{base}/api/v1/text/analyze", json={"text": "great"},
                                                       headers={"Authorization": f"Bearer {key}"}, timeout=300)
        if probe is not None and probe.status_code != 200:  # the first call loads the models
            print(f"text/analyze skipped: {probe.status_code} {probe.json().get('detail')}", file=sys.stderr)
            endpoints.pop("text/analyze")
            results.pop("text/analyze")
        if not args.no_cache:  # warm: every customer answered once
            warm = [("GET", f"/api/v1/{path}", None) for c in customers
                    for path in (f"recommendations/{c}?n=10", f"customers/{c}")]
            asyncio.run(load(base, warm, key, min(args.clients, 8), 600, server.pid))
        for _ in range(args.repeats):
            for name, make in endpoints.items():
                batch = [make() for _ in range(args.requests)]
                if args.driver == "wrk":
                    results[name].append(load_wrk(base, batch, key, args.clients, args.max_seconds, server.pid))
                else:
                    results[name].append(asyncio.run(load(base, batch, key, args.clients, args.max_seconds,
                                                          server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        store.revoke(key.split("_")[1])
        tmp.cleanup()

    summary = {}
    for name, runs in results.items():
        summary[name] = {k: round(statistics.median(r[k] for r in runs), 2)
                         for k in ("rps", "p50_ms", "p99_ms", "server_cpu_ms", "requests", "errors")}
    base_rps = summary["health (baseline)"]["rps"]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'endpoint':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10} {'errors':>7} {'vs health':>10}")
    for name, s in summary.items():
        print(f"{name:<20} {s['rps']:>9.0f} {s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f} {s['server_cpu_ms']:>10.2f} "
              f"{s['errors']:>7.0f} {s['rps'] / base_rps if base_rps else float('nan'):>10.2f}")
    print(json.dumps({"driver": args.driver, "cache": not args.no_cache, "clients": args.clients, "requests": args.requests, "repeats": args.repeats,
                      "cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "results": summary}))


if __name__ == "__main__":
    main()

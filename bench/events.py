"""Event collector benchmark: accepted events/s through ``POST /api/v1/batch`` with durability on
(each request's events fsynced before the answer), event-to-visible latency (receipt -> the fold's
commit, from the server's ``shoplens_event_visible_seconds`` histogram) and the server's peak memory,
against a plain FastAPI endpoint that appends the batch's events as JSON lines and fsyncs (no
validation, no de-duplication, no warehouse) in the same run.

    python bench/events.py --events 100000 --batch 1000 --clients 4 --repeats 3

Two phases per run: *throughput*, the clients sending as fast as the server answers (the
visible latency of that phase is the backlog of an overloaded server, reported as
``saturated_visible_*``); then *latency*, a steady ``--rate`` events/s in requests of ``--rate /
10`` events every 0.1 s for ``--seconds``, whose visible p50/p95 is what a shop below capacity sees.

The events are the bundled Taobao slice (6,156 real events) repeated with fresh message ids. Each
server runs in its own process (one uvicorn worker), the clients in this one (httpx, asyncio;
request bodies built before the clock starts). p50/p95 come from the histogram's buckets,
interpolated as Prometheus' ``histogram_quantile`` does. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

SECRET = "bench-" + "Zq8xK2mV9pL4nR7tW1yB5cF3hJ6dG0sA"  # only for the throw-away bench warehouse

BASELINE_APP = textwrap.dedent('''
    import json, os, threading
    from fastapi import FastAPI, Request
    app = FastAPI()
    lock = threading.Lock()
    out = open(os.environ["BASELINE_LOG"], "ab")

    @app.post("/api/v1/batch")
    async def batch(request: Request):
        events = json.loads(await request.body())["batch"]
        data = b"".join(json.dumps(e).encode() + b"\\n" for e in events)
        with lock:
            out.write(data); out.flush(); os.fsync(out.fileno())
        return {"accepted": len(events), "duplicates": 0, "rejected": []}

    @app.get("/api/v1/health")
    def health():
        return {"status": "ok"}
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, port: int) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"error: the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def start_shoplens(folder: Path, port: int) -> tuple[subprocess.Popen, str, str]:
    from shoplens.config import Settings
    from shoplens.serve.keys import KeyStore
    from shoplens.store.warehouse import Warehouse

    path = folder / "warehouse.duckdb"
    with Warehouse(path):
        pass
    store = KeyStore.for_warehouse(path)
    collector, admin = store.create("collector"), store.create("admin")
    env = {**os.environ, "SHOPLENS_SECRET": SECRET, "SHOPLENS_RATE_LIMIT_PER_MINUTE": str(10**9),
           "SHOPLENS_RATE_LIMIT_BURST": str(10**9)}
    Settings(warehouse=path, secret=SECRET)  # the same secret the server reads from the environment
    proc = subprocess.Popen([sys.executable, "-m", "shoplens.cli", "-w", str(path), "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(proc, port)
    return proc, collector, admin


def start_baseline(folder: Path, port: int) -> subprocess.Popen:
    (folder / "baseline_app.py").write_text(BASELINE_APP)
    env = {**os.environ, "BASELINE_LOG": str(folder / "baseline.jsonl")}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "baseline_app:app", "--port", str(port),
                             "--log-level", "warning"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    wait_ready(proc, port)
    return proc


def bodies(n_events: int, batch: int, run: str) -> list[bytes]:
    from shoplens.datasets import demo_data_dir
    from shoplens.stream.presets import read_calls

    sample = list(read_calls(demo_data_dir() / "taobao_userbehavior_sample.csv.gz", "taobao-userbehavior"))
    events = [{**sample[i % len(sample)], "messageId": f"{run}-{i}"} for i in range(n_events)]
    return [json.dumps({"batch": events[i:i + batch]}).encode() for i in range(0, n_events, batch)]


async def drive(port: int, key: str | None, requests: list[bytes], clients: int) -> tuple[float, int]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    queue = list(reversed(requests))
    accepted = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while queue:
            body = queue.pop()
            answer = await client.post(f"http://127.0.0.1:{port}/api/v1/batch", content=body, headers=headers)
            if answer.status_code != 200:
                raise SystemExit(f"error: /batch answered {answer.status_code}: {answer.text[:200]}")
            accepted += answer.json()["accepted"]

    async with httpx.AsyncClient(timeout=600) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - started, accepted


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def histogram_quantile(text: str, name: str, q: float) -> float:
    """``q`` quantile of a Prometheus histogram in ``text`` (linear within the bucket)."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1]
    if not total:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = upper, count
    return lower


def histogram_delta(before: str, after: str, name: str) -> str:
    """The histogram lines of ``after`` minus those of ``before`` (one phase's observations)."""
    old = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in before.splitlines()
           if line.startswith(f"{name}_bucket{{")}
    return "\n".join(f"{k} {float(v) - old.get(k, 0.0)}" for k, v in
                     (line.rsplit(" ", 1) for line in after.splitlines() if line.startswith(f"{name}_bucket{{")))


async def steady(port: int, key: str, rate: int, seconds: float, run: str) -> int:
    """``rate`` events/s for ``seconds``: one request of rate/10 events every 0.1 s."""
    per = max(rate // 10, 1)
    reqs = bodies(per * int(seconds * 10), per, run)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    sent = 0
    async with httpx.AsyncClient(timeout=600) as client:
        started = time.perf_counter()
        pending = []
        for i, body in enumerate(reqs):
            delay = started + i * 0.1 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(
                client.post(f"http://127.0.0.1:{port}/api/v1/batch", content=body, headers=headers)))
        for answer in await asyncio.gather(*pending):
            sent += answer.json()["accepted"]
    return sent


def scrape(port: int, admin: str) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {admin}"}).text


def wait_folded(port: int, admin: str, expected: int) -> str:
    """The /metrics text once every accepted event is folded."""
    while True:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {admin}"}).text
        folded = next((float(line.split()[1]) for line in text.splitlines()
                       if line.startswith("shoplens_events_folded_total ")), 0.0)
        if folded >= expected:
            return text
        time.sleep(0.2)


def run_once(args: argparse.Namespace, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-events-") as tmp:
        folder = Path(tmp)
        port = free_port()
        proc, key, admin = start_shoplens(folder, port)
        try:
            reqs = bodies(args.events, args.batch, f"r{repeat}")
            seconds, accepted = asyncio.run(drive(port, key, reqs, args.clients))
            text = wait_folded(port, admin, accepted)
            name = "shoplens_event_visible_seconds"
            out.update(shoplens_events_per_s=accepted / seconds,
                       saturated_visible_p50_s=histogram_quantile(text, name, 0.5),
                       saturated_visible_p95_s=histogram_quantile(text, name, 0.95))
            sent = asyncio.run(steady(port, key, args.rate, args.seconds, f"s{repeat}"))
            after = wait_folded(port, admin, accepted + sent)
            delta = histogram_delta(text, after, name)
            out.update(visible_p50_s=histogram_quantile(delta, name, 0.5),
                       visible_p95_s=histogram_quantile(delta, name, 0.95),
                       shoplens_peak_rss_mb=peak_rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait()
        port = free_port()
        proc = start_baseline(folder, port)
        try:
            seconds, accepted = asyncio.run(drive(port, None, bodies(args.events, args.batch, f"b{repeat}"), args.clients))
            out.update(baseline_events_per_s=accepted / seconds, baseline_peak_rss_mb=peak_rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events per run")
    parser.add_argument("--batch", type=int, default=1000, help="events per /batch request (~200 KB)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=1000, help="events/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency phase")
    args = parser.parse_args()
    runs = [run_once(args, r) for r in range(args.repeats)]
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    medians["ratio_shoplens_to_baseline"] = medians["shoplens_events_per_s"] / medians["baseline_events_per_s"]
    print(f"{'':34}{'median':>12}   runs")
    for k, v in medians.items():
        each = "  ".join(f"{r[k]:.3g}" for r in runs) if k in runs[0] else ""
        print(f"{k:34}{v:12.3f}   {each}")
    print(json.dumps({"events": args.events, "batch": args.batch, "clients": args.clients, "rate": args.rate,
                      "seconds": args.seconds, "cpus": os.cpu_count(),
                      "medians": {k: round(v, 4) for k, v in medians.items()}, "runs": runs}))


if __name__ == "__main__":
    main()

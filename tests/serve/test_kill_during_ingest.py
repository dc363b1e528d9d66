"""Killing the server in the middle of an ingest leaves the warehouse consistent after restart."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from shoplens.datasets import demo_data_dir
from shoplens.serve.keys import KeyStore
from shoplens.store.warehouse import Warehouse

from tests.serve.serve_helpers import auth

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"


# safety net only, never a speed check: each wait below ends as soon as its condition holds,
# and only a hang (a server that never starts or never answers) fails on it; a loaded
# machine may take many times longer than an idle one
HANG = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SHOPLENS_SECRET": DEMO_SECRET, "SHOPLENS_ALLOW_WEAK_SECRET": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from shoplens.cli import main; main()", "-w", str(path), "serve", "--port", str(port),
         "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + HANG
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def snapshot(path: Path) -> dict[str, int]:
    with Warehouse(path, read_only=True) as wh:
        counts = {t: wh.row_count(t) for t in ("orders", "order_items", "products", "customers")}
        counts["runs"] = wh.row_count("_ingest_runs")
    return counts


def test_kill_during_ingest_leaves_the_warehouse_consistent(demo_warehouse_path, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    with Warehouse(path) as wh:  # start from an empty sales history so the upload is all new rows
        wh.con.execute("DELETE FROM order_items; DELETE FROM orders")
    before = snapshot(path)
    key = KeyStore.for_warehouse(path).create("admin")
    port = free_port()
    server = start_server(path, port)
    payload = (demo_data_dir() / "online_retail_sample.csv.gz").read_bytes()
    outcome: dict[str, object] = {}

    def upload() -> None:
        try:
            outcome["response"] = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/ingest", headers=auth(key), data={"preset": "online-retail"},
                files={"file": ("online_retail.csv.gz", payload, "application/gzip")}, timeout=HANG)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=upload)
    thread.start()
    uploads = tmp_path / ".tmp" / "uploads" / "warehouse"
    deadline = time.time() + HANG  # the upload lands in an upload-* folder, then the ingest starts: kill it then
    while not list(uploads.glob("upload-*/*")) and time.time() < deadline and thread.is_alive():
        time.sleep(0.02)
    time.sleep(0.5)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=HANG)
    thread.join(timeout=HANG)
    assert "error" in outcome, "the ingest finished before the kill; the test no longer exercises a crash"

    after = snapshot(path)  # reopening replays DuckDB's write-ahead log: committed work only
    assert after == before, f"partial ingest visible after the crash: {before} -> {after}"
    with Warehouse(path, read_only=True) as wh:
        orphans = wh.con.execute(
            "SELECT count(*) FROM order_items WHERE order_id NOT IN (SELECT order_id FROM orders)").fetchone()[0]
    assert orphans == 0

    # the killed upload (raw data) is still there until the server starts again, which removes it
    assert list(uploads.glob("upload-*/*"))
    server = start_server(path, port)
    assert not list(uploads.glob("upload-*"))
    # the restarted server accepts the same ingest and accounts for every line
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/ingest", headers=auth(key), data={"preset": "online-retail"},
                       files={"file": ("online_retail.csv.gz", payload, "application/gzip")}, timeout=HANG)
        assert r.status_code == 200, r.text
        acc = r.json()
        assert acc["read"] == acc["loaded"] + acc["updated"] + acc["quarantined"] + acc["duplicates"]
        assert acc["loaded"] > 0
    finally:
        server.terminate()
        server.wait(timeout=HANG)
    assert snapshot(path)["orders"] > before["orders"]

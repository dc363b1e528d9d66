"""An event acknowledged with 200 is on disk: a `kill -9` of the server right after the answer loses
nothing, and the restarted server folds it into the warehouse."""

from __future__ import annotations

import shutil
import signal

import httpx

from shoplens.serve.keys import KeyStore
from shoplens.store.warehouse import Warehouse

from tests.serve.serve_helpers import auth
from tests.serve.test_kill_during_ingest import HANG, free_port, start_server


def test_kill_9_right_after_the_answer_loses_no_event(demo_warehouse_path, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    key = KeyStore.for_warehouse(path).create("collector")
    port = free_port()
    server = start_server(path, port)
    batch = {"batch": [{"type": "track", "event": "Product Viewed", "anonymousId": f"v{i % 7}",
                        "properties": {"product_id": f"p{i}"}, "timestamp": "2011-06-01T10:00:00Z",
                        "messageId": f"kill-{i}"} for i in range(300)]}
    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/batch", json=batch, headers=auth(key), timeout=HANG)
        server.send_signal(signal.SIGKILL)  # right after the 200: no fold, no shutdown
    finally:
        server.kill()
        server.wait(timeout=HANG)
    assert answer.status_code == 200 and answer.json() == {"accepted": 300, "duplicates": 0, "rejected": []}
    port = free_port()
    server = start_server(path, port)  # folds what the log holds before it answers
    try:
        again = httpx.post(f"http://127.0.0.1:{port}/api/v1/batch", json=batch, headers=auth(key), timeout=HANG)
    finally:
        server.terminate()
        server.wait(timeout=HANG)
    assert again.json() == {"accepted": 0, "duplicates": 300, "rejected": []}  # stored once
    with Warehouse(path, read_only=True) as wh:
        stored = wh.con.execute("SELECT count(DISTINCT message_id), count(*) FROM events "
                                "WHERE message_id LIKE 'kill-%'").fetchall()[0]
    assert stored == (300, 300)

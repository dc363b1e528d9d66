"""The background fold: it starts shortly after events arrive, folds nothing when nothing arrived,
and retries a failed fold without waiting for new events."""

from __future__ import annotations

import contextlib
import time

from shoplens.stream.worker import FoldWorker

from tests.stream.conftest import track


def wait_for(condition, seconds: float = 600.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (a hang guard, far above a fold on a loaded machine)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def stored(wh) -> int:
    """Events in the warehouse, read on a cursor of its own (the worker writes on the connection)."""
    with wh.con.cursor() as cur:
        return cur.execute("SELECT count(*) FROM events").fetchall()[0][0]


def test_events_are_folded_soon_after_they_arrive_and_a_quiet_worker_folds_nothing(shop):
    wh, _, collector = shop
    folds = []
    worker = FoldWorker(collector, lambda: contextlib.nullcontext(wh), callbacks=[folds.append], interval=0.05)
    worker.start()
    try:
        time.sleep(0.3)
        assert folds == []  # nothing arrived: no fold ran
        collector.collect([track("Product Viewed", user="7", mid="m1", product_id="p1")])
        worker.notify()
        assert wait_for(lambda: stored(wh) == 1)
        collector.collect([track("Product Added", user="7", mid="m2", product_id="p1")])
        worker.notify()
        assert wait_for(lambda: stored(wh) == 2)
    finally:
        worker._stop.set()
        worker._wake.set()
        worker._thread.join()
    assert [f.folded for f in folds] == [1, 1]


def test_a_failed_fold_is_retried_without_new_events(shop, monkeypatch):
    wh, _, collector = shop
    real = collector.fold
    calls = []

    def flaky(target):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the disk is full")
        return real(target)

    monkeypatch.setattr(collector, "fold", flaky)
    worker = FoldWorker(collector, lambda: contextlib.nullcontext(wh), interval=0.05)
    worker.start()
    try:
        collector.collect([track("Product Viewed", user="7", mid="m1", product_id="p1")])
        worker.notify()
        assert wait_for(lambda: stored(wh) == 1)  # the second attempt, with no request in between
    finally:
        worker._stop.set()
        worker._wake.set()
        worker._thread.join()
    assert len(calls) >= 2

"""The fold as a background task of a server: fold the log into the warehouse and run the
registered callbacks, ``interval`` seconds after the first event waits (at once when ``batch``
events wait), and again as soon as a fold ends with events waiting. A quiet server does nothing;
a busy one folds back to back, each fold taking everything that arrived during the last one (the
batches grow with the load, so the fold's fixed cost is spread over more events).

The server owns the warehouse (DuckDB allows one writing process), so the fold runs inside it.
Callbacks get the :class:`~shoplens.stream.collector.FoldResult` (``result.customers``: the
shop-facing ids whose data changed); a failing callback is logged and never stops the fold.

>>> import contextlib, pathlib, tempfile
>>> from shoplens.config import Settings
>>> from shoplens.store.warehouse import Warehouse
>>> settings = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> wh = Warehouse(settings.warehouse)
>>> seen = []
>>> worker = FoldWorker(Collector(wh, settings), lambda: contextlib.nullcontext(wh), callbacks=[seen.append])
>>> _ = worker.collector.collect([{"type": "track", "event": "Cart Viewed", "userId": "u1"}])
>>> worker.fold_now().events.loaded, sorted(seen[0].customers)
(1, ['u1'])
>>> worker.close(); wh.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from shoplens.store.warehouse import Warehouse
from shoplens.stream.collector import Collector, FoldResult

log = logging.getLogger("shoplens.stream")

FoldCallback = Callable[[FoldResult], None]


class FoldWorker:
    """Folds ``collector``'s log into the warehouse ``connect()`` yields, in a background thread
    (:meth:`start`), under ``lock`` (shared with other writers of the server) when given."""

    def __init__(self, collector: Collector, connect: Callable[[], AbstractContextManager[Warehouse]], *,
                 callbacks: list[FoldCallback] | None = None, interval: float = 0.2, batch: int = 5000,
                 lock: Any = None) -> None:
        self.collector = collector
        self.connect = connect
        self.callbacks = callbacks if callbacks is not None else []
        self.interval = interval
        self.batch = batch
        self.lock = lock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry = False  # the last fold failed: its events are still in the log
        self.last: FoldResult | None = None

    def fold_now(self) -> FoldResult:
        """Fold what the log holds now; when it held anything, run the callbacks."""
        with self.lock if self.lock is not None else nullcontext(), self.connect() as wh:
            result = self.collector.fold(wh)
        self.last = result
        if result.folded:
            for callback in list(self.callbacks):
                try:
                    callback(result)
                except Exception:  # a cache or a counter failing must not stop the collector
                    log.exception("fold callback %r failed", callback)
        return result

    def notify(self) -> None:
        """Called after each accepted request: the fold starts ``interval`` s after the first waiting event."""
        if self.collector.pending:
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shoplens-fold", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(max(self.interval, 1.0))  # woken by notify; the timeout only re-checks the log
            if self._stop.is_set():
                break
            if not (self.collector.pending or self._retry):
                self._wake.clear()
                continue
            if self.collector.pending < self.batch:
                self._stop.wait(self.interval)  # gather what arrives meanwhile (close() cuts it short)
            self._wake.clear()  # a request accepted during the fold wakes the next one
            try:
                self.fold_now()
                self._retry = False
            except Exception:  # the log keeps the events; the next fold (within a second) tries again
                log.exception("folding the event log failed; the events stay in the log")
                self._retry = True

    def close(self) -> None:
        """Stop the thread, fold what is left, close the log."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.fold_now()
        finally:
            self.collector.close()

"""A bounded in-memory response cache, emptied whenever the server changes data.

While ``shoplens serve`` runs it holds the only writable connection to the warehouse
(DuckDB allows one writing process), so every change of data (ingest, erasure,
promotion, rollback) passes through this process, which empties the cache at
once: a cached answer can never be older than the data behind it. Behaviour events
folded in by the collector change only some customers' answers: those are dropped by
customer (:meth:`ResponseCache.invalidate_customers`), the rest stay.

Written by hand (an ordered dict with a lock) because a dependency would add
nothing: cachetools' LRUCache is the same dozen lines, and has no per-customer index.

>>> cache = ResponseCache(max_items=2)
>>> cache.put(("a",), 1); cache.put(("b",), 2); cache.put(("c",), 3)
>>> cache.get(("a",)) is None, cache.get(("c",))
(True, 3)
>>> cache.put(("recs", "17850"), {"n": 1}, customers=["17850", "c0123"])
>>> cache.invalidate_customers(["c0123"]), cache.get(("recs", "17850")) is None
(1, True)
>>> cache.clear(); cache.get(("c",)) is None
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

#: what the collector calls after it folds events in: ``callback(customer_ids)`` (see :func:`notify_events_folded`)
EventsFolded = Callable[[Iterable[str]], Any]


class ResponseCache:
    """Least-recently-used cache of JSON-ready responses, with an index by customer id."""

    def __init__(self, max_items: int = 50_000, enabled: bool = True) -> None:
        self.max_items = max_items
        self.enabled = enabled
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._customers_of: dict[Hashable, tuple[str, ...]] = {}  # key -> the customer ids it answers for
        self._keys_of: dict[str, set[Hashable]] = {}  # customer id -> cached keys
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.epoch = 0  # counts invalidations: an answer computed before one is not cached after it

    def get(self, key: Hashable) -> Any:
        if not self.enabled:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any, *, customers: Iterable[str] = (), epoch: int | None = None) -> None:
        """Cache ``value``; ``customers``: the ids (shop and warehouse ids alike) whose new events must drop
        it. ``epoch``: :attr:`epoch` when the answer's computation started; if the cache was invalidated
        since, the answer may be older than the data and is not kept."""
        if not self.enabled:
            return
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return
            self._unlink(key)
            self._items[key] = value
            self._items.move_to_end(key)
            ids = tuple(dict.fromkeys(str(c) for c in customers if c is not None))
            if ids:
                self._customers_of[key] = ids
                for cid in ids:
                    self._keys_of.setdefault(cid, set()).add(key)
            while len(self._items) > self.max_items:
                old, _ = self._items.popitem(last=False)
                self._unlink(old)

    def _unlink(self, key: Hashable) -> None:
        for cid in self._customers_of.pop(key, ()):
            keys = self._keys_of.get(cid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_of[cid]

    def invalidate_customers(self, customer_ids: Iterable[str]) -> int:
        """Drop every cached answer about these customers or visitors (shop ids or warehouse ids, as the
        answers were tagged); returns how many answers were dropped. Thread-safe; cheap when none is cached."""
        with self._lock:
            self.epoch += 1
            dropped = 0
            for cid in {str(c) for c in customer_ids if c is not None}:
                for key in list(self._keys_of.get(cid, ())):
                    self._unlink(key)
                    if self._items.pop(key, None) is not None:
                        dropped += 1
            return dropped

    def clear(self) -> None:
        with self._lock:
            self.epoch += 1
            self._items.clear()
            self._customers_of.clear()
            self._keys_of.clear()


def notify_events_folded(state: Any, customer_ids: Iterable[str]) -> None:
    """Call every callback registered in ``state.on_events_folded`` (the app's state) with the ids whose
    events were just folded into the warehouse. The collector calls this after each micro-batch; the
    app factory registers :meth:`ResponseCache.invalidate_customers` there.

    >>> from types import SimpleNamespace
    >>> seen = []
    >>> notify_events_folded(SimpleNamespace(on_events_folded=[seen.extend]), {"v1"}); seen
    ['v1']
    """
    ids = [str(c) for c in customer_ids if c is not None]
    for callback in list(getattr(state, "on_events_folded", ())):
        callback(ids)

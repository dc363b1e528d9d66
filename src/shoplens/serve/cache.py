"""A bounded in-memory response cache, emptied whenever the server changes data.

While ``shoplens serve`` runs it holds the only writable connection to the warehouse
(DuckDB allows one writing process), so every change of data (ingest, erasure,
promotion, rollback) passes through this process, which empties the cache at
once: a cached answer can never be older than the data behind it.

Written by hand (an ordered dict with a lock) because a dependency would add
nothing: cachetools' LRUCache is the same dozen lines.

>>> cache = ResponseCache(max_items=2)
>>> cache.put(("a",), 1); cache.put(("b",), 2); cache.put(("c",), 3)
>>> cache.get(("a",)) is None, cache.get(("c",))
(True, 3)
>>> cache.clear(); cache.get(("c",)) is None
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ResponseCache:
    """Least-recently-used cache of JSON-ready responses."""

    def __init__(self, max_items: int = 50_000, enabled: bool = True) -> None:
        self.max_items = max_items
        self.enabled = enabled
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

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

    def put(self, key: Hashable, value: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

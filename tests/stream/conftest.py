"""Fixtures: a collector over a fresh warehouse, and over a copy of the demo shop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.store.warehouse import Warehouse
from shoplens.stream.collector import Collector

SECRET = "k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa"
DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"


@pytest.fixture()
def shop(tmp_path: Path):
    """(warehouse, settings, collector) over an empty warehouse."""
    settings = Settings(warehouse=tmp_path / "w" / "warehouse.duckdb", secret=SECRET)
    wh = Warehouse(settings.warehouse)
    collector = Collector(wh, settings)
    yield wh, settings, collector
    collector.close()
    wh.close()


@pytest.fixture()
def demo_shop(demo_warehouse_path: Path, tmp_path: Path):
    """(warehouse, settings, collector) over a copy of the demo shop (orders, products, customers)."""
    path = tmp_path / "demo" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_warehouse_path, path)
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    wh = Warehouse(path)
    collector = Collector(wh, settings)
    yield wh, settings, collector
    collector.close()
    wh.close()


def track(event: str, *, user: str | None = None, anon: str | None = None, mid: str | None = None,
          ts: str = "2024-05-01T10:00:00Z", **props) -> dict:
    call = {"type": "track", "event": event, "timestamp": ts, "properties": props}
    if user:
        call["userId"] = user
    if anon:
        call["anonymousId"] = anon
    if mid:
        call["messageId"] = mid
    return call

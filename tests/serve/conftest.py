"""Fixtures: a served copy of the demo warehouse with one key per role."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoplens.config import Settings
from shoplens.serve.app import create_app
from shoplens.serve.keys import KeyStore
from shoplens.serve.settings import ServeSettings

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # the session demo warehouse's (tests/conftest.py)


@pytest.fixture()
def served(demo_warehouse_path: Path, tmp_path: Path):
    """(client, keys by role, settings) over a private copy of the demo warehouse."""
    path = tmp_path / "w" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_warehouse_path, path)
    store = KeyStore.for_warehouse(path)
    keys = {role: store.create(role) for role in ("viewer", "analyst", "admin")}
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    app = create_app(settings, ServeSettings(rate_limit_per_minute=6000, rate_limit_burst=1000, allow_weak_secret=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keys, settings



@pytest.fixture()
def demo_copy(demo_warehouse_path: Path, tmp_path: Path):
    """Factory: (settings, key store) over a fresh copy of the demo warehouse, and the serve settings to use."""
    counter = iter(range(1000))

    def make(**serve_options) -> tuple[Settings, KeyStore, ServeSettings]:
        path = tmp_path / f"copy{next(counter)}" / "warehouse.duckdb"
        path.parent.mkdir()
        shutil.copy(demo_warehouse_path, path)
        return (Settings(warehouse=path, secret=DEMO_SECRET), KeyStore.for_warehouse(path),
                ServeSettings(allow_weak_secret=True, **serve_options))

    return make


@pytest.fixture(scope="session")
def customers_warehouse_path(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse with analysed texts (a sample), segments, CLV, a recommender and association
    rules (once per session)."""
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.rfm import compute_rfm
    from shoplens.customers.segments import build_segments
    from shoplens.recs.service import mine_rules, train
    from shoplens.store.warehouse import Warehouse

    path = tmp_path_factory.mktemp("customers") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    from shoplens.text.analyze import analyze_warehouse

    with Warehouse(path) as wh:
        # a sample of the texts spread over the year keeps the shipped text models' scoring short
        wh.con.execute("DELETE FROM reviews WHERE hash(review_id) % 6 <> 0")
        wh.con.execute("DELETE FROM support_messages WHERE hash(message_id) % 4 <> 0")
        analyze_warehouse(wh)
        compute_rfm(wh)
        build_segments(wh)
        fit_clv(wh)
        train(wh, model="item_knn")  # the demo trains the hybrid; item-kNN is 10x faster for tests
        mine_rules(wh, min_support=0.01, min_baskets=10, min_confidence=0.3)
    return path


@pytest.fixture()
def served_customers(customers_warehouse_path: Path, tmp_path: Path):
    """Like ``served`` over the warehouse with customer results."""
    from tests.serve.serve_helpers import copy_with_models

    path = tmp_path / "c" / "warehouse.duckdb"
    copy_with_models(customers_warehouse_path, path)
    store = KeyStore.for_warehouse(path)
    keys = {role: store.create(role) for role in ("viewer", "analyst", "admin")}
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    app = create_app(settings, ServeSettings(rate_limit_per_minute=6000, rate_limit_burst=1000, allow_weak_secret=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keys, settings

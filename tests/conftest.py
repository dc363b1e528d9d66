"""Shared fixtures.

``demo_warehouse_path``: a warehouse built once per test session from the bundled
demo shop (ingest only). ``demo_wh``: a private copy of it for one test, opened
read-write, so tests may change it freely.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.store.warehouse import Warehouse


@pytest.fixture(scope="session")
def demo_warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoplens.services import ingest_demo_shop

    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    settings = Settings(warehouse=path, secret="test-secret-key-for-the-demo-suite-0123456789")
    with Warehouse(path) as wh:
        ingest_demo_shop(settings, wh)
    return path


@pytest.fixture()
def demo_wh(demo_warehouse_path: Path, tmp_path: Path):
    dst = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, dst)
    wh = Warehouse(dst)
    yield wh
    wh.close()


@pytest.fixture()
def tmp_wh(tmp_path: Path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    yield wh
    wh.close()

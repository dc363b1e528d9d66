"""Shared fixtures.

``demo_warehouse_path`` (in the repository's top ``conftest.py``, shared with the
docstring examples): a warehouse built once per test session from the bundled demo shop
(ingest only). ``demo_wh``: a private copy of it for one test, opened read-write, so
tests may change it freely.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.store.warehouse import Warehouse


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

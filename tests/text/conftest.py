"""Fixtures of the text tests: one analysed copy of the demo warehouse per module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.store.warehouse import Warehouse


@pytest.fixture(scope="module")
def analyzed_path(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoplens.text.analyze import analyze_warehouse

    dst = tmp_path_factory.mktemp("text") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, dst)
    with Warehouse(dst) as wh:
        analyze_warehouse(wh)
    return dst


@pytest.fixture()
def analyzed_wh(analyzed_path: Path, tmp_path: Path):
    dst = tmp_path / "warehouse.duckdb"
    shutil.copy(analyzed_path, dst)
    wh = Warehouse(dst)
    yield wh
    wh.close()

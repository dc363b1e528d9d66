"""Fixtures shared by the tests and the docstring examples (``--doctest-modules`` on ``src``).

``demo_warehouse_path``: a warehouse built once per test session from the bundled demo
shop (ingest only, privacy on). Docstring examples get ``demo_warehouse()``: a private,
writable copy of it (what ``shoplens demo`` loads before it analyses anything).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

from shoplens.config import Settings
from shoplens.store.warehouse import Warehouse

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"


@pytest.fixture(scope="session")
def demo_warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoplens.services import ingest_demo_shop

    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    with Warehouse(path) as wh:
        ingest_demo_shop(settings, wh)  # the privacy policy of settings applies
    return path


@pytest.fixture(autouse=True)
def _doctest_demo_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                            monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``demo_warehouse()`` in the namespace of docstring examples (built on first use).

    Each example also runs apart from the machine it runs on: its temporary files
    (``tempfile.mkdtemp()``) land in pytest's own temporary folder, removed as pytest
    removes it, and no shoplens.toml or SHOPLENS_SECRET of the environment applies.
    """
    if not isinstance(request.node, DoctestItem):
        yield
        return
    scratch = tmp_path_factory.mktemp("doctest-scratch")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("SHOPLENS_CONFIG", str(scratch / "no-shoplens.toml"))
    monkeypatch.delenv("SHOPLENS_SECRET", raising=False)
    opened: list[Warehouse] = []

    def demo_warehouse() -> Warehouse:
        source = request.getfixturevalue("demo_warehouse_path")
        path = tmp_path_factory.mktemp("doctest") / "warehouse.duckdb"
        shutil.copy(source, path)
        monkeypatch.setenv("SHOPLENS_SECRET", DEMO_SECRET)  # the key its pseudonyms were made with
        opened.append(Warehouse(path))
        return opened[-1]

    request.getfixturevalue("doctest_namespace")["demo_warehouse"] = demo_warehouse
    yield
    for wh in opened:
        wh.close()

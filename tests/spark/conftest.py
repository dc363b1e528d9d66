"""Spark fixtures: one local SparkSession for the whole test session (``local[2]``,
two shuffle partitions) and the demo shop ingested on Spark once.

Tests using them are skipped when PySpark or Java is missing (install the ``spark`` extra and Java 17).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.datasets import demo_data_dir
from shoplens.store.engine import spark_session
from shoplens.store.warehouse import Warehouse

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # the same as tests/conftest.py


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    session = spark_session("local[2]", shuffle_partitions=2)
    yield session


@pytest.fixture(scope="session")
def spark_demo_path(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo shop ingested with ``engine="spark"`` (Parquet tables + DuckDB bookkeeping)."""
    from shoplens.services import ingest_demo_shop

    path = tmp_path_factory.mktemp("spark-demo") / "warehouse.duckdb"
    settings = Settings(warehouse=path, secret=DEMO_SECRET, engine="spark")
    with Warehouse(path, engine="spark", spark_master="local[2]") as wh:
        ingest_demo_shop(settings, wh, mirror=False)
    return path


@pytest.fixture(scope="session")
def duckdb_demo_run(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """(path, context) of the demo pipeline after ingest (every step, ``run_steps``) run
    on DuckDB over a copy of the demo warehouse: what the Spark runs are compared with.
    The warehouse is closed; open it read-only."""
    import io

    from rich.console import Console

    from shoplens.insights.report import Report
    from shoplens.demo.context import DemoContext
    from shoplens.demo.runner import run_steps
    from shoplens.demo.shop import step_overview

    path = tmp_path_factory.mktemp("demo-duckdb") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    with Warehouse(path) as wh:
        ctx = DemoContext(settings=Settings(warehouse=path, secret=DEMO_SECRET), warehouse=wh,
                          console=Console(file=io.StringIO(), width=120), report=Report("t", "t"), data_dir=demo_data_dir())
        run_steps(ctx, [("overview", step_overview), *comparable_steps()])
    return path, ctx


def comparable_steps() -> list:
    """The demo's capability steps both engines run: the events step streams through the collector,
    which writes DuckDB warehouses only (it skips itself on Spark, docs/events.md), so the DuckDB
    reference leaves it out too."""
    from shoplens.demo.runner import capability_steps

    return [(name, step) for name, step in capability_steps() if name != "events"]


@pytest.fixture()
def spark_wh(spark_demo_path: Path):
    wh = Warehouse(spark_demo_path, engine="spark", spark_master="local[2]")
    yield wh
    wh.close()


@pytest.fixture()
def spark_wh_copy(spark_demo_path: Path, tmp_path: Path):
    """A private copy of the Spark demo warehouse (DuckDB file and Parquet tables), for tests that write."""
    home = tmp_path / "copy"
    shutil.copytree(spark_demo_path.parent, home)
    wh = Warehouse(home / spark_demo_path.name, engine="spark", spark_master="local[2]")
    yield wh
    wh.close()

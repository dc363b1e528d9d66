"""Switching engines loses no row or column (issue 25, item 1), with Spark running:

* DuckDB -> Spark: the demo shop built on DuckDB, migrated, then the issue's command
  (a Spark ingest of invoice lines) gives every canonical table exactly what the same
  ingest gives on DuckDB: consent, language and birth year of every customer kept.
* Spark -> DuckDB: a Spark warehouse without a DuckDB copy is refused by DuckDB, then
  migrated: every table equals what Spark held, and Spark refuses the result.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.errors import EngineMismatchError
from shoplens.datasets import demo_data_dir
from shoplens.schema import TABLES
from shoplens.services import ingest_files
from shoplens.store.storage import in_sync, migrate, read_state
from shoplens.store.warehouse import Warehouse
from tests.spark.conftest import DEMO_SECRET
from tests.spark.test_equivalence import assert_same_frame
from tests.store.test_storage import RESULT_SQL


def _invoices(tmp_path: Path, lines: int = 300) -> Path:
    """The first invoice lines of the demo's Online Retail sample (already in the warehouse:
    duplicates, plus products whose latest price changes)."""
    out = tmp_path / "invoices.csv"
    with gzip.open(demo_data_dir() / "online_retail_sample.csv.gz", "rt") as src, out.open("w") as dst:
        for i, line in enumerate(src):
            if i > lines:
                break
            dst.write(line)
    return out


def _ingest(path: Path, engine: str, files: list[Path]) -> dict:
    with Warehouse(path, engine=engine, spark_master="local[2]") as wh:
        settings = Settings(warehouse=path, secret=DEMO_SECRET, engine=engine)
        return ingest_files(settings, wh, files, preset="online-retail").to_dict()


def _counts(result: dict) -> dict:
    return {k: result[k] for k in ("read", "loaded", "updated", "quarantined", "duplicates")}


def test_spark_ingest_on_a_migrated_duckdb_warehouse_loses_nothing(spark, demo_warehouse_path, tmp_path):
    duck, moved = tmp_path / "duck" / "warehouse.duckdb", tmp_path / "moved" / "warehouse.duckdb"
    for p in (duck, moved):
        p.parent.mkdir()
        shutil.copy(demo_warehouse_path, p)
    with Warehouse(moved) as wh:
        wh.con.execute(RESULT_SQL)
        customers = wh.table("customers")
    assert customers["consent_marketing"].notna().all() and customers["language"].notna().all()
    with pytest.raises(EngineMismatchError, match="migrate --to spark"):
        Warehouse(moved, engine="spark")
    migrate(moved, "spark")

    with Warehouse(moved, engine="spark", spark_master="local[2]") as wh:
        # Spark reads every table DuckDB wrote, the awkward types included
        for name in [*TABLES, "demo_result"]:
            assert wh.engine.read_table(name).count() == wh.row_count(name), name
    files = [_invoices(tmp_path)]
    on_duck, on_spark = _ingest(duck, "duckdb", files), _ingest(moved, "spark", files)
    assert _counts(on_spark) == _counts(on_duck) and on_spark["read"] == 300
    assert {t: _counts(c) for t, c in on_spark["derived"].items()} == {t: _counts(c) for t, c in on_duck["derived"].items()}

    with Warehouse(duck, read_only=True) as a, Warehouse(moved, engine="spark", spark_master="local[2]") as b:
        assert read_state(b).canonical == "spark" and in_sync(b)
        for name, table in TABLES.items():
            expected = a.table(name)
            assert_same_frame(expected, b.engine.table(name), list(table.key))  # Spark's tables
            assert_same_frame(expected, b.table(name), list(table.key))  # and the DuckDB copy
        after = b.table("customers")
    # the customers the issue saw reduced to 13, their consent and attributes NULL
    assert len(after) == len(customers) > 1000
    merged = customers.merge(after, on="customer_id", suffixes=("", "_after"))
    for col in ("consent_marketing", "consent_personalization", "language", "birth_year"):
        assert (merged[col] == merged[f"{col}_after"]).all(), col


def test_a_spark_warehouse_moves_to_duckdb_with_every_table(spark, spark_demo_path, tmp_path):
    home = tmp_path / "w"
    shutil.copytree(spark_demo_path.parent, home)
    path = home / spark_demo_path.name
    with Warehouse(path, engine="spark", spark_master="local[2]") as wh:
        state = read_state(wh)
        assert state.canonical == "spark" and state.copy is None  # ingested with mirror=False
        assert all(wh.row_count(t) == 0 for t in TABLES)  # no stale copy reads as data
        held = {name: wh.engine.table(name) for name in TABLES}
    assert len(held["customers"]) > 1000
    with pytest.raises(EngineMismatchError, match=r"holds no copy.*migrate --to duckdb"):
        Warehouse(path)

    report = migrate(path, "duckdb")
    assert {t.name for t in report.tables if t.kind == "canonical"} == set(TABLES)
    with Warehouse(path) as wh:
        assert read_state(wh).canonical == "duckdb"
        for name, table in TABLES.items():
            assert_same_frame(held[name], wh.table(name), list(table.key))
    with pytest.raises(EngineMismatchError, match="migrate --to spark"):
        Warehouse(path, engine="spark")


def _drop_parquet_column(folder: Path, column: str) -> None:
    """Rewrite a Spark table's Parquet as an older shoplens wrote it: without ``column``."""
    import duckdb

    files = sorted(folder.glob("*.parquet"))
    old = folder.parent / f"{folder.name}-old.parquet"
    glob = (folder / "*.parquet").as_posix()
    duckdb.connect().execute(f"COPY (SELECT * EXCLUDE ({column}) FROM read_parquet('{glob}')) TO '{old}' (FORMAT parquet)")
    for f in files:
        f.unlink()
    shutil.move(old, folder / "part-00000-old.parquet")


def test_parquet_written_before_a_column_existed_reads_as_without_it(spark, tmp_path):
    """order_items Parquet from before ``amount`` (orders before ``paid_amount``): opened on Spark,
    the missing columns read as NULL (a line is worth quantity x price - discount, as it was then),
    the metrics agree, and the next ingest writes the table with the column and uses it."""
    from shoplens.ingest import ingest
    from shoplens.metrics import SHOP_KPIS

    path = tmp_path / "w.duckdb"
    settings = Settings(warehouse=path, secret=DEMO_SECRET, engine="spark")
    (tmp_path / "o.csv").write_text("order_id,customer_id,ordered_at,status\nO1,c1,2024-01-05,completed\n"
                                    "O2,c2,2024-01-06,completed\n")
    (tmp_path / "i.csv").write_text("order_id,product_id,quantity,unit_price,discount\nO1,A,2,5,1\nO2,B,1,7.5,\n")
    with Warehouse(path, engine="spark", spark_master="local[2]") as wh:
        ingest(wh, [tmp_path / "o.csv"], table="orders", settings=settings, mirror=False)
        ingest(wh, [tmp_path / "i.csv"], table="order_items", settings=settings, mirror=False)
        root = wh.engine.table_path("order_items").parent
    _drop_parquet_column(root / "order_items", "amount")
    _drop_parquet_column(root / "orders", "paid_amount")
    with Warehouse(path, engine="spark", spark_master="local[2]") as wh:
        kpis = wh.engine.query(SHOP_KPIS.sql).iloc[0]
        assert (kpis["orders"], kpis["revenue"]) == (2, 9.0 + 7.5)
        assert wh.engine.query("SELECT count(*) AS n FROM order_items WHERE amount IS NULL").n[0] == 2
        # a new line stating its amount: the table is written again with the column, and the amount counts
        (tmp_path / "i2.csv").write_text("order_id,line_number,product_id,quantity,unit_price,amount\nO2,2,C,3,1,2.5\n")
        r = ingest(wh, [tmp_path / "i2.csv"], table="order_items", settings=settings, mirror=False)
        assert r.loaded == 1
        assert wh.engine.query(SHOP_KPIS.sql).revenue[0] == 9.0 + 7.5 + 2.5
    import duckdb

    glob = (root / "order_items" / "*.parquet").as_posix()
    assert "amount" in {c for (c, *_) in duckdb.connect().execute(f"DESCRIBE SELECT * FROM read_parquet('{glob}')").fetchall()}

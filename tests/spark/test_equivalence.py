"""The demo shop ingested on DuckDB and on Spark gives the same warehouse.

Exact for row counts, keys, text, integers and timestamps; floats within a relative
tolerance of 1e-9 (sums run in a different order on Spark).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplens.insights import overview as ov
from shoplens.schema import TABLES
from shoplens.store.warehouse import Warehouse

FLOAT_RTOL = 1e-9


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, na_position="first", kind="mergesort").reset_index(drop=True)


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    a, b = _sorted(a, keys), _sorted(b, keys)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=FLOAT_RTOL, equal_nan=True, err_msg=col)
        elif pd.api.types.is_datetime64_any_dtype(x) or pd.api.types.is_datetime64_any_dtype(y):
            assert (pd.to_datetime(x).fillna(pd.Timestamp(0)) == pd.to_datetime(y).fillna(pd.Timestamp(0))).all(), col
        else:
            xs = x.astype(object).where(x.notna(), None).tolist()
            ys = y.astype(object).where(y.notna(), None).tolist()
            if pd.api.types.is_numeric_dtype(x) or pd.api.types.is_numeric_dtype(y):
                xs = [None if v is None else int(v) for v in xs]
                ys = [None if v is None else int(v) for v in ys]
            assert xs == ys, f"column {col} differs"


@pytest.mark.parametrize("table", list(TABLES))
def test_every_canonical_table_is_the_same(table, demo_warehouse_path, spark_wh):
    with Warehouse(demo_warehouse_path, read_only=True) as duck:
        expected = duck.table(table)
    got = spark_wh.engine.table(table)
    assert_same_frame(expected, got, list(TABLES[table].key))


def test_ingest_accounting_and_quarantine_are_the_same(demo_warehouse_path, spark_wh):
    cols = 'table_name, "read", loaded, updated, quarantined, duplicates'
    with Warehouse(demo_warehouse_path, read_only=True) as duck:
        runs = duck.query(f"SELECT {cols} FROM _ingest_runs ORDER BY ALL")
        quarantine = duck.query('SELECT table_name, file, line, "column", reason FROM _quarantine ORDER BY ALL')
    assert runs.equals(spark_wh.query(f"SELECT {cols} FROM _ingest_runs ORDER BY ALL"))
    assert (runs["read"] == runs.loaded + runs.updated + runs.quarantined + runs.duplicates).all()
    assert runs["read"].sum() > 120_000
    assert quarantine.equals(spark_wh.query('SELECT table_name, file, line, "column", reason FROM _quarantine ORDER BY ALL'))


def test_overview_is_the_same(demo_warehouse_path, spark_wh):
    with Warehouse(demo_warehouse_path, read_only=True) as duck:
        expected = ov.overview(duck)
    got = ov.overview(spark_wh)
    for k, v in expected["kpis"].items():
        if isinstance(v, float):
            assert got["kpis"][k] == pytest.approx(v, rel=FLOAT_RTOL), k
        else:
            assert got["kpis"][k] == v, k
    assert expected["kpis"]["orders"] > 4000 and expected["kpis"]["currency"] == "GBP"
    assert_same_frame(expected["revenue_by_month"], got["revenue_by_month"], ["month"])
    # top lists: the same rows in the same order (ties broken by name in the SQL)
    for name, key in (("top_categories", "category"), ("top_products", "product_id")):
        assert expected[name][key].tolist() == got[name][key].tolist()
        assert_same_frame(expected[name], got[name], [key])


def test_spark_tables_are_parquet_below_the_warehouse(spark_wh):
    root = spark_wh.engine.root
    assert root.parent == spark_wh.home
    assert sorted(spark_wh.engine.table_names()) == sorted(["customers", "order_items", "orders", "products", "reviews",
                                                            "support_messages"])
    assert list((root / "orders").glob("*.parquet"))
    # bookkeeping stays in the DuckDB file; without mirroring, canonical rows are only in Parquet
    assert spark_wh.row_count("orders") == 0

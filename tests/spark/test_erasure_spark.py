"""Erasure on a Spark warehouse reaches the Parquet tables (canonical and results), not
only the DuckDB file, and leaves every other customer's rows in place."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from shoplens.privacy.erasure import erase, verify
from shoplens.privacy.ids import to_internal
from shoplens.store.spark_storage import customer_rows, spark_root

CUSTOMER = "12348"


def _rows(wh, table: str, where: str = "true") -> int:
    path = (spark_root(wh) / table / "*.parquet").as_posix()
    return duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}') WHERE {where}").fetchone()[0]


def test_erasure_rewrites_parquet_tables(spark_wh_copy) -> None:
    wh = spark_wh_copy
    internal = to_internal(wh, [CUSTOMER])[0]
    others = [r[0] for r in wh.engine.query(
        f"SELECT DISTINCT customer_id FROM orders WHERE customer_id <> '{internal}' ORDER BY 1 LIMIT 3").itertuples(index=False)]
    wh.write_result("churn_scores", pd.DataFrame({"customer_id": [internal] + others, "churn_risk": [0.9, 0.1, 0.2, 0.3]}))
    before = customer_rows(wh, [internal, CUSTOMER])
    assert before["orders"] > 0 and before["customers"] == 1 and before["churn_scores"] == 1
    orders, lines = _rows(wh, "orders"), _rows(wh, "order_items")
    theirs = wh.engine.query(
        f"SELECT count(*) AS n FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE customer_id = '{internal}')"
    )["n"].iloc[0]
    assert theirs > 0
    assert not verify(wh, CUSTOMER).clean

    report = erase(wh, CUSTOMER)

    assert report.removed["spark:orders"] == before["orders"]
    assert report.removed["spark:order_items"] == theirs
    assert report.removed["spark:churn_scores"] == 1
    # the Parquet tables were rewritten, not deleted as files naming the customer
    assert _rows(wh, "orders") == orders - before["orders"] and _rows(wh, "order_items") == lines - theirs
    assert _rows(wh, "churn_scores") == 3
    # Spark reads the new versions; verify searches the Parquet tables too
    assert wh.engine.query(f"SELECT count(*) AS n FROM orders WHERE customer_id = '{internal}'")["n"].iloc[0] == 0
    after = verify(wh, CUSTOMER)
    assert after.clean, after.to_dict()
    assert "spark:orders" in after.checked
    assert erase(wh, CUSTOMER).total == 0  # idempotent


def test_failed_erasure_leaves_parquet_as_it_was(spark_wh_copy, monkeypatch) -> None:
    import shoplens.privacy.erasure as erasure

    wh = spark_wh_copy
    orders = _rows(wh, "orders")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(erasure, "_erase_database", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        erase(wh, CUSTOMER)
    assert _rows(wh, "orders") == orders
    assert not list(spark_root(wh).glob(".*.next"))
    assert not verify(wh, CUSTOMER).clean

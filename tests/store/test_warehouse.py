"""The warehouse: schema, result tables with freshness, transactions, read-only opening."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.errors import ConfigError, UnknownTableError
from shoplens.schema import TABLES
from shoplens.store import Warehouse
from shoplens.store.warehouse import table_status


def test_new_warehouse_has_every_canonical_table(tmp_wh):
    assert set(TABLES) <= set(tmp_wh.tables())
    assert tmp_wh.columns("orders")[:3] == ["order_id", "customer_id", "ordered_at"]


def test_write_table_replaces_and_records_freshness(tmp_wh):
    tmp_wh.write_table("customer_scores", pd.DataFrame({"customer_id": ["a", "b"], "score": [1.0, 2.0]}), kind="score")
    tmp_wh.write_table("customer_scores", pd.DataFrame({"customer_id": ["c"], "score": [3.0]}), kind="score")
    assert tmp_wh.table("customer_scores").customer_id.tolist() == ["c"]
    fresh = tmp_wh.freshness()
    assert fresh.loc[fresh.name == "customer_scores", "rows"].item() == 1


def test_write_table_refuses_canonical_names(tmp_wh):
    with pytest.raises(UnknownTableError, match="canonical table"):
        tmp_wh.write_table("orders", pd.DataFrame({"x": [1]}))


def test_transaction_rolls_back_on_error(tmp_wh):
    with pytest.raises(RuntimeError):
        with tmp_wh.transaction() as con:
            con.execute("INSERT INTO orders (order_id, ordered_at) VALUES ('X', TIMESTAMP '2011-01-01')")
            raise RuntimeError("boom")
    assert tmp_wh.row_count("orders") == 0


def test_read_only_needs_an_existing_file(tmp_path):
    with pytest.raises(ConfigError, match="no warehouse here"):
        Warehouse(tmp_path / "nope.duckdb", read_only=True)


def test_unknown_table_errors(tmp_wh):
    with pytest.raises(UnknownTableError):
        tmp_wh.row_count("nope")
    with pytest.raises(UnknownTableError):
        tmp_wh.table("nope")


def test_status_of_demo(demo_warehouse_path):
    with Warehouse(demo_warehouse_path, read_only=True) as wh:
        st = table_status(wh)
    assert st["orders"]["rows"] > 0 and str(st["orders"]["min_time"]).startswith("2010-12-01")
    assert st["events"] == {"rows": 0, "min_time": None, "max_time": None, "last_ingest": None}


def test_first_row_reads_the_result_to_the_end_so_register_still_works(tmp_path) -> None:
    import duckdb
    import pandas as pd

    from shoplens.store.warehouse import first_row

    con = duckdb.connect()
    assert first_row(con.execute("SELECT 1 AS a, 2 AS b")) == (1, 2)
    assert first_row(con.execute("SELECT 1 WHERE false")) is None
    assert first_row(con.execute("SELECT * FROM range(3)")) == (0,)  # more rows than one: still read to the end
    con.register("_frame", pd.DataFrame({"x": [1]}))  # refused after a bare fetchone() on DuckDB 2
    assert con.execute("SELECT count(*) FROM _frame").fetchall() == [(1,)]


def test_recorded_paths_are_relative_to_the_warehouse_folder(tmp_path, monkeypatch):
    from shoplens.store.warehouse import Warehouse

    monkeypatch.chdir(tmp_path)
    with Warehouse("shop/warehouse.duckdb") as wh:  # a relative warehouse path, as the demo's default
        assert wh.relative_path("shop/report.html") == "report.html"
        assert wh.relative_path(tmp_path / "shop" / "models" / "x.pkl") == "models/x.pkl"
        outside = tmp_path / "exports" / "a.csv"
        assert wh.relative_path(outside) == str(outside)  # outside the folder: absolute
        assert wh.resolve_path("report.html") == wh.home / "report.html"
        assert wh.resolve_path(str(outside)) == outside


def test_computed_at_is_when_a_result_was_last_marked(tmp_wh):
    assert tmp_wh.computed_at("customer_rfm") is None
    tmp_wh.write_table("customer_rfm", pd.DataFrame({"customer_id": ["a"]}))
    first = tmp_wh.computed_at("customer_rfm")
    assert first is not None and first == tmp_wh.freshness().set_index("name").loc["customer_rfm", "computed_at"]
    tmp_wh.mark_computed("customer_rfm", "table", rows=1)
    assert tmp_wh.computed_at("customer_rfm") >= first


def test_a_table_named_with_a_double_quote_is_written_counted_and_read(tmp_wh):
    frame = pd.DataFrame({"customer_id": ["c1", "c2"]})
    tmp_wh.write_table('winback "vip"', frame)
    assert tmp_wh.row_count('winback "vip"') == 2
    assert tmp_wh.table('winback "vip"')["customer_id"].tolist() == ["c1", "c2"]
    assert tmp_wh.engine.has_rows('winback "vip"')


def test_an_older_warehouse_gains_new_columns_and_reads_the_same_read_only(tmp_path):
    """A warehouse written before order_items had `amount`: a read-only open shows the column as
    NULL (the metrics run unchanged); a writable open adds it for good."""
    import duckdb

    from shoplens.metrics import SHOP_KPIS

    path = tmp_path / "old.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute("ALTER TABLE order_items DROP COLUMN amount")
        wh.con.execute("INSERT INTO orders (order_id, ordered_at) VALUES ('O1', TIMESTAMP '2024-01-05')")
        wh.con.execute("INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) "
                       "VALUES ('O1', 1, 'P', 3, 2.5)")
    with Warehouse(path, read_only=True) as wh:
        assert wh.query(SHOP_KPIS.sql).revenue[0] == 7.5
    con = duckdb.connect(str(path), read_only=True)
    assert "amount" not in [r[0] for r in con.execute("DESCRIBE order_items").fetchall()]  # the file is unchanged
    con.close()
    with Warehouse(path) as wh:
        assert "amount" in wh.columns("order_items")
        assert wh.query(SHOP_KPIS.sql).revenue[0] == 7.5


def test_tables_lists_what_information_schema_lists_under_main(tmp_wh):
    tmp_wh.con.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
    tmp_wh.con.execute("CREATE TEMP VIEW scratch_view AS SELECT 1 AS x")
    tmp_wh.con.execute("CREATE VIEW kept_view AS SELECT 1 AS x")
    listed = [r[0] for r in tmp_wh.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    assert tmp_wh.tables() == listed and {"orders", "scratch", "scratch_view", "kept_view"} <= set(listed)
    assert all(tmp_wh.has_table(t) for t in listed) and not tmp_wh.has_table("no_such_table")


def test_every_cursor_starts_in_utc_whatever_the_machine_zone(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # DuckDB's default would be the machine's zone
    time.tzset()
    try:
        with Warehouse(tmp_path / "w.duckdb") as wh:
            cursor = wh.con.cursor()  # as the server opens one per request
            assert cursor.execute("SELECT current_setting('TimeZone')").fetchall()[0][0] == "UTC"
    finally:
        monkeypatch.undo()
        time.tzset()

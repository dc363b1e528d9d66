"""The DuckDB engine's ingest steps: one-pass CSV reads and repeated-key detection."""

from __future__ import annotations

import random

import pytest

from shoplens.store import Warehouse
from shoplens.store.engine import DuckDBEngine
from shoplens.store.staging import FileRead, repeated_keys_sql


def _temp_kind(wh: Warehouse, name: str) -> str | None:
    rows = wh.con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = 'temp' "
                          "AND table_name = ?", [name]).fetchall()
    return rows[0][0] if rows else None


def test_one_pass_csv_read_numbers_lines_in_file_order_without_staging_a_table(tmp_path):
    path = tmp_path / "items.csv"
    # each row states its own line number (the header is line 1)
    path.write_text("order_id,quantity\n" + "".join(f"o{i},{i + 2}\n" for i in range(200_000)))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        engine = DuckDBEngine(wh)
        read = engine.read_file("__src_0", FileRead(path, "items.csv", "csv", 0, typed=lambda h: ["quantity"],
                                                    one_pass=True))
        assert read.rows is None and read.rejects == []  # not read yet
        assert _temp_kind(wh, "__src_0") == "VIEW" and _temp_kind(wh, "__src_0_read") is None
        assert engine.column_types(read.relation)["quantity"] == "DOUBLE"
        engine.materialise("__t", f"SELECT * FROM {read.relation}")
        assert engine.reads_complete()
        wrong, n, files = wh.con.execute(
            "SELECT count(*) FILTER (WHERE __line <> quantity OR __seq <> 1000000000000 + __line), count(*), "
            "count(DISTINCT __file) FROM __t").fetchall()[0]
        assert (wrong, n, files) == (0, 200_000, 1)


def test_one_pass_read_with_a_rejected_line_is_not_complete(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("order_id,quantity\no1,1\no2\no3,3\n")  # line 3 has too few fields
    with Warehouse(tmp_path / "w.duckdb") as wh:
        engine = DuckDBEngine(wh)
        read = engine.read_file("__src_0", FileRead(path, "items.csv", "csv", 0, one_pass=True))
        engine.materialise("__t", f"SELECT * FROM {read.relation}")
        assert not engine.reads_complete()  # the lines after it would be numbered one short
        # read again whole, the reject is reported with its line and the next row keeps line 4
        again = engine.read_file("__src_0", FileRead(path, "items.csv", "csv", 0))
        assert [r.line for r in again.rejects] == [3]
        assert wh.con.execute(f"SELECT order_id, __line FROM {again.relation} ORDER BY __line").fetchall() == [
            ("o1", 2), ("o3", 4)]


@pytest.mark.parametrize("seed", [1, 2])
def test_repeated_keys_are_those_grouping_finds(tmp_path, seed):
    rng = random.Random(seed)
    rows = [(None if rng.random() < 0.01 else rng.choice("ab") + str(rng.randrange(3000)), rng.choice([1, 2, None]))
            for _ in range(20_000)]
    with Warehouse(tmp_path / "w.duckdb") as wh:
        engine = DuckDBEngine(wh)
        wh.con.execute("CREATE TEMP TABLE v (k VARCHAR, n INTEGER)")
        wh.con.executemany("INSERT INTO v VALUES (?, ?)", rows)
        got = engine.repeated_keys("__dk", ["k", "n"], "v")
        found = set(wh.con.execute(f"SELECT * FROM {got}").fetchall())
        expected = set(wh.con.execute(repeated_keys_sql(["k", "n"], "v")).fetchall())
        assert found == expected and len(found) > 100
        assert any(k is None or n is None for k, n in found)  # NULL key parts match each other, as in GROUP BY
        wh.con.execute("CREATE TEMP TABLE once AS SELECT DISTINCT k, n FROM v")
        assert engine.count(f"SELECT * FROM {engine.repeated_keys('__dk', ['k', 'n'], 'once')}") == 0

"""Idempotence, upserts, de-duplication, strict mode and atomicity."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from shoplens.errors import InputFileError, StrictModeError
from shoplens.ingest import ingest
from shoplens.privacy.ids import to_external
from shoplens.store import Warehouse

from .helpers import adds_up, write

ORDERS = "order_id,customer_id,ordered_at,status,total_amount\nO1,C1,2011-01-01,completed,10\nO2,C2,2011-01-02,completed,20\n"


def test_same_file_twice_changes_nothing(tmp_wh, tmp_path):
    f = write(tmp_path / "o.csv", ORDERS)
    first = ingest(tmp_wh, [f], table="orders")
    before = tmp_wh.query("SELECT * FROM orders ORDER BY order_id")
    second = ingest(tmp_wh, [f], table="orders")
    assert (first.loaded, second.loaded, second.duplicates, second.updated) == (2, 0, 2, 0)
    assert tmp_wh.query("SELECT * FROM orders ORDER BY order_id").equals(before)


def test_changed_row_is_an_update_and_other_columns_are_kept(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "o.csv", ORDERS)], table="orders")
    # a later export with only the status column for O1 changed, and without total_amount
    r = ingest(tmp_wh, [write(tmp_path / "o2.csv", "order_id,ordered_at,status\nO1,2011-01-01,returned\nO3,2011-01-03,completed\n")], table="orders")
    assert (r.read, r.loaded, r.updated, r.duplicates) == (2, 1, 1, 0)
    got = tmp_wh.query("SELECT * FROM orders ORDER BY order_id")
    assert got.status.tolist() == ["returned", "completed", "completed"]
    assert got.total_amount.tolist()[:2] == [10.0, 20.0]  # not provided: kept
    assert to_external(tmp_wh, got.customer_id.tolist()[:2]) == ["C1", "C2"]  # stored as pseudonyms


def test_repeated_keys_within_a_file_last_version_wins(tmp_wh, tmp_path):
    text = "order_id,ordered_at,status\nO1,2011-01-01,completed\nO1,2011-01-01,completed\nO1,2011-01-01,returned\nO1,2011-01-01,completed\n"
    r = ingest(tmp_wh, [write(tmp_path / "o.csv", text)], table="orders")
    assert (r.read, r.loaded, r.duplicates, r.updated) == (4, 1, 1, 2) and adds_up(r)
    assert tmp_wh.query("SELECT status FROM orders").status.tolist() == ["completed"]


def test_exact_repeated_lines_without_line_numbers_are_duplicates(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "o.csv", "order_id,ordered_at\nO1,2011-01-01\n")], table="orders")
    text = "order_id,product_id,quantity,unit_price\nO1,A,1,2\nO1,A,1,2\nO1,B,1,2\n"
    r = ingest(tmp_wh, [write(tmp_path / "i.csv", text)], table="order_items")
    assert (r.loaded, r.duplicates) == (2, 1)
    assert tmp_wh.query("SELECT line_number FROM order_items ORDER BY 1").line_number.tolist() == [1, 2]
    again = ingest(tmp_wh, [write(tmp_path / "i.csv", text)], table="order_items")
    assert (again.loaded, again.duplicates) == (0, 3)


def test_strict_fails_whole_ingest_and_writes_nothing(tmp_wh, tmp_path):
    f = write(tmp_path / "o.csv", ORDERS + "O3,C3,not-a-date,completed,1\n")
    with pytest.raises(StrictModeError, match=r"--strict: 1 bad row.*o.csv, line 4, column ordered_at"):
        ingest(tmp_wh, [f], table="orders", strict=True)
    assert tmp_wh.row_count("orders") == 0
    assert tmp_wh.row_count("_quarantine") == 0 and tmp_wh.row_count("_ingest_runs") == 0


def test_last_of_several_files_failing_leaves_warehouse_as_it_was(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "a.csv", ORDERS)], table="orders")
    before = tmp_wh.query("SELECT * FROM orders ORDER BY order_id")
    good = write(tmp_path / "b.csv", "order_id,ordered_at\nO9,2011-02-01\n")
    broken = tmp_path / "c.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputFileError, match="c.csv.gz"):
        ingest(tmp_wh, [good, broken], table="orders")
    assert tmp_wh.query("SELECT * FROM orders ORDER BY order_id").equals(before)
    assert tmp_wh.row_count("_ingest_runs") == 1


def test_process_killed_midway_leaves_warehouse_as_it_was(tmp_path):
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        ingest(wh, [write(tmp_path / "a.csv", ORDERS)], table="orders")
    big = tmp_path / "big.csv"
    big.write_text("order_id,ordered_at\n" + "".join(f"N{i},2011-03-01\n" for i in range(50_000)))
    # the child dies (no cleanup, no rollback) in the middle of the write phase
    code = textwrap.dedent(f"""
        import os
        from shoplens.store import Warehouse
        from shoplens.ingest import ingest
        def die(con, table, staged, cols):
            con.execute("INSERT INTO orders (order_id, ordered_at) VALUES ('HALF', TIMESTAMP '2011-01-01')")
            os._exit(9)
        wh = Warehouse({str(path)!r})
        ingest(wh, [{str(big)!r}], table="orders", before_write=[die])
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with Warehouse(path) as wh:
        assert sorted(wh.query("SELECT order_id FROM orders").order_id) == ["O1", "O2"]
        assert wh.row_count("_ingest_runs") == 1


def test_quarantine_entries_are_replaced_when_the_file_is_fixed(tmp_wh, tmp_path):
    f = tmp_path / "o.csv"
    write(f, ORDERS + "O3,C3,bad,completed,1\n")
    ingest(tmp_wh, [f], table="orders")
    assert tmp_wh.row_count("_quarantine") == 1
    write(f, ORDERS + "O3,C3,2011-01-03,completed,1\n")
    r = ingest(tmp_wh, [f], table="orders")
    assert (r.loaded, r.duplicates, r.quarantined) == (1, 2, 0)
    assert tmp_wh.row_count("_quarantine") == 0

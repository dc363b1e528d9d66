"""One ingest, two engines: the same bad inputs give the same errors, quarantine
reasons, counts and notes on DuckDB and on Spark (the orchestrator is written once;
only the engine methods differ)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.errors import InputFileError, MappingError, StrictModeError
from shoplens.ingest import ingest
from shoplens.store.warehouse import Warehouse

SECRET = "engines-ingest-test-secret-0123456789"
ENGINES = ("duckdb", "spark")

ORDERS = (
    "order_id,customer_id,ordered_at,status,total_amount,till_note\n"
    "O1,C1,2011-01-01 10:00,completed,10,web\n"
    "O2,C2,not-a-date,completed,20,web\n"       # bad timestamp
    "O3,C3,2011-01-03,completed,abc,web\n"      # not a number (read typed by the reader)
    ",C4,2011-01-04,completed,5,web\n"          # missing key
    "O5,C5,2011-01-05,shipped?,5,web\n"         # not a known status
)
ITEMS = (
    "order_id,line_number,product_id,quantity,unit_price\n"
    "O1,1,A,1,2\n"
    "O9,1,B,1,2\n"                              # no such order
    "O1,2,C,0,2\n"                              # quantity 0
    "O1,1,A,1,2\n"                              # the same line again: a duplicate
    "O1,3,E\n"                                  # too few fields
    "O1,4,F,1,2,extra\n"                        # too many fields
)


def _each_engine(tmp_path: Path, run):
    """{engine: run(warehouse, folder, settings)} on a fresh warehouse per engine."""
    out = {}
    for engine in ENGINES:
        folder = tmp_path / engine
        folder.mkdir()
        settings = Settings(warehouse=folder / "w.duckdb", secret=SECRET, engine=engine)
        with Warehouse(folder / "w.duckdb", engine=engine, spark_master="local[2]") as wh:
            out[engine] = run(wh, folder, settings)
    return out


def _error(call) -> str:
    with pytest.raises((InputFileError, MappingError, StrictModeError)) as info:
        call()
    return str(info.value)


def _relative(message: str, folder: Path) -> str:
    return message.replace(str(folder) + "/", "")


def test_unreadable_files_give_the_same_error_on_both_engines(spark, tmp_path):
    def run(wh, folder, settings):
        (folder / "empty.csv").write_bytes(b"")
        (folder / "broken.csv.gz").write_bytes(gzip.compress(b"order_id,ordered_at\nO1,2011-01-01\n" * 50)[:-12])
        (folder / "broken.parquet.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
        (folder / "o.csv").write_text(ORDERS)
        cases = {
            "missing": lambda: ingest(wh, [folder / "nope.csv"], table="orders", settings=settings),
            "empty": lambda: ingest(wh, [folder / "empty.csv"], table="orders", settings=settings),
            "gzip": lambda: ingest(wh, [folder / "broken.csv.gz"], table="orders", settings=settings),
            "parquet gzip": lambda: ingest(wh, [folder / "broken.parquet.gz"], table="orders", settings=settings),
            "encoding": lambda: ingest(wh, [folder / "o.csv"], table="orders", encoding="no-such-codec", settings=settings),
        }
        return {name: _relative(_error(call), folder) for name, call in cases.items()}

    out = _each_engine(tmp_path, run)
    assert out["duckdb"] == out["spark"]
    got = out["spark"]
    assert got["missing"] == "nope.csv: file not found (check the path and the working directory)"
    assert got["empty"].startswith("empty.csv: empty file (0 bytes)")
    assert got["gzip"].startswith("broken.csv.gz: truncated or corrupt gzip file")
    assert got["parquet gzip"].startswith("broken.parquet.gz: truncated or corrupt gzip file")
    assert got["encoding"].startswith("o.csv: unknown encoding 'no-such-codec'")


def test_bad_rows_are_quarantined_alike_on_both_engines(spark, tmp_path):
    def run(wh, folder, settings):
        (folder / "o.csv").write_text(ORDERS)
        (folder / "i.csv").write_text(ITEMS)
        results = []
        for name, table in (("o.csv", "orders"), ("i.csv", "order_items")):
            r = ingest(wh, [folder / name], table=table, settings=settings)
            results.append({k: r.to_dict()[k] for k in ("read", "loaded", "updated", "quarantined", "duplicates")}
                           | {"notes": r.notes})
        q = wh.query('SELECT table_name, file, line, "column", reason FROM _quarantine ORDER BY table_name, line')
        q["file"] = [Path(f).name for f in q["file"]]
        orders = sorted(wh.engine.query("SELECT order_id FROM orders")["order_id"])
        return results, q.values.tolist(), orders

    out = _each_engine(tmp_path, run)
    assert out["duckdb"] == out["spark"]
    results, quarantine, orders = out["spark"]
    assert results[0] == {"read": 5, "loaded": 1, "updated": 0, "quarantined": 4, "duplicates": 0,
                          "notes": ["columns not used: till_note"]}
    assert results[1] == {"read": 6, "loaded": 1, "updated": 0, "quarantined": 4, "duplicates": 1, "notes": []}
    assert orders == ["O1"]
    reasons = {(t, line): (col, reason) for t, _, line, col, reason in quarantine}
    assert reasons[("orders", 3)][0] == "ordered_at" and "cannot read 'not-a-date' as a timestamp" in reasons[("orders", 3)][1]
    assert reasons[("orders", 4)] == ("total_amount", "cannot read 'abc' as a number")
    assert reasons[("orders", 5)] == ("order_id", "missing required value for order_id")
    assert reasons[("orders", 6)][1].startswith("'shipped?' is not a known status")
    assert reasons[("order_items", 3)] == ("order_id", "order_id 'O9' not found in orders")
    assert reasons[("order_items", 4)] == ("quantity", "quantity is 0 and the row states no amount or discount")
    assert reasons[("order_items", 6)] == ("quantity", "too few fields on this line (Number of Columns: 5 Found: 3)")
    assert reasons[("order_items", 7)] == (None, "too many fields on this line (Number of Columns: 5 Found: 6); "
                                                 "a delimiter inside an unquoted value?")


def test_strict_and_mapping_errors_read_the_same_on_both_engines(spark, tmp_path):
    mapping = '[tables.orders]\norder_id = "order_id"\nordered_at = { expr = "no_such_column || \'x\'" }\n'

    def run(wh, folder, settings):
        (folder / "o.csv").write_text(ORDERS)
        (folder / "m.toml").write_text(mapping)
        strict = _relative(_error(lambda: ingest(wh, [folder / "o.csv"], table="orders", strict=True, settings=settings)),
                           folder)
        mapped = _error(lambda: ingest(wh, [folder / "o.csv"], mapping=folder / "m.toml", settings=settings))
        return strict, mapped.split(":")[0], wh.row_count("_ingest_runs")

    out = _each_engine(tmp_path, run)
    assert out["duckdb"] == out["spark"]
    strict, mapped, runs = out["spark"]
    assert strict.startswith("--strict: 4 bad row(s), nothing was loaded. First: o.csv, line 3, column ordered_at")
    assert mapped == "the mapping's expressions do not fit the file"
    assert runs == 0


def test_taobao_reports_as_downloaded_give_the_same_rows_on_both_engines(spark, tmp_path):
    """GB18030, CRLF, ="..." order numbers and '-prefixed mobiles (spreadsheet_text) on Spark too."""
    from tests.ingest.test_platform_presets import taobao_reports

    def run(wh, folder, settings):
        orders, items = taobao_reports(folder)
        ro = ingest(wh, [orders], preset="taobao-orders", settings=settings)
        ri = ingest(wh, [items], preset="taobao-items", settings=settings)
        rows = wh.query("SELECT order_id, status, round(total_amount, 2) AS t, CAST(ordered_at AS VARCHAR) AS at "
                        "FROM orders ORDER BY order_id").values.tolist()
        return (ro.read, ro.loaded, ri.read, ri.loaded, ri.quarantined), rows

    out = _each_engine(tmp_path, run)
    assert out["duckdb"] == out["spark"]
    assert out["duckdb"][0] == (3, 3, 4, 3, 1)
    assert out["duckdb"][1][0][:2] == ["3312345678901234567", "completed"]


def test_customer_attributes_are_the_same_on_both_engines(spark, tmp_path):
    members = ("customer_id,tier,points,newsletter,Contact Email\n"
               "C1,gold,120,yes,ann@example.com\nC2,silver,7.5,no,bo@example.com\nC3,,3,yes,\n")

    def run(wh, folder, settings):
        (folder / "m.csv").write_text(members)
        r = ingest(wh, [folder / "m.csv"], table="customers", settings=settings)
        again = ingest(wh, [folder / "m.csv"], table="customers", settings=settings)
        rows = wh.engine.query("SELECT customer_id, attribute, value, type FROM customer_attributes")
        return (r.to_dict()["derived"], r.notes, again.to_dict()["derived"],
                sorted(map(tuple, rows.astype(str).values.tolist())))

    out = _each_engine(tmp_path, run)
    assert out["duckdb"] == out["spark"]
    derived, notes, again, rows = out["spark"]
    assert derived["customer_attributes"] == {"read": 8, "loaded": 8, "updated": 0, "quarantined": 0, "duplicates": 0}
    assert again["customer_attributes"]["duplicates"] == 8
    assert any("'Contact Email' not kept" in n for n in notes)
    assert {r[1] for r in rows} == {"tier", "points", "newsletter"} and "ann@example.com" not in str(rows)

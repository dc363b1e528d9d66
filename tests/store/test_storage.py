"""One warehouse, one truth: the record of which engine holds the tables, migration in
both directions (every table and column equal, interrupted migrations change nothing)
and the sync of a Spark warehouse's DuckDB copy. No JVM: these paths run on DuckDB alone
(tests/spark/test_storage_spark.py runs Spark on the migrated warehouses)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from shoplens.errors import EngineMismatchError, MigrationError, StorageConflictError
from shoplens.ingest import ingest
from shoplens.schema import TABLES
from shoplens.store import storage
from shoplens.store.spark_storage import spark_root
from shoplens.store.storage import (
    checksum,
    duck_types,
    in_sync,
    migrate,
    parquet_checksum,
    read_state,
)
from shoplens.store.warehouse import Warehouse
from tests.ingest.helpers import run_cli

# a result table with the awkward types the demo writes (seconds and nanosecond
# timestamps, a list, a float, a column of type NULL)
RESULT_SQL = """CREATE OR REPLACE TABLE demo_result AS SELECT
    'c' || i AS customer_id, i::FLOAT / 3 AS score, TIMESTAMP_S '2011-01-01 10:00:00' + INTERVAL (i) DAY AS at_s,
    TIMESTAMP_NS '2011-01-01 10:00:00.123456' AS at_ns, ['a', 'b' || i] AS terms, NULL AS nothing,
    i % 2 = 0 AS even FROM range(50) t(i)"""


def _snapshot(con: duckdb.DuckDBPyConnection, source_of) -> dict[str, pd.DataFrame]:
    """Every column of every table, rows in a fixed order (``source_of(name)``: what to read)."""
    out = {}
    for name, src in source_of.items():
        frame = con.execute(f"SELECT * FROM {src}").df()
        out[name] = frame.sort_values(list(frame.columns)[:3], kind="stable").reset_index(drop=True) if len(frame) else frame
    return out


def _tables(wh: Warehouse) -> dict[str, str]:
    return {t: f'"{t}"' for t in wh.tables() if not t.startswith("_")}


def _parquet(wh: Warehouse, names, types_of: Warehouse | None = None) -> dict[str, str]:
    """Spark's Parquet tables read with the DuckDB types of ``types_of`` (what "equal" means)."""
    root = spark_root(wh)
    out = {}
    for name in names:
        types = duck_types(types_of or wh, name)
        cols = ", ".join(f'NULL AS "{c}"' if t.strip('"') == "NULL" else f'CAST("{c}" AS {t}) AS "{c}"'
                         for c, t in types.items())
        out[name] = f"(SELECT {cols} FROM {storage._read_parquet(root / name)})"
    return out


def _assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert set(before) == set(after)
    for name in before:
        a, b = before[name], after[name]
        assert list(a.columns) == list(b.columns), name
        assert len(a) == len(b), name
        for col in a.columns:
            x = a[col].astype(object).where(a[col].notna(), None).tolist()
            y = b[col].astype(object).where(b[col].notna(), None).tolist()
            assert [list(v) if hasattr(v, "tolist") and not isinstance(v, str) else v for v in x] == \
                [list(v) if hasattr(v, "tolist") and not isinstance(v, str) else v for v in y], f"{name}.{col}"


@pytest.fixture()
def duck_demo(demo_wh: Warehouse) -> Path:
    """The demo shop on DuckDB, with a result table of awkward types; closed, path returned."""
    demo_wh.con.execute(RESULT_SQL)
    path = demo_wh.path
    demo_wh.close()
    return path


def _consent(con: duckdb.DuckDBPyConnection, src: str) -> tuple:
    return con.execute(f"SELECT count(*), count(consent_marketing), count(*) FILTER (WHERE consent_marketing = false), "
                       f"count(language), count(birth_year) FROM {src}").fetchall()[0]


def test_spark_open_of_a_duckdb_warehouse_refuses_and_changes_nothing(duck_demo: Path, tmp_path: Path):
    with Warehouse(duck_demo) as wh:
        before = _snapshot(wh.con, _tables(wh))
        assert read_state(wh).canonical == "duckdb"
    with pytest.raises(EngineMismatchError, match=r"keeps its tables in DuckDB.*migrate --to spark"):
        Warehouse(duck_demo, engine="spark")
    # the command: one clear line, exit 2, nothing written (it used to exit 0
    # and replace 1,123 customers by Spark's 13, consent and attributes NULL)
    lines = tmp_path / "invoices.csv"
    lines.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                     "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n")
    proc = run_cli("-w", str(duck_demo), "--engine", "spark", "ingest", "--preset", "online-retail", str(lines))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "migrate --to spark" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2
    with Warehouse(duck_demo) as wh:
        _assert_same(before, _snapshot(wh.con, _tables(wh)))
        assert _consent(wh.con, "customers")[0] == len(before["customers"]) > 1000
    assert not spark_root(Warehouse(duck_demo, read_only=True)).exists()


def test_migrate_to_spark_and_back_keeps_every_table_and_column(duck_demo: Path):
    with Warehouse(duck_demo) as wh:
        before = _snapshot(wh.con, _tables(wh))
        consent = _consent(wh.con, "customers")
    assert consent[0] > 1000 and consent[1] == consent[0] and consent[2] > 0 and consent[3] == consent[4] == consent[0]

    report = migrate(duck_demo, "spark")
    assert report.source == "duckdb" and report.target == "spark"
    assert {t.name for t in report.tables} == set(before)
    assert all(t.action == "copied" for t in report.tables)
    with Warehouse(duck_demo) as wh:  # a DuckDB open still works: the file keeps a verified copy
        state = read_state(wh)
        assert state.canonical == "spark" and set(state.copy) == set(before)
        _assert_same(before, _snapshot(wh.con, _parquet(wh, before)))  # every table, every column, on Spark's side
        assert _consent(wh.con, storage._read_parquet(spark_root(wh) / "customers")) == consent
        _assert_same(before, _snapshot(wh.con, _tables(wh)))
        assert in_sync(wh)

    back = migrate(duck_demo, "duckdb")
    assert back.source == "spark" and back.target == "duckdb"
    with Warehouse(duck_demo) as wh:
        assert read_state(wh).canonical == "duckdb"
        _assert_same(before, _snapshot(wh.con, _tables(wh)))
        assert _consent(wh.con, "customers") == consent
        assert not spark_root(wh).exists()
    with pytest.raises(EngineMismatchError, match="migrate --to spark"):
        Warehouse(duck_demo, engine="spark")


def test_interrupted_migration_to_spark_leaves_the_source_and_the_record(duck_demo: Path, monkeypatch):
    with Warehouse(duck_demo) as wh:
        before = _snapshot(wh.con, _tables(wh))
    real, calls = storage.copy_table_to_parquet, []

    def fail_third(wh, name, folder):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full (injected)")
        return real(wh, name, folder)

    monkeypatch.setattr(storage, "copy_table_to_parquet", fail_third)
    with pytest.raises(OSError, match="injected"):
        migrate(duck_demo, "spark")
    with Warehouse(duck_demo) as wh:
        assert read_state(wh).canonical == "duckdb"
        _assert_same(before, _snapshot(wh.con, _tables(wh)))
        assert not spark_root(wh).exists()
        assert not list(wh.home.glob(".*.spark.migrating"))
    with pytest.raises(EngineMismatchError):
        Warehouse(duck_demo, engine="spark")
    monkeypatch.setattr(storage, "copy_table_to_parquet", real)
    assert migrate(duck_demo, "spark").target == "spark"  # a second run completes


def test_a_copy_that_does_not_verify_switches_nothing(duck_demo: Path, monkeypatch):
    real = storage.parquet_checksum

    def lying(con, path, types):  # the Parquet written reads back one row short
        got = real(con, path, types)
        return storage.Checksum(got.rows - 1, got.columns) if path.name == "orders" else got

    monkeypatch.setattr(storage, "parquet_checksum", lying)
    with pytest.raises(MigrationError, match=r"orders: the Parquet copy differs.*rows"):
        migrate(duck_demo, "spark")
    with Warehouse(duck_demo) as wh:
        assert read_state(wh).canonical == "duckdb" and not spark_root(wh).exists()


def _spark_without_copy(duck_demo: Path) -> dict[str, pd.DataFrame]:
    """Migrate to Spark, then drop the DuckDB copy (as ``ingest(mirror=False)`` does);
    returns every table as Spark holds it."""
    migrate(duck_demo, "spark")
    with Warehouse(duck_demo, check_storage=False) as wh:
        with wh.transaction() as con:
            storage.drop_duckdb_copy(con)
        return _snapshot(wh.con, _parquet(wh, _tables(wh)))


def test_interrupted_migration_to_duckdb_leaves_the_source_and_the_record(duck_demo: Path, monkeypatch):
    spark_tables = _spark_without_copy(duck_demo)
    with pytest.raises(EngineMismatchError, match=r"holds no copy.*migrate --to duckdb"):
        Warehouse(duck_demo)
    real, calls = storage.copy_table_to_duckdb, []

    def fail_second(wh, name, folder):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("killed (injected)")
        return real(wh, name, folder)

    monkeypatch.setattr(storage, "copy_table_to_duckdb", fail_second)
    with pytest.raises(OSError, match="injected"):
        migrate(duck_demo, "duckdb")
    with Warehouse(duck_demo, check_storage=False) as wh:
        state = read_state(wh)
        assert state.canonical == "spark" and state.copy is None
        assert all(wh.row_count(t) == 0 for t in TABLES)  # the first table's copy was rolled back
        _assert_same(spark_tables, _snapshot(wh.con, _parquet(wh, spark_tables)))
    monkeypatch.setattr(storage, "copy_table_to_duckdb", real)
    migrate(duck_demo, "duckdb")
    with Warehouse(duck_demo) as wh:
        assert read_state(wh).canonical == "duckdb"
        _assert_same(spark_tables, _snapshot(wh.con, _tables(wh)))


def test_the_duckdb_copy_follows_changes_in_both_directions(duck_demo: Path):
    migrate(duck_demo, "spark")
    # DuckDB-side changes (a decision logged by serving, then its reward: same row count)
    # reach the Parquet table on the next open
    with Warehouse(duck_demo) as wh:
        wh.con.execute("INSERT INTO decisions (decision_id, occurred_at, customer_id, action) "
                       "VALUES ('d1', TIMESTAMP '2011-12-01 10:00', 'c1', 'offer')")
    with Warehouse(duck_demo) as wh:
        wh.con.execute("UPDATE decisions SET reward = 42.0 WHERE decision_id = 'd1'")
    with Warehouse(duck_demo) as wh:
        root = spark_root(wh)
        assert wh.con.execute(f"SELECT count(*) FROM {storage._read_parquet(root / 'decisions')} WHERE reward = 42.0"
                              ).fetchall()[0][0] == 1
        assert in_sync(wh)
        # a Spark-side change (what a Spark ingest publishes): customer c's consent withdrawn
        cust = wh.con.execute("SELECT min(customer_id) FROM customers WHERE consent_marketing").fetchall()[0][0]
        nxt = root / ".customers.next"
        nxt.mkdir()
        wh.con.execute(f"COPY (SELECT * REPLACE (CASE WHEN customer_id = '{cust}' THEN false ELSE consent_marketing END "
                       f"AS consent_marketing) FROM customers) TO '{nxt / 'part-00000.parquet'}' (FORMAT parquet)")
        (nxt / "_SUCCESS").touch()
        storage._swap_in(None, root, "customers")
    # read-only (serve): an out-of-date copy is refused, never served
    with pytest.raises(EngineMismatchError, match="out of date"):
        Warehouse(duck_demo, read_only=True)
    with Warehouse(duck_demo) as wh:  # a writable open brings it up to date
        assert wh.con.execute("SELECT consent_marketing FROM customers WHERE customer_id = ?", [cust]).fetchall() == [(False,)]
        assert in_sync(wh)
    Warehouse(duck_demo, read_only=True).close()


def test_a_table_changed_on_both_sides_is_refused(duck_demo: Path):
    migrate(duck_demo, "spark")
    with Warehouse(duck_demo, check_storage=False) as wh:
        wh.con.execute("DELETE FROM orders WHERE order_id = (SELECT min(order_id) FROM orders)")
        root = spark_root(wh)
        nxt = root / ".orders.next"
        nxt.mkdir()
        wh.con.execute(f"COPY (SELECT * FROM {storage._read_parquet(root / 'orders')} LIMIT 10) "
                       f"TO '{nxt / 'part-00000.parquet'}' (FORMAT parquet)")
        (nxt / "_SUCCESS").touch()
        storage._swap_in(None, root, "orders")
    with pytest.raises(StorageConflictError, match=r"orders changed both.*migrate --to spark"):
        Warehouse(duck_demo)
    report = migrate(duck_demo, "spark")  # keeps the Spark tables, rebuilds the copy
    assert "orders" in [t.name for t in report.tables if t.action == "copied"]
    with Warehouse(duck_demo) as wh:
        assert wh.row_count("orders") == 10 and in_sync(wh)


def test_duckdb_ingest_into_a_spark_warehouse_refuses(duck_demo: Path, tmp_path: Path):
    migrate(duck_demo, "spark")
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,country\nnew1,UK\n")
    with Warehouse(duck_demo) as wh:
        before = checksum(wh.con, '"customers"', duck_types(wh, "customers"))
        with pytest.raises(EngineMismatchError, match=r"keeps its tables on Spark; ingest with --engine spark"):
            ingest(wh, [csv], table="customers")
        assert checksum(wh.con, '"customers"', duck_types(wh, "customers")) == before
        assert parquet_checksum(wh.con, spark_root(wh) / "customers", duck_types(wh, "customers")) == before


def test_the_first_ingest_records_its_engine(tmp_path: Path):
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,country\nc1,UK\n")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert read_state(wh).canonical is None
        ingest(wh, [csv], table="customers")
        state = read_state(wh)
        assert state.canonical == "duckdb" and state.recorded


def test_migrate_cli(duck_demo: Path):
    proc = run_cli("-w", str(duck_demo), "migrate", "--to", "spark")
    assert proc.returncode == 0, proc.stderr
    assert "customers" in proc.stdout and "now held by spark" in proc.stdout
    proc = run_cli("-w", str(duck_demo), "migrate", "--to", "spark", "--json")
    assert proc.returncode == 0 and '"note": "already on Spark' in proc.stdout
    bad = run_cli("-w", str(duck_demo), "migrate", "--to", "flink")
    assert bad.returncode == 2 and "choose duckdb or spark" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("-w", str(duck_demo.parent / "nope.duckdb"), "migrate", "--to", "spark")
    assert missing.returncode == 2 and "no warehouse here" in missing.stderr
    assert not (duck_demo.parent / "nope.duckdb").exists()


def test_a_stale_parquet_folder_of_a_deleted_warehouse_is_not_its_data(duck_demo: Path):
    migrate(duck_demo, "spark")
    duck_demo.unlink()
    shutil.rmtree(duck_demo.parent / ".tmp", ignore_errors=True)
    with Warehouse(duck_demo) as wh:  # a new file of the same name: nothing recorded, nothing held
        assert read_state(wh).canonical is None


def test_names_with_double_quotes_migrate_both_ways(tmp_path: Path):
    """Table and column names are quoted (inner quotes doubled) wherever a migration reads or writes them."""
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute('CREATE TABLE "say ""hi""" AS SELECT i AS "the ""n""", NULL AS "no ""value""" FROM range(3) t(i)')
        before = _snapshot(wh.con, {'say "hi"': '"say ""hi"""'})
    report = migrate(path, "spark")
    assert [t.action for t in report.tables if t.name == 'say "hi"'] == ["copied"]
    with Warehouse(path) as wh:
        assert in_sync(wh)
    migrate(path, "duckdb")
    with Warehouse(path) as wh:
        _assert_same(before, _snapshot(wh.con, {'say "hi"': '"say ""hi"""'}))
        assert wh.con.execute('SELECT sum("the ""n""") FROM "say ""hi"""').fetchall() == [(3,)]

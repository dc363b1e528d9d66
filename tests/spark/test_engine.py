"""The engine layer without a Spark cluster: DuckDB -> Spark SQL rewrites, transforms,
engine selection and the error a user gets when Spark is not installed."""

from __future__ import annotations

import sys
from datetime import date

import pytest

from shoplens.errors import SparkUnavailableError, UserInputError
from shoplens.store.engine import DuckDBEngine, strftime_to_java, to_spark_sql
from shoplens.store.transform import Transform, sql_literal, tables_read
from shoplens.store.warehouse import Warehouse


def test_spark_sql_keeps_duckdb_meaning():
    sql = to_spark_sql(
        "SELECT hash(a, b), regexp_replace(x, '^(-?[0-9]+)\\.0+$', '\\1'), NULL::UBIGINT, "
        "timezone('UTC', CAST(TRY_STRPTIME(s, '%d/%m/%Y %H:%M') AS TIMESTAMPTZ)), "
        "regexp_matches(upper(d), '\\b(BAG)S?\\b'), strftime(date_trunc('month', t), '%Y-%m') FROM src"
    )
    assert "XXHASH64(a, b)" in sql  # 64-bit like DuckDB's hash, not Spark's 32-bit hash
    assert "'$1'" in sql and "\\1" not in sql  # Java regex back-reference
    assert "CAST(NULL AS BIGINT)" in sql
    assert "TO_TIMESTAMP(s, 'd/M/yyyy H:mm')" in sql and "TIMEZONE" not in sql.upper().replace("TIMESTAMP", "")
    assert "RLIKE" in sql
    assert "DATE_FORMAT(DATE_TRUNC('MONTH', t), 'yyyy-MM')" in sql


def test_strftime_to_java_formats():
    assert strftime_to_java("%Y-%m-%d %H:%M:%S") == "yyyy-M-d H:mm:ss"
    assert strftime_to_java("%m/%d/%Y %H:%M") == "M/d/yyyy H:mm"
    assert strftime_to_java("%Y%m%dT%H") == "yyyyMd'T'H"


def test_bad_sql_is_a_user_error():
    with pytest.raises(UserInputError, match="cannot read this SQL"):
        to_spark_sql("SELEC FROM WHERE (")


def test_transform_declares_its_inputs_and_params(tmp_wh):
    with pytest.raises(ValueError, match="reads \\['orders'\\]"):
        Transform("t", "SELECT count(*) FROM orders", inputs=("order_items",))
    t = Transform("recent", "SELECT count(*) AS n FROM orders WHERE ordered_at >= {since}", inputs=("orders",))
    with pytest.raises(UserInputError, match="give a value for since"):
        t.render()
    assert "DATE '2011-01-01'" in t.render(since=date(2011, 1, 1))
    tmp_wh.con.execute("INSERT INTO orders (order_id, ordered_at) VALUES ('o1', '2011-02-01'), ('o2', '2010-02-01')")
    assert t.run(tmp_wh, since=date(2011, 1, 1))["n"].tolist() == [1]
    assert t.run(DuckDBEngine(tmp_wh), since=date(2000, 1, 1))["n"].tolist() == [2]


def test_sql_literal_and_tables_read():
    assert sql_literal("O'Brien") == "'O''Brien'"
    assert sql_literal(None) == "NULL" and sql_literal(True) == "TRUE" and sql_literal(2.5) == "2.5"
    with pytest.raises(UserInputError):
        sql_literal(object())
    assert tables_read("WITH a AS (SELECT * FROM orders) SELECT * FROM a JOIN products p ON TRUE") == {"orders", "products"}


def test_default_engine_is_duckdb(tmp_wh):
    assert tmp_wh.engine.name == "duckdb"
    assert tmp_wh.engine.query("SELECT count(*) AS n FROM customers")["n"].tolist() == [0]


def test_overview_transforms_match_plain_duckdb(demo_wh):
    from shoplens.insights.overview import kpis

    k = kpis(demo_wh)
    direct = demo_wh.con.execute(
        "SELECT count(*) FROM orders WHERE coalesce(status, 'completed') NOT IN ('cancelled', 'returned', 'refunded', 'adjustment')"
    ).fetchone()[0]
    assert k["orders"] == direct and isinstance(k["orders"], int)
    assert k["currency"] == "GBP" and k["first_order"].year == 2010


def test_missing_pyspark_is_a_clear_user_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SparkUnavailableError, match=r"pip install 'shoplens\[spark\]'"):
        Warehouse(tmp_path / "w.duckdb", engine="spark").engine.spark
    from typer.testing import CliRunner

    from shoplens.cli import app

    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id\nc1\n")
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "w2.duckdb"), "--engine", "spark", "ingest", "customers", str(csv)])
    assert isinstance(result.exception, SparkUnavailableError) and result.exception.exit_code == 2


def test_unknown_engine_is_rejected(tmp_path):
    from tests.ingest.helpers import run_cli

    proc = run_cli("-w", str(tmp_path / "w.duckdb"), "--engine", "flink", "status")
    assert proc.returncode == 2 and "engine" in proc.stderr and "Traceback" not in proc.stderr


def test_spark_connect_url_errors_are_one_line(tmp_path):
    pytest.importorskip("pyspark")
    from shoplens.errors import ConfigError
    from shoplens.store.engine import spark_session
    from tests.spark.cluster import free_port

    with pytest.raises(ConfigError, match="looks like sc://host:15002"):
        spark_session(remote="http://localhost:15002")
    port = free_port()  # nothing listens there
    with pytest.raises(SparkUnavailableError, match=f"cannot reach the Spark Connect server sc://127.0.0.1:{port}"):
        spark_session(remote=f"sc://127.0.0.1:{port}")
    from tests.ingest.helpers import run_cli

    csv = tmp_path / "c.csv"
    csv.write_text("customer_id\nc1\n")
    proc = run_cli("-w", str(tmp_path / "w.duckdb"), "--engine", "spark", "--spark-remote", f"sc://127.0.0.1:{port}",
                   "ingest", "customers", str(csv))
    assert proc.returncode == 2 and "cannot reach the Spark Connect server" in proc.stderr and "Traceback" not in proc.stderr


def test_spark_parquet_tables_are_owner_only(spark, tmp_path):
    """Issue #16 item 17: used from Python (umask 022), the Parquet folders Spark and DuckDB write in
    ``<stem>.spark/`` were 0755 with 0644 parts; every folder is now 0700 and every file 0600."""
    import os
    import stat

    import pandas as pd

    old = os.umask(0o022)
    try:
        with Warehouse(tmp_path / "w.duckdb", engine="spark", spark_master="local[2]") as wh:
            wh.engine.write_table("by_spark", spark.range(5).toDF("x"))
            wh.write_result("by_duckdb", pd.DataFrame({"x": [1, 2]}))
    finally:
        os.umask(old)
    root = tmp_path / "w.spark"
    assert (root / "by_spark").is_dir() and (root / "by_duckdb").is_dir()
    loose = {p.relative_to(root).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
             for p in [root, *root.rglob("*")] if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}


def test_spark_catalogue_folder_is_not_in_the_working_directory(spark):
    """Spark's default catalogue folder is ./spark-warehouse: shoplens puts it in a private
    temporary folder, so no run leaves a folder in the user's working directory."""
    import os
    import tempfile

    where = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert where.startswith(tempfile.gettempdir()) and "shoplens-spark-catalogue-" in where
    assert not os.path.realpath(where).startswith(os.path.realpath(os.getcwd()) + os.sep)

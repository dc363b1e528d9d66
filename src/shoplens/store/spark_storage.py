"""Where a warehouse keeps its tables when it runs on Spark.

The canonical tables live as Parquet folders in ``<warehouse folder>/<name>.spark/``
(the system of record on Spark); shoplens' bookkeeping (ingest runs, quarantine,
freshness, the privacy vault) stays in the small DuckDB file beside it, with a
complete, verified copy of the canonical tables unless an ingest said
``mirror=False`` (:mod:`shoplens.store.storage` keeps that copy true and records
which engine holds the tables).

>>> import tempfile
>>> from shoplens.store.warehouse import Warehouse
>>> wh = Warehouse(Path(tempfile.mkdtemp()) / "shop.duckdb")
>>> spark_root(wh).relative_to(wh.home).as_posix()  # where its Parquet tables live on Spark
'shop.spark'
>>> wh.close()
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from shoplens.store.engine import SparkEngine
from shoplens.store.files import owner_only_umask, private_dir, write_private
from shoplens.store.warehouse import first_row

if TYPE_CHECKING:
    from shoplens.store.warehouse import Warehouse

STAMP = "_warehouse_id"


def spark_root(wh: Warehouse) -> Path:
    return wh.home / f"{wh.path.stem}.spark"


def open_spark_engine(wh: Warehouse) -> SparkEngine:
    """The Spark engine of ``wh``; Parquet left over from a deleted warehouse file of
    the same name (its stamp does not match) is removed first."""
    root = spark_root(wh)
    row = first_row(wh.con.execute("SELECT info FROM _computed WHERE name = 'spark_storage'"))
    expected = row[0] if row else None
    stamp = root / STAMP
    found = stamp.read_text().strip() if stamp.exists() else None
    if found is not None and found != expected and not wh.read_only:
        shutil.rmtree(root)  # tables of an earlier warehouse file that no longer exists
    if not wh.read_only and (expected is None or not stamp.exists()):
        token = expected or uuid.uuid4().hex
        private_dir(root)
        write_private(stamp, token)
        if expected is None:
            wh.con.execute("DELETE FROM _computed WHERE name = 'spark_storage'")
            wh.con.execute("INSERT INTO _computed VALUES ('spark_storage', 'storage', now()::TIMESTAMP, NULL, ?)", [token])
    return SparkEngine(root, master=wh.spark_master, local=wh, remote=getattr(wh, "spark_remote", None))


def _parquet(path: Path) -> str:
    return (path / "*.parquet").as_posix().replace("'", "''")


def stage_customer_erasure(wh: Warehouse, ids: list[str]) -> dict[str, int]:
    """Erasure on Spark storage: stage, for every Parquet table of ``wh`` holding rows of
    these (warehouse or shop) customer ids, a next version without them; returns the rows
    removed per table. :func:`publish_staged` swaps them in, :func:`discard_staged` drops them.

    Reaches what the DuckDB erasure reaches: rows whose ``customer_id`` matches, the lines
    of their orders and the other messages of their support conversations. Works on the
    Parquet directly with DuckDB (no JVM), whether or not the warehouse is opened on Spark.
    """
    import duckdb

    root = spark_root(wh)
    if not root.exists() or not ids:
        return {}
    engine = SparkEngine(root, local=wh)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE _ids AS SELECT unnest(?::VARCHAR[]) AS id", [sorted(set(ids))])
    columns = {name: {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{_parquet(engine.table_path(name))}')").fetchall()}
               for name in engine.table_names()}
    # dependent keys first, before their owners' rows are filtered out
    mine = "CAST(customer_id AS VARCHAR) IN (SELECT id FROM _ids)"
    con.execute("CREATE TEMP TABLE _orders (order_id VARCHAR)")
    con.execute("CREATE TEMP TABLE _convs (conversation_id VARCHAR)")
    if "customer_id" in columns.get("orders", ()):
        con.execute(f"INSERT INTO _orders SELECT DISTINCT CAST(order_id AS VARCHAR) FROM "
                    f"read_parquet('{_parquet(engine.table_path('orders'))}') WHERE {mine}")
    if {"customer_id", "conversation_id"} <= columns.get("support_messages", set()):
        con.execute(f"INSERT INTO _convs SELECT DISTINCT CAST(conversation_id AS VARCHAR) FROM "
                    f"read_parquet('{_parquet(engine.table_path('support_messages'))}') WHERE {mine}")
    removed: dict[str, int] = {}
    for name, cols in columns.items():
        clauses = [mine] if "customer_id" in cols else []
        if name == "order_items" and "order_id" in cols:
            clauses.append("CAST(order_id AS VARCHAR) IN (SELECT order_id FROM _orders)")
        if name == "support_messages" and "conversation_id" in cols:
            clauses.append("CAST(conversation_id AS VARCHAR) IN (SELECT conversation_id FROM _convs)")
        if not clauses:
            continue
        where = "coalesce(" + " OR ".join(clauses) + ", false)"
        src = f"read_parquet('{_parquet(engine.table_path(name))}')"
        n = int(con.execute(f"SELECT count(*) FROM {src} WHERE {where}").fetchall()[0][0])
        removed[name] = n
        if not n:
            continue
        nxt = root / f".{name}.next"
        shutil.rmtree(nxt, ignore_errors=True)
        private_dir(nxt)
        target = (nxt / "part-00000.parquet").as_posix().replace("'", "''")
        with owner_only_umask():  # DuckDB creates the part file with the process umask
            con.execute(f"COPY (SELECT * FROM {src} WHERE NOT {where}) TO '{target}' (FORMAT parquet)")
        write_private(nxt / "_SUCCESS", b"")
    con.close()
    return removed


def publish_staged(wh: Warehouse, names: list[str]) -> None:
    """Swap in the next versions staged by :func:`stage_customer_erasure`."""
    from shoplens.store.storage import read_state, sync

    engine = wh.engine if wh.engine_name == "spark" else SparkEngine(spark_root(wh), local=wh)
    for name in names:
        engine.publish(name)
    state = read_state(wh)
    if names and state.canonical == "spark":
        sync(wh, state)  # the DuckDB file was changed the same way: record both as equal


def discard_staged(wh: Warehouse) -> None:
    """Drop staged next versions (a failed erasure leaves the Parquet tables as they were)."""
    SparkEngine(spark_root(wh), local=wh).discard_staged()


def customer_rows(wh: Warehouse, ids: list[str]) -> dict[str, int]:
    """Rows per Parquet table whose ``customer_id`` is one of ``ids`` (erasure's verify)."""
    import duckdb

    root = spark_root(wh)
    if not root.exists() or not ids:
        return {}
    engine = SparkEngine(root, local=wh)
    con = duckdb.connect()
    out = {}
    for name in engine.table_names():
        src = f"read_parquet('{_parquet(engine.table_path(name))}')"
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        if "customer_id" in cols:
            out[name] = int(con.execute(f"SELECT count(*) FROM {src} WHERE CAST(customer_id AS VARCHAR) "
                                        "IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(ids))]).fetchall()[0][0])
    con.close()
    return out

"""The embedded DuckDB warehouse.

One file holds the canonical tables (see :mod:`shoplens.schema`), the results
of every analysis, and shoplens' own bookkeeping tables (names starting with
``_``): ingest runs, quarantined rows and the freshness of computed tables.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "w.duckdb"
>>> with Warehouse(path) as wh:
...     wh.row_count("orders")
0
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from shoplens.errors import ConfigError, UnknownTableError
from shoplens.jsonsafe import dumps
from shoplens.schema import TABLES, create_table_sql, quote_identifier

META_TABLES_SQL = [
    """CREATE TABLE IF NOT EXISTS _ingest_runs (
        run_id VARCHAR, table_name VARCHAR, files VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP, "read" BIGINT, loaded BIGINT, updated BIGINT,
        quarantined BIGINT, duplicates BIGINT, seconds DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS _quarantine (
        run_id VARCHAR, table_name VARCHAR, file VARCHAR, line BIGINT,
        "column" VARCHAR, reason VARCHAR, raw VARCHAR, quarantined_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS _computed (
        name VARCHAR, kind VARCHAR, computed_at TIMESTAMP, rows BIGINT, info VARCHAR)""",
    # which engine holds the canonical tables, and the state of the other engine's copy
    # (shoplens.store.storage)
    "CREATE TABLE IF NOT EXISTS _storage (key VARCHAR, value VARCHAR, updated_at TIMESTAMP)",
]


# Tables of evaluation runs (holdout checks, backtests) start with this: everything else a
# command writes is what is served, and no evaluation run replaces it.
EVALUATION_PREFIX = "eval_"


def serves(as_of: Any, latest: Any) -> bool:
    """Whether a run cut off at ``as_of`` (``--as-of``, ``--until``) serves its results: only a run
    that sees the latest data (``as_of`` on or after ``latest``, the default cut-off: the day after the
    last order) does. A run dated earlier looks back at a past the warehouse already holds the sequel
    of: it is a backtest, and its results go to ``eval_*`` reports (:meth:`Warehouse.write_evaluation`),
    never over what the profile, the API and the report show.

    >>> from datetime import date
    >>> serves(date(2011, 12, 10), date(2011, 12, 10)), serves(date(2011, 11, 1), date(2011, 12, 10))
    (True, False)
    """
    return pd.Timestamp(as_of) >= pd.Timestamp(latest)


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed query, or None; the result is read to the end.

    Use it instead of ``fetchone()``: DuckDB 2 keeps a result open until a fetch comes
    back empty, and the connection's next ``register()`` then fails.

    >>> con = duckdb.connect()
    >>> first_row(con.execute("SELECT 1, 2")), first_row(con.execute("SELECT 1 WHERE false"))
    ((1, 2), None)
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def utcnow() -> datetime:
    """Current UTC time without zone (how the warehouse stores time)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Warehouse:
    """A DuckDB warehouse file.

    Parameters
    ----------
    path: the ``.duckdb`` file, created owner-only (0600); its folder is created (0700) when missing.
    read_only: open without write access (several readers may share it).
    memory_limit, threads: DuckDB resource limits.
    engine: ``duckdb`` or ``spark``, the engine that runs transforms (``spark_master``:
    where). Opening a warehouse whose tables another engine holds either works on the
    same data or raises :class:`~shoplens.errors.EngineMismatchError` (see
    :mod:`shoplens.store.storage`); ``check_storage=False`` skips that check, for
    bookkeeping only (``shoplens migrate``, and ``shoplens demo`` replacing a warehouse).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        engine: str = "duckdb",
        spark_master: str = "local[*]",
        spark_remote: str | None = None,
        check_storage: bool = True,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.engine_name = engine
        self.spark_master = spark_master
        self.spark_remote = spark_remote
        self._engine: Any = None
        created = not self.path.exists()
        if not read_only:
            from shoplens.store.files import private_dir

            private_dir(self.path.parent)  # a new folder is owner-only (0700), like the file below
        elif created:
            raise ConfigError(
                f"{self.path}: no warehouse here (run `shoplens demo` or `shoplens ingest` first, "
                "or point --warehouse / SHOPLENS_WAREHOUSE at an existing one)"
            )
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        with self._owner_only():  # the file and its write-ahead log are born 0600 (see _owner_only)
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
            except duckdb.IOException as exc:
                raise ConfigError(f"{self.path}: cannot open the warehouse: {exc}") from None
            if created and not read_only:
                from shoplens.store.files import restrict

                restrict(self.path)  # created before this version, or under a caller's umask change
            # GLOBAL: every cursor of this connection (one per API request) starts in UTC without a query of its own
            self.con.execute("SET GLOBAL TimeZone = 'UTC'")
            self.con.execute(f"SET temp_directory = '{self.tmp_dir.as_posix()}'")
            self.con.execute("SET enable_progress_bar = false")
            if not read_only:
                self.ensure_schema()
            else:
                self._shim_missing_columns()
        if check_storage:
            from shoplens.store.storage import check_engine

            try:
                check_engine(self)
            except BaseException:
                self.con.close()
                raise

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log beside the file: committed changes not yet checkpointed into it."""
        return self.path.with_name(self.path.name + ".wal")

    @contextmanager
    def _owner_only(self) -> Iterator[None]:
        """Around a DuckDB call that can create the database file or its write-ahead log (opening,
        a commit): they are created owner-only whatever the caller's umask.

        DuckDB deletes the log at every checkpoint and creates it again at the next commit, with the
        process umask and no way to pass a mode, so the umask is tightened for the call
        (:func:`shoplens.store.files.owner_only_umask`: shared by reference count, the caller's
        restored after; safe across threads) and the log is then chmod-ed 0600 too, which also
        catches one a direct ``wh.con`` write re-created since the last checkpoint.
        """
        if self.read_only:  # a read-only connection creates neither
            yield
            return
        from shoplens.store.files import owner_only_umask, restrict

        with owner_only_umask():
            yield
        restrict(self.wal_path)

    @property
    def home(self) -> Path:
        """Folder of the warehouse; derived files (models, reports, exports) live below it."""
        return self.path.parent

    def relative_path(self, path: str | Path) -> str:
        """How a file below :attr:`home` is recorded in the warehouse: relative to the
        warehouse folder, so a moved or copied folder and any working directory still find
        it (see :meth:`resolve_path`); a file elsewhere is recorded by its absolute path.

        >>> import tempfile
        >>> wh = Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb")
        >>> wh.relative_path(wh.home / "models" / "recs" / "1.pkl")
        'models/recs/1.pkl'
        >>> wh.resolve_path("models/recs/1.pkl") == wh.home / "models" / "recs" / "1.pkl"
        True
        >>> wh.close()
        """
        full = Path(path).absolute()
        try:
            return full.relative_to(self.home.absolute()).as_posix()
        except ValueError:
            return str(full)

    def resolve_path(self, recorded: str | Path) -> Path:
        """The file that :meth:`relative_path` recorded: relative paths are below :attr:`home`."""
        path = Path(recorded)
        return path if path.is_absolute() else self.home / path

    @property
    def engine(self) -> Any:
        """The :class:`shoplens.store.engine.Engine` running this warehouse's transforms:
        DuckDB itself, or Spark over Parquet tables below :attr:`home` (``engine="spark"``)."""
        if self._engine is None:
            from shoplens.store.engine import DuckDBEngine
            from shoplens.store.spark_storage import open_spark_engine

            self._engine = open_spark_engine(self) if self.engine_name == "spark" else DuckDBEngine(self)
        return self._engine

    @property
    def tmp_dir(self) -> Path:
        return self.home / ".tmp"

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded files wait while they are ingested (``upload-*`` folders, removed after each
        upload and, for uploads a killed server left behind, when the server starts); one folder per
        warehouse file, so a server never removes the uploads of another warehouse in the same folder."""
        return self.tmp_dir / "uploads" / self.path.stem

    def ensure_schema(self) -> None:
        """Create missing tables, and add the columns a newer schema has to an older warehouse's tables."""
        missing = self._missing_columns()
        for table in TABLES.values():
            if table.name not in missing:
                self.con.execute(create_table_sql(table))  # IF NOT EXISTS: a view of that name stays
            for col in missing.get(table.name, []):
                self.con.execute(f"ALTER TABLE {quote_identifier(table.name)} "
                                 f"ADD COLUMN {quote_identifier(col.name)} {col.type}")
        for sql in META_TABLES_SQL:
            self.con.execute(sql)

    def _missing_columns(self) -> dict[str, list[Any]]:
        """Canonical table -> the schema's columns its stored table lacks (a warehouse from an older version)."""
        have: dict[str, set[str]] = {}
        for t, c in self.con.execute(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "JOIN information_schema.tables t USING (table_schema, table_name) "
                "WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE'").fetchall():
            have.setdefault(t, set()).add(c)
        return {name: [c for c in table.columns if c.name not in have[name]]
                for name, table in TABLES.items() if name in have}

    def _shim_missing_columns(self) -> None:
        """A warehouse opened read-only cannot gain columns: a temporary view of the same name
        (temporary objects come first in DuckDB's search path) shows them as NULL, so queries
        written for the current schema run on an older file unchanged."""
        catalog = quote_identifier(self.con.execute("SELECT current_database()").fetchall()[0][0])
        for name, missing in self._missing_columns().items():
            if missing:
                nulls = ", ".join(f"CAST(NULL AS {c.type}) AS {quote_identifier(c.name)}" for c in missing)
                self.con.execute(f"CREATE TEMP VIEW {quote_identifier(name)} AS "
                                 f"SELECT *, {nulls} FROM {catalog}.main.{quote_identifier(name)}")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commit on success, roll back on any exception.

        DuckDB writes a transaction to its write-ahead log only at commit, so a
        process killed inside the block leaves the file as it was.
        """
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            with self._owner_only():  # DuckDB writes (and may create) its write-ahead log here
                self.con.execute("COMMIT")

    # -- reading -------------------------------------------------------------------
    # what information_schema.tables lists under schema main (tables and views of every attached
    # database), read from DuckDB's own catalogue functions: about a third of the cost, and
    # has_table runs on API requests
    _TABLES_SQL = ("SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' UNION ALL "
                   "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal")

    def tables(self) -> list[str]:
        return [r[0] for r in self.con.execute(f"SELECT name FROM ({self._TABLES_SQL}) ORDER BY 1").fetchall()]

    def has_table(self, name: str) -> bool:
        return bool(self.con.execute(f"SELECT count(*) FROM ({self._TABLES_SQL}) WHERE name = ?", [name]).fetchall()[0][0])

    def columns(self, name: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='main' "
            "AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    def column_types(self, name: str) -> dict[str, str]:
        """DuckDB type of every column of table ``name``."""
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='main' "
            "AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def row_count(self, name: str) -> int:
        if not self.has_table(name):
            raise UnknownTableError(f"no table {name!r} in the warehouse")
        return int(self.con.execute(f'SELECT count(*) FROM {quote_identifier(name)}').fetchall()[0][0])

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run SQL and return a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()

    def table(self, name: str) -> pd.DataFrame:
        if not self.has_table(name):
            raise UnknownTableError(f"no table {name!r} in the warehouse")
        return self.con.execute(f'SELECT * FROM {quote_identifier(name)}').df()

    # -- derived results -------------------------------------------------------------
    def write_table(self, name: str, frame: pd.DataFrame, *, kind: str = "table", info: dict | None = None) -> None:
        """Replace table ``name`` with ``frame`` atomically and record when it was computed."""
        if name in TABLES:
            raise UnknownTableError(f"{name!r} is a canonical table; load it with ingest")
        with self.transaction() as con:
            con.register("_frame", frame)
            con.execute(f'CREATE OR REPLACE TABLE {quote_identifier(name)} AS SELECT * FROM _frame')
            con.unregister("_frame")
            self._mark(con, name, kind, len(frame), info)

    def write_evaluation(self, name: str, frame: pd.DataFrame, *, info: dict | None = None) -> str:
        """Write the report of an evaluation run (a holdout check, a backtest) as table
        ``eval_<name>`` and return that name: evaluation runs never replace what is served.

        >>> import tempfile
        >>> with Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
        ...     wh.write_evaluation("customer_clv", pd.DataFrame({"mae": [0.4]}))
        'eval_customer_clv'
        """
        table = EVALUATION_PREFIX + name
        self.write_table(table, frame, kind="evaluation", info=info)
        return table

    def write_result(self, name: str, frame: pd.DataFrame, *, kind: str = "table", info: dict | None = None) -> None:
        """Write a result computed by a transform on this warehouse's engine: into the
        DuckDB file (serving, and steps that run on DuckDB) and, on Spark, also as the
        Parquet table ``name`` so later Spark transforms read it where Spark keeps tables."""
        self.write_table(name, frame, kind=kind, info=info)
        if self.engine_name == "spark":
            from shoplens.store.storage import write_parquet_result

            write_parquet_result(self, name)

    def mark_computed(self, name: str, kind: str, rows: int | None = None, info: dict | None = None) -> None:
        """Record that ``name`` (a table, model or report) was computed now."""
        with self._owner_only():  # two statements that commit on their own outside a transaction
            self._mark(self.con, name, kind, rows, info)

    @staticmethod
    def _mark(con: duckdb.DuckDBPyConnection, name: str, kind: str, rows: int | None, info: dict | None) -> None:
        con.execute("DELETE FROM _computed WHERE name = ?", [name])
        con.execute(
            "INSERT INTO _computed VALUES (?, ?, ?, ?, ?)",
            [name, kind, utcnow(), rows, dumps(info or {})],
        )

    def freshness(self) -> pd.DataFrame:
        return self.query("SELECT name, kind, computed_at, rows FROM _computed ORDER BY name")

    def computed_at(self, name: str) -> datetime | None:
        """When the result or model ``name`` was last computed (UTC), None if never.

        >>> import tempfile
        >>> with Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
        ...     before = wh.computed_at("rfm")
        ...     wh.mark_computed("rfm", "table", rows=3)
        ...     before, wh.computed_at("rfm") is not None
        (None, True)
        """
        row = first_row(self.con.execute("SELECT computed_at FROM _computed WHERE name = ?", [name]))
        return row[0] if row else None


def table_status(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """Rows, time range and last ingest of every canonical table (``shoplens status``)."""
    last = dict(
        wh.con.execute("SELECT table_name, max(finished_at) FROM _ingest_runs GROUP BY 1").fetchall()
    )
    out: dict[str, dict[str, Any]] = {}
    for name, table in TABLES.items():
        rows = wh.row_count(name)
        lo = hi = None
        if table.time_column and rows:
            lo, hi = first_row(wh.con.execute(f'SELECT min({quote_identifier(table.time_column)}), max({quote_identifier(table.time_column)}) FROM {quote_identifier(name)}'))  # type: ignore[misc]
        out[name] = {"rows": rows, "min_time": lo, "max_time": hi, "last_ingest": last.get(name)}
    return out

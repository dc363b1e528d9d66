"""Which engine holds a warehouse's canonical tables, and keeping the other copy true.

A warehouse is one DuckDB file and, when it runs on Spark, Parquet folders below
``<warehouse folder>/<name>.spark/``. The DuckDB file records (table ``_storage``)
where the canonical tables live:

* ``duckdb``: in the DuckDB file. Opening the warehouse with ``--engine spark``
  refuses with one line naming the command that moves it: ``shoplens migrate --to spark``.
* ``spark``: in the Parquet folders. The DuckDB file keeps a complete copy of them
  (ingest's ``mirror=True``, what the CLI and the demo do), so DuckDB-only steps and
  serving read the same rows; after ``mirror=False`` it keeps none, and opening the
  warehouse with ``--engine duckdb`` refuses (``shoplens migrate --to duckdb``).
* nothing yet (a new warehouse): the first ingest records its engine.

The copy is checked, not trusted: :func:`sync` compares every table on both sides
(row count and a checksum per column) with what was recorded when they were last
equal, copies the side that changed onto the other (Parquet -> DuckDB in one DuckDB
transaction; DuckDB -> Parquet as next versions verified before they are swapped in),
verifies again and records the new state; a table changed on both sides to different
contents is refused. It runs when the warehouse is opened for writing, after a Spark
ingest, after an erasure and after every demo step. Result tables (RFM, cohorts...) live
in the DuckDB file on both engines; on Spark a Parquet copy beside them, kept equal the
same way, is what Spark transforms read.

:func:`migrate` moves the canonical tables (and every result table) to the other
engine: all are copied and verified (row counts, per-column checksums) before the
record switches; a failure part-way leaves the source and the record as they were.

>>> import tempfile, pathlib
>>> from shoplens.store.warehouse import Warehouse
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> read_state(wh).canonical is None      # nothing ingested yet
True
>>> checksum(wh.con, '"orders"', {"order_id": "VARCHAR"}).rows
0
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from shoplens.errors import ConfigError, EngineMismatchError, MigrationError, StorageConflictError
from shoplens.schema import TABLES, quote_identifier
from shoplens.store.files import owner_only_umask, private_dir, write_private
from shoplens.store.spark_storage import STAMP, spark_root
from shoplens.store.warehouse import first_row, utcnow

if TYPE_CHECKING:
    from shoplens.store.warehouse import Warehouse

ENGINES = ("duckdb", "spark")


# ----------------------------------------------------------------------------------
# the record
# ----------------------------------------------------------------------------------

@dataclass
class StorageState:
    """Where the canonical tables live and, on Spark, the state of the DuckDB copy.

    ``copy``: ``None`` when the DuckDB file keeps no copy of Spark's tables; otherwise,
    per table, the Parquet files and the checksum both sides had when last found equal
    (``{}``: a copy is kept but nothing was recorded yet).
    """

    canonical: str | None
    copy: dict[str, dict[str, Any]] | None = None
    recorded: bool = False


def read_state(wh: Warehouse) -> StorageState:
    """The warehouse's record; for a warehouse written before there was one, what its
    files show (Parquet tables of this warehouse: Spark; canonical rows in DuckDB: DuckDB)."""
    try:
        rows = dict(wh.con.execute("SELECT key, value FROM _storage").fetchall())
    except duckdb.CatalogException:  # a file from before the record, opened read-only
        rows = {}
    if "canonical" in rows:
        return StorageState(rows["canonical"], json.loads(rows.get("duckdb_copy") or "null"), recorded=True)
    duck_rows = any(_duck_rows(wh, t) for t in TABLES)
    if root_is_ours(wh) and any(_parquet_exists(spark_root(wh) / t) for t in TABLES):
        # a Spark warehouse from before the record: the DuckDB copy, if any, is checked by sync
        return StorageState("spark", {} if duck_rows else None)
    return StorageState("duckdb" if duck_rows else None)


def write_state(con: duckdb.DuckDBPyConnection, state: StorageState) -> None:
    """Record ``state`` (inside the caller's transaction when there is one)."""
    now = utcnow()
    con.execute("DELETE FROM _storage WHERE key IN ('canonical', 'duckdb_copy')")
    con.execute("INSERT INTO _storage VALUES ('canonical', ?, ?), ('duckdb_copy', ?, ?)",
                [state.canonical, now, json.dumps(state.copy, sort_keys=True), now])


def claim(con: duckdb.DuckDBPyConnection, wh: Warehouse, engine: str, *, keep_copy: bool = True) -> StorageState:
    """Record ``engine`` as the holder of a warehouse's canonical tables when nothing
    is recorded yet (the first ingest does this); returns the state in force."""
    state = read_state(wh)
    if state.canonical is None or not state.recorded:
        canonical = state.canonical or engine
        copy = state.copy if state.canonical else ({} if canonical == "spark" and keep_copy else None)
        state = StorageState(canonical, copy, recorded=True)
        write_state(con, state)
    return state


def root_is_ours(wh: Warehouse) -> bool:
    """Whether the Parquet folder beside the DuckDB file was made for this file (its
    stamp matches), not left over from a deleted warehouse of the same name."""
    stamp = spark_root(wh) / STAMP
    if not stamp.exists():
        return False
    row = first_row(wh.con.execute("SELECT info FROM _computed WHERE name = 'spark_storage'"))
    return row is not None and stamp.read_text().strip() == row[0]


def check_engine(wh: Warehouse) -> StorageState:
    """What opening ``wh`` with its engine may do; raises a one-line
    :class:`~shoplens.errors.EngineMismatchError` when it may not. Called by
    :class:`~shoplens.store.warehouse.Warehouse` on open.

    DuckDB tables opened on Spark: refused (``migrate --to spark``). Spark tables opened
    on DuckDB: allowed when the DuckDB file keeps a copy, which is synced first (or, read-only,
    checked); refused otherwise (``migrate --to duckdb``).
    """
    state = read_state(wh)
    where = f"--warehouse {wh.path}"
    if state.canonical is None:
        return state
    if state.canonical == "duckdb" and wh.engine_name == "spark":
        raise EngineMismatchError(
            f"{wh.path}: this warehouse keeps its tables in DuckDB, so Spark cannot open it as it is; "
            f"move them with `shoplens {where} migrate --to spark` (or open it with --engine duckdb)")
    if state.canonical == "spark" and wh.engine_name == "duckdb" and state.copy is None:
        raise EngineMismatchError(
            f"{wh.path}: this warehouse keeps its tables on Spark and its DuckDB file holds no copy of them "
            f"(ingested with mirror=False); open it with --engine spark, or move them with "
            f"`shoplens {where} migrate --to duckdb`")
    if state.canonical == "spark" and state.copy is not None:
        if wh.read_only:
            if wh.engine_name == "duckdb" and not in_sync(wh, state):
                raise EngineMismatchError(
                    f"{wh.path}: the DuckDB copy of this warehouse's Spark tables is out of date; "
                    f"open it once for writing (any command but serve) to bring it up to date, or with --engine spark")
        else:
            sync(wh, state)
            state = read_state(wh)
    return state


# ----------------------------------------------------------------------------------
# checksums
# ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checksum:
    """Row count and, per column, the sum of the 64-bit hashes of its values (cast to
    the column's DuckDB type, so a value reads the same from DuckDB and from Parquet).
    Order-independent and exact: any changed, added or removed value changes it."""

    rows: int
    columns: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        return hashlib.sha1(json.dumps([self.rows, self.columns]).encode()).hexdigest()

    def differences(self, other: Checksum) -> list[str]:
        """What differs from ``other``: 'rows' and/or column names."""
        out = ["rows"] if self.rows != other.rows else []
        mine, theirs = dict(self.columns), dict(other.columns)
        return out + [c for c in sorted(set(mine) | set(theirs)) if mine.get(c) != theirs.get(c)]


def _is_null_type(t: str) -> bool:
    return t.strip('"').upper() == "NULL"


def checksum(con: duckdb.DuckDBPyConnection, source: str, types: dict[str, str]) -> Checksum:
    """The :class:`Checksum` of ``source`` (a quoted table name or a ``read_parquet(…)``)."""
    parts = ["count(*)"]
    for col, typ in types.items():
        q = quote_identifier(col)
        parts.append(f"count({q})::VARCHAR" if _is_null_type(typ) else f"coalesce(sum(hash(CAST({q} AS {typ})))::VARCHAR, '0')")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    return Checksum(int(row[0]), tuple(zip(types, (str(v) for v in row[1:]))))


def empty_checksum(types: dict[str, str]) -> Checksum:
    return Checksum(0, tuple((c, "0") for c in types))


def duck_types(wh: Warehouse, name: str) -> dict[str, str]:
    """Column types of a DuckDB table (canonical tables: the data model's)."""
    if name in TABLES:
        return {c.name: c.type for c in TABLES[name].columns}
    return wh.column_types(name)


def _duck_rows(wh: Warehouse, name: str) -> int:
    return int(wh.con.execute(f'SELECT count(*) FROM {quote_identifier(name)}').fetchall()[0][0]) if wh.has_table(name) else 0


def _parquet_exists(path: Path) -> bool:
    return (path / "_SUCCESS").exists()


def _parquet_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.parquet") if p.is_file())


def _read_parquet(path: Path) -> str:
    return "read_parquet('" + (path / "*.parquet").as_posix().replace("'", "''") + "', union_by_name = true)"


def parquet_checksum(con: duckdb.DuckDBPyConnection, path: Path, types: dict[str, str]) -> Checksum:
    """The :class:`Checksum` of a Parquet table folder (absent or without files: empty);
    a column the files lack counts as all NULL."""
    if not _parquet_exists(path) or not _parquet_files(path):
        return empty_checksum(types)
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_read_parquet(path)}").fetchall()}
    cols = ", ".join(quote_identifier(c) if c in present else f"NULL AS {quote_identifier(c)}" for c in types)
    return checksum(con, f"(SELECT {cols} FROM {_read_parquet(path)})", types)


def files_fingerprint(path: Path) -> str | None:
    """What a Parquet table folder holds (file names, sizes, modification times); ``None``
    when there is no table. Any write (Spark's or DuckDB's) changes it."""
    if not _parquet_exists(path):
        return None
    h = hashlib.sha1()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(path).as_posix()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------------
# copying one table, verified
# ----------------------------------------------------------------------------------

_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"}


def _parquet_column(col: str, typ: str) -> str:
    """How a DuckDB column is written for Spark: timestamps as instants (Spark reads
    DuckDB's zone-less Parquet timestamps as TIMESTAMP_NTZ otherwise; the session is
    UTC, so the value is the same), a column of type NULL as a NULL string."""
    q = quote_identifier(col)
    if typ.upper() in _TIMESTAMPS:
        return f"CAST({q} AS TIMESTAMPTZ) AS {q}"
    if _is_null_type(typ):
        return f"CAST(NULL AS VARCHAR) AS {q}"
    return q


def stage_parquet_copy(wh: Warehouse, name: str, folder: Path) -> Checksum:
    """Write DuckDB table ``name`` as the Parquet table folder ``folder`` (replaced) and
    verify it: row count and every column's checksum equal the DuckDB table's; returns it.
    DuckDB writes the Parquet itself (no JVM)."""
    types = duck_types(wh, name)
    shutil.rmtree(folder, ignore_errors=True)
    private_dir(folder)
    target = (folder / "part-00000.parquet").as_posix().replace("'", "''")
    cols = ", ".join(_parquet_column(c, t) for c, t in types.items())
    with owner_only_umask():  # DuckDB creates the part file with the process umask
        wh.con.execute(f"COPY (SELECT {cols} FROM {quote_identifier(name)}) TO '{target}' (FORMAT parquet)")
    write_private(folder / "_SUCCESS", b"")
    want = checksum(wh.con, quote_identifier(name), types)
    got = parquet_checksum(wh.con, folder, types)
    if got != want:
        raise MigrationError(f"{name}: the Parquet copy differs from the DuckDB table ({', '.join(got.differences(want))}); "
                             "nothing was switched")
    return want


def load_duckdb_copy(wh: Warehouse, name: str, folder: Path) -> Checksum:
    """Replace DuckDB table ``name`` by the Parquet table ``folder`` (inside the caller's
    transaction) and verify it; canonical tables keep their schema, a result table is
    created from the Parquet schema when the DuckDB file lacks it."""
    con = wh.con
    if name in TABLES or wh.has_table(name):
        types = duck_types(wh, name)
        con.execute(f'DELETE FROM {quote_identifier(name)}')
        if _parquet_exists(folder) and _parquet_files(folder):
            present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_read_parquet(folder)}").fetchall()}
            cols = [c for c in types if c in present]
            qcols = ", ".join(quote_identifier(c) for c in cols)
            casts = ", ".join(f"CAST({quote_identifier(c)} AS {types[c]})" if not _is_null_type(types[c]) else "NULL" for c in cols)
            con.execute(f'INSERT INTO {quote_identifier(name)} ({qcols}) SELECT {casts} FROM {_read_parquet(folder)}')
    else:
        con.execute(f'CREATE TABLE {quote_identifier(name)} AS SELECT * FROM {_read_parquet(folder)}')
        types = wh.column_types(name)
    want = parquet_checksum(con, folder, types)
    got = checksum(con, quote_identifier(name), types)
    if got != want:
        raise MigrationError(f"{name}: the DuckDB copy differs from the Parquet table ({', '.join(got.differences(want))}); "
                             "nothing was switched")
    return got


def _swap_in(engine: Any, root: Path, name: str) -> None:
    """Publish ``root/.name.next`` as table ``name`` (through the Spark engine when one is
    running, so its cached view is dropped)."""
    if engine is not None:
        engine.publish(name)
        return
    nxt, cur, old = root / f".{name}.next", root / name, root / f".{name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if cur.exists():
        cur.rename(old)
    nxt.rename(cur)
    shutil.rmtree(old, ignore_errors=True)


def _running_engine(wh: Warehouse) -> Any:
    from shoplens.store.engine import SparkEngine

    eng = getattr(wh, "_engine", None)
    return eng if isinstance(eng, SparkEngine) else None


def parquet_table_names(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _parquet_exists(p) and not p.name.startswith((".", "_")))


def _result_tables(wh: Warehouse) -> list[str]:
    """DuckDB tables that are neither canonical nor bookkeeping (``_…``)."""
    return [t for t in wh.tables() if t not in TABLES and not t.startswith("_")]


# ----------------------------------------------------------------------------------
# keeping the DuckDB copy of a Spark warehouse true
# ----------------------------------------------------------------------------------

@dataclass
class SyncReport:
    """Tables copied by :func:`sync`, per direction."""

    to_duckdb: list[str] = field(default_factory=list)
    to_parquet: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def in_sync(wh: Warehouse, state: StorageState | None = None) -> bool:
    """Whether both sides still hold what was recorded when they were last equal."""
    state = state or read_state(wh)
    if state.canonical != "spark" or state.copy is None:
        return True
    root = spark_root(wh)
    names = set(TABLES) | set(parquet_table_names(root))
    for name in names:
        rec = state.copy.get(name)
        if rec is None or rec["files"] != files_fingerprint(root / name):
            return False
        if not wh.has_table(name) or rec["sum"] != checksum(wh.con, quote_identifier(name), duck_types(wh, name)).digest:
            return False
    return True


def sync(wh: Warehouse, state: StorageState | None = None, *, prefer: str | None = None) -> SyncReport:
    """Make the DuckDB copy of a Spark warehouse's tables equal to them, in both directions.

    Per table, against the recorded state: Parquet changed (a Spark ingest) -> copied into
    DuckDB; DuckDB changed (decisions logged, an erasure, a DuckDB-only step rewriting a
    result) -> copied to Parquet; both changed to different contents -> refused
    (:class:`~shoplens.errors.StorageConflictError`), unless ``prefer`` names the side to keep.
    Result tables live in the DuckDB file: their Parquet copies always follow it. Does
    nothing on a DuckDB warehouse or when the DuckDB file keeps no copy.
    """
    state = state or read_state(wh)
    report = SyncReport()
    if state.canonical != "spark" or state.copy is None or wh.read_only:
        return report
    root = spark_root(wh)
    con = wh.con
    names = list(TABLES) + [n for n in parquet_table_names(root) if n not in TABLES]
    new_copy: dict[str, dict[str, Any]] = {}
    pulled: list[str] = []
    for name in names:
        canonical = name in TABLES
        rec = state.copy.get(name)
        fp = files_fingerprint(root / name)
        if not canonical and not wh.has_table(name):  # a result dropped from the DuckDB file
            report.removed.append(name)
            continue
        types = duck_types(wh, name)
        dsum = checksum(con, quote_identifier(name), types)
        if rec is not None and rec["files"] == fp and rec["sum"] == dsum.digest:
            new_copy[name] = rec
            continue
        psum = parquet_checksum(con, root / name, types)
        if psum == dsum:
            new_copy[name] = {"files": fp, "sum": dsum.digest}
            continue
        parquet_changed = rec is None or rec["files"] != fp
        duck_changed = rec is None or rec["sum"] != dsum.digest
        if not canonical or prefer == "duckdb":
            report.to_parquet.append(name)
        elif prefer == "spark" or rec is None or not duck_changed:
            report.to_duckdb.append(name)
        elif parquet_changed:
            raise StorageConflictError(
                f"{wh.path}: table {name} changed both in the DuckDB file and in the Spark tables since they "
                f"were last equal; keep the Spark tables with `shoplens --warehouse {wh.path} migrate --to spark` "
                f"(the DuckDB file's changes to {name} are then lost)")
        else:
            report.to_parquet.append(name)
        if name in report.to_duckdb:
            pulled.append(name)
    engine = _running_engine(wh)
    try:
        for name in report.to_parquet:
            stage_parquet_copy(wh, name, root / f".{name}.next")
    except BaseException:
        for name in report.to_parquet:
            shutil.rmtree(root / f".{name}.next", ignore_errors=True)
        raise
    for name in report.to_parquet:  # verified; each swap is a rename
        _swap_in(engine, root, name)
        new_copy[name] = {"files": files_fingerprint(root / name),
                          "sum": checksum(con, quote_identifier(name), duck_types(wh, name)).digest}
    for name in report.removed:
        shutil.rmtree(root / name, ignore_errors=True)
    with wh.transaction():
        for name in pulled:
            got = load_duckdb_copy(wh, name, root / name)
            new_copy[name] = {"files": files_fingerprint(root / name), "sum": got.digest}
        write_state(con, StorageState("spark", new_copy, recorded=True))
    return report


def keep_duckdb_copy(wh: Warehouse) -> SyncReport:
    """Start keeping (or bring up to date) a complete DuckDB copy of a Spark warehouse's
    tables: every canonical table is copied from Parquet and verified."""
    state = read_state(wh)
    if state.canonical != "spark":
        return SyncReport()
    if state.copy is None:
        state = StorageState("spark", {}, recorded=True)
        with wh.transaction() as con:
            write_state(con, state)
    return sync(wh, state)


def drop_duckdb_copy(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the DuckDB copies of the canonical tables and record that none is kept
    (``ingest(..., mirror=False)``: a stale copy must not read as data)."""
    for name in TABLES:
        con.execute(f'DELETE FROM {quote_identifier(name)}')
    con.execute("DELETE FROM _storage WHERE key = 'duckdb_copy'")
    con.execute("INSERT INTO _storage VALUES ('duckdb_copy', 'null', ?)", [utcnow()])


def write_parquet_result(wh: Warehouse, name: str) -> None:
    """Write the Parquet copy of result table ``name`` (Spark transforms read results
    there); verified before it is swapped in."""
    root = spark_root(wh)
    private_dir(root)
    try:
        stage_parquet_copy(wh, name, root / f".{name}.next")
    except BaseException:
        shutil.rmtree(root / f".{name}.next", ignore_errors=True)
        raise
    _swap_in(_running_engine(wh), root, name)


# ----------------------------------------------------------------------------------
# migration
# ----------------------------------------------------------------------------------

@dataclass
class MigratedTable:
    name: str
    kind: str  # canonical | result
    rows: int
    columns: int
    action: str  # copied | unchanged | kept


@dataclass
class MigrationReport:
    """What :func:`migrate` did; ``tables`` lists every table copied and verified."""

    warehouse: str
    source: str | None
    target: str
    tables: list[MigratedTable] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"warehouse": self.warehouse, "from": self.source, "to": self.target, "seconds": round(self.seconds, 3),
                "note": self.note, "tables": [t.__dict__ for t in self.tables]}


def migrate(warehouse: Warehouse | str | Path, to: str) -> MigrationReport:
    """Move a warehouse's canonical tables, and every result table, to engine ``to``.

    Every table is copied and verified (row count and each column's checksum equal on
    both sides) before the record switches; until then the source tables and the record
    are untouched, so a failure part-way changes nothing. After ``--to spark`` the DuckDB
    file keeps a verified copy (DuckDB opens keep working); after ``--to duckdb`` the
    Parquet folder is removed. Runs in DuckDB alone (no JVM).

    >>> import tempfile, pathlib
    >>> from shoplens.config import Settings
    >>> from shoplens.ingest import ingest
    >>> from shoplens.store.warehouse import Warehouse
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text("order_id,customer_id,ordered_at\\no1,c1,2024-01-05\\no2,c2,2024-01-06\\n")
    >>> settings = Settings(warehouse=folder / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
    >>> with Warehouse(settings.warehouse) as wh:
    ...     _ = ingest(wh, [folder / "orders.csv"], table="orders", settings=settings)
    >>> report = migrate(folder / "w.duckdb", "spark")
    >>> report.source, report.target, [(t.name, t.rows, t.action) for t in report.tables if t.name == "orders"]
    ('duckdb', 'spark', [('orders', 2, 'copied')])
    >>> sorted(p.name for p in folder.glob("w.*"))  # the Parquet tables, and the verified DuckDB copy
    ['w.duckdb', 'w.spark']
    >>> migrate(folder / "w.duckdb", "duckdb").source, sorted(p.name for p in folder.glob("w.*"))
    ('spark', ['w.duckdb'])
    """
    from shoplens.store.warehouse import Warehouse

    if to not in ENGINES:
        raise ConfigError(f"cannot migrate to {to!r}: choose duckdb or spark")
    if isinstance(warehouse, Warehouse):
        return _migrate(warehouse, to)
    path = Path(warehouse)
    if not path.exists():
        raise ConfigError(f"{path}: no warehouse here (point --warehouse at an existing one)")
    with Warehouse(path, check_storage=False) as wh:
        return _migrate(wh, to)


def _migrate(wh: Warehouse, to: str) -> MigrationReport:
    if wh.read_only:
        raise ConfigError(f"{wh.path}: opened read-only; migrate needs write access")
    started = time.perf_counter()
    state = read_state(wh)
    report = MigrationReport(str(wh.path), state.canonical, to)
    if to == "spark":
        if state.canonical == "spark":
            if state.copy is None:
                state = StorageState("spark", {}, recorded=True)
            result = sync(wh, state, prefer="spark")
            report.note = (f"already on Spark; DuckDB copy brought up to date ({len(result.to_duckdb)} table(s) "
                           f"from Spark, {len(result.to_parquet)} result table(s) to Spark)")
            _report_spark_tables(wh, report, set(result.to_duckdb) | set(result.to_parquet))
        else:
            _to_spark(wh, report)
    else:
        if state.canonical != "spark":
            with wh.transaction() as con:
                write_state(con, StorageState("duckdb", None, recorded=True))
            report.note = "already in DuckDB; nothing to move"
        else:
            _to_duckdb(wh, state, report)
    report.seconds = time.perf_counter() - started
    return report


def _report_spark_tables(wh: Warehouse, report: MigrationReport, copied: set[str]) -> None:
    root = spark_root(wh)
    for name in list(TABLES) + [n for n in parquet_table_names(root) if n not in TABLES]:
        if wh.has_table(name):
            report.tables.append(MigratedTable(name, "canonical" if name in TABLES else "result", _duck_rows(wh, name),
                                               len(duck_types(wh, name)), "copied" if name in copied else "unchanged"))


def _to_spark(wh: Warehouse, report: MigrationReport) -> None:
    """DuckDB -> Spark: a complete new Parquet folder is staged and verified beside the
    old one, swapped in with one rename, then the record switches in one transaction."""
    root = spark_root(wh)
    staging = root.with_name(f".{root.name}.migrating")
    old = root.with_name(f".{root.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    private_dir(staging)
    token = uuid.uuid4().hex
    copy: dict[str, dict[str, Any]] = {}
    try:
        for name in [*TABLES, *_result_tables(wh)]:
            got = copy_table_to_parquet(wh, name, staging / name)
            report.tables.append(MigratedTable(name, "canonical" if name in TABLES else "result", got.rows,
                                               len(got.columns), "copied"))
            copy[name] = {"sum": got.digest}
        write_private(staging / STAMP, token)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        root.rename(old)
    staging.rename(root)
    try:
        for name in copy:
            copy[name]["files"] = files_fingerprint(root / name)
        with wh.transaction() as con:
            con.execute("DELETE FROM _computed WHERE name = 'spark_storage'")
            con.execute("INSERT INTO _computed VALUES ('spark_storage', 'storage', ?, NULL, ?)", [utcnow(), token])
            write_state(con, StorageState("spark", copy, recorded=True))
    except BaseException:  # the record did not switch: put the old folder back
        root.rename(staging)
        if old.exists():
            old.rename(root)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def copy_table_to_parquet(wh: Warehouse, name: str, folder: Path) -> Checksum:
    """One table of a migration to Spark (a separate function so tests can fail it part-way)."""
    return stage_parquet_copy(wh, name, folder)


def copy_table_to_duckdb(wh: Warehouse, name: str, folder: Path) -> Checksum:
    """One table of a migration to DuckDB (a separate function so tests can fail it part-way)."""
    return load_duckdb_copy(wh, name, folder)


def _to_duckdb(wh: Warehouse, state: StorageState, report: MigrationReport) -> None:
    """Spark -> DuckDB: pending changes on either side are synced first; then every
    Parquet table is copied into the DuckDB file (result tables the file already holds
    are its own) and verified, and the record switches, all in one transaction."""
    if state.copy is not None:
        sync(wh, state)
    root = spark_root(wh)
    with wh.transaction() as con:
        for name in [*TABLES, *[n for n in parquet_table_names(root) if n not in TABLES]]:
            kind = "canonical" if name in TABLES else "result"
            if kind == "result" and wh.has_table(name):
                types = duck_types(wh, name)
                same = checksum(con, quote_identifier(name), types) == parquet_checksum(con, root / name, types)
                report.tables.append(MigratedTable(name, kind, _duck_rows(wh, name), len(types),
                                                   "unchanged" if same else "kept"))
                continue
            got = copy_table_to_duckdb(wh, name, root / name)
            report.tables.append(MigratedTable(name, kind, got.rows, len(got.columns), "copied"))
        write_state(con, StorageState("duckdb", None, recorded=True))
    if any(t.action == "kept" for t in report.tables):
        report.note = ("result tables marked 'kept' differed from their Parquet copy; the DuckDB file's version, "
                       "which serving reads, was kept")
    old = root.with_name(f".{root.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        root.rename(old)
        shutil.rmtree(old, ignore_errors=True)

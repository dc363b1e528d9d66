"""One ingest run: stage files, validate, quarantine, de-duplicate and upsert, all
inside one transaction, with accounting that always adds up::

    read = loaded + updated + quarantined + duplicates

Per natural key, each valid row is compared with the key's previous version (the
row before it in this run, else the warehouse row): no previous version means
*loaded*, identical content means *duplicate*, different content means *updated*
(the last version wins).

Privacy holds by construction: the data flow is sources -> ingest -> privacy ->
warehouse, so before anything is written ingest hands the validated rows to the
privacy stage (:func:`shoplens.privacy.ingest.write_policy`), which applies the shop's
policy (pseudonyms, masking, the vault) on every write path: CLI, Python, REST upload,
Spark. No caller passes it and none can forget it; writing raw personal data takes the
explicit, logged ``privacy="off"``. The import goes one step down the flow (privacy
never imports ingest), and happens at call time so that reading presets or mappings
stays light.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from shoplens.errors import EngineMismatchError, MappingError, StrictModeError, UserInputError
from shoplens.ingest.mapping import Mapping, normalise_name, quote
from shoplens.ingest.sources import StagedFile, stage_file, stage_file_spark
from shoplens.ingest.validate import Plan, plan_table
from shoplens.schema import TABLES, Table, get_table
from shoplens.store.storage import claim, drop_duckdb_copy, keep_duckdb_copy, read_state
from shoplens.store.files import private_dir
from shoplens.store.warehouse import Warehouse, first_row, utcnow

Progress = Callable[[str, float], None]
# Called for each table after validation and before writing, with the connection,
# the canonical table name, the temp table holding its staged rows and the columns
# the source provides. Privacy uses it to mask or pseudonymise before anything lands.
# A hook may also have ``after_write(con, run_id)``, called inside the ingest's
# transaction once rows and quarantine are written (privacy masks the quarantine there).
BeforeWrite = Callable[[duckdb.DuckDBPyConnection, str, str, list[str]], None]


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def adds_up(self) -> bool:
        return self.read == self.loaded + self.updated + self.quarantined + self.duplicates


@dataclass
class IngestResult:
    """What one ingest run did. ``to_dict()`` is the ``--json`` output."""

    table: str
    files: list[str]
    read: int
    loaded: int
    updated: int
    quarantined: int
    duplicates: int
    seconds: float
    derived: dict[str, Counts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_id: str = ""

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("table", "files", "read", "loaded", "updated", "quarantined", "duplicates")}
        out["seconds"] = round(self.seconds, 3)
        if self.derived:
            out["derived"] = {t: asdict(c) for t, c in self.derived.items()}
        out["run_id"] = self.run_id
        return out


def resolve_mapping(table: str | None, mapping: str | Path | Mapping | None, preset: str | None) -> Mapping:
    if preset and mapping:
        raise MappingError("give either --preset or --mapping, not both")
    if preset:
        m = Mapping.preset(preset)
    elif isinstance(mapping, Mapping):
        m = mapping
    elif mapping:
        m = Mapping.from_file(mapping)
    elif table:
        return Mapping.identity(table)
    else:
        raise MappingError("say which table to load (shoplens ingest TABLE FILE...) or give --preset / --mapping")
    if table:
        get_table(table)
        if table not in m.tables:
            raise MappingError(f"the mapping {m.name!r} does not produce table {table!r} (it produces {', '.join(m.tables)})")
    return m


def ingest(
    warehouse: Warehouse,
    files: Sequence[str | Path],
    *,
    table: str | None = None,
    mapping: str | Path | Mapping | None = None,
    preset: str | None = None,
    strict: bool = False,
    encoding: str | None = None,
    max_future_days: int = 1,
    progress: Progress | None = None,
    before_write: Sequence[BeforeWrite] = (),
    mirror: bool = True,
    settings: Any = None,
    privacy: Literal["on", "off"] = "on",
) -> IngestResult:
    """Load ``files`` into the warehouse, the shop's privacy policy applied before anything lands.

    ``settings`` (:class:`shoplens.config.Settings`) gives the policy and the shop secret;
    when None they come from the environment and shoplens.toml, as for the CLI.
    ``privacy="off"`` writes personal data as it came: refused on a pseudonymised
    warehouse, recorded in ``_privacy_optouts`` and announced on stderr.
    ``before_write``: further hooks (run after the privacy stage).

    On a warehouse opened with ``engine="spark"`` the same SQL runs on Spark and the
    tables are Parquet; ``mirror`` then keeps a complete, verified copy of every
    canonical table in the DuckDB file for the steps that run on DuckDB only
    (``mirror=False``: no copy is kept, and a DuckDB open of the warehouse refuses).
    The first ingest records which engine holds the warehouse's tables; an ingest on
    the other engine refuses (see :mod:`shoplens.store.storage`).

    >>> # ingest(wh, ["orders.csv"], table="orders").to_dict()  # customer ids stored as pseudonyms
    """
    if not files:
        raise MappingError("no input files given")
    m = resolve_mapping(table, mapping, preset)
    paths = [Path(f) for f in files]
    if privacy not in ("on", "off"):
        raise UserInputError(f"privacy must be 'on' or 'off', not {privacy!r}")
    _check_engine(warehouse)
    if getattr(warehouse, "engine_name", "duckdb") == "spark":
        return _ingest_spark(warehouse, m, paths, strict=strict, encoding=encoding, max_future_days=max_future_days,
                             step=progress or (lambda msg, frac: None), before_write=before_write, mirror=mirror,
                             settings=settings, privacy=privacy)
    started = time.perf_counter()
    step = progress or (lambda msg, frac: None)
    con = warehouse.con
    private_dir(warehouse.tmp_dir)
    run_id = uuid.uuid4().hex[:12]
    try:
        # Staging only creates connection-local temp tables, outside the transaction
        # so that their row ids (the source line numbers) start at 0.
        staged: list[StagedFile] = []
        for i, path in enumerate(paths):
            step(f"reading {path.name}", i / max(len(paths), 1) * 0.5)
            staged.append(
                stage_file(con, path, i, fmt=m.source.format, encoding=encoding or m.source.encoding,
                           delimiter=m.source.delimiter, tmp_dir=warehouse.tmp_dir,
                           numeric_columns=lambda header: _numeric_columns(m, header))
            )
        hooks = privacy_stage(warehouse, settings, privacy, before_write)  # once the files could be read
        with warehouse.transaction():
            result = _run(con, m, staged, run_id, strict, max_future_days, step, hooks)
            claim(con, warehouse, "duckdb")
    finally:
        _cleanup(con, warehouse.tmp_dir)
    result.seconds = time.perf_counter() - started
    con.execute(
        "UPDATE _ingest_runs SET seconds = ? WHERE run_id = ?", [result.seconds, run_id]
    )
    return result


def privacy_stage(warehouse: Warehouse, settings: Any, privacy: str,
                  hooks: Sequence[BeforeWrite] = ()) -> list[BeforeWrite]:
    """The hooks of one ingest: the privacy stage first, then ``hooks``.

    A caller that still passes the policy hook itself (marked ``privacy_policy``) gets it
    applied once, not twice.
    """
    if privacy not in ("on", "off"):
        raise UserInputError(f"privacy must be 'on' or 'off', not {privacy!r}")
    given = list(hooks)
    if any(getattr(h, "privacy_policy", False) for h in given):
        if privacy == "off":
            raise UserInputError("privacy='off' contradicts the privacy hook passed in before_write; drop one")
        return given
    from shoplens.privacy.ingest import write_policy  # the next stage of the flow (see the module doc)

    return [*write_policy(warehouse, settings, privacy), *given]  # type: ignore[arg-type]


def _after_write(hooks: Sequence[BeforeWrite], con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    for hook in hooks:  # raw source rows in the quarantine may hold PII: the privacy stage masks them
        step = getattr(hook, "after_write", None) or getattr(hook, "mask_quarantine", None)
        if step is not None:
            step(con, run_id)


def _check_engine(warehouse: Warehouse) -> None:
    """An ingest writes where the warehouse keeps its tables, never a partial copy elsewhere."""
    engine = getattr(warehouse, "engine_name", "duckdb")
    held = read_state(warehouse).canonical
    if held is None or held == engine:
        return
    where = f"--warehouse {warehouse.path}"
    if held == "spark":
        raise EngineMismatchError(
            f"{warehouse.path}: this warehouse keeps its tables on Spark; ingest with --engine spark, "
            f"or move them to DuckDB first with `shoplens {where} migrate --to duckdb`")
    raise EngineMismatchError(
        f"{warehouse.path}: this warehouse keeps its tables in DuckDB; ingest with --engine duckdb, "
        f"or move them to Spark first with `shoplens {where} migrate --to spark`")


def _numeric_columns(m: Mapping, header: list[str]) -> list[str]:
    """Source columns that feed a numeric canonical column directly (read typed)."""
    if len(m.tables) != 1:
        return []
    table = TABLES[m.primary]
    specs = m.tables[m.primary]
    by_norm = {normalise_name(c): c for c in header}
    out = []
    for col in table.columns:
        if col.type in ("DOUBLE", "INTEGER", "BIGINT") and col.name not in specs and col.name in by_norm:
            out.append(by_norm[col.name])
    return out


def _cleanup(con: duckdb.DuckDBPyConnection, tmp_dir: Path) -> None:
    try:
        con.execute("SET TimeZone = 'UTC'")
        for (name, kind) in con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
        ).fetchall():
            con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{quote(name)}")
    except duckdb.Error:
        pass
    for p in tmp_dir.glob("__stage_*"):
        p.unlink(missing_ok=True)


def _run(
    con: duckdb.DuckDBPyConnection,
    m: Mapping,
    staged: list[StagedFile],
    run_id: str,
    strict: bool,
    max_future_days: int,
    step: Progress,
    before_write: Sequence[BeforeWrite] = (),
) -> IngestResult:
    paths = [s.path for s in staged]
    step("validating", 0.55)
    columns: list[str] = []
    for s in staged:
        columns += [c for c in s.columns if c not in columns]
    con.execute(
        "CREATE OR REPLACE TEMP VIEW __src AS "
        + " UNION ALL BY NAME ".join(f"SELECT * FROM {s.view}" for s in staged)
    )
    files_label = ", ".join(str(p) for p in paths)
    src_types = {name: typ for name, typ, *_ in con.execute("DESCRIBE __src").fetchall()}
    by_norm = {normalise_name(c): c for c in columns}
    direct_types = {
        c.name: src_types[by_norm[c.name]]
        for c in TABLES[m.primary].columns
        if c.name not in m.tables[m.primary] and c.name in by_norm
    }
    con.execute(f"SET TimeZone = '{m.source.timezone}'")
    primary = m.primary
    plans = _validate_all(
        m, columns, files_label, max_future_days, direct_types,
        materialise=lambda name, sql: _materialise(con, name, sql),
        make_view=lambda name, sql: con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}"),
    )
    con.execute("SET TimeZone = 'UTC'")

    order = m.derived + [primary]
    # hooks (privacy) run before reference checks: pseudonymised ids must meet pseudonymised parents
    for hook in before_write:
        for tname in order:
            hook(con, tname, f"__t_{tname}", list(plans[tname].provided))
    for tname in order:
        _check_references(con, plans[tname], set(plans))

    step("writing", 0.8)
    counts: dict[str, Counts] = {}
    for tname in order:
        counts[tname] = _upsert(con, plans[tname])
    rejects = sum(len(s.rejects) for s in staged)
    counts[primary].read += rejects
    counts[primary].quarantined += rejects

    now = utcnow()
    # a file ingested again replaces its earlier quarantine entries (fixed rows leave quarantine)
    con.execute(
        "DELETE FROM _quarantine WHERE table_name IN (SELECT unnest(?)) AND file IN (SELECT unnest(?))",
        [order, [str(p) for p in paths]],
    )
    for tname in order:
        con.execute(
            f"INSERT INTO _quarantine SELECT ?, ?, t.__file, t.__line, t.__column, t.__reason, "
            f"to_json(s)::VARCHAR, ? FROM __t_{tname} t LEFT JOIN __src s USING (__seq) WHERE t.__reason IS NOT NULL",
            [run_id, tname, now],
        )
    for s in staged:
        for line, col, reason in s.rejects:
            con.execute("INSERT INTO _quarantine VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                        [run_id, primary, str(s.path), line, col, reason, now])
    _after_write(before_write, con, run_id)
    for tname in order:
        c = counts[tname]
        if not c.adds_up():  # an internal invariant, never a user error
            raise AssertionError(f"ingest accounting does not add up for {tname}: {c}")
        con.execute(
            "INSERT INTO _ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [run_id, tname, files_label, now, utcnow(), c.read, c.loaded, c.updated, c.quarantined, c.duplicates],
        )
    total_bad = sum(c.quarantined for c in counts.values())
    if strict and total_bad:
        first = con.execute(
            "SELECT file, line, \"column\", reason FROM _quarantine WHERE run_id = ? ORDER BY table_name, line LIMIT 3",
            [run_id],
        ).fetchall()
        shown = "; ".join(f"{f}, line {ln}, column {c}: {r}" for f, ln, c, r in first)
        raise StrictModeError(
            f"--strict: {total_bad} bad row(s), nothing was loaded. First: {shown}. "
            "Fix the rows or run without --strict to quarantine them"
        )
    p = counts[primary]
    notes = [n for s in staged for n in s.notes]
    used = " ".join(plan.raw_select for plan in plans.values())
    unused = [c for c in columns if quote(c) not in used and not re.search(r"\b" + re.escape(c) + r"\b", used)]
    if unused:
        notes.append("columns not used: " + ", ".join(unused[:12]) + (" ..." if len(unused) > 12 else ""))
    step("done", 1.0)
    return IngestResult(
        table=primary, files=[str(x) for x in paths], read=p.read, loaded=p.loaded, updated=p.updated,
        quarantined=p.quarantined, duplicates=p.duplicates, seconds=0.0,
        derived={t: counts[t] for t in m.derived}, notes=notes, run_id=run_id,
    )


def source_ok_sql(primary: str) -> str:
    """Source rows that passed the primary table's row checks (what derived tables see)."""
    return (f"SELECT s.* FROM __src s "
            f"SEMI JOIN (SELECT __seq FROM __t_{primary} WHERE __reason IS NULL) ok USING (__seq)")


def _validate_all(
    m: Mapping,
    columns: list[str],
    files_label: str,
    max_future_days: int,
    source_types: dict[str, str] | None,
    *,
    materialise: Callable[[str, str], None],
    make_view: Callable[[str, str], Any],
) -> dict[str, Plan]:
    """Plan and materialise the validated rows of every table of the mapping as
    ``__t_<table>``, on whichever engine ``materialise``/``make_view`` run."""
    primary = m.primary
    plans = {primary: plan_table(
        TABLES[primary], m.tables[primary], columns, m.source, source_view="__src", files=files_label,
        grouped=False, max_future_days=max_future_days, source_types=source_types,
    )}
    materialise("__t_" + primary, plans[primary].validated_sql)
    # derived tables see only source rows that passed the primary's row checks
    make_view("__src_ok", source_ok_sql(primary))
    for tname in m.derived:
        plans[tname] = plan_table(
            TABLES[tname], m.tables[tname], columns, m.source, source_view="__src_ok", files=files_label,
            grouped=True, max_future_days=max_future_days,
        )
        materialise("__t_" + tname, plans[tname].validated_sql)
    return plans


def _materialise(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise MappingError(f"the mapping's expressions do not fit the file: {first}") from None


def _key_match(a: str, b: str, keys: Sequence[str]) -> str:
    return " AND ".join(f"{a}.{quote(k)} IS NOT DISTINCT FROM {b}.{quote(k)}" for k in keys)


def _parent_rows(con: duckdb.DuckDBPyConnection, parent: str) -> int:
    return con.execute(f"SELECT count(*) FROM {parent}").fetchall()[0][0]


def bad_references_sql(plan: Plan, ref: Any, staged_parent: bool) -> str:
    """SELECT (__seq, reason) of valid staged rows whose ``ref`` column names no parent."""
    t = plan.table
    parents = f"SELECT {quote(ref.parent_column)} AS k FROM {ref.parent}"
    if staged_parent:
        parents += f" UNION ALL SELECT {quote(ref.parent_column)} FROM __t_{ref.parent} WHERE __reason IS NULL"
    why_missing = f"'{ref.column} ''' || t.{quote(ref.column)} || ''' not found in {ref.parent}'"
    if staged_parent:
        why_missing = (
            f"COALESCE('{ref.column} ''' || t.{quote(ref.column)} || ''' was quarantined in {ref.parent}: ' || q.__reason, "
            f"{why_missing})"
        )
        qjoin = (f"LEFT JOIN (SELECT {quote(ref.parent_column)} AS k, any_value(__reason) AS __reason FROM __t_{ref.parent} "
                 f"WHERE __reason IS NOT NULL GROUP BY 1) q ON q.k = t.{quote(ref.column)}")
    else:
        qjoin = ""
    return (
        f"SELECT t.__seq, {why_missing} AS reason FROM __t_{t.name} t "
        f"{qjoin} WHERE t.__reason IS NULL AND t.{quote(ref.column)} IS NOT NULL "
        f"AND t.{quote(ref.column)} NOT IN (SELECT k FROM ({parents}) WHERE k IS NOT NULL)"
    )


def references_to_check(plan: Plan, staged_tables: set[str], parent_rows: Callable[[str], int]) -> list[tuple[Any, bool]]:
    """(reference, parent staged in this run) pairs that must be checked."""
    out = []
    for ref in plan.table.references:
        if ref.column not in plan.provided:
            continue
        staged_parent = ref.parent in staged_tables
        if ref.when_loaded and not staged_parent and not parent_rows(ref.parent):
            continue
        out.append((ref, staged_parent))
    return out


def _check_references(con: duckdb.DuckDBPyConnection, plan: Plan, staged_tables: set[str]) -> None:
    t = plan.table
    for ref, staged_parent in references_to_check(plan, staged_tables, lambda p: _parent_rows(con, p)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS {bad_references_sql(plan, ref, staged_parent)}")
        con.execute(
            f"UPDATE __t_{t.name} SET __reason = b.reason, __column = '{ref.column}' "
            f"FROM __bad b WHERE __t_{t.name}.__seq = b.__seq"
        )


def line_numbers_sql(cols: Sequence[str], valid: str) -> str:
    """Orders whose source has no line numbers: drop exact repeats of a line within an
    order, then number the lines of each order in file order."""
    part = ", ".join(quote(c) for c in cols)
    keep = ", ".join([quote(c) for c in cols] + ["__file", "__line", "__seq", "__column", "__reason"])
    return (
        f"SELECT {keep}, row_number() OVER (PARTITION BY order_id ORDER BY __seq) AS line_number FROM "
        f"(SELECT *, row_number() OVER (PARTITION BY {part} ORDER BY __seq) AS __n FROM {valid}) WHERE __n = 1"
    )


def repeated_keys_sql(keys: Sequence[str], valid: str) -> str:
    """Keys that occur more than once among this run's valid rows."""
    qkeys = ", ".join(quote(k) for k in keys)
    return f"SELECT {qkeys} FROM {valid} GROUP BY {qkeys} HAVING count(*) > 1"


def classify_sql(name: str, keys: Sequence[str], cols: Sequence[str], valid: str, target_empty: bool) -> str:
    """Each valid row with its status: loaded (new key), duplicate (same content as the
    key's previous version) or updated. Reads ``__dk`` (the run's repeated keys)."""
    qkeys = ", ".join(quote(k) for k in keys)
    h = f"hash({', '.join(quote(c) for c in cols)})"
    in_dk = f"EXISTS (SELECT 1 FROM __dk d WHERE {_key_match('d', 'v', keys)})"
    # previous version of each row: the row before it with the same key, else the warehouse row
    existing = (
        f"SELECT {qkeys}, {h} AS __eh FROM {name}" if not target_empty
        else f"SELECT {qkeys}, NULL::UBIGINT AS __eh FROM {name} WHERE FALSE"
    )
    # both branches list the same columns in the same order: plain UNION ALL
    return (
        f"WITH s AS (SELECT v.*, {h} AS __h, NULL::UBIGINT AS __prev, TRUE AS __last FROM {valid} v WHERE NOT {in_dk} "
        f"  UNION ALL "
        f"  SELECT v.*, {h} AS __h, lag({h}) OVER (PARTITION BY {qkeys} ORDER BY __seq) AS __prev, "
        f"  row_number() OVER (PARTITION BY {qkeys} ORDER BY __seq DESC) = 1 AS __last FROM {valid} v WHERE {in_dk}), "
        f"e AS ({existing}) "
        f"SELECT s.*, e.__eh, CASE "
        f"  WHEN s.__prev IS NULL AND e.__eh IS NULL THEN 'loaded' "
        f"  WHEN COALESCE(s.__prev, e.__eh) = s.__h THEN 'duplicate' ELSE 'updated' END AS __status "
        f"FROM s LEFT JOIN e ON {_key_match('s', 'e', keys)}"
    )


STATUS_COUNTS_SQL = (
    "SELECT count(*) FILTER (WHERE __status='loaded'), count(*) FILTER (WHERE __status='updated'), "
    "count(*) FILTER (WHERE __status='duplicate') FROM __s"
)


def changed_rows_sql(t: Table, cols: Sequence[str]) -> str:
    """The final version of each key whose content changed (from ``__s``); columns this
    source does not provide keep their warehouse values."""
    select = ", ".join(
        f"n.{quote(c)}" if c in cols else f"CAST(e.{quote(c)} AS {t.column(c).type}) AS {quote(c)}" for c in t.column_names
    )
    return (
        f"SELECT {select}, n.__eh IS NOT NULL AS __existed FROM "
        f"(SELECT * FROM __s WHERE __last AND (__eh IS NULL OR __eh <> __h)) n "
        f"LEFT JOIN {t.name} e ON {_key_match('n', 'e', t.key)}"
    )


def with_missing_keys(t: Table, valid: str, cols: list[str]) -> tuple[str, list[str]]:
    """Key parts the source lacks are NULL (e.g. events without sessions)."""
    missing_keys = [k for k in t.key if k not in cols]
    if not missing_keys:
        return valid, cols
    nulls = ", ".join(f"CAST(NULL AS {t.column(k).type}) AS {quote(k)}" for k in missing_keys)
    return f"(SELECT *, {nulls} FROM {valid})", cols + missing_keys


def _upsert(con: duckdb.DuckDBPyConnection, plan: Plan) -> Counts:
    """Classify each valid staged row (loaded / updated / duplicate) and write the last
    version of every changed key.

    Most keys occur once per run: those are classified with one hash join against the
    warehouse; only keys repeated within the run go through a window (file order).
    """
    t: Table = plan.table
    name = t.name
    staged = f"__t_{name}"
    cols = list(plan.provided)
    keys = list(t.key)
    counts = Counts()
    counts.read, counts.quarantined = first_row(con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE __reason IS NOT NULL) FROM {staged}"
    ))  # type: ignore[misc]
    valid = f"(SELECT * FROM {staged} WHERE __reason IS NULL)"
    extra_dups = 0
    if plan.generated:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __v AS {line_numbers_sql(cols, valid)}")
        extra_dups = counts.read - counts.quarantined - con.execute("SELECT count(*) FROM __v").fetchall()[0][0]
        cols = cols + plan.generated
        valid = "__v"
    valid, cols = with_missing_keys(t, valid, cols)
    all_cols = t.column_names
    insert_cols = ", ".join(quote(c) for c in all_cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __dk AS {repeated_keys_sql(keys, valid)}")
    repeated = con.execute("SELECT count(*) FROM __dk").fetchall()[0][0]
    target_empty = con.execute(f"SELECT count(*) = 0 FROM (SELECT 1 FROM {name} LIMIT 1)").fetchall()[0][0]
    if target_empty and not repeated:
        # fast path (first load): every valid row is new
        select = ", ".join(quote(c) if c in cols else f"NULL AS {quote(c)}" for c in all_cols)
        con.execute(f"INSERT INTO {name} ({insert_cols}) SELECT {select} FROM {valid}")
        counts.loaded = counts.read - counts.quarantined - extra_dups
        counts.duplicates = extra_dups
        return counts
    con.execute(f"CREATE OR REPLACE TEMP TABLE __s AS {classify_sql(name, keys, cols, valid, bool(target_empty))}")
    loaded, updated, dups = first_row(con.execute(STATUS_COUNTS_SQL))  # type: ignore[misc]
    counts.loaded, counts.updated, counts.duplicates = loaded, updated, dups + extra_dups
    con.execute(f"CREATE OR REPLACE TEMP TABLE __w AS {changed_rows_sql(t, cols)}")
    if con.execute("SELECT count(*) FILTER (WHERE __existed) FROM __w").fetchall()[0][0]:
        con.execute(
            f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM __w WHERE __w.__existed AND {_key_match('__w', name, keys)})"
        )
    con.execute(f"INSERT INTO {name} ({insert_cols}) SELECT {insert_cols} FROM __w")
    return counts


# ----------------------------------------------------------------------------------
# The same ingest on Spark: the SQL above (plan_table's validation, reference checks,
# classification) transpiled by the engine; only storage differs (Parquet tables are
# replaced as a whole instead of UPDATE/DELETE/INSERT).
# ----------------------------------------------------------------------------------


def _ingest_spark(
    warehouse: Warehouse, m: Mapping, paths: list[Path], *, strict: bool, encoding: str | None,
    max_future_days: int, step: Progress, before_write: Sequence[BeforeWrite], mirror: bool,
    settings: Any = None, privacy: str = "on",
) -> IngestResult:
    eng = warehouse.engine
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    private_dir(warehouse.tmp_dir)
    try:
        frames, staged = [], []
        for i, path in enumerate(paths):
            step(f"reading {path.name}", i / max(len(paths), 1) * 0.4)
            frame, s = stage_file_spark(eng, path, i, fmt=m.source.format, encoding=encoding or m.source.encoding,
                                        delimiter=m.source.delimiter, tmp_dir=warehouse.tmp_dir,
                                        numeric_columns=lambda header: _numeric_columns(m, header))
            frames.append(frame)
            staged.append(s)
        union = frames[0]
        for f in frames[1:]:
            union = union.unionByName(f, allowMissingColumns=True)
        eng.save_temp("__src", union)
        before_write = privacy_stage(warehouse, settings, privacy, before_write)
        result = _run_spark(warehouse, eng, m, staged, run_id, strict, max_future_days, step, before_write, mirror)
        if mirror:  # every canonical table, verified, in one DuckDB transaction
            step("copying to the DuckDB file", 0.95)
            keep_duckdb_copy(warehouse)
    except BaseException:
        eng.discard_staged()
        raise
    finally:
        if eng.started:
            eng.set_time_zone("UTC")
            eng.drop_temp()
        for p in warehouse.tmp_dir.glob("__stage_*"):
            p.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    warehouse.con.execute("UPDATE _ingest_runs SET seconds = ? WHERE run_id = ?", [result.seconds, run_id])
    return result


def _materialise_spark(eng: Any, name: str, sql: str) -> None:
    try:
        eng.materialise(name, sql)
    except Exception as exc:  # AnalysisException and friends: the mapping's SQL does not fit
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            first = str(exc).splitlines()[0]
            raise MappingError(f"the mapping's expressions do not fit the file (on Spark): {first}") from None
        raise


def _hooks_through_duckdb(warehouse: Warehouse, eng: Any, tname: str, provided: list[str],
                          hooks: Sequence[BeforeWrite]) -> None:
    """Run the privacy hooks (written against DuckDB) on a staged Spark table: the rows
    go through the DuckDB connection on the driver and come back. Exact, but bounded by
    the driver's memory; a Spark-SQL version of the hooks is the way to scale this."""
    con = warehouse.con
    staged = f"__t_{tname}"
    arrow = eng.spark.table(staged).toArrow() if hasattr(eng.spark.table(staged), "toArrow") else None
    frame = arrow if arrow is not None else eng.spark.table(staged).toPandas()
    con.register("__hook_in", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM __hook_in")
    con.unregister("__hook_in")
    for hook in hooks:
        hook(con, tname, staged, list(provided))
    back = con.execute(f"SELECT * FROM {staged}").df()
    con.execute(f"DROP TABLE IF EXISTS {staged}")
    schema = eng.spark.table(staged).schema
    eng.save_temp(staged, eng.spark.createDataFrame(back, schema=schema))


def _run_spark(
    warehouse: Warehouse, eng: Any, m: Mapping, staged: list[StagedFile], run_id: str, strict: bool,
    max_future_days: int, step: Progress, before_write: Sequence[BeforeWrite], mirror: bool = True,
) -> IngestResult:
    con = warehouse.con
    paths = [s.path for s in staged]
    step("validating", 0.45)
    columns: list[str] = []
    for s in staged:
        columns += [c for c in s.columns if c not in columns]
    files_label = ", ".join(str(p) for p in paths)
    primary = m.primary
    # naive source timestamps are read in the source's zone (Spark resolves the zone
    # when a query is analysed, so each validated table is materialised before resetting)
    eng.set_time_zone(m.source.timezone)
    plans = _validate_all(
        m, columns, files_label, max_future_days, None,
        materialise=lambda name, sql: _materialise_spark(eng, name, sql),
        make_view=eng.create_view,
    )
    eng.set_time_zone("UTC")

    order = m.derived + [primary]
    if before_write:
        for tname in order:
            _hooks_through_duckdb(warehouse, eng, tname, plans[tname].provided, before_write)
    for tname in order:
        plan = plans[tname]
        for ref, staged_parent in references_to_check(plan, set(plans), lambda p: int(eng.has_rows(p))):
            eng.materialise("__bad", bad_references_sql(plan, ref, staged_parent))
            keep = ", ".join(f"t.{quote(c)}" for c in plan.provided) + ", t.__file, t.__line, t.__seq"
            eng.materialise(
                f"__t_{tname}_checked",
                f"SELECT {keep}, CASE WHEN b.__seq IS NOT NULL THEN '{ref.column}' ELSE t.__column END AS __column, "
                f"COALESCE(b.reason, t.__reason) AS __reason FROM __t_{tname} t LEFT JOIN __bad b ON t.__seq = b.__seq",
            )
            eng.spark.table(f"__t_{tname}_checked").createOrReplaceTempView(f"__t_{tname}")

    step("writing", 0.7)
    counts: dict[str, Counts] = {}
    for tname in order:
        counts[tname] = _upsert_spark(eng, plans[tname])
    rejects = sum(len(s.rejects) for s in staged)
    counts[primary].read += rejects
    counts[primary].quarantined += rejects

    now = utcnow()
    quarantine = []
    from pyspark.sql.functions import broadcast

    for tname in order:
        if not counts[tname].quarantined:
            continue
        q = eng.frame(
            f"SELECT t.__file AS file, t.__line AS line, t.__column AS \"column\", t.__reason AS reason, t.__seq "
            f"FROM __t_{tname} t WHERE t.__reason IS NOT NULL"
        )
        raw = eng.spark.table("__src").selectExpr("__seq", "to_json(struct(*)) AS raw")
        # the quarantined rows are few: ship them to the source rows, never the other way
        qdf = raw.join(broadcast(q), "__seq", "inner").select("file", "line", "column", "reason", "raw").toPandas()
        qdf.insert(0, "table_name", tname)
        qdf.insert(0, "run_id", run_id)
        qdf["quarantined_at"] = now
        quarantine.append(qdf)
    for s in staged:
        for line, col, reason in s.rejects:
            quarantine.append(pd.DataFrame([{"run_id": run_id, "table_name": primary, "file": str(s.path), "line": line,
                                             "column": col, "reason": reason, "raw": None, "quarantined_at": now}]))
    total_bad = sum(c.quarantined for c in counts.values())
    for tname in order:
        c = counts[tname]
        if not c.adds_up():  # an internal invariant, never a user error
            raise AssertionError(f"ingest accounting does not add up for {tname}: {c}")
    with warehouse.transaction():
        con.execute(
            "DELETE FROM _quarantine WHERE table_name IN (SELECT unnest(?)) AND file IN (SELECT unnest(?))",
            [order, [str(p) for p in paths]],
        )
        if quarantine:
            qall = pd.concat([q for q in quarantine if len(q)] or quarantine[:1], ignore_index=True)
            con.register("__q", qall)
            con.execute("INSERT INTO _quarantine SELECT run_id, table_name, file, line, \"column\", reason, raw, "
                        "quarantined_at FROM __q")
            con.unregister("__q")
        _after_write(before_write, con, run_id)
        for tname in order:
            c = counts[tname]
            con.execute(
                "INSERT INTO _ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [run_id, tname, files_label, now, utcnow(), c.read, c.loaded, c.updated, c.quarantined, c.duplicates],
            )
        if strict and total_bad:
            first = con.execute(
                "SELECT file, line, \"column\", reason FROM _quarantine WHERE run_id = ? ORDER BY table_name, line LIMIT 3",
                [run_id],
            ).fetchall()
            shown = "; ".join(f"{f}, line {ln}, column {c}: {r}" for f, ln, c, r in first)
            raise StrictModeError(
                f"--strict: {total_bad} bad row(s), nothing was loaded. First: {shown}. "
                "Fix the rows or run without --strict to quarantine them"
            )
        state = claim(con, warehouse, "spark", keep_copy=mirror)
        if not mirror and state.copy is not None:
            drop_duckdb_copy(con)  # the copy would be stale: it must not read as data
        # every table's next version is written; swapping them in is a rename each
        for tname in order:
            eng.publish(tname)
    p = counts[primary]
    notes = [n for s in staged for n in s.notes]
    step("done", 1.0)
    return IngestResult(
        table=primary, files=[str(x) for x in paths], read=p.read, loaded=p.loaded, updated=p.updated,
        quarantined=p.quarantined, duplicates=p.duplicates, seconds=0.0,
        derived={t: counts[t] for t in m.derived}, notes=notes, run_id=run_id,
    )


def _upsert_spark(eng: Any, plan: Plan) -> Counts:
    """:func:`_upsert` on Spark: the same classification SQL; the table's next version
    is (unchanged warehouse rows) + (final version of changed keys), staged as Parquet."""
    t: Table = plan.table
    name = t.name
    cols = list(plan.provided)
    keys = list(t.key)
    counts = Counts()
    row = eng.query(f"SELECT count(*) AS n, count(*) FILTER (WHERE __reason IS NOT NULL) AS bad FROM __t_{name}").iloc[0]
    counts.read, counts.quarantined = int(row["n"]), int(row["bad"])
    valid = f"(SELECT * FROM __t_{name} WHERE __reason IS NULL)"
    extra_dups = 0
    if plan.generated:
        eng.materialise("__v", line_numbers_sql(cols, valid))
        extra_dups = counts.read - counts.quarantined - eng.count("SELECT * FROM __v")
        cols = cols + plan.generated
        valid = "__v"
    valid, cols = with_missing_keys(t, valid, cols)
    target_empty = not eng.has_rows(name)
    eng.materialise("__dk", repeated_keys_sql(keys, valid))
    repeated = eng.count("SELECT * FROM __dk")
    all_cols = t.column_names
    if target_empty and not repeated:
        select = ", ".join(quote(c) if c in cols else f"CAST(NULL AS {t.column(c).type}) AS {quote(c)}" for c in all_cols)
        eng.stage_table(name, eng.frame(f"SELECT {select} FROM {valid}"))
        counts.loaded = counts.read - counts.quarantined - extra_dups
        counts.duplicates = extra_dups
        return counts
    eng.materialise("__s", classify_sql(name, keys, cols, valid, target_empty))
    loaded, updated, dups = (int(x) for x in eng.query(STATUS_COUNTS_SQL).iloc[0])
    counts.loaded, counts.updated, counts.duplicates = loaded, updated, dups + extra_dups
    eng.materialise("__w", changed_rows_sql(t, cols))
    qcols = ", ".join(quote(c) for c in all_cols)
    eng.stage_table(name, eng.frame(
        f"SELECT {qcols} FROM {name} WHERE NOT EXISTS (SELECT 1 FROM __w WHERE __w.__existed AND {_key_match('__w', name, keys)}) "
        f"UNION ALL SELECT {qcols} FROM __w"
    ))
    return counts

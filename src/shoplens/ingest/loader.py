"""One ingest run: stage files, validate, quarantine, de-duplicate and upsert, all
inside one transaction, with accounting that always adds up::

    read = loaded + updated + quarantined + duplicates

Per natural key, each valid row is compared with the key's previous version (the
row before it in this run, else the warehouse row): no previous version means
*loaded*, identical content means *duplicate*, different content means *updated*
(the last version wins).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from shoplens.errors import MappingError, StrictModeError
from shoplens.ingest.mapping import Mapping, normalise_name, quote
from shoplens.ingest.sources import StagedFile, stage_file
from shoplens.ingest.validate import Plan, plan_table
from shoplens.schema import TABLES, Table, get_table
from shoplens.store.warehouse import Warehouse, utcnow

Progress = Callable[[str, float], None]
# Called for each table after validation and before writing, with the connection,
# the canonical table name, the temp table holding its staged rows and the columns
# the source provides. Privacy uses it to mask or pseudonymise before anything lands.
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
) -> IngestResult:
    """Load ``files`` into the warehouse.

    >>> # ingest(wh, ["orders.csv"], table="orders")  # doctest: +SKIP
    """
    if not files:
        raise MappingError("no input files given")
    m = resolve_mapping(table, mapping, preset)
    paths = [Path(f) for f in files]
    started = time.perf_counter()
    step = progress or (lambda msg, frac: None)
    con = warehouse.con
    warehouse.tmp_dir.mkdir(parents=True, exist_ok=True)
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
        with warehouse.transaction():
            result = _run(con, m, staged, run_id, strict, max_future_days, step, before_write)
    finally:
        _cleanup(con, warehouse.tmp_dir)
    result.seconds = time.perf_counter() - started
    con.execute(
        "UPDATE _ingest_runs SET seconds = ? WHERE run_id = ?", [result.seconds, run_id]
    )
    return result


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
    plans: dict[str, Plan] = {}
    primary = m.primary
    plans[primary] = plan_table(
        TABLES[primary], m.tables[primary], columns, m.source, source_view="__src", files=files_label,
        grouped=False, max_future_days=max_future_days, source_types=direct_types,
    )
    _materialise(con, "__t_" + primary, plans[primary].validated_sql)
    # derived tables see only source rows that passed the primary's row checks
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW __src_ok AS SELECT s.* FROM __src s "
        f"SEMI JOIN (SELECT __seq FROM __t_{primary} WHERE __reason IS NULL) ok USING (__seq)"
    )
    for tname in m.derived:
        plans[tname] = plan_table(
            TABLES[tname], m.tables[tname], columns, m.source, source_view="__src_ok", files=files_label,
            grouped=True, max_future_days=max_future_days,
        )
        _materialise(con, "__t_" + tname, plans[tname].validated_sql)
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
    for hook in before_write:  # raw source rows may hold PII: hooks that can mask them do
        mask_quarantine = getattr(hook, "mask_quarantine", None)
        if mask_quarantine is not None:
            mask_quarantine(con, run_id)
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


def _materialise(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise MappingError(f"the mapping's expressions do not fit the file: {first}") from None


def _key_match(a: str, b: str, keys: Sequence[str]) -> str:
    return " AND ".join(f"{a}.{quote(k)} IS NOT DISTINCT FROM {b}.{quote(k)}" for k in keys)


def _check_references(con: duckdb.DuckDBPyConnection, plan: Plan, staged_tables: set[str]) -> None:
    t = plan.table
    for ref in t.references:
        if ref.column not in plan.provided:
            continue
        parent_rows = con.execute(f"SELECT count(*) FROM {ref.parent}").fetchone()[0]  # type: ignore[index]
        staged_parent = ref.parent in staged_tables
        if ref.when_loaded and not parent_rows and not staged_parent:
            continue
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
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __bad AS SELECT t.__seq, {why_missing} AS reason FROM __t_{t.name} t "
            f"{qjoin} WHERE t.__reason IS NULL AND t.{quote(ref.column)} IS NOT NULL "
            f"AND t.{quote(ref.column)} NOT IN (SELECT k FROM ({parents}) WHERE k IS NOT NULL)"
        )
        con.execute(
            f"UPDATE __t_{t.name} SET __reason = b.reason, __column = '{ref.column}' "
            f"FROM __bad b WHERE __t_{t.name}.__seq = b.__seq"
        )


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
    counts = Counts()
    counts.read, counts.quarantined = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE __reason IS NOT NULL) FROM {staged}"
    ).fetchone()  # type: ignore[misc]
    valid = f"(SELECT * FROM {staged} WHERE __reason IS NULL)"
    extra_dups = 0
    if plan.generated:
        # No line numbers in the source: drop exact repeats of a line within an order,
        # then number the lines of each order in file order.
        part = ", ".join(quote(c) for c in cols)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __v AS SELECT * EXCLUDE (__n), "
            f"row_number() OVER (PARTITION BY order_id ORDER BY __seq) AS line_number FROM "
            f"(SELECT *, row_number() OVER (PARTITION BY {part} ORDER BY __seq) AS __n FROM {valid}) WHERE __n = 1"
        )
        extra_dups = counts.read - counts.quarantined - con.execute("SELECT count(*) FROM __v").fetchone()[0]  # type: ignore[index]
        cols = cols + plan.generated
        valid = "__v"
    keys = list(t.key)
    missing_keys = [k for k in keys if k not in cols]
    if missing_keys:  # key parts the source lacks are NULL (e.g. events without sessions)
        nulls = ", ".join(f"CAST(NULL AS {t.column(k).type}) AS {quote(k)}" for k in missing_keys)
        valid = f"(SELECT *, {nulls} FROM {valid})"
        cols = cols + missing_keys
    qkeys = ", ".join(quote(k) for k in keys)
    all_cols = t.column_names
    insert_cols = ", ".join(quote(c) for c in all_cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __dk AS SELECT {qkeys} FROM {valid} GROUP BY ALL HAVING count(*) > 1")
    repeated = con.execute("SELECT count(*) FROM __dk").fetchone()[0]  # type: ignore[index]
    target_empty = con.execute(f"SELECT count(*) = 0 FROM (SELECT 1 FROM {name} LIMIT 1)").fetchone()[0]  # type: ignore[index]
    if target_empty and not repeated:
        # fast path (first load): every valid row is new
        select = ", ".join(quote(c) if c in cols else f"NULL AS {quote(c)}" for c in all_cols)
        con.execute(f"INSERT INTO {name} ({insert_cols}) SELECT {select} FROM {valid}")
        counts.loaded = counts.read - counts.quarantined - extra_dups
        counts.duplicates = extra_dups
        return counts
    h = f"hash({', '.join(quote(c) for c in cols)})"
    in_dk = f"EXISTS (SELECT 1 FROM __dk d WHERE {_key_match('d', 'v', keys)})"
    # previous version of each row: the row before it with the same key, else the warehouse row
    existing = (
        f"SELECT {qkeys}, {h} AS __eh FROM {name}" if not target_empty
        else f"SELECT {qkeys}, NULL::UBIGINT AS __eh FROM {name} WHERE FALSE"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __s AS "
        f"WITH s AS (SELECT v.*, {h} AS __h, NULL::UBIGINT AS __prev, TRUE AS __last FROM {valid} v WHERE NOT {in_dk} "
        f"  UNION ALL BY NAME "
        f"  SELECT v.*, {h} AS __h, lag({h}) OVER (PARTITION BY {qkeys} ORDER BY __seq) AS __prev, "
        f"  row_number() OVER (PARTITION BY {qkeys} ORDER BY __seq DESC) = 1 AS __last FROM {valid} v WHERE {in_dk}), "
        f"e AS ({existing}) "
        f"SELECT s.*, e.__eh, CASE "
        f"  WHEN s.__prev IS NULL AND e.__eh IS NULL THEN 'loaded' "
        f"  WHEN COALESCE(s.__prev, e.__eh) = s.__h THEN 'duplicate' ELSE 'updated' END AS __status "
        f"FROM s LEFT JOIN e ON {_key_match('s', 'e', keys)}"
    )
    loaded, updated, dups = con.execute(
        "SELECT count(*) FILTER (WHERE __status='loaded'), count(*) FILTER (WHERE __status='updated'), "
        "count(*) FILTER (WHERE __status='duplicate') FROM __s"
    ).fetchone()  # type: ignore[misc]
    counts.loaded, counts.updated, counts.duplicates = loaded, updated, dups + extra_dups
    # write the final version of each key whose content changed; columns this source
    # does not provide keep their warehouse values
    select = ", ".join(
        f"n.{quote(c)}" if c in cols else f"CAST(e.{quote(c)} AS {t.column(c).type}) AS {quote(c)}" for c in all_cols
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __w AS SELECT {select}, n.__eh IS NOT NULL AS __existed FROM "
        f"(SELECT * FROM __s WHERE __last AND (__eh IS NULL OR __eh <> __h)) n "
        f"LEFT JOIN {name} e ON {_key_match('n', 'e', keys)}"
    )
    if con.execute("SELECT count(*) FILTER (WHERE __existed) FROM __w").fetchone()[0]:  # type: ignore[index]
        con.execute(
            f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM __w WHERE __w.__existed AND {_key_match('__w', name, keys)})"
        )
    con.execute(f"INSERT INTO {name} ({insert_cols}) SELECT {insert_cols} FROM __w")
    return counts

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

One orchestrator, written once against the engine protocol
(:mod:`shoplens.store.engine`), runs every ingest on DuckDB and on Spark alike: the
same SQL validates, checks references and classifies, so every message and check is the
same on both. What differs per engine is a method of the engine: read a file
(``read_file``), combine and materialise relations (``combine``, ``materialise``,
``set_reasons``), find the run's repeated keys (``repeated_keys``), run the
DuckDB-written privacy stage on staged rows (``on_duckdb``), write a table's next version
(``write_first_version`` / ``write_changes``, swapped in by ``publish``) and write the
quarantine (``write_quarantine``). Sources are pluggable
(:class:`shoplens.ingest.sources.Source`); the relations passed between the steps are
typed (:class:`shoplens.store.staging.Relation`).

One pass: when the mapping produces one table, a CSV file is read by the statement that
validates it (on DuckDB the staged file is a view over the reader, numbered in the
reader's row order), so the rows are parsed, checked and staged in one scan with no raw
copy; references, repeated keys and the accounting then read the one staged table. A file
whose reading was not clean (a line the reader rejected) is staged again whole and
validated again, which reports each problem as before.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from shoplens.errors import EngineMismatchError, MappingError, StrictModeError, UserInputError
from shoplens.ingest.attributes import TABLE as ATTRIBUTES
from shoplens.ingest.attributes import AttributePlan, candidate_columns, long_rows_sql, plan_attributes
from shoplens.ingest.mapping import Mapping, normalise_name, quote, spreadsheet_text_sql
from shoplens.ingest.sources import Source, StagedFile, StageOptions, open_source
from shoplens.ingest.units import unit_concentration_note
from shoplens.ingest.validate import Plan, plan_table, resolve_raw
from shoplens.metrics import line_value_sql
from shoplens.schema import TABLES, Table, get_table
from shoplens.store.engine import Engine
from shoplens.store.files import private_dir
from shoplens.store.shop import fill_unset
from shoplens.store.staging import Relation, key_match
from shoplens.store.storage import claim, drop_duckdb_copy, keep_duckdb_copy, read_state
from shoplens.store.warehouse import Warehouse, utcnow

Progress = Callable[[str, float], None]
# Called for each table after validation and before writing, with a DuckDB connection,
# the canonical table name, the staged rows (a Relation: ``str(staged)`` is the temp
# table's name on that connection) and the columns the source provides. Privacy uses it
# to mask or pseudonymise before anything lands. A hook may also have
# ``after_write(con, run_id)``, called inside the ingest's transaction once rows and
# quarantine are written (privacy masks the quarantine there).
BeforeWrite = Callable[[duckdb.DuckDBPyConnection, str, Relation, list[str]], None]


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
class Money:
    """One money column's sum over the rows of a run, split like the rows are (exact
    decimals, 4 places): read = loaded + updated + quarantined + duplicates.

    ``read`` is the file's total (of the values that read as numbers).

    >>> from decimal import Decimal
    >>> Money(Decimal("10.5"), Decimal("7.25"), quarantined=Decimal("3.25")).adds_up()
    True
    """

    read: Decimal = Decimal(0)
    loaded: Decimal = Decimal(0)
    updated: Decimal = Decimal(0)
    quarantined: Decimal = Decimal(0)
    duplicates: Decimal = Decimal(0)

    def adds_up(self) -> bool:
        return self.read == self.loaded + self.updated + self.quarantined + self.duplicates

    def to_dict(self) -> dict[str, float]:
        """As JSON numbers (each exact to the 4 places it was summed to)."""
        return {k: float(v) for k, v in asdict(self).items()}


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
    # table -> money column (or ``value``: the lines' value as shoplens.metrics defines it) -> sums
    money: dict[str, dict[str, Money]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("table", "files", "read", "loaded", "updated", "quarantined", "duplicates")}
        out["seconds"] = round(self.seconds, 3)
        if self.derived:
            out["derived"] = {t: asdict(c) for t, c in self.derived.items()}
        out["run_id"] = self.run_id
        if self.money:
            out["money"] = {t: {c: m.to_dict() for c, m in cols.items()} for t, cols in self.money.items()}
        if self.notes:
            out["notes"] = list(self.notes)
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
    files: Sequence[str | Path | Source],
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

    ``files``: paths (the format comes from the mapping, the name or the first bytes, see
    :func:`shoplens.ingest.sources.open_source`) or :class:`~shoplens.ingest.sources.Source`
    objects. ``settings`` (:class:`shoplens.config.Settings`) gives the policy and the shop secret;
    when None they come from the environment and shoplens.toml, as for the CLI.
    ``privacy="off"`` writes personal data as it came: refused on a pseudonymised
    warehouse, recorded in ``_privacy_optouts`` and announced on stderr.
    ``before_write``: further hooks (run after the privacy stage).

    On a warehouse opened with ``engine="spark"`` the same steps run on Spark and the
    tables are Parquet; ``mirror`` then keeps a complete, verified copy of every
    canonical table in the DuckDB file for the steps that run on DuckDB only
    (``mirror=False``: no copy is kept, and a DuckDB open of the warehouse refuses).
    The first ingest records which engine holds the warehouse's tables; an ingest on
    the other engine refuses (see :mod:`shoplens.store.storage`).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text(
    ...     "order_id,customer_id,ordered_at\\no1,c1,2024-01-05\\no1,c1,2024-01-05\\no2,c2,not a date\\n")
    >>> with Warehouse(folder / "warehouse.duckdb") as wh:
    ...     result = ingest(wh, [folder / "orders.csv"], table="orders")
    ...     reasons = wh.query("SELECT line, reason FROM _quarantine").values.tolist()
    >>> result.read, result.loaded, result.duplicates, result.quarantined
    (3, 1, 1, 1)
    >>> reasons
    [[4, "cannot read 'not a date' as a timestamp (ISO 8601 expected; set date_formats in a mapping for other layouts)"]]
    """
    if not files:
        raise MappingError("no input files given")
    m = resolve_mapping(table, mapping, preset)
    if privacy not in ("on", "off"):
        raise UserInputError(f"privacy must be 'on' or 'off', not {privacy!r}")
    _check_engine(warehouse)
    engine: Engine = warehouse.engine
    step = progress or (lambda msg, frac: None)
    started = time.perf_counter()
    private_dir(warehouse.tmp_dir)
    run_id = uuid.uuid4().hex[:12]
    # one pass (a mapping of one table): each CSV file is read by the statement that
    # validates it; derived tables read the source again, so theirs is staged first
    options = StageOptions(tmp_dir=warehouse.tmp_dir, encoding=encoding or m.source.encoding,
                           delimiter=m.source.delimiter, numeric_columns=lambda header: _numeric_columns(m, header),
                           one_pass=not m.derived)
    try:
        # Staging and validation create temporary relations only, outside the transaction
        # (on DuckDB the row ids of a staged file, its line numbers, then start at 0).
        staged, src, validated = _stage_and_validate(engine, m, files, options, max_future_days, step)
        hooks = privacy_stage(warehouse, settings, privacy, before_write)  # once the files could be read
        with warehouse.transaction() as con:
            result = _run(engine, con, m, validated, staged, run_id, strict, step, hooks)
            state = claim(con, warehouse, engine.name, keep_copy=mirror)
            if not mirror and state.copy is not None:
                drop_duckdb_copy(con)  # a copy of Spark's tables would be stale: it must not read as data
            for tname in [*result.derived, m.primary]:  # on Spark, swapping each next version in is a rename
                engine.publish(tname)
    except BaseException:
        engine.discard_staged()
        raise
    finally:
        engine.end_run()
        for p in warehouse.tmp_dir.glob("__stage_*"):  # decoded copies may hold personal data
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    if mirror and state.canonical == "spark":  # every canonical table, verified, in one DuckDB transaction
        step("copying to the DuckDB file", 0.95)
        keep_duckdb_copy(warehouse)
    if m.shop.currency or m.shop.timezone:  # what the export says about the shop, unless the shop said otherwise
        filled = fill_unset(warehouse, currency=m.shop.currency, timezone=m.shop.timezone)
        if filled:
            said = " and ".join(f"{k} {v}" for k, v in filled.items())
            result.notes.append(f"shop settings from this export: {said} (change with `shoplens shop set`)")
    if "order_items" in (m.primary, *m.derived) and (engine.name == "duckdb" or mirror):
        note = unit_concentration_note(warehouse.con)  # over every line the warehouse holds now
        if note:
            result.notes.append(note)
    step("done", 1.0)
    result.seconds = time.perf_counter() - started
    warehouse.con.execute("UPDATE _ingest_runs SET seconds = ? WHERE run_id = ?", [result.seconds, run_id])
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


@dataclass
class StagedTable:
    """The validated rows of one canonical table in this run: ``relation`` holds the
    provided columns, ``__file``/``__line``/``__seq`` and ``__column``/``__reason`` (NULL
    for a valid row); ``plan`` is the SQL that made it."""

    plan: Plan
    relation: Relation

    @property
    def name(self) -> str:
        return self.plan.table.name


@dataclass
class Validated:
    """A run's validated rows: ``tables`` per canonical table, over the source ``src``
    (the relation the quarantine takes raw rows from) with its ``columns``."""

    src: Relation
    columns: list[str]
    tables: dict[str, StagedTable]
    attributes: AttributePlan


def _stage_sources(engine: Engine, m: Mapping, files: Sequence[str | Path | Source], options: StageOptions,
                   step: Progress) -> tuple[list[StagedFile], Relation]:
    staged: list[StagedFile] = []
    for i, item in enumerate(files):
        source = item if isinstance(item, Source) else open_source(item, fmt=m.source.format)
        step(f"reading {source.name}", i / max(len(files), 1) * 0.5)
        staged.append(source.stage(engine, f"__src_{i}", i, options))
    return staged, engine.combine("__src", [s.relation for s in staged])


def _stage_and_validate(engine: Engine, m: Mapping, files: Sequence[str | Path | Source], options: StageOptions,
                        max_future_days: int, step: Progress) -> tuple[list[StagedFile], Relation, Validated]:
    """Stage the sources and validate their rows.

    With ``options.one_pass`` the engine may read a file in the statement that validates
    it. When that read was not clean (a line the reader rejected, which shifts the line
    numbers after it, or an error while reading), the files are staged again whole and
    validated again: that path finds and reports every problem of the file as before.
    """
    staged, src = _stage_sources(engine, m, files, options, step)
    if any(s.rows is None for s in staged):  # some file is read by the validation itself
        try:
            validated = _validate(engine, m, src, staged, max_future_days, step)
            if engine.reads_complete():
                return staged, src, validated
        except (duckdb.Error, MappingError):
            engine.reads_complete()  # forget the reads; staging again says what went wrong
        engine.set_time_zone("UTC")
        options = replace(options, one_pass=False)
        staged, src = _stage_sources(engine, m, files, options, step)
    return staged, src, _validate(engine, m, src, staged, max_future_days, step)


def _validate(engine: Engine, m: Mapping, src: Relation, staged: list[StagedFile], max_future_days: int,
              step: Progress) -> Validated:
    """The validated rows of every table the mapping produces."""
    step("validating", 0.55)
    columns: list[str] = []
    for s in staged:
        columns += [c for c in s.columns if c not in columns]
    files_label = ", ".join(s.label for s in staged)
    if m.source.spreadsheet_text:  # ="0123" and '0123 read as the text inside (platform exports)
        text = Relation("__src_text", src.columns)
        types = engine.column_types(src)
        texts = [c for c in columns if types.get(c) == "VARCHAR"]
        others = tuple(quote(c) for c in columns if c not in texts)
        engine.create_view(text.name, spreadsheet_text_sql(texts, src.name, keep=(*others, "__file", "__line", "__seq")))
        src = text
    src_types = engine.column_types(src)
    by_norm = {normalise_name(c): c for c in columns}
    direct_types = {
        c.name: src_types[by_norm[c.name]]
        for c in TABLES[m.primary].columns
        if c.name not in m.tables[m.primary] and c.name in by_norm
    }
    # naive source timestamps are read in the source's zone (Spark resolves the zone when
    # a query is analysed, so each validated table is materialised before resetting)
    engine.set_time_zone(m.source.timezone)
    tables = _validate_all(engine, m, src, columns, files_label, max_future_days, direct_types)
    engine.set_time_zone("UTC")
    attributes = _stage_attributes(engine, m, src, columns, tables, files_label, max_future_days)
    return Validated(src, columns, tables, attributes)


def _run(
    engine: Engine,
    con: duckdb.DuckDBPyConnection,
    m: Mapping,
    validated: Validated,
    staged: list[StagedFile],
    run_id: str,
    strict: bool,
    step: Progress,
    before_write: Sequence[BeforeWrite] = (),
) -> IngestResult:
    """Protect, check, classify and write one run's validated rows (inside the caller's
    DuckDB transaction; on Spark the tables' next versions are staged here and swapped in
    by the caller)."""
    src, columns, tables, attributes = validated.src, validated.columns, validated.tables, validated.attributes
    files_label = ", ".join(s.label for s in staged)
    primary = m.primary
    derived = [t for t in tables if t != primary]  # the mapping's further tables, then customer attributes
    order = derived + [primary]
    # hooks (privacy) run before reference checks: pseudonymised ids must meet pseudonymised parents
    if before_write:
        for tname in order:
            with engine.on_duckdb(tables[tname].relation) as (local, rel):
                for hook in before_write:
                    hook(local, tname, rel, list(tables[tname].plan.provided))
    for tname in order:
        _check_references(engine, tables[tname], tables)

    step("writing", 0.8)
    counts: dict[str, Counts] = {}
    money: dict[str, dict[str, Money]] = {}
    for tname in order:
        counts[tname], money[tname] = _upsert(engine, tables[tname])
    rejects = sum(len(s.rejects) for s in staged)
    counts[primary].read += rejects
    counts[primary].quarantined += rejects

    now = utcnow()
    # a file ingested again replaces its earlier quarantine entries (fixed rows leave quarantine)
    con.execute(
        "DELETE FROM _quarantine WHERE table_name IN (SELECT unnest(?)) AND file IN (SELECT unnest(?))",
        [order, [s.label for s in staged]],
    )
    for tname in order:
        if counts[tname].quarantined:
            engine.write_quarantine(run_id, tname, tables[tname].relation, src, now)
    for s in staged:
        for r in s.rejects:
            con.execute("INSERT INTO _quarantine VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                        [run_id, primary, s.label, r.line, r.column, r.reason, now])
    _after_write(before_write, con, run_id)
    for tname in order:
        c = counts[tname]
        if not c.adds_up():  # an internal invariant, never a user error
            raise AssertionError(f"ingest accounting does not add up for {tname}: {c}")
        for col, mo in money[tname].items():
            if not mo.adds_up():
                raise AssertionError(f"ingest money accounting does not add up for {tname}.{col}: {mo}")
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
    unused = [c for c in _unused_columns(columns, tables) if c not in attributes.columns and c not in attributes.refused]
    notes += attributes.notes()
    if "customers" in tables and "consent_marketing" not in tables["customers"].plan.provided:
        notes.append("no marketing consent column: customers from this source are not marketable "
                     "(consent is opt-in; load consent_marketing to record it)")
    if unused:
        notes.append("columns not used: " + ", ".join(unused[:12]) + (" ..." if len(unused) > 12 else ""))
    return IngestResult(
        table=primary, files=[s.label for s in staged], read=p.read, loaded=p.loaded, updated=p.updated,
        quarantined=p.quarantined, duplicates=p.duplicates, seconds=0.0,
        derived={t: counts[t] for t in derived}, notes=notes, run_id=run_id,
        money={t: money[t] for t in order if money[t]},
    )


def _unused_columns(columns: list[str], tables: dict[str, StagedTable]) -> list[str]:
    """Source columns no table's SQL reads."""
    used = " ".join(t.plan.raw_select for t in tables.values())
    return [c for c in columns if quote(c) not in used and not re.search(r"\b" + re.escape(c) + r"\b", used)]


def _stage_attributes(engine: Engine, m: Mapping, src: Relation, columns: list[str], tables: dict[str, StagedTable],
                      files_label: str, max_future_days: int) -> AttributePlan:
    """For a customers source: stage the columns no canonical column takes as ``customer_attributes``
    (one validated row per customer and non-empty value, see :mod:`shoplens.ingest.attributes`), from
    the source rows that passed the customers table's checks. Returns what was kept and refused."""
    if m.primary != "customers" or m.attributes is False:
        return AttributePlan()
    ok = "__src_ok"  # the source rows that passed the customers table's checks
    engine.create_view(ok, source_ok_sql(src, tables[m.primary].relation))
    wanted = candidate_columns(m.attributes, _unused_columns(columns, tables), columns, files_label)
    plan = plan_attributes(engine, ok, wanted, files_label)
    if not plan.columns:
        return plan
    customer = resolve_raw(TABLES["customers"], m.tables["customers"], columns, files_label)["customer_id"]
    long = Relation("__src_attributes", ("customer_id", "attribute", "value", "type", "__file", "__line", "__seq"))
    engine.materialise(long.name, long_rows_sql(plan, ok, customer))
    table = TABLES[ATTRIBUTES]
    validated = plan_table(table, {}, list(long.columns[:4]), m.source, source_view=long.name, files=files_label,
                           grouped=False, max_future_days=max_future_days)
    rel = Relation(f"__t_{ATTRIBUTES}", (*validated.provided, *CHECK_COLUMNS))
    engine.materialise(rel.name, validated.validated_sql)
    tables[ATTRIBUTES] = StagedTable(validated, rel)
    return plan


def source_ok_sql(src: Relation, primary: Relation) -> str:
    """Source rows that passed the primary table's row checks (what derived tables see)."""
    return (f"SELECT s.* FROM {src} s "
            f"SEMI JOIN (SELECT __seq FROM {primary} WHERE __reason IS NULL) ok USING (__seq)")


# the bookkeeping columns of a validated table, after its canonical columns
CHECK_COLUMNS = ("__file", "__line", "__seq", "__column", "__reason")


def _validate_all(
    engine: Engine,
    m: Mapping,
    src: Relation,
    columns: list[str],
    files_label: str,
    max_future_days: int,
    source_types: dict[str, str] | None,
) -> dict[str, StagedTable]:
    """Plan and materialise the validated rows of every table of the mapping."""
    primary = m.primary

    def materialise(plan: Plan) -> StagedTable:
        rel = Relation(f"__t_{plan.table.name}", (*plan.provided, *CHECK_COLUMNS))
        try:
            engine.materialise(rel.name, plan.validated_sql)
        except Exception as exc:
            detail = engine.sql_error(exc)
            if detail is None:
                raise
            raise MappingError(f"the mapping's expressions do not fit the file: {detail}") from None
        return StagedTable(plan, rel)

    out = {primary: materialise(plan_table(
        TABLES[primary], m.tables[primary], columns, m.source, source_view=src.name, files=files_label,
        grouped=False, max_future_days=max_future_days, source_types=source_types,
    ))}
    if not m.derived:
        return out
    # derived tables see only source rows that passed the primary's row checks
    ok = Relation("__src_ok", src.columns)
    engine.create_view(ok.name, source_ok_sql(src, out[primary].relation))
    any_bad = m.derived and int(engine.first(
        f"SELECT count(*) FROM {out[primary].relation} WHERE __reason IS NOT NULL")[0]) > 0
    for tname in m.derived:
        staged = materialise(plan_table(
            TABLES[tname], m.tables[tname], columns, m.source, source_view=ok.name, files=files_label,
            grouped=True, max_future_days=max_future_days,
        ))
        if any_bad:  # an order (customer, product) all of whose rows were quarantined is counted, not lost
            every = Relation(f"__t_{tname}_all", staged.relation.columns)
            engine.materialise(every.name, f"SELECT * FROM {staged.relation} UNION ALL "
                                           f"{lost_keys_sql(staged.plan, src, ok, primary)}")
            staged = StagedTable(staged.plan, every)
        out[tname] = staged
    return out


def lost_keys_sql(plan: Plan, src: Relation, ok: Relation, primary: str) -> str:
    """Rows (in a validated table's columns) for the keys of a derived table that occur in the
    source only on rows the primary table quarantined: each is quarantined with the reason, so
    that read = loaded + updated + quarantined + duplicates holds for what the file holds."""
    t = plan.table
    keys = [k for k in t.key if k in plan.provided]
    items = [plan.key_exprs[keys.index(c)] if c in keys else f"CAST(NULL AS {t.column(c).type})" for c in plan.provided]
    reason = f"every row of this {t.name.rstrip('s')} was quarantined in {primary} (see `shoplens quarantine {primary}`)"
    group = ", ".join(plan.key_exprs)
    match = " AND ".join(f"g.__k{i} = o.__k{i}" for i in range(len(keys)))
    keyed = ", ".join(f"{e} AS __k{i}" for i, e in enumerate(plan.key_exprs))
    not_null = " AND ".join(f"{e} IS NOT NULL" for e in plan.key_exprs)
    return (
        f"SELECT {', '.join(f'g.{quote(c)}' for c in plan.provided)}, g.__file, g.__line, g.__seq, "
        f"'{keys[0]}' AS __column, '{reason}' AS __reason FROM "
        f"(SELECT {', '.join(f'{e} AS {quote(c)}' for e, c in zip(items, plan.provided))}, {keyed}, "
        f"arg_min(__file, __seq) AS __file, min(__line) AS __line, min(__seq) AS __seq "
        f"FROM {src} WHERE {not_null} GROUP BY {group}) g "
        f"ANTI JOIN (SELECT DISTINCT {keyed} FROM {ok} WHERE {not_null}) o ON {match}"
    )


def bad_references_sql(staged: Relation, ref: Any, parent: Relation | None) -> str:
    """SELECT (__seq, reason) of the valid rows of ``staged`` whose ``ref`` column names no
    parent (a row of the warehouse table, or a valid row of ``parent`` when it is staged in this run)."""
    parents = f"SELECT {quote(ref.parent_column)} AS k FROM {ref.parent}"
    if parent is not None:
        parents += f" UNION ALL SELECT {quote(ref.parent_column)} FROM {parent} WHERE __reason IS NULL"
    why_missing = f"'{ref.column} ''' || t.{quote(ref.column)} || ''' not found in {ref.parent}'"
    if parent is not None:
        why_missing = (
            f"COALESCE('{ref.column} ''' || t.{quote(ref.column)} || ''' was quarantined in {ref.parent}: ' || q.__reason, "
            f"{why_missing})"
        )
        qjoin = (f"LEFT JOIN (SELECT {quote(ref.parent_column)} AS k, any_value(__reason) AS __reason FROM {parent} "
                 f"WHERE __reason IS NOT NULL GROUP BY 1) q ON q.k = t.{quote(ref.column)}")
    else:
        qjoin = ""
    return (
        f"SELECT t.__seq, {why_missing} AS reason FROM {staged} t "
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


def _check_references(engine: Engine, table: StagedTable, tables: dict[str, StagedTable]) -> None:
    for ref, staged_parent in references_to_check(table.plan, set(tables), lambda p: int(engine.has_rows(p))):
        parent = tables[ref.parent].relation if staged_parent else None
        table.relation = engine.set_reasons(table.relation, bad_references_sql(table.relation, ref, parent), ref.column)


def line_numbers_sql(cols: Sequence[str], valid: Relation | str) -> str:
    """Orders whose source has no line numbers: drop exact repeats of a line within an
    order, then number the lines of each order in file order."""
    part = ", ".join(quote(c) for c in cols)
    keep = ", ".join([quote(c) for c in cols] + list(CHECK_COLUMNS))
    return (
        f"SELECT {keep}, row_number() OVER (PARTITION BY order_id ORDER BY __seq) AS line_number FROM "
        f"(SELECT *, row_number() OVER (PARTITION BY {part} ORDER BY __seq) AS __n FROM {valid}) WHERE __n = 1"
    )


def classify_sql(name: str, keys: Sequence[str], cols: Sequence[str], valid: Relation | str, target_empty: bool,
                 repeated: Relation) -> str:
    """Each valid row with its status: loaded (new key), duplicate (same content as the
    key's previous version) or updated. ``repeated``: the run's repeated keys."""
    qkeys = ", ".join(quote(k) for k in keys)
    h = f"hash({', '.join(quote(c) for c in cols)})"
    in_dk = f"EXISTS (SELECT 1 FROM {repeated} d WHERE {key_match('d', 'v', keys)})"
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
        f"FROM s LEFT JOIN e ON {key_match('s', 'e', keys)}"
    )


def status_counts_sql(classified: Relation) -> str:
    """(loaded, updated, duplicate) counts of the rows :func:`classify_sql` classified."""
    return ("SELECT count(*) FILTER (WHERE __status='loaded'), count(*) FILTER (WHERE __status='updated'), "
            f"count(*) FILTER (WHERE __status='duplicate') FROM {classified}")


def changed_rows_sql(t: Table, cols: Sequence[str], classified: Relation) -> str:
    """The final version of each key whose content changed (from ``classified``); columns
    this source does not provide keep their warehouse values."""
    select = ", ".join(
        f"n.{quote(c)}" if c in cols else f"CAST(e.{quote(c)} AS {t.column(c).type}) AS {quote(c)}" for c in t.column_names
    )
    return (
        f"SELECT {select}, n.__eh IS NOT NULL AS __existed FROM "
        f"(SELECT * FROM {classified} WHERE __last AND (__eh IS NULL OR __eh <> __h)) n "
        f"LEFT JOIN {t.name} e ON {key_match('n', 'e', t.key)}"
    )


def with_missing_keys(t: Table, valid: Relation | str, cols: list[str]) -> tuple[Relation | str, list[str]]:
    """Key parts the source lacks are NULL (e.g. events without sessions)."""
    missing_keys = [k for k in t.key if k not in cols]
    if not missing_keys:
        return valid, cols
    nulls = ", ".join(f"CAST(NULL AS {t.column(k).type}) AS {quote(k)}" for k in missing_keys)
    return f"(SELECT *, {nulls} FROM {valid})", cols + missing_keys


def money_columns(t: Table, cols: Sequence[str]) -> dict[str, str]:
    """The sums a run's money accounting reports for table ``t`` (given the columns it
    provides): each money column, and for order lines their ``value`` as the metrics
    define it (the line total as stated, else rebuilt from quantity and unit price).

    >>> money_columns(TABLES["order_items"], ["order_id", "quantity", "unit_price"])
    {'value': 'quantity * unit_price'}
    """
    out = {c.name: quote(c.name) for c in t.columns if c.money and c.name in cols}
    if t.name == "order_items" and {"quantity", "unit_price"} <= set(cols):
        out["value"] = line_value_sql(columns=list(cols))
    return out


def _sums(money: dict[str, str], where: str = "") -> str:
    """Exact sums (DECIMAL, 4 places) of each money expression, optionally filtered."""
    f = f" FILTER (WHERE {where})" if where else ""
    return ", ".join(f"coalesce(sum(CAST({e} AS DECIMAL(38, 4))){f}, 0)" for e in money.values())


def _upsert(engine: Engine, staged: StagedTable) -> tuple[Counts, dict[str, Money]]:
    """Classify each valid staged row (loaded / updated / duplicate) and write the last
    version of every changed key as the table's next version.

    Most keys occur once per run: those are classified with one hash join against the
    warehouse; only keys repeated within the run go through a window (file order).
    """
    plan = staged.plan
    t: Table = plan.table
    name = t.name
    rel = staged.relation
    cols = list(plan.provided)
    keys = list(t.key)
    counts = Counts()
    money_exprs = money_columns(t, cols)
    money = {c: Money() for c in money_exprs}
    extra = (", " + _sums(money_exprs)) if money else ""
    first = engine.first(f"SELECT count(*), count(*) FILTER (WHERE __reason IS NOT NULL){extra} FROM {rel}")
    counts.read, counts.quarantined = int(first[0]), int(first[1])
    # quarantined rows are few: their money is summed over them alone (a cast per row costs)
    bad = engine.first(f"SELECT {_sums(money_exprs)} FROM {rel} WHERE __reason IS NOT NULL") \
        if money and counts.quarantined else None
    for i, mo in enumerate(money.values()):
        mo.read, mo.quarantined = Decimal(first[2 + i]), Decimal(bad[i]) if bad else Decimal(0)
    valid: Relation | str = f"(SELECT * FROM {rel} WHERE __reason IS NULL)"
    extra_dups = 0
    if plan.generated:
        numbered = Relation("__v", (*cols, *CHECK_COLUMNS, *plan.generated))
        engine.materialise(numbered.name, line_numbers_sql(cols, valid))
        extra_dups = counts.read - counts.quarantined - engine.count(f"SELECT * FROM {numbered}")
        cols = cols + plan.generated
        valid = numbered
    valid, cols = with_missing_keys(t, valid, cols)
    repeated = engine.repeated_keys("__dk", keys, valid)
    n_repeated = engine.count(f"SELECT * FROM {repeated}")
    target_empty = not engine.has_rows(name)
    if target_empty and not n_repeated:
        # fast path (first load): every valid row is new
        select = ", ".join(quote(c) if c in cols else f"CAST(NULL AS {t.column(c).type}) AS {quote(c)}"
                           for c in t.column_names)
        engine.write_first_version(t, f"SELECT {select} FROM {valid}")
        counts.loaded = counts.read - counts.quarantined - extra_dups
        counts.duplicates = extra_dups
        if money:  # repeated lines dropped by numbering are duplicates; the rest is loaded
            kept = engine.first(f"SELECT {_sums(money_exprs)} FROM {valid}") if extra_dups else None
            for i, mo in enumerate(money.values()):
                mo.loaded = Decimal(kept[i]) if kept else mo.read - mo.quarantined
                mo.duplicates = mo.read - mo.quarantined - mo.loaded
        return counts, money
    classified = Relation("__s")
    engine.materialise(classified.name, classify_sql(name, keys, cols, valid, target_empty, repeated))
    loaded, updated, dups = (int(x) for x in engine.first(status_counts_sql(classified)))
    counts.loaded, counts.updated, counts.duplicates = loaded, updated, dups + extra_dups
    if money:
        by_status = [_sums(money_exprs, f"__status = '{status}'") for status in ("loaded", "updated")]
        got = engine.first(f"SELECT {', '.join(by_status)} FROM {classified}")
        for i, mo in enumerate(money.values()):
            mo.loaded, mo.updated = Decimal(got[i]), Decimal(got[len(money) + i])
            mo.duplicates = mo.read - mo.quarantined - mo.loaded - mo.updated
    changed = Relation("__w", (*t.column_names, "__existed"))
    engine.materialise(changed.name, changed_rows_sql(t, cols, classified))
    engine.write_changes(t, changed)
    return counts, money

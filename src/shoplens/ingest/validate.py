"""Set-based validation: SQL that parses every canonical column and names the first
problem of each row.

The SQL is generated once from :mod:`shoplens.schema` and the mapping, and runs
as whole-table queries (no Python row loops): on DuckDB as written, on Spark
transpiled (see ``docs/spark.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoplens.errors import MappingError
from shoplens.ingest.mapping import ColumnSpec, SourceSpec, is_aggregate, normalise_name
from shoplens.schema import quote_identifier as quote
from shoplens.schema import GENERATED_COLUMNS, Column, Table

TRUE_WORDS = ("true", "t", "yes", "y", "1", "on", "是", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off", "否", "假")
SYNONYMS = {
    "gender": {"f": "female", "w": "female", "woman": "female", "女": "female", "m": "male", "man": "male", "男": "male"},
    "sender": {"user": "customer", "client": "customer", "客户": "customer", "staff": "agent", "客服": "agent", "system": "bot"},
    "event_type": {"pv": "view", "page_view": "view", "add_to_cart": "cart", "addtocart": "cart", "buy": "purchase",
                   "transaction": "purchase", "fav": "favorite", "favourite": "favorite"},
}


def lit(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Plan:
    """SQL producing one canonical table from the staged source."""

    table: Table
    provided: list[str]  # canonical columns this source provides
    generated: list[str]  # required columns ingest fills itself (order line numbers)
    raw_select: str  # SELECT producing raw canonical values + __file/__line/__seq
    validated_sql: str  # SELECT raw + parsed values + __column/__reason
    key_exprs: list[str] = field(default_factory=list)  # a grouped table's key, as SQL over the source rows


def resolve_raw(
    table: Table,
    specs: dict[str, ColumnSpec],
    source_columns: list[str],
    files: str,
    match_by_name: bool = True,
) -> dict[str, str]:
    """Canonical column -> SQL over source columns (only the columns provided).

    Unmapped canonical columns are matched to source columns by name (case and
    punctuation ignored) when ``match_by_name``.
    """
    by_norm: dict[str, str] = {}
    for c in source_columns:
        by_norm.setdefault(normalise_name(c), c)
    lower = {c.lower(): c for c in source_columns}
    out: dict[str, str] = {}
    for col in table.columns:
        spec = specs.get(col.name)
        if spec is None:
            src = by_norm.get(col.name) if match_by_name else None
            if src is not None:
                out[col.name] = quote(src)
            continue
        if spec.column is not None:
            src = spec.column if spec.column in source_columns else lower.get(spec.column.lower())
            if src is None:
                raise MappingError(
                    f"{files}: mapping says {table.name}.{col.name} comes from column {spec.column!r}, "
                    f"which the file does not have (columns: {', '.join(source_columns[:30])})"
                )
            sql = quote(src)
        elif spec.expr is not None:
            sql = f"({spec.expr})"
        else:
            sql = lit(spec.const)
        if spec.values:
            whens = []
            for k, v in spec.values.items():
                if k == "":
                    whens.append(f"WHEN NULLIF(TRIM(CAST({sql} AS VARCHAR)), '') IS NULL THEN {lit(v)}")
                else:
                    whens.append(f"WHEN TRIM(CAST({sql} AS VARCHAR)) = {lit(k)} THEN {lit(v)}")
            sql = f"(CASE {' '.join(whens)} ELSE CAST({sql} AS VARCHAR) END)"
        out[col.name] = sql
    return out


def _text(x: str) -> str:
    return f"NULLIF(TRIM(CAST({x} AS VARCHAR)), '')"


def _column_text(c: str) -> str:
    """:func:`_text` of a column: trimmed only when it starts or ends with a space (TRIM
    removes spaces only, on DuckDB and Spark alike), which most values do not; the test
    costs half of TRIM on every value.

    >>> import duckdb
    >>> duckdb.sql(f"SELECT {_column_text('x')} FROM (VALUES (' a '), ('b'), ('  '), ('c ')) v(x)").fetchall()
    [('a',), ('b',), (None,), ('c',)]
    """
    v = f"CAST({c} AS VARCHAR)"
    return f"NULLIF(CASE WHEN {v} LIKE ' %' OR {v} LIKE '% ' THEN TRIM({v}) ELSE {v} END, '')"


def parse_sql(col: Column, s: str, spec: ColumnSpec | None, source: SourceSpec) -> str:
    """SQL turning trimmed text ``s`` (NULL when empty) into the canonical type (NULL when unreadable)."""
    if col.type == "VARCHAR":
        if col.name.endswith("_id"):
            # ids exported through spreadsheets come back as '17850.0' (LIKE first: regexps are costly)
            return f"(CASE WHEN {s} LIKE '%.0' THEN regexp_replace({s}, '^(-?[0-9]+)\\.0+$', '\\1') ELSE {s} END)"
        if col.allowed:
            syn = SYNONYMS.get(col.name, {})
            if syn:
                whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in syn.items())
                return f"(CASE lower({s}) {whens} ELSE lower({s}) END)"
            return f"lower({s})"
        return s
    if col.type == "DOUBLE":
        return f"TRY_CAST({s} AS DOUBLE)"
    if col.type in ("INTEGER", "BIGINT"):
        return f"TRY_CAST(TRY_CAST({s} AS DOUBLE) AS {col.type})"
    if col.type == "BOOLEAN":
        t = ", ".join(lit(w) for w in TRUE_WORDS)
        f = ", ".join(lit(w) for w in FALSE_WORDS)
        return f"(CASE WHEN lower({s}) IN ({t}) THEN TRUE WHEN lower({s}) IN ({f}) THEN FALSE END)"
    if col.type == "TIMESTAMP":
        if spec is not None and spec.unit:
            div = {"s": 1, "ms": 1000, "us": 1_000_000}.get(spec.unit)
            if div is None:
                raise MappingError(f"{col.name}: unit must be s, ms or us, not {spec.unit!r}")
            return f"timezone('UTC', to_timestamp(TRY_CAST({s} AS DOUBLE) / {div}))"
        formats = (spec.formats if spec is not None else []) or source.date_formats
        tries = [f"CAST(TRY_STRPTIME({s}, {lit(f)}) AS TIMESTAMPTZ)" for f in formats]
        tries.append(f"TRY_CAST({s} AS TIMESTAMPTZ)")
        return f"timezone('UTC', COALESCE({', '.join(tries)}))"
    raise AssertionError(col.type)


TYPE_WORDS = {"DOUBLE": "a number", "INTEGER": "a whole number", "BIGINT": "a whole number",
              "BOOLEAN": "true/false", "TIMESTAMP": "a timestamp"}


def checks(
    col: Column, text: str, val: str, max_future_days: int, generated: bool,
    spec: ColumnSpec | None = None, source: SourceSpec | None = None, zero_ok: str | None = None,
) -> list[tuple[str, str]]:
    """Ordered (condition, reason SQL) pairs for one column; the first true one wins.

    ``text`` is the trimmed source text (NULL when empty), ``val`` the parsed value;
    ``zero_ok``: a condition under which 0 is allowed in a ``nonzero`` column.
    """
    shown = f"left(CAST({text} AS VARCHAR), 60)"
    out: list[tuple[str, str]] = []
    if col.required and not generated:
        out.append((f"{text} IS NULL", lit(f"missing required value for {col.name}")))
    if col.type in ("INTEGER", "BIGINT"):
        d = f"TRY_CAST({text} AS DOUBLE)"
        out.append((f"{d} IS NOT NULL AND {d} <> round({d})", f"'''' || {shown} || ''' is not a whole number'"))
    if col.type != "VARCHAR":
        hint = ""
        if col.type == "TIMESTAMP":
            fmts = (spec.formats if spec is not None else []) or (source.date_formats if source else [])
            hint = (f" (expected {' or '.join(fmts)}, or ISO 8601)".replace("'", "''") if fmts
                    else " (ISO 8601 expected; set date_formats in a mapping for other layouts)")
        out.append((f"{text} IS NOT NULL AND {val} IS NULL",
                    f"'cannot read ''' || {shown} || ''' as {TYPE_WORDS[col.type]}{hint}'"))
    if col.min is not None:
        op = "<=" if col.min_exclusive else "<"
        word = "must be above" if col.min_exclusive else "is below the minimum"
        out.append((f"{val} {op} {col.min!r}", f"'{col.name} ' || {shown} || ' {word} {col.min:g}'"))
    if col.max is not None:
        out.append((f"{val} > {col.max!r}", f"'{col.name} ' || {shown} || ' is above the maximum {col.max:g}'"))
    if col.nonzero:
        states = f" and the row states no {' or '.join(col.zero_allowed_with)}" if col.zero_allowed_with else ""
        out.append((f"{val} = 0" + (f" AND NOT ({zero_ok})" if zero_ok else ""), lit(f"{col.name} is 0{states}")))
    if col.allowed:
        allowed = ", ".join(lit(a) for a in col.allowed)
        out.append((f"{val} IS NOT NULL AND {val} NOT IN ({allowed})",
                    f"'''' || {shown} || ''' is not a known {col.name} ({', '.join(col.allowed)}); map it with values = {{...}} in a mapping'"))
    if col.type == "TIMESTAMP":
        out.append((f"{val} > now()::TIMESTAMP + INTERVAL {max_future_days} DAY",
                    f"'{col.name} ' || {shown} || ' is in the future'"))
        out.append((f"{val} < TIMESTAMP '1970-01-01'", f"'{col.name} ' || {shown} || ' is before 1970'"))
    return out


def plan_table(
    table: Table,
    specs: dict[str, ColumnSpec],
    source_columns: list[str],
    source: SourceSpec,
    *,
    source_view: str,
    files: str,
    grouped: bool,
    max_future_days: int,
    source_types: dict[str, str] | None = None,
) -> Plan:
    """SQL for one canonical table. ``source_types``: canonical column -> type of the
    source column feeding it directly, when the reader already parsed it."""
    source_types = source_types or {}
    # derived tables take only what the mapping names: matching them by name surprises
    raw = resolve_raw(table, specs, source_columns, files, match_by_name=not grouped)
    generated = [c for c in table.required if c not in raw and (table.name, c) in GENERATED_COLUMNS]
    missing = [c for c in table.required if c not in raw and c not in generated]
    if missing:
        raise MappingError(
            f"{files}: required column(s) {', '.join(missing)} of table {table.name} not found "
            f"(file columns: {', '.join(source_columns[:30])}); rename them in the file or map them "
            f"with --mapping FILE (see docs/data-model.md)"
        )
    provided = [c.name for c in table.columns if c.name in raw]
    if grouped:
        keys = [k for k in table.key if k in raw]
        if len(keys) != len(table.key):
            raise MappingError(f"{files}: table {table.name} needs its key {', '.join(table.key)} mapped")
        key_exprs = [f"NULLIF(TRIM(CAST({raw[k]} AS VARCHAR)), '')" for k in keys]
        items = []
        for c in provided:
            e = raw[c]
            if c in keys:
                items.append(f"{key_exprs[keys.index(c)]} AS {quote(c)}")
            elif is_aggregate(e):
                items.append(f"{e} AS {quote(c)}")
            else:
                items.append(f"max_by({e}, CASE WHEN {_text(e)} IS NOT NULL THEN __seq END) AS {quote(c)}")
        items += ["arg_min(__file, __seq) AS __file", "min(__line) AS __line", "min(__seq) AS __seq"]
        where = " AND ".join(f"{k} IS NOT NULL" for k in key_exprs)
        raw_select = (
            f"SELECT {', '.join(items)} FROM {source_view} WHERE {where} "
            f"GROUP BY {', '.join(key_exprs)}"
        )
    else:
        items = [f"{raw[c]} AS {quote(c)}" for c in provided] + ["__file", "__line", "__seq"]
        raw_select = f"SELECT {', '.join(items)} FROM {source_view}"

    texts, parsed, conds = [], [], []
    for c in provided:
        col = table.column(c)
        t = quote(c + "__s")
        v = quote(c + "__v")
        if source_types.get(c) == "DOUBLE" and col.type in ("DOUBLE", "INTEGER", "BIGINT"):
            # read as a number already: no text round trip
            texts.append(f"r.{quote(c)} AS {t}")
            parsed.append(f"CAST(t.{t} AS {col.type}) AS {v}" if col.type == "DOUBLE" else
                          f"CAST(CASE WHEN t.{t} = round(t.{t}) THEN t.{t} END AS {col.type}) AS {v}")
        else:
            texts.append(f"{_column_text('r.' + quote(c))} AS {t}")
            parsed.append(f"{parse_sql(col, 't.' + t, specs.get(c), source)} AS {v}")
        # a row of no units is kept when it states its amount or discount (schema: zero_allowed_with)
        stated = [f"p.{quote(o + '__v')} IS NOT NULL" for o in col.zero_allowed_with if o in provided]
        conds += [(cond, c, reason) for cond, reason in
                  checks(col, f"p.{t}", f"p.{v}", max_future_days, False, specs.get(c), source,
                         zero_ok=" OR ".join(stated) or None)]
    col_case = "CASE " + " ".join(f"WHEN {cond} THEN {lit(c)}" for cond, c, _ in conds) + " END" if conds else "NULL"
    reason_case = "CASE " + " ".join(f"WHEN {cond} THEN {reason}" for cond, _, reason in conds) + " END" if conds else "NULL"
    out_cols = ", ".join(f"p.{quote(c + '__v')} AS {quote(c)}" for c in provided)
    # the reason is worded only for rows that have one (most rows: one pass over the checks)
    validated_sql = (
        f"SELECT {out_cols}, p.__file, p.__line, p.__seq, p.__column, "
        f"CAST(CASE WHEN p.__column IS NOT NULL THEN {reason_case} END AS VARCHAR) AS __reason "
        f"FROM (SELECT p.*, CAST({col_case} AS VARCHAR) AS __column FROM "
        f"(SELECT t.*, {', '.join(parsed)} FROM "
        f"(SELECT r.__file, r.__line, r.__seq, {', '.join(texts)} FROM ({raw_select}) r) t) p) p"
    )
    return Plan(table=table, provided=provided, generated=generated, raw_select=raw_select, validated_sql=validated_sql,
                key_exprs=key_exprs if grouped else [])

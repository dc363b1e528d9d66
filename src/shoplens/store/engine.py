"""Execution engines: where warehouse SQL runs.

Every data-layer transform in shoplens is written once, as DuckDB SQL. An
:class:`Engine` runs such SQL either in the embedded DuckDB warehouse
(:class:`DuckDBEngine`, the default) or on Apache Spark (:class:`SparkEngine`,
``--engine spark``), which transpiles it to Spark SQL with sqlglot and keeps the
canonical tables as Parquet folders below the warehouse folder. Business logic is
never written twice: only storage operations (replace a table, register a view)
differ per engine, and so do the steps of an ingest that read files, materialise
relations, write a table's next version and write the quarantine (the methods below
``has_rows``; :mod:`shoplens.ingest.loader` drives them the same way on both engines).

>>> import tempfile, pathlib
>>> from shoplens.store.warehouse import Warehouse
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> engine = DuckDBEngine(wh)
>>> engine.query("SELECT count(*) AS n FROM orders")["n"].tolist()
[0]
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from shoplens.errors import ConfigError, SparkUnavailableError, UnknownTableError
from shoplens.schema import TABLES, Table, quote_identifier
from shoplens.store.files import private_dir, restrict_tree
from shoplens.store.staging import (
    ROW_COLUMNS, UNQUOTED, UNSPLITTABLE, FileRead, FileRows, ReadError, Reject, Relation, first_line, key_match,
    not_a_number, quote, repeated_keys_sql, seq_base, too_few_fields, too_many_fields,
)

if TYPE_CHECKING:  # pyspark is an optional extra, imported lazily
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from shoplens.store.warehouse import Warehouse

ENGINES = ("duckdb", "spark")


@runtime_checkable
class Engine(Protocol):
    """What shoplens needs from an engine. SQL is always DuckDB dialect."""

    name: str

    def query(self, sql: str) -> pd.DataFrame:
        """Run a SELECT and return its result as pandas (small results only)."""

    def execute(self, sql: str) -> None:
        """Run a statement for its effect (DDL, SET)."""

    def materialise(self, name: str, sql: str) -> None:
        """Compute ``sql`` now and keep it as the temporary table ``name``."""

    def create_view(self, name: str, sql: str) -> None:
        """Name a SELECT (computed when used)."""

    def count(self, sql: str) -> int:
        """Number of rows of a SELECT."""

    def has_rows(self, table: str) -> bool:
        """Whether a warehouse table holds at least one row."""

    def first(self, sql: str) -> tuple[Any, ...]:
        """The first row of a SELECT."""

    def sql_error(self, exc: BaseException) -> str | None:
        """The first line of ``exc`` when it is an error of this engine's SQL, else None."""

    def set_time_zone(self, zone: str) -> None:
        """Zone in which naive timestamps in source text are read."""

    def column_types(self, rel: Relation | str) -> dict[str, str]:
        """Column -> DuckDB type name of a relation."""

    # -- the steps of an ingest that each engine does its own way (shoplens.ingest.loader)
    def read_file(self, name: str, req: FileRead) -> FileRows:
        """Stage one file as relation ``name`` (raises :class:`ReadError`)."""

    def combine(self, name: str, parts: list[Relation]) -> Relation:
        """One relation over several staged files (columns matched by name)."""

    def reads_complete(self) -> bool:
        """After the first statement that scanned the files read in one pass
        (``FileRead.one_pass``): whether each was read whole (no line rejected). False: the
        caller stages them again without ``one_pass``, which reports what went wrong."""

    def on_duckdb(self, rel: Relation) -> Any:
        """Context manager: (DuckDB connection, relation) for steps written against DuckDB."""

    def set_reasons(self, rel: Relation, bad_sql: str, column: str) -> Relation:
        """Mark the rows ``bad_sql`` names as quarantined; returns the relation to read next."""

    def repeated_keys(self, name: str, keys: list[str], valid: Relation | str) -> Relation:
        """Keep as ``name`` the keys that occur more than once among the rows of ``valid``."""

    def write_first_version(self, table: Table, rows_sql: str) -> None:
        """Write the rows of ``rows_sql`` as the next version of the empty ``table``."""

    def write_changes(self, table: Table, changed: Relation) -> None:
        """Write ``table``'s next version: rows of ``changed`` replace those with their key."""

    def write_quarantine(self, run_id: str, table: str, staged: Relation, source: Relation, now: Any) -> None:
        """Add the staged rows that carry a reason to ``_quarantine`` with their raw source row."""

    def publish(self, name: str) -> None:
        """Make the next version of ``name`` current (inside the ingest's transaction)."""

    def discard_staged(self) -> None:
        """Forget next versions that were not published (the ingest failed)."""

    def end_run(self) -> None:
        """Drop the run's temporary relations."""


class DuckDBEngine:
    """Runs SQL in the warehouse's own DuckDB connection (no translation)."""

    name = "duckdb"

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        # column types of the run's relations that are views over a reader (a DESCRIBE
        # would bind the reader again, which sniffs the file) and the rejects table of each
        self._types: dict[str, dict[str, str]] = {}
        self._one_pass: dict[str, str] = {}

    @property
    def con(self) -> Any:
        return self.warehouse.con

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def materialise(self, name: str, sql: str) -> None:
        self._types.pop(name, None)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def create_view(self, name: str, sql: str) -> None:
        self._types.pop(name, None)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def count(self, sql: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0])

    def has_rows(self, table: str) -> bool:
        # fetchall closes the result (DuckDB 2 keeps it open after fetchone; a later register() would fail)
        return bool(self.con.execute(f'SELECT count(*) > 0 FROM (SELECT 1 FROM {quote_identifier(table)} LIMIT 1)').fetchall()[0][0])

    def first(self, sql: str) -> tuple[Any, ...]:
        """The first row of a SELECT (e.g. several counts in one pass)."""
        return tuple(self.con.execute(sql).fetchall()[0])

    def sql_error(self, exc: BaseException) -> str | None:
        """The first line of ``exc`` when it is an error of this engine's SQL, else None."""
        return first_line(str(exc)) if isinstance(exc, duckdb.Error) else None

    def set_time_zone(self, zone: str) -> None:
        """Zone in which naive timestamps in source text are read (UTC otherwise)."""
        self.con.execute(f"SET TimeZone = '{zone}'")

    def column_types(self, rel: Relation | str) -> dict[str, str]:
        """Column -> DuckDB type of a relation."""
        if str(rel) in self._types:
            return dict(self._types[str(rel)])
        return {name: typ for name, typ, *_ in self.con.execute(f"DESCRIBE {rel}").fetchall()}

    # -- ingest steps (one orchestrator, shoplens.ingest.loader, drives them on either engine)
    def read_file(self, name: str, req: FileRead) -> FileRows:
        """Read one file into the temp relation ``name`` (source columns + ``__file``,
        ``__line``, ``__seq``), streamed: DuckDB reads and spills, so memory stays bounded.

        CSV: every value is text except the columns ``req.typed`` names (read as DOUBLE by
        the reader itself, faster than text + cast); lines the reader cannot split are
        rejects, with their line, and the kept rows keep their true line numbers.
        """
        raw = f"{name}_read"
        path = "'" + str(req.path).replace("'", "''") + "'"
        rejects: list[Reject] = []
        self._types.pop(name, None)
        self._one_pass.pop(name, None)
        self._drop_temp(name)  # staged again after a one-pass read: a view then, a table now
        if req.one_pass and req.fmt == "csv":
            try:
                return self._view_csv(name, path, req)
            except duckdb.Error as exc:
                raise _read_error(exc) from None
        try:
            if req.fmt == "parquet":
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_parquet({path})")
            elif req.fmt == "jsonl":
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_json({path}, format='newline_delimited', "
                    f"records=true, sample_size=-1, maximum_object_size=67108864)")
            else:
                rejects = self._read_csv(raw, path, req)
        except duckdb.Error as exc:
            raise _read_error(exc) from None
        rows = int(self.con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0])
        columns = [r[0] for r in self.con.execute(f"DESCRIBE {raw}").fetchall()]
        label = "'" + req.label.replace("'", "''") + "'"
        base, first = seq_base(req.index), req.first_line
        if rejects:
            # rejected lines leave gaps in the row ids; rebuild each kept row's line
            import numpy as np
            import pyarrow as pa

            total = rows + len(rejects)
            every = np.arange(first, first + total, dtype=np.int64)
            kept = np.setdiff1d(every, np.array([r.line for r in rejects], dtype=np.int64), assume_unique=True)[:rows]
            self.con.register(f"{name}_lines", pa.table({"__rowid": np.arange(rows, dtype=np.int64), "__line": kept}))
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT s.*, {label} AS __file, l.__line, "
                f"{base} + l.__line AS __seq FROM (SELECT rowid AS __rowid, * FROM {raw}) s "
                f"JOIN {name}_lines l USING (__rowid)")
            self.con.execute(f"ALTER TABLE {name} DROP COLUMN __rowid")
            self.con.unregister(f"{name}_lines")
            self.con.execute(f"DROP TABLE {raw}")
        else:
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT *, {label} AS __file, "
                f"rowid + {first} AS __line, rowid + {first} + {base} AS __seq FROM {raw}")
        return FileRows(Relation(name, (*columns, *ROW_COLUMNS)), rows + len(rejects), columns, rejects)

    def _drop_temp(self, name: str) -> None:
        for (kind,) in self.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_catalog = 'temp' AND table_name = ?", [name]
        ).fetchall():
            self.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{quote(name)}")

    def _csv_options(self, raw: str, path: str, req: FileRead) -> tuple[str, list[str], list[str]]:
        """read_csv options for ``req`` (rejects kept in ``{raw}_rej``), the header and the
        columns read as numbers (the header is read only when those are asked for)."""
        opts = f"all_varchar=true, header=true, store_rejects=true, rejects_table='{raw}_rej', rejects_scan='{raw}_scan'"
        delim = ", delim='" + req.delimiter.replace("'", "''") + "'" if req.delimiter else ""
        opts += delim
        header: list[str] = []
        typed: list[str] = []
        if req.typed is not None or req.one_pass:
            header = [r[0] for r in self.con.execute(
                f"DESCRIBE SELECT * FROM read_csv({path}, all_varchar=true, header=true{delim})").fetchall()]
            typed = req.typed(header) if req.typed is not None else []
            if typed:
                opts += ", types={" + ", ".join("'" + c.replace("'", "''") + "': 'DOUBLE'" for c in typed) + "}"
        return opts, header, typed

    def _view_csv(self, name: str, path: str, req: FileRead) -> FileRows:
        """One-pass read: ``name`` is a view over the reader that numbers the lines as it
        reads them (a streaming ``row_number() OVER ()`` follows the file's order), so the
        first statement that uses it reads the file; nothing is materialised here. The rows
        and the rejects are known after that statement (:meth:`reads_complete`)."""
        raw = f"{name}_read"
        opts, header, typed = self._csv_options(raw, path, req)
        label = "'" + req.label.replace("'", "''") + "'"
        base, first = seq_base(req.index), req.first_line
        n = "__line_in_file"
        # the label as a one-value ENUM: one byte a row wherever rows are staged, not a copy of the path
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * EXCLUDE ({n}), CAST({label} AS ENUM({label})) AS __file, "
            f"{n} + {first - 1} AS __line, {n} + {first - 1 + base} AS __seq "
            f"FROM (SELECT *, row_number() OVER () AS {n} FROM read_csv({path}, {opts}))")
        self._types[name] = {**{c: "DOUBLE" if c in typed else "VARCHAR" for c in header},
                             "__file": f"ENUM({label})", "__line": "BIGINT", "__seq": "BIGINT"}
        self._one_pass[name] = f"{raw}_rej"
        return FileRows(Relation(name, (*header, *ROW_COLUMNS)), None, header, [])

    def reads_complete(self) -> bool:
        """Whether every file read in one pass since the last call was read whole: no line
        rejected (a rejected line shifts the numbers of the lines after it)."""
        pending, self._one_pass = self._one_pass, {}
        for rej in pending.values():
            try:
                if self.con.execute(f"SELECT count(*) FROM {rej}").fetchall()[0][0]:
                    return False
            except duckdb.CatalogException:  # never scanned
                return False
        return True

    def _read_csv(self, raw: str, path: str, req: FileRead) -> list[Reject]:
        opts, _, _ = self._csv_options(raw, path, req)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_csv({path}, {opts})")
        found = self.con.execute(
            f"SELECT line, column_name, error_type, error_message FROM {raw}_rej ORDER BY line").fetchall()
        self.con.execute(f"DROP TABLE IF EXISTS {raw}_rej")
        self.con.execute(f"DROP TABLE IF EXISTS {raw}_scan")
        bad_encoding = [r for r in found if "ENCODING" in str(r[2]).upper()]
        if bad_encoding:
            raise ReadError("encoding", line=int(bad_encoding[0][0]))
        rejects: list[Reject] = []
        seen: set[int] = set()
        for line, col, etype, emsg in found:  # one entry per line: its first error
            if int(line) not in seen:
                seen.add(int(line))
                rejects.append(Reject(int(line), col, _reject_reason(etype, emsg)))
        return rejects

    def combine(self, name: str, parts: list[Relation]) -> Relation:
        """One relation over the staged files of a run (columns matched by name); one file
        is its own relation."""
        if len(parts) == 1:
            return Relation(parts[0].name, tuple(self.column_types(parts[0])))
        self.create_view(name, " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts))
        return Relation(name, tuple(self.column_types(name)))

    @contextmanager
    def on_duckdb(self, rel: Relation) -> Iterator[tuple[Any, Relation]]:
        """(connection, relation) for steps written against DuckDB (the privacy stage):
        here the relation itself, changed in place."""
        yield self.con, rel

    def set_reasons(self, rel: Relation, bad_sql: str, column: str) -> Relation:
        """Mark the rows of ``rel`` that ``bad_sql`` (``__seq``, ``reason``) names as
        quarantined because of ``column``; returns the relation to read next."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE __bad AS {bad_sql}")
        self.con.execute(f"UPDATE {rel} SET __reason = b.reason, __column = '{column}' "
                         f"FROM __bad b WHERE {rel}.__seq = b.__seq")
        return rel

    def repeated_keys(self, name: str, keys: list[str], valid: Relation | str) -> Relation:
        """Keep as ``name`` the keys that occur more than once among the rows of ``valid``.

        Most keys occur once, and grouping millions of distinct keys is the costly part: the
        keys' 64-bit hashes are sorted instead (NumPy, 8 bytes a row), and only rows whose
        hash repeats (a repeated key, or the rare collision) are grouped by their keys.
        """
        import numpy as np
        import pyarrow as pa

        qkeys = ", ".join(quote(k) for k in keys)
        hashes = self.con.execute(f"SELECT hash({qkeys}) AS h FROM {valid}").fetchnumpy()["h"]
        hashes = np.asarray(hashes, dtype=np.uint64)
        hashes.sort()
        again = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        del hashes
        if not len(again):
            self.materialise(name, f"SELECT {qkeys} FROM {valid} WHERE FALSE")
            return Relation(name, tuple(keys))
        self.con.register(f"{name}_hashes", pa.table({"h": again}))
        try:
            self.materialise(name, repeated_keys_sql(
                keys, f"(SELECT {qkeys} FROM {valid} WHERE hash({qkeys}) IN (SELECT h FROM {name}_hashes))"))
        finally:
            self.con.unregister(f"{name}_hashes")
        return Relation(name, tuple(keys))

    def write_first_version(self, table: Table, rows_sql: str) -> None:
        """Write the rows of ``rows_sql`` into the empty table ``table`` (in the caller's transaction)."""
        cols = ", ".join(quote(c) for c in table.column_names)
        self.con.execute(f"INSERT INTO {table.name} ({cols}) {rows_sql}")

    def write_changes(self, table: Table, changed: Relation) -> None:
        """Replace the rows of ``table`` whose key a row of ``changed`` has (``__existed``)
        and add the rest (in the caller's transaction)."""
        name = table.name
        if self.first(f"SELECT count(*) FILTER (WHERE __existed) FROM {changed}")[0]:
            self.con.execute(f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM {changed} "
                             f"WHERE {changed}.__existed AND {key_match(changed.name, name, table.key)})")
        cols = ", ".join(quote(c) for c in table.column_names)
        self.con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {changed}")

    def write_quarantine(self, run_id: str, table: str, staged: Relation, source: Relation, now: Any) -> None:
        """Add the rows of ``staged`` that carry a reason to ``_quarantine``, each with its
        raw source row (JSON)."""
        self.con.execute(
            f"INSERT INTO _quarantine SELECT ?, ?, t.__file, t.__line, t.__column, t.__reason, "
            f"to_json(s)::VARCHAR, ? FROM {staged} t LEFT JOIN {source} s USING (__seq) WHERE t.__reason IS NOT NULL",
            [run_id, table, now])

    def publish(self, name: str) -> None:
        """Nothing to do: DuckDB writes a table's next version in the caller's transaction."""

    def discard_staged(self) -> None:
        """Nothing to do: the caller's transaction rolls back what was written."""

    def end_run(self) -> None:
        """Drop the run's temporary relations; timestamps read in UTC again."""
        self._types.clear()
        self._one_pass.clear()
        try:
            self.con.execute("SET TimeZone = 'UTC'")
            for (name, kind) in self.con.execute(
                "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
            ).fetchall():
                self.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{quote(name)}")
        except duckdb.Error:
            pass


def _read_error(exc: Exception) -> ReadError:
    msg = str(exc)
    if "gzip" in msg.lower():
        return ReadError("gzip", first_line(msg))
    if "unicode" in msg.lower():
        return ReadError("encoding", first_line(msg))
    return ReadError("format", first_line(msg))


def _reject_reason(etype: str, message: str) -> str:
    """DuckDB's CSV reject (error type, message) in shoplens' words."""
    etype = str(etype).upper()
    if etype == "CAST":
        m = re.search(r'Could not convert string "(.*)" to', message)
        return not_a_number(m.group(1) if m else "?")
    if etype == "MISSING COLUMNS":
        return too_few_fields(message.split("Expected")[-1].strip())
    if etype == "TOO MANY COLUMNS":
        return too_many_fields(message.split("Expected")[-1].strip())
    if etype == "UNQUOTED VALUE":
        return UNQUOTED
    return f"unreadable line: {message.splitlines()[0] if message else etype}"


# ----------------------------------------------------------------------------------
# DuckDB SQL -> Spark SQL
# ----------------------------------------------------------------------------------

# strftime directives -> Java DateTimeFormatter letters. Written by hand because
# sqlglot's mapping gives two-letter fields ('MM', 'dd'), which Spark parses strictly,
# while DuckDB's strptime accepts '1/2/2011 8:05'; single letters accept both.
_STRFTIME_TO_JAVA = {
    "%Y": "yyyy", "%y": "yy", "%m": "M", "%-m": "M", "%d": "d", "%-d": "d", "%H": "H", "%-H": "H",
    "%I": "h", "%M": "mm", "%S": "ss", "%f": "SSSSSS", "%p": "a", "%b": "MMM", "%B": "MMMM",
    "%a": "EEE", "%A": "EEEE", "%z": "XX", "%Z": "z", "%j": "D", "%%": "%",
}


def strftime_to_java(fmt: str) -> str:
    """Translate a strptime format to a Spark datetime pattern.

    >>> strftime_to_java("%d/%m/%Y %H:%M")
    'd/M/yyyy H:mm'
    """
    out, i = [], 0
    literal: list[str] = []

    def flush() -> None:
        if literal:
            text = "".join(literal)
            out.append(text if re.fullmatch(r"[\s/:.,\-T]*", text) and "T" not in text else "'" + text.replace("'", "''") + "'")
            literal.clear()

    while i < len(fmt):
        two = fmt[i:i + 3] if fmt[i:i + 2] == "%-" else fmt[i:i + 2]
        if two in _STRFTIME_TO_JAVA:
            flush()
            out.append(_STRFTIME_TO_JAVA[two])
            i += len(two)
        else:
            literal.append(fmt[i])
            i += 1
    flush()
    return "".join(out)


def _spark_rewrite(node: exp.Expression) -> exp.Expression:
    """Rewrite the DuckDB constructs whose Spark meaning differs (see to_spark_sql)."""
    if isinstance(node, exp.Anonymous):
        fname = node.name.lower()
        args = [a.transform(_spark_rewrite) for a in node.expressions]  # replaced nodes are not revisited
        if fname == "try_strptime" and len(args) == 2 and isinstance(args[1], exp.Literal):
            return exp.Anonymous(this="TO_TIMESTAMP", expressions=[args[0], exp.Literal.string(strftime_to_java(args[1].this))])
        if fname == "timezone" and len(args) == 2:
            # DuckDB: TIMESTAMPTZ -> wall clock in UTC. Spark timestamps are instants shown
            # in the session zone, which shoplens keeps at UTC: nothing to do.
            return args[1]
        if fname == "hash":
            return exp.Anonymous(this="XXHASH64", expressions=list(args))
        if fname == "regexp_matches" and len(args) == 2:
            return exp.RegexpLike(this=args[0], expression=args[1])
    if isinstance(node, exp.DayOfWeek):
        # DuckDB: Sunday = 0 ... Saturday = 6; Spark: Sunday = 1 ... Saturday = 7
        return exp.Paren(this=exp.Sub(this=exp.DayOfWeek(this=node.this.transform(_spark_rewrite)),
                                      expression=exp.Literal.number(1)))
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # DuckDB planner hint; Spark has no such syntax
    if isinstance(node, exp.Avg) and not isinstance(node.this, exp.Distinct):
        # DuckDB's avg and '/' return DOUBLE; Spark keeps DECIMAL (avg(1.0) -> 4 decimals)
        return exp.Avg(this=exp.cast(node.this.transform(_spark_rewrite), "DOUBLE"))
    if isinstance(node, exp.Div):
        return exp.Div(this=exp.cast(node.this.transform(_spark_rewrite), "DOUBLE"),
                       expression=node.expression.transform(_spark_rewrite))
    if isinstance(node, exp.RegexpReplace):
        repl = node.args.get("replacement")
        if isinstance(repl, exp.Literal) and repl.is_string:
            node.set("replacement", exp.Literal.string(re.sub(r"\\(\d)", r"$\1", repl.this)))
    if isinstance(node, exp.TimeToStr):  # strftime: Spark needs Java letters, two-digit fields
        fmt = node.args.get("format")
        if isinstance(fmt, exp.Literal):
            java = strftime_to_java(fmt.this).replace("yyyy-M", "yyyy-MM").replace("-d", "-dd")
            return exp.Anonymous(this="DATE_FORMAT", expressions=[node.this, exp.Literal.string(java)])
    if isinstance(node, exp.DataType):
        if node.this in (exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT):
            return exp.DataType.build("BIGINT")
        if node.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.TIMESTAMP):
            return exp.DataType.build("TIMESTAMP", dialect="spark")
    return node


def to_spark_sql(sql: str) -> str:
    """Transpile one DuckDB statement to Spark SQL.

    sqlglot does the dialect work; a few rewrites keep DuckDB's meaning where the same
    spelling means something else on Spark: ``hash`` (64-bit there, 32-bit murmur on
    Spark) becomes ``xxhash64``, regex back-references ``\\1`` become ``$1``,
    ``try_strptime`` formats become Java patterns, ``avg`` and ``/`` return DOUBLE as in
    DuckDB (Spark keeps DECIMAL), ``dayofweek`` counts Sunday as 0 as in DuckDB (Spark: 1),
    ``[NOT] MATERIALIZED`` CTE hints are dropped, and every timestamp is an instant kept
    in a UTC session.

    >>> to_spark_sql("SELECT hash(a, b) FROM t")
    'SELECT XXHASH64(a, b) FROM t'
    >>> to_spark_sql("SELECT avg(x), a / b FROM t")
    'SELECT AVG(CAST(x AS DOUBLE)), CAST(a AS DOUBLE) / b FROM t'
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"cannot read this SQL as DuckDB SQL: {str(exc).splitlines()[0]}") from None
    tree = tree.transform(_spark_rewrite)
    return tree.sql(dialect="spark")


# ----------------------------------------------------------------------------------
# Spark
# ----------------------------------------------------------------------------------

SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double",
               "BOOLEAN": "boolean", "TIMESTAMP": "timestamp"}

_SESSIONS: dict[str, SparkSession] = {}


# settings that keep DuckDB's semantics; all can be set per session, also over Spark Connect
_SESSION_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "static",
}


def _spark_catalogue_dir() -> str:
    """A private temporary folder for Spark's catalogue (``spark.sql.warehouse.dir``), removed
    when the process exits."""
    import atexit
    import tempfile

    path = tempfile.mkdtemp(prefix="shoplens-spark-catalogue-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def spark_session(master: str = "local[*]", *, shuffle_partitions: int | None = None,
                  conf: dict[str, str] | None = None, remote: str | None = None) -> SparkSession:
    """One SparkSession per process (Spark allows only one active context).

    The session keeps shoplens' semantics: UTC session time zone, lenient (non-ANSI)
    casts that give NULL like DuckDB's TRY_CAST, Parquet timestamps as microseconds.
    ``shuffle_partitions``: when not given, a value set outside shoplens
    (``spark-submit --conf spark.sql.shuffle.partitions=…``, ``spark-defaults.conf``)
    is kept; otherwise 8, a good size for local mode.
    ``remote``: a Spark Connect URL (``sc://host:15002``); the session is then a thin
    client of a Spark Connect server (which is the driver: it must see the warehouse's
    Parquet folder at the same path), and ``master`` is ignored.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "--engine spark needs PySpark: pip install 'shoplens[spark]' (and Java 17: apt-get install openjdk-17-jre-headless)"
        ) from None
    if remote:
        return _connect_session(remote, shuffle_partitions=shuffle_partitions, conf=conf)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if shutil.which("java") is None and not _java_home():
        raise SparkUnavailableError("--engine spark needs Java 17: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)")
    builder = SparkSession.builder.master(master).appName("shoplens")
    for k, v in _SESSION_SQL_CONF.items():
        builder = builder.config(k, v)
    builder = (
        builder
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # local mode: the driver JVM runs the tasks; SPARK_DRIVER_MEMORY raises it (a builder
        # setting would override spark-submit's own default otherwise)
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
        # MLlib's FP-growth mines its tree recursively: with the default 1 MB thread stacks a
        # StackOverflowError in a task killed the local JVM on the demo shop's baskets
        .config("spark.driver.extraJavaOptions", "-Xss64m")
        .config("spark.executor.extraJavaOptions", "-Xss64m")
        # Parquet parts and their folders owner-only (0600/0700), like every file shoplens writes,
        # whatever the umask the JVM inherited (a Python caller's is often 022)
        .config("spark.hadoop.fs.permissions.umask-mode", "077")
        # Spark's own catalogue folder defaults to ./spark-warehouse in the working directory:
        # shoplens never creates files in a folder it does not own, so it goes to a private
        # temporary folder (shoplens keeps its tables in the warehouse's Parquet folder, not there)
        .config("spark.sql.warehouse.dir", _spark_catalogue_dir())
    )
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for k, v in (conf or {}).items():
        builder = builder.config(k, v)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # JVM failed to start: a setup problem, not a bug
        raise SparkUnavailableError(f"cannot start Spark ({master}): {str(exc).splitlines()[0]}") from None
    # builder settings override spark-submit's --conf, so the local default is applied
    # only when nobody set the number of shuffle partitions
    if not shuffle_partitions and not session.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        session.conf.set("spark.sql.shuffle.partitions", "8")
    session.sparkContext.setLogLevel("FATAL")  # failures surface as exceptions
    return session


def _connect_session(remote: str, *, shuffle_partitions: int | None, conf: dict[str, str] | None) -> SparkSession:
    """A Spark Connect client session with shoplens' SQL settings (the server owns the
    JVM settings: memory, thread stacks, UI)."""
    from pyspark.sql import SparkSession

    parsed = urlsplit(remote.split(";", 1)[0])
    if parsed.scheme != "sc" or not parsed.hostname:
        raise ConfigError(f"--spark-remote {remote!r}: a Spark Connect URL looks like sc://host:15002")
    try:  # the client would retry for minutes; a server that is not there is one line, now
        socket.create_connection((parsed.hostname, parsed.port or 15002), timeout=30).close()
    except OSError as exc:
        raise SparkUnavailableError(f"cannot reach the Spark Connect server {remote}: {exc.strerror or exc} "
                                    "(start one with $SPARK_HOME/sbin/start-connect-server.sh, see docs/spark.md)") from None
    try:
        from pyspark.sql.connect import utils as connect_utils

        for check in ("require_minimum_grpc_version", "require_minimum_grpcio_status_version",
                      "require_minimum_googleapis_common_protos_version", "require_minimum_zstandard_version"):
            getattr(connect_utils, check, lambda: None)()
    except ImportError as exc:
        raise SparkUnavailableError(
            f"--spark-remote needs the Spark Connect client: pip install 'shoplens[spark]' ({str(exc).splitlines()[0]})"
        ) from None
    try:
        session = SparkSession.builder.remote(remote).appName("shoplens").getOrCreate()
        for k, v in {**_SESSION_SQL_CONF, **(conf or {})}.items():
            session.conf.set(k, v)
        if shuffle_partitions:
            session.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
        session.range(1).count()  # fail here, with one line, when no server answers
    except Exception as exc:
        if isinstance(exc, ConfigError):
            raise
        raise SparkUnavailableError(f"cannot reach the Spark Connect server {remote}: {str(exc).splitlines()[0]}") from None
    return session


def _java_home() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home) and Path(home, "bin", "java").exists()


class SparkEngine:
    """Runs shoplens SQL on Spark; canonical and result tables are Parquet folders.

    ``root``: the folder holding one Parquet folder per table (by default
    ``<warehouse folder>/<warehouse name>.spark``). On a cluster, point it at shared
    storage visible to the driver and every executor (a shared mount).
    ``local``: the warehouse's DuckDB file; a derived table that has no Parquet folder
    (a result written by a step that runs on DuckDB only) is read from it through the
    driver, so Spark transforms can join such small tables.
    """

    name = "spark"

    def __init__(self, root: str | Path, *, master: str = "local[*]", session: SparkSession | None = None,
                 shuffle_partitions: int | None = None, local: Warehouse | None = None,
                 remote: str | None = None) -> None:
        self.root = Path(root).absolute()  # executors and a Connect server resolve relative paths elsewhere
        self.local = local
        self.master = master
        self.remote = remote
        self._session = session
        self.shuffle_partitions = shuffle_partitions
        self.tmp_root = self.root / "_tmp" / uuid.uuid4().hex[:8]

    @property
    def started(self) -> bool:
        """Whether this engine has a Spark session yet."""
        return self._session is not None

    @property
    def spark(self) -> SparkSession:
        if self._session is None:
            self._session = spark_session(self.master, shuffle_partitions=self.shuffle_partitions, remote=self.remote)
        return self._session

    # -- SQL -------------------------------------------------------------------------
    def frame(self, sql: str) -> SparkFrame:
        """A lazy Spark DataFrame for one DuckDB-dialect SELECT."""
        self._register_tables(sql)
        return self.spark.sql(to_spark_sql(sql))

    def query(self, sql: str) -> pd.DataFrame:
        frame = self.frame(sql)
        out = frame.toPandas()
        # DuckDB hands DECIMAL results to pandas as float64; do the same (Spark types
        # literals like 1.0 as DECIMAL, so avg(1.0) would otherwise come back as Decimal)
        for field in frame.schema.fields:
            if field.dataType.typeName() == "decimal":
                out[field.name] = out[field.name].astype("float64")
        return out

    def execute(self, sql: str) -> None:
        self._register_tables(sql)
        self.spark.sql(to_spark_sql(sql))

    def count(self, sql: str) -> int:
        return int(self.frame(sql).count())

    def materialise(self, name: str, sql: str) -> None:
        self.save_temp(name, self.frame(sql))

    def save_temp(self, name: str, frame: SparkFrame) -> None:
        """Write ``frame`` to a temporary Parquet folder and name it (cuts the lineage,
        so later steps never recompute it)."""
        path = self.tmp_root / name
        frame.write.mode("overwrite").parquet(str(path))
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def create_view(self, name: str, sql: str) -> None:
        self.frame(sql).createOrReplaceTempView(name)

    def set_time_zone(self, zone: str) -> None:
        """Zone in which naive timestamps in source text are read (UTC otherwise)."""
        self.spark.conf.set("spark.sql.session.timeZone", zone)

    def drop_temp(self) -> None:
        for name in [t.name for t in self.spark.catalog.listTables() if t.isTemporary]:
            self.spark.catalog.dropTempView(name)
        shutil.rmtree(self.tmp_root, ignore_errors=True)
        self.tmp_root = self.root / "_tmp" / uuid.uuid4().hex[:8]

    # -- tables ----------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.root / name

    def table_exists(self, name: str) -> bool:
        return (self.table_path(name) / "_SUCCESS").exists()

    def table_names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "_SUCCESS").exists() and not p.name.startswith("."))

    def has_rows(self, table: str) -> bool:
        self._register_tables(f"SELECT * FROM {table}")
        return bool(self.spark.table(table).limit(1).count())

    def read_table(self, name: str) -> SparkFrame:
        if self.table_exists(name):
            frame = self.spark.read.parquet(str(self.table_path(name)))
            if name in TABLES:  # the data model's types, whoever wrote the Parquet (Spark or DuckDB)
                present = set(frame.columns)
                frame = frame.selectExpr(*[
                    f"CAST(`{c.name}` AS {SPARK_TYPES[c.type]}) AS `{c.name}`" if c.name in present
                    else f"CAST(NULL AS {SPARK_TYPES[c.type]}) AS `{c.name}`" for c in TABLES[name].columns])
            return frame
        if name in TABLES:
            return self.spark.createDataFrame([], self.schema_ddl(name))
        raise UnknownTableError(f"no table {name!r} in the Spark warehouse {self.root}")

    def table(self, name: str) -> pd.DataFrame:
        return self.read_table(name).toPandas()

    @staticmethod
    def schema_ddl(name: str) -> str:
        return ", ".join(f"`{c.name}` {SPARK_TYPES[c.type]}" for c in TABLES[name].columns)

    def stage_table(self, name: str, frame: SparkFrame) -> Path:
        """Write the next version of table ``name`` beside the current one; :meth:`publish`
        swaps it in. Two steps so several tables can be prepared before any changes."""
        path = self.root / f".{name}.next"
        if name in TABLES:
            cols = TABLES[name].columns
            frame = frame.selectExpr(*[f"CAST(`{c.name}` AS {SPARK_TYPES[c.type]}) AS `{c.name}`" for c in cols])
        private_dir(self.root)
        frame.write.mode("overwrite").parquet(str(path))
        restrict_tree(path)  # a session started elsewhere may not have shoplens' umask setting
        return path

    def publish(self, name: str) -> None:
        """Replace table ``name`` by its staged next version (a directory rename)."""
        nxt = self.root / f".{name}.next"
        cur = self.table_path(name)
        old = self.root / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if cur.exists():
            cur.rename(old)
        nxt.rename(cur)
        shutil.rmtree(old, ignore_errors=True)
        if self.started:  # a swap made without Spark (e.g. by an erasure) needs no JVM
            self.spark.catalog.dropTempView(name)

    def discard_staged(self) -> None:
        for p in self.root.glob(".*.next"):
            shutil.rmtree(p, ignore_errors=True)

    def write_table(self, name: str, frame: SparkFrame) -> None:
        """Replace table ``name`` with ``frame``."""
        self.stage_table(name, frame)
        self.publish(name)

    # -- ingest steps (one orchestrator, shoplens.ingest.loader, drives them on either engine)
    def first(self, sql: str) -> tuple[Any, ...]:
        """The first row of a SELECT (e.g. several counts in one pass)."""
        return tuple(self.frame(sql).first())

    def sql_error(self, exc: BaseException) -> str | None:
        """The first line of ``exc`` when it is an error of Spark SQL, else None."""
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            return first_line(str(exc))
        return None

    def column_types(self, rel: Relation | str) -> dict[str, str]:
        """Column -> DuckDB type name of a relation (Spark types mapped back)."""
        return {f.name: _DUCK_OF_SPARK.get(f.dataType.simpleString(), f.dataType.simpleString().upper())
                for f in self.spark.table(str(rel)).schema.fields}

    def read_file(self, name: str, req: FileRead) -> FileRows:
        """Read one file into the temp view ``name`` (source columns + ``__file``,
        ``__line``, ``__seq``) with the same rules as DuckDB: every CSV value is text, the
        columns ``req.typed`` names must read as numbers, a line the parser cannot split
        is a reject (with its line) rather than silently dropped."""
        try:
            return self._read_file(name, req)
        except Exception as exc:
            detail = self.sql_error(exc)
            if detail is None:
                raise
            raise ReadError("gzip" if "gzip" in detail.lower() else "format", detail) from None

    def _read_file(self, name: str, req: FileRead) -> FileRows:
        spark = self.spark
        path = str(Path(req.path).absolute())  # a Connect server or an executor has its own working directory
        corrupt = "__corrupt_record"
        if req.fmt == "parquet":
            frame = spark.read.parquet(path)
        elif req.fmt == "jsonl":
            frame = spark.read.json(path, primitivesAsString=True, mode="PERMISSIVE", columnNameOfCorruptRecord=corrupt)
        else:
            opts = {"header": "true", "sep": req.delimiter or _sniff_delimiter(req.path), "quote": '"', "escape": '"',
                    "multiLine": "true", "mode": "PERMISSIVE", "encoding": "UTF-8"}
            header = spark.read.options(**opts).csv(path).columns
            schema = ", ".join(f"`{c.replace('`', '``')}` STRING" for c in header) + f", `{corrupt}` STRING"
            frame = spark.read.options(columnNameOfCorruptRecord=corrupt, **opts).schema(schema).csv(path)
        columns = [c for c in frame.columns if c != corrupt]
        frame = _with_row_index(frame)
        label = _spark_str(req.label)
        first, base = req.first_line, seq_base(req.index)
        frame = frame.selectExpr("*", f"{label} AS __file", f"__rowid + {first} AS __line",
                                 f"__rowid + {first} + {base} AS __seq").drop("__rowid")
        rejects: list[Reject] = []
        if corrupt in frame.columns:
            frame = frame.cache()
            bad = frame.where(f"`{corrupt}` IS NOT NULL").select("__line", corrupt).collect()
            sep = opts["sep"] if req.fmt == "csv" else None
            rejects = [_unsplittable(int(r[0]), r[1], columns, sep) for r in bad]
            frame = frame.where(f"`{corrupt}` IS NULL").drop(corrupt)
        typed = req.typed(columns) if (req.typed is not None and req.fmt == "csv") else []
        if typed:
            # as DuckDB's reader with typed columns: a value that is not a number rejects
            # the line, naming the first such column
            checks = [(c, f"`{c}` IS NOT NULL AND TRY_CAST(`{c}` AS DOUBLE) IS NULL") for c in typed]
            first_bad = "CASE " + " ".join(f"WHEN {cond} THEN {_spark_str(c)}" for c, cond in checks) + " END"
            frame = frame.selectExpr("*", f"{first_bad} AS __bad_column").cache()
            for r in frame.where("__bad_column IS NOT NULL").select("__line", "__bad_column", *[f"`{c}`" for c in typed]).collect():
                rejects.append(Reject(int(r["__line"]), r["__bad_column"], not_a_number(r[r["__bad_column"]])))
            frame = frame.where("__bad_column IS NULL").drop("__bad_column")
            rejects.sort(key=lambda r: r.line)
        frame.createOrReplaceTempView(name)
        rows = frame.count() + len(rejects)
        return FileRows(Relation(name, (*columns, *ROW_COLUMNS)), rows, columns, rejects)

    def reads_complete(self) -> bool:
        """Always True: Spark reads every file whole when it is staged (``one_pass`` is ignored)."""
        return True

    def combine(self, name: str, parts: list[Relation]) -> Relation:
        """One relation over the staged files of a run (columns matched by name),
        materialised as Parquet so that later steps never read the files again."""
        union = self.spark.table(parts[0].name)
        for p in parts[1:]:
            union = union.unionByName(self.spark.table(p.name), allowMissingColumns=True)
        self.save_temp(name, union)
        return Relation(name, tuple(self.spark.table(name).columns))

    @contextmanager
    def on_duckdb(self, rel: Relation) -> Iterator[tuple[Any, Relation]]:
        """(connection, relation) for steps written against DuckDB (the privacy stage): the
        rows go through the warehouse's DuckDB connection on the driver and come back.
        Exact, but bounded by the driver's memory; a Spark-SQL version of those steps is
        the way to scale this."""
        if self.local is None:
            raise ConfigError("this Spark engine has no DuckDB warehouse to run DuckDB steps in")
        con = self.local.con
        table = self.spark.table(rel.name)
        frame = table.toArrow() if hasattr(table, "toArrow") else table.toPandas()
        con.register("__on_duckdb", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rel.sql} AS SELECT * FROM __on_duckdb")
        con.unregister("__on_duckdb")
        yield con, rel
        back = con.execute(f"SELECT * FROM {rel.sql}").df()
        con.execute(f"DROP TABLE IF EXISTS {rel.sql}")
        self.save_temp(rel.name, self.spark.createDataFrame(back, schema=table.schema))

    def set_reasons(self, rel: Relation, bad_sql: str, column: str) -> Relation:
        """Mark the rows of ``rel`` that ``bad_sql`` (``__seq``, ``reason``) names as
        quarantined because of ``column``; returns the relation to read next (Parquet is
        not updated in place: the marked rows are a new relation, named as before)."""
        self.materialise("__bad", bad_sql)
        keep = ", ".join(f"t.{quote(c)}" for c in rel.columns if c not in ("__column", "__reason"))
        checked = f"{rel.name}_checked"
        self.materialise(
            checked,
            f"SELECT {keep}, CASE WHEN b.__seq IS NOT NULL THEN '{column}' ELSE t.__column END AS __column, "
            f"COALESCE(b.reason, t.__reason) AS __reason FROM {rel} t LEFT JOIN __bad b ON t.__seq = b.__seq")
        self.spark.table(checked).createOrReplaceTempView(rel.name)
        return rel

    def repeated_keys(self, name: str, keys: list[str], valid: Relation | str) -> Relation:
        """Keep as ``name`` the keys that occur more than once among the rows of ``valid``."""
        self.materialise(name, repeated_keys_sql(keys, valid))
        return Relation(name, tuple(keys))

    def write_first_version(self, table: Table, rows_sql: str) -> None:
        """Stage ``rows_sql`` as the next version of the empty table ``table`` (:meth:`publish` swaps it in)."""
        self.stage_table(table.name, self.frame(rows_sql))

    def write_changes(self, table: Table, changed: Relation) -> None:
        """Stage the next version of ``table``: its rows whose key no row of ``changed``
        has (``__existed``), plus the rows of ``changed`` (:meth:`publish` swaps it in)."""
        name = table.name
        cols = ", ".join(quote(c) for c in table.column_names)
        self.stage_table(name, self.frame(
            f"SELECT {cols} FROM {name} WHERE NOT EXISTS (SELECT 1 FROM {changed} WHERE {changed}.__existed "
            f"AND {key_match(changed.name, name, table.key)}) UNION ALL SELECT {cols} FROM {changed}"))

    def write_quarantine(self, run_id: str, table: str, staged: Relation, source: Relation, now: Any) -> None:
        """Add the rows of ``staged`` that carry a reason to the DuckDB file's
        ``_quarantine``, each with its raw source row (JSON); they are few, so they are
        shipped to the source rows, never the other way."""
        from pyspark.sql.functions import broadcast

        if self.local is None:
            raise ConfigError("this Spark engine has no DuckDB warehouse to write the quarantine to")
        q = self.frame(f"SELECT t.__file AS file, t.__line AS line, t.__column AS \"column\", t.__reason AS reason, "
                       f"t.__seq FROM {staged} t WHERE t.__reason IS NOT NULL")
        raw = self.spark.table(source.name).selectExpr("__seq", "to_json(struct(*)) AS raw")
        rows = raw.join(broadcast(q), "__seq", "inner").select("file", "line", "column", "reason", "raw").toPandas()
        if rows.empty:
            return
        rows.insert(0, "table_name", table)
        rows.insert(0, "run_id", run_id)
        rows["quarantined_at"] = now
        con = self.local.con
        con.register("__quarantine_rows", rows)
        con.execute("INSERT INTO _quarantine SELECT run_id, table_name, file, line, \"column\", reason, raw, "
                    "quarantined_at FROM __quarantine_rows")
        con.unregister("__quarantine_rows")

    def end_run(self) -> None:
        """Drop the run's temporary relations; timestamps read in UTC again."""
        if self.started:
            self.set_time_zone("UTC")
            self.drop_temp()

    def _register_tables(self, sql: str) -> None:
        """Expose the warehouse tables a statement reads as temp views over their Parquet."""
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError:
            return
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            name = t.name
            if not name or name in ctes or name.startswith("__"):
                continue
            # registered on every statement: the session is shared by every engine of the
            # process, so a view of the same name may point at another warehouse's tables
            if name in TABLES or self.table_exists(name):
                self.read_table(name).createOrReplaceTempView(name)
            elif self.local is not None and self.local.has_table(name):
                self.from_pandas(self.local.table(name), self.local.column_types(name)).createOrReplaceTempView(name)

    def from_pandas(self, frame: pd.DataFrame, types: dict[str, str] | None = None) -> SparkFrame:
        """A Spark DataFrame from a (small) pandas frame; ``types``: DuckDB type per column
        (so an empty frame keeps its schema)."""
        types = types or {}
        fields = []
        for col in frame.columns:
            t = types.get(col) or _duck_type_of(frame[col])
            fields.append(f"`{col}` {_SPARK_OF_DUCK.get(t.upper(), 'string')}")
        data = frame.astype(object).where(frame.notna(), None)
        rows = [[_plain(v) for v in row] for row in data.values.tolist()]
        return self.spark.createDataFrame(rows, ", ".join(fields))

    def write_pandas(self, name: str, frame: pd.DataFrame, types: dict[str, str] | None = None) -> None:
        """Replace the derived table ``name`` (a Parquet folder) with a pandas frame."""
        self.write_table(name, self.from_pandas(frame, types))


_SPARK_OF_DUCK = {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "FLOAT": "float",
                  "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date", "HUGEINT": "bigint",
                  "SMALLINT": "int", "TINYINT": "int", "UBIGINT": "bigint", "UINTEGER": "bigint",
                  "TIMESTAMP WITH TIME ZONE": "timestamp"}


_DUCK_OF_SPARK = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE", "float": "FLOAT",
                  "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "date": "DATE", "smallint": "SMALLINT",
                  "tinyint": "TINYINT"}


def _unsplittable(line: int, raw: str | None, header: list[str], sep: str | None) -> Reject:
    """A line Spark's CSV reader could not fit to the header, in the words DuckDB's
    reader gives (too few / too many fields, counted with the standard csv module)."""
    if sep is not None and raw is not None:
        import csv

        fields = next(csv.reader([raw.rstrip("\r\n")], delimiter=sep, quotechar='"'), [])
        n, found = len(header), len(fields)
        if found < n:
            return Reject(line, header[found], too_few_fields(f"Number of Columns: {n} Found: {found}"))
        if found > n:
            return Reject(line, None, too_many_fields(f"Number of Columns: {n} Found: {n + 1}"))
    return Reject(line, None, UNSPLITTABLE)


def _spark_str(text: str) -> str:
    """A Spark SQL string literal (Spark escapes with backslashes, not by doubling quotes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sniff_delimiter(path: Path) -> str:
    r"""The delimiter of a CSV file (Spark's reader has no detection, DuckDB's has): the
    one of , ; | and tab that the header line holds most often, else a comma.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.csv"; _ = f.write_text("a;b;c\n1;2;3\n")
    >>> _sniff_delimiter(f)
    ';'
    """
    import gzip

    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
        header = fh.readline(1 << 16).decode("utf-8", errors="replace")
    counts = {d: header.count(d) for d in ",;|\t"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _with_row_index(frame: Any) -> Any:
    """Add ``__rowid``: the row's position in file order (0, 1, 2...), computed in the JVM.

    ``monotonically_increasing_id`` is (partition << 33) + position within the partition
    and partitions follow file order; adding the row counts of earlier partitions gives
    contiguous positions without sending rows through Python (``zipWithIndex`` does).
    """
    from pyspark.sql import functions as F

    frame = frame.withColumn("__mid", F.monotonically_increasing_id()).withColumn("__part", F.spark_partition_id())
    frame = frame.cache()
    sizes = sorted((int(r[0]), int(r[1])) for r in frame.groupBy("__part").count().collect())
    offsets, total = [], 0
    for part, n in sizes:
        offsets.append((part, total))
        total += n
    spark = frame.sparkSession
    starts = spark.createDataFrame(offsets or [(0, 0)], "__part int, __start long")
    frame = frame.join(F.broadcast(starts), "__part")
    return frame.withColumn("__rowid", F.col("__start") + F.col("__mid") - F.shiftleft(F.col("__part").cast("long"), 33)) \
        .drop("__mid", "__part", "__start")


def _plain(value: Any) -> Any:
    """A pandas/NumPy cell as the plain Python value Spark's schema check accepts."""
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _duck_type_of(col: pd.Series) -> str:
    kind = col.dtype.kind
    if kind == "b":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "f":
        return "DOUBLE"
    if kind == "M":
        return "TIMESTAMP"
    return "VARCHAR"

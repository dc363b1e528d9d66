"""Execution engines: where warehouse SQL runs.

Every data-layer transform in shoplens is written once, as DuckDB SQL. An
:class:`Engine` runs such SQL either in the embedded DuckDB warehouse
(:class:`DuckDBEngine`, the default) or on Apache Spark (:class:`SparkEngine`,
``--engine spark``), which transpiles it to Spark SQL with sqlglot and keeps the
canonical tables as Parquet folders below the warehouse folder. Business logic is
never written twice: only storage operations (replace a table, register a view)
differ per engine.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import pandas as pd
import sqlglot
from sqlglot import exp

from shoplens.errors import ConfigError, SparkUnavailableError, UnknownTableError
from shoplens.schema import TABLES

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


class DuckDBEngine:
    """Runs SQL in the warehouse's own DuckDB connection (no translation)."""

    name = "duckdb"

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    @property
    def con(self) -> Any:
        return self.warehouse.con

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def materialise(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def count(self, sql: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0])

    def has_rows(self, table: str) -> bool:
        # fetchall closes the result (DuckDB 2 keeps it open after fetchone; a later register() would fail)
        return bool(self.con.execute(f'SELECT count(*) > 0 FROM (SELECT 1 FROM "{table}" LIMIT 1)').fetchall()[0][0])


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
        frame.write.mode("overwrite").parquet(str(path))
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
        self.root.mkdir(parents=True, exist_ok=True)
        self.stage_table(name, frame)
        self.publish(name)

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


def engine_for(warehouse: Warehouse) -> Engine:
    """The engine a warehouse was opened with (DuckDB unless ``engine="spark"``)."""
    return warehouse.engine

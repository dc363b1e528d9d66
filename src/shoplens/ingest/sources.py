"""Reading source files (CSV/TSV, Parquet, JSON Lines; optionally gzipped) into
DuckDB staging tables, streamed: DuckDB reads and spills to disk, so memory stays
bounded whatever the file size.

Every staged row keeps its file and line so that a quarantined row can be found
again. Encodings: UTF-8 (with or without BOM) is read directly; UTF-16 (BOM),
GB18030/GBK and files that mix UTF-8 and GBK lines are transcoded to UTF-8 first.
"""

from __future__ import annotations

import codecs
import re
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import duckdb
import numpy as np

from shoplens.errors import InputFileError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
SNIFF_BYTES = 1 << 20


@dataclass
class StagedFile:
    """One source file loaded into the temp table ``view`` (all source columns plus
    ``__file``, ``__line`` and ``__seq``)."""

    path: Path
    view: str
    rows: int
    columns: list[str]
    rejects: list[tuple[int, str | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        fmt = declared.lower()
        if fmt not in ("csv", "tsv", "parquet", "jsonl"):
            raise InputFileError(str(path), f"unknown format {declared!r}", hint="use csv, parquet or jsonl")
        return "csv" if fmt == "tsv" else fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".csv", ".tsv", ".txt", ".tab"):
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    head = _head(path, 64)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    return "csv"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def _head(path: Path, n: int) -> bytes:
    try:
        with _open_binary(path) as fh:
            return fh.read(n)
    except (EOFError, OSError, zlib.error):
        return b""


def check_readable(path: Path) -> None:
    """Fail early, with a clear message, on files that cannot be ingested at all."""
    if not path.exists():
        raise InputFileError(str(path), "file not found", hint="check the path and the working directory")
    if not path.is_file():
        raise InputFileError(str(path), "not a regular file")
    if path.stat().st_size == 0:
        raise InputFileError(str(path), "empty file (0 bytes)", hint="the export may have failed; export again")
    if _is_gzip(path):
        # A truncated gzip can still yield plausible rows to a streaming reader; only
        # reading to the end-of-stream marker (and CRC) proves it complete.
        total = 0
        try:
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    total += len(chunk)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputFileError(str(path), f"truncated or corrupt gzip file ({exc})",
                                 hint="download or compress it again") from None
        if not total:
            raise InputFileError(str(path), "empty file (gzip holds no data)")


def sniff_encoding(path: Path) -> str:
    """'utf-8', 'utf-16' or 'mixed' (each line UTF-8, else GB18030)."""
    sample = _head(path, SNIFF_BYTES)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the sample boundary is still UTF-8
        if exc.start >= len(sample) - 3 and len(sample) == SNIFF_BYTES:
            return "utf-8"
        return "mixed"


def _lines(path: Path) -> Iterator[bytes]:
    with _open_binary(path) as fh:
        yield from fh


def transcode(path: Path, encoding: str, out: Path) -> Path:
    """Write ``path`` as UTF-8 to ``out``, streaming.

    ``mixed`` decodes each line as UTF-8 and falls back to GB18030, which is how
    shops' exports that were concatenated from different systems look.
    """
    line_no = 0
    try:
        with open(out, "wb") as dst:
            if encoding == "mixed":
                for line_no, raw in enumerate(_lines(path), start=1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        try:
                            text = raw.decode("gb18030")
                        except UnicodeDecodeError:
                            raise InputFileError(
                                str(path), "undecodable bytes (neither UTF-8 nor GB18030)", line=line_no,
                                hint="give the file's encoding with --encoding, e.g. --encoding latin-1",
                            ) from None
                    dst.write(text.encode("utf-8"))
            else:
                try:
                    codecs.lookup(encoding)
                except LookupError:
                    raise InputFileError(str(path), f"unknown encoding {encoding!r}", hint="e.g. utf-8, gb18030, latin-1") from None
                with _open_binary(path) as src:
                    reader = codecs.getreader(encoding)(src, errors="strict")
                    for line_no, text in enumerate(reader, start=1):
                        dst.write(text.encode("utf-8"))
    except UnicodeError:
        raise InputFileError(
            str(path), f"undecodable bytes for encoding {encoding}", line=line_no + 1,
            hint="check --encoding, or leave it out to detect it",
        ) from None
    except (EOFError, zlib.error) as exc:
        raise InputFileError(str(path), f"truncated or corrupt gzip file ({exc})", hint="download or compress it again") from None
    return out


def _duck_error(path: Path, exc: Exception, what: str) -> InputFileError:
    msg = str(exc)
    if "gzip" in msg.lower() or "GZIP" in msg:
        return InputFileError(str(path), "truncated or corrupt gzip file", hint="download or compress it again")
    first = next((ln.strip() for ln in msg.splitlines() if ln.strip()), msg)
    first = first.replace("Invalid Input Error: ", "").replace("IO Error: ", "")
    return InputFileError(str(path), f"cannot read as {what}: {first}")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    index: int,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    tmp_dir: Path,
    numeric_columns: Callable[[list[str]], list[str]] | None = None,
) -> StagedFile:
    """Load one file into temp table ``__stage_{index}`` and return what was read.

    CSV columns named by ``numeric_columns(header)`` are parsed as DOUBLE by the
    reader itself (faster than text + cast); a value that is not a number becomes a
    quarantined line with its column and value.
    """
    check_readable(path)
    fmt = detect_format(path, fmt)
    table = f"__stage_{index}"
    notes: list[str] = []
    rejects: list[tuple[int, str | None, str]] = []
    first_line = 1  # line number of the first data row
    if fmt == "parquet":
        src = path
        if _is_gzip(path):
            src = tmp_dir / f"{table}.parquet"
            with gzip.open(path, "rb") as fin, open(src, "wb") as fout:
                try:
                    while chunk := fin.read(1 << 20):
                        fout.write(chunk)
                except (EOFError, OSError, zlib.error):
                    raise InputFileError(str(path), "truncated or corrupt gzip file") from None
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet({_sql_str(str(src))})")
        except duckdb.Error as exc:
            raise _duck_error(path, exc, "Parquet") from None
    else:
        enc = (encoding or "").lower().replace("_", "-") or sniff_encoding(path)
        if enc in ("utf8", "utf-8-sig"):
            enc = "utf-8"
        src = path
        if enc != "utf-8":
            src = transcode(path, enc, tmp_dir / f"{table}.utf8")
            notes.append(f"decoded as {'UTF-8 with GB18030 lines' if enc == 'mixed' else enc}")
        if fmt == "jsonl":
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM "
                    f"read_json({_sql_str(str(src))}, format='newline_delimited', records=true, "
                    f"sample_size=-1, maximum_object_size=67108864)"
                )
            except duckdb.Error as exc:
                if enc == "utf-8" and encoding is None and "unicode" in str(exc).lower():
                    return stage_file(con, path, index, fmt=fmt, encoding="mixed", delimiter=delimiter, tmp_dir=tmp_dir,
                                      numeric_columns=numeric_columns)
                raise _duck_error(path, exc, "JSON Lines") from None
        else:
            first_line = 2
            opts = "all_varchar=true, header=true, store_rejects=true, " f"rejects_table='__rej_{index}', rejects_scan='__rscan_{index}'"
            if delimiter:
                opts += f", delim={_sql_str(delimiter)}"
            elif path.name.lower().removesuffix(".gz").endswith((".tsv", ".tab")):
                opts += ", delim='\\t'"
            try:
                if numeric_columns is not None:
                    header = [r[0] for r in con.execute(
                        f"DESCRIBE SELECT * FROM read_csv({_sql_str(str(src))}, all_varchar=true, header=true"
                        + (f", delim={_sql_str(delimiter)}" if delimiter else "") + ")").fetchall()]
                    typed = numeric_columns(header)
                    if typed:
                        opts += ", types={" + ", ".join(f"{_sql_str(c)}: 'DOUBLE'" for c in typed) + "}"
                con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_csv({_sql_str(str(src))}, {opts})")
                rej = con.execute(
                    f"SELECT line, column_name, error_type, error_message FROM __rej_{index} ORDER BY line"
                ).fetchall()
            except duckdb.Error as exc:
                raise _duck_error(path, exc, "CSV") from None
            bad_encoding = [r for r in rej if "ENCODING" in str(r[2]).upper()]
            if bad_encoding:
                if enc == "utf-8" and encoding is None:
                    return stage_file(con, path, index, fmt=fmt, encoding="mixed", delimiter=delimiter, tmp_dir=tmp_dir,
                                      numeric_columns=numeric_columns)
                raise InputFileError(
                    str(path), f"undecodable bytes for encoding {enc}", line=int(bad_encoding[0][0]),
                    hint="give the right --encoding",
                )
            seen: set[int] = set()
            for line, col, etype, emsg in rej:  # one entry per line: its first error
                if int(line) not in seen:
                    seen.add(int(line))
                    rejects.append((int(line), col, _reject_reason(etype, emsg)))
            con.execute(f"DROP TABLE IF EXISTS __rej_{index}")
            con.execute(f"DROP TABLE IF EXISTS __rscan_{index}")
    rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    view = f"__src_{index}"
    file_sql = _sql_str(str(path))
    seq_base = (index + 1) * 10**12
    if rejects:
        # Rejected rows leave gaps in the line numbers; rebuild each kept row's line.
        total = rows + len(rejects)
        all_lines = np.arange(first_line, first_line + total, dtype=np.int64)
        kept = np.setdiff1d(all_lines, np.array([r[0] for r in rejects], dtype=np.int64), assume_unique=True)[:rows]
        import pyarrow as pa

        lines = pa.table({"__rowid": np.arange(rows, dtype=np.int64), "__line": kept})
        con.register(f"__lines_{index}", lines)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT s.*, {file_sql} AS __file, l.__line, "
            f"{seq_base} + l.__line AS __seq FROM (SELECT rowid AS __rowid, * FROM {table}) s "
            f"JOIN __lines_{index} l USING (__rowid)"
        )
        con.execute(f"ALTER TABLE {view} DROP COLUMN __rowid")
        con.unregister(f"__lines_{index}")
        con.execute(f"DROP TABLE {table}")
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT *, {file_sql} AS __file, "
            f"rowid + {first_line} AS __line, rowid + {first_line} + {seq_base} AS __seq FROM {table}"
        )
    return StagedFile(path=path, view=view, rows=rows + len(rejects), columns=columns, rejects=rejects, notes=notes)


def _reject_reason(etype: str, message: str) -> str:
    etype = str(etype).upper()
    if etype == "CAST":
        m = re.search(r'Could not convert string "(.*)" to', message)
        value = m.group(1)[:60] if m else "?"
        return f"cannot read '{value}' as a number"
    if etype == "MISSING COLUMNS":
        return "too few fields on this line (" + message.split("Expected")[-1].strip() + ")"
    if etype == "TOO MANY COLUMNS":
        return "too many fields on this line (" + message.split("Expected")[-1].strip() + "); a delimiter inside an unquoted value?"
    if etype == "UNQUOTED VALUE":
        return "unterminated or misplaced quote"
    return f"unreadable line: {message.splitlines()[0] if message else etype}"


def _absolute(path: Path) -> str:
    """A path as Spark must get it: absolute, since a Spark Connect server or an executor
    resolves a relative path against its own working directory, not the client's."""
    return str(Path(path).absolute())


def stage_file_spark(engine: Any, path: Path, index: int, *, fmt: str | None = None, encoding: str | None = None,
                     delimiter: str | None = None, tmp_dir: Path,
                     numeric_columns: Callable[[list[str]], list[str]] | None = None) -> tuple[Any, StagedFile]:
    """Read one file with Spark into a DataFrame with ``__file``, ``__line`` and ``__seq``.

    The same rules as :func:`stage_file`: every CSV value is text, line numbers count
    from the first data row, a line the CSV parser cannot split is a reject (quarantined)
    rather than silently dropped. Non-UTF-8 files are transcoded on the driver first.

    >>> # frame, staged = stage_file_spark(engine, Path("orders.csv"), 0, tmp_dir=tmp)  # doctest: +SKIP
    """
    check_readable(path)
    fmt = detect_format(path, fmt)
    spark = engine.spark
    notes: list[str] = []
    src = path
    first_line = 1
    corrupt = "__corrupt_record"
    if fmt == "parquet":
        if _is_gzip(path):
            src = tmp_dir / f"__stage_{index}.parquet"
            with gzip.open(path, "rb") as fin, open(src, "wb") as fout:
                while chunk := fin.read(1 << 20):
                    fout.write(chunk)
        frame = spark.read.parquet(_absolute(src))
    else:
        enc = (encoding or "").lower().replace("_", "-") or sniff_encoding(path)
        if enc in ("utf8", "utf-8-sig"):
            enc = "utf-8"
        if enc != "utf-8":
            src = transcode(path, enc, tmp_dir / f"__stage_{index}.utf8")
            notes.append(f"decoded as {'UTF-8 with GB18030 lines' if enc == 'mixed' else enc}")
        if fmt == "jsonl":
            frame = spark.read.json(_absolute(src), primitivesAsString=True, mode="PERMISSIVE", columnNameOfCorruptRecord=corrupt)
        else:
            first_line = 2
            delim = delimiter or ("\t" if path.name.lower().removesuffix(".gz").endswith((".tsv", ".tab")) else ",")
            opts = {"header": "true", "sep": delim, "quote": '"', "escape": '"', "multiLine": "true",
                    "mode": "PERMISSIVE", "encoding": "UTF-8"}
            header = spark.read.options(**opts).csv(_absolute(src)).columns
            schema = ", ".join(f"`{c.replace('`', '``')}` STRING" for c in header) + f", `{corrupt}` STRING"
            frame = spark.read.options(columnNameOfCorruptRecord=corrupt, **opts).schema(schema).csv(_absolute(src))
    columns = [c for c in frame.columns if c != corrupt]
    frame = _with_row_index(frame)
    seq_base = (index + 1) * 10**12
    frame = frame.selectExpr("*", f"{_sql_str(str(path))} AS __file", f"__rowid + {first_line} AS __line",
                             f"__rowid + {first_line} + {seq_base} AS __seq").drop("__rowid")
    rejects: list[tuple[int, str | None, str]] = []
    if corrupt in frame.columns:
        frame = frame.cache()
        bad = frame.where(f"`{corrupt}` IS NOT NULL").select("__line").collect()
        rejects = [(int(r[0]), None, "unreadable line: the fields do not fit the header (quotes or delimiters)") for r in bad]
        frame = frame.where(f"`{corrupt}` IS NULL").drop(corrupt)
    typed = numeric_columns(columns) if (numeric_columns is not None and fmt == "csv") else []
    if typed:
        # As DuckDB's CSV reader with typed columns: a value that is not a number rejects
        # the line, naming the first such column (same message as stage_file)
        checks = [(c, f"`{c}` IS NOT NULL AND TRY_CAST(`{c}` AS DOUBLE) IS NULL") for c in typed]
        first_bad = "CASE " + " ".join(f"WHEN {cond} THEN {_sql_str(c)}" for c, cond in checks) + " END"
        frame = frame.selectExpr("*", f"{first_bad} AS __bad_column").cache()
        for r in frame.where("__bad_column IS NOT NULL").select("__line", "__bad_column", *[f"`{c}`" for c in typed]).collect():
            value = str(r[r["__bad_column"]])[:60]
            rejects.append((int(r["__line"]), r["__bad_column"], f"cannot read '{value}' as a number"))
        frame = frame.where("__bad_column IS NULL").drop("__bad_column")
        rejects.sort()
    rows = frame.count() + len(rejects)
    return frame, StagedFile(path=path, view=f"__src_{index}", rows=rows, columns=columns, rejects=rejects, notes=notes)


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

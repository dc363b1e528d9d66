"""Sources: what an ingest reads, behind one interface.

A :class:`Source` stages its rows on the run's engine as one relation (its columns plus
``__file``, ``__line`` and ``__seq``) and returns a :class:`StagedFile`. Each file
format is one class: :class:`CsvSource` (CSV/TSV), :class:`JsonLinesSource`,
:class:`ParquetSource`, all optionally gzipped; :func:`open_source` picks the class for
a path (declared format, else the file name, else the first bytes). A new kind of input
(another format, the event stream) is a new class: the orchestrator
(:mod:`shoplens.ingest.loader`) and the engines do not change.

What is the same whatever the engine is decided here, once: the checks that a file can
be read at all, encodings (UTF-8 with or without BOM read directly; UTF-16 (BOM),
GB18030/GBK and files that mix UTF-8 and GBK lines transcoded to UTF-8 first), and the
wording of every error. Only the reading itself is an engine method
(:meth:`~shoplens.store.engine.DuckDBEngine.read_file`).

>>> type(open_source("orders.csv.gz")).__name__, type(open_source("events", fmt="jsonl")).__name__
('CsvSource', 'JsonLinesSource')
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from shoplens.errors import InputFileError
from shoplens.store.engine import Engine
from shoplens.store.staging import FileRead, ReadError, Reject, Relation

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
SNIFF_BYTES = 1 << 20


@dataclass
class StagedFile:
    """One source staged on the run's engine: ``relation`` holds all its columns plus
    ``__file``, ``__line`` and ``__seq``; ``rows`` counts every data line (rejects
    included; None: not counted, the file is read in one pass with its validation);
    ``rejects``: lines the reader could not split; ``label``: the source as recorded in
    ``__file``, the quarantine and the run log."""

    label: str
    relation: Relation
    rows: int | None
    columns: list[str]
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StageOptions:
    """How a run stages its sources: ``encoding`` (None: detect), ``delimiter`` (None:
    detect), where transcoded copies go (``tmp_dir``), and ``numeric_columns``: CSV header
    -> the columns that feed a numeric canonical column directly (read as numbers);
    ``one_pass``: CSV files may be read by the statement that validates them (see
    :class:`~shoplens.store.staging.FileRead`)."""

    tmp_dir: Path
    encoding: str | None = None
    delimiter: str | None = None
    numeric_columns: Callable[[list[str]], list[str]] | None = None
    one_pass: bool = False


class Source(ABC):
    """One input of an ingest run.

    ``label`` names it in the quarantine and the run log; :meth:`stage` puts its rows on
    ``engine`` as the relation ``name`` (``index``: its position in the run, which orders
    its rows after those of earlier sources) and says what was read.
    """

    label: str

    @property
    def name(self) -> str:
        """A short name for progress messages."""
        return self.label

    @abstractmethod
    def stage(self, engine: Engine, name: str, index: int, options: StageOptions) -> StagedFile:
        """Stage this source's rows on ``engine`` as relation ``name``."""


class FileSource(Source):
    """A file in one format (optionally gzipped). Subclasses name their format and how
    they are recognised, and read through the engine's :meth:`read_file`."""

    formats: ClassVar[tuple[str, ...]] = ()  # names a mapping's ``format =`` may give
    suffixes: ClassVar[tuple[str, ...]] = ()  # file name endings (before .gz)
    fmt: ClassVar[Literal["csv", "jsonl", "parquet"]]
    what: ClassVar[str]  # the format in messages

    def __init__(self, path: str | Path, *, encoding: str | None = None, delimiter: str | None = None) -> None:
        self.path = Path(path)
        self.label = str(self.path)
        self.encoding = encoding
        self.delimiter = delimiter

    @property
    def name(self) -> str:
        return self.path.name

    @staticmethod
    def sniff(head: bytes) -> bool:
        """Whether a file's first bytes look like this format."""
        return False

    def stage(self, engine: Engine, name: str, index: int, options: StageOptions) -> StagedFile:
        check_readable(self.path)
        return self._stage(engine, name, index, options, self.encoding or options.encoding)

    def _stage(self, engine: Engine, name: str, index: int, options: StageOptions, encoding: str | None) -> StagedFile:
        enc = (encoding or "").lower().replace("_", "-") or sniff_encoding(self.path)
        if enc in ("utf8", "utf-8-sig"):
            enc = "utf-8"
        src, notes = self.path, []
        if enc != "utf-8":
            src = transcode(self.path, enc, stage_copy(options.tmp_dir, index, ".csv"))
            notes.append(f"decoded as {'UTF-8 with GB18030 lines' if enc == 'mixed' else enc}")
        try:
            read = engine.read_file(name, self._request(src, index, options))  # type: ignore[attr-defined]
        except ReadError as exc:
            if exc.kind == "encoding" and enc == "utf-8" and encoding is None:
                return self._stage(engine, name, index, options, "mixed")  # UTF-8 with GB18030 lines
            if exc.kind == "encoding" and exc.line is not None:
                raise InputFileError(self.label, f"undecodable bytes for encoding {enc}", line=exc.line,
                                     hint="give the right --encoding") from None
            raise self._error(exc) from None
        return StagedFile(self.label, read.relation, read.rows, read.columns, read.rejects, notes)

    def _request(self, src: Path, index: int, options: StageOptions) -> FileRead:
        return FileRead(src, self.label, self.fmt, index)

    def _error(self, exc: ReadError) -> InputFileError:
        if exc.kind == "gzip":
            return InputFileError(self.label, "truncated or corrupt gzip file", hint="download or compress it again")
        return InputFileError(self.label, f"cannot read as {self.what}: {exc.detail}")


class CsvSource(FileSource):
    """Delimited text (CSV, TSV; any delimiter, detected unless given). Every value is
    read as text except the numeric columns the options name."""

    formats = ("csv", "tsv")
    suffixes = (".csv", ".tsv", ".txt", ".tab")
    fmt = "csv"
    what = "CSV"

    def _request(self, src: Path, index: int, options: StageOptions) -> FileRead:
        delimiter = self.delimiter or options.delimiter
        if not delimiter and self.path.name.lower().removesuffix(".gz").endswith((".tsv", ".tab")):
            delimiter = "\t"
        return FileRead(src, self.label, "csv", index, delimiter=delimiter, typed=options.numeric_columns,
                        one_pass=options.one_pass)


class JsonLinesSource(FileSource):
    """JSON Lines: one object per line."""

    formats = ("jsonl",)
    suffixes = (".jsonl", ".ndjson", ".json")
    fmt = "jsonl"
    what = "JSON Lines"

    @staticmethod
    def sniff(head: bytes) -> bool:
        return head.lstrip().startswith(b"{")


class ParquetSource(FileSource):
    """Parquet (a gzipped Parquet file is unpacked first)."""

    formats = ("parquet",)
    suffixes = (".parquet", ".pq")
    fmt = "parquet"
    what = "Parquet"

    @staticmethod
    def sniff(head: bytes) -> bool:
        return head.startswith(PARQUET_MAGIC)

    def _stage(self, engine: Engine, name: str, index: int, options: StageOptions, encoding: str | None) -> StagedFile:
        src = self.path
        if _is_gzip(self.path):
            src = stage_copy(options.tmp_dir, index, ".parquet")
            with gzip.open(self.path, "rb") as fin, open(src, "wb") as fout:
                try:
                    while chunk := fin.read(1 << 20):
                        fout.write(chunk)
                except (EOFError, OSError, zlib.error):
                    raise self._error(ReadError("gzip")) from None
        try:
            read = engine.read_file(name, FileRead(src, self.label, "parquet", index))  # type: ignore[attr-defined]
        except ReadError as exc:
            raise self._error(exc) from None
        return StagedFile(self.label, read.relation, read.rows, read.columns, read.rejects, [])


# the file formats, in the order a file that names none is tried (CSV last: the fallback)
FILE_SOURCES: tuple[type[FileSource], ...] = (ParquetSource, JsonLinesSource, CsvSource)


def open_source(path: str | Path, *, fmt: str | None = None, encoding: str | None = None,
                delimiter: str | None = None) -> FileSource:
    """The source reading ``path``: the declared format ``fmt``, else the one its name
    says (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``..., before ``.gz``), else the one its
    first bytes show, else CSV."""
    path = Path(path)
    kinds = FILE_SOURCES
    if fmt:
        found = [k for k in kinds if fmt.lower() in k.formats]
        if not found:
            raise InputFileError(str(path), f"unknown format {fmt!r}", hint="use csv, parquet or jsonl")
        return found[0](path, encoding=encoding, delimiter=delimiter)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    by_name = [k for k in kinds if ext in k.suffixes]
    if not by_name:
        head = _head(path, 64)
        by_name = [k for k in kinds if k.sniff(head)] or [CsvSource]
    return by_name[0](path, encoding=encoding, delimiter=delimiter)


def stage_copy(tmp_dir: Path, index: int, suffix: str) -> Path:
    """Where a run keeps its decoded or unpacked copy of source ``index``: a file in the
    folder ``__stage_INDEX`` (removed after the run). The file's own name must not start
    with ``_`` or ``.``: Spark silently skips such files, even when named explicitly.

    >>> import tempfile
    >>> stage_copy(Path(tempfile.mkdtemp()), 0, ".csv").relative_to(Path(tempfile.gettempdir())).parts[1:]
    ('__stage_0', 'source.csv')
    """
    folder = tmp_dir / f"__stage_{index}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"source{suffix}"


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



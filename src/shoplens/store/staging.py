"""The typed objects an ingest run passes between its steps and its engine.

An ingest stages its sources, validates them, checks references, classifies and
writes rows; each step reads and produces temporary relations on the engine that runs
it (DuckDB temp tables, Spark temp views over Parquet). A :class:`Relation` names one
such relation and lists its columns, so a step receives the relation it works on
instead of deriving a table name from a convention. :class:`FileRead` is what a source
asks an engine to read, :class:`FileRows` what the engine read, :class:`Reject` one
line the reader could not split, and :class:`ReadError` a file it could not read.

The reject reasons are written here once, for every engine:

>>> not_a_number("12,5")
"cannot read '12,5' as a number"
>>> Relation("__t_orders", ("order_id", "__seq")).sql
'"__t_orders"'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shoplens.schema import quote_identifier

# the one definition of identifier quoting is shoplens.schema.quote_identifier; ingest calls it `quote`
quote = quote_identifier


def key_match(a: str, b: str, keys: tuple[str, ...] | list[str]) -> str:
    """SQL: rows ``a`` and ``b`` have the same key (NULL key parts match each other).

    >>> key_match("n", "e", ["order_id"])
    'n."order_id" IS NOT DISTINCT FROM e."order_id"'
    """
    return " AND ".join(f"{a}.{quote(k)} IS NOT DISTINCT FROM {b}.{quote(k)}" for k in keys)


def repeated_keys_sql(keys: tuple[str, ...] | list[str], valid: object) -> str:
    """SQL: the keys that occur more than once among the rows of ``valid``.

    >>> repeated_keys_sql(["order_id"], "__v")
    'SELECT "order_id" FROM __v GROUP BY "order_id" HAVING count(*) > 1'
    """
    qkeys = ", ".join(quote(k) for k in keys)
    return f"SELECT {qkeys} FROM {valid} GROUP BY {qkeys} HAVING count(*) > 1"


@dataclass(frozen=True)
class Relation:
    """A temporary relation of one ingest run: its name on the engine and its columns.

    ``str(relation)`` is its name, so SQL can be written ``f"SELECT * FROM {rel}"``.

    >>> str(Relation("__src", ("order_id",)))
    '__src'
    """

    name: str
    columns: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        """The name quoted as an SQL identifier."""
        return quote(self.name)

    def __str__(self) -> str:
        return self.name


# row bookkeeping every staged source relation carries: the file as the user named it,
# the line the row starts on, and a run-wide order (file index, then line)
ROW_COLUMNS = ("__file", "__line", "__seq")


def seq_base(index: int) -> int:
    """First ``__seq`` of the ``index``-th file of a run: rows order by file, then line."""
    return (index + 1) * 10**12


@dataclass(frozen=True)
class FileRead:
    """One file an engine is asked to read into a staging relation.

    ``path``: what to read (UTF-8 text, or an uncompressed Parquet file); ``label``: the
    file as the user named it (kept in ``__file``); ``fmt``: ``csv``, ``jsonl`` or
    ``parquet``; ``typed``: CSV header -> columns to read as numbers (a line whose value
    is not a number is rejected, naming the column); ``one_pass``: the engine may leave
    the file unread until the first statement that uses the relation (DuckDB: a view over
    its CSV reader, so reading and validating are one scan); the rows and rejects are then
    known only after it (see ``Engine.reads_complete``).
    """

    path: Path
    label: str
    fmt: Literal["csv", "jsonl", "parquet"]
    index: int
    delimiter: str | None = None
    typed: Callable[[list[str]], list[str]] | None = None
    one_pass: bool = False

    @property
    def first_line(self) -> int:
        """Line number of the first data row (CSV has a header line)."""
        return 2 if self.fmt == "csv" else 1


@dataclass(frozen=True)
class Reject:
    """A line the reader could not split into the header's fields, with the reason."""

    line: int
    column: str | None
    reason: str


@dataclass
class FileRows:
    """What an engine read from one file: ``relation`` holds the source columns plus
    ``__file``, ``__line`` and ``__seq``; ``rows`` counts every data line, rejects included
    (None: not counted yet, the file is read in one pass with its validation)."""

    relation: Relation
    rows: int | None
    columns: list[str]
    rejects: list[Reject] = field(default_factory=list)


class ReadError(Exception):
    """An engine could not read a file. ``kind``: ``gzip`` (truncated or corrupt),
    ``encoding`` (bytes that are not UTF-8) or ``format`` (not readable as the format);
    ``detail``: the reader's first line; ``line``: where, when known. Sources turn it
    into one :class:`~shoplens.errors.InputFileError` message, the same on every engine."""

    def __init__(self, kind: Literal["gzip", "encoding", "format"], detail: str = "", line: int | None = None) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail
        self.line = line


def first_line(message: str) -> str:
    """The first non-empty line of an engine's error message, without its class prefix.

    >>> first_line("Invalid Input Error: bad value\\n  at line 3")
    'bad value'
    """
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), message)
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Binder Error: ", "Parser Error: "):
        line = line.replace(prefix, "")
    return line


# ---- reject reasons: one wording for every engine ---------------------------------

def not_a_number(value: object) -> str:
    """A value in a column read as a number that is not one."""
    return f"cannot read '{str(value)[:60]}' as a number"


def too_few_fields(detail: str) -> str:
    return f"too few fields on this line ({detail})"


def too_many_fields(detail: str) -> str:
    return f"too many fields on this line ({detail}); a delimiter inside an unquoted value?"


UNQUOTED = "unterminated or misplaced quote"
UNSPLITTABLE = "unreadable line: the fields do not fit the header (quotes or delimiters)"

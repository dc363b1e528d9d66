"""What every CLI command shares: settings from the global options, the warehouse,
Rich consoles, JSON output and tables.

Commands stay thin: they parse options, call one library function and print.

User text never passes through Rich markup unescaped: table cells, headers and titles
are plain :class:`~rich.text.Text`, and a message that mixes markup with values wraps
each value in :func:`rich.markup.escape` (``pip install 'shoplens[spark]'`` must keep
its ``[spark]``, a product called ``[bold]`` must print as itself). The consoles do not
turn ``:name:`` codes into emoji either.

>>> rows_table([{"product": "[bold]x[/bold]"}], title="t").columns[0].header.plain
'product'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shoplens.config import Settings, load_settings
from shoplens.jsonsafe import dumps, is_missing, json_safe
from shoplens.store.warehouse import Warehouse

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def settings_from(ctx: typer.Context | None) -> Settings:
    """Settings built by the root callback (global options + env + config file)."""
    while ctx is not None:
        if isinstance(ctx.obj, Settings):
            return ctx.obj
        ctx = ctx.parent
    return load_settings()


def open_warehouse(ctx: typer.Context | None, *, read_only: bool = False) -> Warehouse:
    s = settings_from(ctx)
    return Warehouse(s.warehouse, read_only=read_only, memory_limit=s.memory_limit, threads=s.threads,
                     engine=s.engine, spark_master=s.spark_master, spark_remote=s.spark_remote)


def clean_json(o: Any) -> Any:
    """``o`` made JSON-ready: NaN, inf, NaT and pd.NA become None (see :mod:`shoplens.jsonsafe`)."""
    return json_safe(o)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout (no Rich markup); missing values are ``null``."""
    print(dumps(obj, ensure_ascii=False))


def fmt(v: Any) -> str:
    """A cell of a terminal table: missing values (None, NaN, NaT, pd.NA) are blank.

    >>> [fmt(v) for v in (None, float("nan"), pd.NaT, 1234.5, pd.Timestamp("2011-12-09 10:30"))]
    ['', '', '', '1,234.50', '2011-12-09 10:30']
    """
    if is_missing(v):
        return ""
    if isinstance(v, float):
        if math.isinf(v):
            return str(v)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.2f}" if abs(v) < 1e15 else f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def rows_table(rows: Iterable[Mapping[str, Any]], *, title: str = "", columns: list[str] | None = None) -> Table:
    """A Rich table from dict rows (numbers right-aligned and formatted); every title, header and
    cell is plain text, never read as Rich markup."""
    rows = list(rows)
    cols = columns or (list(rows[0].keys()) if rows else [])
    table = Table(title=Text(title, style="table.title") if title else None, title_justify="left",
                  header_style="bold cyan")
    for i, c in enumerate(cols):
        numeric = bool(rows) and all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
        # numbers are never cut: the header wraps instead; the first column names the row
        width = max((len(fmt(r.get(c))) for r in rows), default=0) if numeric or i == 0 else None
        table.add_column(Text(str(c)), justify="right" if numeric else "left", min_width=width)
    for r in rows:
        table.add_row(*(Text(fmt(r.get(c))) for c in cols))
    return table


def frame_table(frame: Any, *, title: str = "", max_rows: int = 30) -> Table:
    """A Rich table from a pandas DataFrame (first ``max_rows`` rows)."""
    return rows_table(frame.head(max_rows).to_dict("records"), title=title, columns=[str(c) for c in frame.columns])

"""What every CLI command shares: settings from the global options, the warehouse,
Rich consoles, JSON output, tables and the ingest progress display.

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
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from shoplens import services
from shoplens.config import Settings, load_settings
from shoplens.jsonsafe import dumps, is_missing, json_safe
from shoplens.store.warehouse import Warehouse

if TYPE_CHECKING:
    from shoplens.ingest import IngestResult

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
    """The warehouse the global options name (:func:`shoplens.services.open_warehouse`)."""
    return services.open_warehouse(settings_from(ctx), read_only=read_only)


def clean_json(o: Any) -> Any:
    """``o`` made JSON-ready: NaN, inf, NaT and pd.NA become None (see :mod:`shoplens.jsonsafe`)."""
    return json_safe(o)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout (no Rich markup); missing values are ``null``."""
    print(dumps(obj, ensure_ascii=False))


def fmt(v: Any) -> str:
    """A cell of a terminal table: missing values (None, NaN, NaT, pd.NA) are blank.

    >>> import pandas as pd
    >>> [fmt(v) for v in (None, float("nan"), pd.NaT, 1234.5, pd.Timestamp("2011-12-09 10:30"))]
    ['', '', '', '1,234.50', '2011-12-09 10:30']
    >>> fmt(["too tight", "thin fabric"])  # a list of quotes or terms: its items, not Python's brackets
    'too tight | thin fabric'
    """
    if isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray":
        return " | ".join(fmt(x) for x in v)
    if is_missing(v):
        return ""
    if isinstance(v, Decimal):  # an exact sum of money
        return money_text(v)
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


# Narrowest a text column gets before a column is left out: narrower, words break into unreadable pieces.
MIN_TEXT_WIDTH = 10


def fit_columns(rows: list[Mapping[str, Any]], cols: list[str], width: int) -> tuple[list[str], list[str]]:
    """(columns kept, columns left out) so that a table of ``rows`` fits ``width`` terminal columns:
    numbers and the first column keep their full width, text columns may wrap down to
    :data:`MIN_TEXT_WIDTH`; when even that does not fit, the right-most columns (the lower-priority
    ones: commands list the important columns first) are left out, never the first two.

    >>> rows = [{"name": "a" * 20, "revenue": 1234.5, "note": "x" * 40, "units": 10 ** 9}]
    >>> fit_columns(rows, list(rows[0]), 80)
    (['name', 'revenue', 'note', 'units'], [])
    >>> fit_columns(rows, list(rows[0]), 40)
    (['name', 'revenue'], ['note', 'units'])
    """
    def need(i: int, c: str) -> int:
        cells = [len(fmt(r.get(c))) for r in rows]
        natural = max([len(w) for w in str(c).split()] + cells + [1])  # a header wraps at its spaces
        numeric = bool(rows) and all(isinstance(r.get(c), (int, float, Decimal)) or r.get(c) is None for r in rows)
        return natural if numeric or i == 0 else min(natural, MIN_TEXT_WIDTH)

    needs = [need(i, c) for i, c in enumerate(cols)]
    kept = len(cols)
    # a Rich table with the default box: one border and two spaces of padding per column, one closing border
    while kept > 2 and sum(needs[:kept]) + 3 * kept + 1 > width:
        kept -= 1
    return cols[:kept], cols[kept:]


def rows_table(rows: Iterable[Mapping[str, Any]], *, title: str = "", columns: list[str] | None = None,
               width: int | None = None) -> Table:
    """A Rich table from dict rows (numbers right-aligned and formatted); every title, header and
    cell is plain text, never read as Rich markup. It fits ``width`` (default: the terminal's):
    text columns wrap, and the columns that would not fit even so are left out, named in the caption
    (:func:`fit_columns`)."""
    rows = list(rows)
    cols = columns or (list(rows[0].keys()) if rows else [])
    cols, left_out = fit_columns(rows, cols, width or console.width)
    caption = Text(f"Left out to fit {width or console.width} columns: {', '.join(left_out)} "
                   "(a wider terminal shows them)", style="dim") if left_out else None
    table = Table(title=Text(title, style="table.title") if title else None, title_justify="left",
                  header_style="bold cyan", caption=caption, caption_justify="left")
    for i, c in enumerate(cols):
        numeric = bool(rows) and all(isinstance(r.get(c), (int, float, Decimal)) or r.get(c) is None for r in rows)
        # numbers are never cut: the header wraps instead; the first column names the row
        width_ = max((len(fmt(r.get(c))) for r in rows), default=0) if numeric or i == 0 else None
        table.add_column(Text(str(c)), justify="right" if numeric else "left", min_width=width_)
    for r in rows:
        table.add_row(*(Text(fmt(r.get(c))) for c in cols))
    return table


def frame_table(frame: Any, *, title: str = "", max_rows: int = 30) -> Table:
    """A Rich table from a pandas DataFrame (first ``max_rows`` rows)."""
    return rows_table(frame.head(max_rows).to_dict("records"), title=title, columns=[str(c) for c in frame.columns])


def ingest_with_progress(
    wh: Warehouse,
    settings: Settings,
    console: Console,
    jobs: list[tuple[str | None, str | None, list[Path]]],
    *,
    transient: bool = False,
    **options: Any,
) -> list[IngestResult]:
    """Ingest each (table, preset, files) job with a progress bar
    (:func:`shoplens.services.ingest_files`; ``options`` go to it)."""
    results = []
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.fields[stage]} [dim]{task.fields[query]}"),
        TimeElapsedColumn(), console=console, transient=transient,
    ) as progress:
        for table, preset, files in jobs:
            label = preset or table or "?"
            task = progress.add_task(escape(f"ingest {label}"), total=1.0, stage="", query="")

            def step(msg: str, frac: float, task: int = task) -> None:
                progress.update(task, completed=frac, stage=escape(msg), query="")

            with _query_progress(wh, lambda pct, task=task: progress.update(task, query=f"{pct:.0f}%")):
                results.append(services.ingest_files(settings, wh, files, table=table, preset=preset,
                                                     progress=step, **options))
    return results


@contextmanager
def _query_progress(wh: Warehouse, show: Callable[[float], None], every: float = 0.3) -> Iterator[None]:
    """Show DuckDB's own progress of the running query (reading a large file takes
    most of an ingest) from a polling thread."""
    done = threading.Event()

    def poll() -> None:
        while not done.wait(every):
            try:
                pct = wh.con.query_progress()
            except Exception:  # no query running, or the connection is busy closing
                continue
            if pct is not None and pct >= 0:
                show(pct)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1)


def accounting_rows(results: list[IngestResult]) -> list[dict[str, Any]]:
    """One row per loaded table (tables filled from the same file indented below it)."""
    rows = []
    for r in results:
        rows.append({"table": r.table, "read": r.read, "loaded": r.loaded, "updated": r.updated,
                     "quarantined": r.quarantined, "duplicates": r.duplicates})
        for t, c in r.derived.items():
            rows.append({"table": f" + {t}", "read": c.read, "loaded": c.loaded, "updated": c.updated,
                         "quarantined": c.quarantined, "duplicates": c.duplicates})
    return rows


def money_text(d: Any) -> str:
    """An exact sum of money as the ingest shows it: cents, or the 4 places it was summed to.

    >>> from decimal import Decimal
    >>> money_text(Decimal("233935.2400")), money_text(Decimal("-0.1250")), money_text(0.0)
    ('233,935.24', '-0.1250', '0.00')
    """
    d = Decimal(str(d))
    return f"{d:,.2f}" if d == round(d, 2) else f"{d:,.4f}"


def money_rows(results: list[IngestResult]) -> list[dict[str, Any]]:
    """One row per money column summed by the ingest: the file's total (read) beside what was
    loaded, quarantined (and updated, duplicate, when any run has such money); read = the sum of
    the others, to the cent."""
    sums = [(f"{table}.{col}", m) for r in results for table, cols in r.money.items() for col, m in cols.items()]
    parts = ["loaded", *(p for p in ("updated",) if any(m.updated for _, m in sums)), "quarantined",
             *(p for p in ("duplicates",) if any(m.duplicates for _, m in sums))]
    return [{"money": name, "read": m.read, **{p: getattr(m, p) for p in parts}} for name, m in sums]


def accounting_title(results: list[IngestResult]) -> str:
    """The title of the accounting table, with the seconds the ingest took."""
    seconds = sum(r.seconds for r in results)
    return f"Ingest accounting: read = loaded + updated + quarantined + duplicates ({seconds:.1f} s)"

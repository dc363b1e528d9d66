"""``shoplens migrate --to spark|duckdb``: move a warehouse's tables to the other engine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from shoplens.cli_common import console, print_json, rows_table, settings_from


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate_cmd)


def migrate_cmd(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="engine that will hold the tables: spark or duckdb", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")] = False,
) -> None:
    """Move the warehouse's canonical tables, and every result table, to another engine.

    Every table is copied and verified (row count and a checksum of every column equal
    on both sides) before the warehouse's record switches; a failure part-way leaves the
    warehouse as it was. After `--to spark` the DuckDB file keeps a verified copy, so
    DuckDB commands and `serve` still work; after `--to duckdb` the Parquet folder is removed.

    Examples:

        shoplens migrate --to spark

        shoplens --engine spark ingest --preset online-retail more_invoices.csv
    """
    from shoplens.store.storage import migrate

    report = migrate(settings_from(ctx).warehouse, to.strip().lower())
    if json_out:
        print_json(report.to_dict())
        return
    rows = [{"table": t.name, "kind": t.kind, "rows": t.rows, "columns": t.columns, "verified": t.action}
            for t in report.tables]
    if rows:
        console.print(rows_table(rows, title=escape(f"{report.warehouse}: {report.source or 'empty'} -> {report.target}")))
    if report.note:
        console.print(report.note, markup=False)
    console.print(f"The warehouse's tables are now held by {report.target} "
                  f"({len(report.tables)} table(s) verified in {report.seconds:.1f} s).", markup=False)

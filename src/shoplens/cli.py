"""The ``shoplens`` command line.

Global options come first (``shoplens --warehouse w.duckdb status``). Each
capability package adds its commands through ``shoplens/<package>/cli.py``,
which defines ``register(app)``; this module only wires them in.

User mistakes exit with code 2 and one line on stderr; never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens import __version__
from shoplens.cli_common import console, err_console, open_warehouse, print_json, rows_table, settings_from
from shoplens.config import load_settings
from shoplens.errors import ShoplensError, UserInputError

app = typer.Typer(
    name="shoplens",
    help="Customer insight and decisions for e-commerce.\n\n"
    "Start with `shoplens demo`; load your own exports with `shoplens ingest`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

# packages adding commands through their cli.py (the demo first: it comes right after the data commands)
CAPABILITY_PACKAGES = ["demo", "privacy", "text", "customers", "recs", "decide", "demand", "campaigns", "serve",
                       "monitor", "store"]


def _version(value: bool) -> None:
    if value:
        console.print(f"shoplens {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    warehouse: Annotated[Optional[Path], typer.Option(
        "--warehouse", "-w", help="DuckDB warehouse file [env SHOPLENS_WAREHOUSE; default ./.shoplens/warehouse.duckdb]",
        show_default=False)] = None,
    engine: Annotated[Optional[str], typer.Option(help="duckdb or spark [env SHOPLENS_ENGINE]", show_default=False)] = None,
    spark_master: Annotated[Optional[str], typer.Option(help="Spark master URL when --engine spark", show_default=False)] = None,
    spark_remote: Annotated[Optional[str], typer.Option(
        help="Spark Connect URL (sc://host:port) when --engine spark [env SHOPLENS_SPARK_REMOTE]", show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")] = False,
) -> None:
    ctx.obj = load_settings(warehouse=warehouse, engine=engine, spark_master=spark_master, spark_remote=spark_remote)


@app.command("ingest")
def ingest_cmd(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(help="TABLE FILE... (or only FILE... with --preset/--mapping)", show_default=False)],
    mapping: Annotated[Optional[Path], typer.Option(help="TOML/YAML mapping of source columns to the canonical model")] = None,
    preset: Annotated[Optional[str], typer.Option(help="named mapping for a known export format (see `shoplens presets`)")] = None,
    strict: Annotated[bool, typer.Option(help="fail the whole ingest on any bad row instead of quarantining it")] = False,
    encoding: Annotated[Optional[str], typer.Option(help="source encoding (default: detected; UTF-8, UTF-16, GB18030/GBK)")] = None,
    privacy: Annotated[str, typer.Option(help="on: apply the [privacy] policy (pseudonyms, masking); off: write "
                                              "personal data as it came (recorded in _privacy_optouts)")] = "on",
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")] = False,
) -> None:
    """Load CSV/TSV, Parquet or JSON Lines files (optionally gzipped) into a canonical table.

    Bad rows are quarantined with file, line, column and reason (see `shoplens quarantine`);
    the run is atomic and idempotent, and read = loaded + updated + quarantined + duplicates.
    The shop's privacy policy is applied before anything is written (`--privacy off` opts out, logged).

    Examples:

        shoplens ingest orders orders.csv

        shoplens ingest --preset online-retail online_retail.csv.gz
    """
    from shoplens.cli_common import accounting_rows, accounting_title, ingest_with_progress
    from shoplens.ingest.mapping import Mapping
    from shoplens.schema import TABLES
    from shoplens.services import ingest_files

    if preset or mapping:
        table = args[0] if args and args[0] in TABLES and not Path(args[0]).exists() else None
        files = args[1:] if table else args
    else:
        if len(args) < 2:
            raise UserInputError("usage: shoplens ingest TABLE FILE... (or --preset NAME FILE...)")
        table, files = args[0], args[1:]
        Mapping.identity(table)  # unknown table -> clear error
    settings = settings_from(ctx)
    if privacy not in ("on", "off"):
        raise UserInputError(f"--privacy must be on or off, not {privacy!r}")
    options = {"mapping": mapping, "strict": strict, "encoding": encoding, "privacy": privacy}
    with open_warehouse(ctx) as wh:
        if json_out:
            result = ingest_files(settings, wh, files, table=table, preset=preset, **options)
            print_json(result.to_dict())
            return
        results = ingest_with_progress(wh, settings, console, [(table, preset, [Path(f) for f in files])],
                                       transient=True, **options)
    console.print(rows_table(accounting_rows(results), title=accounting_title(results)))
    for r in results:
        for note in r.notes:
            console.print(f"[dim]note: {escape(note)}[/dim]")
        if r.quarantined:
            console.print(f"{r.quarantined:,} row(s) quarantined: see `shoplens quarantine {escape(r.table)}`")


@app.command("quarantine")
def quarantine_cmd(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="canonical table name")],
    limit: Annotated[int, typer.Option(help="rows to show in the table view")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {file, line, column, reason}")] = False,
) -> None:
    """List quarantined rows of TABLE with file, line, column and reason."""
    from shoplens.schema import get_table

    get_table(table)
    from shoplens.privacy.ids import external_text

    with open_warehouse(ctx, read_only=True) as wh:
        rows = wh.query(
            'SELECT file, line, "column", reason FROM _quarantine WHERE table_name = ? ORDER BY file, line', [table]
        )
        rows["reason"] = external_text(wh, rows["reason"].tolist())  # the shop's ids, never pseudonyms
    records = rows.to_dict("records")
    if json_out:
        print_json(records)
        return
    if not records:
        console.print(f"No quarantined rows for {escape(table)}.")
        return
    console.print(rows_table(records[:limit], title=f"Quarantined rows of {table} ({len(records):,})"))


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON {tables: {NAME: {rows, min_time, max_time, last_ingest}}}")] = False,
) -> None:
    """Row counts, time ranges and last ingest of every table, and when results were computed."""
    from shoplens.store.warehouse import table_status

    with open_warehouse(ctx, read_only=True) as wh:
        tables = table_status(wh)
        computed = wh.freshness()
        from shoplens.monitor.drift import latest_drift

        drift = latest_drift(wh)
    if json_out:
        print_json({"tables": tables, "computed": computed.to_dict("records"), "drift": drift})
        return
    console.print(rows_table([{"table": k, **v} for k, v in tables.items()], title="Warehouse tables"))
    if len(computed):
        console.print(rows_table(computed.to_dict("records"), title="Computed results (last computed)"))
    if drift:
        console.print(rows_table([{k: c[k] for k in ("feature", "kind", "psi", "status")} for c in drift["checks"]],
                                 title=f"Drift at {drift['computed_at'][:16]} (PSI > 0.1 moderate, > 0.25 significant)"))


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    output: Annotated[Optional[Path], typer.Option("--output", help="HTML file to write [default: report.html beside the warehouse]",
                                                   show_default=False)] = None,
    lang: Annotated[str, typer.Option("--lang", help="language of titles and hints: en or zh")] = "en",
    json_out: Annotated[bool, typer.Option("--json", help="print JSON {path, lang, currency, sections: [{key, title, present, fill, sources}]}")] = False,
) -> None:
    """Write an HTML report of what the warehouse holds; each empty section names the command that fills it.

    Reads the warehouse read-only: the only thing written is the report file (recorded, so erasure finds it).
    """
    from shoplens.insights.shop_report import build_shop_report, write_shop_report

    if lang not in ("en", "zh"):
        raise UserInputError(f"--lang must be en or zh, not {lang!r}")
    with open_warehouse(ctx, read_only=True) as wh:
        built = build_shop_report(wh, lang=lang)  # type: ignore[arg-type]
        out = output or (wh.home / "report.html")
    with open_warehouse(ctx) as wh:  # only to record the file it writes
        path = write_shop_report(wh, out, built)
    if json_out:
        print_json({"path": str(path), **built.summary()})
        return
    console.print(rows_table([{"section": s.title, "data": "yes" if s.present else f"run `{s.fill}`"}
                              for s in built.sections], title="Report sections"))
    console.print(f"Report: [bold]{escape(str(path.resolve()))}[/bold]")


@app.command("presets")
def presets_cmd() -> None:
    """List the mapping presets for known export formats."""
    from shoplens.ingest import list_presets

    console.print(rows_table([{"preset": k, "description": v} for k, v in list_presets().items()], title="Presets"))


def _register_capabilities() -> None:
    for pkg in CAPABILITY_PACKAGES:
        name = f"shoplens.{pkg}.cli"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(app)


_register_capabilities()


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2."""
    # files other libraries create for shoplens (DuckDB's write-ahead log, Spark's Parquet parts) are
    # owner-only too, even in a folder the user made; shoplens' own writers set 0600/0700 explicitly
    os.umask(0o077)
    try:
        # without standalone mode click returns the code of a `typer.Exit(n)` instead of exiting
        result = app(standalone_mode=False)
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
    except ShoplensError as exc:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 1))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted; the warehouse is unchanged by the unfinished step")
        sys.exit(130)
    except Exception as exc:
        # usage errors (unknown option, missing argument): typer may vendor its own click,
        # so recognise them by what they can do rather than by class
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()

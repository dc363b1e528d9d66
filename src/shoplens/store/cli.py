"""``shoplens migrate --to spark|duckdb``: move a warehouse's tables to the other engine;
``shoplens shop set|show``: the shop's name, currency, time zone and language."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, print_json, rows_table, settings_from


shop_app = typer.Typer(help="The shop's own settings: name, currency, time zone, language.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate_cmd)
    app.add_typer(shop_app, name="shop")


def _show(shop: object, json_out: bool) -> None:
    from shoplens.store.shop import ShopSettings

    assert isinstance(shop, ShopSettings)
    if json_out:
        print_json(shop.to_dict())
        return
    rows = [{"setting": k, "value": "" if v is None else str(v)} for k, v in shop.to_dict().items()]
    console.print(rows_table(rows, title="Shop"))


@shop_app.command("set")
def shop_set_cmd(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Option("--name", help="the shop's name (shown in reports)", show_default=False)] = None,
    currency: Annotated[Optional[str], typer.Option("--currency", help="ISO 4217 code, e.g. USD, EUR, CNY",
                                                    show_default=False)] = None,
    timezone: Annotated[Optional[str], typer.Option("--timezone", help="IANA time zone, e.g. America/New_York",
                                                    show_default=False)] = None,
    locale: Annotated[Optional[str], typer.Option("--locale", help="en or zh", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the settings as one JSON object")] = False,
) -> None:
    """Store the shop's settings in the warehouse (only those given change).

    Money is labelled in the shop's currency (else the one the orders state); hour of day,
    weekday and the day, week and month an order falls in are the shop's local time (else UTC).

    Examples:

        shoplens shop set --name "Corner Grocer" --currency USD --timezone America/New_York

        shoplens shop set --locale zh
    """
    from shoplens.cli_common import open_warehouse
    from shoplens.store.shop import set_shop

    with open_warehouse(ctx) as wh:
        shop = set_shop(wh, name=name, currency=currency, timezone=timezone, locale=locale)
    _show(shop, json_out)


@shop_app.command("show")
def shop_show_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object {name, currency, timezone, locale}")] = False,
) -> None:
    """Show the shop's settings (unset: null; the time zone defaults to UTC).

    Example:

        shoplens shop show --json
    """
    from shoplens.cli_common import open_warehouse
    from shoplens.store.shop import read_shop

    with open_warehouse(ctx, read_only=True) as wh:
        shop = read_shop(wh)
    _show(shop, json_out)


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

"""CLI: ``shoplens events send FILE`` (a backfill of Segment / RudderStack calls, or a preset's file).

Other modules add commands to the same ``events`` group with :func:`events_group`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, print_json, rows_table, settings_from

EVENTS_HELP = ("Behaviour events (Segment / RudderStack calls): send a backfill; funnels, retention, paths, "
               "sessions and live counters.")


def events_group(app: typer.Typer) -> typer.Typer:
    """The ``events`` command group of ``app`` (created the first time), so several modules add commands to it."""
    for group in app.registered_groups:
        if group.name == "events" and group.typer_instance is not None:
            return group.typer_instance
    events_app = typer.Typer(help=EVENTS_HELP, no_args_is_help=True)
    app.add_typer(events_app, name="events")
    return events_app


def register(app: typer.Typer) -> None:
    events_group(app).command("send")(send_cmd)


def send_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON Lines of Segment/RudderStack calls (.gz too), or a preset's file",
                                         show_default=False)],
    preset: Annotated[Optional[str], typer.Option(help="read FILE in a known layout: taobao-userbehavior")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"accepted", "duplicates", "rejected", "folded"}')] = False,
) -> None:
    """Send a file of events through the collector (the same checks, de-duplication and stitching as
    `POST /api/v1/batch`) and fold them into the warehouse.

    The warehouse is written directly: while `shoplens serve` holds it, send the events to the
    server's /api/v1/batch instead.

    Examples:

        shoplens events send events.jsonl

        shoplens events send --preset taobao-userbehavior UserBehavior.csv --json
    """
    from shoplens.services import open_warehouse
    from shoplens.stream.collector import Collector, send
    from shoplens.stream.presets import read_calls

    settings = settings_from(ctx)
    calls = read_calls(file, preset)
    with open_warehouse(settings) as wh:
        sent, folded = send(Collector(wh, settings), wh, calls)
    if json_out:
        print_json({**sent.to_dict(), "folded": folded.to_dict()})
        return
    console.print(f"{sent.accepted} event(s) accepted, {sent.duplicates} duplicate(s), {len(sent.rejected)} rejected.",
                  markup=False)
    for r in sent.rejected[:10]:
        console.print(f"  rejected #{r.index}: {escape(r.reason)}")
    if len(sent.rejected) > 10:
        console.print(f"  ... and {len(sent.rejected) - 10} more (--json lists all)")
    rows = [{"table": t.removesuffix("_added"), **vars(getattr(folded, t))} for t in ("events", "orders", "order_items", "products", "customers_added")
            if getattr(folded, t).read]
    if rows:
        console.print(rows_table(rows, title="Folded into the warehouse (read = loaded + updated + quarantined + duplicates)"))
    console.print(f"{folded.identities} anonymous visitor(s) stitched to customers; "
                  f"{len(folded.customers)} customer(s) or visitor(s) changed.", markup=False)

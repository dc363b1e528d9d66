"""CLI: ``shoplens events send FILE`` (a backfill of Segment / RudderStack calls, or a preset's file) and
``shoplens --engine spark events stream --from FOLDER`` (the Structured Streaming job).

Other modules add commands to the same ``events`` group with :func:`events_group`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, print_json, rows_table, settings_from

if TYPE_CHECKING:
    from shoplens.stream.collector import FoldResult

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
    events_group(app).command("stream")(stream_cmd)


def send_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON Lines of Segment/RudderStack calls (.gz too), or a preset's file",
                                         show_default=False)],
    preset: Annotated[Optional[str], typer.Option(help="read FILE in a known layout: taobao-userbehavior")] = None,
    hand_over: Annotated[Optional[Path], typer.Option(
        "--hand-over", help="move the checked events (the durable log) into this folder for "
                            "`shoplens --engine spark events stream` instead of folding them here", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"accepted", "duplicates", "rejected", "folded"}')] = False,
) -> None:
    """Send a file of events through the collector (the same checks, de-duplication and stitching as
    `POST /api/v1/batch`) and fold them into the warehouse.

    The warehouse is written directly: while `shoplens serve` holds it, send the events to the
    server's /api/v1/batch instead.

    Examples:

        shoplens events send events.jsonl

        shoplens events send --preset taobao-userbehavior UserBehavior.csv --json

        shoplens --engine spark events send events.jsonl --hand-over spool/
    """
    from shoplens.services import open_warehouse
    from shoplens.stream.collector import Collector, send
    from shoplens.stream.presets import read_calls

    settings = settings_from(ctx)
    calls = read_calls(file, preset)
    with open_warehouse(settings) as wh:
        sent, folded = send(Collector(wh, settings), wh, calls, hand_over=hand_over)
    if json_out:
        print_json({**sent.to_dict(), "folded": folded.to_dict()})
        return
    console.print(f"{sent.accepted} event(s) accepted, {sent.duplicates} duplicate(s), {len(sent.rejected)} rejected.",
                  markup=False)
    for r in sent.rejected[:10]:
        console.print(f"  rejected #{r.index}: {escape(r.reason)}")
    if len(sent.rejected) > 10:
        console.print(f"  ... and {len(sent.rejected) - 10} more (--json lists all)")
    if hand_over is not None:
        console.print(f"Handed over to {escape(str(hand_over))} for `events stream` (nothing folded here).")
        return
    _print_fold(folded)


def stream_cmd(
    ctx: typer.Context,
    source: Annotated[Path, typer.Option("--from", help="the folder the event files arrive in", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="log: segments handed over from the collector's event log; "
                                                      "calls: one Segment/RudderStack call per line")] = "log",
    checkpoint: Annotated[Optional[Path], typer.Option(help="Spark's checkpoint folder (default: beside the warehouse, "
                                                            "one per source)", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", help="keep reading new files (a micro-batch every --interval "
                                                          "seconds) until interrupted")] = False,
    interval: Annotated[float, typer.Option(help="seconds between micro-batches with --follow")] = 1.0,
    max_files: Annotated[int, typer.Option(help="files per micro-batch")] = 100,
    json_out: Annotated[bool, typer.Option("--json", help='print {"batches", "lines", "rejected", "reasons", "folded", "synced"}')] = False,
) -> None:
    """Fold event files into a Spark warehouse with Spark Structured Streaming (needs --engine spark):
    the collector's fold, micro-batch by micro-batch, with a checkpoint so a restart reads each file once.

    Without --follow, every file in the folder now is folded and the command stops.

    Examples:

        shoplens --engine spark events stream --from spool/

        shoplens --engine spark events stream --from inbox/ --format calls --follow
    """
    from shoplens.services import open_warehouse
    from shoplens.stream.source import FolderSource
    from shoplens.stream.spark_job import run_stream

    settings = settings_from(ctx)
    src = FolderSource(source, format=fmt, max_files=max_files)

    def progress(batch_id: int, so_far: object) -> None:
        if not json_out:
            console.print(f"micro-batch {batch_id}: {getattr(so_far, 'lines', 0)} line(s) read so far", markup=False)

    with open_warehouse(settings) as wh:
        result = run_stream(wh, settings, src, checkpoint=checkpoint, follow=follow, interval=interval, on_batch=progress)
    if json_out:
        print_json(result.to_dict())
        return
    folded = result.folded
    console.print(f"{result.batches} micro-batch(es), {result.lines} line(s) from {escape(src.describe())}; "
                  f"{len(result.rejected)} rejected, {folded.skipped} already stored.")
    for reason in result.to_dict()["reasons"]:
        console.print(f"  rejected: {escape(reason)}")
    _print_fold(folded)


def _print_fold(folded: FoldResult) -> None:
    """The counts of a fold: rows per table, identities stitched, customers changed."""
    rows = [{"table": t.removesuffix("_added"), **vars(getattr(folded, t))} for t in ("events", "orders", "order_items", "products", "customers_added")
            if getattr(folded, t).read]
    if rows:
        console.print(rows_table(rows, title="Folded into the warehouse (read = loaded + updated + quarantined + duplicates)"))
    console.print(f"{folded.identities} anonymous visitor(s) stitched to customers; "
                  f"{len(folded.customers)} customer(s) or visitor(s) changed.", markup=False)

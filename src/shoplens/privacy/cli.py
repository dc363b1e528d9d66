"""``shoplens privacy scan|mask|audit`` and ``shoplens erase``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shoplens.cli_common import console, err_console, open_warehouse, print_json, rows_table, settings_from

@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr for long files (none with --json)."""
    if quiet:
        yield None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(escape(label), total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


privacy_app = typer.Typer(help="PII detection and masking, privacy audit.", no_args_is_help=True)


@privacy_app.command("scan")
def scan_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSON-lines or Parquet file")],
    column: Annotated[str, typer.Option("--column", "-c", help="text column to scan")],
    threshold: Annotated[float, typer.Option(help="minimum score of a finding (0..1)", min=0.0, max=1.0)] = 0.5,
    types: Annotated[list[str] | None, typer.Option("--type", help="only these PII types (repeatable)")] = None,
    processes: Annotated[int, typer.Option("--processes", "-j", help="scan on this many processes (large files)", min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of findings")] = False,
) -> None:
    """Find PII (phones, e-mails, IDs, cards, addresses, names...) in a text column."""
    from shoplens.privacy.files import read_table_file, scan_file

    with _progress(f"scanning {file.name}", as_json) as progress:
        findings = scan_file(file, column, threshold=threshold, types=types, progress=progress, processes=processes)
    if as_json:
        print_json([{k: f[k] for k in ("row", "type", "start", "end", "score")} for f in findings])
        return
    texts = read_table_file(file)[column].tolist()
    rows = [{**f, "text": texts[f["row"]][f["start"]:f["end"]]} for f in findings[:200]]
    console.print(rows_table(rows, title=f"{len(findings)} PII finding(s) in {file.name}:{column}"))
    if len(findings) > 200:
        console.print(f"(first 200 of {len(findings)}; use --json for all)")


@privacy_app.command("mask")
def mask_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSON-lines or Parquet file")],
    column: Annotated[str, typer.Option("--column", "-c", help="text column to mask")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write (format from its extension)")],
    operator: Annotated[str, typer.Option(help="placeholder | mask | redact | pseudonym")] = "placeholder",
    threshold: Annotated[float, typer.Option(help="minimum score of a finding (0..1)", min=0.0, max=1.0)] = 0.5,
    processes: Annotated[int, typer.Option("--processes", "-j", help="scan on this many processes (large files)", min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    """Write a copy of FILE with the PII in COLUMN replaced."""
    from shoplens.errors import UserInputError
    from shoplens.privacy.files import mask_file
    from shoplens.privacy.keys import resolve_secret

    if operator not in ("placeholder", "mask", "redact", "pseudonym"):
        raise UserInputError(f"unknown operator {operator!r}; choose one of: placeholder, mask, redact, pseudonym")
    secret = None
    if operator == "pseudonym":
        settings = settings_from(ctx)
        secret = resolve_secret(settings, settings.home)
    with _progress(f"masking {file.name}", as_json) as progress:
        summary = mask_file(file, column, output, operator, threshold=threshold, secret=secret, progress=progress,
                            processes=processes)
    if as_json:
        print_json(summary)
    else:
        console.print(f"masked {summary['rows_changed']} of {summary['rows']} row(s) -> {escape(str(summary['output']))}")


@privacy_app.command("audit")
def audit_cmd(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option("--customer", help="only this customer (the shop's id)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the append-only erasure audit trail."""
    from shoplens.privacy.erasure import audit_log

    with open_warehouse(ctx, read_only=True) as wh:
        rows = audit_log(wh, customer)
    if as_json:
        print_json({"data": rows, "count": len(rows)})
    elif not rows:
        console.print("No erasures yet." if customer is None else f"No erasures recorded for customer {escape(customer)}.")
    else:
        console.print(rows_table(rows, title=f"erasure audit ({len(rows)} record(s))"))


def erase_cmd(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option("--customer", help="erase this customer (the shop's own id)")] = None,
    verify_id: Annotated[str | None, typer.Option("--verify", help="search everything for this customer; exit 1 if found")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Erase a customer from everything shoplens holds (tables, results, quarantine, models, the exports and
    reports it wrote, vault key), or verify an erasure. Other files below the warehouse folder that name the
    customer are listed, never changed."""
    from shoplens.errors import UserInputError
    from shoplens.privacy.erasure import erase, verify

    if (customer is None) == (verify_id is None):
        raise UserInputError("give exactly one of --customer ID (erase) or --verify ID (check)")
    if customer is not None:
        with open_warehouse(ctx) as wh:
            report = erase(wh, customer, via="cli")
        if as_json:
            print_json(report.to_dict())
        else:
            rows = [{"removed from": k, "rows": v} for k, v in report.removed.items() if v]
            console.print(rows_table(rows, title=f"erased customer {escape(report.customer)}: {report.total} row(s)/item(s)"))
            _print_reported(report.reported)
            console.print(f"audit record {escape(str(report.erasure_id))} written; run "
                          f"`shoplens erase --verify {escape(report.customer)}` to check")
        return
    with open_warehouse(ctx, read_only=True) as wh:
        result = verify(wh, verify_id)  # type: ignore[arg-type]
    if as_json:
        print_json(result.to_dict())
    elif result.clean:
        console.print(f"customer {escape(result.customer)}: 0 references left in {len(result.checked)} places checked")
    else:
        rows = [{"where": k, "references": v} for k, v in result.remaining.items() if v]
        console.print(rows_table(rows, title=f"customer {escape(result.customer)}: {result.total} reference(s) remain"))
    if not as_json:
        _print_reported(result.reported)
    if not result.clean:
        if not as_json:
            err_console.print(f"{result.total} reference(s) to customer {escape(str(result.customer))} remain")
        raise SystemExit(1)  # typer.Exit is swallowed under standalone_mode=False


def _print_reported(reported: dict[str, str]) -> None:
    """The files erasure saw naming the customer and left untouched, grouped by reason."""
    from shoplens.privacy.erasure import CHANGED, OUTSIDE

    outside = [p for p, why in sorted(reported.items()) if why != CHANGED]
    changed = [p for p, why in sorted(reported.items()) if why == CHANGED]
    if outside:
        console.print("these files outside shoplens mention the customer (not modified; review them yourself): "
                      + ", ".join(escape(p if reported[p] == OUTSIDE else f"{p} ({reported[p]})") for p in outside),
                      highlight=False, soft_wrap=True)
    if changed:
        console.print("these exports were changed since shoplens wrote them and mention the customer "
                      "(not modified): " + ", ".join(escape(p) for p in changed), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
    app.command("erase")(erase_cmd)

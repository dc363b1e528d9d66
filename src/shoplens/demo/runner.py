"""The demo as a script: a fresh warehouse from the bundled shop, then each step in the order
the data flows, then one HTML report.

Steps are plain functions ``step(ctx: DemoContext) -> None`` (one module per capability in
this package) that call the services and capability functions, print to ``ctx.console`` and
add sections to ``ctx.report``. Nothing outside :mod:`shoplens.demo` imports the demo.

>>> [name for name, _ in demo_steps()][:3]
['ingest', 'privacy', 'overview']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from shoplens.config import Settings
from shoplens.datasets import demo_data_dir
from shoplens.demo import campaigns, customers, decide, demand, events, monitor, privacy, recs, text
from shoplens.demo.context import DemoContext
from shoplens.demo.shop import step_ingest, step_overview
from shoplens.errors import ConfigError
from shoplens.insights.report import Report
from shoplens.services import open_warehouse
from shoplens.store.files import register_file

Step = Callable[[DemoContext], None]

# Capability steps, in the order the data flows.
CAPABILITY_STEPS: list[tuple[str, Step]] = [
    ("privacy", privacy.run), ("text", text.run), ("customers", customers.run), ("recs", recs.run),
    ("decide", decide.run), ("demand", demand.run), ("monitor", monitor.run), ("campaigns", campaigns.run),
    # last: the streamed events add products and visitors, and no earlier figure should depend on them
    ("events", events.run),
]
# Steps that change the shop's data (the privacy step erases a customer). They run right after
# ingest, before the overview and every other figure, so that the console, the report, the API
# and the dashboard all describe the same data.
DATA_CHANGING_STEPS = ["privacy"]


def capability_steps() -> list[tuple[str, Step]]:
    """(name, step) of every capability, in the order the data flows."""
    return list(CAPABILITY_STEPS)


def demo_steps() -> list[tuple[str, Step]]:
    """Every demo step in run order: ingest, the steps that change data, the overview, then the analyses."""
    changing = [(n, fn) for n, fn in CAPABILITY_STEPS if n in DATA_CHANGING_STEPS]
    analyses = [(n, fn) for n, fn in CAPABILITY_STEPS if n not in DATA_CHANGING_STEPS]
    return [("ingest", step_ingest), *changing, ("overview", step_overview), *analyses]


def run_steps(ctx: DemoContext, steps: list[tuple[str, Step]]) -> None:
    """Run demo steps in order, timing each; after each, its summary lines (:meth:`DemoContext.say`)
    on ``ctx.story`` (a step's detail on ``ctx.console`` shows only when ``ctx.verbose``).

    On a Spark warehouse, table changes made by a step that runs on DuckDB only (the
    decide step logs decisions and rewards, text rewrites its tables) are copied to
    Spark's Parquet tables after the step (``storage.sync``), so later Spark steps see them.
    """
    wh = ctx.warehouse
    story = ctx.story or ctx.console
    for name, fn in steps:
        if ctx.verbose:
            ctx.console.rule(f"[bold]{escape(name)}")
        ctx.step = name
        t0 = time.perf_counter()
        fn(ctx)
        if name not in ("ingest", "overview"):
            from shoplens.store.storage import sync

            sync(wh)  # a no-op unless Spark holds the canonical tables and DuckDB a copy
        ctx.timings[name] = time.perf_counter() - t0
        lines = ctx.said.get(name, [])
        if not ctx.verbose or lines:
            story.print(f"[green]✓[/green] [bold]{escape(name)}[/bold] [dim]{ctx.timings[name]:.1f} s[/dim]"
                        + "".join(f"\n  {escape(line)}" for line in lines[:2]), overflow="fold")


def _prepare_fresh(settings: Settings, force: bool) -> None:
    """Remove a previous demo warehouse; refuse (unless ``force``) one that holds the shop's own data."""
    path = settings.warehouse
    if not path.exists():
        return
    from shoplens.store.storage import read_state

    with open_warehouse(settings, engine="duckdb", check_storage=False) as wh:  # only looked at, then replaced
        is_demo = wh.con.execute("SELECT count(*) FROM _computed WHERE name = 'demo'").fetchall()[0][0]
        has_data = wh.row_count("orders") > 0 or read_state(wh).canonical == "spark"
    if has_data and not is_demo and not force:
        raise ConfigError(
            f"{path} holds data that the demo did not create; use another --warehouse for the demo, "
            "or --force to replace it"
        )
    path.unlink()
    Path(str(path) + ".wal").unlink(missing_ok=True)


def detail_console(console: Console, verbose: bool) -> Console:
    """Where steps print their detail: ``console`` when verbose, else a console that keeps it unprinted."""
    if verbose:
        return console
    import io

    return Console(file=io.StringIO(), width=console.width, force_terminal=False, color_system=None)


def run_demo(settings: Settings, console: Console, *, force: bool = False, report_path: Path | None = None,
             only: list[str] | None = None, verbose: bool = False) -> Path:
    """Build a fresh demo warehouse, run every step and write the report; returns its path.

    Prints a short story (each step's summary lines, then what changed, why and what to do, and where
    the report and dashboard are); ``verbose`` prints every step's full detail too.
    """
    _prepare_fresh(settings, force)
    started = time.perf_counter()
    with open_warehouse(settings) as wh:
        wh.mark_computed("demo", "marker", info={"note": "created by shoplens demo"})
        from shoplens.insights.shop_report import shop_currency

        report = Report("shoplens demo report", "A trimmed real shop: UCI Online Retail with real review and support texts",
                        currency=shop_currency(wh))  # known once the files are in (step_ingest sets it)
        ctx = DemoContext(settings=settings, warehouse=wh, console=detail_console(console, verbose), report=report,
                          data_dir=demo_data_dir(), verbose=verbose, story=console)
        run_steps(ctx, [(n, fn) for n, fn in demo_steps() if not only or n in only or n == "ingest"])
        summary = _summary_first(ctx)
        out = report_path or (wh.home / "report.html")
        # recorded with its hash: erasure may delete a report that names the customer, and only its own
        register_file(wh, report.write(out), "report")
        wh.mark_computed("report", "report", info={"path": wh.relative_path(out)})
    console.rule()
    for line in summary:
        console.print(escape(line), overflow="fold")
    console.rule()
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s. Report: [bold]{escape(str(out.resolve()))}[/bold]")
    console.print("Dashboard: [bold]shoplens keys create --role viewer[/bold], then [bold]shoplens serve[/bold] and "
                  "open http://127.0.0.1:8000/ (the same summary on its home page); [bold]shoplens summary[/bold] "
                  "prints it again" + ("" if verbose else "; [bold]shoplens demo --verbose[/bold] shows every step's detail") + ".")
    return out


def _summary_first(ctx: DemoContext) -> list[str]:
    """Put what changed, why and what to do at the top of the report; returns its lines for the terminal."""
    from shoplens.insights.summary import shop_summary

    summary = shop_summary(ctx.warehouse)
    section = ctx.report.add_section("Summary: what changed, why, what to do", key="summary")
    section.blocks.append(summary.to_html())
    ctx.report.sections.insert(0, ctx.report.sections.pop())
    return summary.lines()

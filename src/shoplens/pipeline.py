"""The demo pipeline: a fresh warehouse from the bundled demo shop, every
capability's step, and one HTML report.

Each capability adds its step as ``shoplens/<package>/demo.py`` with a function
``run(ctx: DemoContext) -> None`` that prints to ``ctx.console`` and adds sections
to ``ctx.report``; the steps run in :data:`STEP_PACKAGES` order when present.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import plotly.express as px
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shoplens.cli_common import fmt, frame_table, rows_table
from shoplens.config import Settings
from shoplens.errors import ConfigError
from shoplens.ingest import IngestResult, ingest
from shoplens.ingest.loader import BeforeWrite, privacy_stage
from shoplens.insights.overview import overview
from shoplens.insights.report import Report, kpi_html
from shoplens.store.files import register_file
from shoplens.store.warehouse import Warehouse

# Capability steps, in the order the data flows.
STEP_PACKAGES = ["privacy", "text", "customers", "recs", "decide", "demand", "monitor"]
# Steps that change the shop's data (the privacy step erases a customer). They run right after
# ingest, before the overview and every other figure, so that the console, the report, the API
# and the dashboard all describe the same data.
DATA_CHANGING_STEPS = ["privacy"]

# (table or None for a preset, preset, file name) in load order: parents first.
DEMO_FILES: list[tuple[str | None, str | None, str]] = [
    ("customers", None, "customers.csv"),
    (None, "online-retail", "online_retail_sample.csv.gz"),
    ("reviews", None, "reviews.csv.gz"),
    ("support_messages", None, "support_messages.csv.gz"),
]


def demo_data_dir() -> Path:
    """Folder of the bundled demo shop (installed with the package)."""
    return Path(str(resources.files("shoplens.datasets") / "demo"))


@dataclass
class DemoContext:
    """What each demo step gets."""

    settings: Settings
    warehouse: Warehouse
    console: Console
    report: Report
    data_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.warehouse.home


def _ingest_hooks(settings: Settings, wh: Warehouse) -> list[BeforeWrite]:
    """The privacy stage for ``wh`` under ``settings`` (ingest applies it itself; passing these
    hooks to :func:`ingest` is harmless: they are applied once)."""
    return privacy_stage(wh, settings, "on")


def ingest_with_progress(
    wh: Warehouse,
    settings: Settings,
    console: Console,
    jobs: list[tuple[str | None, str | None, list[Path]]],
    *,
    transient: bool = False,
    **options: Any,
) -> list[IngestResult]:
    """Ingest each (table, preset, files) job with a progress bar; ``options`` go to :func:`ingest`."""
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
                results.append(
                    ingest(wh, files, table=table, preset=preset, progress=step,
                           max_future_days=settings.max_future_days, settings=settings, **options)
                )
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


def accounting_title(results: list[IngestResult]) -> str:
    seconds = sum(r.seconds for r in results)
    return f"Ingest accounting: read = loaded + updated + quarantined + duplicates ({seconds:.1f} s)"


def step_ingest(ctx: DemoContext) -> None:
    jobs = [(t, p, [ctx.data_dir / f]) for t, p, f in DEMO_FILES if (ctx.data_dir / f).exists()]
    results = ingest_with_progress(ctx.warehouse, ctx.settings, ctx.console, jobs)
    rows = accounting_rows(results)
    ctx.console.print(rows_table(rows, title=accounting_title(results)))
    import pandas as pd

    q = ctx.warehouse.query(
        "SELECT table_name AS \"table\", reason, count(*) AS rows FROM _quarantine GROUP BY ALL ORDER BY rows DESC LIMIT 10"
    )
    from shoplens.privacy.ids import external_text

    q["reason"] = external_text(ctx.warehouse, q["reason"].tolist())  # the shop's ids, never pseudonyms
    ctx.report.add_section(
        "Data", key="data",
        text="Every file of the demo shop was validated on the way in; rows that failed a check are kept in "
        "quarantine with the reason, never dropped silently.",
        tables=[("Ingest accounting", pd.DataFrame(rows)), ("Quarantine reasons", q)],
    )
    ctx.results["ingest"] = results


def step_overview(ctx: DemoContext) -> None:
    ov = overview(ctx.warehouse)
    k = ov["kpis"]
    cur = k.get("currency") or ""
    items = [
        ("customers", fmt(k["customers"])),
        ("orders", fmt(k["orders"])),
        ("net revenue", f"{cur} {fmt(k['revenue'])}"),
        ("average order value", f"{cur} {fmt(k['average_order_value'])}"),
        ("repeat-purchase rate", f"{(k['repeat_purchase_rate'] or 0):.1%}"),
        ("cancellations / returns", fmt(k["cancellations"])),
        ("period", f"{fmt(k['first_order'])[:10]} … {fmt(k['last_order'])[:10]}"),
    ]
    ctx.console.print(rows_table([{"metric": a, "value": b} for a, b in items], title="Shop overview"))
    ctx.console.print(frame_table(ov["revenue_by_month"], title="Revenue by month"))
    ctx.console.print(frame_table(ov["top_categories"], title="Top categories"))
    ctx.console.print(frame_table(ov["top_products"], title="Top products"))
    section = ctx.report.add_section("Overview", key="overview")
    section.blocks.append(kpi_html(items))
    rbm = ov["revenue_by_month"]
    ctx.report.add_figure(section, px.bar(rbm, x="month", y="revenue", title="Net revenue by month",
                                          hover_data=["orders", "customers"]))
    ctx.report.add_figure(section, px.bar(ov["top_categories"], x="revenue", y="category", orientation="h",
                                          title="Revenue by category").update_yaxes(autorange="reversed"))
    ctx.report.add_table(section, "Top products", ov["top_products"])
    ctx.results["overview"] = ov


def capability_steps() -> list[tuple[str, Callable[[DemoContext], None]]]:
    steps = []
    for pkg in STEP_PACKAGES:
        name = f"shoplens.{pkg}.demo"
        if importlib.util.find_spec(name) is not None:
            steps.append((pkg, importlib.import_module(name).run))
    return steps


def demo_steps() -> list[tuple[str, Callable[[DemoContext], None]]]:
    """Every demo step in run order: ingest, the steps that change data, the overview, then the analyses.

    >>> [name for name, _ in demo_steps()][:3]
    ['ingest', 'privacy', 'overview']
    """
    capabilities = capability_steps()
    changing = [(n, fn) for n, fn in capabilities if n in DATA_CHANGING_STEPS]
    analyses = [(n, fn) for n, fn in capabilities if n not in DATA_CHANGING_STEPS]
    return [("ingest", step_ingest), *changing, ("overview", step_overview), *analyses]


def run_steps(ctx: DemoContext, steps: list[tuple[str, Callable[[DemoContext], None]]]) -> None:
    """Run demo steps in order, timing each.

    On a Spark warehouse, table changes made by a step that runs on DuckDB only (the
    decide step logs decisions and rewards, text rewrites its tables) are copied to
    Spark's Parquet tables after the step (``storage.sync``), so later Spark steps see them.
    """
    wh = ctx.warehouse
    for name, fn in steps:
        ctx.console.rule(f"[bold]{escape(name)}")
        t0 = time.perf_counter()
        fn(ctx)
        if wh.engine_name == "spark" and name not in ("ingest", "overview"):
            from shoplens.store.storage import sync

            sync(wh)
        ctx.timings[name] = time.perf_counter() - t0


def _prepare_fresh(settings: Settings, force: bool) -> None:
    path = settings.warehouse
    if not path.exists():
        return
    from shoplens.store.storage import read_state

    with Warehouse(path, check_storage=False) as wh:  # only looked at, then replaced
        is_demo = wh.con.execute("SELECT count(*) FROM _computed WHERE name = 'demo'").fetchall()[0][0]
        has_data = wh.row_count("orders") > 0 or read_state(wh).canonical == "spark"
    if has_data and not is_demo and not force:
        raise ConfigError(
            f"{path} holds data that the demo did not create; use another --warehouse for the demo, "
            "or --force to replace it"
        )
    path.unlink()
    Path(str(path) + ".wal").unlink(missing_ok=True)


def run_demo(settings: Settings, console: Console, *, force: bool = False, report_path: Path | None = None,
             only: list[str] | None = None) -> Path:
    """Build a fresh demo warehouse, run every step and write the report; returns its path."""
    _prepare_fresh(settings, force)
    started = time.perf_counter()
    with Warehouse(settings.warehouse, memory_limit=settings.memory_limit, threads=settings.threads,
                   engine=settings.engine, spark_master=settings.spark_master,
                   spark_remote=settings.spark_remote) as wh:
        wh.mark_computed("demo", "marker", info={"note": "created by shoplens demo"})
        report = Report("shoplens demo report", "A trimmed real shop: UCI Online Retail with real review and support texts")
        ctx = DemoContext(settings=settings, warehouse=wh, console=console, report=report, data_dir=demo_data_dir())
        run_steps(ctx, [(n, fn) for n, fn in demo_steps() if not only or n in only or n == "ingest"])
        out = report_path or (wh.home / "report.html")
        # recorded with its hash: erasure may delete a report that names the customer, and only its own
        register_file(wh, report.write(out), "report")
        wh.mark_computed("report", "report", info={"path": wh.relative_path(out)})
    console.rule()
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s. Report: [bold]{escape(str(out.resolve()))}[/bold]")
    return out

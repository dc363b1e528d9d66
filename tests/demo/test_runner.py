"""The demo's short story and --verbose: a general mechanism of the runner, not of each step."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from shoplens.demo.context import DemoContext
from shoplens.demo.runner import detail_console, run_steps
from shoplens.store.warehouse import Warehouse


def _loud(ctx: DemoContext) -> None:
    for i in range(50):
        ctx.console.print(f"detail line {i}")
    ctx.say("1 product loaded")


def _quiet(ctx: DemoContext) -> None:
    ctx.console.print("only detail")


def _run(verbose: bool, folder: Path) -> str:
    out = io.StringIO()
    terminal = Console(file=out, width=80, color_system=None)
    with Warehouse(folder / "w.duckdb") as wh:  # after each step the runner syncs a Spark copy (none here)
        ctx = DemoContext(settings=None, warehouse=wh, console=detail_console(terminal, verbose),  # type: ignore[arg-type]
                          report=None, data_dir=None, verbose=verbose, story=terminal)  # type: ignore[arg-type]
        run_steps(ctx, [("loud", _loud), ("quiet", _quiet)])
    return out.getvalue()


def test_short_story_prints_each_steps_summary_lines_only(tmp_path: Path):
    text = _run(verbose=False, folder=tmp_path)
    assert "detail line" not in text and "only detail" not in text
    assert "✓ loud" in text and "1 product loaded" in text and "✓ quiet" in text
    assert len(text.splitlines()) == 3


def test_verbose_prints_the_detail_and_the_summary(tmp_path: Path):
    text = _run(verbose=True, folder=tmp_path)
    assert "detail line 49" in text and "only detail" in text and "1 product loaded" in text
    assert "─ loud ─" in text.replace("─" * 2, "─")

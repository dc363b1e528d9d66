"""``shoplens demo``: registered by :mod:`shoplens.cli` like the capabilities' commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from shoplens.cli_common import console, settings_from


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        ctx: typer.Context,
        force: Annotated[bool, typer.Option(help="replace a warehouse that holds non-demo data")] = False,
        report: Annotated[Optional[Path], typer.Option(help="where to write the HTML report [default: beside the warehouse]")] = None,
        only: Annotated[Optional[list[str]], typer.Option(help="run only these steps (repeatable)")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="print every step's full detail, not only the short story")] = False,
    ) -> None:
        """Build a fresh warehouse from the bundled demo shop, run every analysis and write an HTML report."""
        from shoplens.demo.runner import run_demo

        run_demo(settings_from(ctx), console, force=force, report_path=report, only=only, verbose=verbose)

"""CLI: ``shoplens models list|promote|rollback``, ``shoplens drift``, ``shoplens retrain``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table


def register(app: typer.Typer) -> None:
    models_app = typer.Typer(help="The model registry: versions, promotion, rollback.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("list")
    def models_list(
        ctx: typer.Context,
        name: Annotated[Optional[str], typer.Argument(help="only this model")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list")] = False,
    ) -> None:
        """Every model version with status (promoted = served), data window, metrics and code version."""
        from shoplens.store.registry import ModelRegistry

        with open_warehouse(ctx, read_only=True) as wh:
            frame = ModelRegistry(wh).list(name) if wh.has_table("_models") else None
        rows = [] if frame is None else frame.to_dict("records")
        if json_out:
            print_json(rows)
        elif rows:
            console.print(rows_table(rows, title="Models"))
        else:
            console.print("No models registered yet (they appear when a capability trains one, e.g. `shoplens demo`).")

    @models_app.command("promote")
    def models_promote(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="model name")],
        version: Annotated[int, typer.Argument(help="version to serve")],
    ) -> None:
        """Serve VERSION of NAME from now on."""
        from shoplens.store.registry import ModelRegistry

        with open_warehouse(ctx) as wh:
            ModelRegistry(wh).promote(name, version)
        console.print(f"{escape(name)}: version {version} promoted.")

    @models_app.command("rollback")
    def models_rollback(ctx: typer.Context, name: Annotated[str, typer.Argument(help="model name")]) -> None:
        """Promote the version before the current one."""
        from shoplens.store.registry import ModelRegistry

        with open_warehouse(ctx) as wh:
            version = ModelRegistry(wh).rollback(name)
        console.print(f"{escape(name)}: rolled back to version {version}.")

    @app.command("drift")
    def drift_cmd(
        ctx: typer.Context,
        recent_days: Annotated[int, typer.Option(min=1, help="size of the recent window, in days of data")] = 30,
        json_out: Annotated[bool, typer.Option("--json", help="print the checks as JSON")] = False,
    ) -> None:
        """Population stability index per feature (training window vs recent data) and text-model
        confidence drift; stored for `shoplens status`, the API and the dashboard."""
        from shoplens.monitor.drift import check_drift, latest_drift

        with open_warehouse(ctx) as wh:
            check_drift(wh, recent_days=recent_days)
            result = latest_drift(wh)
        if json_out:
            print_json(result)
            return
        import pandas as pd

        frame = pd.DataFrame(result["checks"])[["feature", "kind", "psi", "status", "reference_n", "current_n"]]
        console.print(frame_table(frame, title="Drift (PSI > 0.1 moderate, > 0.25 significant)"))

    @app.command("retrain")
    def retrain_cmd(
        ctx: typer.Context,
        if_stale: Annotated[bool, typer.Option("--if-stale", help="retrain only models that are stale or drifted")] = False,
        max_age_days: Annotated[int, typer.Option(min=1, help="a model older than this is stale")] = 30,
        json_out: Annotated[bool, typer.Option("--json", help="print the decisions as JSON")] = False,
    ) -> None:
        """Retrain the registered models (all, or with --if-stale only the stale or drifted ones) and
        record why in `_retrain_log`."""
        from shoplens.services import retrain_models

        with open_warehouse(ctx) as wh:
            rows = retrain_models(wh, if_stale=if_stale, max_age_days=max_age_days,
                                  console=None if json_out else console)
        if json_out:
            print_json(rows)
        elif rows:
            console.print(rows_table(rows, title="Retraining"))
        else:
            console.print("No retrainable models registered yet.")

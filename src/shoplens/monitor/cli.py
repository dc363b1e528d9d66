"""CLI: ``shoplens models list|promote|rollback``, ``shoplens drift``, ``shoplens retrain``,
``shoplens alerts list|check``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table, settings_from


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

    alerts_app = typer.Typer(help="Alerts: emerging complaints, drift, KPI drops, campaign verdicts.",
                             no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")

    @alerts_app.command("list")
    def alerts_list(
        ctx: typer.Context,
        kind: Annotated[Optional[str], typer.Option(
            help="only emerging_complaint, drift, kpi_drop or campaign_verdict", show_default=False)] = None,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list (with each alert's evidence)")] = False,
        lang: Annotated[str, typer.Option("--lang", help="en or zh: the alerts' words in English or Chinese")] = "en",
    ) -> None:
        """The stored alerts, newest first: what each found, when, and whether the webhook got it."""
        from shoplens.errors import UserInputError
        from shoplens.monitor.alerts import list_alerts

        if lang not in ("en", "zh"):
            raise UserInputError(f"--lang must be en or zh, not {lang!r}")
        with open_warehouse(ctx, read_only=True) as wh:
            frame = list_alerts(wh, kind=kind, lang=lang)
        if json_out:
            print_json(frame.to_dict("records"))
        elif frame.empty:
            console.print("暂无告警（运行 `shoplens alerts check` 立即评估规则）。" if lang == "zh"
                          else "No alerts yet (`shoplens alerts check` evaluates the rules now).")
        elif lang == "zh":
            shown = frame.assign(**{"时间": frame["computed_at"], "类型": frame["kind_zh"], "内容": frame["message"],
                                    "Webhook": frame["delivery_zh"]})
            console.print(frame_table(shown[["时间", "类型", "内容", "Webhook"]], title="告警"))
        else:
            console.print(frame_table(frame[["computed_at", "kind", "message", "delivery"]], title="Alerts"))

    @alerts_app.command("check")
    def alerts_check(
        ctx: typer.Context,
        json_out: Annotated[bool, typer.Option(
            "--json", help='print {"new", "quiet", "delivered", "failed", "webhook"}')] = False,
    ) -> None:
        """Evaluate the alert rules now, store the new alerts and POST them to the [alerts] webhook_url."""
        from shoplens.services import check_alerts

        settings = settings_from(ctx)
        with open_warehouse(ctx) as wh:
            result = check_alerts(settings, wh)
        if json_out:
            print_json(result)
            return
        for alert in result["new"]:
            console.print(f"[bold]{escape(alert['title'])}[/bold]: {escape(alert['message'])}")
        for rule, why in result["quiet"].items():
            console.print(f"{escape(rule)}: not checked ({escape(why)})")
        sent = (f"; webhook: {result['delivered']} delivered, {result['failed']} failed (retried at the next check)"
                if result["webhook"] else escape("; no webhook_url in [alerts]: stored only"))
        console.print(f"{len(result['new'])} new alert(s){sent}.")

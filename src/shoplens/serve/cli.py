"""CLI: ``shoplens serve``, ``shoplens keys create|list|revoke`` and ``shoplens schedule show``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, print_json, rows_table, settings_from


def register(app: typer.Typer) -> None:
    keys_app = typer.Typer(help="API keys for the REST API and the dashboard (stored hashed).", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")

    @keys_app.command("create")
    def keys_create(
        ctx: typer.Context,
        role: Annotated[str, typer.Option(help="viewer (aggregates), analyst (+ per-customer data), admin (+ writes, erasure), collector (sends events only)")],
        note: Annotated[str, typer.Option(help="what the key is for, e.g. 'storefront'")] = "",
        expires_in: Annotated[Optional[str], typer.Option(
            "--expires-in", help="the key stops working after this long: 90d, 12h, 4w", show_default=False)] = None,
        expires: Annotated[Optional[str], typer.Option(
            "--expires", help="the key works through this date (UTC), e.g. 2026-12-31", show_default=False)] = None,
        json_out: Annotated[bool, typer.Option("--json", help='print {"key", "role", "expires_at"}')] = False,
    ) -> None:
        """Create an API key. The key is printed once and only its hash is kept.

        Example: `shoplens keys create --role viewer --note storefront --expires-in 90d`
        """
        from shoplens.serve.keys import KeyStore, expiry

        store = KeyStore.for_warehouse(settings_from(ctx).warehouse)
        until = expiry(expires_in, expires)
        key = store.create(role, note=note, expires_at=until)
        stamp = until.isoformat(timespec="seconds") if until else None
        if json_out:
            print_json({"key": key, "role": role, "expires_at": stamp})
            return
        console.print(f"New {escape(role)} key (shown once, store it now){f'; it expires at {stamp}' if stamp else ''}:")
        print(key)

    @keys_app.command("list")
    def keys_list(
        ctx: typer.Context,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list")] = False,
    ) -> None:
        """List key ids, roles and notes (never the keys)."""
        from shoplens.serve.keys import KeyStore

        rows = [{"key_id": k.key_id, "role": k.role, "created_at": k.created_at, "expires_at": k.expires_at,
                 "note": k.note, "revoked": k.revoked} for k in KeyStore.for_warehouse(settings_from(ctx).warehouse).list()]
        if json_out:
            print_json(rows)
        elif rows:
            console.print(rows_table(rows, title="API keys"))
        else:
            console.print("No API keys yet: `shoplens keys create --role admin`.")

    @keys_app.command("revoke")
    def keys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="id from `shoplens keys list`")]) -> None:
        """Revoke a key; a running server refuses it from the next request on."""
        from shoplens.serve.keys import KeyStore

        KeyStore.for_warehouse(settings_from(ctx).warehouse).revoke(key_id)
        console.print(f"Revoked key {escape(key_id)}.")

    schedule_app = typer.Typer(help="The jobs `shoplens serve` runs ([schedule] in shoplens.toml).",
                               no_args_is_help=True)
    app.add_typer(schedule_app, name="schedule")

    @schedule_app.command("show")
    def schedule_show(
        ctx: typer.Context,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of jobs")] = False,
    ) -> None:
        """The scheduled jobs: cron expression, next run, last run and how it went."""
        from shoplens.serve.scheduler import ShopScheduler
        from shoplens.services import open_warehouse

        from shoplens.errors import ConfigError

        settings = settings_from(ctx)
        jobs, in_use = None, False
        if settings.warehouse.exists():
            try:
                with open_warehouse(settings, read_only=True) as wh:
                    jobs = ShopScheduler(settings, wh).jobs()
            except ConfigError:  # a running server holds the file: the next runs are known, the last ones not here
                in_use = True
        if jobs is None:
            jobs = ShopScheduler(settings).jobs()
        if in_use and not json_out:
            console.print("The warehouse is in use (by `shoplens serve`?): last runs are in /api/v1/status.")
        if json_out:
            print_json({"enabled": settings.schedule.enabled, "timezone": settings.schedule.timezone, "jobs": jobs})
            return
        if not settings.schedule.enabled:
            console.print(escape("The schedule is off: `shoplens serve` runs no jobs. Turn it on with `enabled = true` "
                                 "under [schedule] in shoplens.toml (docs/serving.md). The jobs it would run:"))
        console.print(rows_table(jobs, title=f"Scheduled jobs ({settings.schedule.timezone})",
                                 columns=["job", "cron", "next_run", "last_run", "last_status"]))

    @app.command("serve")
    def serve_cmd(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0 exposes it to the network)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    ) -> None:
        """Serve the REST API (/api/v1, docs at /api/v1/docs), the dashboard (/) and /metrics.

        Refuses to start without an API key (`shoplens keys create --role admin`) and a strong
        shop secret (SHOPLENS_SECRET or SHOPLENS_SECRET_FILE). CORS stays closed unless
        SHOPLENS_CORS_ORIGINS lists origins.
        """
        import uvicorn
        from pydantic import ValidationError

        from shoplens.errors import ConfigError
        from shoplens.serve.app import create_app
        from shoplens.serve.settings import ServeSettings

        try:
            serve = ServeSettings()
        except ValidationError as exc:
            problems = "; ".join(f"SHOPLENS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"the server will not start: {problems}") from None
        app_ = create_app(settings_from(ctx), serve)
        console.print(f"shoplens serving on http://{escape(host)}:{port}/  (API docs: /api/v1/docs)")
        schedule = settings_from(ctx).schedule
        jobs = schedule.jobs() if app_.state.scheduler else {}
        if jobs:
            listed = ", ".join(f"{name} '{cron}'" for name, cron in jobs.items())
            console.print(escape(f"Schedule: {listed} ({schedule.timezone}); `shoplens schedule show` lists the next runs"))
        else:
            console.print(escape("Schedule: off (turn it on under [schedule] in shoplens.toml; docs/serving.md)"))
        # X-Forwarded-For is read by the app, and only from SHOPLENS_TRUSTED_PROXIES: uvicorn's own handling
        # would trust it from 127.0.0.1 by default
        uvicorn.run(app_, host=host, port=port, log_level=log_level, server_header=False, access_log=False,
                    proxy_headers=False)

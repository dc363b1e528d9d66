"""``shoplens events funnel|retention|paths|sessions|live``: behaviour analytics (docs/behaviour.md).

These commands only read. They open the warehouse read-only, so several can run at once; while
``shoplens serve`` has the warehouse open (DuckDB lets one process write, and then no other may
open the file), pass ``--server URL`` (key in ``SHOPLENS_API_KEY``) and the command asks the
running server's ``/api/v1/events/...`` instead: the same function computes the same answer.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any, Callable, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, fmt, open_warehouse, print_json, rows_table
from shoplens.errors import ConfigError, UserInputError

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]
FromOpt = Annotated[Optional[str], typer.Option("--from", help="only events at or after this date/time (UTC)", show_default=False)]
ToOpt = Annotated[Optional[str], typer.Option("--to", help="only events before this date/time (UTC)", show_default=False)]
ByOpt = Annotated[Optional[str], typer.Option(
    "--by", help="break down by an events column (channel, category, event_type, event_name, product_id) or segment",
    show_default=False)]
GapOpt = Annotated[str, typer.Option("--gap", help="inactivity that ends a session (events without a session_id)")]
ServerOpt = Annotated[Optional[str], typer.Option(
    "--server", envvar="SHOPLENS_SERVER",
    help="ask a running `shoplens serve` at this URL (key in SHOPLENS_API_KEY) instead of opening the warehouse",
    show_default=False)]


def _ask_server(server: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET ``/api/v1/events/{path}`` of a running server (the CLI's way in while the server holds the warehouse)."""
    key = os.environ.get("SHOPLENS_API_KEY")
    if not key:
        raise ConfigError("--server needs an API key of the analyst role in SHOPLENS_API_KEY "
                          "(create one with `shoplens keys create --role analyst`)")
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    url = f"{server.rstrip('/')}/api/v1/events/{path}" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 - the URL the user gave
            return json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode("utf-8")).get("detail")
        except (ValueError, AttributeError):
            detail = exc.reason
        raise UserInputError(f"{server}: {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"{server}: no shoplens server answers there ({getattr(exc, 'reason', exc)}); "
                          "start it with `shoplens serve` or drop --server") from None


def _compute(ctx: typer.Context, server: str | None, path: str, params: dict[str, Any],
             run: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """The answer as JSON-ready dict: from the server with ``--server``, else computed on the warehouse
    opened read-only (a clear message when a running server holds it)."""
    from shoplens.jsonsafe import json_safe

    if server:
        return _ask_server(server, path, params)
    try:
        wh = open_warehouse(ctx, read_only=True)
    except ConfigError as exc:
        if "lock" not in str(exc).lower():
            raise
        raise ConfigError(
            f"{exc}. Another process (a running `shoplens serve`?) has the warehouse open for writing: ask it "
            f"instead with `--server http://HOST:PORT` and an analyst key in SHOPLENS_API_KEY "
            f"(GET /api/v1/events/{path})") from None
    with wh:
        return json_safe(run(wh))


def _percent(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _step_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"step": s["step"], "event": s["event"], "users": s["users"], "conversion": _percent(s["conversion"]),
             "from previous": _percent(s["step_conversion"]), "drop-off": s["drop_off"],
             "median time to convert": _duration(s["median_seconds_to_convert"])} for s in steps]


def funnel_cmd(
    ctx: typer.Context,
    steps: Annotated[str, typer.Option("--steps", help='event names in order, comma-separated: spec names ("Product Viewed"), '
                                                       "event types (view) or custom event names")],
    window: Annotated[str, typer.Option("--window", help="every later step within this time of step 1 (inclusive): 30m, 1d, 1w")] = "1d",
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    server: ServerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ordered funnel: users at each step, conversion and drop-off, optionally broken down.

    A user counts at step k when steps 1..k happened in order within --window of step 1.
    JSON: {steps: [{step, event, users, conversion, step_conversion, drop_off, drop_off_rate,
    median_seconds_to_convert}], window_seconds, from, to, by?, breakdown?: [{value, steps}]}.
    """
    from shoplens.behaviour.funnels import funnel

    out = _compute(ctx, server, "funnel", {"steps": steps, "window": window, "by": by, "from": start, "to": end},
                   lambda wh: funnel(wh, steps, window=window, by=by, start=start, end=end).to_dict())
    if json_out:
        print_json(out)
        return
    console.print(rows_table(_step_rows(out["steps"]), title=f"Funnel within {window} of the first step"))
    for group in out.get("breakdown", []):
        console.print(rows_table(_step_rows(group["steps"]), title=f"{by} = {group['value']}"))


def retention_cmd(
    ctx: typer.Context,
    start_event: Annotated[str, typer.Option("--start-event", help="the event that puts a user in a cohort (any: every event)")] = "any",
    return_event: Annotated[str, typer.Option("--return-event", help="the event that counts as coming back (any: every event)")] = "any",
    period: Annotated[str, typer.Option("--period", help="week or day")] = "week",
    periods: Annotated[int, typer.Option("--periods", help="periods after the cohort's to show")] = 8,
    start: FromOpt = None,
    end: ToOpt = None,
    server: ServerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Retention by cohort: users whose first start event fell in a week, and the share back in each later week.

    JSON: {start_event, return_event, period, periods, cohorts: [{cohort, users, retained: [...],
    retention: [...]}]}; a period not observable yet (after the last event) is null.
    """
    from shoplens.behaviour.retention import retention

    params = {"start_event": start_event, "return_event": return_event, "period": period, "periods": periods,
              "from": start, "to": end}
    out = _compute(ctx, server, "retention", params,
                   lambda wh: retention(wh, start_event=start_event, return_event=return_event, period=period,
                                        periods=periods, start=start, end=end).to_dict())
    if json_out:
        print_json(out)
        return
    rows = [{"cohort": c["cohort"], "users": c["users"], **{f"{period} {i}": "" if v is None else f"{100 * v:.0f}%"
                                                      for i, v in enumerate(c["retention"])}}
            for c in out["cohorts"]]
    console.print(rows_table(rows, title=f"Retention: first {start_event} -> {return_event} again, by {period}"))


def paths_cmd(
    ctx: typer.Context,
    after: Annotated[str, typer.Option("--after", help="the event the paths start from (each user's first one)")],
    steps: Annotated[int, typer.Option("--steps", help="events shown after it")] = 3,
    limit: Annotated[int, typer.Option("--limit", help="paths shown")] = 10,
    collapse: Annotated[bool, typer.Option("--collapse/--no-collapse", help="merge repeats of the same event in a row")] = True,
    gap: GapOpt = "30m",
    start: FromOpt = None,
    end: ToOpt = None,
    server: ServerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Top paths: the most common sequences of the next events, in the same session, after an event.

    JSON: {after, steps, users, paths: [{path: [event, ...], users, share}]}; a path that ends earlier
    closes with "(end)".
    """
    from shoplens.behaviour.paths import top_paths

    params = {"after": after, "steps": steps, "limit": limit, "collapse": str(collapse).lower(), "gap": gap,
              "from": start, "to": end}
    out = _compute(ctx, server, "paths", params,
                   lambda wh: top_paths(wh, after, steps=steps, limit=limit, collapse=collapse, gap=gap,
                                        start=start, end=end).to_dict())
    if json_out:
        print_json(out)
        return
    rows = [{"path": " -> ".join([after, *p["path"]]), "users": p["users"], "share": _percent(p["share"])} for p in out["paths"]]
    console.print(rows_table(rows, title=f"Top paths after {after} ({fmt(out['users'])} users)"))


def sessions_cmd(
    ctx: typer.Context,
    gap: GapOpt = "30m",
    by: ByOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    server: ServerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sessions: count, length, events per session and bounce rate (one-event sessions).

    JSON: {gap_seconds, summary: {sessions, users, events, events_per_session, median_events, mean_seconds,
    median_seconds, bounces, bounce_rate}, lengths: [{length, sessions, share}], by?, breakdown?}.
    """
    from shoplens.behaviour.sessions import sessions

    out = _compute(ctx, server, "sessions", {"gap": gap, "by": by, "from": start, "to": end},
                   lambda wh: sessions(wh, gap=gap, by=by, start=start, end=end).to_dict())
    if json_out:
        print_json(out)
        return
    s = out["summary"]
    console.print(rows_table([{"sessions": s["sessions"], "users": s["users"], "events per session": s["events_per_session"],
                               "median length": _duration(s["median_seconds"]), "mean length": _duration(s["mean_seconds"]),
                               "bounce rate": _percent(s["bounce_rate"])}], title=f"Sessions ({gap} of inactivity ends one)"))
    console.print(rows_table([{**r, "share": _percent(r["share"])} for r in out["lengths"]], title="Session length"))
    if out.get("breakdown"):
        console.print(rows_table([{by or "value": g["value"], "sessions": g["sessions"], "bounce rate": _percent(g["bounce_rate"]),
                                   "median length": _duration(g["median_seconds"])} for g in out["breakdown"]],
                                 title=f"By {by}"))


def live_cmd(
    ctx: typer.Context,
    now: Annotated[Optional[str], typer.Option("--now", help="count up to this time (UTC) [default: now]", show_default=False)] = None,
    server: ServerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Live counters: events and active users in the last 5 minutes, hour and day, by event type.

    JSON: {now, total_events, last_event_at, windows: [{window, seconds, since, events, users, by_type}]}.
    """
    from shoplens.behaviour.live import live_counters

    out = _compute(ctx, server, "live", {"now": now}, lambda wh: live_counters(wh, now=now))
    if json_out:
        print_json(out)
        return
    if not out["total_events"]:
        console.print("No behaviour events yet: load them with `shoplens ingest events FILE.csv` "
                      "or send them to `shoplens serve`.")
    rows = [{"last": w["window"], "events": w["events"], "users": w["users"],
             "by type": ", ".join(f"{k} {v:,}" for k, v in w["by_type"].items())} for w in out["windows"]]
    console.print(rows_table(rows, title=f"Live counters at {str(out['now'])[:19]} UTC"))
    if out["last_event_at"]:
        console.print(f"Last event: {escape(str(out['last_event_at'])[:19])} UTC; {out['total_events']:,} events in all.")


COMMANDS = {"funnel": funnel_cmd, "retention": retention_cmd, "paths": paths_cmd, "sessions": sessions_cmd,
            "live": live_cmd}


def add_commands(events_app: typer.Typer) -> None:
    """Add the analytics commands to the ``shoplens events`` group."""
    for name, command in COMMANDS.items():
        events_app.command(name)(command)


def register(app: typer.Typer) -> None:
    """Add the analytics commands to ``shoplens events`` (the group the collector's ``send`` is in)."""
    from shoplens.stream.cli import events_group

    add_commands(events_group(app))

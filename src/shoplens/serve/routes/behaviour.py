"""Behaviour analytics over the events: funnel, retention, paths, sessions and live counters, over
:mod:`shoplens.behaviour` (the same functions as ``shoplens events ...``). Aggregates only (no
customer id leaves), for the analyst role as the other analytics reads; 409 when there are no events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from shoplens.serve.deps import Analyst, WarehouseDep
from shoplens.serve.routes import ResourceRouter, computed_now
from shoplens.serve.schemas import clean
from shoplens.serve.schemas.behaviour import FunnelOut, LiveOut, PathsOut, RetentionOut, SessionsOut

router = ResourceRouter(prefix="/events", tags=["events"])

Text = Annotated[str | None, Query(max_length=200)]
From = Annotated[str | None, Query(alias="from", max_length=40, description="only events at or after this date/time (UTC)")]
To = Annotated[str | None, Query(alias="to", max_length=40, description="only events before this date/time (UTC)")]
By = Annotated[str | None, Query(max_length=40, description="an events column (channel, category, ...) or segment")]
Gap = Annotated[str, Query(max_length=20, description="inactivity that ends a session: 30m, 1h")]


@router.get("/funnel", response_model=FunnelOut)
def events_funnel(wh: WarehouseDep, key: Analyst,
                  steps: Annotated[str, Query(min_length=1, max_length=2000, description="event names in order, comma-separated")],
                  window: Annotated[str, Query(max_length=20, description="30m, 1d, 1w")] = "1d",
                  by: By = None, start: From = None, end: To = None) -> dict[str, Any]:
    """Ordered funnel: users at each step within the window of step 1, conversion, drop-off, optional breakdown
    (by segment: each segment's name in Chinese too, `value_zh`)."""
    from shoplens.behaviour.funnels import funnel

    out = funnel(wh, steps, window=window, by=by, start=start, end=end).to_dict()
    if by == "segment":
        from shoplens.customers.segments import segment_name_zh

        for group in out.get("breakdown") or []:  # the segment's name in Chinese beside it (the zh dashboard)
            group["value_zh"] = "（无分群）" if group["value"] == "(none)" else segment_name_zh(str(group["value"]))
    return computed_now(clean(out))


@router.get("/retention", response_model=RetentionOut)
def events_retention(wh: WarehouseDep, key: Analyst, start_event: Text = "any", return_event: Text = "any",
                     period: Annotated[str, Query(pattern="^(week|day)$")] = "week",
                     periods: Annotated[int, Query(ge=1, le=104)] = 8, start: From = None, end: To = None) -> dict[str, Any]:
    """Cohort retention: users by the week of their first start event, and the share back in each later week."""
    from shoplens.behaviour.retention import retention

    return computed_now(clean(retention(wh, start_event=start_event or "any", return_event=return_event or "any",
                                        period=period, periods=periods, start=start, end=end).to_dict()))


@router.get("/paths", response_model=PathsOut)
def events_paths(wh: WarehouseDep, key: Analyst, after: Annotated[str, Query(min_length=1, max_length=200)],
                 steps: Annotated[int, Query(ge=1, le=10)] = 3, limit: Annotated[int, Query(ge=1, le=100)] = 10,
                 collapse: bool = True, gap: Gap = "30m", start: From = None, end: To = None) -> dict[str, Any]:
    """Top paths: the most common next events in the same session after each user's first ``after`` event."""
    from shoplens.behaviour.paths import top_paths

    return computed_now(clean(top_paths(wh, after, steps=steps, limit=limit, collapse=collapse, gap=gap, start=start,
                                        end=end).to_dict()))


@router.get("/sessions", response_model=SessionsOut)
def events_sessions(wh: WarehouseDep, key: Analyst, gap: Gap = "30m", by: By = None, start: From = None,
                    end: To = None) -> dict[str, Any]:
    """Sessions (30 minutes of inactivity end one): count, length, events per session, bounce rate."""
    from shoplens.behaviour.sessions import sessions

    return computed_now(clean(sessions(wh, gap=gap, by=by, start=start, end=end).to_dict()))


@router.get("/live", response_model=LiveOut)
def events_live(wh: WarehouseDep, key: Analyst,
                now: Annotated[str | None, Query(max_length=40, description="count up to this time (UTC) [default: now]")] = None,
                ) -> dict[str, Any]:
    """Events and active users in the last 5 minutes, hour and day, by event type (zeros without events)."""
    from shoplens.behaviour.live import live_counters

    return computed_now(clean(live_counters(wh, now=now)))

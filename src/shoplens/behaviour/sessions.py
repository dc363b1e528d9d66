"""Sessions: a user's events grouped into visits, with their length and bounce rate.

- An event with a ``session_id`` belongs to that session (the sender's own sessions are kept,
  even across long pauses).
- Events without one are grouped per user by inactivity: more than ``gap`` (30 minutes) after the
  user's previous session-less event starts a new session; exactly ``gap`` continues it (the rule
  of Google Analytics and Segment's libraries).
- Length is the time from a session's first to its last event (0 for one event); a **bounce** is a
  session with a single event.
- ``by`` (an events column or ``segment``) takes the value on each session's first event.

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute(\"\"\"INSERT INTO events (customer_id, event_type, occurred_at) VALUES
...     ('u1', 'view', '2024-05-01 10:00'), ('u1', 'cart', '2024-05-01 10:10'),
...     ('u1', 'view', '2024-05-01 12:00')\"\"\")
>>> s = sessions(wh).summary
>>> s["sessions"], s["bounce_rate"], s["median_seconds"]
(2, 0.5, 300.0)
>>> wh.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from shoplens.behaviour.events import breakdown_sql, events_source, parse_duration, parse_time, require_events, time_range_sql
from shoplens.store.warehouse import Warehouse

DEFAULT_GAP = timedelta(minutes=30)

# upper bounds in seconds of the session-length histogram
LENGTH_BUCKETS = [(0, "0 s (one event or one instant)"), (60, "up to 1 min"), (300, "1-5 min"), (900, "5-15 min"),
                  (1800, "15-30 min"), (3600, "30-60 min"), (float("inf"), "over 1 h")]


def sessionized_sql(where: str = "TRUE", gap: timedelta = DEFAULT_GAP, *, by_sql: str = "NULL",
                    by_join: str = "", source: str = "events") -> str:
    """SQL: every event (``where`` on ``events e``) with ``session_key`` (unique per user) and ``ord``,
    the event's position in its user's history (time order), plus ``breakdown`` (``by_sql``)."""
    seconds = gap.total_seconds()
    return f"""
        WITH ev AS (
            SELECT e.customer_id, nullif(e.session_id, '') AS sid, e.occurred_at AS t, e.event_type, e.event_name,
                   e.product_id, {by_sql} AS breakdown,
                   row_number() OVER (PARTITION BY e.customer_id ORDER BY e.occurred_at, e.event_type, e.event_name,
                                      e.product_id, e.session_id) AS ord
            FROM {source} e {by_join} WHERE {where}),
        gaps AS (
            SELECT *, CASE WHEN sid IS NOT NULL THEN 0
                           WHEN lag(t) OVER w IS NULL OR epoch(t) - epoch(lag(t) OVER w) > {seconds} THEN 1 ELSE 0 END
                      AS starts
            FROM ev WINDOW w AS (PARTITION BY customer_id, sid IS NULL ORDER BY ord))
        SELECT customer_id, t, event_type, event_name, product_id, breakdown, ord,
               CASE WHEN sid IS NOT NULL THEN 's:' || sid
                    ELSE 'g:' || sum(starts) OVER (PARTITION BY customer_id, sid IS NULL ORDER BY ord
                                                  ROWS UNBOUNDED PRECEDING) END AS session_key
        FROM gaps"""


@dataclass
class SessionsResult:
    """``summary``: {sessions, users, events, events_per_session, median_events, mean_seconds,
    median_seconds, bounces, bounce_rate}; ``lengths``: sessions per length band;
    ``breakdown``: {value, ...summary} per value of ``by``."""

    summary: dict[str, Any]
    lengths: list[dict[str, Any]]
    gap_seconds: float
    by: str | None = None
    breakdown: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gap_seconds": self.gap_seconds, "summary": self.summary, "lengths": self.lengths}
        if self.by is not None:
            out["by"] = self.by
            out["breakdown"] = self.breakdown
        return out


def session_table(wh: Warehouse, *, gap: str | timedelta = DEFAULT_GAP, by: str | None = None,
                  start: str | date | datetime | None = None, end: str | date | datetime | None = None) -> pd.DataFrame:
    """One row per session: customer_id (the warehouse's id), session_key, started_at, ended_at,
    events, seconds, bounce, breakdown (value of ``by`` on its first event)."""
    where = time_range_sql(parse_time(start, "--from"), parse_time(end, "--to"), "e.occurred_at")
    require_events(wh, where.replace("e.occurred_at", "occurred_at"))
    by_sql, by_join = breakdown_sql(wh, by)
    return wh.query(f"""
        WITH s AS ({sessionized_sql(where, parse_duration(gap, '--gap'), by_sql=by_sql, by_join=by_join, source=events_source(wh))})
        SELECT customer_id, session_key, min(t) AS started_at, max(t) AS ended_at, count(*) AS events,
               epoch(max(t)) - epoch(min(t)) AS seconds, count(*) = 1 AS bounce, arg_min(breakdown, ord) AS breakdown
        FROM s GROUP BY customer_id, session_key ORDER BY started_at, customer_id, session_key""")


def _summary(table: pd.DataFrame) -> dict[str, Any]:
    n = len(table)
    return {
        "sessions": n, "users": int(table["customer_id"].nunique()), "events": int(table["events"].sum()),
        "events_per_session": float(table["events"].mean()) if n else None,
        "median_events": float(table["events"].median()) if n else None,
        "mean_seconds": float(table["seconds"].mean()) if n else None,
        "median_seconds": float(table["seconds"].median()) if n else None,
        "bounces": int(table["bounce"].sum()), "bounce_rate": float(table["bounce"].mean()) if n else None,
    }


def _lengths(table: pd.DataFrame) -> list[dict[str, Any]]:
    out, lower = [], -1.0
    for upper, label in LENGTH_BUCKETS:
        n = int(((table["seconds"] > lower) & (table["seconds"] <= upper)).sum())
        out.append({"length": label, "sessions": n, "share": n / len(table) if len(table) else None})
        lower = upper
    return out


def sessions(wh: Warehouse, *, gap: str | timedelta = DEFAULT_GAP, by: str | None = None,
             start: str | date | datetime | None = None, end: str | date | datetime | None = None) -> SessionsResult:
    """Session count, length, events per session and bounce rate (see the module for the rules)."""
    table = session_table(wh, gap=gap, by=by, start=start, end=end)
    result = SessionsResult(_summary(table), _lengths(table), parse_duration(gap, "--gap").total_seconds(), by=by)
    if by is not None:
        groups = table.groupby("breakdown", sort=False)
        ranked = sorted(groups.groups, key=lambda v: (-len(groups.groups[v]), str(v)))
        result.breakdown = [{"value": v, **_summary(groups.get_group(v))} for v in ranked]
    return result

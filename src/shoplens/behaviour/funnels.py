"""Ordered funnels with a conversion window, drop-off per step and a breakdown.

A user counts at step k when they did steps 1..k in this order, every later step within
``window`` of the step-1 event (inclusive: a step exactly ``window`` after step 1 counts).

- **Order** is the events' ``occurred_at`` (the client's time), not the order they arrived in:
  a late event lands where it happened.
- **Ties**: events of one user at the same instant are taken in the funnel's order (a cart and
  a view at the same second count as view -> cart in a view -> cart funnel; Amplitude likewise
  takes simultaneous events in either order), and one event never fills two steps.
- **Repeats**: each of a user's step-1 events starts an attempt; each attempt follows the earliest
  next matching event (which reaches as far as any choice could), and the user is counted once, by
  the attempt that reaches furthest, the earliest such attempt when several do (a user converts
  when any attempt does). Time to convert is measured on that attempt.
- A user with only later steps (a purchase without a view) is not in the funnel.
- **Breakdown** (``by``): the value on the counted attempt's step-1 event (an events column), or
  the user's current segment (``customer_segments``); groups add up to the total.

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute(\"\"\"INSERT INTO events (customer_id, event_type, occurred_at) VALUES
...     ('u1', 'view', '2024-05-01 10:00'), ('u1', 'cart', '2024-05-01 10:05'),
...     ('u2', 'view', '2024-05-01 11:00'), ('u2', 'cart', '2024-05-03 11:00')\"\"\")
>>> [(s["event"], s["users"], s["conversion"]) for s in funnel(wh, ["view", "cart"], window="1d").steps]
[('view', 2, 1.0), ('cart', 1, 0.5)]
>>> wh.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from shoplens.behaviour.events import (
    breakdown_sql, events_source, parse_duration, parse_steps, parse_time, require_events, resolve_event, time_range_sql,
)
from shoplens.errors import UserInputError
from shoplens.store.warehouse import Warehouse

MAX_STEPS = 10


@dataclass
class FunnelResult:
    """``steps``: one dict per step {event, users, conversion, step_conversion, drop_off, drop_off_rate,
    median_seconds_to_convert}; ``breakdown``: the same per breakdown value ({value, steps})."""

    steps: list[dict[str, Any]]
    window_seconds: float
    by: str | None = None
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": self.steps, "window_seconds": self.window_seconds,
                               "from": self.start, "to": self.end}
        if self.by is not None:
            out["by"] = self.by
            out["breakdown"] = self.breakdown
        return out

    def frame(self) -> pd.DataFrame:
        """The steps as a table."""
        return pd.DataFrame(self.steps)


def _attempts_sql(n_steps: int, conditions: list[str], window: timedelta, where: str, by_sql: str, by_join: str,
                  source: str = "events") -> str:
    """One row per user: the counted attempt's depth, breakdown value and time to each step."""
    matches = " UNION ALL ".join(f"SELECT rid, {i + 1} AS step FROM ev WHERE {c}" for i, c in enumerate(conditions))
    seconds = window.total_seconds()
    joins: list[str] = []
    prev = "a1"
    for k in range(2, n_steps + 1):
        joins.append(f"""a{k} AS (
            SELECT p.*, CASE WHEN x.t <= p.t1 + to_seconds({seconds}) THEN x.seq END AS seq{k},
                   CASE WHEN x.t <= p.t1 + to_seconds({seconds}) THEN x.t END AS t{k}
            FROM {prev} p ASOF LEFT JOIN (SELECT * FROM m WHERE step = {k}) x
              ON p.customer_id = x.customer_id AND p.seq{k - 1} < x.seq)""")
        prev = f"a{k}"
    depth = " + ".join(["1"] + [f"(seq{k} IS NOT NULL)::INT" for k in range(2, n_steps + 1)])
    times = ", ".join(f"epoch(t{k}) - epoch(t1) AS s{k}" for k in range(2, n_steps + 1))
    return f"""
        WITH ev AS (SELECT row_number() OVER () AS rid, e.*, {by_sql} AS breakdown
                    FROM {source} e {by_join} WHERE {where}),
        hits AS ({matches}),
        firsts AS (SELECT rid, min(step) AS first_step FROM hits GROUP BY rid),
        ordered AS (
            SELECT ev.rid, ev.customer_id, ev.occurred_at AS t, ev.breakdown,
                   row_number() OVER (PARTITION BY ev.customer_id ORDER BY ev.occurred_at, f.first_step, ev.event_type,
                                      ev.event_name, ev.product_id, ev.rid) AS seq
            FROM ev JOIN firsts f USING (rid)),
        m AS (SELECT h.step, o.customer_id, o.seq, o.t, o.breakdown FROM hits h JOIN ordered o USING (rid)),
        a1 AS (SELECT customer_id, breakdown, seq AS seq1, t AS t1 FROM m WHERE step = 1)
        {"," if joins else ""} {", ".join(joins)},
        scored AS (SELECT *, {depth} AS depth FROM {prev}),
        best AS (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY depth DESC, t1, seq1) AS pick FROM scored)
        SELECT customer_id, breakdown, depth{", " + times if times else ""} FROM best WHERE pick = 1"""


def _steps(users: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    first = int((users["depth"] >= 1).sum()) if len(users) else 0
    previous = first
    for k, name in enumerate(names, start=1):
        reached = users[users["depth"] >= k] if len(users) else users
        n = int(len(reached))
        row: dict[str, Any] = {
            "step": k, "event": name, "users": n,
            "conversion": (n / first) if first else None,
            "step_conversion": (n / previous) if previous else None,
            "drop_off": previous - n,
            "drop_off_rate": ((previous - n) / previous) if previous else None,
            "median_seconds_to_convert": None,
        }
        if k > 1 and n:
            row["median_seconds_to_convert"] = float(reached[f"s{k}"].median())
        out.append(row)
        previous = n
    return out


def funnel(
    wh: Warehouse,
    steps: str | list[str],
    *,
    window: str | timedelta = "1d",
    by: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> FunnelResult:
    """Users at each step of an ordered funnel (see the module for the exact rules).

    ``steps``: 1 to 10 event names (spec names, canonical types or custom names; a list or
    ``"A,B,C"``); ``window``: ``30m``, ``1d``...; ``by``: an events column or ``segment``;
    ``start``/``end``: only events with ``start <= occurred_at < end`` are read.
    """
    names = parse_steps(steps)
    if len(names) > MAX_STEPS:
        raise UserInputError(f"a funnel has at most {MAX_STEPS} steps, not {len(names)}")
    span = parse_duration(window, "--window")
    lo, hi = parse_time(start, "--from"), parse_time(end, "--to")
    where = time_range_sql(lo, hi, "e.occurred_at")
    require_events(wh, where.replace("e.occurred_at", "occurred_at"))
    conditions = [resolve_event(wh, name).sql for name in names]
    by_sql, by_join = breakdown_sql(wh, by)
    users = wh.query(_attempts_sql(len(names), conditions, span, where, by_sql, by_join, events_source(wh)))
    result = FunnelResult(_steps(users, names), span.total_seconds(), by=by, start=lo, end=hi)
    if by is not None:
        groups = users.groupby("breakdown", sort=False)
        sizes = groups.size().sort_values(ascending=False, kind="stable")
        ranked = sorted(sizes.index, key=lambda v: (-int(sizes[v]), str(v)))
        result.breakdown = [{"value": value, "steps": _steps(groups.get_group(value), names)} for value in ranked]
    return result

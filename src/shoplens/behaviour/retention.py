"""Retention: of the users whose first ``start_event`` fell in a week, how many did ``return_event``
again in each later week (a cohort table).

- A user's **cohort** is the calendar period (ISO week from Monday, UTC; or day) of their first
  ``start_event`` in the time range.
- Period **n** counts the users of a cohort with a ``return_event`` strictly after that first event,
  in the n-th calendar period after the cohort's (period 0: later in the same week).
- A period after the last event in the data cannot be observed yet: its retention is ``None``,
  not 0.

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute(\"\"\"INSERT INTO events (customer_id, event_type, occurred_at) VALUES
...     ('u1', 'view', '2024-05-06 10:00'), ('u1', 'view', '2024-05-14 10:00'),
...     ('u2', 'view', '2024-05-07 10:00')\"\"\")
>>> c = retention(wh).cohorts[0]
>>> c["cohort"], c["users"], c["retained"][:2], c["retention"][:2]
('2024-05-06', 2, [0, 1], [0.0, 0.5])
>>> wh.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from shoplens.behaviour.events import events_source, parse_time, require_events, resolve_event, time_range_sql
from shoplens.errors import UserInputError
from shoplens.store.warehouse import Warehouse

PERIODS = ("week", "day")


@dataclass
class RetentionResult:
    """``cohorts``: [{cohort, users, retained: [n per period], retention: [share per period, None when
    not observable yet]}]; ``table``: the same as rows (cohort, period, users, retained, retention)."""

    start_event: str
    return_event: str
    period: str
    cohorts: list[dict[str, Any]]
    table: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"start_event": self.start_event, "return_event": self.return_event, "period": self.period,
                "periods": max((len(c["retained"]) for c in self.cohorts), default=0), "cohorts": self.cohorts}

    def matrix(self) -> pd.DataFrame:
        """Cohort x period retention (rows: cohorts, columns: 0, 1, 2...)."""
        return self.table.pivot(index="cohort", columns="period", values="retention")


def retention(
    wh: Warehouse,
    *,
    start_event: str = "any",
    return_event: str = "any",
    period: str = "week",
    periods: int = 8,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> RetentionResult:
    """Cohort retention (see the module): ``start_event``/``return_event`` are event names
    (``any``: every event); ``periods``: how many periods after the cohort's to show (0..periods)."""
    if period not in PERIODS:
        raise UserInputError(f"--period {period!r}: choose week or day")
    if not 1 <= periods <= 104:
        raise UserInputError(f"--periods {periods}: choose 1 to 104")
    where = time_range_sql(parse_time(start, "--from"), parse_time(end, "--to"))
    require_events(wh, where)
    first = "TRUE" if start_event == "any" else resolve_event(wh, start_event).sql
    back = "TRUE" if return_event == "any" else resolve_event(wh, return_event).sql
    rows = wh.query(f"""
        WITH e AS (SELECT * FROM {events_source(wh)} WHERE {where}),
        last AS (SELECT date_trunc('{period}', max(occurred_at)) AS last_period FROM e),
        firsts AS (SELECT customer_id, min(occurred_at) AS first_t FROM e WHERE {first} GROUP BY customer_id),
        cohorts AS (SELECT customer_id, first_t, date_trunc('{period}', first_t) AS cohort FROM firsts),
        sizes AS (SELECT cohort, count(*) AS users FROM cohorts GROUP BY cohort),
        back AS (
            SELECT DISTINCT c.customer_id, c.cohort,
                   date_diff('{period}', c.cohort, date_trunc('{period}', e.occurred_at)) AS period
            FROM cohorts c JOIN e ON e.customer_id = c.customer_id AND e.occurred_at > c.first_t
            WHERE {back}),
        grid AS (SELECT s.cohort, s.users, p.period,
                        s.cohort + to_{period}s(p.period::INT) <= l.last_period AS observed
                 FROM sizes s, last l, range(0, {periods} + 1) p(period))
        SELECT g.cohort::DATE AS cohort, g.period, g.users, g.observed,
               count(b.customer_id) AS retained
        FROM grid g LEFT JOIN back b ON b.cohort = g.cohort AND b.period = g.period
        GROUP BY ALL ORDER BY cohort, period""")
    rows["retention"] = (rows["retained"] / rows["users"]).where(rows["observed"], None)
    rows["retained"] = rows["retained"].where(rows["observed"], None)
    rows["cohort"] = rows["cohort"].astype(str)
    cohorts = []
    for cohort, group in rows.groupby("cohort", sort=True):
        group = group.sort_values("period")
        cohorts.append({
            "cohort": cohort, "users": int(group["users"].iloc[0]),
            "retained": [None if pd.isna(v) else int(v) for v in group["retained"]],
            "retention": [None if pd.isna(v) else float(v) for v in group["retention"]],
        })
    table = rows.drop(columns="observed")
    return RetentionResult(start_event, return_event, period, cohorts, table)

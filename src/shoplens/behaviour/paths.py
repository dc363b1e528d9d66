"""Top paths after an event: what users did next, most common sequences first.

- Each user counts once, from their **first** ``after`` event in the time range.
- The path is the next ``steps`` events **in the same session** (see :mod:`shoplens.behaviour.sessions`);
  a path that ends before that is closed with ``(end)``.
- Events are named by their canonical type (``view``, ``cart``...), a custom event by its own name.
- ``collapse`` (default on) drops an event of the same name as the one before it, so
  ``view, view, view, cart`` reads ``view -> cart`` (counting from the anchor event itself).

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute(\"\"\"INSERT INTO events (customer_id, event_type, occurred_at) VALUES
...     ('u1', 'view', '2024-05-01 10:00'), ('u1', 'view', '2024-05-01 10:01'), ('u1', 'cart', '2024-05-01 10:02'),
...     ('u2', 'view', '2024-05-01 10:00')\"\"\")
>>> [(p["path"], p["users"]) for p in top_paths(wh, "view", steps=2).paths]
[(['(end)'], 1), (['cart', '(end)'], 1)]
>>> wh.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shoplens.behaviour.events import event_label_sql, events_source, parse_duration, parse_time, require_events, resolve_event, time_range_sql
from shoplens.behaviour.sessions import DEFAULT_GAP, sessionized_sql
from shoplens.errors import UserInputError
from shoplens.store.warehouse import Warehouse

END = "(end)"


@dataclass
class PathsResult:
    """``paths``: [{path: [event...], users, share}] most users first; ``users``: users with the event."""

    after: str
    steps: int
    users: int
    paths: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"after": self.after, "steps": self.steps, "users": self.users, "paths": self.paths}


def top_paths(
    wh: Warehouse,
    after: str,
    *,
    steps: int = 3,
    limit: int = 10,
    collapse: bool = True,
    gap: str | timedelta = DEFAULT_GAP,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> PathsResult:
    """The ``limit`` most common paths of ``steps`` events after each user's first ``after`` event."""
    if not 1 <= steps <= 10:
        raise UserInputError(f"--steps {steps}: choose 1 to 10 events after the anchor")
    if limit < 1:
        raise UserInputError(f"--limit {limit}: must be at least 1")
    where = time_range_sql(parse_time(start, "--from"), parse_time(end, "--to"), "e.occurred_at")
    require_events(wh, where.replace("e.occurred_at", "occurred_at"))
    anchor = resolve_event(wh, after).sql
    label = event_label_sql("s")
    keep = "label IS DISTINCT FROM lag(label) OVER (PARTITION BY customer_id ORDER BY ord)"
    rows = wh.con.execute(f"""
        WITH s AS ({sessionized_sql(where, parse_duration(gap, '--gap'), source=events_source(wh))}),
        named AS (SELECT s.*, {label} AS label, {anchor} AS is_anchor FROM s),
        anchor AS (SELECT customer_id, session_key, ord FROM named WHERE is_anchor
                   QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY ord) = 1),
        tail AS (SELECT n.customer_id, n.ord, n.label FROM named n JOIN anchor a
                 ON n.customer_id = a.customer_id AND n.session_key = a.session_key AND n.ord >= a.ord),
        kept AS (SELECT * FROM tail {"QUALIFY " + keep if collapse else ""}),
        numbered AS (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY ord) - 1 AS position FROM kept)
        SELECT customer_id, list(label ORDER BY position) FILTER (WHERE position BETWEEN 1 AND {steps}) AS path
        FROM numbered GROUP BY customer_id""").fetchall()
    users = len(rows)
    paths = [list(p) if p is not None else [] for _, p in rows]
    paths = [p + [END] if len(p) < steps else p for p in paths]
    counts: dict[tuple[str, ...], int] = {}
    for p in paths:
        counts[tuple(p)] = counts.get(tuple(p), 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return PathsResult(after, steps, users, [{"path": list(p), "users": n, "share": n / users} for p, n in ranked])

"""Live counters: events and active users in the last 5 minutes, hour and day, by event type.

An event counts by when shoplens **received** it (``received_at``; ``occurred_at`` for file rows,
which have none), so a late event sent now shows now. A window ending at ``now`` holds the events
with ``now - window < time <= now``; events stamped after ``now`` are left out.

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute(\"\"\"INSERT INTO events (customer_id, event_type, occurred_at) VALUES
...     ('u1', 'view', '2024-05-01 11:58'), ('u2', 'cart', '2024-05-01 11:30'), ('u1', 'view', '2024-04-30 13:00')\"\"\")
>>> [(w["window"], w["events"], w["users"]) for w in live_counters(wh, now="2024-05-01T12:00")["windows"]]
[('5m', 1, 1), ('1h', 2, 2), ('1d', 3, 2)]
>>> wh.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shoplens.behaviour.events import events_source, parse_duration, parse_time
from shoplens.store.warehouse import Warehouse, utcnow

WINDOWS = ("5m", "1h", "1d")


def live_counters(wh: Warehouse, *, now: str | datetime | None = None,
                  windows: tuple[str, ...] = WINDOWS) -> dict[str, Any]:
    """{now, total_events, last_event_at, windows: [{window, seconds, since, events, users, by_type: {type: n}}]}.

    With no events at all every count is 0 and ``last_event_at`` is None (not an error: a shop
    that has just connected its storefront sees zeros, then the first events)."""
    at = parse_time(now, "--now") or utcnow()
    spans = [(w, parse_duration(w, "window")) for w in windows]
    longest = max(s for _, s in spans)
    source = events_source(wh)
    frame = wh.query(f"""
        SELECT coalesce(received_at, occurred_at) AS t, event_type, customer_id FROM {source}
        WHERE coalesce(received_at, occurred_at) > ? AND coalesce(received_at, occurred_at) <= ?""",
                     [at - longest, at])
    total, last = wh.con.execute(
        f"SELECT count(*), max(coalesce(received_at, occurred_at)) FROM {source}").fetchall()[0]
    out = []
    for name, span in spans:
        recent = frame[frame["t"] > at - span]
        by_type = recent["event_type"].value_counts()
        out.append({"window": name, "seconds": span.total_seconds(), "since": at - span, "events": int(len(recent)),
                    "users": int(recent["customer_id"].nunique()),
                    "by_type": {str(k): int(v) for k, v in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))}})
    return {"now": at, "total_events": int(total), "last_event_at": last, "windows": out}


"""The funnel's SQL (earliest next step per attempt, as-of joins) against an exhaustive search over
every chain of events, on random small histories with repeats, ties and window edges."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from shoplens.behaviour.funnels import funnel

TYPES = ["view", "cart", "purchase"]
START = datetime(2024, 5, 1)


def deepest(events: list[tuple[int, str]], steps: list[str], window: int) -> int:
    """Longest prefix of ``steps`` any chain of distinct events reaches in order within ``window``
    minutes of its first event. ``events`` are (minute, type) in the funnel's order (time, then
    the first step an event can fill: the documented rule for events at the same instant)."""
    best = 0

    def walk(position: int, step: int, first: int) -> None:
        nonlocal best
        best = max(best, step)
        if step == len(steps):
            return
        for j in range(position + 1, len(events)):
            minute, kind = events[j]
            if kind == steps[step] and minute - first <= window:
                walk(j, step + 1, first)

    for i, (minute, kind) in enumerate(events):
        if kind == steps[0]:
            walk(i, 1, minute)
    return best


def test_counts_equal_an_exhaustive_search(events_wh):
    rng = np.random.default_rng(7)
    wh = events_wh([])
    for case in range(80):
        rows, histories = [], {}
        for user in range(6):
            n = int(rng.integers(0, 7))
            minutes = sorted(10 * int(m) for m in rng.integers(0, 13, n))  # coarse: ties and window edges are common
            kinds = [TYPES[int(k)] for k in rng.integers(0, 3, n)]
            histories[f"u{user}"] = list(zip(minutes, kinds))
            rows += [(f"u{user}", k, START + timedelta(minutes=m), f"p{case}-{user}-{i}")
                     for i, (m, k) in enumerate(zip(minutes, kinds))]
        steps = [TYPES[int(k)] for k in rng.integers(0, 3, int(rng.integers(1, 4)))]
        window = int(rng.choice([0, 10, 30, 60]))
        wh.con.execute("DELETE FROM events")
        if not rows:
            continue
        frame = pd.DataFrame(rows, columns=["customer_id", "event_type", "occurred_at", "product_id"])
        wh.con.register("_rows", frame)
        wh.con.execute("INSERT INTO events (customer_id, event_type, occurred_at, product_id) "
                       "SELECT customer_id, event_type, occurred_at, product_id FROM _rows")
        wh.con.unregister("_rows")
        expected = [0] * len(steps)
        for history in histories.values():
            rank = {kind: steps.index(kind) if kind in steps else len(steps) for kind in TYPES}
            ordered = sorted(history, key=lambda e: (e[0], rank[e[1]]))
            for k in range(deepest(ordered, steps, window)):
                expected[k] += 1
        got = [s["users"] for s in funnel(wh, steps, window=f"{window * 60 + 0.0}s" if window else "0.5s").steps]
        assert got == expected, (case, steps, window, histories)

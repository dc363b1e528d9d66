"""``shoplens retrain [--if-stale]``: retrain what is stale or drifted, and record why.

A model is stale when the warehouse holds orders newer than its training window,
when it is older than ``max_age_days``, or when a drift check made after it was
trained found a significant shift (PSI > 0.25). Every decision (retrained or
kept, with the reasons) is appended to the ``_retrain_log`` table.

Trainers are passed in by the caller, model name -> function (the function takes
the warehouse, trains on all current data and registers the model): monitoring sits
beside the capabilities and imports none of them. :func:`shoplens.services.trainers`
holds the capability packages' own training functions, and
:func:`shoplens.services.retrain_models` passes them here. One function may register
several models (CLV fits three); it runs once per retraining.

The caller passes the trainers (here as :func:`shoplens.services.trainers` would):

>>> from shoplens.recs.service import train
>>> wh = demo_warehouse()
>>> _ = train(wh, model="popularity")
>>> [(d["model"], d["action"]) for d in retrain(wh, {"recs": train}, if_stale=True)]
[('recs', 'kept (fresh)')]
>>> [(d["action"], d["old_version"], d["new_version"]) for d in retrain(wh, {"recs": lambda w: train(w, model="popularity")})]
[('retrained', 1, 2)]
>>> [d["action"] for d in retrain(wh, {})]
['no trainer']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape

from shoplens.store.warehouse import Warehouse, first_row, utcnow

Trainer = Callable[[Warehouse], object]

RETRAIN_LOG_SQL = """CREATE TABLE IF NOT EXISTS _retrain_log (
    checked_at TIMESTAMP, model VARCHAR, stale BOOLEAN, reasons VARCHAR, action VARCHAR,
    old_version INTEGER, new_version INTEGER)"""


def staleness(wh: Warehouse, name: str, *, max_age_days: int = 30) -> list[str]:
    """Why model ``name`` should be retrained (empty when it is fresh)."""
    if not wh.has_table("_models"):
        return ["never trained"]
    row = first_row(wh.con.execute(
        "SELECT version, created_at, data_end FROM _models WHERE name = ? AND status = 'promoted'", [name]
    ))
    if row is None:
        return ["no promoted version"]
    _, created_at, data_end = row
    reasons = []
    newest = wh.con.execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
    if data_end is not None and newest is not None and newest - data_end > timedelta(days=1):
        reasons.append(f"new data: orders up to {newest:%Y-%m-%d}, trained up to {data_end:%Y-%m-%d}")
    age = utcnow() - created_at
    if age > timedelta(days=max_age_days):
        reasons.append(f"age: trained {age.days} days ago (> {max_age_days})")
    if wh.has_table("monitor_drift"):
        drifted = wh.con.execute(
            "SELECT list(feature ORDER BY feature) FROM monitor_drift WHERE status = 'significant' AND checked_at > ?",
            [created_at]).fetchall()[0][0]
        if drifted:
            reasons.append("drift: PSI > 0.25 for " + ", ".join(drifted))
    return reasons


def retrain(wh: Warehouse, trainers: Mapping[str, Trainer], *, if_stale: bool = False, max_age_days: int = 30,
            console: Console | None = None) -> list[dict[str, Any]]:
    """Retrain every registered model that has a trainer in ``trainers`` (model name -> function),
    or only the stale ones with ``if_stale``; returns the decisions."""
    from shoplens.monitor.drift import check_drift

    wh.con.execute(RETRAIN_LOG_SQL)
    if wh.row_count("orders"):
        try:
            check_drift(wh)
        except Exception as exc:  # drift is advisory: a failed check must not block retraining
            if console:
                console.print(f"[yellow]drift check skipped: {escape(str(exc))}[/yellow]")
    registered = [r[0] for r in wh.con.execute("SELECT DISTINCT name FROM _models ORDER BY 1").fetchall()] \
        if wh.has_table("_models") else []
    decisions = []
    ran: set[Trainer] = set()  # a function that registers several models runs once
    # only models that exist: a capability never trained is not "stale" (its own command trains it first)
    for name in registered:
        reasons = staleness(wh, name, max_age_days=max_age_days)
        old = wh.con.execute("SELECT max(version) FROM _models WHERE name = ? AND status = 'promoted'", [name]
                             ).fetchall()[0][0] if wh.has_table("_models") else None
        new = None
        if name not in trainers:
            action = "no trainer"
        elif if_stale and not reasons:
            action = "kept (fresh)"
        else:
            train = trainers[name]
            if train not in ran:
                if console:
                    console.print(f"retraining {escape(name)}: {escape('; '.join(reasons) or 'asked for')}")
                train(wh)
                ran.add(train)
            new = int(wh.con.execute("SELECT max(version) FROM _models WHERE name = ? AND status = 'promoted'",
                                     [name]).fetchall()[0][0])
            action = "retrained"
        decisions.append({"model": name, "stale": bool(reasons), "reasons": reasons, "action": action,
                          "old_version": old, "new_version": new})
        wh.con.execute("INSERT INTO _retrain_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [utcnow(), name, bool(reasons), json.dumps(reasons), action, old, new])
    return decisions

"""The jobs ``shoplens serve`` runs on the ``[schedule]`` of ``shoplens.toml``: refresh the results,
retrain what is stale or drifted, write the HTML report, check the alerts.

Scheduling lives in ``serve`` because the jobs must run in the server process: DuckDB allows one
writing process per warehouse file, and while the server runs that is the server. The jobs write
through a cursor of the server's own connection, one job at a time, holding the server's write lock
(the one ingest and erasure requests hold), so a job never writes beside an upload or an erasure.
APScheduler's :class:`~apscheduler.schedulers.background.BackgroundScheduler` runs them on its own
thread, so the server's event loop never waits for a job. Each job is a service
(:mod:`shoplens.services`), the same function the CLI runs.

>>> from shoplens.config import Settings, ScheduleSettings
>>> jobs = ShopScheduler(Settings(schedule=ScheduleSettings(enabled=True, report=""))).jobs(
...     now=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> [(j["job"], j["next_run"]) for j in jobs]
[('refresh', '2026-01-01T02:00:00+00:00'), ('retrain', '2026-01-01T02:30:00+00:00'), ('alerts', '2026-01-01T03:15:00+00:00')]
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from shoplens import services
from shoplens.config import Settings
from shoplens.jsonsafe import json_safe
from shoplens.serve.deps import warehouse_cursor
from shoplens.store.warehouse import Warehouse, first_row

log = logging.getLogger("shoplens.schedule")

Job = Callable[[Settings, Warehouse], Any]

JOBS: dict[str, tuple[Job, str]] = {
    "refresh": (lambda s, wh: services.refresh_results(wh), "recompute RFM, the customer profile and the drift checks"),
    "retrain": (lambda s, wh: services.retrain_models(wh, if_stale=True, max_age_days=s.schedule.max_age_days),
                "retrain the models that are stale or drifted"),
    "report": (lambda s, wh: services.write_report(s, wh), "write the HTML report"),
    "alerts": (lambda s, wh: services.check_alerts(s, wh), "evaluate the alert rules and deliver new alerts"),
}
CHANGES_DATA = {"refresh", "retrain"}  # answers cached before these may be stale afterwards


def _summary(name: str, result: Any) -> dict[str, Any]:
    """A few words on what a job did, kept with its run."""
    if name == "alerts":
        return {"new_alerts": len(result["new"]), "delivered": result["delivered"], "failed": result["failed"]}
    if name == "retrain":
        return {"retrained": [d["model"] for d in result if d["action"] == "retrained"]}
    if name == "report":
        return {"path": str(result)}
    return {"refreshed": [r["result"] for r in result]}


class ShopScheduler:
    """The scheduled jobs over ``warehouse`` (the server's), as ``settings.schedule`` sets them.

    ``write_lock`` is held while a job runs; ``on_change`` is called after a job that changes data
    (the server empties its response cache). :meth:`run` runs one job now (tests, ``schedule show``
    never run anything).
    """

    def __init__(self, settings: Settings, warehouse: Warehouse | None = None, *,
                 write_lock: threading.Lock | None = None, on_change: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.write_lock = write_lock
        self.on_change = on_change
        zone = settings.schedule.timezone
        # one worker: jobs run one after another; a run missed while the server was busy or down for
        # less than an hour still runs once (coalesce), never twice at once
        self.scheduler = BackgroundScheduler(
            timezone=zone, executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        self.triggers = {name: CronTrigger.from_crontab(cron, timezone=zone)
                         for name, cron in settings.schedule.jobs().items()}
        for name, trigger in self.triggers.items():
            self.scheduler.add_job(self.run, trigger, args=[name], id=name, name=name)

    def start(self) -> None:
        """Start the scheduler thread (the server's startup)."""
        if self.triggers and not self.scheduler.running:
            self.scheduler.start()
            log.info("schedule on: %s", ", ".join(f"{n} ({self.settings.schedule.jobs()[n]})" for n in self.triggers))

    def shutdown(self) -> None:
        """Stop the thread; a job running now finishes first (the server's shutdown)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def run(self, name: str) -> dict[str, Any]:
        """Run job ``name`` now; returns ``{"job", "status", "seconds", ...}``. A failing job is logged
        and recorded, never raised: the server keeps serving."""
        if name not in JOBS:
            raise KeyError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
        if self.warehouse is None:
            raise RuntimeError("a scheduler without a warehouse only lists its jobs")
        job, _ = JOBS[name]
        started = time.perf_counter()
        outcome: dict[str, Any] = {"job": name}
        with self.write_lock or nullcontext(), warehouse_cursor(self.warehouse) as wh:
            try:
                outcome |= {"status": "ok", **_summary(name, job(self.settings, wh))}
            except Exception as exc:
                log.exception("scheduled job %s failed", name)
                outcome |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            outcome["seconds"] = round(time.perf_counter() - started, 3)
            try:
                wh.mark_computed(f"job:{name}", "job", info=json_safe(outcome))
            except Exception:  # the run's record is bookkeeping: never let it stop the server
                log.exception("could not record the run of job %s", name)
        if name in CHANGES_DATA and self.on_change is not None:
            self.on_change()
        return outcome

    def jobs(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every job: its cron expression, next run (time zone of the schedule), last run and outcome."""
        now = now or datetime.now(timezone.utc)
        crons = self.settings.schedule.jobs()
        last: dict[str, tuple[Any, Any]] = {}
        if self.warehouse is not None and self.warehouse.has_table("_computed"):
            with warehouse_cursor(self.warehouse) as wh:
                for name in JOBS:
                    row = first_row(wh.con.execute("SELECT computed_at, info FROM _computed WHERE name = ?",
                                                   [f"job:{name}"]))
                    if row:
                        last[name] = row
        out = []
        for name, (_, what) in JOBS.items():
            trigger = self.triggers.get(name)
            nxt = trigger.get_next_fire_time(None, now) if trigger and self.settings.schedule.enabled else None
            ran, info = last.get(name, (None, None))
            out.append({"job": name, "cron": crons.get(name) or None, "what": what,
                        "next_run": nxt.isoformat() if nxt else None,
                        "last_run": ran.isoformat() if ran else None,
                        "last_status": json.loads(info).get("status") if info else None})
        return [j for j in out if j["cron"]]

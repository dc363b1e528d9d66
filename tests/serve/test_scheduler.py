"""The scheduler of `shoplens serve`: off unless configured, jobs run in the server process on its
warehouse (triggered directly, or by APScheduler without waiting for the clock), a failing job never
stops the server, and `shoplens schedule show` lists the jobs with their next runs."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shoplens.cli import app as cli_app
from shoplens.config import AlertSettings, ScheduleSettings
from shoplens.serve import scheduler as scheduler_mod
from shoplens.serve.app import create_app
from shoplens.serve.scheduler import ShopScheduler

from tests.monitor.receiver import Receiver
from tests.serve.serve_helpers import auth

ON = ScheduleSettings(enabled=True)


def _drop_november(settings) -> None:
    from shoplens.store.warehouse import Warehouse

    with Warehouse(settings.warehouse) as wh:
        wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                       "AND hash(order_id) % 5 <> 0")


def test_the_schedule_is_off_unless_configured(demo_copy):
    settings, keys, serve = demo_copy()
    keys.create("viewer")
    with TestClient(create_app(settings, serve)) as client:
        assert client.app.state.scheduler is None


def test_a_configured_schedule_runs_beside_the_server_and_stops_with_it(demo_copy):
    settings, keys, serve = demo_copy()
    keys.create("viewer")
    settings = settings.model_copy(update={"schedule": ON})
    with TestClient(create_app(settings, serve)) as client:
        scheduler = client.app.state.scheduler
        assert scheduler.scheduler.running
        assert sorted(j.id for j in scheduler.scheduler.get_jobs()) == ["alerts", "refresh", "report", "retrain"]
        assert client.get("/api/v1/health").status_code == 200  # the event loop is free
    assert not scheduler.scheduler.running


def test_apscheduler_runs_a_due_job_on_its_own_thread(demo_copy):
    """Made due now (no waiting for 03:15): the scheduler's thread runs the alerts job; the alerts it
    stored are served by the API with when they were computed."""
    settings, keys, serve = demo_copy()
    viewer = keys.create("viewer")
    _drop_november(settings)
    settings = settings.model_copy(update={"schedule": ON})
    with TestClient(create_app(settings, serve)) as client:
        scheduler = client.app.state.scheduler
        done = threading.Event()
        events = []
        scheduler.scheduler.add_listener(lambda e: (events.append(e), done.set()), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.scheduler.get_job("alerts").modify(next_run_time=datetime.now(timezone.utc))
        assert done.wait(120), "the due job did not run"
        assert events[0].job_id == "alerts" and events[0].exception is None
        assert events[0].retval["status"] == "ok" and events[0].retval["new_alerts"] >= 3
        answer = client.get("/api/v1/alerts", headers=auth(viewer)).json()
        assert answer["count"] == events[0].retval["new_alerts"]
        assert all(a["kind"] == "kpi_drop" and a["computed_at"] and a["evidence"]["usual_range"] for a in answer["data"])


def test_each_job_runs_on_the_servers_warehouse(demo_copy):
    settings, keys, serve = demo_copy()
    keys.create("viewer")
    settings = settings.model_copy(update={"schedule": ON})
    with TestClient(create_app(settings, serve)) as client:
        scheduler = client.app.state.scheduler
        cached = client.app.state.responses
        cached.put(("probe",), {"x": 1})
        refresh = scheduler.run("refresh")
        assert cached.get(("probe",)) is None  # answers cached before the refresh are gone
        assert refresh["status"] == "ok" and {"customer_rfm", "monitor_drift"} <= set(refresh["refreshed"])
        report = scheduler.run("report")
        assert report["status"] == "ok" and report["path"].endswith("report.html")
        assert (settings.warehouse.parent / "report.html").read_text(encoding="utf-8").lstrip().startswith("<")
        assert scheduler.run("retrain")["status"] == "ok"
        wh = client.app.state.warehouse
        runs = dict(wh.con.execute("SELECT name, info FROM _computed WHERE kind = 'job'").fetchall())
        assert sorted(runs) == ["job:refresh", "job:report", "job:retrain"]
        assert json.loads(runs["job:refresh"])["status"] == "ok"
        shown = {j["job"]: j for j in scheduler.jobs()}
        assert shown["report"]["last_status"] == "ok" and shown["report"]["last_run"]
        assert shown["alerts"]["last_run"] is None and shown["alerts"]["next_run"]


def test_a_failing_job_is_recorded_and_the_server_keeps_serving(demo_copy, monkeypatch):
    settings, keys, serve = demo_copy()
    viewer = keys.create("viewer")

    def broken(settings, wh):
        raise RuntimeError("disk full")

    monkeypatch.setitem(scheduler_mod.JOBS, "report", (broken, "write the HTML report"))
    settings = settings.model_copy(update={"schedule": ON})
    with TestClient(create_app(settings, serve)) as client:
        outcome = client.app.state.scheduler.run("report")
        assert outcome["status"] == "failed" and outcome["error"] == "RuntimeError: disk full"
        assert client.get("/api/v1/overview", headers=auth(viewer)).status_code == 200
        shown = {j["job"]: j for j in client.app.state.scheduler.jobs()}
        assert shown["report"]["last_status"] == "failed"


def test_a_dead_webhook_does_not_fail_the_alerts_job(demo_copy):
    settings, keys, serve = demo_copy()
    keys.create("viewer")
    _drop_november(settings)
    with Receiver([503]) as r:
        settings = settings.model_copy(update={"schedule": ON, "alerts": AlertSettings(
            webhook_url=r.url, retries=0)})
        with TestClient(create_app(settings, serve)) as client:
            outcome = client.app.state.scheduler.run("alerts")
    assert outcome["status"] == "ok" and outcome["failed"] == outcome["new_alerts"] > 0
    assert len(r.received) == outcome["new_alerts"]


def test_next_runs_follow_the_cron_and_time_zone():
    settings = ON.model_copy(update={"timezone": "Asia/Shanghai", "refresh": "0 6 * * mon"})
    from shoplens.config import Settings

    jobs = ShopScheduler(Settings(schedule=settings)).jobs(now=datetime(2026, 1, 1, tzinfo=timezone.utc))  # a Thursday
    refresh = next(j for j in jobs if j["job"] == "refresh")
    assert refresh["next_run"] == "2026-01-05T06:00:00+08:00"


def test_schedule_show_from_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "shoplens.toml"
    config.write_text('[schedule]\nenabled = true\nreport = ""\nalerts = "*/30 * * * *"\n', encoding="utf-8")
    monkeypatch.setenv("SHOPLENS_CONFIG", str(config))
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["-w", str(tmp_path / "none.duckdb"), "schedule", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["enabled"] and [j["job"] for j in data["jobs"]] == ["refresh", "retrain", "alerts"]
    assert all(j["next_run"] for j in data["jobs"]) and data["jobs"][2]["cron"] == "*/30 * * * *"
    assert not (tmp_path / "none.duckdb").exists()  # showing never creates a warehouse
    monkeypatch.setenv("SHOPLENS_SCHEDULE__ENABLED", "false")
    off = runner.invoke(cli_app, ["-w", str(tmp_path / "none.duckdb"), "schedule", "show"])
    assert off.exit_code == 0 and "The schedule is off" in off.output


def test_a_bad_cron_string_is_one_clear_line(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "shoplens.toml"
    config.write_text('[schedule]\nenabled = true\nretrain = "nightly"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "shoplens.cli", "schedule", "show"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = " ".join(done.stderr.split())
    assert "[schedule] retrain: 'nightly' is not a cron expression" in line
    assert "e.g. '0 3 * * *'" in line and "fix it in shoplens.toml or SHOPLENS_SCHEDULE__RETRAIN" in line


def test_schedule_show_while_another_process_holds_the_warehouse(demo_copy, tmp_path, monkeypatch):
    import subprocess
    import sys

    settings, _, _ = demo_copy()
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(settings.warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("SHOPLENS_SCHEDULE__ENABLED", "true")
        shown = CliRunner().invoke(cli_app, ["-w", str(settings.warehouse), "schedule", "show"])
    finally:
        holder.stdin.close()
        holder.wait()
    assert shown.exit_code == 0, shown.output
    assert "in use" in shown.output and "refresh" in shown.output


def test_serve_says_whether_the_schedule_is_on(demo_copy, monkeypatch):
    """`shoplens serve` up to the point uvicorn would take over (its run replaced: no real server)."""
    import uvicorn

    settings, keys, _ = demo_copy()
    keys.create("admin")
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app.state.scheduler))
    monkeypatch.setenv("SHOPLENS_SECRET", "test-secret-key-for-the-demo-suite-0123456789")
    monkeypatch.setenv("SHOPLENS_ALLOW_WEAK_SECRET", "true")
    runner = CliRunner()
    off = runner.invoke(cli_app, ["-w", str(settings.warehouse), "serve"])
    assert off.exit_code == 0, off.output
    assert "Schedule: off" in off.output and started == [None]
    monkeypatch.setenv("SHOPLENS_SCHEDULE__ENABLED", "true")
    monkeypatch.setenv("SHOPLENS_SCHEDULE__REPORT", "")
    on = runner.invoke(cli_app, ["-w", str(settings.warehouse), "serve"])
    assert on.exit_code == 0, on.output
    assert "Schedule: refresh '0 2 * * *', retrain '30 2 * * *', alerts '15 3 * * *' (UTC)" in " ".join(on.output.split())
    assert isinstance(started[1], ShopScheduler) and not started[1].scheduler.running  # starts with the app

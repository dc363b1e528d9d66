"""Typed settings: the [schedule] and [alerts] sections from shoplens.toml and the environment, and
their errors (one line naming the setting and how to fix it)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shoplens.config import AlertSettings, ScheduleSettings, Settings, load_settings
from shoplens.errors import ConfigError


def _config(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "shoplens.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SHOPLENS_CONFIG", str(path))


def test_the_schedule_is_off_by_default_with_nightly_jobs_once_on():
    schedule = Settings().schedule
    assert schedule.enabled is False
    assert ScheduleSettings(enabled=True).jobs() == {"refresh": "0 2 * * *", "retrain": "30 2 * * *",
                                                     "report": "0 3 * * *", "alerts": "15 3 * * *"}


def test_sections_come_from_the_file_and_the_environment_wins(tmp_path, monkeypatch):
    _config(tmp_path, monkeypatch, '[schedule]\nenabled = true\ntimezone = "Europe/London"\nreport = ""\n'
                                   '[alerts]\nwebhook_url = "https://hooks.example.com/shoplens"\nretries = 5\n')
    s = Settings()
    assert s.schedule.enabled and s.schedule.timezone == "Europe/London" and "report" not in s.schedule.jobs()
    assert s.alerts.webhook_url == "https://hooks.example.com/shoplens" and s.alerts.retries == 5
    monkeypatch.setenv("SHOPLENS_SCHEDULE__ENABLED", "false")
    monkeypatch.setenv("SHOPLENS_ALERTS__RETRIES", "1")
    s = Settings()
    assert s.schedule.enabled is False and s.alerts.retries == 1
    assert s.schedule.timezone == "Europe/London"  # the rest of the file's section still holds


@pytest.mark.parametrize("section, text, named", [
    ("schedule", 'refresh = "25 * * *"', "[schedule] refresh: '25 * * *' is not a cron expression"),
    ("schedule", 'alerts = "0 3 * * someday"', "[schedule] alerts: '0 3 * * someday' is not a cron expression"),
    ("schedule", 'timezone = "Mars/Olympus"', "[schedule] timezone: 'Mars/Olympus' is not a time zone name"),
    ("schedule", "refrsh = \"0 2 * * *\"", "[schedule] refrsh: Extra inputs are not permitted"),
    ("alerts", 'webhook_url = "hooks.example.com"', "[alerts] webhook_url: 'hooks.example.com' is not an http(s) URL"),
    ("alerts", "retries = -1", "[alerts] retries: Input should be greater than or equal to 0"),
])
def test_a_wrong_setting_is_one_line_naming_it(tmp_path, monkeypatch, section, text, named):
    _config(tmp_path, monkeypatch, f"[{section}]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert named in message and "\n" not in message
    assert f"fix it in {tmp_path / 'shoplens.toml'} or SHOPLENS_{section.upper()}__" in message


def test_a_cron_error_says_how_to_write_one():
    with pytest.raises(ValidationError, match=r"5 fields: minute hour day-of-month month day-of-week, e\.g\. '0 3"):
        ScheduleSettings(report="at night")


def test_kpi_percentiles_stay_on_their_side():
    with pytest.raises(ValidationError):
        AlertSettings(low_percentile=60)
    assert AlertSettings(kpi_period="week").kpi_period == "week"

"""Typed settings, loaded once from (highest priority first) explicit
arguments, environment variables ``SHOPLENS_*``, a TOML config file
(``SHOPLENS_CONFIG`` or ``./shoplens.toml``) and defaults.

The ``[schedule]`` section (:class:`ScheduleSettings`) sets what ``shoplens serve`` runs on its
own and when; ``[alerts]`` (:class:`AlertSettings`) where alerts go and what counts as a KPI drop.
Nested values also come from the environment: ``SHOPLENS_SCHEDULE__ENABLED=true``.

There is no global settings object: the CLI builds one :class:`Settings` per
run and passes it down.

>>> s = Settings(warehouse="/tmp/w.duckdb")
>>> s.warehouse.name
'w.duckdb'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_WAREHOUSE = Path(".shoplens") / "warehouse.duckdb"


def _config_file() -> Path:
    return Path(os.environ.get("SHOPLENS_CONFIG", "shoplens.toml"))


CRON_HELP = ("5 fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *' for 03:00 every day "
             "or '30 6 * * mon' for Mondays 06:30; an empty string turns the job off")


def check_cron(value: str, timezone: str = "UTC") -> str:
    """``value`` when it is a cron expression APScheduler accepts (``""`` = job off), else ValueError.

    >>> check_cron("0 3 * * *")
    '0 3 * * *'
    >>> check_cron("every day")
    Traceback (most recent call last):
    ...
    ValueError: 'every day' is not a cron expression (5 fields: minute hour day-of-month month day-of-week, ...
    """
    value = value.strip()
    if not value:
        return value
    from apscheduler.triggers.cron import CronTrigger  # imported here: the CLI starts without it

    try:
        CronTrigger.from_crontab(value, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a cron expression ({CRON_HELP}; {exc})") from None
    return value


class ScheduleSettings(BaseModel):
    """``[schedule]``: the jobs ``shoplens serve`` runs in its own process (the warehouse's one writer).

    Off unless ``enabled = true``: the jobs write to the warehouse and retrain models, which a shop
    turns on knowingly. Once on, the defaults are conservative: one run of each job per night, in
    order (refresh, retrain only what is stale or drifted, report, alerts). Each job is a cron
    expression (``""`` turns that job off) read in ``timezone``.

    >>> ScheduleSettings(enabled=True).retrain
    '30 2 * * *'
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="run the jobs below while `shoplens serve` runs")
    timezone: str = Field("UTC", description="time zone of the cron expressions, e.g. Europe/London")
    refresh: str = Field("0 2 * * *", description="recompute RFM, the customer profiles and the drift checks")
    retrain: str = Field("30 2 * * *", description="retrain the models that are stale or drifted")
    report: str = Field("0 3 * * *", description="write the HTML report")
    alerts: str = Field("15 3 * * *", description="evaluate the alert rules and deliver new alerts")
    max_age_days: int = Field(30, ge=1, description="retrain a model older than this even without new data")
    report_path: Path | None = Field(None, description="report file [default: report.html beside the warehouse]")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (e.g. UTC, Europe/London, Asia/Shanghai)") from None
        return value

    @field_validator("refresh", "retrain", "report", "alerts")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    def jobs(self) -> dict[str, str]:
        """Job name -> cron expression, for the jobs that are on.

        >>> ScheduleSettings(report="").jobs()
        {'refresh': '0 2 * * *', 'retrain': '30 2 * * *', 'alerts': '15 3 * * *'}
        """
        return {name: cron for name in ("refresh", "retrain", "report", "alerts") if (cron := getattr(self, name))}


class AlertSettings(BaseModel):
    """``[alerts]``: where alerts go and what counts as a KPI drop beyond its usual range.

    A KPI's usual range is the ``low_percentile``..``high_percentile`` of its period-over-period
    change over the last ``history_periods`` complete periods; the latest complete period's change
    below the low end (and negative) is a drop. With fewer than ``min_history`` past changes there
    is no usual range yet and the rule stays quiet.

    >>> AlertSettings().webhook_url is None
    True
    """

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = Field(None, description="POST each new alert as JSON here (http or https)")
    timeout_seconds: float = Field(5.0, gt=0, le=120, description="per attempt")
    retries: int = Field(3, ge=0, le=10, description="attempts after the first on a network error, 429 or 5xx")
    backoff_seconds: float = Field(1.0, ge=0, le=600, description="first wait between attempts; doubles each time")
    kpi_period: Literal["week", "month"] = "month"
    history_periods: int = Field(12, ge=3, le=120, description="past periods that set a KPI's usual range")
    min_history: int = Field(6, ge=3, description="fewer past periods than this: no KPI alert")
    low_percentile: float = Field(5.0, ge=0, le=50)
    high_percentile: float = Field(95.0, ge=50, le=100)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://hooks.example.com/shoplens)")
        return value.strip()


class Settings(BaseSettings):
    """shoplens settings (file + environment)."""

    model_config = SettingsConfigDict(env_prefix="SHOPLENS_", extra="ignore", env_nested_delimiter="__")

    warehouse: Path = Field(DEFAULT_WAREHOUSE, description="DuckDB warehouse file")
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"
    spark_remote: str | None = Field(None, description="Spark Connect URL (sc://host:port) when engine is spark")
    secret: SecretStr | None = Field(None, description="shop secret for keyed pseudonyms")
    secret_file: Path | None = None
    memory_limit: str = Field("1GB", description="DuckDB memory limit during ingest")
    threads: int | None = None
    max_future_days: int = Field(1, description="timestamps later than now + this are rejected")
    privacy: dict[str, Any] = Field(default_factory=dict, description="[privacy] section")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, description="[schedule] section")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="[alerts] section")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def home(self) -> Path:
        """Directory holding the warehouse and everything derived from it."""
        return self.warehouse.parent


def settings_problem(exc: ValidationError) -> str:
    """One line naming each invalid setting as the shop writes it, and where to fix it.

    >>> try:
    ...     Settings(schedule={"report": "daily"})
    ... except ValidationError as exc:
    ...     print(settings_problem(exc))
    [schedule] report: 'daily' is not a cron expression (...) (fix it in ... or SHOPLENS_SCHEDULE__REPORT)
    """
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        msg = str(error.get("msg", "")).removeprefix("Value error, ")
        where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else ".".join(loc)
        problems.append(f"{where}: {msg} (fix it in {_config_file()} or SHOPLENS_{'__'.join(loc).upper()})")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, ignoring overrides that are ``None``."""
    from shoplens.errors import ConfigError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {settings_problem(exc)}") from None
    except Exception as exc:  # TOML errors
        raise ConfigError(f"invalid settings: {exc}") from None

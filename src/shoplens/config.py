"""Typed settings, loaded once from (highest priority first) explicit
arguments, environment variables ``SHOPLENS_*``, a TOML config file
(``SHOPLENS_CONFIG`` or ``./shoplens.toml``) and defaults.

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

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_WAREHOUSE = Path(".shoplens") / "warehouse.duckdb"


def _config_file() -> Path:
    return Path(os.environ.get("SHOPLENS_CONFIG", "shoplens.toml"))


class Settings(BaseSettings):
    """shoplens settings (file + environment)."""

    model_config = SettingsConfigDict(env_prefix="SHOPLENS_", extra="ignore")

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


def load_settings(**overrides: Any) -> Settings:
    """Build settings, ignoring overrides that are ``None``."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic ValidationError or TOML errors
        from shoplens.errors import ConfigError

        raise ConfigError(f"invalid settings: {exc}") from None

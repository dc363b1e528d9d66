"""Server settings and the checks that keep the server closed by default.

Read from the environment (``SHOPLENS_*``) or given explicitly. The server
refuses to start when no active API key exists, when the shop secret is missing
or weak, or when a metrics token is set but weak: there is no built-in default.

>>> s = ServeSettings(cors_origins=["https://shop.example"])
>>> s.rate_limit_per_minute
600
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoplens.config import Settings
from shoplens.errors import ConfigError
from shoplens.serve.keys import ROLES, KeyStore

API_PREFIX = "/api/v1"  # the one place the API's version prefix is declared
MIN_SECRET_CHARS = 32
WEAK_WORDS = ("changeme", "change-me", "secret", "password", "default", "example", "test", "demo", "admin", "12345")
HOW_TO_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class ServeSettings(BaseSettings):
    """Settings of ``shoplens serve`` (env ``SHOPLENS_CORS_ORIGINS``, ``SHOPLENS_RATE_LIMIT_PER_MINUTE``...)."""

    model_config = SettingsConfigDict(env_prefix="SHOPLENS_", extra="ignore")

    cors_origins: list[str] = Field(default_factory=list, description="allowed browser origins; empty = CORS closed")
    rate_limit_per_minute: int = Field(600, ge=1, description="requests per minute per API key")
    rate_limit_burst: int = Field(100, ge=1, description="requests a key may send at once")
    max_body_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="largest accepted request body")
    metrics_token: SecretStr | None = Field(None, description="bearer token for /metrics besides admin keys")
    allow_weak_secret: bool = Field(False, description="development only: accept a short shop secret")
    response_cache: bool = Field(True, description="cache recommendation answers until the data changes")
    fold_interval_seconds: float = Field(0.1, gt=0, description="how long after the first collected event the fold starts (gathering what arrives meanwhile)")
    fold_batch_events: int = Field(5000, ge=1, description="fold at once when this many collected events wait")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "names the client; empty = the header is ignored and the peer address is the client")
    text_chars_per_request: dict[str, int] = Field(
        default_factory=lambda: {"viewer": 100_000, "analyst": 500_000, "admin": 2_000_000},
        description="most characters one text-analysis request may carry, per role (413 beyond)")
    text_seconds_per_request: dict[str, float] = Field(
        default_factory=lambda: {"viewer": 5.0, "analyst": 15.0, "admin": 60.0},
        description="most seconds of analysis one request may use, per role (413 when exceeded)")
    text_chars_per_minute: dict[str, int] = Field(
        default_factory=lambda: {"viewer": 300_000, "analyst": 1_500_000, "admin": 6_000_000},
        description="characters of text analysis per API key and minute, per role (429 beyond)")
    failed_auth_limit: int = Field(5, ge=1, description="failed attempts with one key id before it is slowed down")
    failed_auth_max_seconds: float = Field(900.0, gt=0, description="longest wait after repeated failed attempts")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return [item.strip() for item in value]

    @field_validator("text_chars_per_request", "text_seconds_per_request", "text_chars_per_minute")
    @classmethod
    def _every_role(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        missing = [r for r in ROLES if r not in value]
        if missing or any(v <= 0 for v in value.values()):
            raise ValueError(f"{info.field_name} needs a positive limit for each role ({', '.join(ROLES)})")
        return value


def entropy_bits(text: str) -> float:
    """Shannon entropy of ``text`` times its length (a rough strength estimate)."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -n * sum(c / n * math.log2(c / n) for c in counts.values())


def weakness(secret: str) -> str | None:
    """Why ``secret`` is weak, or None when it looks strong enough."""
    if len(secret) < MIN_SECRET_CHARS:
        return f"shorter than {MIN_SECRET_CHARS} characters"
    lowered = secret.lower()
    for word in WEAK_WORDS:
        if word in lowered:
            return f"contains the placeholder word {word!r}"
    if entropy_bits(secret) < 128:
        return "too little randomness (repeated characters)"
    return None


def shop_secret(settings: Settings) -> str | None:
    """The shop secret as privacy resolves it (settings, SHOPLENS_SECRET, secret_file, or the
    random ``shoplens.key`` file beside the warehouse); None when there is none."""
    from shoplens.privacy.keys import resolve_secret

    secret = resolve_secret(settings, Path(settings.warehouse).parent, create=False)
    return None if secret is None else secret.decode("utf-8", errors="replace")


def check_startup(settings: Settings, serve: ServeSettings, keys: KeyStore) -> None:
    """Raise :class:`ConfigError` unless keys and secrets make a closed server."""
    problems = []
    try:
        secret = shop_secret(settings)
    except ConfigError as exc:
        secret = None
        problems.append(str(exc))
    if secret is None and not problems:
        problems.append("no shop secret: set SHOPLENS_SECRET or SHOPLENS_SECRET_FILE "
                        f"(e.g. {HOW_TO_SECRET}), or keep the shoplens.key file that `shoplens demo` / ingest "
                        "creates beside the warehouse")
    elif secret is not None and (why := weakness(secret)) and not serve.allow_weak_secret:
        problems.append(f"the shop secret is weak ({why}); generate one with {HOW_TO_SECRET}")
    if serve.metrics_token is not None and (why := weakness(serve.metrics_token.get_secret_value())):
        problems.append(f"SHOPLENS_METRICS_TOKEN is weak ({why})")
    if not keys.active():
        problems.append(f"no API key in {keys.path}: run `shoplens keys create --role admin` first")
    for origin in serve.cors_origins:
        if origin.strip() == "*":
            problems.append("SHOPLENS_CORS_ORIGINS may not be '*': list the shop's own origins")
    if problems:
        raise ConfigError("the server will not start: " + "; ".join(problems))

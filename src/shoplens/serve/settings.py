"""Server settings and the checks that keep the server closed by default.

Read from the environment (``SHOPLENS_*``) or given explicitly. The server
refuses to start when no active API key exists, when the shop secret is missing
or weak, or when a metrics token is set but weak: there is no built-in default.

>>> s = ServeSettings(cors_origins=["https://shop.example"])
>>> s.rate_limit_per_minute
600
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoplens.config import Settings
from shoplens.errors import ConfigError
from shoplens.serve.keys import KeyStore

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

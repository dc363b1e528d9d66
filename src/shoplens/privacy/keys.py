"""The shop secret and the keys derived from it.

Where the secret comes from, in order: ``settings.secret`` (env ``SHOPLENS_SECRET``),
``settings.secret_file``, else a random key file ``shoplens.key`` (0600) created
beside the warehouse on first use (said once on stderr). There is never a built-in
default. Each warehouse records a fingerprint of its key (never the key) in
``_privacy_state`` so a wrong secret is refused instead of silently producing
pseudonyms that join with nothing.

Sub-keys are derived with HMAC-SHA256 per purpose (pseudonyms, vault), so one
secret never serves two purposes directly.

>>> derive_key(b"0" * 32, "pseudonym") != derive_key(b"0" * 32, "vault")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

from shoplens.errors import ConfigError
from shoplens.store.files import private_dir

KEY_FILE_NAME = "shoplens.key"
MIN_SECRET_BYTES = 16
STATE_SQL = "CREATE TABLE IF NOT EXISTS _privacy_state (name VARCHAR PRIMARY KEY, value VARCHAR)"

# Keys known to this process, by warehouse id (copies of a warehouse share its id).
_KNOWN_KEYS: dict[str, bytes] = {}


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte sub-key of ``secret`` for one purpose."""
    return hmac.new(secret, f"shoplens/{purpose}".encode(), hashlib.sha256).digest()


def fingerprint(secret: bytes) -> str:
    """A short public fingerprint of the secret (safe to store)."""
    return derive_key(secret, "fingerprint").hex()[:16]


def _check_strength(secret: bytes, where: str) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{where}: the shop secret is too short ({len(secret)} bytes); use at least {MIN_SECRET_BYTES} random "
            "bytes, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return secret


def read_key_file(path: Path) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the secret key file ({exc.strerror}); check secret_file") from None
    return _check_strength(raw, str(path))


def resolve_secret(settings: Any, home: Path, *, create: bool = True, announce: bool = True) -> bytes | None:
    """The shop secret for a warehouse in folder ``home`` (see module doc)."""
    secret = getattr(settings, "secret", None) if settings is not None else None
    value = (secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)) if secret is not None else ""
    if value:  # an empty SHOPLENS_SECRET counts as unset
        return _check_strength(value.encode(), "SHOPLENS_SECRET / settings.secret")
    secret_file = getattr(settings, "secret_file", None) if settings is not None else None
    if secret_file:
        return read_key_file(Path(secret_file))
    env = os.environ.get("SHOPLENS_SECRET")
    if env:
        return _check_strength(env.encode(), "SHOPLENS_SECRET")
    path = Path(home) / KEY_FILE_NAME
    if path.exists():
        return read_key_file(path)
    if not create:
        return None
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    if announce:
        print(
            f"shoplens: created a new secret key file {path} (mode 0600) for pseudonyms and the vault; "
            "back it up: without it pseudonymised ids cannot be matched again",
            file=sys.stderr,
        )
    return read_key_file(path)


def warehouse_state(con: Any) -> dict[str, str]:
    # looked up first (a failing query would abort an open transaction, e.g. ingest's); duckdb_tables()
    # rather than information_schema, which costs about three times as much (this runs on every API request)
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                         "AND table_name = '_privacy_state'").fetchall()[0][0]
    if not exists:  # a warehouse never touched by privacy
        return {}
    return dict(con.execute("SELECT name, value FROM _privacy_state").fetchall())


def bind_secret(wh: Any, secret: bytes) -> None:
    """Record (or check) this warehouse's key fingerprint and remember the key in-process."""
    con = wh.con
    state = warehouse_state(con)
    fp = fingerprint(secret)
    if state.get("key_fingerprint") and state["key_fingerprint"] != fp:
        raise ConfigError(
            f"{wh.path}: the shop secret does not match the one this warehouse was pseudonymised with "
            f"(fingerprint {state['key_fingerprint']}); set SHOPLENS_SECRET / secret_file to the original key"
        )
    if not state.get("key_fingerprint"):
        con.execute(STATE_SQL)
        wid = state.get("warehouse_id") or uuid.uuid4().hex
        con.execute("INSERT OR REPLACE INTO _privacy_state VALUES ('key_fingerprint', ?), ('warehouse_id', ?)", [fp, wid])
        state["warehouse_id"] = wid
    _KNOWN_KEYS[state["warehouse_id"]] = secret


def warehouse_secret(wh: Any, settings: Any = None, *, state: dict[str, str] | None = None) -> bytes | None:
    """The secret bound to ``wh``, or None when the warehouse holds no pseudonyms.

    Looks in this process first (keys bound by ingest), then the environment, the
    config file and the key file beside the warehouse; refuses a mismatching key.
    ``state`` is :func:`warehouse_state` when the caller has just read it.
    """
    state = warehouse_state(wh.con) if state is None else state
    fp = state.get("key_fingerprint")
    if not fp:
        return None
    known = _KNOWN_KEYS.get(state.get("warehouse_id", ""))
    if known is not None and fingerprint(known) == fp:
        return known
    if settings is None:
        from shoplens.config import load_settings

        settings = load_settings()
    secret = resolve_secret(settings, wh.home, create=False)
    if secret is None:
        raise ConfigError(
            f"{wh.path}: this warehouse holds pseudonymised ids but no shop secret was found; set SHOPLENS_SECRET, "
            f"secret_file in shoplens.toml, or put the key file {KEY_FILE_NAME} beside the warehouse"
        )
    if fingerprint(secret) != fp:
        raise ConfigError(
            f"{wh.path}: the shop secret does not match the one this warehouse was pseudonymised with "
            f"(fingerprint {fp}); set SHOPLENS_SECRET / secret_file to the original key"
        )
    _KNOWN_KEYS[state.get("warehouse_id", "")] = secret
    return secret

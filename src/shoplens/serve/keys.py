"""API keys: created once, printed once, stored hashed.

A key looks like ``slk_<id>_<secret>``. Only ``sha256(secret)`` is stored, in
``<warehouse folder>/api_keys.json`` (mode 0600) next to the warehouse: a file
rather than a warehouse table so that keys can be created or revoked while the
server holds the warehouse open (DuckDB allows one writing process). Keys carry
43 random characters (256 bits), so a fast hash is enough: there is nothing to
brute-force, unlike a human password.

Roles are ordered: ``viewer`` reads aggregates, ``analyst`` also reads
per-customer data, ``admin`` also writes and erases.

>>> import tempfile, pathlib
>>> store = KeyStore(pathlib.Path(tempfile.mkdtemp()) / "api_keys.json")
>>> key = store.create("analyst")
>>> store.verify(key).role
'analyst'
>>> store.verify("slk_nope_nope") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from shoplens.errors import NotFoundError, UserInputError
from shoplens.store.files import write_private

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
PREFIX = "slk"
KEYS_FILE = "api_keys.json"


def role_at_least(role: str, needed: str) -> bool:
    """True when ``role`` may do what ``needed`` may (admin > analyst > viewer)."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserInputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret itself)."""

    key_id: str
    role: str
    secret_sha256: str
    created_at: str
    note: str = ""
    revoked: bool = False


class KeyStore:
    """Hashed API keys in one JSON file; re-read when the file changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._keys: dict[str, ApiKey] = {}

    @classmethod
    def for_warehouse(cls, warehouse_path: str | Path) -> KeyStore:
        return cls(Path(warehouse_path).parent / KEYS_FILE)

    # -- reading -------------------------------------------------------------------
    def _load(self) -> dict[str, ApiKey]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                self._keys, self._mtime = {}, None
                return self._keys
            if mtime != self._mtime:
                try:
                    raw = json.loads(self.path.read_text(encoding="utf-8"))
                    self._keys = {k["key_id"]: ApiKey(**k) for k in raw.get("keys", [])}
                except (ValueError, TypeError, KeyError) as exc:
                    raise UserInputError(
                        f"{self.path}: unreadable key file ({exc}); move it away and create keys again"
                    ) from None
                self._mtime = mtime
            return self._keys

    def list(self) -> list[ApiKey]:
        return sorted(self._load().values(), key=lambda k: k.created_at)

    def active(self) -> list[ApiKey]:
        return [k for k in self.list() if not k.revoked]

    def verify(self, key: str) -> ApiKey | None:
        """The stored key matching ``key``, or None (unknown, malformed or revoked)."""
        parts = key.split("_", 2) if isinstance(key, str) else []
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        stored = self._load().get(parts[1])
        if stored is None or stored.revoked:
            return None
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        return stored if hmac.compare_digest(digest, stored.secret_sha256) else None

    # -- writing -------------------------------------------------------------------
    def _write(self, keys: dict[str, ApiKey]) -> None:
        write_private(self.path, json.dumps({"keys": [asdict(k) for k in keys.values()]}, indent=1))
        self._mtime = None

    def create(self, role: str, note: str = "") -> str:
        """Create a key with ``role``; returns the full key (shown once, never stored)."""
        check_role(role)
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        keys = dict(self._load())
        keys[key_id] = ApiKey(
            key_id=key_id, role=role, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), note=note,
        )
        self._write(keys)
        return f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> None:
        keys = dict(self._load())
        if key_id not in keys:
            raise NotFoundError(f"no API key with id {key_id!r} (see `shoplens keys list`)")
        keys[key_id] = ApiKey(**{**asdict(keys[key_id]), "revoked": True})
        self._write(keys)

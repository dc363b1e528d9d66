"""API keys: created once, printed once, stored hashed.

A key looks like ``slk_<id>_<secret>``. Only ``sha256(secret)`` is stored, in
``<warehouse folder>/api_keys.json`` (mode 0600) next to the warehouse: a file
rather than a warehouse table so that keys can be created or revoked while the
server holds the warehouse open (DuckDB allows one writing process). Keys carry
43 random characters (256 bits), so a fast hash is enough: there is nothing to
brute-force, unlike a human password.

Roles are ordered: ``viewer`` reads aggregates, ``analyst`` also reads
per-customer data, ``admin`` also writes and erases. ``collector`` stands apart: it may
only send behaviour events (``/track``, ``/identify``, ``/alias``, ``/page``, ``/batch``) and
read nothing, so it can sit in a storefront's tracking snippet; admin keys may send events too.

A key may expire (``expires_at``, UTC): from then on it is refused with a message
saying so. :class:`AuthThrottle` slows down repeated failed attempts against one
key id (exponential backoff).

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
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from shoplens.errors import NotFoundError, UserInputError
from shoplens.store.files import write_private

Role = Literal["viewer", "analyst", "admin", "collector"]
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")  # ordered: each may do what the ones before may
COLLECTOR = "collector"  # writes events only (see the module doc)
ALL_ROLES: tuple[str, ...] = (*ROLES, COLLECTOR)
PREFIX = "slk"
KEYS_FILE = "api_keys.json"


def role_at_least(role: str, needed: str) -> bool:
    """True when ``role`` may do what ``needed`` may (admin > analyst > viewer; a collector key
    may only send events, which an admin key may too).

    >>> role_at_least("collector", "viewer"), role_at_least("admin", "collector"), role_at_least("viewer", "collector")
    (False, True, False)
    """
    if COLLECTOR in (role, needed):
        return role == needed or (needed == COLLECTOR and role == "admin")
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    if role not in ALL_ROLES:
        raise UserInputError(f"unknown role {role!r}: use one of {', '.join(ALL_ROLES)}")
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
    expires_at: str | None = None  # ISO time (UTC); None: never

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= datetime.fromisoformat(self.expires_at)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


def expiry(expires_in: str | None = None, expires: str | None = None, *, now: datetime | None = None) -> datetime | None:
    """When a new key stops working: ``expires_in`` like ``90d``, ``12h`` or ``4w`` from now, or ``expires``
    as a date (the key works through that day, UTC) or an ISO time; None when neither is given.

    >>> expiry("90d", now=datetime(2026, 1, 1, tzinfo=timezone.utc)).isoformat()
    '2026-04-01T00:00:00+00:00'
    >>> expiry(expires="2026-12-31").isoformat()
    '2027-01-01T00:00:00+00:00'
    """
    if expires_in is not None and expires is not None:
        raise UserInputError("give --expires-in or --expires, not both")
    now = now or utc_now()
    if expires_in is not None:
        match = _DURATION.match(expires_in)
        if not match or int(match.group(1)) == 0:
            raise UserInputError(f"--expires-in {expires_in!r}: give a duration like 90d, 12h or 4w")
        n, unit = int(match.group(1)), match.group(2)
        try:
            return now + timedelta(hours=n) * {"h": 1, "d": 24, "w": 24 * 7}[unit]
        except OverflowError:
            raise UserInputError(f"--expires-in {expires_in!r} is too far in the future") from None
    if expires is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", expires.strip()):
            day = date.fromisoformat(expires.strip())
            when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
        else:
            when = datetime.fromisoformat(expires.strip())
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise UserInputError(f"--expires {expires!r}: give a date like 2026-12-31 or a time like 2026-12-31T18:00") from None
    if when <= now:
        raise UserInputError(f"--expires {expires!r} is in the past")
    return when.astimezone(timezone.utc)


class AuthThrottle:
    """Slows down guessing: after ``limit`` failed attempts with one key id, every further attempt with
    that id is refused (429) for 1, 2, 4... seconds (at most ``max_seconds``); a success resets it.
    ``clock`` is injectable (tests never sleep).

    >>> t = AuthThrottle(limit=2, clock=lambda: 0.0)
    >>> t.failure("k"); t.wait("k")
    0.0
    >>> t.failure("k"); t.wait("k")
    1.0
    """

    def __init__(self, limit: int = 5, max_seconds: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.max_seconds = max_seconds
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key id -> (failures, blocked until)
        self._lock = threading.Lock()

    def wait(self, key_id: str) -> float:
        """Seconds before ``key_id`` may be tried again (0 when it may now)."""
        with self._lock:
            _, until = self._failures.get(key_id, (0, 0.0))
        return max(0.0, until - self.clock())

    def failure(self, key_id: str) -> None:
        with self._lock:
            n = self._failures.get(key_id, (0, 0.0))[0] + 1
            delay = min(self.max_seconds, 2.0 ** min(n - self.limit, 60)) if n >= self.limit else 0.0
            self._failures[key_id] = (n, self.clock() + delay)

    def success(self, key_id: str) -> None:
        with self._lock:
            self._failures.pop(key_id, None)


class KeyStore:
    """Hashed API keys in one JSON file; re-read when the file changes. ``now`` gives the time keys
    expire against (injectable for tests)."""

    def __init__(self, path: str | Path, now: Callable[[], datetime] = utc_now) -> None:
        self.path = Path(path)
        self.now = now
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

    def get(self, key_id: str) -> ApiKey | None:
        return self._load().get(key_id)

    def list(self) -> list[ApiKey]:
        return sorted(self._load().values(), key=lambda k: k.created_at)

    def active(self) -> list[ApiKey]:
        now = self.now()
        return [k for k in self.list() if not k.revoked and not k.expired(now)]

    def check(self, key: str) -> tuple[ApiKey | None, str]:
        """(the stored key, "") when ``key`` is valid, else (None, why): "malformed", "unknown",
        "revoked", "wrong secret" or "expired" (a correct key past its ``expires_at``)."""
        parts = key.split("_", 2) if isinstance(key, str) else []
        if len(parts) != 3 or parts[0] != PREFIX:
            return None, "malformed"
        stored = self._load().get(parts[1])
        if stored is None:
            return None, "unknown"
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        if not hmac.compare_digest(digest, stored.secret_sha256):
            return None, "wrong secret"
        if stored.revoked:
            return None, "revoked"
        if stored.expired(self.now()):
            return None, "expired"
        return stored, ""

    def verify(self, key: str) -> ApiKey | None:
        """The stored key matching ``key``, or None (unknown, malformed, revoked or expired)."""
        return self.check(key)[0]

    # -- writing -------------------------------------------------------------------
    def _write(self, keys: dict[str, ApiKey]) -> None:
        write_private(self.path, json.dumps({"keys": [asdict(k) for k in keys.values()]}, indent=1))
        self._mtime = None

    def create(self, role: str, note: str = "", expires_at: datetime | None = None) -> str:
        """Create a key with ``role`` (valid until ``expires_at``, if given); returns the full key
        (shown once, never stored)."""
        check_role(role)
        if expires_at is not None and expires_at <= self.now():
            raise UserInputError(f"the key would expire at {expires_at.isoformat()}, which is not in the future")
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        keys = dict(self._load())
        keys[key_id] = ApiKey(
            key_id=key_id, role=role, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
            created_at=self.now().isoformat(timespec="seconds"), note=note,
            expires_at=expires_at.astimezone(timezone.utc).isoformat(timespec="seconds") if expires_at else None,
        )
        self._write(keys)
        return f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> None:
        keys = dict(self._load())
        if key_id not in keys:
            raise NotFoundError(f"no API key with id {key_id!r} (see `shoplens keys list`)")
        keys[key_id] = ApiKey(**{**asdict(keys[key_id]), "revoked": True})
        self._write(keys)

"""Shared request dependencies: the warehouse, the caller's key and role checks.

>>> from shoplens.serve.deps import require
>>> callable(require("analyst"))
True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shoplens.serve.keys import ApiKey, role_at_least
from shoplens.store.warehouse import Warehouse

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="an API key from `shoplens keys create`")


def request_warehouse(base: Warehouse) -> Warehouse:
    """A view of the server's warehouse on its own DuckDB cursor (one per request, thread-safe); the cursor
    starts in UTC, the time zone :class:`Warehouse` sets for the whole database when it opens it."""
    wh = copy.copy(base)
    wh.con = base.con.cursor()
    return wh


@contextmanager
def warehouse_cursor(base: Warehouse) -> Iterator[Warehouse]:
    """:func:`request_warehouse`, its cursor closed when the block ends."""
    wh = request_warehouse(base)
    try:
        yield wh
    finally:
        wh.con.close()


def until_data_changes(request: Request, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, kept until the server next changes data.

    The server holds the warehouse's only writable connection, and every write it makes (ingest,
    erasure, promotion, rollback, event folds, scheduled jobs) moves the response cache's ``epoch``
    on; a value read at one epoch is therefore current until the epoch moves. The hot path asks the
    warehouse only what can have changed (consent, events), not the privacy state or the promoted
    model version on every request. The epoch is read before ``compute`` runs: a write during it
    leaves the value to the next request.
    """
    epoch = request.app.state.responses.epoch
    memo = request.app.state.cache.get(("until-data-changes", key))
    if memo is not None and memo[0] == epoch:
        return memo[1]
    value = compute()
    request.app.state.cache[("until-data-changes", key)] = (epoch, value)
    return value


def privacy_state(request: Request, wh: Warehouse) -> dict[str, str]:
    """The warehouse's privacy state (pseudonymisation, key fingerprint), read once per data change."""
    from shoplens.privacy.keys import warehouse_state

    return until_data_changes(request, "privacy-state", lambda: warehouse_state(wh.con))


def get_warehouse(request: Request) -> Iterator[Warehouse]:
    with warehouse_cursor(request.app.state.warehouse) as wh:
        yield wh


# The key check and role check are `async def` on purpose: they do no blocking I/O (the key file is
# re-read only when its mtime changes), and a sync dependency costs a trip through the thread pool on
# every request — a third of the server's time on a cached recommendation.
def authenticate(request: Request, token: str) -> ApiKey:
    """The stored key for ``token``: 401 when invalid, revoked or expired (saying which), 429 while its
    key id is slowed down after repeated failed attempts."""
    state = request.app.state
    parts = token.split("_", 2)
    key_id = parts[1] if len(parts) == 3 else None
    wait = state.auth_throttle.wait(key_id) if key_id else 0.0
    if wait > 0:
        raise HTTPException(429, f"too many failed attempts with API key id {key_id}; try again in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
    key, why = state.keys.check(token)
    if key is None:
        if why == "wrong secret":  # guessing at a real key id: slow it down
            state.auth_throttle.failure(key_id)
        if why == "expired":
            raise HTTPException(401, f"API key {key_id} expired at {state.keys.get(key_id).expires_at}; create a new one with "
                                     "`shoplens keys create`", headers={"WWW-Authenticate": "Bearer"})
        raise HTTPException(401, "revoked API key" if why == "revoked" else "invalid API key",
                            headers={"WWW-Authenticate": "Bearer"})
    state.auth_throttle.success(key.key_id)
    return key


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The caller's API key; 401 without a valid one, 429 when it sends too fast."""
    state = request.app.state
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing API key: send `Authorization: Bearer KEY` (create one with "
                                 "`shoplens keys create --role viewer`)", headers={"WWW-Authenticate": "Bearer"})
    key = authenticate(request, credentials.credentials)
    request.state.api_key = key
    if not state.limiter.allow(key.key_id):
        raise HTTPException(429, "rate limit exceeded for this API key; slow down",
                            headers={"Retry-After": str(state.limiter.retry_after(key.key_id))})
    return key


async def collector_key(request: Request) -> ApiKey:
    """The key of an event sender: ``Authorization: Bearer KEY``, or HTTP Basic with the key as the
    user name and an empty password (what the Segment / RudderStack SDKs send); a collector or admin
    key (401 without a valid key, 403 for another role, 429 when it sends too fast)."""
    import base64
    import binascii

    state = request.app.state
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = None
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        try:
            token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            token = None
    if not token:
        raise HTTPException(401, "missing API key: send `Authorization: Bearer KEY` or the key as the HTTP Basic user "
                                 "name (create one with `shoplens keys create --role collector`)",
                            headers={"WWW-Authenticate": "Bearer"})
    key = authenticate(request, token)
    request.state.api_key = key
    if not state.limiter.allow(key.key_id):
        raise HTTPException(429, "rate limit exceeded for this API key; slow down",
                            headers={"Retry-After": str(state.limiter.retry_after(key.key_id))})
    if not role_at_least(key.role, "collector"):
        raise HTTPException(403, f"sending events needs a collector (or admin) key; your key has {key.role}")
    return key


def require(role: str) -> Any:
    """Dependency: the caller's key, with at least ``role``."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not role_at_least(key.role, role):
            raise HTTPException(403, f"this needs the {role} role; your key has {key.role}")
        return key

    return check


def audit_customers(request: Request, customer_ids: list[str]) -> None:
    """Record in the access log which customers (shop ids) this request read or changed."""
    request.state.customers = [str(c) for c in customer_ids]


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]
Viewer = Annotated[ApiKey, Depends(require("viewer"))]
Analyst = Annotated[ApiKey, Depends(require("analyst"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
Collector = Annotated[ApiKey, Depends(collector_key)]

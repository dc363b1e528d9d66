"""Delivery of alerts to a webhook: POST JSON, a timeout per attempt, retries with backoff.

Delivery sits in ``monitor`` (not ``serve``) because both the CLI (``shoplens alerts check``) and
the server's scheduler deliver through :func:`shoplens.services.check_alerts`, and the services
layer sits below the interfaces; it needs nothing above the store. HTTP is httpx's, the retry
policy tenacity's (exponential backoff); nothing here raises on a failed delivery: the result
says what happened and the caller records it, so a dead receiver never stops a server.

>>> deliver("http://127.0.0.1:9/nowhere", {"kind": "test"}, retries=1, backoff_seconds=0, timeout_seconds=0.5).ok
False
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shoplens import __version__
from shoplens.jsonsafe import dumps

log = logging.getLogger("shoplens.alerts")


class _Retryable(Exception):
    """A 429 or 5xx answer: worth another attempt."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """What happened to one POST: ``ok``, the attempts made, the last status and error."""

    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (_Retryable, httpx.TransportError))


def deliver(url: str, payload: dict[str, Any], *, timeout_seconds: float = 5.0, retries: int = 3,
            backoff_seconds: float = 1.0, sleep: Callable[[float], None] = time.sleep,
            transport: httpx.BaseTransport | None = None) -> Delivery:
    """POST ``payload`` as JSON to ``url``; retry network errors, timeouts, 429 and 5xx up to
    ``retries`` times, waiting ``backoff_seconds`` then twice as long each time (at most 60 s).
    Another 4xx is final (the receiver refused the alert). Never raises.

    ``sleep`` and ``transport`` let a test run without waiting or without a network.
    """
    attempts = 0
    last_status: int | None = None
    body = dumps(payload).encode("utf-8")
    headers = {"content-type": "application/json", "user-agent": f"shoplens/{__version__}"}

    def post(client: httpx.Client) -> httpx.Response:
        nonlocal attempts, last_status
        attempts += 1
        response = client.post(url, content=body, headers=headers)
        last_status = response.status_code
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(response.status_code)
        return response

    try:
        with httpx.Client(timeout=timeout_seconds, transport=transport, follow_redirects=False) as client:
            retrying = Retrying(stop=stop_after_attempt(retries + 1), retry=retry_if_exception(_retryable),
                                wait=wait_exponential(multiplier=backoff_seconds, max=60), sleep=sleep, reraise=False)
            response = retrying(post, client)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        error = f"{type(cause).__name__}: {cause}" if not isinstance(cause, _Retryable) else str(cause)
        log.warning("alert delivery to %s failed after %d attempt(s): %s", url, attempts, error)
        return Delivery(False, attempts, last_status, error)
    except Exception as exc:  # an invalid URL, a TLS error: recorded, never raised into the server
        log.warning("alert delivery to %s failed: %s", url, exc)
        return Delivery(False, attempts, last_status, f"{type(exc).__name__}: {exc}")
    if response.status_code >= 400:
        log.warning("alert delivery to %s refused: HTTP %d", url, response.status_code)
        return Delivery(False, attempts, response.status_code, f"HTTP {response.status_code}")
    return Delivery(True, attempts, response.status_code)

"""The API's routes, one module per resource (``ingest``, ``collect``, ``customers``, ``segments``, ``campaigns``,
``recs``, ``text``, ``decisions``, ``experiments``, ``models``, ``privacy``, ``behaviour``, ``alerts``, ``system``), gathered by
:mod:`shoplens.serve.api` and mounted once under ``/api/v1``; ``dashboard`` serves the static page.

A route checks the caller (``deps``), calls one capability function and answers with a response
model from :mod:`shoplens.serve.schemas`; it runs no SQL (tests/serve/test_contract.py checks both).

>>> router = ResourceRouter(tags=["demo"])
>>> sorted(router.responses)[:3]
[400, 401, 403]
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shoplens.serve.schemas import error_responses


def computed_now(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with ``computed_at``: the time (UTC, to the second) an answer computed on request was
    computed; answers read from a stored result carry that result's own time instead.

    >>> sorted(computed_now({"n": 1}))
    ['computed_at', 'n']
    """
    from datetime import UTC, datetime

    return answer | {"computed_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")}


class ResourceRouter(APIRouter):
    """The router of one resource: every 4xx documented as ``ErrorOut`` (``responses``), and every
    route answers exactly the fields its capability returned: a field left unset (a column the shop
    lacks, a score hidden without consent) is left out, never sent as null
    (``response_model_exclude_unset``, forced on every route)."""

    def __init__(self, *, responses: dict[int | str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(responses=error_responses() if responses is None else responses, **kwargs)

    def add_api_route(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().add_api_route(path, endpoint, **kwargs)

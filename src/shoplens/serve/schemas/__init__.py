"""Request and response schemas of the REST API, one module per resource (inputs and outputs
are separate classes); this module holds what every resource shares: the page of a list,
the one error answer, and the JSON helpers.

Lists are ``{data, count, limit, offset}``: ``count`` is the total number of matching
items, ``data`` one page of them. Every 4xx answer is an :class:`ErrorOut`.

>>> Page(data=[{"a": 1}], count=7, limit=1, offset=0).count
7
>>> sorted(error_responses(404)[404])
['description', 'model']
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from shoplens.jsonsafe import clean, records

__all__ = ["ApiModel", "ErrorOut", "FieldError", "Number", "Page", "PageQuery", "Row", "Time", "clean", "error_responses", "page",
           "records"]

T = TypeVar("T")

# A number as the capability computed it: an integer stays an integer, a float a float (pydantic's
# `float` would turn 3 into 3.0); documented as a JSON number.
Number = Annotated[float | int, WithJsonSchema({"type": "number"})]
# Times are ISO 8601 text as the capability wrote them (UTC, no offset); kept as text so that the
# answer is exactly what the capability wrote, never re-formatted.
Time = Annotated[str, Field(description="ISO 8601 time (UTC)")]
# the time an answer computed on request was computed (shoplens.serve.routes.computed_now)
COMPUTED_ON_REQUEST = "computed on request, at this time (UTC)"


class ApiModel(BaseModel):
    """Base of every answer: each field is documented here; a field a capability adds before it is
    documented still passes through (``extra="allow"``) rather than being dropped, and
    tests/serve/test_contract.py fails until it is documented. Answers carry exactly the fields the
    capability returned: routes leave unset fields out (``response_model_exclude_unset``)."""

    model_config = ConfigDict(extra="allow")


class Row(ApiModel):
    """A row of a result table: every column may be null."""


class Page(ApiModel, Generic[T]):
    data: list[T]
    count: int = Field(description="total number of items (all pages)")
    limit: int
    offset: int


class PageQuery(BaseModel):
    """Which page of a list: ``limit`` items from ``offset`` on."""

    limit: int = Field(100, ge=1, le=1000, description="page size")
    offset: int = Field(0, ge=0, le=10_000_000, description="items to skip")


class FieldError(BaseModel):
    field: str = Field(description="where: body.text, query.limit, body.params.epsilon...")
    message: str


class ErrorOut(BaseModel):
    """Every 4xx answer: what went wrong and how to fix it, in one line."""

    detail: str = Field(description="what went wrong and how to fix it")
    errors: list[FieldError] | None = Field(None, description="invalid input only (422): one entry per field")


ERRORS = {
    400: "a user mistake (the message says what to change)",
    401: "no API key, or an invalid, revoked or expired one",
    403: "the API key's role is too low for this",
    404: "no such customer, segment, product, decision or model version",
    409: "the result is not computed yet (the message names the command that computes it)",
    413: "the request (or its text) is too large",
    422: "invalid input: `errors` names each field",
    429: "too many requests for this API key (see Retry-After)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring :class:`ErrorOut` for each status code (all 4xx by default)."""
    return {code: {"model": ErrorOut, "description": ERRORS[code]} for code in codes or ERRORS}


def page(items: list[dict[str, Any]] | pd.DataFrame, limit: int, offset: int, count: int | None = None) -> Page:
    """One page of ``items``; pass ``count`` when ``items`` is already the page."""
    rows = records(items) if isinstance(items, pd.DataFrame) else clean(items)
    if count is None:
        count = len(rows)
        rows = rows[offset: offset + limit]
    return Page(data=rows, count=count, limit=limit, offset=offset)

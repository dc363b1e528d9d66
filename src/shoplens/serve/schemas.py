"""Request and response schemas (inputs and outputs are separate classes).

List responses are ``{data, count, limit, offset}``: ``count`` is the total
number of matching items, ``data`` one page of them.

>>> Page(data=[{"a": 1}], count=7, limit=1, offset=0).count
7
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from shoplens.jsonsafe import json_safe


class Page(BaseModel):
    data: list[dict[str, Any]]
    count: int = Field(description="total number of items (all pages)")
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    version: str


class ErrorOut(BaseModel):
    detail: Any


class Accounting(BaseModel):
    table: str
    files: list[str]
    read: int
    loaded: int
    updated: int
    quarantined: int
    duplicates: int
    seconds: float
    run_id: str | None = None
    derived: dict[str, Any] | None = None


class ModelVersionOut(BaseModel):
    name: str
    version: int
    status: str


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (ISO times, NaN -> null)."""
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s", force_ascii=False))


def clean(obj: Any) -> Any:
    """Any nested value made JSON-ready (NaN/inf -> null, numpy scalars, times)."""
    if isinstance(obj, pd.DataFrame):
        return records(obj)
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return json_safe(obj)  # NaT and pd.NA -> null too, not "NaT"


def page(items: list[dict[str, Any]] | pd.DataFrame, limit: int, offset: int, count: int | None = None) -> Page:
    """One page of ``items``; pass ``count`` when ``items`` is already the page."""
    rows = records(items) if isinstance(items, pd.DataFrame) else clean(items)
    if count is None:
        count = len(rows)
        rows = rows[offset: offset + limit]
    return Page(data=rows, count=count, limit=limit, offset=offset)

"""Text: analyse a text or a batch (sentiment, aspects, intent; PII masked) and the review
insights page, over the text package's public functions; PII is masked in every text returned."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shoplens.errors import NotComputedError
from shoplens.serve.deps import Viewer, WarehouseDep
from shoplens.serve.schemas import clean

router = APIRouter(tags=["text"])
API = "/api/v1"
TextField = Annotated[str, Field(min_length=1, max_length=20_000)]


class TextIn(BaseModel):
    text: TextField
    lang: Annotated[str, Field(pattern=r"^(auto|en|zh)$")] = "auto"


class BatchIn(BaseModel):
    texts: list[TextField] = Field(min_length=1, max_length=1000)
    lang: Annotated[str, Field(pattern=r"^(auto|en|zh)$")] = "auto"


def _text_api() -> Any:
    """The text package's serving functions, or a clear 409 while it is not installed."""
    if importlib.util.find_spec("shoplens.text.api") is None:
        raise NotComputedError("text analysis is not available in this installation yet (shoplens.text.api)")
    return importlib.import_module("shoplens.text.api")


def _masked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from shoplens.privacy.files import mask_texts

    for key in ("text", "quote", "masked_text"):
        texts = [r.get(key) for r in rows]
        if any(isinstance(t, str) for t in texts):
            for r, m in zip(rows, mask_texts(texts)):
                if key in r:
                    r[key] = m
    return rows


@router.post(f"{API}/text/analyze")
def analyze_text(body: TextIn, wh: WarehouseDep, key: Viewer) -> dict[str, Any]:
    """Sentiment, aspects and intent of one text; the text comes back with PII masked."""
    rows = _text_api().analyze_texts(wh, [body.text], lang=body.lang)
    return clean(_masked(rows)[0])


@router.post(f"{API}/text/analyze-batch")
def analyze_batch(body: BatchIn, wh: WarehouseDep, key: Viewer) -> dict[str, Any]:
    """The same for up to 1,000 texts: ``{data, count}``."""
    rows = _text_api().analyze_texts(wh, body.texts, lang=body.lang)
    return {"data": clean(_masked(rows)), "count": len(rows)}


@router.get(f"{API}/reviews/insights")
def review_insights(wh: WarehouseDep, key: Viewer,
                    quotes: Annotated[int, Query(ge=0, le=10, description="quotes per complaint")] = 3) -> dict[str, Any]:
    """Sentiment trend by month, top aspects and complaints with (masked) quotes."""
    out = clean(_text_api().review_insights(wh, quotes=quotes))
    for complaint in out.get("complaints", []):
        if complaint.get("quotes"):
            from shoplens.privacy.files import mask_texts

            complaint["quotes"] = mask_texts(complaint["quotes"])
    return out

"""Text: analyse a text or a batch (sentiment, aspects, intent; PII masked) and the review
insights page, over the text package's public functions; PII is masked in every text returned.

Analysis costs CPU in proportion to the characters sent, so each request is bounded per role
(``ServeSettings.text_chars_per_request``: 413 beyond, before any work;
``text_seconds_per_request``: analysis stops with a 413 once used up) and its characters are
counted against the key's ``text_chars_per_minute`` (429 with Retry-After beyond).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request

from shoplens.errors import InsufficientDataError, NotComputedError
from shoplens.serve.deps import Viewer, WarehouseDep
from shoplens.serve.keys import ApiKey
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import clean
from shoplens.serve.schemas.text import Analysis, BatchIn, BatchOut, InsightsQuery, ReviewInsightsOut, TextIn

router = ResourceRouter(tags=["text"])


def _masked_text(texts: list[str]) -> list[str]:
    from shoplens.privacy.files import mask_texts

    return [t or "" for t in mask_texts(list(texts))]


def _extractors(request: Request) -> dict[str, Any]:
    """The aspect and entity extractors, built once per server: compiling their patterns costs
    ~10 ms, more than scoring one text."""
    state = request.app.state
    if getattr(state, "text_extractors", None) is None:
        from shoplens.text.aspects import default_extractor
        from shoplens.text.entities import EntityExtractor

        # the same extractor as the CLI and Python (English mentions scored by the shipped
        # aspect-polarity model), so one text gets one answer on every interface
        state.text_extractors = {"aspects": default_extractor(), "entities": EntityExtractor()}
    return state.text_extractors


CHUNK_CHARS = 20_000  # the time budget is checked between chunks of about this many characters


def _charge(request: Request, key: ApiKey, texts: list[str]) -> float:
    """Check the request's characters against the role's limits and take them from the key's budget;
    returns the second (on the app's clock) by which the analysis must finish."""
    state, serve = request.app.state, request.app.state.serve
    total = sum(len(t) for t in texts)
    most = serve.text_chars_per_request[key.role]
    if total > most:
        raise HTTPException(413, f"{total:,} characters of text in one request; the {key.role} role may send at most "
                                 f"{most:,} per request: split the batch")
    limiter = state.text_limiters[key.role]
    if not limiter.allow(key.key_id, cost=total):
        wait = limiter.retry_after(key.key_id, cost=total)
        raise HTTPException(429, f"text analysis budget of this API key used up ({serve.text_chars_per_minute[key.role]:,} "
                                 f"characters per minute for the {key.role} role); retry in {wait} s",
                            headers={"Retry-After": str(wait)})
    return state.clock() + serve.text_seconds_per_request[key.role]


def _chunks(texts: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    size = 0
    for t in texts:
        if out[-1] and size + len(t) > CHUNK_CHARS:
            out.append([])
            size = 0
        out[-1].append(t)
        size += len(t)
    return out


def _analyze_bounded(request: Request, key: ApiKey, texts: list[str], lang: str) -> list[dict[str, Any]]:
    """:func:`_analyze` chunk by chunk, stopping with a 413 once the role's time per request is used up."""
    deadline = _charge(request, key, texts)
    extractors = _extractors(request)
    rows: list[dict[str, Any]] = []
    clock, seconds = request.app.state.clock, request.app.state.serve.text_seconds_per_request[key.role]
    for chunk in _chunks(texts):
        if clock() > deadline:
            raise HTTPException(413, f"analysis stopped after {seconds:g} s, the {key.role} role's limit per request "
                                     f"({len(rows):,} of {len(texts):,} texts done): send fewer or shorter texts")
        rows += _analyze(chunk, lang, extractors)
    return rows


def _analyze(texts: list[str], lang: str, extractors: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Sentiment, aspects, entities (text package) and intent per text; every text and quote PII-masked."""
    from shoplens.text.analyze import analyze_reviews, score_intent

    frame = analyze_reviews(texts, lang, **(extractors or {}))
    intents = score_intent(texts)
    masked = _masked_text(texts)
    rows = []
    for i, row in enumerate(frame.to_dict("records")):
        aspects = row.get("aspects") or []
        evidence = _masked_text([a.get("evidence", "") for a in aspects]) if aspects else []
        rows.append({
            "text": masked[i], "language": row["language"], "sentiment": row["sentiment"],
            "sentiment_score": row["sentiment_score"],
            "aspects": [{**a, "evidence": e} for a, e in zip(aspects, evidence)],
            "entities": row.get("entities") or [],
            "intent": intents["intent"].iloc[i], "intent_score": intents["intent_score"].iloc[i],
        })
    return clean(rows)


@router.post("/text/analyze", response_model=Analysis)
def analyze_text(body: TextIn, request: Request, key: Viewer) -> dict[str, Any]:
    """Sentiment, aspects, entities and support intent of one text; the text comes back with PII masked.
    Its characters count against the key's text budget per minute (429 beyond)."""
    return _analyze_bounded(request, key, [body.text], body.lang)[0]


@router.post("/text/analyze-batch", response_model=BatchOut)
def analyze_batch(body: BatchIn, request: Request, key: Viewer) -> dict[str, Any]:
    """The same for up to 1,000 texts: ``{data, count}``. Bounded per role: characters per request
    (413 before any work), seconds of analysis per request (413), characters per minute (429)."""
    rows = _analyze_bounded(request, key, body.texts, body.lang)
    return {"data": rows, "count": len(rows)}


@router.get("/reviews/insights", response_model=ReviewInsightsOut)
def review_insights(wh: WarehouseDep, key: Viewer, query: Annotated[InsightsQuery, Query()]) -> dict[str, Any]:
    """Sentiment trend by month, the most complained-about aspects with (masked) quotes, emerging complaints."""
    from shoplens.text.analyze import REVIEWS_TABLE
    from shoplens.text.insights import emerging_complaints, sentiment_trend, top_negative_aspects

    if not wh.has_table(REVIEWS_TABLE):
        raise NotComputedError("reviews are not analysed yet: run `shoplens text analyze` (or `shoplens demo`)")
    trend = sentiment_trend(wh, by="all", period="month")
    trend = trend.assign(month=trend["period"].astype(str).str[:7]).drop(columns=["period", "key"])
    complaints = top_negative_aspects(wh, limit=query.limit, quotes=query.quotes)
    complaints["quotes"] = [_masked_text(list(q)) if q is not None else [] for q in complaints["quotes"]]
    aspects = complaints.assign(label=complaints["aspect"] + " · " + complaints["product"].fillna(
        complaints["product_id"]))[["label", "negative", "mentions"]]
    try:
        found = emerging_complaints(wh)
        emerging: Any = found[found["significant"]]
    except InsufficientDataError:  # too little history to compare two periods
        emerging = []
    from shoplens.insights.products import demo_review_links

    return clean({"computed_at": wh.computed_at(REVIEWS_TABLE), "demo_links": demo_review_links(wh),
                  "sentiment_by_month": trend, "aspects": aspects,
                  "complaints": complaints,
                  "emerging": emerging})

"""Recommendations for a customer (with business filters), similar items and frequently bought
together, served from the promoted recommender in the model registry (the response says which
version). Customers without personalisation consent, and unknown ones, get the non-personalised
(popular) list. Answers use each customer's or visitor's latest behaviour events (``live``, see
:mod:`shoplens.recs.live`); a cached answer is dropped when the collector folds in new events of that id."""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any

from fastapi import Path, Query, Request
from starlette.concurrency import run_in_threadpool

from shoplens.errors import NotComputedError
from shoplens.serve.deps import (Analyst, Viewer, WarehouseDep, audit_customers, privacy_state, until_data_changes,
                                 warehouse_cursor)
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import records
from shoplens.serve.schemas.recs import BoughtTogetherOut, ItemsQuery, RecommendationsOut, RecsQuery, SimilarOut
from shoplens.store.registry import ModelRegistry, promoted_version
from shoplens.store.warehouse import Warehouse

router = ResourceRouter(tags=["recommendations"])
ProductId = Annotated[str, Path(min_length=1, max_length=200)]
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")]
_load_lock = threading.Lock()


def served_recommender(request: Request, wh: Warehouse) -> tuple[str, int, Any]:
    """(name, version, model) of the promoted recommender in the registry, loaded once per promoted version."""
    from shoplens.recs import service

    name = service.MODEL_NAME
    # no query on the hot path: promotion and rollback go through this server, which moves the epoch on
    version = until_data_changes(request, ("promoted", name), lambda: promoted_version(wh, name))
    if version is None:
        raise NotComputedError("no recommender is trained yet: run `shoplens recs train` (or `shoplens demo`)")
    cache = request.app.state.cache
    model = cache.get(("recs", version))
    if model is None:
        with _load_lock:
            model = cache.get(("recs", version))
            if model is None:
                with service.quiet():
                    model = ModelRegistry(wh).load(name, version)
                cache[("recs", version)] = model
    return name, version, model


def _product_names(request: Request, version: int, model: Any) -> dict[str, str]:
    """Product names from the served model's catalogue (no query per request)."""
    names = request.app.state.cache.get(("recs-names", version))
    if names is None:
        catalogue = getattr(model, "catalogue_", None)
        names = {} if catalogue is None else dict(zip(catalogue["product_id"].astype(str), catalogue["name"]))
        request.app.state.cache[("recs-names", version)] = names
    return names


@router.get("/recommendations/{customer_id}", response_model=RecommendationsOut)
async def recommend(customer_id: CustomerId, request: Request, key: Analyst,
                    query: Annotated[RecsQuery, Query()]) -> dict[str, Any]:
    """Top-``n`` products for a customer with a reason each, from the served recommender (the response
    names its version). Without personalisation consent: the non-personalised popular list.
    ``score`` is in [0, 1]; ``personalised`` is true only when the list used the customer's history."""
    audit_customers(request, [customer_id])
    responses = request.app.state.responses
    question = (customer_id, query.n, query.exclude_purchased, query.in_stock_only, tuple(query.category or ()),
                query.price_min, query.price_max, query.max_per_category, query.live)
    # the storefront's hot path: a repeated question costs no warehouse access at all
    version = responses.get(("promoted", "recs"))
    if version is not None and (cached := responses.get(("recs", version, *question))) is not None:
        return cached  # answered on the event loop: no thread hop, no warehouse cursor
    epoch = responses.epoch  # new events folded in while computing: the answer is not kept
    out, internal = await run_in_threadpool(_answer, request, customer_id, query)
    responses.put(("promoted", "recs"), out["model_version"])
    # tagged with both ids: new events of either (the collector names warehouse ids) drop it
    responses.put(("recs", out["model_version"], *question), out, customers=(customer_id, internal), epoch=epoch)
    return out


def _answer(request: Request, customer_id: str, query: RecsQuery) -> tuple[dict[str, Any], str | None]:
    """A computed answer and the customer's warehouse id (blocking: DuckDB and the model), in the thread pool."""
    from shoplens.privacy.ids import to_internal

    with warehouse_cursor(request.app.state.warehouse) as wh:
        internal = to_internal(wh, [customer_id], state=privacy_state(request, wh))[0]  # once per request
        return _recommend(request, wh, customer_id, query, internal), internal


def _number(value: Any) -> float | None:
    """A score as :func:`records` writes it (10 decimals, NaN and infinities as null), without a DataFrame."""
    value = float(value)
    return round(value, 10) if math.isfinite(value) else None


def _recommend(request: Request, wh: Warehouse, customer_id: str, query: RecsQuery,
               internal: str | None) -> dict[str, Any]:
    from shoplens.recs.base import RecFilters
    from shoplens.recs.service import recommend as recommend_for

    name, version, model = served_recommender(request, wh)
    filters = RecFilters(exclude_purchased=query.exclude_purchased, in_stock_only=query.in_stock_only,
                         categories=tuple(query.category) if query.category else None, price_min=query.price_min,
                         price_max=query.price_max, max_per_category=query.max_per_category)
    frame = recommend_for(wh, [customer_id], k=query.n, filters=filters, model=model, internal_ids=[internal],
                          consent_default=request.app.state.consent_default, live=query.live)
    # the consent check was made once, inside recommend: customers without consent get NOT_PERSONALISED lists;
    # a list is personalised only when the model ranked it from the customer's history (unknown: popular)
    names = _product_names(request, version, model)
    # the rows straight from the columns: ten of them do not need records()' JSON round trip
    data = [{"rank": int(rank), "product_id": str(product), "score": _number(score),
             "reason": reason if isinstance(reason, str) else None,
             "personalised": None if own is None or own != own else bool(own), "name": names.get(str(product))}
            for rank, product, score, reason, own in zip(frame["rank"].tolist(), frame["product_id"].tolist(),
                                                         frame["score"].tolist(), frame["reason"].tolist(),
                                                         frame["personalised"].tolist())]
    return {"customer_id": customer_id, "model": name, "model_version": version,
            "personalised": any(row["personalised"] is True for row in data), "data": data, "count": len(data)}


@router.get("/products/{product_id}/similar", response_model=SimilarOut)
def similar_items(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer,
                  query: Annotated[ItemsQuery, Query()]) -> dict[str, Any]:
    """Products most like this one (for the product page)."""
    name, version, model = served_recommender(request, wh)
    frame = model.similar_items(product_id, k=query.n)
    return {"product_id": product_id, "model": name, "model_version": version,
            "data": records(frame), "count": int(len(frame))}


@router.get("/products/{product_id}/bought-together", response_model=BoughtTogetherOut)
def bought_together(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer,
                    query: Annotated[ItemsQuery, Query()]) -> dict[str, Any]:
    """Products most often bought with this one (FP-growth association rules)."""
    from shoplens.recs.rules import bought_together as rules_by_product
    from shoplens.recs.service import with_names

    if not wh.has_table("association_rules"):
        raise NotComputedError("association rules are not computed yet: run `shoplens recs rules` (or `shoplens demo`)")
    at = wh.computed_at("association_rules")
    cache = request.app.state.cache
    table = cache.get(("bought_together", at))
    if table is None:
        table = rules_by_product(wh.table("association_rules"), per_product=100)
        cache[("bought_together", at)] = table
    frame = table[table["product_id"] == product_id].head(query.n).drop(columns=["product_id"])
    return {"product_id": product_id, "computed_at": at.isoformat() if at else None,
            "data": records(with_names(wh, frame, "together_product_id")), "count": int(len(frame))}


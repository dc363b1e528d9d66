"""Recommendations for a customer (with business filters), similar items and frequently bought
together, served from the promoted recommender in the model registry (the response says which
version). Customers without personalisation consent, and unknown ones, get the non-personalised
(popular) list."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

import duckdb
import pandas as pd

from shoplens.errors import NotComputedError
from shoplens.serve.deps import Analyst, Viewer, WarehouseDep, audit_customers, request_warehouse
from shoplens.serve.schemas import records
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, first_row

router = APIRouter(tags=["recommendations"])
API = "/api/v1"
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
ProductId = Annotated[str, Path(min_length=1, max_length=200)]
_load_lock = threading.Lock()


def served_recommender(request: Request, wh: Warehouse) -> tuple[str, int, Any]:
    """(name, version, model) of the promoted recommender, loaded once per promoted version."""
    from shoplens.recs import service

    name = service.MODEL_NAME
    try:  # one query on the hot path (no catalogue look-up first): a missing registry is the rare case
        row = first_row(wh.con.execute("SELECT version FROM _models WHERE name = ? AND status = 'promoted'", [name]))
    except duckdb.CatalogException:
        row = None
    if row is None:
        raise NotComputedError("no recommender is trained yet: run `shoplens recs train` (or `shoplens demo`)")
    version = int(row[0])
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


def _with_products(wh: Warehouse, frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    from shoplens.recs.service import with_names

    return records(with_names(wh, frame, column))


def _product_names(request: Request, version: int, model: Any) -> dict[str, str]:
    """Product names from the served model's catalogue (no query per request)."""
    names = request.app.state.cache.get(("recs-names", version))
    if names is None:
        catalogue = getattr(model, "catalogue_", None)
        names = {} if catalogue is None else dict(zip(catalogue["product_id"].astype(str), catalogue["name"]))
        request.app.state.cache[("recs-names", version)] = names
    return names


@router.get(f"{API}/recommendations/{{customer_id}}")
async def recommend(
    customer_id: Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")],
    request: Request, key: Analyst, n: K = 10,
    exclude_purchased: bool = False, in_stock_only: bool = False,
    category: Annotated[list[str] | None, Query(max_length=50)] = None,
    price_min: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    max_per_category: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict[str, Any]:
    """Top-``n`` products for a customer with a reason each, from the served recommender (the response
    names its version). Without personalisation consent: the non-personalised popular list.
    ``score`` is in [0, 1]; ``personalised`` is true only when the list used the customer's history."""
    audit_customers(request, [customer_id])
    responses = request.app.state.responses
    question = (customer_id, n, exclude_purchased, in_stock_only, tuple(category or ()), price_min, price_max,
                max_per_category)
    # the storefront's hot path: a repeated question costs no warehouse access at all
    version = responses.get(("promoted", "recs"))
    if version is not None and (cached := responses.get(("recs", version, *question))) is not None:
        return cached  # answered on the event loop: no thread hop, no warehouse cursor
    out = await run_in_threadpool(_answer, request, customer_id, question, n, exclude_purchased, in_stock_only,
                                  category, price_min, price_max, max_per_category)
    responses.put(("promoted", "recs"), out["model_version"])
    responses.put(("recs", out["model_version"], *question), out)
    return out


def _answer(request: Request, *args: Any) -> dict[str, Any]:
    """A computed answer (blocking: DuckDB and the model), run in the thread pool."""
    wh = request_warehouse(request.app.state.warehouse)
    try:
        return _recommend(request, wh, *args)
    finally:
        wh.con.close()


def _recommend(request: Request, wh: Warehouse, customer_id: str, question: tuple, n: int, exclude_purchased: bool,
               in_stock_only: bool, category: list[str] | None, price_min: float | None, price_max: float | None,
               max_per_category: int | None) -> dict[str, Any]:
    from shoplens.recs.base import RecFilters
    from shoplens.recs.service import recommend as recommend_for

    name, version, model = served_recommender(request, wh)
    filters = RecFilters(exclude_purchased=exclude_purchased, in_stock_only=in_stock_only,
                         categories=tuple(category) if category else None, price_min=price_min,
                         price_max=price_max, max_per_category=max_per_category)
    frame = recommend_for(wh, [customer_id], k=n, filters=filters, model=model,
                          consent_default=request.app.state.consent_default)
    # the consent check was made once, inside recommend: customers without consent get NOT_PERSONALISED lists;
    # a list is personalised only when the model ranked it from the customer's history (unknown: popular)
    personalised = bool(frame["personalised"].any())
    names = _product_names(request, version, model)
    frame = frame.drop(columns=["customer_id"]).assign(name=lambda f: f["product_id"].astype(str).map(names))
    return {"customer_id": customer_id, "model": name, "model_version": version, "personalised": personalised,
            "data": records(frame), "count": int(len(frame))}


@router.get(f"{API}/products/{{product_id}}/similar")
def similar_items(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer, n: K = 10) -> dict[str, Any]:
    """Products most like this one (for the product page)."""
    name, version, model = served_recommender(request, wh)
    frame = model.similar_items(product_id, k=n)
    return {"product_id": product_id, "model": name, "model_version": version,
            "data": records(frame), "count": int(len(frame))}


@router.get(f"{API}/products/{{product_id}}/bought-together")
def bought_together(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer, n: K = 10
                    ) -> dict[str, Any]:
    """Products most often bought with this one (FP-growth association rules)."""
    from shoplens.recs.rules import bought_together as rules_by_product

    if not wh.has_table("association_rules"):
        raise NotComputedError("association rules are not computed yet: run `shoplens recs rules` (or `shoplens demo`)")
    at = first_row(wh.con.execute("SELECT computed_at FROM _computed WHERE name = 'association_rules'"))
    cache = request.app.state.cache
    table = cache.get(("bought_together", at))
    if table is None:
        table = rules_by_product(wh.query("SELECT * FROM association_rules"), per_product=100)
        cache[("bought_together", at)] = table
    frame = table[table["product_id"] == product_id].head(n).drop(columns=["product_id"])
    return {"product_id": product_id, "computed_at": at[0].isoformat() if at else None,
            "data": _with_products(wh, frame, "together_product_id"), "count": int(len(frame))}

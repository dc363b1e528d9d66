"""Recommendations for a customer (with business filters), similar items and frequently bought
together, served from the promoted recommender in the model registry (the response says which
version). Customers without personalisation consent, and unknown ones, get the non-personalised
(popular) list."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from shoplens.errors import NotComputedError, NotFoundError
from shoplens.privacy.consent import allowed
from shoplens.privacy.ids import to_internal
from shoplens.serve.deps import Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.schemas import records
from shoplens.store.warehouse import Warehouse

router = APIRouter(tags=["recommendations"])
API = "/api/v1"
# registry names a recommender may be promoted under, most specific first
RECS_MODEL_NAMES = ("recommender", "recs", "recommendations")
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
ProductId = Annotated[str, Path(min_length=1, max_length=200)]
_load_lock = threading.Lock()


def served_recommender(request: Request, wh: Warehouse) -> tuple[str, int, Any]:
    """(name, version, model) of the promoted recommender, loaded once per version."""
    if wh.has_table("_models"):
        placeholders = ", ".join("?" for _ in RECS_MODEL_NAMES)
        rows = wh.con.execute(
            f"SELECT name, version FROM _models WHERE status = 'promoted' AND name IN ({placeholders})",
            list(RECS_MODEL_NAMES)).fetchall()
        if rows:
            name, version = min(rows, key=lambda r: RECS_MODEL_NAMES.index(r[0]))
            cache = request.app.state.cache
            key = ("recs", name, version)
            model = cache.get(key)
            if model is None:
                with _load_lock:
                    model = cache.get(key)
                    if model is None:
                        from shoplens.store.registry import ModelRegistry

                        model = ModelRegistry(wh).load(name, version)
                        cache[key] = model
            return name, int(version), model
    raise NotComputedError("no recommender is trained yet: run `shoplens recs train` (or `shoplens demo`)")


def _names(wh: Warehouse, frame: Any, column: str = "product_id") -> list[dict[str, Any]]:
    """Add product names and categories to a result frame."""
    if frame is None or len(frame) == 0:
        return []
    wh.con.register("_recs_out", frame)
    try:
        out = wh.con.execute(
            f"""SELECT r.* EXCLUDE (customer_id), p.name AS product_name, p.category
                FROM _recs_out r LEFT JOIN products p ON p.product_id = r."{column}" ORDER BY r.rank"""
            if "customer_id" in frame.columns else
            f"""SELECT r.*, p.name AS product_name, p.category
                FROM _recs_out r LEFT JOIN products p ON p.product_id = r."{column}" ORDER BY r.rank""").df()
    finally:
        wh.con.unregister("_recs_out")
    return records(out)


@router.get(f"{API}/recommendations/{{customer_id}}")
def recommend(
    customer_id: Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")],
    request: Request, wh: WarehouseDep, key: Analyst, n: K = 10,
    exclude_purchased: bool = False, in_stock_only: bool = False,
    category: Annotated[list[str] | None, Query(max_length=50)] = None,
    price_min: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    max_per_category: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict[str, Any]:
    """Top-``n`` products for a customer, with a reason each, from the served recommender."""
    from shoplens.recs.base import RecFilters

    name, version, model = served_recommender(request, wh)
    internal = to_internal(wh, [customer_id])[0]
    audit_customers(request, [customer_id])
    personalised = bool(allowed(wh, [internal], "personalization"))
    filters = RecFilters(exclude_purchased=exclude_purchased and personalised, in_stock_only=in_stock_only,
                         categories=tuple(category) if category else None, price_min=price_min,
                         price_max=price_max, max_per_category=max_per_category)
    # without consent: the list an unknown visitor gets (popular items), no profile used
    frame = model.recommend([internal if personalised else "\x00anonymous"], k=n, filters=filters)
    return {"customer_id": customer_id, "model": name, "model_version": version, "personalised": personalised,
            "data": _names(wh, frame), "count": int(len(frame))}


@router.get(f"{API}/products/{{product_id}}/similar")
def similar_items(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer, n: K = 10) -> dict[str, Any]:
    """Products most like this one (for the product page)."""
    name, version, model = served_recommender(request, wh)
    frame = model.similar_items(product_id, k=n)
    return {"product_id": product_id, "model": name, "model_version": version,
            "data": _names(wh, frame, "similar_product_id"), "count": int(len(frame))}


@router.get(f"{API}/products/{{product_id}}/bought-together")
def bought_together(product_id: ProductId, request: Request, wh: WarehouseDep, key: Viewer, n: K = 10
                    ) -> dict[str, Any]:
    """Products most often bought in the same order as this one."""
    name, version, model = served_recommender(request, wh)
    method = getattr(model, "bought_together", None) or getattr(model, "frequently_bought_together", None)
    if method is None:
        raise NotComputedError(f"the served recommender {name} v{version} has no frequently-bought-together list")
    frame = method(product_id, k=n)
    column = next((c for c in ("together_product_id", "other_product_id", "similar_product_id")
                   if c in frame.columns), "product_id")
    return {"product_id": product_id, "model": name, "model_version": version,
            "data": _names(wh, frame, column), "count": int(len(frame))}


__all__ = ["router", "served_recommender", "NotFoundError"]

"""Products: one product's page (sales, reviews) and the products of a category, over
:mod:`shoplens.insights.products`; the dashboard's drill-downs from a category, a product or a complaint.
Similar items and bought-together live with the recommender (:mod:`shoplens.serve.routes.recs`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from shoplens.serve.deps import Viewer, WarehouseDep
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import clean
from shoplens.serve.schemas.products import CategoryProductsOut, ProductOut

router = ResourceRouter(tags=["products"])
ProductId = Annotated[str, Path(min_length=1, max_length=200)]
Category = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/products/{product_id}", response_model=ProductOut)
def product(product_id: ProductId, wh: WarehouseDep, key: Viewer,
            quotes: Annotated[int, Query(ge=0, le=50, description="review texts to show")] = 5) -> dict[str, Any]:
    """One product: its sales by the shop's metric definitions, net revenue by month, and its reviews
    (counts by sentiment, the latest texts with personal data masked). Computed on request."""
    from shoplens.insights.products import product_detail
    from shoplens.privacy.files import mask_texts

    detail = product_detail(wh, product_id, quotes=quotes)
    q = detail["reviews"]["quotes"]
    q["text"] = [t or "" for t in mask_texts(q["text"].fillna("").tolist())] if len(q) else q["text"]
    return clean(detail)


@router.get("/categories/{category}/products", response_model=CategoryProductsOut)
def category_products(category: Category, wh: WarehouseDep, key: Viewer,
                      n: Annotated[int, Query(ge=1, le=200, description="products to list")] = 20) -> dict[str, Any]:
    """The products of one category, most net revenue first (the overview's category chart drills here).
    Computed on request."""
    from shoplens.insights.products import category_products as products

    return clean(products(wh, category, n=n))

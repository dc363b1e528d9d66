"""Drill-downs from the overview: the products of one category, and one product's page (sales by the
metric definitions of :mod:`shoplens.metrics`, and what its reviewers said).

Both are computed on request, so each answer says when (``computed_at``).

>>> wh = demo_warehouse()
>>> top = category_products(wh, "bags", n=3)
>>> list(top["data"].columns)[:3], len(top["data"]) <= 3
(['product_id', 'name', 'category'], True)
>>> product_detail(wh, str(top["data"]["product_id"].iloc[0]))["sales"]["revenue"] > 0
True
>>> demo_review_links(wh)  # the demo's review links are assigned by its build script
True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from shoplens.errors import NotFoundError
from shoplens.metrics import category_sql, line_values_sql
from shoplens.store.warehouse import Warehouse

# One row per product: the same figures as the overview's top products (net revenue, units, buyers).
_PRODUCT_SALES = f"""SELECT l.product_id, min(p.name) AS name, min({category_sql('p')}) AS category,
           round(sum(l.amount), 2) AS revenue, sum(l.quantity) AS units,
           count(DISTINCT l.order_id) FILTER (WHERE l.kind = 'purchase') AS orders,
           count(DISTINCT l.customer_id) FILTER (WHERE l.kind = 'purchase') AS customers
    FROM ({line_values_sql()}) l LEFT JOIN products p USING (product_id)"""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def shop_currency(wh: Warehouse) -> str | None:
    """The shop's currency: its own setting (``shoplens shop set --currency``) first, else the
    currency its orders state (None without either): money on a screen is labelled with it."""
    from shoplens.store.shop import read_shop

    own = read_shop(wh).currency
    if own:
        return own
    return wh.con.execute("SELECT min(currency) FROM orders").fetchone()[0] if wh.has_table("orders") else None


_currency = shop_currency


def category_products(wh: Warehouse, category: str, n: int = 20) -> dict[str, Any]:
    """The ``n`` products of ``category`` with the most net revenue (ties by product id), and how many
    products the category sold. NotFoundError for a category no sold product has."""
    frame = wh.query(f"""{_PRODUCT_SALES} WHERE {category_sql('p')} = ?
                         GROUP BY 1 ORDER BY revenue DESC, l.product_id""", [category])
    if frame.empty:
        raise NotFoundError(f"no product of category {category!r} was sold: pick a category of the overview")
    return {"category": category, "products": int(len(frame)), "data": frame.head(int(n)).reset_index(drop=True),
            "currency": _currency(wh), "computed_at": _now()}


def product_detail(wh: Warehouse, product_id: str, quotes: int = 5) -> dict[str, Any]:
    """One product: name and category, its sales (net revenue, units, orders, customers), net revenue by
    month, and its reviews (how many, by sentiment, average rating, the ``quotes`` most recent texts,
    negative first). NotFoundError when the shop has no such product."""
    product = wh.query(f"SELECT product_id, name, {category_sql('')} AS category FROM products WHERE product_id = ?",
                       [product_id]) if wh.has_table("products") else pd.DataFrame()
    sales = wh.query(f"{_PRODUCT_SALES} WHERE l.product_id = ? GROUP BY 1", [product_id])
    if product.empty and sales.empty:
        raise NotFoundError(f"no product {product_id!r} in the shop: use a product id of the catalogue")
    head = (product if not product.empty else sales).iloc[0]
    out: dict[str, Any] = {"product_id": product_id, "name": head["name"], "category": head["category"],
                           "currency": _currency(wh), "sales": {"revenue": 0.0, "units": 0, "orders": 0, "customers": 0}}
    if not sales.empty:
        s = sales.iloc[0]
        out["sales"] = {"revenue": float(s["revenue"]), "units": int(s["units"]), "orders": int(s["orders"]),
                        "customers": int(s["customers"])}
    out["revenue_by_month"] = wh.query(
        f"""SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month, round(sum(amount), 2) AS revenue,
                   sum(quantity) AS units
            FROM ({line_values_sql()}) l WHERE product_id = ? GROUP BY 1 ORDER BY 1""", [product_id])
    out["reviews"] = _reviews(wh, product_id, quotes)
    out["computed_at"] = _now()
    return out


def demo_review_links(wh: Warehouse) -> bool:
    """Whether reviews were loaded from the bundled demo shop, whose reviews are real texts linked to the
    shop's customers and products by its build script (``datasets/demo/SOURCE.md``): screens say so."""
    if not wh.has_table("_ingest_runs"):
        return False
    return bool(wh.con.execute("""SELECT count(*) FROM _ingest_runs WHERE table_name = 'reviews'
                                  AND replace(files, '\\', '/') LIKE '%shoplens/datasets/demo/reviews.csv.gz%'""").fetchone()[0])


def _reviews(wh: Warehouse, product_id: str, quotes: int) -> dict[str, Any]:
    """Counts by sentiment (when analysed) and the latest review texts of one product (texts unmasked:
    the caller masks them)."""
    if not wh.has_table("reviews"):
        return {"reviews": 0, "demo_links": False, "quotes": pd.DataFrame(columns=["created_at", "rating", "sentiment", "text"])}
    analysed = wh.has_table("text_reviews")
    sentiment = "t.sentiment" if analysed else "NULL::VARCHAR"
    join = "LEFT JOIN text_reviews t USING (review_id)" if analysed else ""
    rows = wh.query(f"""SELECT r.created_at, r.rating, {sentiment} AS sentiment,
                               concat_ws('. ', nullif(trim(r.title), ''), r.text) AS text
                        FROM reviews r {join} WHERE r.product_id = ?
                        ORDER BY (sentiment = 'negative') DESC NULLS LAST, r.created_at DESC, r.review_id""",
                    [product_id])
    counts = rows["sentiment"].value_counts()
    return {"reviews": int(len(rows)), "demo_links": demo_review_links(wh),
            "negative": int(counts.get("negative", 0)), "neutral": int(counts.get("neutral", 0)),
            "positive": int(counts.get("positive", 0)), "analysed": bool(analysed),
            "average_rating": None if rows["rating"].isna().all() else float(rows["rating"].mean()),
            "quotes": rows.head(int(quotes)).reset_index(drop=True)}

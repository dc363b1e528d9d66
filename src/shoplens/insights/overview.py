"""The first summary of a shop: customers, orders, revenue, AOV, repeat rate,
revenue by month, top categories and products.

Every figure uses the metric definitions of :mod:`shoplens.metrics` (written once,
shared with the customer analyses, the API, the dashboard and the report): revenue
is net revenue (purchases minus returns; cancelled orders and adjustments add
nothing), orders are purchases, customers are customers with a purchase, and the
average order value is net revenue / orders. Guest checkouts count in the shop's
totals.

Each figure is a :class:`~shoplens.store.transform.Transform` (DuckDB SQL written
once), so the overview runs on DuckDB or, with ``--engine spark``, on Spark.

>>> # overview(warehouse)["kpis"]["customers"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoplens.metrics import NET_REVENUE_BY_MONTH, SHOP_KPIS, category_sql, line_values_sql
from shoplens.store.transform import Transform, first_row
from shoplens.store.warehouse import Warehouse

KPIS = SHOP_KPIS
REVENUE_BY_MONTH = NET_REVENUE_BY_MONTH

TOP_CATEGORIES = Transform(
    "top_categories",
    f"""SELECT {category_sql('p')} AS category, round(sum(l.amount), 2) AS revenue,
               sum(l.quantity) AS units, count(DISTINCT l.order_id) FILTER (WHERE l.kind = 'purchase') AS orders
        FROM ({line_values_sql()}) l LEFT JOIN products p USING (product_id)
        GROUP BY 1 ORDER BY revenue DESC, category LIMIT {{n}}""",
    inputs=("orders", "order_items", "products"),
    params={"n": 10},
)

TOP_PRODUCTS = Transform(
    "top_products",
    f"""SELECT l.product_id, min(p.name) AS name, min({category_sql('p')}) AS category,
               round(sum(l.amount), 2) AS revenue, sum(l.quantity) AS units,
               count(DISTINCT l.customer_id) FILTER (WHERE l.kind = 'purchase') AS customers
        FROM ({line_values_sql()}) l LEFT JOIN products p USING (product_id)
        GROUP BY 1 ORDER BY revenue DESC, l.product_id LIMIT {{n}}""",
    inputs=("orders", "order_items", "products"),
    params={"n": 10},
)


def kpis(wh: Warehouse) -> dict[str, Any]:
    return first_row(KPIS.run(wh))


def revenue_by_month(wh: Warehouse) -> pd.DataFrame:
    return REVENUE_BY_MONTH.run(wh)


def top_categories(wh: Warehouse, n: int = 10) -> pd.DataFrame:
    return TOP_CATEGORIES.run(wh, n=int(n))


def top_products(wh: Warehouse, n: int = 10) -> pd.DataFrame:
    return TOP_PRODUCTS.run(wh, n=int(n))


def overview(wh: Warehouse) -> dict[str, Any]:
    """Everything the first demo summary shows."""
    return {
        "kpis": kpis(wh),
        "revenue_by_month": revenue_by_month(wh),
        "top_categories": top_categories(wh),
        "top_products": top_products(wh),
    }

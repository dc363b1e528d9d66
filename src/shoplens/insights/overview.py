"""The first summary of a shop: customers, orders, revenue, AOV, repeat rate,
revenue by month, top categories and products.

Revenue is net: order lines of all orders, returns and cancellations counted
negative; adjustments (bad-debt write-offs) excluded. Order counts and AOV use
orders that were not cancelled, returned or adjustments.

Each figure is a :class:`~shoplens.store.transform.Transform` (DuckDB SQL written
once), so the overview runs on DuckDB or, with ``--engine spark``, on Spark.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> kpis = overview(wh)["kpis"]
>>> kpis["customers"], kpis["orders"], kpis["currency"]
(1113, 4966, 'GBP')
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoplens.store.transform import Transform, first_row
from shoplens.store.warehouse import Warehouse

NOT_SALES = "('cancelled', 'returned', 'refunded', 'adjustment')"

LINES = f"""
SELECT o.order_id, o.customer_id, o.ordered_at, o.status, i.product_id, i.quantity, i.unit_price,
       i.quantity * i.unit_price AS amount
FROM order_items i JOIN orders o USING (order_id)
WHERE coalesce(o.status, 'completed') <> 'adjustment'
"""

KPIS = Transform(
    "overview_kpis",
    f"""
    WITH sales AS (SELECT * FROM orders WHERE coalesce(status, 'completed') NOT IN {NOT_SALES}),
         lines AS ({LINES}),
         per_customer AS (SELECT customer_id, count(*) AS n FROM sales WHERE customer_id IS NOT NULL GROUP BY 1),
         order_value AS (SELECT order_id, sum(amount) AS v FROM lines
                         WHERE order_id IN (SELECT order_id FROM sales) GROUP BY 1)
    SELECT (SELECT count(*) FROM per_customer) AS customers,
           (SELECT count(*) FROM sales) AS orders,
           (SELECT sum(amount) FROM lines) AS revenue,
           (SELECT avg(v) FROM order_value) AS average_order_value,
           (SELECT avg(CASE WHEN n >= 2 THEN 1.0 ELSE 0.0 END) FROM per_customer) AS repeat_purchase_rate,
           (SELECT count(*) FROM orders WHERE status IN ('cancelled', 'returned', 'refunded')) AS cancellations,
           (SELECT min(ordered_at) FROM orders) AS first_order, (SELECT max(ordered_at) FROM orders) AS last_order,
           (SELECT min(currency) FROM orders) AS currency
    """,
    inputs=("orders", "order_items"),
    description="headline KPIs of the shop",
)

REVENUE_BY_MONTH = Transform(
    "revenue_by_month",
    f"""SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month,
               round(sum(amount), 2) AS revenue,
               count(DISTINCT CASE WHEN amount > 0 THEN order_id END) AS orders,
               count(DISTINCT customer_id) AS customers
        FROM ({LINES}) GROUP BY 1 ORDER BY 1""",
    inputs=("orders", "order_items"),
)

TOP_CATEGORIES = Transform(
    "top_categories",
    f"""SELECT coalesce(p.category, 'unknown') AS category, round(sum(l.amount), 2) AS revenue,
               sum(l.quantity) AS units, count(DISTINCT l.order_id) AS orders
        FROM ({LINES}) l LEFT JOIN products p USING (product_id)
        GROUP BY 1 ORDER BY revenue DESC, category LIMIT {{n}}""",
    inputs=("orders", "order_items", "products"),
    params={"n": 10},
)

TOP_PRODUCTS = Transform(
    "top_products",
    f"""SELECT l.product_id, min(p.name) AS name, min(p.category) AS category,
               round(sum(l.amount), 2) AS revenue, sum(l.quantity) AS units,
               count(DISTINCT l.customer_id) AS customers
        FROM ({LINES}) l LEFT JOIN products p USING (product_id)
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

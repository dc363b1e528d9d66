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

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> kpis = overview(wh)["kpis"]
>>> kpis["customers"], kpis["orders"], kpis["currency"]
(1113, 4966, 'GBP')
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from shoplens.metrics import NET_REVENUE_BY_MONTH, SHOP_KPIS, category_sql, line_values_sql, revenue_orders_sql
from shoplens.store.shop import in_local_time, read_shop
from shoplens.store.transform import Transform, first_row
from shoplens.store.warehouse import Warehouse

KPIS = SHOP_KPIS
REVENUE_BY_MONTH = NET_REVENUE_BY_MONTH
# what revenue by month reads of revenue_orders_sql() (the rest is not carried through local time)
REVENUE_ORDER_COLUMNS = ("order_id", "customer_id", "ordered_at", "amount", "kind")

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
    """The headline KPIs (:data:`shoplens.metrics.SHOP_KPIS`); ``currency`` is the shop's own
    (``shoplens shop set --currency``) when set, else the one the orders state."""
    out = first_row(KPIS.run(wh))
    own = read_shop(wh).currency
    if own and out is not None:
        out["currency"] = own
    return out


def revenue_by_month(wh: Warehouse) -> pd.DataFrame:
    """Net revenue, orders and customers per month (:data:`shoplens.metrics.NET_REVENUE_BY_MONTH`),
    months in the shop's time zone (``shoplens shop set --timezone``; UTC when unset)."""
    return in_shop_time(REVENUE_BY_MONTH, read_shop(wh).timezone).run(wh)


def in_shop_time(transform: Transform, zone: str) -> Transform:
    """``transform`` reading order times in the shop's local time: its subquery of the orders' values
    (:func:`shoplens.metrics.revenue_orders_sql`) gives local ``ordered_at``.

    >>> "AT TIME ZONE 'Asia/Shanghai'" in in_shop_time(REVENUE_BY_MONTH, "Asia/Shanghai").sql
    True
    >>> in_shop_time(REVENUE_BY_MONTH, "UTC") is REVENUE_BY_MONTH
    True
    """
    if zone == "UTC":
        return transform
    sub = revenue_orders_sql()
    if f"({sub})" not in transform.sql:
        raise ValueError(f"{transform.name} does not read revenue_orders_sql()")
    local = in_local_time(sub, list(REVENUE_ORDER_COLUMNS), zone)
    return replace(transform, sql=transform.sql.replace(f"({sub})", f"({local})"))


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

"""Shared SQL building blocks over the canonical tables.

What a purchase, a return, an order's value and net revenue are is defined once, in
:mod:`shoplens.metrics`; this module re-exports the pieces every customer analysis
uses. Customer analyses add one definition of their own:

- a *transaction* (for BG/NBD, Pareto/NBD, Gamma-Gamma) merges a customer's
  purchases of the same calendar day (UTC), as the CDNOW reference does.

>>> "purchase" in purchases_sql()
True
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from shoplens.errors import UserInputError
from shoplens.metrics import PURCHASE_STATUSES, customer_value_sql, order_values_sql, purchases_sql, returns_sql
from shoplens.schema import TABLES
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

__all__ = ["PURCHASE_STATUSES", "customer_value_sql", "has_categories", "has_table", "last_order_date", "parse_date",
           "purchases_sql", "returns_sql"]


def parse_date(value: str | date | datetime | None, what: str) -> date | None:
    """A date from ``YYYY-MM-DD`` text (clear error otherwise)."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserInputError(f"{what}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2011-09-30") from None


# The last purchase, and the last purchase or return (a return after the last purchase still counts).
LAST_PURCHASE = Transform(
    "last_purchase",
    f"""SELECT max(ordered_at) FILTER (WHERE kind = 'purchase') AS last_purchase, max(ordered_at) AS last
        FROM ({order_values_sql()}) lp WHERE customer_id IS NOT NULL AND kind IN ('purchase', 'return')""",
    inputs=("orders", "order_items"))
HAS_CATEGORIES = Transform("has_categories",
                           "SELECT count(*) AS n FROM (SELECT 1 FROM products WHERE category IS NOT NULL LIMIT 1) t",
                           inputs=("products",))


def last_order_date(wh: Warehouse) -> date:
    """Date after the latest purchase or return: the default 'as of' date of every analysis, so that
    by default every analysis sees every purchase and return (net revenue as in the overview)."""
    row = LAST_PURCHASE.run(wh).iloc[0]
    value = row["last"]
    if row["last_purchase"] is None or pd.isna(row["last_purchase"]):
        from shoplens.errors import InsufficientDataError

        raise InsufficientDataError(
            "the warehouse holds no purchases (customers' orders with status completed); load orders with "
            "`shoplens ingest` first"
        )
    return (pd.Timestamp(value) + pd.Timedelta(days=1)).date()


def has_table(wh: Warehouse, name: str) -> bool:
    """True when the warehouse holds a table ``name`` with at least one row (canonical
    tables are asked of the warehouse's engine; derived results live in the DuckDB file)."""
    if name in TABLES:
        return bool(wh.engine.has_rows(name))
    # fetchall, not fetchone: DuckDB 2 keeps a result open until a fetch comes back empty, and
    # an open result makes the connection's next register() fail
    exists = wh.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchall()[0][0]
    if not exists:
        return False
    return bool(wh.con.execute(f'SELECT count(*) > 0 FROM "{name}"').fetchall()[0][0])


def has_categories(wh: Warehouse) -> bool:
    """True when at least one product has a category."""
    return bool(HAS_CATEGORIES.run(wh)["n"].iloc[0])

"""Shared SQL building blocks over the canonical tables.

Definitions used by every customer analysis (stated once here):

- a *purchase* is an order whose status is completed, paid, shipped or delivered
  (or missing: many exports have no status) and whose amount is not negative;
  cancelled, adjustment, pending and refunded orders are not purchases;
- a *return* is an order with status returned/refunded, or a negative amount
  (in UCI Online Retail, "C" invoices carry the returned quantities); returns
  reduce a customer's monetary value but are not purchases;
- a *transaction* (for BG/NBD, Pareto/NBD, Gamma-Gamma) merges a customer's
  purchases of the same calendar day (UTC), as the CDNOW reference does.

>>> "status" in PURCHASE_SQL
True
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from shoplens.errors import UserInputError
from shoplens.schema import TABLES
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

PURCHASE_STATUSES = ("completed", "paid", "shipped", "delivered")
_STATUS_LIST = ", ".join(f"'{s}'" for s in PURCHASE_STATUSES)

# A condition on the ``orders`` table (aliased or not) selecting purchases.
PURCHASE_SQL = (
    f"(status IS NULL OR status IN ({_STATUS_LIST})) AND coalesce(total_amount, 0) >= 0 "
    "AND customer_id IS NOT NULL"
)
RETURN_SQL = "(status IN ('returned', 'refunded') OR total_amount < 0) AND customer_id IS NOT NULL"


def purchases_sql(end: str | None = None) -> str:
    """SQL of purchases (customer_id, order_id, ordered_at, amount) up to ``end`` (exclusive, a SQL literal)."""
    cond = PURCHASE_SQL + (f" AND ordered_at < {end}" if end else "")
    return (
        "SELECT customer_id, order_id, ordered_at, coalesce(total_amount, 0) AS amount, channel, "
        f"coalesce(discount_amount, 0) AS discount FROM orders WHERE {cond}"
    )


def parse_date(value: str | date | datetime | None, what: str) -> date | None:
    """A date from ``YYYY-MM-DD`` text (clear error otherwise)."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserInputError(f"{what}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2011-09-30") from None


LAST_PURCHASE = Transform("last_purchase", f"SELECT max(ordered_at) AS last FROM orders WHERE {PURCHASE_SQL}",
                          inputs=("orders",))
HAS_CATEGORIES = Transform("has_categories",
                           "SELECT count(*) AS n FROM (SELECT 1 FROM products WHERE category IS NOT NULL LIMIT 1) t",
                           inputs=("products",))


def last_order_date(wh: Warehouse) -> date:
    """Date after the latest purchase: the default 'as of' date of every analysis."""
    value = LAST_PURCHASE.run(wh)["last"].iloc[0]
    if value is None or pd.isna(value):
        from shoplens.errors import InsufficientDataError

        raise InsufficientDataError(
            "the warehouse holds no purchases (orders with status completed); load orders with `shoplens ingest` first"
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

"""Demand series from the warehouse: units and revenue per product or category and
per day or week, as one set-based DuckDB query (no Python loops); on a Spark
warehouse it reads the DuckDB file, which a Spark ingest mirrors (by default).

What counts as demand (units demanded is one of the shop metrics of
:mod:`shoplens.metrics`, shared with the market trends):

- ``units``: units on order lines with a positive quantity whose order was not
  cancelled or an adjustment; returned orders still count, because the
  customer did buy. This is what customers asked for, the signal to forecast.
- ``returned_units``: units coming back: negative lines (returns, and Online
  Retail's ``C`` invoices that reverse earlier orders) plus whole orders with
  status ``returned``/``refunded``. Kept apart so that a large return never
  turns demand negative.
- ``cancelled_units``: positive lines of cancelled orders (never shipped).
- ``adjustment`` orders (bookkeeping, bad debt) are ignored.
- ``revenue``: the value of the units demanded (units x unit price minus line
  discount), before returns: demand, not the shop's net revenue of the overview;
  ``avg_price`` and ``discount_share`` are the optional price/promotion regressors.

Every series runs from its first sale to the last *complete* period before the
cut-off, with periods without sales filled with zeros. Weeks start on Monday.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> weekly = demand_series(wh, freq="week", level="category", until="2011-09-01")
>>> first = weekly.iloc[0]
>>> first["key"], str(first["period_start"].date()), float(first["units"]), float(first["returned_units"])
('bags', '2010-11-29', 1396.0, 0.0)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.metrics import DEMAND_LINE_SQL, category_sql, line_value_sql
from shoplens.store.shop import local_orders_sql
from shoplens.store.warehouse import Warehouse, first_row

Freq = Literal["day", "week"]
Level = Literal["product", "category"]

FREQS: dict[str, str] = {"day": "1 day", "week": "1 week"}
LEVELS: dict[str, str] = {"product": "product_id", "category": category_sql("")}
PANDAS_FREQ: dict[str, str] = {"day": "D", "week": "W-MON"}


def check_freq_level(freq: str, level: str) -> None:
    """Raise a clear error for an unknown ``freq`` or ``level``."""
    if freq not in FREQS:
        raise UserInputError(f"--freq {freq!r}: choose day or week")
    if level not in LEVELS:
        raise UserInputError(f"--level {level!r}: choose product or category")


def parse_date(value: str | date | datetime | None, option: str = "--until") -> date | None:
    """``YYYY-MM-DD`` (or a date) -> ``date``; a clear error otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise UserInputError(f"{option} {value!r}: not a date; use YYYY-MM-DD, e.g. 2011-09-01") from None


def period_floor(day: date, freq: str) -> date:
    """Start of the period holding ``day`` (weeks start on Monday)."""
    return day - timedelta(days=day.weekday()) if freq == "week" else day


def period_ceil(day: date, freq: str) -> date:
    """First period start on or after ``day``."""
    start = period_floor(day, freq)
    return start if start == day else start + timedelta(days=7)


def data_end(wh: Warehouse) -> date:
    """The day after the last order (in the shop's local time): the default cut-off."""
    row = first_row(wh.con.execute(f"SELECT max(ordered_at) FROM {local_orders_sql(wh)}"))
    if row is None or row[0] is None:
        raise InsufficientDataError("the warehouse holds no orders; load some with `shoplens ingest` first")
    return row[0].date() + timedelta(days=1)


SERIES_SQL = """
WITH lines AS (
    SELECT {key} AS key,
           date_trunc('{trunc}', o.ordered_at)::DATE AS period_start,
           CASE WHEN {demand} THEN oi.quantity ELSE 0 END AS sold,
           CASE WHEN oi.quantity < 0 THEN -oi.quantity
                WHEN coalesce(o.status, '') IN ('returned', 'refunded') THEN oi.quantity ELSE 0 END AS returned,
           CASE WHEN oi.quantity > 0 AND o.status = 'cancelled' THEN oi.quantity ELSE 0 END AS cancelled,
           oi.unit_price, coalesce(oi.discount, 0) AS discount, {value} AS line_value
    FROM order_items oi
    JOIN {orders} o USING (order_id)
    LEFT JOIN products p USING (product_id)
    WHERE o.ordered_at < $until
      AND ($start IS NULL OR o.ordered_at >= $start)
      AND coalesce(o.status, '') <> 'adjustment'
),
per_period AS (
    SELECT key, period_start,
           sum(sold) AS units,
           sum(CASE WHEN sold > 0 THEN line_value ELSE 0 END) AS revenue,
           sum(returned) AS returned_units,
           sum(cancelled) AS cancelled_units,
           sum(CASE WHEN sold > 0 THEN sold * unit_price END) / nullif(sum(sold), 0) AS avg_price,
           sum(CASE WHEN sold > 0 THEN discount END) / nullif(sum(CASE WHEN sold > 0 THEN sold * unit_price END), 0)
               AS discount_share
    FROM lines
    WHERE period_start <= $last_period
    GROUP BY ALL
),
spans AS (
    SELECT key, min(period_start) AS first_period
    FROM per_period WHERE units > 0 GROUP BY key
),
grid AS (
    SELECT key, unnest(generate_series(first_period::TIMESTAMP, $last_period::TIMESTAMP, INTERVAL {step}))::DATE
           AS period_start
    FROM spans
)
SELECT g.key, g.period_start,
       coalesce(p.units, 0)::DOUBLE AS units,
       coalesce(p.revenue, 0)::DOUBLE AS revenue,
       coalesce(p.returned_units, 0)::DOUBLE AS returned_units,
       coalesce(p.cancelled_units, 0)::DOUBLE AS cancelled_units,
       p.avg_price, coalesce(p.discount_share, 0)::DOUBLE AS discount_share
FROM grid g LEFT JOIN per_period p USING (key, period_start)
ORDER BY g.key, g.period_start
"""


def demand_series(
    wh: Warehouse,
    *,
    freq: Freq | str = "week",
    level: Level | str = "product",
    until: str | date | None = None,
    start: str | date | None = None,
) -> pd.DataFrame:
    """Zero-filled demand per ``level`` key and ``freq`` period from orders before ``until``.

    Returns columns ``key, period_start, units, revenue, returned_units,
    cancelled_units, avg_price, discount_share``: one row per key and complete
    period from the key's first sale up to the last complete period before
    ``until`` (default: the day after the last order).

    >>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
    >>> daily = demand_series(wh, freq="day", level="product", until="2011-06-01")
    >>> str(daily["period_start"].max().date()), daily["key"].nunique()
    ('2011-05-31', 2826)
    """
    check_freq_level(freq, level)
    cutoff = parse_date(until) or data_end(wh)
    begin = parse_date(start, "--start")
    step = timedelta(days=7 if freq == "week" else 1)
    last_period = period_floor(cutoff, freq) - step  # the period holding the cut-off is partial (or not begun)
    sql = SERIES_SQL.format(key=LEVELS[level], trunc=freq, step=f"'{FREQS[freq]}'", demand=DEMAND_LINE_SQL,
                            value=line_value_sql("oi"), orders=local_orders_sql(wh))
    params = {"until": datetime.combine(cutoff, datetime.min.time()),
              "start": datetime.combine(begin, datetime.min.time()) if begin else None,
              "last_period": last_period}
    frame = wh.con.execute(sql, params).df()
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


def keys_with_sales(wh: Warehouse, *, level: Level | str, until: date) -> list[str]:
    """Every key with at least one sold unit before ``until`` (the forecast contract's series set)."""
    sql = f"""SELECT DISTINCT {LEVELS[level]} AS key
              FROM order_items oi JOIN {local_orders_sql(wh)} o USING (order_id) LEFT JOIN products p USING (product_id)
              WHERE o.ordered_at < $until AND {DEMAND_LINE_SQL} ORDER BY 1"""
    rows = wh.con.execute(sql, {"until": datetime.combine(until, datetime.min.time())}).fetchall()
    return [r[0] for r in rows]

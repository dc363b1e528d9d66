"""Cohorts and patterns: monthly acquisition-cohort retention, inter-purchase
intervals, day-of-week and hour patterns, category trends and anomaly flags.

All aggregations are single SQL statements. Retention and intervals follow the
shop's identified customers; weekday/hour patterns, category trends and weekly
anomalies are shop-wide (guest checkouts included), with orders and net revenue as
defined in :mod:`shoplens.metrics`, so they add up to the overview's figures.
Anomalies use a robust z-score:
each week's revenue (and order count) against the median and MAD of the eight
weeks before it, flagged when |z| > 3.5 (Iglewicz & Hoaglin's cut-off).

Only complete periods count: the month (or week) holding the cut-off, and a first
one the data starts inside, are left out of retention, category growth and
anomalies, so data ending a few hours into a month never reads as a collapse. A
category's ``direction`` is the shop's one trend test (:mod:`shoplens.trend`), the
one ``demand trends`` reports, so the two never disagree.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> retention = compute_cohorts(wh).retention
>>> december = retention[retention["cohort"] == "2010-12-01"]
>>> december[["months_since", "active_customers"]].head(3).values.tolist()  # of its 223 customers
[[0, 223], [1, 86], [2, 70]]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

import pandas as pd

from shoplens.customers.data import has_categories, last_order_date, parse_date, purchases_sql
from shoplens.errors import InsufficientDataError
from shoplens.metrics import category_sql, line_values_sql, revenue_orders_sql
from shoplens.store.shop import in_local_time, read_shop
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse, serves
from shoplens.trend import share_trends

DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass
class CohortResult:
    retention: pd.DataFrame
    intervals: pd.DataFrame
    weekday_hour: pd.DataFrame
    category_trends: pd.DataFrame
    anomalies: pd.DataFrame

    def matrix(self) -> pd.DataFrame:
        """Cohort x months-since-first-purchase retention matrix."""
        return self.retention.pivot(index="cohort", columns="months_since", values="retention")


_P = purchases_sql("{as_of}")
_REVENUE_ORDERS = revenue_orders_sql("{as_of}")  # shop-wide, guests included
_LINES = line_values_sql("{as_of}")

RETENTION = Transform("cohort_retention", f"""
    WITH p AS ({_P}),
    firsts AS (SELECT customer_id, date_trunc('month', min(ordered_at))::DATE AS cohort FROM p GROUP BY customer_id),
    active AS (SELECT DISTINCT customer_id, date_trunc('month', ordered_at)::DATE AS month FROM p
               WHERE ordered_at < date_trunc('month', {{as_of}})),
    sizes AS (SELECT cohort, count(*) AS cohort_customers FROM firsts GROUP BY cohort)
    SELECT f.cohort, date_diff('month', f.cohort, a.month) AS months_since, s.cohort_customers,
           count(DISTINCT a.customer_id) AS active_customers,
           count(DISTINCT a.customer_id) / s.cohort_customers AS retention
    FROM firsts f JOIN active a USING (customer_id) JOIN sizes s USING (cohort)
    GROUP BY 1, 2, 3 ORDER BY 1, 2""", inputs=("orders", "order_items"))

INTERVALS = Transform("customer_intervals", f"""
    WITH d AS (SELECT DISTINCT customer_id, ordered_at::DATE AS day FROM ({_P})),
    gaps AS (SELECT date_diff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS gap FROM d)
    SELECT CASE WHEN gap <= 7 THEN '0-7' WHEN gap <= 14 THEN '8-14' WHEN gap <= 30 THEN '15-30'
                WHEN gap <= 60 THEN '31-60' WHEN gap <= 90 THEN '61-90' WHEN gap <= 180 THEN '91-180'
                ELSE '180+' END AS days_between_orders,
           min(gap) AS sort_key, count(*) AS repeat_orders, median(gap) AS median_days
    FROM gaps WHERE gap IS NOT NULL GROUP BY 1 ORDER BY sort_key""", inputs=("orders", "order_items"))

WEEKDAY_HOUR = Transform("customer_weekday_hour", f"""
    SELECT dayofweek(ordered_at) AS weekday, hour(ordered_at) AS hour,
           count(*) FILTER (WHERE kind = 'purchase') AS orders, sum(amount) AS revenue
    FROM ({_REVENUE_ORDERS}) GROUP BY 1, 2 ORDER BY 1, 2""", inputs=("orders", "order_items"))

CATEGORY_TRENDS = Transform("customer_category_trends", f"""
    WITH m AS (
        SELECT {category_sql('p')} AS category, date_trunc('month', l.ordered_at)::DATE AS month, sum(l.amount) AS revenue
        FROM ({_LINES}) l LEFT JOIN products p USING (product_id) GROUP BY 1, 2),
    last AS (SELECT date_trunc('month', {{as_of}})::DATE - INTERVAL 1 MONTH AS last_month,
                    (SELECT CASE WHEN min(ordered_at)::DATE = date_trunc('month', min(ordered_at))::DATE
                                 THEN date_trunc('month', min(ordered_at)) ELSE date_trunc('month', min(ordered_at))
                                 + INTERVAL 1 MONTH END FROM ({_LINES})) AS first_month),
    sums AS (
        SELECT category,
               sum(revenue) FILTER (WHERE month > last_month - INTERVAL 3 MONTH AND month <= last_month
                                          AND month >= first_month) AS revenue_last_3m,
               sum(revenue) FILTER (WHERE month <= last_month - INTERVAL 3 MONTH AND month > last_month - INTERVAL 6 MONTH
                                          AND month >= first_month) AS revenue_prev_3m,
               sum(revenue) AS revenue_total
        FROM m, last GROUP BY category)
    SELECT category, revenue_last_3m, revenue_prev_3m, revenue_last_3m / nullif(revenue_prev_3m, 0) - 1 AS growth,
           revenue_total
    FROM sums ORDER BY revenue_total DESC, category""", inputs=("orders", "order_items", "products"))

ANOMALIES = Transform("customer_anomalies", f"""
    WITH w AS (SELECT date_trunc('week', ordered_at)::DATE AS week, sum(amount) AS revenue,
                      count(*) FILTER (WHERE kind = 'purchase') AS orders
               FROM ({_REVENUE_ORDERS}) GROUP BY 1
               HAVING date_trunc('week', ordered_at)::DATE + INTERVAL 7 DAY <= {{as_of}}
                  AND date_trunc('week', ordered_at)::DATE >= (SELECT min(ordered_at)::DATE FROM ({_REVENUE_ORDERS}))),
    ranked AS (SELECT *, row_number() OVER (ORDER BY week) AS n FROM w),
    base AS (
        SELECT a.week, a.revenue, a.orders,
               median(b.revenue) AS revenue_median, median(abs(b.revenue - m.rm)) AS revenue_mad,
               median(b.orders) AS orders_median, median(abs(b.orders - m.om)) AS orders_mad
        FROM ranked a JOIN ranked b ON b.n BETWEEN a.n - 8 AND a.n - 1
        JOIN (SELECT a2.n, median(b2.revenue) AS rm, median(b2.orders) AS om
              FROM ranked a2 JOIN ranked b2 ON b2.n BETWEEN a2.n - 8 AND a2.n - 1 GROUP BY a2.n) m ON m.n = a.n
        WHERE a.n > 8 GROUP BY a.week, a.revenue, a.orders),
    z AS (
        SELECT week, revenue, orders, revenue_median, orders_median,
               0.6745 * (revenue - revenue_median) / nullif(revenue_mad, 0) AS revenue_z,
               0.6745 * (orders - orders_median) / nullif(orders_mad, 0) AS orders_z
        FROM base)
    SELECT week, revenue, orders, revenue_median, orders_median, revenue_z, orders_z,
           abs(coalesce(revenue_z, 0)) > 3.5 AS revenue_anomaly, abs(coalesce(orders_z, 0)) > 3.5 AS orders_anomaly
    FROM z ORDER BY week""", inputs=("orders", "order_items"))


# the columns of the metric subqueries the transforms read (shoplens.metrics)
_P_COLUMNS = ["customer_id", "order_id", "ordered_at", "amount", "channel", "discount"]
_REVENUE_ORDERS_COLUMNS = ["order_id", "customer_id", "ordered_at", "status", "currency", "channel", "discount", "amount",
                           "kind"]
_LINES_COLUMNS = ["order_id", "customer_id", "ordered_at", "kind", "product_id", "quantity", "amount"]


def in_shop_time(zone: str) -> tuple[Transform, ...]:
    """The cohort transforms with months, weeks, days, weekdays and hours in the shop's time zone
    (``shoplens shop set --timezone``): the metric subqueries they read give local order times.

    >>> in_shop_time("UTC")[0] is RETENTION
    True
    >>> "AT TIME ZONE 'America/New_York'" in in_shop_time("America/New_York")[2].sql
    True
    """
    base = (RETENTION, INTERVALS, WEEKDAY_HOUR, CATEGORY_TRENDS, ANOMALIES)
    if zone == "UTC":
        return base
    subs = [(_P, _P_COLUMNS), (_REVENUE_ORDERS, _REVENUE_ORDERS_COLUMNS), (_LINES, _LINES_COLUMNS)]

    def local(t: Transform) -> Transform:
        sql = t.sql
        for sub, cols in subs:
            sql = sql.replace(f"({sub})", f"({in_local_time(sub, cols, zone)})")
        return replace(t, sql=sql)

    return tuple(local(t) for t in base)


def with_direction(wh: Warehouse, trends: pd.DataFrame, cutoff: date, weeks: int = 26) -> pd.DataFrame:
    """Each category's ``direction`` (rising / falling / flat / new) and its ``direction_p_value``:
    the shop's one trend test (:func:`shoplens.trend.share_trends`, what ``demand trends`` reports)
    over the ``weeks`` complete weeks before ``cutoff``; empty for a category selling too little
    (fewer than 20 units in the window) or when the data is too short for a trend."""
    try:
        stats, _ = share_trends(wh, key_sql=category_sql("p"), cutoff=cutoff, weeks=weeks)
    except InsufficientDataError:
        return trends.assign(direction=None, direction_p_value=float("nan"))
    found = stats.set_index("key")
    return trends.assign(direction=trends["category"].map(found["trend"]),
                         direction_p_value=trends["category"].map(found["p_value"]))


def compute_cohorts(wh: Warehouse, *, as_of: str | date | None = None, write: bool = True) -> CohortResult:
    """Every pattern as of a date, each a :class:`Transform` run on the warehouse's engine;
    writes ``cohort_retention``, ``customer_intervals``, ``customer_weekday_hour``,
    ``customer_category_trends`` and ``customer_anomalies`` (each as ``eval_<table>`` when ``as_of`` is
    before the default: a look back is never served, see :func:`~shoplens.store.warehouse.serves`)."""
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    ts = datetime(end.year, end.month, end.day)
    RETENTION, INTERVALS, WEEKDAY_HOUR, CATEGORY_TRENDS, ANOMALIES = in_shop_time(read_shop(wh).timezone)
    retention = RETENTION.run(wh, as_of=ts)
    if retention.empty:
        raise InsufficientDataError(f"no purchases before {end}; cohorts need completed orders")
    intervals = INTERVALS.run(wh, as_of=ts)
    if not intervals.empty:
        intervals["share"] = intervals["repeat_orders"] / intervals["repeat_orders"].sum()
        intervals = intervals.drop(columns="sort_key")
    weekday_hour = WEEKDAY_HOUR.run(wh, as_of=ts)
    weekday_hour["day"] = weekday_hour["weekday"].map(lambda d: DAY_NAMES[int(d)])
    if has_categories(wh):
        category_trends = with_direction(wh, CATEGORY_TRENDS.run(wh, as_of=ts), end)
    else:
        category_trends = pd.DataFrame(columns=["category", "revenue_last_3m", "revenue_prev_3m", "growth", "revenue_total",
                                                "direction", "direction_p_value"])
    anomalies = ANOMALIES.run(wh, as_of=ts)
    result = CohortResult(retention, intervals, weekday_hour, category_trends, anomalies)
    if write:
        info = {"as_of": end}
        tables = {"cohort_retention": retention, "customer_intervals": intervals, "customer_weekday_hour": weekday_hour,
                  "customer_category_trends": category_trends, "customer_anomalies": anomalies}
        for name, frame in tables.items():
            if serves(end, latest):
                wh.write_result(name, frame, kind="insight", info=info)
            else:
                wh.write_evaluation(name, frame, info=info)
    return result

"""The one trend test of the shop, shared by ``demand trends`` and the category trends of
``customers cohorts`` so that the two never disagree on a direction.

Over the ``weeks`` complete weeks before a cut-off (the week holding the cut-off is
partial and left out), each key's weekly *share of the value of demand* (units
demanded x price, as :data:`shoplens.metrics.DEMAND_LINE_SQL` and
:func:`shoplens.metrics.line_value_sql` define them) is tested with Mann-Kendall (S over
all pairs of weeks, tie-corrected variance, two-sided normal p-value) and its Theil-Sen
slope. Value, not units: units of different products do not add up (litres of fuel,
kilograms of fruit and single items would make one product the whole shop's "demand").
A share cancels what every key shares (Christmas, summer), so one year of history is enough.

``trend``: ``new`` (first sale inside the window), ``rising``/``falling`` when p < alpha,
else ``flat``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import norm

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.metrics import DEMAND_LINE_SQL, line_value_sql
from shoplens.store.shop import local_orders_sql
from shoplens.store.transform import sql_literal
from shoplens.store.warehouse import Warehouse

# What the warehouse's engine computes (DuckDB or Spark): demand per key and week; the grid of
# weeks, the shares and the trend test then run on that small frame in a local DuckDB.
LINES_SQL = """
SELECT {key} AS key, CAST(date_trunc('week', o.ordered_at) AS DATE) AS week,
       sum(oi.quantity) AS units, sum({value}) AS value
FROM order_items oi JOIN {orders} o USING (order_id) LEFT JOIN products p USING (product_id)
WHERE o.ordered_at >= {start} AND o.ordered_at < {end} AND {demand}
GROUP BY 1, 2
"""

WEEKLY_SHARE_SQL = """
WITH lines AS (SELECT * FROM _lines),
weeks AS (SELECT unnest(generate_series($start::TIMESTAMP, $last_week::TIMESTAMP, INTERVAL 7 DAY))::DATE AS week),
keys AS (SELECT key FROM lines GROUP BY key HAVING sum(units) >= $min_units),
totals AS (SELECT week, sum(value) AS total FROM lines GROUP BY week),
grid AS (SELECT k.key, w.week, row_number() OVER (PARTITION BY k.key ORDER BY w.week) AS t FROM keys k, weeks w),
weekly AS (
    SELECT g.key, g.week, g.t, coalesce(sum(l.units), 0) AS units, coalesce(sum(l.value), 0) AS value,
           coalesce(sum(l.value), 0) / nullif(any_value(tt.total), 0) AS share
    FROM grid g LEFT JOIN lines l ON l.key = g.key AND l.week = g.week
    LEFT JOIN totals tt ON tt.week = g.week
    GROUP BY g.key, g.week, g.t
)
SELECT key, week, t, units, value, coalesce(share, 0) AS share FROM weekly
"""

MANN_KENDALL_SQL = """
WITH w AS (SELECT * FROM _weekly),
pairs AS (
    SELECT a.key, sign(b.share - a.share) AS s, (b.share - a.share) / (b.t - a.t) AS slope
    FROM w a JOIN w b ON a.key = b.key AND a.t < b.t
),
ties AS (
    SELECT key, sum(c * (c - 1) * (2 * c + 5)) AS tie_term
    FROM (SELECT key, share, count(*) AS c FROM w GROUP BY key, share) GROUP BY key
),
stats AS (
    SELECT key, sum(s) AS s, median(slope) AS slope FROM pairs GROUP BY key
),
levels AS (
    SELECT key, count(*) AS n, avg(share) AS mean_share, sum(units) AS units, sum(value) AS value,
           sum(units) FILTER (WHERE t > $half) AS units_recent,
           sum(units) FILTER (WHERE t <= $half) AS units_earlier,
           sum(value) FILTER (WHERE t > $half) AS value_recent,
           sum(value) FILTER (WHERE t <= $half) AS value_earlier,
           min(week) FILTER (WHERE units > 0) AS first_sale_in_window
    FROM w GROUP BY key
)
SELECT l.key, l.n, l.units, l.units_recent, l.units_earlier, l.value, l.value_recent, l.value_earlier,
       l.mean_share, l.first_sale_in_window,
       st.s, st.slope, (l.n * (l.n - 1) * (2 * l.n + 5) - coalesce(t.tie_term, 0)) / 18.0 AS var_s
FROM levels l JOIN stats st USING (key) LEFT JOIN ties t USING (key)
"""

FIRST_SALE_SQL = """
SELECT {key} AS key, CAST(min(o.ordered_at) AS DATE) AS first_sale
FROM order_items oi JOIN {orders} o USING (order_id) LEFT JOIN products p USING (product_id)
WHERE o.ordered_at < {end} AND {demand}
GROUP BY 1
"""


def trend_window(cutoff: date, weeks: int) -> tuple[date, date]:
    """``(start, end)`` of the ``weeks`` complete Monday weeks before ``cutoff`` (end exclusive).

    >>> trend_window(date(2018, 1, 2), 2)  # the week of Monday 1 January holds the cut-off: partial
    (datetime.date(2017, 12, 18), datetime.date(2018, 1, 1))
    """
    end_week = cutoff - timedelta(days=cutoff.weekday())
    return end_week - timedelta(weeks=weeks), end_week


def share_trends(wh: Warehouse, *, key_sql: str, cutoff: date, weeks: int = 26, alpha: float = 0.05,
                 min_units: float = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(stats, weekly)``: the trend of each key (a SQL expression over ``oi``, ``o``, ``p``)
    over the ``weeks`` complete weeks before ``cutoff``.

    ``stats``: one row per key that sold at least ``min_units`` units in the window, with
    ``trend``, ``p_value``, ``slope_pct_per_week`` (Theil-Sen slope of the share, % of its
    mean share), units and value in the earlier and recent half, ``value_change_pct``,
    ``first_sale``, ``window_start`` and ``window_end``. ``weekly``: the tested series.
    """
    if weeks < 6:
        raise UserInputError(f"--weeks {weeks}: a trend needs at least 6 weeks")
    if not 0 < alpha < 0.5:
        raise UserInputError(f"--alpha {alpha}: give a significance level such as 0.05")
    start, end_week = trend_window(cutoff, weeks)
    as_dt = lambda d: datetime.combine(d, datetime.min.time())  # noqa: E731
    params = {"start": as_dt(start), "end": as_dt(end_week), "last_week": end_week - timedelta(weeks=1),
              "min_units": min_units}
    orders = local_orders_sql(wh)  # weeks in the shop's time zone
    lines = wh.engine.query(LINES_SQL.format(key=key_sql, demand=DEMAND_LINE_SQL, value=line_value_sql("oi"),
                                             orders=orders, start=sql_literal(params["start"]),
                                             end=sql_literal(params["end"])))
    lines["week"] = pd.to_datetime(lines["week"]).dt.date
    local = duckdb.connect()
    try:
        local.register("_lines", lines)
        weekly = local.execute(WEEKLY_SHARE_SQL, {k: v for k, v in params.items() if k != "end"}).df()
        if weekly.empty:
            raise InsufficientDataError(
                f"nothing sold at least {min_units:g} units in the {weeks} complete weeks before {end_week}; "
                "choose another --until or a lower --min-units")
        local.register("_weekly", weekly)
        stats = local.execute(MANN_KENDALL_SQL, {"half": weeks // 2}).df()
    finally:
        local.close()
    z = (stats["s"] - np.sign(stats["s"])) / np.sqrt(stats["var_s"].where(stats["var_s"] > 0))
    stats["p_value"] = 2 * (1 - norm.cdf(z.abs()))
    stats["slope_pct_per_week"] = 100 * stats["slope"] / stats["mean_share"].where(stats["mean_share"] > 0)
    first = wh.engine.query(FIRST_SALE_SQL.format(key=key_sql, demand=DEMAND_LINE_SQL, orders=orders,
                                                  end=sql_literal(params["end"])))
    stats = stats.merge(first, on="key", how="left")
    stats["first_sale"] = pd.to_datetime(stats["first_sale"])
    is_new = stats["first_sale"] >= pd.Timestamp(start)
    significant = stats["p_value"] < alpha
    stats["trend"] = np.select(
        [is_new, significant & (stats["slope"] > 0), significant & (stats["slope"] < 0)],
        ["new", "rising", "falling"], default="flat")
    stats["units_change_pct"] = 100 * (stats["units_recent"] / stats["units_earlier"].where(stats["units_earlier"] > 0) - 1)
    stats["value_change_pct"] = 100 * (stats["value_recent"] / stats["value_earlier"].where(stats["value_earlier"] > 0) - 1)
    stats["window_start"] = pd.Timestamp(start)
    stats["window_end"] = pd.Timestamp(end_week)
    return stats.drop(columns=["s", "var_s", "slope", "n"]), weekly

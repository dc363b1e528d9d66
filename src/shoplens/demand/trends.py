"""Market trends: rising and falling products and categories, new-product ramp-up,
and links to review sentiment.

Set-based SQL over the weekly demand series:

- **Seasonality adjustment**: a key's weekly units are divided by the whole
  shop's units that week, so the trend is measured on its *share* of demand and
  swings every product shares (Christmas, summer) cancel out. This works with a
  single year of history, where year-over-year comparison is impossible.
- **Trend and significance**: Mann-Kendall test on the share over the last
  ``weeks`` weeks (S statistic over all pairs of weeks, tie-corrected variance,
  two-sided normal p-value) and the Theil-Sen slope (median pairwise slope),
  reported as % of the average share per week. Rising / falling when
  ``p < alpha``.
- **New products**: first sale inside the window; ramp-up is units in the last
  4 weeks against the first 4 weeks after launch.
- **Sentiment**: when the text step's ``text_reviews`` table exists (else the
  star ratings in ``reviews``), the share of negative reviews in the second half
  of the window against the first half; ``demand falling while complaints rise``
  is flagged.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> trends = market_trends(wh, level="category", until="2011-12-01", weeks=26)
>>> first = trends.iloc[0]  # the most significant trend first
>>> first["key"], first["trend"], str(first["window_start"].date())
('seasonal', 'rising', '2011-05-30')
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from shoplens.demand.series import LEVELS, check_freq_level, data_end, local_orders_sql, parse_date, period_floor
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.metrics import DEMAND_LINE_SQL
from shoplens.store.warehouse import Warehouse

WEEKLY_SHARE_SQL = """
WITH lines AS (
    SELECT {key} AS key, date_trunc('week', o.ordered_at)::DATE AS week, oi.quantity AS units
    FROM order_items oi JOIN {orders} o USING (order_id) LEFT JOIN products p USING (product_id)
    WHERE o.ordered_at >= $start AND o.ordered_at < $end AND {demand}
),
weeks AS (SELECT unnest(generate_series($start::TIMESTAMP, $last_week::TIMESTAMP, INTERVAL 7 DAY))::DATE AS week),
keys AS (SELECT key FROM lines GROUP BY key HAVING sum(units) >= $min_units),
totals AS (SELECT week, sum(units) AS total FROM lines GROUP BY week),
grid AS (SELECT k.key, w.week, row_number() OVER (PARTITION BY k.key ORDER BY w.week) AS t FROM keys k, weeks w),
weekly AS (
    SELECT g.key, g.week, g.t, coalesce(sum(l.units), 0) AS units,
           coalesce(sum(l.units), 0) / nullif(any_value(tt.total), 0) AS share
    FROM grid g LEFT JOIN lines l ON l.key = g.key AND l.week = g.week
    LEFT JOIN totals tt ON tt.week = g.week
    GROUP BY g.key, g.week, g.t
)
SELECT key, week, t, units, coalesce(share, 0) AS share FROM weekly
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
    SELECT key, count(*) AS n, avg(share) AS mean_share, sum(units) AS units,
           sum(units) FILTER (WHERE t > $half) AS units_recent,
           sum(units) FILTER (WHERE t <= $half) AS units_earlier,
           min(week) FILTER (WHERE units > 0) AS first_sale_in_window
    FROM w GROUP BY key
)
SELECT l.key, l.n, l.units, l.units_recent, l.units_earlier, l.mean_share, l.first_sale_in_window,
       st.s, st.slope, (l.n * (l.n - 1) * (2 * l.n + 5) - coalesce(t.tie_term, 0)) / 18.0 AS var_s
FROM levels l JOIN stats st USING (key) LEFT JOIN ties t USING (key)
"""

FIRST_SALE_SQL = """
SELECT {key} AS key, min(o.ordered_at)::DATE AS first_sale
FROM order_items oi JOIN {orders} o USING (order_id) LEFT JOIN products p USING (product_id)
WHERE o.ordered_at < $end AND {demand}
GROUP BY ALL
"""


def _sentiment_sql(wh: Warehouse, key: str) -> str | None:
    """Negative-review share per key and half of the window, from text_reviews or ratings."""
    if wh.has_table("text_reviews"):
        cols = set(wh.columns("text_reviews"))
        if {"product_id", "created_at", "sentiment"} <= cols:
            negative = "lower(r.sentiment) IN ('negative', 'neg')"
            source = "text_reviews"
        else:
            return None
    elif wh.has_table("reviews") and wh.row_count("reviews"):
        negative, source = "r.rating <= 2", "reviews"
        negative = f"CASE WHEN r.rating IS NULL THEN NULL ELSE {negative} END"
    else:
        return None
    return f"""
    SELECT {key} AS key, '{source}' AS sentiment_source,
           count(*) FILTER (WHERE r.created_at >= $mid) AS reviews_recent,
           avg(({negative})::INT) FILTER (WHERE r.created_at < $mid) AS negative_share_earlier,
           avg(({negative})::INT) FILTER (WHERE r.created_at >= $mid) AS negative_share_recent
    FROM {source} r LEFT JOIN products p ON p.product_id = r.product_id
    WHERE r.created_at >= $start AND r.created_at < $end AND r.product_id IS NOT NULL
    GROUP BY ALL
    """


def market_trends(
    wh: Warehouse,
    *,
    level: str = "category",
    until: str | date | None = None,
    weeks: int = 26,
    alpha: float = 0.05,
    min_units: float = 20,
) -> pd.DataFrame:
    """Trend per product or category over the ``weeks`` full weeks before ``until``.

    Returns one row per key with ``trend`` (rising / falling / flat / new),
    ``slope_pct_per_week`` (Theil-Sen slope of the demand share, % of its mean),
    ``p_value``, units (recent vs earlier half), new-product ramp-up and review
    sentiment columns, most significant first.
    """
    check_freq_level("week", level)
    if weeks < 6:
        raise UserInputError(f"--weeks {weeks}: a trend needs at least 6 weeks")
    if not 0 < alpha < 0.5:
        raise UserInputError(f"--alpha {alpha}: give a significance level such as 0.05")
    cutoff = parse_date(until) or data_end(wh)
    orders = local_orders_sql(wh)  # weeks in the shop's time zone
    end_week = period_floor(cutoff, "week")  # the week holding the cut-off is partial: left out
    start = end_week - timedelta(weeks=weeks)
    last_week = end_week - timedelta(weeks=1)
    as_dt = lambda d: datetime.combine(d, datetime.min.time())  # noqa: E731
    params = {"start": as_dt(start), "end": as_dt(end_week), "last_week": last_week, "min_units": min_units}
    weekly = wh.con.execute(WEEKLY_SHARE_SQL.format(key=LEVELS[level], demand=DEMAND_LINE_SQL, orders=orders), params).df()
    if weekly.empty:
        raise InsufficientDataError(
            f"no {level} sold at least {min_units:g} units in the {weeks} weeks before {end_week}; "
            "choose another --until or a lower --min-units")
    wh.con.register("_weekly", weekly)
    try:
        stats = wh.con.execute(MANN_KENDALL_SQL, {"half": weeks // 2}).df()
    finally:
        wh.con.unregister("_weekly")
    z = (stats["s"] - np.sign(stats["s"])) / np.sqrt(stats["var_s"].where(stats["var_s"] > 0))
    stats["p_value"] = 2 * (1 - norm.cdf(z.abs()))
    stats["slope_pct_per_week"] = 100 * stats["slope"] / stats["mean_share"].where(stats["mean_share"] > 0)
    first = wh.con.execute(FIRST_SALE_SQL.format(key=LEVELS[level], demand=DEMAND_LINE_SQL, orders=orders), {"end": as_dt(end_week)}).df()
    stats = stats.merge(first, on="key", how="left")
    stats["first_sale"] = pd.to_datetime(stats["first_sale"])
    is_new = stats["first_sale"] >= pd.Timestamp(start)
    significant = stats["p_value"] < alpha
    stats["trend"] = np.select(
        [is_new, significant & (stats["slope"] > 0), significant & (stats["slope"] < 0)],
        ["new", "rising", "falling"], default="flat")
    stats["units_change_pct"] = 100 * (stats["units_recent"] / stats["units_earlier"].where(stats["units_earlier"] > 0) - 1)
    ramp = _ramp_up(weekly, stats.loc[is_new, ["key", "first_sale"]])
    stats = stats.merge(ramp, on="key", how="left")
    sentiment_sql = _sentiment_sql(wh, LEVELS[level].replace("category", "p.category").replace("product_id", "r.product_id"))
    if sentiment_sql:
        mid = start + (end_week - start) / 2
        senti = wh.con.execute(sentiment_sql, {"start": as_dt(start), "end": as_dt(end_week), "mid": as_dt(mid)}).df()
        stats = stats.merge(senti, on="key", how="left")
        stats["complaints_rising_while_falling"] = (
            stats["trend"].eq("falling")
            & (stats["negative_share_recent"] > stats["negative_share_earlier"]).fillna(False)
        )
    stats.insert(1, "level", level)
    stats["window_start"] = pd.Timestamp(start)
    stats["window_end"] = pd.Timestamp(end_week)
    stats = stats.drop(columns=["s", "var_s", "slope", "n"])
    order = stats["trend"].map({"rising": 0, "falling": 1, "new": 2, "flat": 3})
    return (stats.assign(_o=order).sort_values(["_o", "p_value"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def _ramp_up(weekly: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Units in the first 4 weeks after launch and in the last 4 weeks, for new keys."""
    if new.empty:
        return pd.DataFrame(columns=["key", "weeks_since_launch", "units_first_4_weeks", "units_last_4_weeks",
                                     "ramp_up_ratio"])
    w = weekly.merge(new, on="key")
    w["week"] = pd.to_datetime(w["week"])
    launch_week = w["first_sale"] - pd.to_timedelta(w["first_sale"].dt.weekday, unit="D")
    since = (w["week"] - launch_week).dt.days // 7
    last_t = w["t"].max()
    w["first4"] = np.where((since >= 0) & (since < 4), w["units"], 0)
    w["last4"] = np.where(w["t"] > last_t - 4, w["units"], 0)
    w["since"] = since
    g = w.groupby("key")
    out = pd.DataFrame({"weeks_since_launch": g["since"].max() + 1, "units_first_4_weeks": g["first4"].sum(),
                        "units_last_4_weeks": g["last4"].sum()})
    out["ramp_up_ratio"] = out["units_last_4_weeks"] / out["units_first_4_weeks"].where(out["units_first_4_weeks"] > 0)
    return out.reset_index()

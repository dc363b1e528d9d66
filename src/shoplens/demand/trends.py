"""Market trends: rising and falling products and categories, new-product ramp-up,
and links to review sentiment.

Set-based SQL over the weekly demand series, with the shop's one trend test
(:mod:`shoplens.trend`, also behind the category trends of ``customers cohorts``):

- **Seasonality adjustment**: a key's weekly value of demand (units x price) is
  divided by the whole shop's that week, so the trend is measured on its *share* of
  demand and swings every product shares (Christmas, summer) cancel out. This works
  with a single year of history, where year-over-year comparison is impossible.
  Value, not units: units of fuel or goods sold by weight would swamp the share.
- **Trend and significance**: Mann-Kendall test on the share over the last
  ``weeks`` complete weeks (S statistic over all pairs of weeks, tie-corrected
  variance, two-sided normal p-value) and the Theil-Sen slope (median pairwise
  slope), reported as % of the average share per week. Rising / falling when
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

from datetime import date, datetime

import numpy as np
import pandas as pd

from shoplens.demand.series import LEVELS, check_freq_level, data_end, parse_date
from shoplens.store.warehouse import Warehouse
from shoplens.trend import share_trends


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
    cutoff = parse_date(until) or data_end(wh)
    stats, weekly = share_trends(wh, key_sql=LEVELS[level], cutoff=cutoff, weeks=weeks, alpha=alpha,
                                 min_units=min_units)
    start, end_week = stats["window_start"].iloc[0].date(), stats["window_end"].iloc[0].date()
    as_dt = lambda d: datetime.combine(d, datetime.min.time())  # noqa: E731
    is_new = stats["trend"].eq("new")
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

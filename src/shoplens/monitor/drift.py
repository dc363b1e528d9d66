"""Drift checks: population stability index (PSI) per feature between a reference
window (the promoted models' training window) and the most recent data, and the
drift of text-model confidence.

PSI = sum over bins of (current% - reference%) * ln(current% / reference%), with
bins at the reference deciles. Usual reading: < 0.1 stable, 0.1-0.25 moderate
shift, > 0.25 significant shift (retrain).

Everything is set-based DuckDB SQL over the warehouse.

>>> round(psi_from_shares([0.5, 0.5], [0.5, 0.5]), 3)
0.0
>>> psi_status(0.3)
'significant'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from shoplens.errors import InsufficientDataError
from shoplens.metrics import order_values_sql
from shoplens.store.warehouse import Warehouse, first_row, utcnow

MODERATE = 0.1
SIGNIFICANT = 0.25
EPSILON = 1e-4  # share given to empty bins so the logarithm stays finite
DRIFT_TABLE = "monitor_drift"

# Order-level features (one row per purchase; its value as defined in shoplens.metrics): what the
# customer, recommendation and demand models learn from.
ORDER_FEATURES_SQL = f"""
SELECT o.order_id, o.customer_id, o.ordered_at,
       any_value(o.amount) AS order_value,
       sum(i.quantity) AS units,
       count(DISTINCT i.product_id) AS distinct_products,
       median(i.unit_price) AS median_unit_price,
       date_diff('day', lag(o.ordered_at) OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at),
                 o.ordered_at) AS days_since_previous_order
FROM ({order_values_sql()}) o JOIN order_items i USING (order_id)
WHERE o.kind = 'purchase'
GROUP BY o.order_id, o.customer_id, o.ordered_at
"""
FEATURES = ["order_value", "units", "distinct_products", "median_unit_price", "days_since_previous_order"]

# Text results with a model confidence: (table, SQL expression of the confidence, name shown).
# The sentiment model's confidence is max(P(positive), P(negative)); intent gives its own score.
TEXT_CONFIDENCE_SOURCES: list[tuple[str, str, str]] = [
    ("text_reviews", "greatest(sentiment_score, 1 - sentiment_score)", "text_reviews.sentiment_confidence"),
    ("text_messages", "intent_score", "text_messages.intent_confidence"),
]


def psi_from_shares(reference: list[float], current: list[float]) -> float:
    """PSI of two binned distributions given as shares (each summing to 1)."""
    total = 0.0
    for r, c in zip(reference, current):
        r, c = max(r, EPSILON), max(c, EPSILON)
        total += (c - r) * math.log(c / r)
    return total


def psi_status(psi: float | None) -> str:
    if psi is None or (isinstance(psi, float) and math.isnan(psi)):
        return "unknown"
    return "significant" if psi > SIGNIFICANT else "moderate" if psi > MODERATE else "stable"


@dataclass(frozen=True)
class Windows:
    """The reference (training) and current windows compared."""

    reference_start: datetime
    reference_end: datetime
    current_start: datetime
    current_end: datetime


def default_windows(wh: Warehouse, recent_days: int = 30) -> Windows:
    """Current = the last ``recent_days`` of orders; reference = the promoted models' training window,
    or everything before the current window when no model records one."""
    lo, hi = first_row(wh.con.execute("SELECT min(ordered_at), max(ordered_at) FROM orders"))  # type: ignore[misc]
    if hi is None:
        raise InsufficientDataError("no orders in the warehouse: ingest orders before checking drift")
    current_start = hi - timedelta(days=recent_days)
    ref_start, ref_end = lo, current_start
    if wh.has_table("_models"):
        row = first_row(wh.con.execute(
            "SELECT min(data_start), max(data_end) FROM _models WHERE status = 'promoted' AND data_end IS NOT NULL"
        ))
        if row and row[0] is not None and row[1] is not None and row[1] > row[0]:
            ref_start, ref_end = row
            if ref_end >= current_start:  # trained on data overlapping the recent window: compare before it
                ref_end = current_start
    if ref_end <= ref_start:
        raise InsufficientDataError(
            f"orders span {lo:%Y-%m-%d}..{hi:%Y-%m-%d}: too short for a reference window before the last "
            f"{recent_days} days (use a smaller --recent-days)")
    return Windows(ref_start, ref_end, current_start, hi)


def _psi_sql(values_sql: str, bins: int) -> str:
    """SQL computing PSI per feature from ``values_sql`` (columns feature, value, window)."""
    cuts = ", ".join(f"{q / bins:.4f}" for q in range(1, bins))
    return f"""
    WITH v AS ({values_sql}),
    edges AS (SELECT feature, quantile_cont(value, [{cuts}]) AS cuts
              FROM v WHERE period = 'reference' AND value IS NOT NULL GROUP BY feature),
    binned AS (SELECT v.feature, v.period, len(list_filter(e.cuts, lambda c: c <= v.value)) AS bin
               FROM v JOIN edges e USING (feature) WHERE v.value IS NOT NULL),
    counts AS (SELECT feature, bin, count(*) FILTER (WHERE period = 'reference') AS ref_n,
                      count(*) FILTER (WHERE period = 'current') AS cur_n
               FROM binned GROUP BY ALL),
    shares AS (SELECT feature, bin, ref_n, cur_n,
                      greatest(ref_n / sum(ref_n) OVER (PARTITION BY feature), {EPSILON}) AS r,
                      greatest(cur_n / nullif(sum(cur_n) OVER (PARTITION BY feature), 0), {EPSILON}) AS c
               FROM counts)
    SELECT feature, sum((c - r) * ln(c / r)) AS psi,
           sum(ref_n)::BIGINT AS reference_n, sum(cur_n)::BIGINT AS current_n
    FROM shares GROUP BY feature ORDER BY feature
    """


def feature_drift(wh: Warehouse, windows: Windows, bins: int = 10) -> pd.DataFrame:
    """PSI of each order feature between the reference and current windows."""
    unpivot = " UNION ALL ".join(
        f"SELECT '{f}' AS feature, {f}::DOUBLE AS value, period FROM w" for f in FEATURES)
    values = f"""WITH f AS ({ORDER_FEATURES_SQL}),
        w AS (SELECT *, CASE WHEN ordered_at >= $cs AND ordered_at <= $ce THEN 'current'
                             WHEN ordered_at >= $rs AND ordered_at < $re THEN 'reference' END AS period FROM f)
        {unpivot}"""
    frame = wh.con.execute(_psi_sql(values, bins), {
        "rs": windows.reference_start, "re": windows.reference_end,
        "cs": windows.current_start, "ce": windows.current_end}).df()
    frame.insert(1, "kind", "feature")
    return frame


def text_confidence_drift(wh: Warehouse, windows: Windows, bins: int = 10,
                          sources: list[tuple[str, str, str]] | None = None) -> pd.DataFrame:
    """PSI and mean shift of the text models' confidence on texts of each window."""
    frames = []
    for table, expression, label in sources if sources is not None else TEXT_CONFIDENCE_SOURCES:
        if not wh.has_table(table) or "created_at" not in wh.columns(table):
            continue
        values = f"""SELECT '{label}' AS feature, ({expression})::DOUBLE AS value,
                        CASE WHEN created_at >= $cs THEN 'current'
                             WHEN created_at >= $rs AND created_at < $re THEN 'reference' END AS period
                     FROM "{table}" """
        frame = wh.con.execute(_psi_sql(values, bins), {
            "rs": windows.reference_start, "re": windows.reference_end, "cs": windows.current_start}).df()
        if frame.empty:
            continue
        means = first_row(wh.con.execute(f"""SELECT avg({expression}) FILTER (WHERE created_at >= $rs AND created_at < $re),
                                          avg({expression}) FILTER (WHERE created_at >= $cs)
                                   FROM "{table}" """,
                               {"rs": windows.reference_start, "re": windows.reference_end,
                                "cs": windows.current_start}))
        frame["reference_mean"], frame["current_mean"] = means  # type: ignore[misc]
        frame.insert(1, "kind", "text_confidence")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def check_drift(wh: Warehouse, *, recent_days: int = 30, bins: int = 10, save: bool = True) -> pd.DataFrame:
    """Run every drift check; with ``save`` store them in ``monitor_drift`` (shown by status and the dashboard).

    >>> # check_drift(wh)[["feature", "psi", "status"]]  # doctest: +SKIP
    """
    windows = default_windows(wh, recent_days)
    frame = pd.concat([feature_drift(wh, windows, bins), text_confidence_drift(wh, windows, bins)],
                      ignore_index=True)
    frame["status"] = [psi_status(p) for p in frame["psi"]]
    frame["reference_start"], frame["reference_end"] = windows.reference_start, windows.reference_end
    frame["current_start"], frame["current_end"] = windows.current_start, windows.current_end
    frame["checked_at"] = utcnow()
    if save and not wh.read_only:
        wh.write_table(DRIFT_TABLE, frame, kind="drift",
                       info={"recent_days": recent_days, "bins": bins,
                             "thresholds": {"moderate": MODERATE, "significant": SIGNIFICANT}})
    return frame


def latest_drift(wh: Warehouse) -> dict[str, Any]:
    """The stored drift checks as JSON-ready dict, or ``{}`` when never run."""
    if not wh.has_table(DRIFT_TABLE):
        return {}
    frame = wh.query(f'SELECT * FROM "{DRIFT_TABLE}" ORDER BY kind, feature')
    info = first_row(wh.con.execute("SELECT computed_at, info FROM _computed WHERE name = ?", [DRIFT_TABLE]))
    return {
        "computed_at": info[0].isoformat() if info else None,
        "thresholds": {"moderate": MODERATE, "significant": SIGNIFICANT},
        "settings": json.loads(info[1]) if info and info[1] else {},
        "checks": json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s")),
        "drifted": sorted(frame.loc[frame["status"] == "significant", "feature"].tolist()),
    }

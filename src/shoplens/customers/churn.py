"""Churn risk: time-based labels, a gradient-boosted model validated on a later
window, calibration, and per-customer reasons in words.

A customer *churns* after a cut-off when they make no purchase in the
``horizon_days`` that follow it. With the last purchase date ``end``:

- training set: features as of ``end - 2*horizon``, labels from the next horizon;
- validation set: features as of ``end - horizon``, labels up to ``end`` (a later,
  unseen window: the honest test of a model that will score the future);
- the served model is refit on the validation window and scores everyone as of ``end``.

The model is scikit-learn's HistGradientBoostingClassifier (handles missing
values natively, no extra dependency). Reasons are per-customer contributions:
how much the risk changes when one feature is set to the typical customer's
value (a vectorised occlusion; one predict per feature, so it scales to millions).

>>> reason_phrase("recency_days", 150.0, 45.0, 0.21, "days since the last order")
'150 days since the last order (typical 45) raises risk by 21 pts'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from shoplens.base import Model
from shoplens.customers.data import last_order_date, parse_date, purchases_sql
from shoplens.customers.features import LABELS_ZH, FeatureCache, customer_features, feature_labels, numeric_features
from shoplens.errors import InsufficientDataError
from shoplens.store.warehouse import Warehouse, serves

EXCLUDED = {"gross_revenue"}  # duplicates net_revenue


def _threads(rows: int) -> int:
    """OpenMP threads for the booster: one for small data (more threads only oversubscribe a shared
    machine), up to two from 100,000 rows; SHOPLENS_MODEL_THREADS overrides."""
    if "SHOPLENS_MODEL_THREADS" in os.environ:
        return int(os.environ["SHOPLENS_MODEL_THREADS"])
    return 1 if rows < 100_000 else min(2, os.cpu_count() or 1)


# nouns a reason's label may count: "1 different product bought", not "1 different products bought"
SINGULAR = "product|order|day|review|message|conversation|item|contact"


# The templates of a reason, in English and Chinese, filled from the same numbers:
# effect (direction, points), phrase with a value, "no X yet", a single order, nothing notable; separator.
REASON_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {"raises": "raises", "lowers": "lowers", "effect": "{direction} risk by {points}",
           "value": "{value} {label} (typical {typical}) {effect}", "none": "no {label} yet (typical {typical}) {effect}",
           "single": "a single order so far {effect}", "typical": "close to the typical customer", "sep": "; ",
           "nothing": "none"},
    "zh": {"raises": "提高", "lowers": "降低", "effect": "流失风险{direction} {points} 个百分点",
           "value": "{label} {value}（通常为 {typical}），{effect}", "none": "尚无{label}（通常为 {typical}），{effect}",
           "single": "目前只有一单，{effect}", "typical": "与典型客户接近", "sep": "；", "nothing": "无"},
}


def reason_phrase(feature: str, value: float, typical: float, delta: float, label: str | None = None,
                  lang: str = "en") -> str:
    """One reason in words (``lang`` en or zh, from the same numbers), the noun in the right number;
    ``label`` is the feature's words in that language.

    >>> reason_phrase("distinct_products", 1.0, 29.0, 0.05, "different products bought")
    '1 different product bought (typical 29) raises risk by 5 pts'
    >>> reason_phrase("orders", 12.0, 4.0, -0.01, "orders")
    '12 orders (typical 4) lowers risk by 1 pt'
    >>> reason_phrase("orders", 12.0, 4.0, -0.01, "订单数", lang="zh")
    '订单数 12（通常为 4），流失风险降低 1 个百分点'
    """
    t = REASON_TEMPLATES[lang]
    label = label or feature
    points = f"{abs(delta) * 100:.0f}"
    if lang == "en":
        points += " pt" if points == "1" else " pts"  # "by 1 pt", "by 5 pts"
    effect = t["effect"].format(direction=t["raises"] if delta > 0 else t["lowers"], points=points)

    def fmt(v: float) -> str:
        if np.isnan(v):
            return t["nothing"]
        return f"{v:.0%}" if "share" in feature or feature.endswith("_rate") else (f"{v:,.0f}" if abs(v) >= 10 else f"{v:.2g}")

    if np.isnan(value) and feature == "avg_days_between_orders":
        return t["single"].format(effect=effect)
    if np.isnan(value):
        return t["none"].format(label=label, typical=fmt(typical), effect=effect)
    if lang == "en" and fmt(value) == "1":  # "1 different product bought", not "1 different products bought"
        label = re.sub(rf"\b({SINGULAR})s\b", r"\1", label, count=1)
    return t["value"].format(value=fmt(value), label=label, typical=fmt(typical), effect=effect)


def _sql_text(template: str, **parts: str) -> str:
    """A reason template as a DuckDB string expression: each ``{part}`` becomes the SQL ``parts[part]``."""
    pieces = re.split(r"\{(\w+)\}", template)
    sql = []
    for i, piece in enumerate(pieces):
        if i % 2:
            sql.append(f"({parts[piece]})")
        elif piece:
            sql.append("'" + piece.replace("'", "''") + "'")
    return " || ".join(sql) or "''"


def reasons_in_words(values: np.ndarray, contributions: np.ndarray, order: np.ndarray, features: list[str],
                     typical: dict[str, float], labels: dict[str, str], lang: str = "en") -> list[str]:
    """The same phrases as :func:`reason_phrase` (in ``lang``, ``labels`` in that language) for every
    customer at once (built by DuckDB from the same templates: no Python row loop)."""
    import duckdb

    t = REASON_TEMPLATES[lang]
    n, k = order.shape
    rows = np.repeat(np.arange(n), k)
    j = order.reshape(-1)
    long = pd.DataFrame({
        "row": rows, "rank": np.tile(np.arange(k), n), "feature": np.asarray(features, dtype=object)[j],
        "label": np.asarray([labels.get(f, f) for f in features], dtype=object)[j],
        "value": values[rows, j], "typical": np.asarray([typical.get(f, np.nan) for f in features])[j],
        "delta": contributions[rows, j],
    })
    nothing = t["nothing"].replace("'", "''")
    # pandas' NaN arrives in DuckDB as NULL: a missing value is either
    num = f"""CASE WHEN {{v}} IS NULL OR isnan({{v}}) THEN '{nothing}'
                  WHEN feature LIKE '%share%' OR feature LIKE '%\\_rate' ESCAPE '\\' THEN format('{{{{:.0f}}}}%', {{v}} * 100)
                  WHEN abs({{v}}) >= 10 THEN format('{{{{:,.0f}}}}', {{v}}) ELSE format('{{{{:.2g}}}}', {{v}}) END"""
    points = "format('{:.0f}', abs(delta) * 100)"
    if lang == "en":
        points += f" || (CASE WHEN {points} = '1' THEN ' pt' ELSE ' pts' END)"
    effect = _sql_text(t["effect"], direction=f"CASE WHEN delta > 0 THEN '{t['raises']}' ELSE '{t['lowers']}' END",
                       points=points)
    value, typ = num.format(v="value"), num.format(v="typical")
    label = f"CASE WHEN {value} = '1' THEN regexp_replace(label, '\\b({SINGULAR})s\\b', '\\1') ELSE label END" \
        if lang == "en" else "label"
    sep, close = t["sep"].replace("'", "''"), t["typical"].replace("'", "''")
    con = duckdb.connect()
    try:
        con.register("reasons", long)
        out = con.execute(f"""
            WITH p AS (SELECT row, rank, {effect} AS effect, * FROM reasons WHERE abs(delta) >= 0.005),
            phrases AS (
                SELECT row, rank, CASE
                    WHEN (value IS NULL OR isnan(value)) AND feature = 'avg_days_between_orders' THEN {_sql_text(t["single"], effect="effect")}
                    WHEN value IS NULL OR isnan(value) THEN {_sql_text(t["none"], label="label", typical=typ, effect="effect")}
                    ELSE {_sql_text(t["value"], value=value, label=label, typical=typ, effect="effect")}
                    END AS phrase FROM p)
            SELECT r.row, coalesce(string_agg(phrase, '{sep}' ORDER BY rank), '{close}') AS reasons
            FROM range({n}) r(row) LEFT JOIN phrases USING (row) GROUP BY r.row ORDER BY r.row""").fetchnumpy()
    finally:
        con.close()
    return list(out["reasons"])


class ChurnModel(Model):
    """Gradient-boosted churn classifier over named numeric features, with occlusion reasons.

    >>> import pandas as pd, numpy as np
    >>> X = pd.DataFrame({"recency_days": np.r_[np.arange(1, 50), np.arange(100, 149)]})
    >>> y = np.r_[np.zeros(49), np.ones(49)]
    >>> float(ChurnModel(max_iter=50).fit(X, y).predict_proba(pd.DataFrame({"recency_days": [140]}))[0]) > 0.5
    True
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 8,
                 min_samples_leaf: int = 30, l2_regularization: float = 1.0, seed: int = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ChurnModel:
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise InsufficientDataError("churn labels have one class only: every customer churned or none did; "
                                        "use another --horizon-days or more history")
        self.features_ = list(X.columns)
        self.typical_ = X.median(numeric_only=True).to_dict()
        # Early stopping on an inner 20% split keeps small shops from overfitting (and keeps risks calibrated).
        self.classifier_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=min(self.min_samples_leaf, max(2, len(X) // 20)), l2_regularization=self.l2_regularization,
            early_stopping=len(X) >= 200, validation_fraction=0.2, n_iter_no_change=15, scoring="loss",
            random_state=self.seed)
        with threadpool_limits(limits=_threads(len(X))):
            self.classifier_.fit(X[self.features_].to_numpy(float), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.check_fitted()
        with threadpool_limits(limits=_threads(len(X))):
            return self.classifier_.predict_proba(X[self.features_].to_numpy(float))[:, 1]

    def contributions(self, X: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
        """Risk minus the risk with that one feature at the typical (median) value, per customer and feature.

        ``features`` limits the work to those columns (the others get 0).
        """
        self.check_fitted()
        base = X[self.features_].to_numpy(float)
        out = {f: np.zeros(len(X)) for f in self.features_}
        wanted = set(features or self.features_)
        with threadpool_limits(limits=_threads(len(X))):
            p = self.classifier_.predict_proba(base)[:, 1]
            for j, f in enumerate(self.features_):
                if f not in wanted:
                    continue
                typical = self.typical_.get(f, np.nan)
                # rows already at the typical value (or both missing) have no contribution: only
                # the others are predicted again (counts such as returns are mostly at their median)
                same = (base[:, j] == typical) | (np.isnan(base[:, j]) & np.isnan(typical))
                rows = np.flatnonzero(~same)
                if len(rows):
                    alt = base[rows]
                    alt[:, j] = typical
                    out[f][rows] = p[rows] - self.classifier_.predict_proba(alt)[:, 1]
        return pd.DataFrame(out, index=X.index)


def churn_labels(wh: Warehouse, cutoff: date, horizon_days: int) -> pd.DataFrame:
    """1 when a customer with a purchase before ``cutoff`` makes none in the following ``horizon_days``."""
    lit = f"TIMESTAMP '{cutoff.isoformat()}'"
    end = f"TIMESTAMP '{(cutoff + timedelta(days=horizon_days)).isoformat()}'"
    sql = f"""
    SELECT b.customer_id, CASE WHEN a.customer_id IS NULL THEN 1 ELSE 0 END AS churned
    FROM (SELECT DISTINCT customer_id FROM ({purchases_sql(lit)})) b
    LEFT JOIN (SELECT DISTINCT customer_id FROM ({purchases_sql(end)}) WHERE ordered_at >= {lit}) a USING (customer_id)
    ORDER BY b.customer_id
    """
    return wh.query(sql)


def _dataset(wh: Warehouse, cutoff: date, horizon_days: int,
             cache: FeatureCache | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    feats = customer_features(wh, cutoff, cache=cache)
    labels = churn_labels(wh, cutoff, horizon_days)
    data = feats.merge(labels, on="customer_id")
    return data, data["churned"].to_numpy(int)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate by risk decile."""
    frame = pd.DataFrame({"p": p, "y": y})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    return frame.groupby("bin").agg(customers=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")).reset_index()


@dataclass
class ChurnResult:
    model: ChurnModel
    scores: pd.DataFrame
    metrics: dict[str, Any]
    calibration: pd.DataFrame
    importance: pd.DataFrame


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` in an order fixed by its values, not by the pseudonymised ids (a per-shop random key).

    Warehouse rows come ordered by pseudonym, and the booster's early-stopping split and the
    seeded samples pick rows by position: without this, the same shop gave a different model
    (and different top-risk customers) under each key.

    >>> f = pd.DataFrame({"customer_id": ["b", "a"], "x": [2.0, 1.0], "churned": [0, 1]})
    >>> _canonical(f, ["x", "churned"])["customer_id"].tolist()
    ['a', 'b']
    """
    return frame.iloc[_canonical_order(frame, columns)].reset_index(drop=True)


def _canonical_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row positions of ``frame`` in :func:`_canonical`'s order (without copying the frame)."""
    keys = [np.nan_to_num(frame[c].to_numpy(float), nan=np.inf) for c in reversed(columns)]
    return np.lexsort(keys)


def _sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Row positions of a seeded random sample of at most ``limit`` rows (all rows when n <= limit)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def fit_churn(wh: Warehouse, *, as_of: str | date | None = None, horizon_days: int = 90, top_reasons: int = 3,
              max_train_rows: int = 50_000, reason_features: int = 8, write: bool = True,
              register: bool = True, cache: FeatureCache | None = None) -> ChurnResult:
    """Train, validate on the later window, refit, score every customer with reasons; writes ``customer_churn``.

    Training uses a seeded sample of at most ``max_train_rows`` customers per window (more adds little
    to a 20-feature booster); validation metrics use every customer of the later window.
    ``cache`` (:class:`~shoplens.customers.features.FeatureCache`) shares the customer features with other steps of the run.
    An ``as_of`` before the default is a look back: written to ``eval_customer_churn`` and
    ``eval_customer_churn_calibration``, no model registered (:func:`~shoplens.store.warehouse.serves`).
    """
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    current_run = serves(end, latest)
    if horizon_days < 7:
        raise InsufficientDataError("--horizon-days must be at least 7")
    first = wh.con.execute("SELECT min(ordered_at) FROM orders").fetchall()[0][0]
    train_cut = end - timedelta(days=2 * horizon_days)
    valid_cut = end - timedelta(days=horizon_days)
    if first is None or pd.Timestamp(train_cut) <= pd.Timestamp(first) + pd.Timedelta(days=30):
        raise InsufficientDataError(
            f"churn needs history before {train_cut} (two horizons of {horizon_days} days before {end}, plus a month); "
            "use a shorter --horizon-days"
        )
    train, y_train = _dataset(wh, train_cut, horizon_days, cache)
    valid, y_valid = _dataset(wh, valid_cut, horizon_days, cache)
    features = [c for c in numeric_features(train) if c not in EXCLUDED and train[c].nunique(dropna=True) > 1]
    if len(train) < 50 or len(valid) < 50:
        raise InsufficientDataError(f"churn needs at least 50 customers per window (train {len(train)}, validation {len(valid)})")
    train, valid = _canonical(train, [*features, "churned"]), _canonical(valid, [*features, "churned"])
    y_train, y_valid = train["churned"].to_numpy(int), valid["churned"].to_numpy(int)
    train_idx, valid_idx = _sample(len(train), max_train_rows), _sample(len(valid), max_train_rows)
    model = ChurnModel().fit(train.iloc[train_idx][features], y_train[train_idx])
    p_valid = model.predict_proba(valid[features])
    metrics: dict[str, Any] = {
        "train_cutoff": train_cut.isoformat(), "validation_cutoff": valid_cut.isoformat(), "horizon_days": horizon_days,
        "train_customers": len(train), "validation_customers": len(valid),
        "validation_churn_rate": float(y_valid.mean()),
        "roc_auc": float(roc_auc_score(y_valid, p_valid)) if len(set(y_valid)) > 1 else None,
        "pr_auc": float(average_precision_score(y_valid, p_valid)) if len(set(y_valid)) > 1 else None,
        "brier": float(brier_score_loss(y_valid, p_valid)),
    }
    # Baseline: risk = rank of days since the last order (what a marketer does without a model).
    if len(set(y_valid)) > 1:
        metrics["baseline_recency_roc_auc"] = float(roc_auc_score(y_valid, valid["recency_days"]))
    calibration = calibration_table(y_valid, p_valid)

    served = ChurnModel().fit(valid.iloc[valid_idx][features], y_valid[valid_idx])
    # both windows' frames are done with: freed before the current features are loaded (the
    # step's memory peak at a million customers)
    del train, valid
    current = customer_features(wh, end, cache=cache)
    labels = feature_labels(current)
    scores = current[["customer_id"]].copy()
    X = current[features]
    del current
    risk = served.predict_proba(X)
    # Reasons come from the features that matter most overall (ranked on a sample), which keeps
    # scoring a million customers to a handful of predictions. The sample is drawn in the
    # canonical order (positions only: the frame is not copied to sort it).
    probe = X.iloc[_canonical_order(X, features)[_sample(len(X), 5000)]]
    ranked = served.contributions(probe).abs().mean().sort_values(ascending=False)
    c = served.contributions(X, features=list(ranked.index[:reason_features])).to_numpy()
    scores["churn_risk"] = risk
    scores["risk_band"] = pd.cut(risk, [-0.01, 0.33, 0.66, 1.01], labels=["low", "medium", "high"]).astype(str)
    # Top reasons pushing risk up (for low-risk customers: what keeps it low).
    values = X.to_numpy(float)
    del X
    order = np.argsort(-np.where(risk[:, None] >= 0.5, c, -c), axis=1)[:, :top_reasons]
    scores["reasons"] = reasons_in_words(values, c, order, features, served.typical_, labels)
    # the same reasons from the same numbers in Chinese (the zh Customer 360, REST and report)
    labels_zh = {f: LABELS_ZH.get(f, labels.get(f, f)) for f in features}
    scores["reasons_zh"] = reasons_in_words(values, c, order, features, served.typical_, labels_zh, lang="zh")
    scores["top_reason_feature"] = [features[j] for j in order[:, 0]]
    scores["as_of"] = pd.Timestamp(end)
    importance = pd.DataFrame({"feature": ranked.index, "label": [labels.get(f, f) for f in ranked.index],
                               "mean_abs_contribution": ranked.to_numpy()})
    if write:
        if current_run:
            wh.write_table("customer_churn", scores, kind="customer", info=metrics)
            wh.write_table("customer_churn_calibration", calibration, kind="insight", info=metrics)
        else:
            wh.write_evaluation("customer_churn", scores, info=metrics)
            wh.write_evaluation("customer_churn_calibration", calibration, info=metrics)
    if register and current_run:
        from shoplens.store.registry import ModelRegistry

        ModelRegistry(wh).register("churn", served, kind="HistGradientBoosting", metrics=metrics,
                                   data_window=(pd.Timestamp(first), pd.Timestamp(end)))
    return ChurnResult(served, scores, metrics, calibration, importance.reset_index(drop=True))

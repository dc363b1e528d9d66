"""Behavioural segments on fused features, with the number of segments chosen
automatically and each segment described in plain words with numbers.

K-means (scikit-learn) on log-scaled, standardised features. The number of
segments k is the one with the best silhouette among those that are *stable*:
re-fitting on bootstrap samples must give nearly the same partition (mean
adjusted Rand index >= ``min_stability``). Descriptions compare each segment
with the average customer ("2.3x more orders", "48% buy mostly home decor").

>>> trait("orders", 2.3)
'2.3x more orders'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from shoplens.base import Model
from shoplens.customers.data import last_order_date, parse_date
from shoplens.customers.features import (BEHAVIOUR_LABELS, FeatureCache, customer_features, feature_labels,
                                         numeric_features)
from shoplens.errors import InsufficientDataError
from shoplens.store.warehouse import Warehouse

# Features that describe behaviour well in a marketer's words; others are ignored for clustering.
CLUSTER_FEATURES = ["orders", "net_revenue", "aov", "recency_days", "tenure_days", "avg_days_between_orders",
                    "items_per_order", "distinct_products", "price_index", "return_rate", "top_category_share",
                    "discount_share", "weekend_share", "evening_share", "reviews", "negative_review_share",
                    "support_contacts", "review_sentiment_score", "negative_message_share"]
# Short trait words for segment names: feature -> (word when higher, word when lower).
TRAIT_WORDS = {
    "orders": ("frequent", "one-off"), "net_revenue": ("high-spend", "low-spend"), "aov": ("big-basket", "small-basket"),
    "recency_days": ("lapsed", "recently active"), "tenure_days": ("long-standing", "new"),
    "items_per_order": ("bulk", "few-item"), "distinct_products": ("broad-range", "narrow-range"),
    "price_index": ("premium-price", "bargain"), "return_rate": ("returning", "no-return"),
    "reviews": ("reviewing", "silent"), "negative_review_share": ("unhappy", "happy"),
    "support_contacts": ("support-heavy", "self-sufficient"), "avg_days_between_orders": ("slow-cycle", "fast-cycle"),
    "weekend_share": ("weekend", "weekday"), "top_category_share": ("focused", "varied"),
}
COUNT_FEATURES = {"orders", "reviews", "support_contacts", "distinct_products", "items_per_order", "orders_last_90d",
                  "recency_days", "tenure_days", "avg_days_between_orders", "cancelled_orders"}
SHARE_FEATURES = {"return_rate", "top_category_share", "discount_share", "weekend_share", "evening_share",
                  "negative_review_share", "negative_message_share"}


def _num(v: float, share: bool) -> str:
    if share:
        return f"{v:.0%}"
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


def trait(feature: str, ratio: float, label: str | None = None, value: float | None = None,
          average: float | None = None) -> str:
    """A phrase comparing a segment with the average customer: '2.3x more orders (9.8 vs 4.3)'."""
    label = label or feature
    share = feature in SHARE_FEATURES
    numbers = f" ({_num(value, share)} vs {_num(average, share)})" if value is not None and average is not None else ""
    if ratio >= 1.5:
        return f"{ratio:.1f}x more {label}{numbers}"
    if ratio <= 0.67:
        return f"{(1 - ratio):.0%} fewer {label}{numbers}" if feature in COUNT_FEATURES else f"{(1 - ratio):.0%} lower {label}{numbers}"
    return f"{label} close to average{numbers}"


class SegmentModel(Model):
    """Standardise log features, choose k by silhouette among stable partitions, k-means.

    >>> import numpy as np
    >>> X = np.vstack([np.random.default_rng(0).normal(m, 0.1, (50, 2)) for m in (0, 3, 6)])
    >>> SegmentModel(k_range=(2, 5), seed=0).fit(X).n_segments_
    3
    """

    def __init__(self, k_range: tuple[int, int] = (3, 8), min_stability: float = 0.75, n_bootstrap: int = 3,
                 sample_size: int = 20000, seed: int = 0) -> None:
        self.k_range = k_range
        self.min_stability = min_stability
        self.n_bootstrap = n_bootstrap
        self.sample_size = sample_size
        self.seed = seed

    def fit(self, X: np.ndarray) -> SegmentModel:
        rng = np.random.default_rng(self.seed)
        X = np.asarray(X, dtype=float)
        if len(X) < 20:
            raise InsufficientDataError(f"segments need at least 20 customers with purchases, found {len(X)}")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        fit_idx = rng.choice(len(Z), min(len(Z), self.sample_size), replace=False)
        sil_idx = fit_idx[: min(len(fit_idx), 3000)]
        rows = []
        lo, hi = self.k_range
        fitted: dict[int, KMeans] = {}
        for k in range(lo, min(hi, len(fit_idx) - 1) + 1):
            km = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit(Z[fit_idx])
            fitted[k] = km
            labels = km.predict(Z[sil_idx])
            sil = silhouette_score(Z[sil_idx], labels) if len(set(labels)) > 1 else -1.0
            aris = []
            for b in range(self.n_bootstrap):
                boot = rng.choice(fit_idx, len(fit_idx), replace=True)
                kb = KMeans(n_clusters=k, n_init=2, random_state=self.seed + b + 1).fit(Z[boot])
                aris.append(adjusted_rand_score(km.predict(Z[fit_idx]), kb.predict(Z[fit_idx])))
            rows.append({"k": k, "silhouette": float(sil), "stability_ari": float(np.mean(aris))})
        self.selection_ = pd.DataFrame(rows)
        stable = self.selection_[self.selection_["stability_ari"] >= self.min_stability]
        pool = stable if len(stable) else self.selection_.nlargest(1, "stability_ari")
        best = int(pool.loc[pool["silhouette"].idxmax(), "k"])
        self.n_segments_ = best
        self.kmeans_ = fitted[best]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.check_fitted()
        return self.kmeans_.predict(self.scaler_.transform(np.asarray(X, dtype=float)))


def _design(features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    X = features[columns].astype(float).copy()
    X["avg_days_between_orders"] = X.get("avg_days_between_orders", pd.Series(index=X.index)).fillna(features["tenure_days"]) \
        if "avg_days_between_orders" in X else None
    X = X.fillna(X.median()).fillna(0.0)
    for c in columns:
        if c in SHARE_FEATURES:
            continue
        X[c] = np.sign(X[c]) * np.log1p(np.abs(X[c]))  # heavy tails: spend and counts span orders of magnitude
    return X.to_numpy()


@dataclass
class SegmentResult:
    model: SegmentModel
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    features: pd.DataFrame


def build_segments(wh: Warehouse, *, as_of: str | date | None = None, k_range: tuple[int, int] = (3, 8),
                   seed: int = 0, write: bool = True, register: bool = True,
                   cache: FeatureCache | None = None) -> SegmentResult:
    """Fit behavioural segments as of a date; writes ``customer_segments`` and ``customer_segment_profiles``.

    ``cache`` (:class:`~shoplens.customers.features.FeatureCache`) shares the customer features with other steps of the run.
    """
    end = parse_date(as_of, "--as-of") or last_order_date(wh)
    features = customer_features(wh, end, cache=cache)
    numeric = set(numeric_features(features))
    columns = [c for c in CLUSTER_FEATURES if c in numeric and features[c].nunique(dropna=True) > 1]
    from threadpoolctl import threadpool_limits

    # k-means over small data is slower with many BLAS/OpenMP threads on a busy machine.
    with threadpool_limits(limits=1):
        model = SegmentModel(k_range=k_range, seed=seed).fit(_design(features, columns))
        labels = model.predict(_design(features, columns))
    features = features.assign(segment_id=labels)
    profiles = describe_segments(features, columns)
    names = dict(zip(profiles["segment_id"], profiles["segment_name"]))
    assignments = features[["customer_id", "segment_id"]].assign(segment_name=lambda d: d["segment_id"].map(names),
                                                                 as_of=pd.Timestamp(end))
    if write:
        info = {"as_of": end, "k": model.n_segments_, "features": columns}
        wh.write_table("customer_segments", assignments, kind="customer", info=info)
        wh.write_table("customer_segment_profiles", profiles, kind="insight", info=info)
    if register:
        from shoplens.store.registry import ModelRegistry

        sel = model.selection_.set_index("k").loc[model.n_segments_]
        ModelRegistry(wh).register("customer_segments", model, kind="KMeans", data_window=(None, pd.Timestamp(end)),
                                   metrics={"k": model.n_segments_, "silhouette": sel["silhouette"],
                                            "stability_ari": sel["stability_ari"], "features": columns})
    return SegmentResult(model, assignments, profiles, features)


def describe_segments(features: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Size, revenue share, distinguishing traits and a plain-language description per segment."""
    labels = feature_labels(features)
    # Means of values clipped at the 1st/99th percentiles: one wholesaler must not make the average.
    # float first: nullable integer columns (pd.NA) cannot be clipped or compared
    values = features[columns].astype("float64")
    clipped = values.clip(values.quantile(0.01), values.quantile(0.99), axis=1)
    overall = clipped.mean(numeric_only=True)
    total_rev = features["net_revenue"].clip(lower=0).sum() or 1.0
    rows = []
    for seg, g in features.groupby("segment_id"):
        means = clipped.loc[g.index].mean(numeric_only=True)
        ratios = {}
        for c in columns:
            if overall[c] and np.isfinite(overall[c]) and overall[c] > 0 and np.isfinite(means[c]):
                if c in SHARE_FEATURES and abs(means[c] - overall[c]) < 0.05:
                    continue  # "2.3x more (1% vs 0.4%)" is noise to a marketer: shares must differ by 5 points
                ratios[c] = max(means[c], 0) / overall[c]
        ranked = sorted(ratios.items(), key=lambda kv: -abs(np.log(max(kv[1], 1e-3))))
        # Purchase behaviour first (what a marketer segments on), then the strongest review/support signal.
        behaviour = [(c, r) for c, r in ranked if c in BEHAVIOUR_LABELS][:3]
        signal = [(c, r) for c, r in ranked if c not in BEHAVIOUR_LABELS and abs(np.log(max(r, 1e-3))) > np.log(1.5)][:1]
        ranked = behaviour + signal
        traits = [trait(c, r, labels.get(c, c), means[c], overall[c]) for c, r in ranked]
        if "top_category" in g and g["top_category"].notna().any():
            top = g["top_category"].value_counts(normalize=True)
            traits.append(f"{top.iloc[0]:.0%} buy mostly {top.index[0]}")
        if "negative_review_share" in g and g["reviews"].gt(0).any():
            neg = (g["negative_review_share"].fillna(0) > 0).mean()
            if neg >= 0.1:
                aspect = ""
                if "last_negative_aspect" in g and g["last_negative_aspect"].notna().any():
                    aspect = f" about {g['last_negative_aspect'].mode().iloc[0]}"
                traits.append(f"{neg:.0%} left a negative review{aspect}")
        words = [TRAIT_WORDS[c][0 if r >= 1 else 1] for c, r in ranked if c in TRAIT_WORDS][:2]
        name = (", ".join(words) + " customers").capitalize() if words else f"Segment {seg}"
        share = len(g) / len(features)
        revenue_share = g["net_revenue"].clip(lower=0).sum() / total_rev
        rows.append({
            "segment_id": int(seg), "segment_name": name, "customers": len(g), "share_of_customers": share,
            "share_of_revenue": revenue_share, "avg_orders": g["orders"].mean(), "avg_net_revenue": g["net_revenue"].mean(),
            "avg_recency_days": g["recency_days"].mean(),
            "description": f"{len(g):,} customers ({share:.0%}) bringing {revenue_share:.0%} of revenue: " + "; ".join(traits) + ".",
            "traits": "; ".join(traits),
        })
    out = pd.DataFrame(rows).sort_values("share_of_revenue", ascending=False).reset_index(drop=True)
    # Two segments may earn the same two words: keep names unique.
    dup = out["segment_name"].duplicated(keep=False)
    out.loc[dup, "segment_name"] = out.loc[dup, "segment_name"] + " #" + out.loc[dup, "segment_id"].astype(str)
    return out

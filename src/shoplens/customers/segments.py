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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from shoplens.base import Model
from shoplens.customers.data import last_order_date, parse_date
from shoplens.customers.features import (BEHAVIOUR_LABELS, LABELS_ZH, FeatureCache, customer_features, feature_labels,
                                         numeric_features)
from shoplens.errors import InsufficientDataError
from shoplens.store.warehouse import Warehouse, serves

if TYPE_CHECKING:
    from shoplens.privacy.consent import Default

# Features that describe behaviour well in a marketer's words; others are ignored for clustering.
CLUSTER_FEATURES = ["orders", "net_revenue", "aov", "recency_days", "tenure_days", "avg_days_between_orders",
                    "items_per_order", "distinct_products", "price_index", "return_rate", "top_category_share",
                    "discount_share", "weekend_share", "evening_share", "reviews", "negative_review_share",
                    "support_contacts", "review_sentiment_score", "negative_message_share"]
# Words for segment names: feature -> (word when higher, word when lower). A name only uses a
# feature whose difference the description calls strong (1.5x more, or a third less); a word
# that states an absolute fact is used only when the segment's average makes it true (NAME_GUARDS).
TRAIT_WORDS: dict[str, tuple[str | None, str | None]] = {
    "orders": ("frequent", "infrequent"), "net_revenue": ("high-spend", "low-spend"),
    "aov": ("big-basket", "small-basket"), "recency_days": ("lapsed", "recently active"),
    "tenure_days": ("long-standing", "newer"), "items_per_order": ("many-item", "few-item"),
    "distinct_products": ("broad-range", "narrow-range"), "price_index": ("premium-price", "bargain"),
    "return_rate": ("high-return", "low-return"), "reviews": ("reviewing", "rarely reviewing"),
    "negative_review_share": ("unhappy", None), "support_contacts": ("support-heavy", "self-sufficient"),
    "avg_days_between_orders": ("slow-cycle", "fast-cycle"), "weekend_share": ("weekend", "weekday"),
    "evening_share": ("evening", "daytime"), "discount_share": ("discount-driven", "full-price"),
    "top_category_share": ("focused", "varied"), "negative_message_share": ("frustrated", None),
}
# Stronger words for the low side: feature -> (word, largest segment average it may describe).
NAME_GUARDS: dict[str, tuple[str, float]] = {
    "orders": ("one-off", 1.5), "tenure_days": ("new", 90.0), "return_rate": ("no-return", 0.005),
    "reviews": ("silent", 0.1), "negative_review_share": ("satisfied", 0.02),
}
STRONG_MORE, STRONG_LESS = 1.5, 0.67  # ratios to the average customer that a name may mention
SIZE_WORDS = ["largest group", "second-largest group", "third-largest group", "fourth-largest group",
              "fifth-largest group", "sixth-largest group", "seventh-largest group", "eighth-largest group"]
COUNT_FEATURES = {"orders", "reviews", "support_contacts", "distinct_products", "items_per_order", "orders_last_90d",
                  "recency_days", "tenure_days", "avg_days_between_orders", "cancelled_orders"}
SHARE_FEATURES = {"return_rate", "top_category_share", "discount_share", "weekend_share", "evening_share",
                  "negative_review_share", "negative_message_share"}


def _num(v: float, share: bool) -> str:
    if share:
        return f"{v:.0%}"
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


def trait(feature: str, ratio: float, label: str | None = None, value: float | None = None,
          average: float | None = None, share: bool | None = None, lang: str = "en") -> str:
    """A phrase comparing a segment with the average customer: '2.3x more orders (9.8 vs 4.3)';
    in Chinese (``lang="zh"``, ``label`` in Chinese) from the same numbers.

    >>> trait("orders", 0.7, value=2.9, average=4.1)
    '30% fewer orders (2.9 vs 4.1)'
    >>> trait("net_revenue", 1.05, "net spend")
    'net spend close to average'
    >>> trait("orders", 2.3, "订单数", 9.8, 4.3, lang="zh"), trait("orders", 0.7, "订单数", 2.9, 4.1, lang="zh")
    ('订单数是平均的 2.3 倍（9.8 对比 4.3）', '订单数少 30%（2.9 对比 4.1）')
    """
    label = label or feature
    share = feature in SHARE_FEATURES if share is None else share
    zh = lang == "zh"
    numbers = ""
    if value is not None and average is not None:
        numbers = (f"（{_num(value, share)} 对比 {_num(average, share)}）" if zh
                   else f" ({_num(value, share)} vs {_num(average, share)})")
    if ratio >= STRONG_MORE:
        return f"{label}是平均的 {ratio:.1f} 倍{numbers}" if zh else f"{ratio:.1f}x more {label}{numbers}"
    if abs(ratio - 1) < 0.1:
        return f"{label}接近平均{numbers}" if zh else f"{label} close to average{numbers}"
    if zh:
        more, fewer = ("多", "少") if feature in COUNT_FEATURES else ("高", "低")
        return f"{label}{more} {ratio - 1:.0%}{numbers}" if ratio > 1 else f"{label}{fewer} {1 - ratio:.0%}{numbers}"
    more, fewer = ("more", "fewer") if feature in COUNT_FEATURES else ("higher", "lower")
    return f"{ratio - 1:.0%} {more} {label}{numbers}" if ratio > 1 else f"{1 - ratio:.0%} {fewer} {label}{numbers}"


def with_value(value: float, label: str, overall: float, lang: str = "en") -> str:
    """A customer attribute's value a segment shares: '62% with income band high (vs 20% of all customers)'.

    >>> with_value(0.62, "income band high", 0.2, "zh")
    '62% 的客户为 income band high（全部客户中为 20%）'
    """
    if lang == "zh":
        return f"{value:.0%} 的客户为 {label}（全部客户中为 {overall:.0%}）"
    return f"{value:.0%} with {label} (vs {overall:.0%} of all customers)"


def buys_mostly(share: float, category: str, lang: str = "en") -> str:
    """The segment's favourite category (the shop's own name): '48% buy mostly Home'."""
    return f"{share:.0%} 主要购买 {category}" if lang == "zh" else f"{share:.0%} buy mostly {category}"


def negative_reviewers(share: float, aspect: str | None, lang: str = "en") -> str:
    """The share who left a negative review, and its most frequent aspect.

    >>> negative_reviewers(0.12, "quality"), negative_reviewers(0.12, "quality", "zh")
    ('12% left a negative review about quality', '12% 留下过关于质量的差评')
    """
    if lang == "zh":
        from shoplens.formatting import ASPECTS_ZH

        return f"{share:.0%} 留下过关于{ASPECTS_ZH.get(aspect, aspect)}的差评" if aspect else f"{share:.0%} 留下过差评"
    return f"{share:.0%} left a negative review" + (f" about {aspect}" if aspect else "")


def describe(customers: int, share_of_customers: float, share_of_revenue: float, traits: list[str],
             lang: str = "en") -> tuple[str, str]:
    """A segment's description and traits in one language, from its size, revenue share and traits.

    >>> describe(1234, 0.12, 0.3, ["订单数是平均的 2.3 倍（9.8 对比 4.3）"], "zh")[0]
    '1,234 位客户（12%），贡献 30% 的收入：订单数是平均的 2.3 倍（9.8 对比 4.3）。'
    """
    if lang == "zh":
        joined = "；".join(traits)
        return f"{customers:,} 位客户（{share_of_customers:.0%}），贡献 {share_of_revenue:.0%} 的收入：{joined}。", joined
    joined = "; ".join(traits)
    return f"{customers:,} customers ({share_of_customers:.0%}) bringing {share_of_revenue:.0%} of revenue: {joined}.", joined


def is_strong(ratio: float) -> bool:
    """True when a segment differs enough from the average customer for its name to say so."""
    return ratio >= STRONG_MORE or ratio <= STRONG_LESS


def name_word(feature: str, ratio: float, value: float) -> str | None:
    """The word a segment name uses for a strong difference, true for the segment's average ``value``.

    >>> name_word("orders", 0.3, 1.2), name_word("orders", 0.6, 2.7), name_word("orders", 0.9, 3.5)
    ('one-off', 'infrequent', None)
    """
    if feature not in TRAIT_WORDS or not is_strong(ratio):
        return None
    more, less = TRAIT_WORDS[feature]
    if ratio > 1:
        return more
    if feature in NAME_GUARDS and value <= NAME_GUARDS[feature][1]:
        return NAME_GUARDS[feature][0]
    return less


class SegmentModel(Model):
    """Standardise log features, choose k by silhouette among stable partitions, k-means.

    A partition with a segment smaller than ``min_share`` of the customers is not eligible: a
    handful of odd customers is not a segment a marketer can act on, and their averages would
    read like a trend.

    >>> import numpy as np
    >>> X = np.vstack([np.random.default_rng(0).normal(m, 0.1, (50, 2)) for m in (0, 3, 6)])
    >>> SegmentModel(k_range=(2, 5), seed=0).fit(X).n_segments_
    3
    """

    def __init__(self, k_range: tuple[int, int] = (3, 8), min_stability: float = 0.75, n_bootstrap: int = 3,
                 sample_size: int = 20000, min_share: float = 0.02, seed: int = 0) -> None:
        self.k_range = k_range
        self.min_stability = min_stability
        self.min_share = min_share
        self.n_bootstrap = n_bootstrap
        self.sample_size = sample_size
        self.seed = seed

    def fit(self, X: np.ndarray) -> SegmentModel:
        rng = np.random.default_rng(self.seed)
        X = np.asarray(X, dtype=float)
        # Rows arrive in pseudonym order, which changes with the shop's secret key; sorting them by
        # their values makes the sample, the k chosen and the centroids the same for any key.
        X = X[np.lexsort(X.T[::-1])] if X.ndim == 2 and len(X) else X
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
            smallest = np.bincount(km.labels_, minlength=k).min() / len(fit_idx)
            rows.append({"k": k, "silhouette": float(sil), "stability_ari": float(np.mean(aris)),
                         "smallest_share": float(smallest)})
        self.selection_ = pd.DataFrame(rows)
        sizeable = self.selection_[self.selection_["smallest_share"] >= self.min_share]
        candidates = sizeable if len(sizeable) else self.selection_
        stable = candidates[candidates["stability_ari"] >= self.min_stability]
        pool = stable if len(stable) else candidates.nlargest(1, "stability_ari")
        best = int(pool.loc[pool["silhouette"].idxmax(), "k"])
        self.n_segments_ = best
        self.kmeans_ = fitted[best]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.check_fitted()
        return self.kmeans_.predict(self.scaler_.transform(np.asarray(X, dtype=float)))


def _design(features: pd.DataFrame, columns: list[str], shares: frozenset[str] = frozenset()) -> np.ndarray:
    X = features[columns].astype(float).copy()
    X["avg_days_between_orders"] = X.get("avg_days_between_orders", pd.Series(index=X.index)).fillna(features["tenure_days"]) \
        if "avg_days_between_orders" in X else None
    X = X.fillna(X.median()).fillna(0.0)
    for c in columns:
        if c in SHARE_FEATURES or c in shares:
            continue
        X[c] = np.sign(X[c]) * np.log1p(np.abs(X[c]))  # heavy tails: spend and counts span orders of magnitude
    return X.to_numpy()


@dataclass
class SegmentResult:
    model: SegmentModel
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    features: pd.DataFrame


def with_attributes(wh: Warehouse, features: pd.DataFrame,
                    names: Sequence[str]) -> tuple[pd.DataFrame, list[str], dict[str, str], frozenset[str]]:
    """``features`` with the customer attributes ``names`` as segment features: a number attribute
    as the column ``attr_NAME`` (missing: the median, as for other features); a text or boolean one as
    one 0/1 column ``attr_NAME=VALUE`` per value (a share: the segment's average is the share of its
    customers with that value; a customer without the attribute has 0 in each).

    Returns (features, the columns added, their labels, the 0/1 columns)."""
    from shoplens.customers.attributes import attribute_types, wide_sql

    kinds = attribute_types(wh)
    sql = wide_sql(wh, names)
    wide = wh.query(sql) if sql else pd.DataFrame(columns=["customer_id"])
    frame = features.merge(wide, on="customer_id", how="left")
    added, labels, shares = [], {}, set()
    for name in names:
        col = "attr_" + name
        if kinds[name] == "number":
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
            added.append(col)
            labels[col] = name.replace("_", " ")
            continue
        values = frame[col].astype("string")
        for value in sorted(values.dropna().unique()):
            indicator = f"{col}={value}"
            frame[indicator] = (values == value).fillna(False).astype("float64")
            added.append(indicator)
            labels[indicator] = f"{name.replace('_', ' ')} {value}"
            shares.add(indicator)
        frame = frame.drop(columns=[col])
    return frame, [c for c in added if frame[c].nunique(dropna=True) > 1], labels, frozenset(shares)


def build_segments(wh: Warehouse, *, as_of: str | date | None = None, k_range: tuple[int, int] = (3, 8),
                   seed: int = 0, write: bool = True, register: bool = True,
                   cache: FeatureCache | None = None, attributes: Sequence[str] = ()) -> SegmentResult:
    """Fit behavioural segments as of a date; writes ``customer_segments`` and ``customer_segment_profiles``.

    ``cache`` (:class:`~shoplens.customers.features.FeatureCache`) shares the customer features with other steps of the run.
    ``attributes``: customer attributes (``customer_attributes``) clustered on too (see :func:`with_attributes`);
    none by default, so a shop's segments stay behavioural unless it asks. An ``as_of`` before the
    default is a look back: written to ``eval_customer_segments`` and ``eval_customer_segment_profiles``,
    no model registered (:func:`~shoplens.store.warehouse.serves`).
    """
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    current_run = serves(end, latest)
    features = customer_features(wh, end, cache=cache)
    numeric = set(numeric_features(features))
    columns = [c for c in CLUSTER_FEATURES if c in numeric and features[c].nunique(dropna=True) > 1]
    extra_labels: dict[str, str] = {}
    shares: frozenset[str] = frozenset()
    attribute_columns: list[str] = []
    if attributes:
        features, attribute_columns, extra_labels, shares = with_attributes(wh, features, list(attributes))
        columns += attribute_columns
    from threadpoolctl import threadpool_limits

    # k-means over small data is slower with many BLAS/OpenMP threads on a busy machine.
    with threadpool_limits(limits=1):
        model = SegmentModel(k_range=k_range, seed=seed).fit(_design(features, columns, shares))
        labels = model.predict(_design(features, columns, shares))
    features = features.assign(segment_id=labels)
    profiles = describe_segments(features, columns, attribute_labels=extra_labels, shares=shares)
    names = dict(zip(profiles["segment_id"], profiles["segment_name"]))
    assignments = features[["customer_id", "segment_id"]].assign(segment_name=lambda d: d["segment_id"].map(names),
                                                                 as_of=pd.Timestamp(end))
    if write:
        info = {"as_of": end, "k": model.n_segments_, "features": columns, "attributes": list(attributes)}
        if current_run:
            wh.write_table("customer_segments", assignments, kind="customer", info=info)
            wh.write_table("customer_segment_profiles", profiles, kind="insight", info=info)
        else:
            wh.write_evaluation("customer_segments", assignments, info=info)
            wh.write_evaluation("customer_segment_profiles", profiles, info=info)
    if register and current_run:
        from shoplens.store.registry import ModelRegistry

        sel = model.selection_.set_index("k").loc[model.n_segments_]
        ModelRegistry(wh).register("customer_segments", model, kind="KMeans", data_window=(None, pd.Timestamp(end)),
                                   metrics={"k": model.n_segments_, "silhouette": sel["silhouette"],
                                            "stability_ari": sel["stability_ari"], "features": columns})
    return SegmentResult(model, assignments, profiles, features)


def describe_segments(features: pd.DataFrame, columns: list[str], *, attribute_labels: dict[str, str] | None = None,
                      shares: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Size, revenue share, the averages its words are built from, and a plain-language name and
    description per segment; the description and traits in Chinese too (``description_zh``,
    ``traits_zh``), from the same numbers and the same templates' slots.

    Names and descriptions are generated from the numbers in the table: every "(X vs Y)" quotes
    the segment's average (column ``avg_<feature>``) and the average customer's; a name word needs
    a strong difference (1.5x more, or a third less) that the description states, and words with
    an absolute meaning ("one-off", "new") also need the segment's average to fit them. Two
    segments never share a name: the feature that separates them most is added in words.

    Averages are of values capped at the 1st and 99th percentiles of all customers, in the text
    and in the ``avg_`` columns alike: one wholesaler must not make a segment's average.

    ``attribute_labels``: customer-attribute columns clustered on (see :func:`with_attributes`) and
    their words; the two that differ most (strongly) are described too. ``shares``: the 0/1 ones.
    """
    attribute_labels = attribute_labels or {}
    labels = {**feature_labels(features), **attribute_labels}

    def is_share(c: str) -> bool:
        return c in SHARE_FEATURES or c in shares
    # float first: nullable integer columns (pd.NA) cannot be clipped or compared
    raw = features[columns].astype("float64")
    values = raw.clip(raw.quantile(0.01), raw.quantile(0.99), axis=1)
    for c in shares.intersection(columns):  # 0/1 columns: a rare value must not be capped away
        values[c] = raw[c]
    overall = values.mean()
    spread = values.std()
    total_rev = features["net_revenue"].clip(lower=0).sum() or 1.0
    labels_zh = {**{c: LABELS_ZH.get(c, labels.get(c, c)) for c in columns}, **attribute_labels}

    def in_words(c: str, ratio: float, value: float) -> dict[str, str]:
        """One trait in English and Chinese, from the same numbers."""
        if c in shares:
            return {"en": with_value(value, labels[c], overall[c]), "zh": with_value(value, labels[c], overall[c], "zh")}
        return {"en": trait(c, ratio, labels.get(c, c), value, overall[c], share=is_share(c)),
                "zh": trait(c, ratio, labels_zh[c], value, overall[c], share=is_share(c), lang="zh")}
    rows, means_by_segment, quoted = [], {}, {"orders", "net_revenue", "recency_days"}
    for seg, g in features.groupby("segment_id"):
        means = values.loc[g.index].mean()
        means_by_segment[int(seg)] = means
        ratios = {}
        for c in columns:
            if np.isfinite(overall[c]) and overall[c] > 0 and np.isfinite(means[c]):
                if is_share(c) and abs(means[c] - overall[c]) < 0.05:
                    continue  # "2.3x more (1% vs 0.4%)" is noise to a marketer: shares must differ by 5 points
                ratios[c] = max(means[c], 0) / overall[c]
        ranked = sorted(ratios.items(), key=lambda kv: -abs(np.log(max(kv[1], 1e-3))))
        # Purchase behaviour first (what a marketer segments on), then the strongest review/support signal.
        behaviour = [(c, r) for c, r in ranked if c in BEHAVIOUR_LABELS][:3]
        signal = [(c, r) for c, r in ranked
                  if c not in BEHAVIOUR_LABELS and c not in attribute_labels and is_strong(r)][:1]
        # attributes: what sets the segment apart (more often this income band), not what it lacks
        described = [(c, r) for c, r in ranked if c in attribute_labels and r >= STRONG_MORE][:2]
        shown = behaviour + signal + described
        quoted.update(c for c, _ in shown)
        traits = [in_words(c, r, means[c]) for c, r in shown]
        if "top_category" in g and g["top_category"].notna().any():
            top = g["top_category"].value_counts(normalize=True)
            traits.append({lang: buys_mostly(top.iloc[0], top.index[0], lang) for lang in ("en", "zh")})
        if "negative_review_share" in g and g["reviews"].gt(0).any():
            neg = (g["negative_review_share"].fillna(0) > 0).mean()
            if neg >= 0.1:
                aspect = None
                if "last_negative_aspect" in g and g["last_negative_aspect"].notna().any():
                    aspect = str(g["last_negative_aspect"].mode().iloc[0])
                traits.append({lang: negative_reviewers(neg, aspect, lang) for lang in ("en", "zh")})
        words = [w for c, r in shown if (w := name_word(c, r, means[c]))][:2]
        share = len(g) / len(features)
        revenue_share = g["net_revenue"].clip(lower=0).sum() / total_rev
        rows.append({"segment_id": int(seg), "words": words, "traits": traits, "shown": {c for c, _ in shown},
                     "customers": len(g),
                     "share_of_customers": share, "share_of_revenue": revenue_share})
    for c, segment_id, phrase in _separate_namesakes(rows, means_by_segment, spread, labels):
        quoted.add(c)
        row = next(r for r in rows if r["segment_id"] == segment_id)
        row["words"] = row["words"] + [phrase]
        if c not in row["shown"]:  # the name's numbers must be in the description too
            value = means_by_segment[segment_id][c]
            ratio = max(value, 0) / overall[c] if overall[c] > 0 else 1.0
            row["traits"] = row["traits"] + [in_words(c, ratio, value)]
            row["shown"].add(c)
    out = []
    for row in rows:
        means = means_by_segment[row["segment_id"]]
        description, traits = describe(row["customers"], row["share_of_customers"], row["share_of_revenue"],
                                       [t["en"] for t in row["traits"]])
        description_zh, traits_zh = describe(row["customers"], row["share_of_customers"], row["share_of_revenue"],
                                             [t["zh"] for t in row["traits"]], "zh")
        out.append({
            "segment_id": row["segment_id"], "segment_name": _name(row["words"]), "customers": row["customers"],
            "share_of_customers": row["share_of_customers"], "share_of_revenue": row["share_of_revenue"],
            **{f"avg_{c}": means[c] for c in [*("orders", "net_revenue", "recency_days"),
                                               *sorted(quoted - {"orders", "net_revenue", "recency_days"})]
               if c in means},
            "description": description, "traits": traits, "description_zh": description_zh, "traits_zh": traits_zh,
        })
    frame = pd.DataFrame(out).sort_values("share_of_revenue", ascending=False).reset_index(drop=True)
    # segments equal on every feature (only in contrived data): told apart by their size
    for _, same in frame[frame["segment_name"].duplicated(keep=False)].groupby("segment_name"):
        for rank, i in enumerate(same.sort_values("customers", ascending=False, kind="stable").index):
            size = SIZE_WORDS[rank] if rank < len(SIZE_WORDS) else f"group of {frame.at[i, 'customers']:,}"
            frame.at[i, "segment_name"] += f" ({size})"
    front = ["segment_id", "segment_name", "customers", "share_of_customers", "share_of_revenue"]
    avg = [c for c in frame.columns if c.startswith("avg_")]
    return frame[front + avg + ["description", "traits", "description_zh", "traits_zh"]]


def _name(words: list[str]) -> str:
    """'Recently active, high-spend customers'; extra phrases ('with fewer orders') after the noun."""
    adjectives = [w for w in words if not w.startswith("with ")]
    phrases = [w for w in words if w.startswith("with ")]
    base = (", ".join(adjectives) + " customers").capitalize() if adjectives else "Typical customers"
    return " ".join([base, " and ".join(phrases)]) if phrases else base


def _separate_namesakes(rows: list[dict], means: dict[int, pd.Series], spread: pd.Series,
                        labels: dict[str, str]) -> list[tuple[str, int, str]]:
    """For segments that would share a name (the same words, in any order): the feature that
    separates them most (in standard deviations) and a phrase for each, e.g. 'with fewer orders'.

    Returns (feature, segment_id, phrase) triples; names stay free of ids and numbers.
    """
    words = {r["segment_id"]: list(r["words"]) for r in rows}
    used: dict[int, set[str]] = {seg: set() for seg in words}
    added: list[tuple[str, int, str]] = []
    for _ in range(len(rows) * max(len(spread), 1)):
        groups: dict[tuple, list[int]] = {}
        for seg, w in words.items():
            groups.setdefault((frozenset(x for x in w if not x.startswith("with ")),
                               tuple(x for x in w if x.startswith("with "))), []).append(seg)
        clash = next((g for g in groups.values() if len(g) > 1), None)
        if clash is None:
            break
        def separation(f: str) -> float:
            return (max(means[s][f] for s in clash) - min(means[s][f] for s in clash)) / spread[f]

        candidates = [c for c in spread.index if spread[c] > 0 and all(np.isfinite(means[s][c]) for s in clash)
                      and not any(c in used[s] for s in clash)]
        candidates = [c for c in candidates if separation(c) > 1e-9]
        if not candidates:
            break
        c = max(candidates, key=separation)
        top = max(means[s][c] for s in clash)
        label = labels.get(c, c)
        more, fewer = ("more", "fewer") if c in COUNT_FEATURES else ("a higher", "a lower")
        for seg in clash:  # segments tied at the top all get "more", and stay namesakes for the next round
            if c.startswith("attr_") and "=" in c:  # a share of customers with one attribute value, not an amount
                phrase = f"with {label} {'more' if means[seg][c] >= top else 'less'} often"
            else:
                phrase = f"with {more if means[seg][c] >= top else fewer} {label}"
            words[seg].append(phrase)
            used[seg].add(c)
            added.append((c, seg, phrase))
    return added


# The words of segment names in Chinese (TRAIT_WORDS, NAME_GUARDS, SIZE_WORDS): the names are made of
# these words only, so each has its Chinese name (segment_name_zh).
NAME_WORDS_ZH: dict[str, str] = {
    "frequent": "高频", "infrequent": "低频", "high-spend": "高消费", "low-spend": "低消费", "big-basket": "大单",
    "small-basket": "小单", "lapsed": "久未购买", "recently active": "近期活跃", "long-standing": "老",
    "newer": "较新", "many-item": "多品", "few-item": "少品", "broad-range": "品类广", "narrow-range": "品类窄",
    "premium-price": "高价位", "bargain": "低价位", "high-return": "高退货", "low-return": "低退货",
    "reviewing": "常评价", "rarely reviewing": "少评价", "unhappy": "不满意", "support-heavy": "常找客服",
    "self-sufficient": "少找客服", "slow-cycle": "购买周期长", "fast-cycle": "购买周期短", "weekend": "周末购物",
    "weekday": "工作日购物", "evening": "晚间购物", "daytime": "白天购物", "discount-driven": "偏好折扣",
    "full-price": "原价购买", "focused": "品类集中", "varied": "品类多样", "frustrated": "有负面情绪",
    "one-off": "一次性", "new": "新", "no-return": "无退货", "silent": "不评价", "satisfied": "满意",
}
SIZE_WORDS_ZH = ["最大群组", "第二大群组", "第三大群组", "第四大群组", "第五大群组", "第六大群组", "第七大群组", "第八大群组"]
COMPARE_ZH = {"more": "更多", "fewer": "更少", "a higher": "更高", "a lower": "更低"}


def segment_name_zh(name: str) -> str:
    """A segment's name in Chinese, from the words names are made of; a name with a word of the
    shop's own (a customer attribute's label) keeps that word in English.

    >>> segment_name_zh("Recently active, high-spend customers")
    '近期活跃、高消费的客户'
    >>> segment_name_zh("Low-spend, infrequent customers with more orders and with a lower share of spend returned")
    '低消费、低频的客户（订单数更多，退货金额占比更低）'
    >>> segment_name_zh("Typical customers (second-largest group)"), segment_name_zh("Lapsed customers (group of 1,234)")
    ('普通客户（第二大群组）', '久未购买的客户（1,234 人的群组）')
    >>> segment_name_zh("Recently active customers with income Under 15K more often")
    '近期活跃的客户（income Under 15K更常见）'
    """
    import re

    from shoplens.customers.rules import WORDS

    labels_zh = {en: WORDS[f][1] for f, en in BEHAVIOUR_LABELS.items() if f in WORDS}
    labels_zh.update({en: zh for en, zh in WORDS.values()})
    rest, suffix = name, ""
    m = re.search(r" \((?:(\w[\w-]* group)|group of ([\d,]+))\)$", rest)
    if m:
        size = (SIZE_WORDS_ZH[SIZE_WORDS.index(m.group(1))] if m.group(1) in SIZE_WORDS else None) if m.group(1) \
            else f"{m.group(2)} 人的群组"
        if size is None:
            return name
        rest, suffix = rest[:m.start()], f"（{size}）"
    base, _, phrases = rest.partition(" with ")
    if base == "Typical customers":
        words = "普通客户"
    else:
        adjectives = (base[:1].lower() + base[1:]).removesuffix(" customers").split(", ")
        if not all(a in NAME_WORDS_ZH for a in adjectives):
            return name
        words = "、".join(NAME_WORDS_ZH[a] for a in adjectives) + "的客户"
    said = []
    for phrase in ("with " + phrases).split(" and with ") if phrases else []:
        phrase = phrase.removeprefix("with ")
        often = next((o for o in (" more often", " less often") if phrase.endswith(o)), None)
        if often is not None:  # an attribute value's share: the value is the shop's own words
            label = phrase.removesuffix(often)
            said.append(f"{labels_zh.get(label, label)}{'更常见' if often == ' more often' else '更少见'}")
            continue
        compare = next((c for c in COMPARE_ZH if phrase.startswith(c + " ")), None)
        if compare is None:
            return name
        label = phrase[len(compare) + 1:]
        said.append(labels_zh.get(label, label) + COMPARE_ZH[compare])
    return words + (f"（{'，'.join(said)}）" if said else "") + suffix


# --- reading the segments (the API, the dashboard) ---------------------------------------------

def segment_profiles(wh: Warehouse) -> pd.DataFrame:
    """Every segment's profile (``customer_segment_profiles``), largest first, its name in Chinese
    (``segment_name_zh``) beside its name, with the members' average CLV (``avg_clv``) when CLV is computed. NotComputedError before ``shoplens customers segments``."""
    from shoplens.customers.output import require_result

    require_result(wh, "customer_segment_profiles")
    clv = ""
    if wh.has_table("customer_clv"):
        clv = """, (SELECT round(avg(c.clv), 2) FROM customer_segments s JOIN customer_clv c USING (customer_id)
                    WHERE s.segment_id = p.segment_id) AS avg_clv"""
    frame = wh.query(f"SELECT p.* {clv} FROM customer_segment_profiles p ORDER BY p.customers DESC")
    frame.insert(2, "segment_name_zh", frame["segment_name"].map(segment_name_zh))
    return frame


def segment_profile(wh: Warehouse, segment_id: int) -> dict:
    """One segment's profile (JSON-ready) with when it was computed; NotFoundError for an unknown id."""
    from shoplens.customers.output import require_result
    from shoplens.errors import NotFoundError
    from shoplens.jsonsafe import records

    require_result(wh, "customer_segment_profiles")
    rows = records(wh.query("SELECT * FROM customer_segment_profiles WHERE segment_id = ?", [segment_id]))
    if not rows:
        raise NotFoundError(f"no segment {segment_id} (see GET /api/v1/segments)")
    at = wh.computed_at("customer_segment_profiles")
    return {**rows[0], "segment_name_zh": segment_name_zh(rows[0]["segment_name"]),
            "computed_at": at.isoformat() if at else None}


def segment_members(wh: Warehouse, segment_id: int, *, limit: int, offset: int,
                    consent_default: Default = None) -> tuple[list[dict], int]:
    """One page of a segment's members who consent to personalisation (the shop's ids, in warehouse-id
    order) with CLV and churn risk when computed, JSON-ready, and how many such members there are.
    A member whose shop id cannot be revealed (erased) never leaves."""
    from shoplens.customers.output import require_result
    from shoplens.jsonsafe import records
    from shoplens.privacy.consent import consent_filter_sql
    from shoplens.privacy.ids import to_external

    require_result(wh, "customer_segments")
    members = [r[0] for r in wh.con.execute(
        f"SELECT customer_id FROM customer_segments WHERE segment_id = ? AND "
        f"{consent_filter_sql('profile', default=consent_default)} "
        "ORDER BY customer_id", [segment_id]).fetchall()]
    chunk = members[offset: offset + limit]
    rows: list[dict] = []
    clv = wh.has_table("customer_clv")
    churn = wh.has_table("customer_churn")
    if chunk:
        frame = wh.query(
            f"""SELECT s.customer_id {', c.clv' if clv else ''} {', h.churn_risk, h.risk_band' if churn else ''}
                FROM (SELECT unnest(?::VARCHAR[]) AS customer_id) s
                {'LEFT JOIN customer_clv c USING (customer_id)' if clv else ''}
                {'LEFT JOIN customer_churn h USING (customer_id)' if churn else ''}""", [chunk])
        frame["customer_id"] = to_external(wh, frame["customer_id"].tolist())
        rows = records(frame[frame["customer_id"].notna()])
    return rows, len(members)


def export_segment(wh: Warehouse, segment_id: int, name: str, *, consent_default: Default = None) -> dict:
    """Export a segment's members for a campaign to ``exports/NAME.csv``: only those who consent to
    marketing; returns ``path`` (relative to the warehouse folder), ``exported`` and
    ``excluded_without_consent`` (refused, never asked, unknown). NotFoundError for an unknown segment."""
    from shoplens.customers.output import require_result
    from shoplens.errors import NotFoundError
    from shoplens.privacy.export import _export_internal

    require_result(wh, "customer_segments")
    everyone = [r[0] for r in wh.con.execute(
        "SELECT customer_id FROM customer_segments WHERE segment_id = ?", [segment_id]).fetchall()]
    if not everyone:
        raise NotFoundError(f"no segment {segment_id} (see GET /api/v1/segments)")
    result = _export_internal(wh, everyone, name, purpose="marketing", default=consent_default)
    return {"path": str(result.path.relative_to(wh.home)), "exported": result.exported,
            "excluded_without_consent": len(everyone) - result.exported}

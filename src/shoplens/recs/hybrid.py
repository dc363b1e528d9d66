"""The hybrid recommender: candidates from several models, re-ranked by a learned model.

Fitting on interactions up to ``T``:

1. *validation window*: the generators (buy-again, item-kNN, EASE, ALS,
   popularity, trending) are fitted on data before ``T - validation_days``; their
   top candidates for each customer who came back in the window get features
   (each generator's score and rank, how often and how long ago the customer
   bought the product, its repurchase cycle and repeat rate, its popularity and
   trend, the customer's activity) and the label "bought in the window";
2. a gradient-boosted classifier (scikit-learn) learns to rank them;
3. the generators are refitted on all data up to ``T``; serving scores their
   candidates with the classifier.

The test window after ``T`` is never seen while fitting.

>>> from shoplens.recs.interactions import load_interactions
>>> rows = load_interactions(demo_warehouse())  # the bundled demo shop, loaded (see conftest.py)
>>> rows = rows[rows["customer_id"].isin(rows["customer_id"].unique()[:300])]  # a sample keeps it quick
>>> model = Hybrid(als_factors=16, max_iter=30, candidates=20).fit(rows)
>>> recs = model.recommend([model.customers_[0]], k=3)
>>> recs.columns.tolist(), recs["rank"].tolist()
(['customer_id', 'rank', 'product_id', 'score', 'reason'], [1, 2, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from shoplens.errors import InsufficientDataError
from shoplens.recs.base import Recommender, _top_k, batch_size, one_thread
from shoplens.recs.interactions import window
from shoplens.recs.models import (
    ALS,
    EASE,
    BuyAgain,
    ItemKNN,
    Popularity,
    repurchase_cycles,
)

FEATURES_PER_CUSTOMER = ["baskets", "days_since_last_order", "distinct_products", "recent_signals"]
FEATURES_PER_PRODUCT = ["log_popularity", "log_recent_popularity", "trend", "repeat_rate", "cycle_days"]
FEATURES_PER_PAIR = ["times_bought", "days_since_bought", "due", "since_over_cycle"]


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, fill: float) -> np.ndarray:
    """values[keys == wanted] for each wanted key (``fill`` when absent)."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    at = np.clip(np.searchsorted(keys, wanted), 0, max(len(keys) - 1, 0))
    found = (len(keys) > 0) & (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
    return np.where(found, values[at] if len(keys) else fill, fill)


def _sparse_lookup(block: Any, wanted: np.ndarray, n_cols: int, fill: float) -> np.ndarray:
    coo = block.tocoo()
    return _lookup(coo.row.astype(np.int64) * n_cols + coo.col, coo.data.astype(np.float64), wanted, fill)


class Hybrid(Recommender):
    """Learning-to-rank over candidate generators (see the module docstring).

    Parameters
    ----------
    candidates: top products taken from each generator per customer.
    validation_days: length of the labelled window before the training end; None = a tenth of
        the history, between 1 and 30 days (30 for a year of orders, 1 for a week of clicks).
    max_train_customers: customers sampled for the ranker's training set.
    negative_share: share of not-bought candidates kept to train the ranker (all bought ones are kept).
    als_factors, ease_l2: settings of those generators; als_backend: ``implicit`` or ``spark`` (MLlib).
    target_kinds: interactions that count as the label ("purchase"; add "view" etc. to predict clicks).
    seed: randomness of sampling, ALS and the ranker.
    """

    reason_label = "customers like you bought it"
    score_cells = 2_000_000  # seven generators score each block

    def __init__(self, candidates: int = 30, validation_days: float | None = None, max_train_customers: int = 3000,
                 negative_share: float = 0.3, als_factors: int = 64, ease_l2: float = 300.0,
                 learning_rate: float = 0.1, max_iter: int = 120, target_kinds: tuple[str, ...] = ("purchase",),
                 seed: int = 0, als_backend: str = "implicit") -> None:
        self.candidates = candidates
        self.validation_days = validation_days
        self.max_train_customers = max_train_customers
        self.negative_share = negative_share
        self.als_factors = als_factors
        self.ease_l2 = ease_l2
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.target_kinds = target_kinds
        self.seed = seed
        self.als_backend = als_backend

    def _make_generators(self) -> dict[str, Recommender]:
        return {
            "buy_again": BuyAgain(half_life_days=None, cycle_weight=0.0),
            "buy_again_recent": BuyAgain(half_life_days=60.0, cycle_weight=0.5),
            "item_knn": ItemKNN(neighbours=100),
            "ease": EASE(l2=self.ease_l2, max_items=3000),
            "als": ALS(factors=self.als_factors, seed=self.seed, backend=getattr(self, "als_backend", "implicit")),
            "popularity": Popularity(per_segment=False),
            "trending": Popularity(recent_days=30, per_segment=False),
        }

    @property
    def feature_names(self) -> list[str]:
        gens = list(self._make_generators())
        return ([f"score_{g}" for g in gens] + [f"rank_{g}" for g in gens]
                + FEATURES_PER_CUSTOMER + FEATURES_PER_PRODUCT + FEATURES_PER_PAIR)

    # -- fitting ---------------------------------------------------------------------------
    def _fit_generators(self, interactions: pd.DataFrame) -> tuple[dict[str, Recommender], dict[str, np.ndarray]]:
        gens = self._make_generators()
        template = gens["buy_again"]
        template._fit_common(interactions, self._catalogue_input, None)  # no bought-together pairs needed
        template._fit_model(interactions)
        for name, g in gens.items():
            if name != "buy_again":
                g.fit_like(template, interactions)
        return gens, self._context_features(gens["buy_again"], interactions)

    def _context_features(self, ref: Recommender, interactions: pd.DataFrame) -> dict[str, Any]:
        """Per-customer and per-product features at the generators' training end."""
        now = ref.now_
        recent = window(interactions, start=now - pd.Timedelta(days=30))
        recent = recent[recent["weight"] > 0]
        buys = interactions[interactions["kind"] == "purchase"]
        baskets = buys.groupby("customer_id")["basket_id"].nunique().reindex(ref.customers_).fillna(0).to_numpy()
        last_order = buys.groupby("customer_id")["occurred_at"].max().reindex(ref.customers_)
        since_order = ((now - last_order).dt.total_seconds() / 86400.0).fillna(9999).to_numpy()
        distinct = np.diff(ref.bought_.indptr).astype(np.float64)
        recent_signals = recent.groupby("customer_id").size().reindex(ref.customers_).fillna(0).to_numpy()
        pop = ref.popularity_
        recent_pop = recent.drop_duplicates(["customer_id", "product_id"]).groupby("product_id").size() \
            .reindex(ref.products_).fillna(0).to_numpy()
        trend = (recent_pop + 1.0) / (pop * 30.0 / max((now - interactions["occurred_at"].min()).days, 30) + 1.0)
        buyers = np.asarray((ref.bought_ > 0).sum(axis=0)).ravel()
        repeaters = np.asarray((ref.bought_ > 1).sum(axis=0)).ravel()
        repeat_rate = (repeaters + 0.1) / (buyers + 1.0)
        cycle = getattr(ref, "cycle_days_", None)
        if cycle is None:
            cycle = repurchase_cycles(interactions, ref.products_)
        return {
            "customer": np.column_stack([baskets, since_order, distinct, recent_signals]),
            "product": np.column_stack([np.log1p(pop), np.log1p(recent_pop), trend, repeat_rate,
                                        np.nan_to_num(cycle, nan=-1.0)]),
            "cycle": cycle,
        }

    def _candidate_features(self, gens: dict[str, Recommender], context: dict[str, Any],
                            rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row position, product column, features) of every candidate of customers ``rows``.

        Only the generators' scores are dense; everything else is gathered at the
        candidates (a few hundred per customer), which keeps serving fast on big catalogues.
        """
        n, n_products = self.candidates, len(self.products_)
        dense, tops = [], []
        for g in gens.values():
            s = np.asarray(g._score(rows))
            top, vals = _top_k(s, n)
            dense.append(s)
            tops.append(np.where(np.isfinite(vals), top, -1))
        mask = np.zeros((len(rows), n_products), dtype=bool)
        for top in tops:
            r, c = np.nonzero(top >= 0)
            mask[r, top[r, c]] = True
        pos, col = np.nonzero(mask)
        keys = pos.astype(np.int64) * n_products + col
        columns = []
        for s in dense:
            v = s[pos, col].astype(np.float64)
            columns.append(np.where(np.isfinite(v), v, np.nan))
        for top in tops:
            r, c = np.nonzero(top >= 0)
            columns.append(_lookup(r.astype(np.int64) * n_products + top[r, c], (c + 1).astype(np.float64),
                                   keys, fill=n + 1))
        ref = gens["buy_again"]
        bought = _sparse_lookup(ref.bought_[rows], keys, n_products, fill=0.0)
        last = _sparse_lookup(ref.last_bought_[rows], keys, n_products, fill=0.0)
        now_day = (ref.now_ - pd.Timestamp("1970-01-01")).total_seconds() / 86400.0
        since = np.where(last > 0, now_day - last, np.inf)
        cycle = context["cycle"][col]
        with np.errstate(invalid="ignore", divide="ignore"):
            due = np.nan_to_num(np.where(np.isfinite(since), np.exp(-np.abs(np.log((since + 1.0) / (cycle + 1.0)))), 0.0),
                                nan=0.0)
            ratio = np.where(np.isfinite(since) & (cycle > 0), since / cycle, np.nan)
        features = np.column_stack(
            columns + [context["customer"][rows[pos]], context["product"][col],
                       bought, np.where(np.isfinite(since), since, 9999.0), due, ratio]
        )
        return pos, col, features

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self._catalogue_input = self.catalogue_  # same product index in every generator
        span = (self.now_ - interactions["occurred_at"].min()).total_seconds() / 86400.0
        days = self.validation_days if self.validation_days else float(np.clip(span / 10.0, 1.0, 30.0))
        self.validation_days_ = days
        val_start = self.now_ - pd.Timedelta(days=days)
        past = window(interactions, end=val_start)
        future = window(interactions, start=val_start)
        future = future[future["kind"].isin(self.target_kinds)][["customer_id", "product_id"]].drop_duplicates()
        if past["customer_id"].nunique() < 2 or future.empty:
            raise InsufficientDataError(
                f"hybrid: needs purchases both before and within the last {days:g} days of the "
                "training data to learn its ranking; use a single model (e.g. --model buy_again) or more history"
            )
        gens, context = self._fit_generators(past)
        ref = gens["buy_again"]
        returning = future["customer_id"].unique()
        rows = ref.customers_.get_indexer(returning)
        rows = rows[rows >= 0]
        rng = np.random.default_rng(self.seed)
        if len(rows) > self.max_train_customers:
            rows = rng.choice(rows, self.max_train_customers, replace=False)
        rows = np.sort(rows)
        if len(rows) < 10:
            raise InsufficientDataError("hybrid: fewer than 10 returning customers in the validation window")
        truth = set(zip(future["customer_id"], future["product_id"]))
        xs, ys, groups = [], [], []
        step = batch_size(len(ref.products_), self.score_cells)
        for start in range(0, len(rows), step):
            batch = rows[start:start + step]
            pos, col, feats = self._candidate_features(gens, context, batch)
            cids = ref.customers_[batch[pos]]
            pids = ref.products_[col]
            ys.append(np.fromiter(((c, p) in truth for c, p in zip(cids, pids)), dtype=bool, count=len(cids)))
            xs.append(feats)
            groups.append(batch[pos])
        x, y = np.vstack(xs), np.concatenate(ys)
        if y.sum() == 0:
            raise InsufficientDataError("hybrid: no candidate was bought in the validation window")
        self.candidate_positive_rate_ = float(y.mean())
        # Dropping a random share of negatives leaves the ranking order unchanged in
        # expectation (only the probability scale shifts) and makes fitting much cheaper.
        keep = y | (rng.random(len(y)) < self.negative_share)
        with threadpool_limits(limits=1, user_api="openmp"):  # no thread oversubscription on a shared box
            self.ranker_ = HistGradientBoostingClassifier(
                learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=31, min_samples_leaf=40,
                l2_regularization=1.0, random_state=self.seed, early_stopping=False,
            ).fit(x[keep], y[keep])
        self.training_rows_ = int(keep.sum())
        sampled = set(ref.customers_[rows])
        self.candidate_recall_ = float(y.sum() / max(sum(c in sampled for c, _ in truth), 1))
        # refit the generators on everything up to the training end for serving
        self.generators_, self.context_ = self._fit_generators(interactions)
        self._catalogue_input = None

    # -- serving -----------------------------------------------------------------------------
    def _score(self, rows: np.ndarray) -> np.ndarray:
        gens, ref = self.generators_, self.generators_["buy_again"]
        gen_rows = ref.customers_.get_indexer(self.customers_[rows])
        out = np.full((len(rows), len(self.products_)), -np.inf)
        known = np.flatnonzero(gen_rows >= 0)
        if len(known):
            pos, col, feats = self._candidate_features(gens, self.context_, gen_rows[known])
            with one_thread("openmp"):
                proba = self.ranker_.predict_proba(feats)[:, 1]
            # generators share the hybrid's product index (same data, same catalogue)
            out[known[pos], col] = proba
        return out

    def fold_in(self, interactions: pd.DataFrame) -> int:
        """Fold new interactions into every generator (ALS recomputes the customers' factors).

        The customer activity features of the ranker refresh at the next full retrain;
        new customers start with neutral ones.
        """
        updated = super().fold_in(interactions)
        ref = self.generators_["buy_again"]
        before = len(ref.customers_)
        for g in self.generators_.values():
            g.fold_in(interactions)
        grow = len(ref.customers_) - before
        if grow:
            fresh = np.tile([[0.0, 9999.0, 0.0, 0.0]], (grow, 1))
            self.context_["customer"] = np.vstack([self.context_["customer"], fresh])
        return updated

    def _forget_rows(self, keep: np.ndarray) -> None:
        ref = self.generators_["buy_again"]
        gone = ~ref.customers_.isin(self.customers_)
        removed = set(ref.customers_[gone])
        self.context_["customer"] = self.context_["customer"][~gone]
        for g in self.generators_.values():
            g.forget_customers(removed)

    def feature_importance(self) -> pd.DataFrame:
        """Mean absolute change of the ranker's score when each feature is shuffled is costly; this
        reports how often each feature splits a tree instead (a quick look, not a causal claim)."""
        self.check_fitted()
        counts = np.zeros(len(self.feature_names))
        for stage in self.ranker_._predictors:
            for tree in stage:
                nodes = tree.nodes
                used = nodes["feature_idx"][~nodes["is_leaf"].astype(bool)]
                np.add.at(counts, used, 1)
        return pd.DataFrame({"feature": self.feature_names, "splits": counts}).sort_values("splits", ascending=False)

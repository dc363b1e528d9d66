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

**Serving** is sparse: each generator proposes its candidates for one customer from the
customer's history and precomputed lists (buy-again: the customer's products; item-kNN:
their neighbour lists; EASE: its item weights; ALS: each customer's best products,
computed in batches at fit time; popularity: one list), features are gathered at those
few hundred products only, and the ranker scores them. No step touches the whole
catalogue, so a request costs the same at 100k or 1M products. Reasons come from the
same candidates (which generator proposed a product, which of the customer's products
its neighbour list came from). ``score`` is the ranker's probability that the customer
buys the product within the validation window, corrected for the negatives dropped
while training (so it is a probability, not a rank score).

>>> from shoplens.recs.interactions import load_interactions
>>> rows = load_interactions(demo_warehouse())  # the bundled demo shop, loaded (see conftest.py)
>>> rows = rows[rows["customer_id"].isin(rows["customer_id"].unique()[:300])]  # a sample keeps it quick
>>> model = Hybrid(als_factors=16, max_iter=30, candidates=20).fit(rows)
>>> recs = model.recommend([model.customers_[0]], k=3)
>>> recs.columns.tolist(), recs["rank"].tolist()
(['customer_id', 'rank', 'product_id', 'score', 'reason', 'personalised'], [1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from shoplens.errors import InsufficientDataError
from shoplens.recs.base import Recommender, _top_k, batch_size, one_thread, row_values, sorted_unique
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


class FlatForest:
    """The ranker's trees as flat arrays, walked for all trees and rows at once with numpy.

    Written by hand because scikit-learn's ``predict_proba`` walks its trees one at a time from
    Python (about 40 us per tree and call, 5 ms for 120 trees on the ~150 candidates of one
    request), and no maintained library compiles a fitted ``HistGradientBoostingClassifier``
    without a C toolchain. The walk follows scikit-learn's rule exactly (missing values go
    the learned way; ``x <= threshold`` goes left) and sums the trees in its order; a test
    checks the probabilities against ``predict_proba``.

    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 3))
    >>> x[::7, 1] = np.nan  # missing values take the side the trees learned
    >>> y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) > 0).astype(int)
    >>> classifier = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    >>> bool(np.allclose(FlatForest(classifier).predict_proba(x), classifier.predict_proba(x)[:, 1]))
    True
    """

    def __init__(self, classifier: Any) -> None:
        trees = [stage[0].nodes for stage in classifier._predictors]
        if any(t["is_categorical"].any() for t in trees) or classifier.n_trees_per_iteration_ != 1:
            raise ValueError("FlatForest handles binary classifiers with numerical splits only")
        sizes = np.array([len(t) for t in trees])
        self.roots = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
        nodes = np.concatenate(trees)
        shift = np.repeat(self.roots, sizes)
        self.leaf = nodes["is_leaf"].astype(bool)
        here = np.arange(len(nodes))
        left = np.where(self.leaf, here, nodes["left"].astype(np.int64) + shift)
        right = np.where(self.leaf, here, nodes["right"].astype(np.int64) + shift)
        self.children = np.column_stack([left, right]).ravel()  # child of node i: children[2 i + went_right]
        self.feature = nodes["feature_idx"].astype(np.int64)
        # a missing value goes the learned way: read it as -inf where it goes left, +inf where right
        self.missing_right = ~nodes["missing_go_to_left"].astype(bool)
        threshold = nodes["num_threshold"].astype(np.float64)
        threshold[np.isposinf(threshold)] = np.finfo(np.float64).max  # so that only a missing value passes it
        self.threshold = threshold
        self.value = nodes["value"].astype(np.float64)
        self.baseline = float(np.ravel(classifier._baseline_prediction)[0])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(class 1) for each row of ``x`` (as ``classifier.predict_proba(x)[:, 1]``)."""
        from scipy.special import expit

        n, n_features = x.shape
        missing = np.isnan(x)
        # a real +inf sits just below the "missing, goes right" +inf, where a +inf threshold still takes it left
        x = np.minimum(x, np.finfo(np.float64).max)  # (NaN stays NaN)
        both = np.concatenate([np.where(missing, -np.inf, x), np.where(missing, np.inf, x)], axis=1).ravel()
        column = self.feature + n_features * self.missing_right
        trees = len(self.roots)
        node = np.tile(self.roots, n)  # (row, tree), row-major
        base = np.repeat(np.arange(n, dtype=np.int64) * (2 * n_features), trees)
        active = np.arange(n * trees)
        while len(active):  # one level of every unfinished path per step
            at = node[active]
            went_right = both.take(base.take(active) + column.take(at)) > self.threshold.take(at)
            step = self.children.take(2 * at + went_right)
            node[active] = step
            active = active[~self.leaf.take(step)]
        leaves = self.value.take(node).reshape(n, trees)
        raw = np.cumsum(np.column_stack([np.full(n, self.baseline), leaves]), axis=1)[:, -1]  # scikit-learn's order
        return expit(raw)


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

    def _candidate_features_one(self, gens: dict[str, Recommender], context: dict[str, Any],
                                row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(product columns, features, generator ranks) of one customer's candidates, sparsely.

        The same columns (sorted) and feature values as :meth:`_candidate_features` for that
        customer (tested), computed from the generators' candidate lists and lookups at
        the candidates only.
        """
        cols, features, ranks, _ = self._gather(gens, context, row)
        return cols, features, ranks

    def _gather(self, gens: dict[str, Recommender], context: dict[str, Any],
                row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
        """:meth:`_candidate_features_one` plus the item-kNN gains the reasons reuse (nothing is kept on
        the model: requests run side by side)."""
        n = self.candidates
        tops = [g.propose(row, n) for g in gens.values()]
        gains = getattr(tops[list(gens).index("item_knn")][2], "gains", None) if "item_knn" in gens else None
        cols = sorted_unique(np.concatenate([c for c, _, _ in tops]))
        columns = []
        for _, _, score_at in tops:
            v = np.asarray(score_at(cols), dtype=np.float64)
            columns.append(np.where(np.isfinite(v), v, np.nan))
        ranks = np.full((len(tops), len(cols)), float(n + 1))
        for i, (c, _, _) in enumerate(tops):
            ranks[i, np.searchsorted(cols, c)] = np.arange(1, len(c) + 1)
        ref = gens["buy_again"]
        bought = row_values(ref.bought_, row, cols).astype(np.float64)
        last = row_values(ref.last_bought_, row, cols).astype(np.float64)
        since = np.where(last > 0, ref.now_day() - last, np.inf)
        cycle = context["cycle"][cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            due = np.nan_to_num(np.where(np.isfinite(since), np.exp(-np.abs(np.log((since + 1.0) / (cycle + 1.0)))), 0.0),
                                nan=0.0)
            ratio = np.where(np.isfinite(since) & (cycle > 0), since / cycle, np.nan)
        customer = np.broadcast_to(context["customer"][row], (len(cols), context["customer"].shape[1]))
        features = np.column_stack(columns + list(ranks) + [customer, context["product"][cols],
                                                            bought, np.where(np.isfinite(since), since, 9999.0), due, ratio])
        return cols, features, ranks, gains

    def _sparse_training(self, n_products: int) -> bool:
        """Gather training features per customer when a dense block would hold few customers (big catalogues)."""
        return batch_size(n_products, self.score_cells) < 64

    def _calibrated(self, proba: np.ndarray) -> np.ndarray:
        """The ranker's probability corrected for the share of negatives kept in training (same order).

        Keeping a share s of negatives multiplies the odds by 1/s; this undoes it.
        """
        s = getattr(self, "negative_keep_", 1.0)
        return s * proba / (s * proba + (1.0 - proba))

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
        if self._sparse_training(len(ref.products_)):
            gens["als"].precompute_candidates(self.candidates, rows)
            parts = []
            for r in rows:
                col, feats, _ = self._candidate_features_one(gens, context, int(r))
                parts.append((np.full(len(col), r), col, feats))
            batches = [(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        np.vstack([p[2] for p in parts]))]
        else:
            step = batch_size(len(ref.products_), self.score_cells)
            batches = []
            for start in range(0, len(rows), step):
                batch = rows[start:start + step]
                pos, col, feats = self._candidate_features(gens, context, batch)
                batches.append((batch[pos], col, feats))
        for cust_rows, col, feats in batches:
            cids = ref.customers_[cust_rows]
            pids = ref.products_[col]
            ys.append(np.fromiter(((c, p) in truth for c, p in zip(cids, pids)), dtype=bool, count=len(cids)))
            xs.append(feats)
            groups.append(cust_rows)
        x, y = np.vstack(xs), np.concatenate(ys)
        if y.sum() == 0:
            raise InsufficientDataError("hybrid: no candidate was bought in the validation window")
        self.candidate_positive_rate_ = float(y.mean())
        # Dropping a random share of negatives leaves the ranking order unchanged in
        # expectation (only the probability scale shifts) and makes fitting much cheaper.
        keep = y | (rng.random(len(y)) < self.negative_share)
        # a feature no candidate has (prices and quantities on an events-only warehouse) is a
        # constant for the ranker: never split on, and sklearn's binning fails on an all-missing column
        x[:, np.isnan(x).all(axis=0)] = 0.0
        with threadpool_limits(limits=1, user_api="openmp"):  # no thread oversubscription on a shared box
            self.ranker_ = HistGradientBoostingClassifier(
                learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=31, min_samples_leaf=40,
                l2_regularization=1.0, random_state=self.seed, early_stopping=False,
            ).fit(x[keep], y[keep])
        self.training_rows_ = int(keep.sum())
        self.negative_keep_ = float(self.negative_share)
        sampled = set(ref.customers_[rows])
        self.candidate_recall_ = float(y.sum() / max(sum(c in sampled for c, _ in truth), 1))
        # refit the generators on everything up to the training end for serving
        self.generators_, self.context_ = self._fit_generators(interactions)
        self.generators_["als"].precompute_candidates(self.candidates)
        self._share_customer_index()
        self._catalogue_input = None

    # -- serving -----------------------------------------------------------------------------
    sparse_serving = True

    def _score(self, rows: np.ndarray) -> np.ndarray:
        """The dense path (a block of customers over the whole catalogue): the reference the
        sparse path is tested against, and the batch path of evaluation helpers."""
        gens, ref = self.generators_, self.generators_["buy_again"]
        gen_rows = ref.customers_.get_indexer(self.customers_[rows])
        out = np.full((len(rows), len(self.products_)), -np.inf)
        known = np.flatnonzero(gen_rows >= 0)
        if len(known):
            pos, col, feats = self._candidate_features(gens, self.context_, gen_rows[known])
            with one_thread("openmp"):
                proba = self.ranker_.predict_proba(feats)[:, 1]
            # generators share the hybrid's product index (same data, same catalogue)
            out[known[pos], col] = self._calibrated(proba)
        return out

    def _candidates(self, row: int) -> tuple[np.ndarray, np.ndarray, Any]:
        """One customer's candidates scored by the ranker (see the module docstring)."""
        ref = self.generators_["buy_again"]
        gen_row = row if ref.customers_ is self.customers_ else int(ref.customers_.get_indexer([self.customers_[row]])[0])
        if gen_row < 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0), None
        cols, feats, ranks, gains = self._gather(self.generators_, self.context_, gen_row)
        forest = self.__dict__.get("_forest")
        if forest is None:
            forest = self.__dict__["_forest"] = FlatForest(self.ranker_)
        return cols, self._calibrated(forest.predict_proba(feats)), (gen_row, cols, ranks, gains)

    def _candidates_many(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
        """Many customers of a small catalogue (batch scoring): blocks through the dense path, which is
        cheaper there than many small requests; the same candidates and features (tested)."""
        if len(rows) <= 16 or self._sparse_training(len(self.products_)):
            yield from super()._candidates_many(rows)
            return
        gens, ref = self.generators_, self.generators_["buy_again"]
        gen_rows = rows if ref.customers_ is self.customers_ else ref.customers_.get_indexer(self.customers_[rows])
        forest = self.__dict__.get("_forest")
        if forest is None:
            forest = self.__dict__["_forest"] = FlatForest(self.ranker_)
        empty = (np.zeros(0, dtype=np.intp), np.zeros(0), None)
        step = batch_size(len(self.products_), self.score_cells)
        for start in range(0, len(gen_rows), step):
            block = np.asarray(gen_rows[start:start + step])
            known = block[block >= 0]
            pos, col, feats = self._candidate_features(gens, self.context_, known) if len(known) else (
                np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), np.zeros((0, len(self.feature_names))))
            if len(feats) > 4096:  # big blocks: scikit-learn's compiled walk wins (the same probabilities, tested)
                with one_thread("openmp"):
                    proba = self._calibrated(self.ranker_.predict_proba(feats)[:, 1])
            else:
                proba = self._calibrated(forest.predict_proba(feats)) if len(feats) else np.zeros(0)
            ranks = feats[:, len(gens):2 * len(gens)].T
            bounds = np.searchsorted(pos, np.arange(len(known) + 1))
            i = 0
            for gen_row in block:
                if gen_row < 0:
                    yield empty
                    continue
                part = slice(bounds[i], bounds[i + 1])
                yield col[part], proba[part], (int(gen_row), col[part], ranks[:, part], None)
                i += 1

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)  # already a probability

    def _reasons(self, row: int, cols: np.ndarray, provenance: Any = None) -> list[str]:
        """Reasons from the candidates' provenance: a repeat purchase, the customer's product whose
        neighbour list proposed it (named with what they did with it), or the generator that did."""
        gens = self.generators_
        ref = gens["buy_again"]
        if provenance is None:  # the dense path: gather the same candidates once
            gen_row = int(ref.customers_.get_indexer([self.customers_[row]])[0])
            if gen_row < 0:
                return [self.reason_label] * len(cols)
            found, _, ranks, gains = self._gather(gens, self.context_, gen_row)
            provenance = (gen_row, found, ranks, gains)
        gen_row, found, ranks, gains = provenance
        names = list(gens)
        at = np.searchsorted(found, cols)
        proposed = ranks[:, at] <= self.candidates  # generator x product
        bought = row_values(ref.bought_, gen_row, cols)
        last = row_values(ref.last_bought_, gen_row, cols)
        source = gens["item_knn"].best_sources(gen_row, cols, gains)
        out = []
        for j, col in enumerate(cols):
            by = {names[i] for i in np.flatnonzero(proposed[:, j])}
            if bought[j] > 0:
                out.append(self._repeat_reason(bought[j], last[j]))
            elif source[j] >= 0:
                out.append(f"because you {ref.interaction_phrase(gen_row, int(source[j]))}")
            elif "als" in by or "ease" in by:
                out.append("customers with similar tastes bought it")
            elif "trending" in by:
                out.append("trending now")
            else:
                out.append("popular now")
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
        self._share_customer_index()
        return updated

    def _share_customer_index(self) -> None:
        """Use the generators' customer index when it is the same (a request then maps no ids)."""
        ref = self.generators_["buy_again"]
        if ref.customers_ is not self.customers_ and ref.customers_.equals(self.customers_):
            self.customers_ = ref.customers_

    def _forget_rows(self, keep: np.ndarray) -> None:
        ref = self.generators_["buy_again"]
        gone = ~ref.customers_.isin(self.customers_)
        removed = set(ref.customers_[gone])
        self.context_["customer"] = self.context_["customer"][~gone]
        for g in self.generators_.values():
            g.forget_customers(removed)
        self._share_customer_index()

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

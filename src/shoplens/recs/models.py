"""The single recommenders: popularity/trending, buy-again, item-kNN, EASE, ALS, BPR, content.

All follow :class:`shoplens.recs.base.Recommender`: ``fit(interactions)``,
``recommend(customer_ids, k, filters)``, ``similar_items(product_id, k)``.

>>> import pandas as pd
>>> rows = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "product_id": ["x", "x", "y", "y"],
...     "occurred_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-02-02"]),
...     "kind": "purchase", "weight": 1.0})
>>> BuyAgain().fit(rows).recommend(["a"], k=1)["product_id"].tolist()
['x']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.recs.base import (
    Recommender,
    _top_k,
    batch_size,
    interaction_matrix,
    sorted_unique,
    top_sorted,
    values_at,
)


def _dense(m: sp.spmatrix | np.ndarray) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def _popularity_tiebreak(pop: np.ndarray) -> np.ndarray:
    """A tiny popularity term: orders products a model scores equally (e.g. never bought)."""
    return 1e-6 * pop / max(float(pop.max()), 1.0)


class Popularity(Recommender):
    """Most popular products overall or in the customer's segment; trending with ``recent_days``.

    Parameters
    ----------
    recent_days: count only the last N days before the training end (trending); None = all time.
    per_segment: use the customer's segment list when segments were given to ``fit``.
    """

    reason_label = "popular now"
    uses_history = False

    def __init__(self, recent_days: float | None = None, per_segment: bool = True) -> None:
        self.recent_days = recent_days
        self.per_segment = per_segment

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        frame = interactions[interactions["weight"] > 0]
        if self.recent_days:
            frame = frame[frame["occurred_at"] >= self.now_ - pd.Timedelta(days=self.recent_days)]
        by_pair = frame.drop_duplicates(["customer_id", "product_id"])
        m = interaction_matrix(by_pair, self.customers_, self.products_, half_life_days=None, now=self.now_, column="_one")
        self.scores_ = np.asarray(m.sum(axis=0)).ravel().astype(np.float64) + _popularity_tiebreak(self.popularity_)

    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        if self.per_segment and self.segment_popularity_:
            return super().propose(row, n)
        tops = self.__dict__.setdefault("_tops", {})
        if n not in tops:  # one list for every customer
            cols, vals = _top_k(self.scores_[None, :], n)
            tops[n] = (cols[0], vals[0])
        scores = self.scores_
        return *tops[n], lambda wanted: scores[wanted]

    def _score(self, rows: np.ndarray) -> np.ndarray:
        out = np.tile(self.scores_, (len(rows), 1))
        if self.per_segment and self.segment_popularity_:
            for i, r in enumerate(rows):
                seg = self.segment_of_.get(self.customers_[r])
                if seg in self.segment_popularity_:
                    out[i] = self.segment_popularity_[seg] + 1e-3 * self.scores_ / max(self.scores_.max(), 1.0)
        return out

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        """Share of customers (of the customer's segment for a segment list) who bought or engaged with it."""
        seg = self.segment_of_.get(self.customers_[row]) if self.per_segment else None
        if seg in self.segment_popularity_:
            size = getattr(self, "segment_sizes_", {}).get(seg) or max(float(self.segment_popularity_[seg].max()), 1.0)
            return np.minimum(np.floor(scores) / size, 1.0)  # the count, without the tie-break
        customers = getattr(self, "popularity_customers_", None) or max(len(self.customers_), 1)
        return np.minimum(np.asarray(scores, dtype=np.float64) / customers, 1.0)

    def _reason(self, row: int, col: int, history: object = None, provenance: object = None) -> str:
        seg = self.segment_of_.get(self.customers_[row]) if self.per_segment else None
        if seg in self.segment_popularity_:
            return f"popular in your segment ({seg})"
        return "trending now" if self.recent_days else "popular now"


class BuyAgain(Recommender):
    """The customer's own products, most-bought (time-decayed) first, boosted when a repurchase is due.

    Each product's repurchase cycle is the median gap (days) between two purchases
    of it by the same customer; a product whose cycle has elapsed since the
    customer's last purchase scores higher. Products never bought follow by popularity.

    Parameters
    ----------
    half_life_days: weight of a purchase halves every N days (None: plain counts).
    cycle_weight: how much a due repurchase multiplies the score (0: ignore cycles).
    """

    reason_label = "you bought it before"

    def __init__(self, half_life_days: float | None = 120.0, cycle_weight: float = 0.5) -> None:
        self.half_life_days = half_life_days
        self.cycle_weight = cycle_weight

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        signals = interactions[interactions["kind"].isin(["purchase", "return", "bad_review"])]
        self.repeat_ = interaction_matrix(signals, self.customers_, self.products_,
                                          half_life_days=self.half_life_days, now=self.now_)
        self.cycle_days_ = repurchase_cycles(interactions, self.products_)

    def _fold_in(self, rows: np.ndarray, interactions: pd.DataFrame) -> None:
        grow = len(self.customers_) - self.repeat_.shape[0]
        if grow:
            self.repeat_ = sp.vstack([self.repeat_, sp.csr_matrix((grow, self.repeat_.shape[1]), dtype=np.float32)])
        signals = interactions[interactions["kind"].isin(["purchase", "return", "bad_review"])]
        delta = interaction_matrix(signals, self.customers_, self.products_, half_life_days=self.half_life_days,
                                   now=self.now_, clip=False)
        self.repeat_ = (self.repeat_ + delta).tocsr()
        self.repeat_.data = np.clip(self.repeat_.data, 0, None)

    def _forget_rows(self, keep: np.ndarray) -> None:
        self.repeat_ = self.repeat_[keep].tocsr()

    def _score(self, rows: np.ndarray) -> np.ndarray:
        scores = _dense(self.repeat_[rows]).astype(np.float64)
        if self.cycle_weight:
            scores *= 1.0 + self.cycle_weight * due_factor(self, rows)
        return scores + _popularity_tiebreak(self.popularity_)

    def _own_scores(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, scores without the tie-break) of the products in the customer's repeat signal."""
        lo, hi = self.repeat_.indptr[row], self.repeat_.indptr[row + 1]
        cols = self.repeat_.indices[lo:hi]
        vals = self.repeat_.data[lo:hi].astype(np.float64)
        if self.cycle_weight:
            due_cols, due = due_at(self, row)
            vals = vals * (1.0 + self.cycle_weight * values_at(due_cols, due, cols))
        return cols, vals

    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        cols, vals = self._own_scores(row)
        return *self._with_popular_pool(cols, vals, n), self._pool_scorer(cols, vals)


def repurchase_cycles(interactions: pd.DataFrame, products: pd.Index) -> np.ndarray:
    """Median days between two purchase days of a product by the same customer (NaN when never repeated).

    Set-based SQL over the frame (DuckDB), so it scales to large logs.
    """
    import duckdb

    purchases = interactions.loc[interactions["kind"] == "purchase", ["customer_id", "product_id", "occurred_at"]]
    con = duckdb.connect()
    try:
        con.register("purchases", purchases)
        cycles = con.execute("""
            WITH days AS (SELECT DISTINCT customer_id, product_id, date_trunc('day', occurred_at) AS day FROM purchases),
            gaps AS (SELECT product_id, date_diff('day', lag(day) OVER (PARTITION BY customer_id, product_id ORDER BY day), day) AS gap
                     FROM days)
            SELECT product_id, median(gap) AS cycle_days FROM gaps WHERE gap IS NOT NULL GROUP BY product_id
        """).df()
    finally:
        con.close()
    out = np.full(len(products), np.nan)
    cols = products.get_indexer(cycles["product_id"].astype(str))
    out[cols[cols >= 0]] = cycles["cycle_days"].to_numpy()[cols >= 0]
    return out


def due_factor(model: Recommender, rows: np.ndarray) -> np.ndarray:
    """In [0, 1]: 1 when the time since the last purchase equals the product's repurchase cycle.

    0 for products never bought and products without a cycle. Computed at the customers'
    bought products only (a few dozen of a catalogue's 100,000 columns when serving).
    """
    last = model.last_bought_[rows].tocoo()
    keep = last.data > 0
    r, c = last.row[keep], last.col[keep]
    out = np.zeros((len(rows), len(model.products_)))
    out[r, c] = _due(model, c, last.data[keep])
    return out


def _due(model: Recommender, cols: np.ndarray, last_days: np.ndarray) -> np.ndarray:
    since = model.now_day() - last_days.astype(np.float64)
    cycle = getattr(model, "cycle_days_", None)
    cycle = cycle[cols] if cycle is not None else np.full(len(cols), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(np.exp(-np.abs(np.log((since + 1.0) / (cycle + 1.0)))), nan=0.0)


def due_at(model: Recommender, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, due factor) of one customer's bought products: :func:`due_factor` for one row, sparsely."""
    lo, hi = model.last_bought_.indptr[row], model.last_bought_.indptr[row + 1]
    cols, last = model.last_bought_.indices[lo:hi], model.last_bought_.data[lo:hi]
    keep = last > 0
    return cols[keep], _due(model, cols[keep], last[keep])


class ItemKNN(Recommender):
    """Item-item neighbours over customers (implicit's cosine or BM25 nearest neighbours).

    Parameters
    ----------
    similarity: ``cosine`` or ``bm25``.
    neighbours: neighbours kept per product.
    half_life_days: time decay of the customer's history.
    """

    reason_label = "bought together with your products"

    def __init__(self, similarity: str = "cosine", neighbours: int = 100, half_life_days: float | None = 180.0) -> None:
        self.similarity = similarity
        self.neighbours = neighbours
        self.half_life_days = half_life_days

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        if self.similarity not in ("cosine", "bm25"):
            raise UserInputError(f"ItemKNN similarity must be 'cosine' or 'bm25', not {self.similarity!r}")
        cls = CosineRecommender if self.similarity == "cosine" else BM25Recommender
        knn = cls(K=self.neighbours)
        with warnings.catch_warnings():  # implicit converts formats itself and says so
            warnings.simplefilter("ignore")
            knn.fit(self.user_items_, show_progress=False)
        self.similarity_ = knn.similarity.tocsr().astype(np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return _dense(self.user_items_[rows] @ self.similarity_) + _popularity_tiebreak(self.popularity_)

    def _own_scores(self, row: int, gains: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(columns, scores without the tie-break) of the neighbours of the customer's products:
        the customer's row times the similarity matrix, gathered from the neighbour lists of
        their products only (float32 sums in the same order as the sparse product)."""
        _, cols, gain = gains if gains is not None else _neighbour_gains(self.user_items_, self.similarity_, row)
        found = sorted_unique(cols)
        sums = np.zeros(len(found), dtype=np.float32)
        # one float32 addition at a time in the row's order: bit for bit the sums of the sparse product
        np.add.at(sums, np.searchsorted(found, cols), gain)
        return found, sums


    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        gains = _neighbour_gains(self.user_items_, self.similarity_, row)
        cols, vals = self._own_scores(row, gains)
        score_at = self._pool_scorer(cols, vals)
        score_at.gains = gains  # type: ignore[attr-defined]  # the reasons reuse them
        return *self._with_popular_pool(cols, vals, n), score_at

    def best_sources(self, row: int, cols: np.ndarray,
                     gains: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """For each product of ``cols``: the customer's product that contributes most to its score (-1: none)."""
        source, found, gain = gains if gains is not None else _neighbour_gains(self.user_items_, self.similarity_, row)
        out = np.full(len(cols), -1, dtype=np.int64)
        order = np.argsort(cols)
        wanted = cols[order]
        if not len(found) or not len(cols):
            return out
        at = np.minimum(np.searchsorted(wanted, found), len(wanted) - 1)
        hit = (wanted[at] == found) & (gain > 0)
        target, source, gain = at[hit], source[hit], gain[hit].astype(np.float64)
        pick = np.lexsort((source, -gain, target))  # per product: the largest gain, then the lowest column
        target, source = target[pick], source[pick]
        first = np.concatenate([[True], target[1:] != target[:-1]]) if len(target) else np.zeros(0, dtype=bool)
        out[order[target[first]]] = source[first]
        return out

    def _item_similarities(self, col: int) -> np.ndarray:
        return _dense(self.similarity_[col]).ravel()


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): closed-form item-item weights.

    Written by hand: it is one regularised matrix inverse, and no maintained
    library exposes it on its own. Only the ``max_items`` most popular products
    are modelled (the inverse is cubic in their number).
    """

    reason_label = "customers like you bought it"

    def __init__(self, l2: float = 300.0, max_items: int = 5000, half_life_days: float | None = 180.0) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.half_life_days = half_life_days

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        order = np.argsort(-self.popularity_, kind="stable")
        items = np.sort(order[: self.max_items][self.popularity_[order[: self.max_items]] > 0])
        x = self.user_items_[:, items]
        gram = _dense(x.T @ x).astype(np.float32)
        gram[np.diag_indices_from(gram)] += self.l2
        p = _spd_inverse(gram)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.items_ = items
        self.weights_ = b.astype(np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        out = np.full((len(rows), len(self.products_)), -np.inf)
        out[:, self.items_] = _dense(self.user_items_[rows][:, self.items_] @ self.weights_)
        return out

    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """The customer's modelled products weighted by their rows of the item weights (|history| x items)."""
        lo, hi = self.user_items_.indptr[row], self.user_items_.indptr[row + 1]
        hist, weight = self.user_items_.indices[lo:hi], self.user_items_.data[lo:hi]
        pos = np.searchsorted(self.items_, hist)
        inside = (pos < len(self.items_)) & (self.items_[np.minimum(pos, len(self.items_) - 1)] == hist)
        # scipy's sparse x dense product: no BLAS threads for a small product, and the very sums of the dense path
        x = sp.csr_matrix((weight[inside], pos[inside], [0, int(inside.sum())]), shape=(1, len(self.items_)))
        scores = np.asarray(x @ self.weights_).ravel().astype(np.float64)
        items = self.items_
        return *top_sorted(items, scores, n), lambda wanted: values_at(items, scores, wanted, fill=-np.inf)

    def _item_similarities(self, col: int) -> np.ndarray:
        out = np.zeros(len(self.products_))
        pos = np.searchsorted(self.items_, col)
        if pos < len(self.items_) and self.items_[pos] == col:
            out[self.items_] = self.weights_[pos]
        return out


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through Cholesky (half the work of LU).

    float32 halves it again; the item weights need no more precision.
    """
    from scipy.linalg import lapack

    # one BLAS thread: on a shared 2-core box more threads made it 8x slower (measured)
    with threadpool_limits(limits=1, user_api="blas"):
        factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
        if info != 0:
            return np.linalg.inv(gram.astype(np.float64)).astype(np.float32)
        inv, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    upper = np.triu(inv)
    return upper + np.triu(inv, 1).T


class _Factors(Recommender):
    """Shared scoring of latent-factor models from the ``implicit`` library."""

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        """The predicted preference (trained towards 1 for products the customer took, 0 otherwise), clipped."""
        return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.model_.user_factors[rows] @ self.model_.item_factors.T

    def precompute_candidates(self, n: int, rows: np.ndarray | None = None) -> None:
        """Store every customer's ``n`` best products (exact, in batches): serving then reads a list
        instead of scoring the whole catalogue (100k products x 64 factors per request).

        Batches multiply a block of customers by all product factors at once, which costs a
        small fraction of one request per customer; fold-in refreshes the customers it changes.
        """
        total = len(self.model_.user_factors)
        if getattr(self, "candidate_cols_", None) is None or self.candidate_cols_.shape[1] != n:
            self.candidate_cols_ = np.full((total, n), -1, dtype=np.int32)  # -1: not computed
            self.candidate_scores_ = np.full((total, n), -np.inf, dtype=np.float32)
        elif len(self.candidate_cols_) < total:
            grow = total - len(self.candidate_cols_)
            self.candidate_cols_ = np.vstack([self.candidate_cols_, np.full((grow, n), -1, dtype=np.int32)])
            self.candidate_scores_ = np.vstack([self.candidate_scores_, np.full((grow, n), -np.inf, dtype=np.float32)])
        rows = np.arange(total) if rows is None else np.asarray(rows)
        step = batch_size(len(self.products_), 8_000_000)
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(rows), step):
                block = rows[start:start + step]
                cols, vals = _top_k(self._score(block), n)
                self.candidate_cols_[block, : cols.shape[1]] = cols
                self.candidate_scores_[block, : cols.shape[1]] = vals

    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        stored = getattr(self, "candidate_cols_", None)
        if stored is None or stored.shape[1] < n or row >= len(stored) or stored[row, 0] < 0:
            return super().propose(row, n)
        cols, vals = stored[row, :n], self.candidate_scores_[row, :n]
        keep = (cols >= 0) & np.isfinite(vals)
        items, user = self.model_.item_factors, self.model_.user_factors[row]
        return cols[keep].astype(np.intp), vals[keep].astype(np.float64), lambda wanted: items[wanted] @ user

    def _item_similarities(self, col: int) -> np.ndarray:
        f = normalize(self.model_.item_factors)
        return f @ f[col]

    def _forget_rows(self, keep: np.ndarray) -> None:
        self.model_.user_factors = np.ascontiguousarray(self.model_.user_factors[keep])
        if getattr(self, "candidate_cols_", None) is not None:
            self.candidate_cols_, self.candidate_scores_ = self.candidate_cols_[keep], self.candidate_scores_[keep]


ALS_BACKENDS = ("implicit", "spark")


class ALS(_Factors):
    """Implicit-feedback matrix factorisation (implicit's AlternatingLeastSquares).

    New interactions are folded in by recomputing only the affected customers'
    factors (``fold_in``), without touching the product factors.
    ``backend="spark"`` learns the factors with Spark MLlib's implicit ALS instead
    (used when the warehouse engine is Spark); they are stored in the same model
    object, so scoring, fold-in and saved files do not change.
    """

    reason_label = "customers with similar tastes bought it"

    def __init__(self, factors: int = 128, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 15, half_life_days: float | None = 180.0, seed: int = 0,
                 backend: str = "implicit") -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.half_life_days = half_life_days
        self.seed = seed
        self.backend = backend

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        if self.backend not in ALS_BACKENDS:
            raise UserInputError(f"ALS backend must be one of {', '.join(ALS_BACKENDS)}, got {self.backend!r}")
        self.model_ = AlternatingLeastSquares(
            factors=self.factors, regularization=self.regularization, alpha=self.alpha,
            iterations=self.iterations, random_state=self.seed, calculate_training_loss=False,
        )
        if self.backend == "spark":
            from shoplens.recs.spark import als_factors

            user, item = als_factors(sp.csr_matrix(self.user_items_), factors=self.factors,
                                     regularization=self.regularization, alpha=self.alpha,
                                     iterations=self.iterations, seed=self.seed)
            self.model_.user_factors, self.model_.item_factors = user, item
            return
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # implicit runs its own threads; BLAS ones only slow it down
            self.model_.fit(self.user_items_, show_progress=False)

    def _fold_in(self, rows: np.ndarray, interactions: pd.DataFrame) -> None:
        if len(rows):
            with threadpool_limits(limits=1, user_api="blas"):
                self.model_.partial_fit_users(rows, self.user_items_[rows])
            if getattr(self, "candidate_cols_", None) is not None:
                self.precompute_candidates(self.candidate_cols_.shape[1], rows)


class BPR(_Factors):
    """Bayesian Personalised Ranking (implicit's BayesianPersonalizedRanking).

    Its parallel SGD updates factors without locks, so two runs with the same seed
    can differ slightly.
    """

    reason_label = "customers with similar tastes bought it"

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        """The modelled probability that the customer prefers the product to a random one (a sigmoid)."""
        return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))

    def __init__(self, factors: int = 64, learning_rate: float = 0.05, regularization: float = 0.01,
                 iterations: int = 100, half_life_days: float | None = None, seed: int = 0) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.half_life_days = half_life_days
        self.seed = seed

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self.model_ = BayesianPersonalizedRanking(
            factors=self.factors, learning_rate=self.learning_rate, regularization=self.regularization,
            iterations=self.iterations, random_state=self.seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(self.user_items_, show_progress=False)

    def _fold_in(self, rows: np.ndarray, interactions: pd.DataFrame) -> None:
        # BPR has no closed-form user update: a customer's vector becomes the mean of
        # the product vectors they interacted with (the bias slot stays 1).
        uf = self.model_.user_factors
        if rows.max(initial=-1) >= len(uf):
            uf = np.vstack([uf, np.zeros((rows.max() + 1 - len(uf), uf.shape[1]), dtype=uf.dtype)])
        hist = normalize(self.user_items_[rows], norm="l1")
        uf[rows] = _dense(hist @ self.model_.item_factors)
        uf[rows, -1] = 1.0
        self.model_.user_factors = uf


class ContentBased(Recommender):
    """TF-IDF over product name, category, brand and description (character n-grams: English and Chinese).

    Customers get products like the ones they interacted with; a new product
    gets neighbours (and customers) from its text alone.
    """

    reason_label = "similar to products you liked"

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        """Cosine between the product's text and the customer's profile (already in [0, 1])."""
        return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)

    def __init__(self, ngram_range: tuple[int, int] = (2, 4), max_features: int = 50000,
                 half_life_days: float | None = 180.0) -> None:
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.half_life_days = half_life_days

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        cat = self.catalogue_
        text = cat["product_id"].astype(str)
        for col in ("name", "category", "brand", "description"):
            if col in cat:
                text = text + " " + cat[col].fillna("").astype(str)
        if cat[[c for c in ("name", "description", "category", "brand") if c in cat]].notna().sum().sum() == 0:
            raise InsufficientDataError("content model: products have no name, description, category or brand "
                                        "(load products first)")
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngram_range), sublinear_tf=True,
                              max_features=self.max_features, lowercase=True)
        self.vectors_ = vec.fit_transform(text.str.lower()).astype(np.float32).tocsr()

    def _score(self, rows: np.ndarray) -> np.ndarray:
        profile = normalize(self.user_items_[rows] @ self.vectors_)
        return _dense(profile @ self.vectors_.T) + _popularity_tiebreak(self.popularity_)

    def _item_similarities(self, col: int) -> np.ndarray:
        return _dense(self.vectors_ @ self.vectors_[col].T).ravel()


def _neighbour_gains(user_items: sp.csr_matrix, similarity: sp.csr_matrix,
                     row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(history product, neighbour, weight x similarity) of every neighbour entry of one customer's
    products, in the order of the customer's row (a gather of a few thousand entries, not a pass
    over the catalogue)."""
    lo, hi = user_items.indptr[row], user_items.indptr[row + 1]
    hist, weight = user_items.indices[lo:hi], user_items.data[lo:hi]
    starts, ends = similarity.indptr[hist], similarity.indptr[hist + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pos = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    return (np.repeat(hist, lengths), similarity.indices[pos].astype(np.int64),
            np.repeat(weight, lengths) * similarity.data[pos])


MODELS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "buy_again": BuyAgain,
    "item_knn": ItemKNN,
    "ease": EASE,
    "als": ALS,
    "bpr": BPR,
    "content": ContentBased,
}

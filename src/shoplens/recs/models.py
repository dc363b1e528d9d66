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

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.recs.base import Recommender, interaction_matrix


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

    def _score(self, rows: np.ndarray) -> np.ndarray:
        out = np.tile(self.scores_, (len(rows), 1))
        if self.per_segment and self.segment_popularity_:
            for i, r in enumerate(rows):
                seg = self.segment_of_.get(self.customers_[r])
                if seg in self.segment_popularity_:
                    out[i] = self.segment_popularity_[seg] + 1e-3 * self.scores_ / max(self.scores_.max(), 1.0)
        return out

    def _reason(self, row: int, col: int, history: object = None) -> str:
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
    now_day = (model.now_ - pd.Timestamp("1970-01-01")).total_seconds() / 86400.0
    since = now_day - last.data[keep].astype(np.float64)
    cycle = getattr(model, "cycle_days_", None)
    cycle = cycle[c] if cycle is not None else np.full(len(c), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        due = np.nan_to_num(np.exp(-np.abs(np.log((since + 1.0) / (cycle + 1.0)))), nan=0.0)
    out = np.zeros((len(rows), len(model.products_)))
    out[r, c] = due
    return out


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

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.model_.user_factors[rows] @ self.model_.item_factors.T

    def _item_similarities(self, col: int) -> np.ndarray:
        f = normalize(self.model_.item_factors)
        return f @ f[col]

    def _forget_rows(self, keep: np.ndarray) -> None:
        self.model_.user_factors = np.ascontiguousarray(self.model_.user_factors[keep])


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


class BPR(_Factors):
    """Bayesian Personalised Ranking (implicit's BayesianPersonalizedRanking).

    Trained on one thread: implicit's parallel SGD updates factors without locks, so two
    runs with the same seed differed; on one thread they are equal (and on the demo shop's
    1,113 x 3,309 matrix a busy 2-core box trained it in 4 s on one thread, 7-8 s on two).
    """

    reason_label = "customers with similar tastes bought it"

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
            iterations=self.iterations, random_state=self.seed, num_threads=1,
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


MODELS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "buy_again": BuyAgain,
    "item_knn": ItemKNN,
    "ease": EASE,
    "als": ALS,
    "bpr": BPR,
    "content": ContentBased,
}

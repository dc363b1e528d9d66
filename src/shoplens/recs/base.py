"""The recommender interface every model follows, and the serving logic they share.

A model learns from an interactions frame (see :mod:`shoplens.recs.interactions`)
and answers ``recommend(customer_ids, k, filters)`` and ``similar_items(product_id, k)``.
Subclasses only say how to score a batch of known customers over the whole
catalogue (``_score``); this base class handles the index of customers and
products, the time-decayed interaction matrix, business filters, top-K,
diversity, cold start (popular in the customer's segment) and explanations.

>>> import pandas as pd
>>> from shoplens.recs.models import Popularity
>>> rows = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "product_id": ["x", "y", "x", "z"],
...     "occurred_at": pd.to_datetime(["2024-01-01"] * 4), "kind": "purchase", "weight": 1.0})
>>> Popularity().fit(rows).recommend(["new"], k=1)[["customer_id", "product_id"]].values.tolist()
[['new', 'x']]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.base import Model
from shoplens.errors import NotFoundError, UserInputError
from shoplens.recs.interactions import KIND_PHRASES, POSITIVE_KINDS, check_interactions

OUTPUT_COLUMNS = ["customer_id", "rank", "product_id", "score", "reason", "personalised"]
#: strength order of the positive kinds a reason can name (higher wins when a customer did several)
KIND_CODES = {kind: len(POSITIVE_KINDS) - i for i, kind in enumerate(POSITIVE_KINDS)}
_PHRASE_OF_CODE = {code: KIND_PHRASES[kind] for kind, code in KIND_CODES.items()}
BATCH = 512
_EPOCH = datetime(1970, 1, 1)


def batch_size(n_products: int, cells: int = 16_000_000) -> int:
    """Customers scored together so a dense score block stays near ``cells`` values (~128 MB)."""
    return int(max(1, min(BATCH, cells // max(n_products, 1))))


@dataclass(frozen=True)
class RecFilters:
    """Business rules applied at serving time.

    >>> RecFilters(exclude_purchased=True, categories=("bags",)).exclude_purchased
    True
    """

    exclude_purchased: bool = False
    in_stock_only: bool = False
    categories: tuple[str, ...] | None = None
    price_min: float | None = None
    price_max: float | None = None
    exclude_products: frozenset[str] = field(default_factory=frozenset)
    max_per_category: int | None = None

    def __post_init__(self) -> None:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise UserInputError(f"price range is empty: price_min {self.price_min} > price_max {self.price_max}")
        if self.max_per_category is not None and self.max_per_category < 1:
            raise UserInputError("max_per_category must be at least 1")


def build_index(values: Iterable[Any]) -> pd.Index:
    """Sorted distinct ids as strings (the row/column order of every matrix)."""
    return pd.Index(np.sort(pd.unique(pd.Series(list(values) if not isinstance(values, pd.Series) else values,
                                                 dtype=object).astype(str))), dtype=object)


def interaction_matrix(
    frame: pd.DataFrame,
    customers: pd.Index,
    products: pd.Index,
    *,
    half_life_days: float | None,
    now: pd.Timestamp,
    kinds: Sequence[str] | None = None,
    column: str = "weight",
    clip: bool = True,
    codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> sp.csr_matrix:
    """Customer x product matrix of summed, time-decayed weights (negative totals clipped to 0).

    Rows of customers or products outside the index are ignored. ``codes``: the frame's
    (row, column) positions when the caller already looked them up (:func:`index_codes`).
    """
    rows, cols = codes if codes is not None else index_codes(frame, customers, products)
    values = frame[column].to_numpy(dtype=np.float64) if column in frame else np.ones(len(frame))
    keep = (rows >= 0) & (cols >= 0)
    if kinds is not None:
        keep &= frame["kind"].isin(kinds).to_numpy()
    if half_life_days:
        age = (now - frame["occurred_at"]).dt.total_seconds().to_numpy() / 86400.0
        values = values * np.power(0.5, np.clip(age, 0, None) / half_life_days)
    m = sp.csr_matrix((values[keep], (rows[keep], cols[keep])), shape=(len(customers), len(products)))
    m.sum_duplicates()
    if clip:
        m.data = np.clip(m.data, 0, None)
        m.eliminate_zeros()
    return m.astype(np.float32)


def _index_and_codes(ids: pd.Series, keep: np.ndarray, extra: pd.Series | None = None) -> tuple[pd.Index, np.ndarray]:
    """(sorted index of the ids of rows ``keep`` plus ``extra`` ids, each row's position in it or -1).

    One hashing pass over the rows (``pd.factorize``); the index is then built and looked up
    over the distinct ids only.
    """
    values = ids.to_numpy()
    n = len(values)
    if extra is not None and len(extra):
        values = np.concatenate([values, extra.to_numpy()])
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    used = np.zeros(len(uniques), dtype=bool)
    row_codes = codes[:n]
    used[row_codes[keep & (row_codes >= 0)]] = True
    used[codes[n:][codes[n:] >= 0]] = True
    index = build_index(uniques[used])
    where = index.get_indexer(uniques)
    return index, np.where(row_codes >= 0, where[row_codes], -1)


def index_codes(frame: pd.DataFrame, customers: pd.Index, products: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) position of each interaction in the customer x product index (-1: not in it)."""
    return (customers.get_indexer(frame["customer_id"].astype(str)),
            products.get_indexer(frame["product_id"].astype(str)))


def strongest_kinds(frame: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray], shape: tuple[int, int]) -> sp.csr_matrix:
    """Customer x product code of the strongest positive interaction (``KIND_CODES``; 0: none).

    Reasons name it: a product only viewed is "viewed", never "bought".
    """
    rows, cols = codes
    kind = frame["kind"].map(KIND_CODES).fillna(0).to_numpy(dtype=np.int64) if "kind" in frame \
        else np.zeros(len(frame), dtype=np.int64)
    keep = (rows >= 0) & (cols >= 0) & (kind > 0) & (frame["weight"].to_numpy() > 0)
    key = rows[keep].astype(np.int64) * shape[1] + cols[keep]
    kind = kind[keep]
    if not len(key):
        return sp.csr_matrix(shape, dtype=np.int8)
    order = np.lexsort((kind, key))  # by pair, strongest last
    key, kind = key[order], kind[order]
    last = np.r_[key[1:] != key[:-1], True]
    key, kind = key[last], kind[last]
    out = sp.csr_matrix((kind.astype(np.int8), (key // shape[1], key % shape[1])), shape=shape)
    out.sort_indices()
    return out


def _last_days(at: pd.Series, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Customer x product day (since 1970) of the latest purchase.

    Stored at float32 precision (about a minute), as the model files always had it.
    """
    days = ((at - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0).to_numpy()
    keep = (rows >= 0) & (cols >= 0)
    if not keep.any():
        return sp.csr_matrix(shape, dtype=np.float64)
    key = rows[keep].astype(np.int64) * shape[1] + cols[keep]
    order = np.argsort(key, kind="stable")
    key, days = key[order], days[keep][order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    pairs = key[first]
    values = np.maximum.reduceat(days, first).astype(np.float32).astype(np.float64)
    out = sp.csr_matrix((values, (pairs // shape[1], pairs % shape[1])), shape=shape)
    out.sort_indices()
    return out


_CONTROLLER: Any = None


def _serving_threads(n_customers: int) -> Any:
    """One BLAS thread for small requests: a 64 x 100k product on 2 threads of a busy box took
    p99 84 ms against 7.8 ms on one (measured), and the thread hand-off dominates small work."""
    if n_customers > 8:
        from contextlib import nullcontext

        return nullcontext()
    return one_thread("blas")


def one_thread(user_api: str) -> Any:
    """Limit BLAS or OpenMP to one thread (the controller is built once: building it costs ms)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api=user_api)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k best scores per row, best first.

    Deterministic: equal scores go to the lower column first (the sparse candidate path
    breaks ties the same way, so both paths pick the same products).
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    kth = vals.min(axis=1)
    tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)  # a tie at the k-th value crosses the cut
    for i in tied:
        above = np.flatnonzero(scores[i] > kth[i])
        at = np.flatnonzero(scores[i] == kth[i])[: k - len(above)]
        part[i] = np.concatenate([above, at])
        vals[i] = scores[i, part[i]]
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def top_sorted(cols: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (column, score) pairs of one customer's candidates, in :func:`_top_k`'s order."""
    if len(vals) > 2 * k > 0:  # sort only what can make the top (ties at the cut all stay)
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        near = vals >= kth
        cols, vals = cols[near], vals[near]
    order = np.lexsort((cols, -vals))[:k]
    return cols[order], vals[order]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its hashing overhead on small arrays)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def values_at(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``values`` where sorted ``keys`` equal ``wanted`` (``fill`` elsewhere), as float64."""
    out = np.full(len(wanted), fill, dtype=np.float64)
    if len(keys) and len(wanted):
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = keys[at] == wanted
        out[found] = values[at[found]]
    return out


@dataclass
class _History:
    """One customer's purchases and signals, read once to explain all of their recommendations."""

    bought: dict[int, float]
    last: dict[int, float]
    items: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, model: Recommender, row: int) -> _History:
        b, last, h = model.bought_[row], model.last_bought_[row], model.user_items_[row]
        order = np.argsort(h.indices)
        return cls(dict(zip(b.indices.tolist(), b.data.tolist())), dict(zip(last.indices.tolist(), last.data.tolist())),
                   h.indices[order], h.data[order])


def row_values(m: sp.csr_matrix, row: int, cols: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``m[row, cols]`` as a dense vector without slicing the matrix (indices must be sorted)."""
    lo, hi = m.indptr[row], m.indptr[row + 1]
    idx, data = m.indices[lo:hi], m.data[lo:hi]
    out = np.full(len(cols), fill, dtype=np.result_type(data.dtype, np.float64) if data.dtype.kind == "f" else data.dtype)
    if hi > lo and len(cols):
        at = np.minimum(np.searchsorted(idx, cols), len(idx) - 1)
        found = idx[at] == cols
        out[found] = data[at[found]]
    return out


def row_columns(m: sp.csr_matrix, row: int) -> np.ndarray:
    """Columns of the non-zero entries of one row."""
    lo, hi = m.indptr[row], m.indptr[row + 1]
    return m.indices[lo:hi][m.data[lo:hi] != 0]


class Recommender(Model):
    """Base class of shoplens recommenders (see the module docstring).

    **Scores.** The ``score`` column is always between 0 and 1, higher is better. Popular
    lists (unknown customers, customers without consent, and items that fill a short
    list) score each product by the share of customers who bought or engaged with it (of
    their segment, for a segment list). A model's own rows map its native score to [0, 1]
    without changing the order (:meth:`_unit_scores`): the hybrid gives the probability
    that the customer buys the product within its validation window; see docs/recs.md.
    """

    #: reason shown for a model's own (non-repeat) recommendations
    reason_label = "recommended for you"
    #: half-life in days of interaction weights in the shared matrix
    half_life_days: float | None = None
    #: dense score cells per batch (memory bound of scoring)
    score_cells = 16_000_000
    #: whether the model's own lists use the customer's history (False: popularity lists)
    uses_history = True

    # -- fitting ------------------------------------------------------------------------
    def fit(
        self,
        interactions: pd.DataFrame,
        *,
        catalogue: pd.DataFrame | None = None,
        segments: pd.DataFrame | None = None,
    ) -> Recommender:
        """Learn from ``interactions`` (columns customer_id, product_id, occurred_at, kind, weight).

        ``catalogue``: products (product_id, name, category, price, in_stock...) for filters,
        content and new products; ``segments``: customer_id, segment for cold start.
        """
        check_interactions(interactions)
        if "kind" not in interactions:  # a plain (customer, product, time, weight) log: purchases and returns
            interactions = interactions.assign(kind=np.where(interactions["weight"] > 0, "purchase", "return"))
        codes = self._fit_common(interactions, catalogue, segments)
        self._fit_baskets(interactions, codes)
        self._fit_model(interactions)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for cache in ("_masks", "_tiebreak", "_tops", "_forest", "_now_day"):  # serving caches, rebuilt on demand
            state.pop(cache, None)
        return state

    def _fit_baskets(self, interactions: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray]) -> None:
        """Completed purchases as a binary basket x product matrix (fees and postage left out).

        Pairs bought together are counted from it when asked (:meth:`frequently_bought_together`),
        exactly and for one product at a time, instead of a product x product count at every fit.
        """
        if "basket_id" not in interactions:
            interactions = interactions.assign(basket_id=interactions["customer_id"].astype(str) + "@"
                                               + interactions["occurred_at"].astype(str))
        cols = codes[1]
        fee = self.catalogue_["category"].eq("fees & services").to_numpy()
        mask = (interactions["kind"] == "purchase").to_numpy() & interactions["basket_id"].notna().to_numpy() & (cols >= 0)
        mask[mask] &= ~fee[cols[mask]]
        b_codes, b_index = pd.factorize(interactions["basket_id"].to_numpy()[mask])
        basket = sp.csr_matrix((np.ones(int(mask.sum()), dtype=np.float32), (b_codes, cols[mask])),
                               shape=(len(b_index), len(self.products_)))
        basket.data[:] = 1.0  # a product twice in one basket counts once
        basket.sort_indices()
        self.baskets_ = basket
        self.product_baskets_ = basket.T.tocsr()
        self.product_baskets_.sort_indices()
        self.basket_counts_ = np.asarray(basket.sum(axis=0)).ravel()

    def frequently_bought_together(self, product_id: str, k: int = 10, min_baskets: int = 3) -> pd.DataFrame:
        """Products most often in the same order as ``product_id``: baskets, confidence and lift, the most
        confident first (then lift, then id). What FP-growth gives for pairs, counted exactly from the
        product's own baskets; :mod:`shoplens.recs.rules` mines longer sets."""
        self.check_fitted()
        a = self.products_.get_indexer([str(product_id)])[0]
        if a < 0:
            raise NotFoundError(f"product {product_id!r} is unknown to this model (check the id, or retrain)")
        columns = ["product_id", "rank", "together_product_id", "baskets", "confidence", "lift"]
        if getattr(self, "baskets_", None) is None:  # a model file from before baskets were kept
            together = getattr(self, "together_", None)
            if together is None or together.empty:
                return pd.DataFrame(columns=columns)
            return together[together["product_id"] == str(product_id)].head(k).reset_index(drop=True)
        lo, hi = self.product_baskets_.indptr[a], self.product_baskets_.indptr[a + 1]
        mine = self.product_baskets_.indices[lo:hi]
        starts, ends = self.baskets_.indptr[mine], self.baskets_.indptr[mine + 1]
        lengths = ends - starts
        pos = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(int(lengths.sum()))
        others = np.sort(self.baskets_.indices[pos])
        first = np.flatnonzero(np.r_[True, others[1:] != others[:-1]]) if len(others) else np.zeros(0, dtype=np.intp)
        b = others[first]
        n = np.diff(np.r_[first, len(others)])
        keep = (b != a) & (n >= min_baskets)
        b, n = b[keep], n[keep].astype(np.float32)
        count = self.basket_counts_
        confidence, lift = n / count[a], n * self.baskets_.shape[0] / (count[a] * count[b])
        order = np.lexsort((b, -lift, -confidence))[:k]
        return pd.DataFrame({
            "product_id": str(product_id), "rank": np.arange(1, len(order) + 1),
            "together_product_id": self.products_[b[order]].astype(str), "baskets": n[order].astype(int),
            "confidence": confidence[order], "lift": lift[order],
        }, columns=columns)

    def _fit_common(self, interactions: pd.DataFrame, catalogue: pd.DataFrame | None,
                    segments: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        """The index and matrices every model shares; returns the rows' (row, column) codes.

        Ids are looked up once and reused by every matrix (string look-ups dominate the cost).
        """
        is_positive = interactions["weight"].to_numpy() > 0
        self.now_ = pd.Timestamp(interactions["occurred_at"].max())
        self.customers_, rows = _index_and_codes(interactions["customer_id"], is_positive)
        self.products_, cols = _index_and_codes(interactions["product_id"], is_positive,
                                                None if catalogue is None else catalogue["product_id"])
        self.catalogue_ = self._align_catalogue(catalogue)
        codes = (rows, cols)
        shape = (len(self.customers_), len(self.products_))
        self.user_items_ = interaction_matrix(interactions, self.customers_, self.products_,
                                              half_life_days=self.half_life_days, now=self.now_, codes=codes)
        is_buy = (interactions["kind"] == "purchase").to_numpy()
        buy_rows, buy_cols = rows[is_buy], cols[is_buy]
        ok = (buy_rows >= 0) & (buy_cols >= 0)
        self.bought_ = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (buy_rows[ok], buy_cols[ok])), shape=shape)
        self.bought_.sum_duplicates()  # purchase rows per (customer, product)
        self.last_bought_ = _last_days(interactions["occurred_at"][is_buy], buy_rows, buy_cols, shape)
        self.kinds_ = strongest_kinds(interactions, codes, shape)
        # popularity: distinct customers with a positive signal
        ok = is_positive & (rows >= 0) & (cols >= 0)
        pairs = sorted_unique(rows[ok].astype(np.int64) * shape[1] + cols[ok])
        pair_rows, pair_cols = pairs // shape[1], pairs % shape[1]
        self.popularity_ = np.bincount(pair_cols, minlength=shape[1]).astype(np.float64)
        self.popularity_customers_ = max(len(self.customers_), 1)  # the share's denominator
        self.popular_order_ = np.argsort(-self.popularity_, kind="stable")
        self.segment_of_: dict[str, str] = {}
        self.segment_popularity_: dict[str, np.ndarray] = {}
        self.segment_sizes_: dict[str, int] = {}
        if segments is not None and len(segments):
            pop = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (pair_rows, pair_cols)), shape=shape)
            seg = segments.dropna().astype({"customer_id": str, "segment": str})
            self.segment_of_ = dict(zip(seg["customer_id"], seg["segment"]))
            seg_rows = self.customers_.get_indexer(seg["customer_id"])
            seg = seg[seg_rows >= 0].assign(_row=seg_rows[seg_rows >= 0])
            for name, group in seg.groupby("segment"):
                if len(group) >= 5:  # too few customers make a noisy list
                    self.segment_popularity_[str(name)] = np.asarray((pop[group["_row"].to_numpy()] > 0).sum(axis=0)).ravel()
                    self.segment_sizes_[str(name)] = int(group["_row"].nunique())
        self._explainer: sp.csr_matrix | None = None  # built on first explanation
        self._explainer_csc: sp.csc_matrix | None = None
        return codes

    SHARED_STATE = ("now_", "customers_", "products_", "catalogue_", "bought_", "last_bought_", "kinds_", "popularity_",
                    "popularity_customers_", "popular_order_", "segment_of_", "segment_popularity_", "segment_sizes_")

    def fit_like(self, template: Recommender, interactions: pd.DataFrame) -> Recommender:
        """Fit on ``interactions`` reusing the shared state ``template`` computed from the same rows.

        Used by ensembles so that several models over one data set build the index
        and matrices once.
        """
        for name in self.SHARED_STATE:
            setattr(self, name, getattr(template, name))
        self._explainer = self._explainer_csc = None
        if self.half_life_days == template.half_life_days:
            self.user_items_ = template.user_items_
        else:
            self.user_items_ = interaction_matrix(interactions, self.customers_, self.products_,
                                                  half_life_days=self.half_life_days, now=self.now_)
        self._fit_model(interactions)
        return self

    def _align_catalogue(self, catalogue: pd.DataFrame | None) -> pd.DataFrame:
        base = pd.DataFrame({"product_id": self.products_})
        if catalogue is None or not len(catalogue):
            return base.assign(name=None, category=None, price=np.nan, in_stock=None)
        cat = catalogue.astype({"product_id": str}).drop_duplicates("product_id")
        out = base.merge(cat, on="product_id", how="left")
        for col in ("name", "category", "price", "in_stock"):
            if col not in out:
                out[col] = None
        return out

    @property
    def explain_similarity(self) -> sp.csr_matrix:
        """Item-item co-purchase cosine used for "because you bought X" (computed once, on first use)."""
        if getattr(self, "_explainer", None) is None:
            self._explainer = self._cooccurrence_similarity()
        return self._explainer

    def _cooccurrence_similarity(self, neighbours: int = 20) -> sp.csr_matrix:
        """Item-item cosine over customers, pruned to the top neighbours."""
        from implicit.nearest_neighbours import CosineRecommender

        binary = self.bought_.copy() if self.bought_.nnz else self.user_items_.copy()
        binary.data[:] = 1.0
        knn = CosineRecommender(K=neighbours)
        with warnings.catch_warnings():  # implicit converts formats itself and says so
            warnings.simplefilter("ignore")
            knn.fit(binary.tocsr(), show_progress=False)
        return knn.similarity.tocsr()

    def _fit_model(self, interactions: pd.DataFrame) -> None:
        """Model-specific learning (the shared state is ready)."""

    # -- scoring --------------------------------------------------------------------------
    def _score(self, rows: np.ndarray) -> np.ndarray:
        """Scores (n_rows x n_products, float) for known customers; -inf means never recommend."""
        raise NotImplementedError

    def _candidates(self, row: int) -> tuple[np.ndarray, np.ndarray, Any]:
        """The sparse serving path: (columns, scores, provenance) of every product the model may rank
        for customer ``row`` (scores equal to ``_score``'s; products left out score -inf there).

        Models that have one set ``sparse_serving = True``; the others score the whole catalogue.
        """
        raise NotImplementedError

    #: whether :meth:`_candidates` serves single customers without scoring the whole catalogue
    sparse_serving = False

    def _candidates_many(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
        """:meth:`_candidates` of several customers, in order (models may batch them)."""
        for row in rows:
            yield self._candidates(int(row))

    def propose(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Candidates of customer ``row``: (columns, scores) of the ``n`` best products, best first
        (finite scores only), and a function giving the score of any products.

        The same products, order and scores as ``_top_k(_score([row]), n)`` and ``_score([row])[0, cols]``.
        This default scores the whole catalogue; the hybrid's generators override it with a
        sparse path (the customer's history, neighbour lists and precomputed lists).
        """
        scores = np.asarray(self._score(np.array([row])), dtype=np.float64)
        cols, vals = _top_k(scores, n)
        keep = np.isfinite(vals[0])
        return cols[0][keep], vals[0][keep], lambda wanted: scores[0, wanted]

    def tiebreak(self) -> np.ndarray:
        """A tiny popularity term that orders products a model scores equally (computed once)."""
        tb = self.__dict__.get("_tiebreak")
        if tb is None:
            tb = self.__dict__["_tiebreak"] = 1e-6 * self.popularity_ / max(float(self.popularity_.max()), 1.0)
        return tb

    def _with_popular_pool(self, cols: np.ndarray, vals: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` of scores that are ``vals`` (plus the tie-break) at ``cols`` and the tie-break elsewhere.

        The best columns outside ``cols`` are the most popular ones, so the first
        ``n + len(cols)`` of the popular order hold every one that can make the top.
        """
        tb = self.tiebreak()
        pool = sorted_unique(np.concatenate([cols, self.popular_order_[: n + len(cols)]]))
        scores = tb[pool].copy()
        at = np.searchsorted(pool, cols)
        scores[at] = vals + tb[cols]
        return top_sorted(pool, scores, n)

    def _pool_scorer(self, cols: np.ndarray, vals: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Scores that are ``vals`` (plus the tie-break) at sorted ``cols`` and the tie-break elsewhere."""
        tb = self.tiebreak()
        return lambda wanted: values_at(cols, vals, wanted) + tb[wanted]

    def _unit_scores(self, row: int, scores: np.ndarray) -> np.ndarray:
        """The model's scores of one customer's list mapped to [0, 1] in the same order.

        Default (sums of counts or similarities, >= 0): s / (1 + s); negative scores give 0.
        """
        s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
        return s / (1.0 + s)

    def _popular(self, customer_id: str | None) -> tuple[np.ndarray, np.ndarray, str]:
        """(order scores, share of customers in [0, 1], reason) of the popular list for a customer."""
        seg = self.segment_of_.get(customer_id or "")
        if seg is not None and seg in self.segment_popularity_:
            counts = self.segment_popularity_[seg]
            size = getattr(self, "segment_sizes_", {}).get(seg) or max(float(counts.max()), 1.0)
            order = counts + 1e-3 * self.popularity_ / max(self.popularity_.max(), 1.0)
            return order, counts / size, f"popular in your segment ({seg})"
        return self.popularity_.astype(np.float64), self._popular_share(None), "popular now"

    def _popular_share(self, cols: np.ndarray | None) -> np.ndarray:
        """Share of the model's customers who bought or engaged with each product (all products: None)."""
        n = getattr(self, "popularity_customers_", None) or max(len(self.customers_), 1)
        pop = self.popularity_ if cols is None else self.popularity_[cols]
        return np.minimum(pop / n, 1.0)

    def _static_mask(self, filters: RecFilters) -> np.ndarray | None:
        """True for products the filters allow (None: every product, nothing to mask).

        Masks are kept per filter set (a storefront asks the same few questions again and again).
        """
        if not (filters.in_stock_only or filters.categories or filters.price_min is not None
                or filters.price_max is not None or filters.exclude_products):
            return None
        key = (filters.in_stock_only, filters.categories, filters.price_min, filters.price_max, filters.exclude_products)
        masks = self.__dict__.setdefault("_masks", {})
        hit = masks.get(key)  # (one lookup: another request may clear the cache meanwhile)
        if hit is not None:
            return hit
        cat = self.catalogue_
        ok = np.ones(len(self.products_), dtype=bool)
        if filters.in_stock_only:
            ok &= cat["in_stock"].fillna(True).astype(bool).to_numpy()
        if filters.categories:
            ok &= cat["category"].isin(list(filters.categories)).to_numpy()
        price = pd.to_numeric(cat["price"], errors="coerce").to_numpy()
        if filters.price_min is not None:
            ok &= np.nan_to_num(price, nan=-np.inf) >= filters.price_min
        if filters.price_max is not None:
            ok &= np.nan_to_num(price, nan=np.inf) <= filters.price_max
        if filters.exclude_products:
            ok &= ~self.products_.isin(list(filters.exclude_products))
        if len(masks) >= 32:
            masks.clear()
        masks[key] = ok
        return ok

    def recommend(
        self,
        customer_ids: Sequence[str],
        k: int = 10,
        filters: RecFilters | None = None,
        *,
        explain: bool = True,
    ) -> pd.DataFrame:
        """Top-``k`` products per customer: columns customer_id, rank, product_id, score, reason, personalised.

        ``score`` is in [0, 1] (see the class docstring); ``personalised`` is True for rows
        the model ranked from the customer's own history. Unknown customers get popular
        items of their segment (or overall). A customer's list is filled with popular items
        when the model has fewer than ``k`` allowed products to offer.
        """
        self.check_fitted()
        if k < 1:
            raise UserInputError(f"k must be at least 1 (got {k})")
        filters = filters or RecFilters()
        ids = [str(c) for c in customer_ids]
        allowed = self._static_mask(filters)
        rows = self.customers_.get_indexer(ids)
        take = k if filters.max_per_category is None else min(len(self.products_), k * 10)
        frames = []
        known = np.flatnonzero(rows >= 0)
        if self.sparse_serving:  # a few hundred candidates per customer, never the whole catalogue
            got_cols = np.zeros((len(known), take), dtype=np.intp)
            got_vals = np.full((len(known), take), -np.inf)
            provenances = []
            for i, (p, (cols, vals, provenance)) in enumerate(zip(known, self._candidates_many(rows[known]))):
                keep = np.isfinite(vals)
                if allowed is not None:
                    keep &= allowed[cols]
                if filters.exclude_purchased:
                    keep &= ~np.isin(cols, row_columns(self.bought_, int(rows[p])))
                top, top_vals = top_sorted(cols[keep], vals[keep], take)
                got_cols[i, : len(top)], got_vals[i, : len(top)] = top, top_vals
                provenances.append(provenance)
            if len(known):  # one frame for all of them (-inf pads a short list: it is filled with popular items)
                frames.append(self._rows_frame([ids[p] for p in known], rows[known], got_cols, got_vals, k, filters,
                                               allowed, explain, provenance=provenances))
            known = known[:0]
        step = batch_size(len(self.products_), self.score_cells)
        for start in range(0, len(known), step):
            pos = known[start:start + step]
            with _serving_threads(len(pos)):
                scores = np.asarray(self._score(rows[pos]))
            if scores.dtype not in (np.float32, np.float64) or not scores.flags.writeable:
                scores = np.array(scores, dtype=np.float64)
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            if filters.exclude_purchased:
                bought = self.bought_[rows[pos]]
                r, c = bought.nonzero()
                scores[r, c] = -np.inf
            cols, vals = _top_k(scores, take)
            frames.append(self._rows_frame([ids[p] for p in pos], rows[pos], cols, vals, k, filters, allowed, explain))
        unknown = np.flatnonzero(rows < 0)
        for p in unknown:
            base, shares, label = self._popular(ids[p])
            scores = (base if allowed is None else np.where(allowed, base, -np.inf))[None, :]
            cols, vals = _top_k(scores, take)
            frames.append(self._rows_frame([ids[p]], np.array([-1]), cols, vals, k, filters, allowed, explain,
                                           label=label, shares=shares))
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=bool if c == "personalised" else object) for c in OUTPUT_COLUMNS})
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def _rows_frame(self, ids: list[str], rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int,
                    filters: RecFilters, allowed: np.ndarray | None, explain: bool,
                    label: str | None = None, shares: np.ndarray | None = None,
                    provenance: list[Any] | None = None) -> pd.DataFrame:
        cats = self.catalogue_["category"].to_numpy() if filters.max_per_category is not None else None
        pop_order = getattr(self, "popular_order_", None)
        product_ids = self.products_.to_numpy()
        out_c, out_p, out_s, out_r, out_reason, out_own = [], [], [], [], [], []
        for i, cid in enumerate(ids):
            picked: list[tuple[int, float, bool]] = []  # (column, score, from popularity fill)
            per_cat: dict[Any, int] = {}
            for c, v in zip(cols[i], vals[i]):
                if not np.isfinite(v) or len(picked) >= k:
                    continue
                if filters.max_per_category is not None:
                    key = cats[c]
                    if per_cat.get(key, 0) >= filters.max_per_category:
                        continue
                    per_cat[key] = per_cat.get(key, 0) + 1
                picked.append((int(c), float(v), False))
            if len(picked) < k:  # fill with allowed popular items the list lacks
                if pop_order is None:
                    pop_order = self.popular_order_ = np.argsort(-self.popularity_, kind="stable")
                have = {c for c, _, _ in picked}
                bought = set(row_columns(self.bought_, int(rows[i])).tolist()) \
                    if filters.exclude_purchased and rows[i] >= 0 else set()
                for c in pop_order:
                    if len(picked) >= k:
                        break
                    if (allowed is None or allowed[c]) and c not in have and c not in bought:
                        if filters.max_per_category is not None:
                            key = cats[c]
                            if per_cat.get(key, 0) >= filters.max_per_category:
                                continue
                            per_cat[key] = per_cat.get(key, 0) + 1
                        picked.append((int(c), 0.0, True))
            if not picked:
                continue
            picked_cols = np.array([c for c, _, _ in picked])
            fill = np.array([f for _, _, f in picked])
            own = ~fill & (label is None) & self.uses_history
            if label is not None:
                score = shares[picked_cols]
            else:
                score = self._popular_share(picked_cols)
                if (~fill).any():
                    score[~fill] = self._unit_scores(int(rows[i]), np.array([v for _, v, f in picked if not f]))
            why: dict[int, str] = {}
            if explain and label is None and (~fill).any():
                mine = picked_cols[~fill]
                why = dict(zip(mine.tolist(), self._reasons(int(rows[i]), mine,
                                                            None if provenance is None else provenance[i])))
            out_p.extend(product_ids[picked_cols].tolist())
            for rank, (c, _, is_fill) in enumerate(picked, start=1):
                out_c.append(cid)
                out_r.append(rank)
                if not explain:
                    out_reason.append("")
                elif label is not None:
                    out_reason.append(label)
                elif is_fill:
                    out_reason.append("popular now")
                else:
                    out_reason.append(why[c])
            out_s.extend(np.clip(score, 0.0, 1.0).tolist())
            out_own.extend(own.tolist())
        return pd.DataFrame({"customer_id": out_c, "rank": out_r, "product_id": out_p, "score": out_s,
                             "reason": out_reason, "personalised": pd.Series(out_own, dtype=bool)})

    def _product_label(self, col: int) -> str:
        name = self.catalogue_["name"].iat[col]
        pid = self.products_[col]
        return f"{name} ({pid})" if isinstance(name, str) and name else str(pid)

    def interaction_phrase(self, row: int, col: int) -> str:
        """What customer ``row`` did with product ``col``, for a reason: "bought X", "viewed X"...

        The strongest positive interaction is named (a purchase beats a view).
        """
        kinds = getattr(self, "kinds_", None)
        code = int(row_values(kinds, row, np.array([col]))[0]) if kinds is not None and row < kinds.shape[0] else 0
        if not code and self.bought_.shape[0] > row and row_values(self.bought_, row, np.array([col]))[0] > 0:
            code = KIND_CODES["purchase"]
        phrase = _PHRASE_OF_CODE.get(code, "showed interest in {product}")
        return phrase.format(product=self._product_label(col))

    def _reasons(self, row: int, cols: np.ndarray, provenance: Any = None) -> list[str]:
        """The reason of each of ``cols`` in customer ``row``'s list (the customer's history is read once)."""
        history = _History.of(self, row)
        return [self._reason(row, int(c), history, provenance) for c in cols]

    def _reason(self, row: int, col: int, history: _History | None = None, provenance: Any = None) -> str:
        """Why ``col`` is shown to customer ``row``: repeat, a related product they interacted with, or the model."""
        h = history or _History.of(self, row)
        count = h.bought.get(col, 0.0)
        if count > 0:
            return self._repeat_reason(count, h.last.get(col, 0.0))
        if len(h.items):
            # the history item most similar to the recommended one
            sim = self.explain_by_column
            lo, hi = sim.indptr[col], sim.indptr[col + 1]
            common, in_sim, in_hist = np.intersect1d(sim.indices[lo:hi], h.items, assume_unique=True,
                                                     return_indices=True)
            if len(common):
                best = common[np.argmax(sim.data[lo:hi][in_sim] * h.weights[in_hist])]
                return f"because you {self.interaction_phrase(row, int(best))}"
        return self.reason_label

    @staticmethod
    def _repeat_reason(count: float, last_day: float) -> str:
        last = (_EPOCH + timedelta(days=float(last_day))).date().isoformat()
        times = "once" if count == 1 else f"{int(count)} times"
        return f"you bought it {times}, last on {last}"

    def now_day(self) -> float:
        """The training end as days since 1970 (computed once)."""
        day = self.__dict__.get("_now_day")
        if day is None:
            day = self.__dict__["_now_day"] = (self.now_ - pd.Timestamp("1970-01-01")).total_seconds() / 86400.0
        return day

    @property
    def explain_by_column(self) -> sp.csc_matrix:
        if getattr(self, "_explainer_csc", None) is None:
            self._explainer_csc = self.explain_similarity.tocsc()
            self._explainer_csc.sort_indices()
        return self._explainer_csc

    # -- item neighbours ------------------------------------------------------------------------
    def _item_similarities(self, col: int) -> np.ndarray:
        """Similarity of product ``col`` to every product (default: co-purchase cosine)."""
        return self.explain_similarity[col].toarray().ravel()

    def similar_items(self, product_id: str, k: int = 10) -> pd.DataFrame:
        """Products most like ``product_id``: columns product_id, rank, similar_product_id, name, score."""
        self.check_fitted()
        col = self.products_.get_indexer([str(product_id)])[0]
        if col < 0:
            raise NotFoundError(f"product {product_id!r} is unknown to this model (check the id, or retrain)")
        sims = np.asarray(self._item_similarities(col), dtype=np.float64).copy()
        sims[col] = -np.inf
        sims[sims <= 0] = -np.inf
        cols, vals = _top_k(sims[None, :], k)
        keep = np.isfinite(vals[0])
        cols, vals = cols[0][keep], vals[0][keep]
        return pd.DataFrame({
            "product_id": str(product_id), "rank": np.arange(1, len(cols) + 1),
            "similar_product_id": self.products_[cols].astype(str),
            "name": self.catalogue_["name"].to_numpy()[cols], "score": vals,
        })

    # -- incremental updates and erasure ------------------------------------------------------------
    def fold_in(self, interactions: pd.DataFrame) -> int:
        """Add new interactions of (new or known) customers without a full retrain; returns customers updated.

        Products unknown to the model are ignored until the next full retrain.
        """
        self.check_fitted()
        new_ids = build_index(interactions.loc[interactions["weight"] > 0, "customer_id"])
        added = new_ids.difference(self.customers_)
        if len(added):
            self.customers_ = self.customers_.append(added)
            grow = len(added)
            for name in ("user_items_", "bought_", "last_bought_", "kinds_"):
                m = getattr(self, name, None)
                if m is not None:
                    setattr(self, name, sp.vstack([m, sp.csr_matrix((grow, m.shape[1]), dtype=m.dtype)]).tocsr())
        codes = index_codes(interactions, self.customers_, self.products_)
        shape = (len(self.customers_), len(self.products_))
        delta = interaction_matrix(interactions, self.customers_, self.products_,
                                   half_life_days=self.half_life_days, now=self.now_, clip=False, codes=codes)
        self.user_items_ = (self.user_items_ + delta).tocsr()
        self.user_items_.data = np.clip(self.user_items_.data, 0, None)
        self.user_items_.eliminate_zeros()
        if getattr(self, "kinds_", None) is not None:
            self.kinds_ = self.kinds_.maximum(strongest_kinds(interactions, codes, shape)).tocsr()
            self.kinds_.sort_indices()
        is_buy = (interactions["kind"] == "purchase").to_numpy()
        if is_buy.any():
            buy_codes = (codes[0][is_buy], codes[1][is_buy])
            self.bought_ = (self.bought_ + interaction_matrix(
                interactions[is_buy], self.customers_, self.products_, half_life_days=None, now=self.now_,
                column="_count", codes=buy_codes)).tocsr()
            # the latest day per product (two purchases of one product in the batch must not add up)
            latest = _last_days(interactions["occurred_at"][is_buy], *buy_codes, shape)
            self.last_bought_ = self.last_bought_.maximum(latest).tocsr()
        for name in ("user_items_", "bought_", "last_bought_"):
            getattr(self, name).sort_indices()
        rows = self.customers_.get_indexer(new_ids)
        self._fold_in(rows[rows >= 0], interactions)
        return int((rows >= 0).sum())

    def _fold_in(self, rows: np.ndarray, interactions: pd.DataFrame) -> None:
        """Update per-customer model state of ``rows`` from new ``interactions`` (item-based models need nothing)."""

    def forget_customers(self, ids: set[str]) -> int:
        """Erase every trace of these customers (rows, factors, segment); returns how many were known."""
        self.check_fitted()
        drop = self.customers_.isin([str(i) for i in ids])
        n = int(drop.sum())
        for cid in ids:
            self.segment_of_.pop(str(cid), None)
        if n == 0:
            return 0
        keep = np.flatnonzero(~drop)
        self.customers_ = self.customers_[keep]
        for name in ("user_items_", "bought_", "last_bought_", "kinds_"):
            if getattr(self, name, None) is not None:
                setattr(self, name, getattr(self, name)[keep].tocsr())
        self._forget_rows(keep)
        return n

    def _forget_rows(self, keep: np.ndarray) -> None:
        """Keep only per-customer model state of rows ``keep``."""


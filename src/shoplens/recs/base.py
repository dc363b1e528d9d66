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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.base import Model
from shoplens.errors import NotFoundError, UserInputError
from shoplens.recs.interactions import check_interactions

OUTPUT_COLUMNS = ["customer_id", "rank", "product_id", "score", "reason"]
BATCH = 512


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
) -> sp.csr_matrix:
    """Customer x product matrix of summed, time-decayed weights (negative totals clipped to 0).

    Rows of customers or products outside the index are ignored.
    """
    rows = customers.get_indexer(frame["customer_id"].astype(str))
    cols = products.get_indexer(frame["product_id"].astype(str))
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
    """Column indices and values of the k best finite scores per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


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


class Recommender(Model):
    """Base class of shoplens recommenders (see the module docstring)."""

    #: reason shown for a model's own (non-repeat) recommendations
    reason_label = "recommended for you"
    #: half-life in days of interaction weights in the shared matrix
    half_life_days: float | None = None
    #: dense score cells per batch (memory bound of scoring)
    score_cells = 16_000_000

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
        self._fit_common(interactions, catalogue, segments)
        self.together_ = self._bought_together_pairs(interactions)
        self._fit_model(interactions)
        return self

    def _bought_together_pairs(self, interactions: pd.DataFrame, per_product: int = 10,
                               min_baskets: int = 3) -> pd.DataFrame:
        """Product pairs in the same basket: count, confidence and lift (what FP-growth gives for pairs,
        counted exactly with one sparse product; :mod:`shoplens.recs.rules` mines longer sets)."""
        if "basket_id" not in interactions:
            interactions = interactions.assign(basket_id=interactions["customer_id"].astype(str) + "@"
                                               + interactions["occurred_at"].astype(str))
        buys = interactions[(interactions["kind"] == "purchase") & interactions["basket_id"].notna()]
        fees = self.catalogue_.loc[self.catalogue_["category"].eq("fees & services"), "product_id"]
        buys = buys[~buys["product_id"].isin(fees)]
        empty = pd.DataFrame(columns=["product_id", "rank", "together_product_id", "baskets", "confidence", "lift"])
        if buys.empty:
            return empty
        b_codes, b_index = pd.factorize(buys["basket_id"].astype(str))
        cols = self.products_.get_indexer(buys["product_id"].astype(str))
        basket = sp.csr_matrix((np.ones(len(buys), dtype=np.float32), (b_codes, cols)),
                               shape=(len(b_index), len(self.products_)))
        basket.data[:] = 1.0  # a product twice in one basket counts once
        co = (basket.T @ basket).tocoo()
        keep = (co.row != co.col) & (co.data >= min_baskets)
        a, b, n = co.row[keep], co.col[keep], co.data[keep]
        if len(a) == 0:
            return empty
        count = np.asarray(basket.sum(axis=0)).ravel()
        pairs = pd.DataFrame({"a": a, "b": b, "baskets": n.astype(int), "confidence": n / count[a],
                              "lift": n * len(b_index) / (count[a] * count[b])})
        pairs = pairs.sort_values(["a", "confidence", "lift"], ascending=[True, False, False])
        pairs = pairs.groupby("a").head(per_product)
        return pd.DataFrame({
            "product_id": self.products_[pairs["a"].to_numpy()].astype(str),
            "rank": pairs.groupby("a").cumcount().to_numpy() + 1,
            "together_product_id": self.products_[pairs["b"].to_numpy()].astype(str),
            "baskets": pairs["baskets"].to_numpy(), "confidence": pairs["confidence"].to_numpy(),
            "lift": pairs["lift"].to_numpy(),
        }).reset_index(drop=True)

    def frequently_bought_together(self, product_id: str, k: int = 10) -> pd.DataFrame:
        """Products most often in the same order as ``product_id`` (highest confidence first)."""
        self.check_fitted()
        if self.products_.get_indexer([str(product_id)])[0] < 0:
            raise NotFoundError(f"product {product_id!r} is unknown to this model (check the id, or retrain)")
        together = getattr(self, "together_", None)
        if together is None or together.empty:
            return pd.DataFrame(columns=["product_id", "rank", "together_product_id", "baskets", "confidence", "lift"])
        return together[together["product_id"] == str(product_id)].head(k).reset_index(drop=True)

    def _fit_common(self, interactions: pd.DataFrame, catalogue: pd.DataFrame | None,
                    segments: pd.DataFrame | None) -> None:
        positive = interactions[interactions["weight"] > 0]
        self.now_ = pd.Timestamp(interactions["occurred_at"].max())
        self.customers_ = build_index(positive["customer_id"])
        ids = list(positive["product_id"])
        if catalogue is not None and len(catalogue):
            ids += list(catalogue["product_id"].astype(str))
        self.products_ = build_index(ids)
        self.catalogue_ = self._align_catalogue(catalogue)
        self.user_items_ = interaction_matrix(interactions, self.customers_, self.products_,
                                              half_life_days=self.half_life_days, now=self.now_)
        purchases = interactions[interactions["kind"] == "purchase"]
        self.bought_ = interaction_matrix(purchases, self.customers_, self.products_, half_life_days=None,
                                          now=self.now_, column="_count")
        self.last_bought_ = self._last_purchase_days(purchases)
        # popularity: distinct customers with a positive signal, recent ones counting more
        by_pair = positive.drop_duplicates(["customer_id", "product_id"], keep="last")
        pop = interaction_matrix(by_pair.assign(_one=1.0), self.customers_, self.products_, half_life_days=None,
                                 now=self.now_, column="_one")
        self.popularity_ = np.asarray(pop.sum(axis=0)).ravel().astype(np.float64)
        self.segment_of_: dict[str, str] = {}
        self.segment_popularity_: dict[str, np.ndarray] = {}
        if segments is not None and len(segments):
            seg = segments.dropna().astype({"customer_id": str, "segment": str})
            self.segment_of_ = dict(zip(seg["customer_id"], seg["segment"]))
            rows = self.customers_.get_indexer(seg["customer_id"])
            seg = seg[rows >= 0].assign(_row=rows[rows >= 0])
            for name, group in seg.groupby("segment"):
                if len(group) >= 5:  # too few customers make a noisy list
                    self.segment_popularity_[str(name)] = np.asarray((pop[group["_row"].to_numpy()] > 0).sum(axis=0)).ravel()
        self._explainer: sp.csr_matrix | None = None  # built on first explanation
        self._explainer_csc: sp.csc_matrix | None = None

    def _last_purchase_days(self, purchases: pd.DataFrame) -> sp.csr_matrix:
        """Customer x product matrix of the day (since 1970) of the last purchase (a max, never a sum)."""
        days = (purchases["occurred_at"] - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
        last = purchases.assign(_day=days.to_numpy()).groupby(["customer_id", "product_id"], as_index=False)["_day"].max()
        return interaction_matrix(last, self.customers_, self.products_, half_life_days=None,
                                  now=self.now_, column="_day").astype(np.float64)

    SHARED_STATE = ("now_", "customers_", "products_", "catalogue_", "bought_", "last_bought_", "popularity_",
                    "segment_of_", "segment_popularity_")

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
            self.check_fitted()
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

    def _popular_scores(self, customer_id: str | None) -> tuple[np.ndarray, str]:
        seg = self.segment_of_.get(customer_id or "")
        if seg is not None and seg in self.segment_popularity_:
            return self.segment_popularity_[seg] + 1e-3 * self.popularity_ / max(self.popularity_.max(), 1.0), \
                f"popular in your segment ({seg})"
        return self.popularity_.astype(np.float64), "popular now"

    def _static_mask(self, filters: RecFilters) -> np.ndarray | None:
        """True for products the filters allow (None: every product, nothing to mask)."""
        if not (filters.in_stock_only or filters.categories or filters.price_min is not None
                or filters.price_max is not None or filters.exclude_products):
            return None
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
        return ok

    def recommend(
        self,
        customer_ids: Sequence[str],
        k: int = 10,
        filters: RecFilters | None = None,
        *,
        explain: bool = True,
    ) -> pd.DataFrame:
        """Top-``k`` products per customer: columns customer_id, rank, product_id, score, reason.

        Unknown customers get popular items of their segment (or overall). A
        customer's list is filled with popular items when the model has fewer
        than ``k`` allowed products to offer.
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
            base, label = self._popular_scores(ids[p])
            scores = (base if allowed is None else np.where(allowed, base, -np.inf))[None, :]
            cols, vals = _top_k(scores, take)
            frames.append(self._rows_frame([ids[p]], np.array([-1]), cols, vals, k, filters, allowed, explain,
                                           label=label))
        if not frames:
            return pd.DataFrame(columns=OUTPUT_COLUMNS)
        out = pd.concat(frames, ignore_index=True)
        return out[OUTPUT_COLUMNS]

    def _rows_frame(self, ids: list[str], rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int,
                    filters: RecFilters, allowed: np.ndarray | None, explain: bool,
                    label: str | None = None) -> pd.DataFrame:
        cats = self.catalogue_["category"].to_numpy() if filters.max_per_category is not None else None
        pop_order: np.ndarray | None = None
        out_c, out_p, out_s, out_r, out_reason = [], [], [], [], []
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
                    pop_order = np.argsort(-self.popularity_, kind="stable")
                have = {c for c, _, _ in picked}
                bought = set(self.bought_[rows[i]].indices) if filters.exclude_purchased and rows[i] >= 0 else set()
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
            history: _History | None = None
            for rank, (c, v, fill) in enumerate(picked, start=1):
                out_c.append(cid)
                out_p.append(self.products_[c])
                out_s.append(v)
                out_r.append(rank)
                if not explain:
                    out_reason.append("")
                elif label is not None:
                    out_reason.append(label)
                elif fill:
                    out_reason.append("popular now")
                else:
                    if history is None:
                        history = _History.of(self, int(rows[i]))
                    out_reason.append(self._reason(int(rows[i]), c, history))
        return pd.DataFrame({"customer_id": out_c, "rank": out_r, "product_id": out_p, "score": out_s,
                             "reason": out_reason})

    def _product_label(self, col: int) -> str:
        name = self.catalogue_["name"].iat[col]
        pid = self.products_[col]
        return f"{name} ({pid})" if isinstance(name, str) and name else str(pid)

    def _reason(self, row: int, col: int, history: _History | None = None) -> str:
        """Why ``col`` is shown to customer ``row``: repeat, a related purchase, or the model."""
        h = history or _History.of(self, row)
        count = h.bought.get(col, 0.0)
        if count > 0:
            last = pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(h.last.get(col, 0.0)))
            times = "once" if count == 1 else f"{int(count)} times"
            return f"you bought it {times}, last on {last:%Y-%m-%d}"
        if len(h.items):
            # the history item most similar to the recommended one
            sim = self.explain_by_column
            lo, hi = sim.indptr[col], sim.indptr[col + 1]
            common, in_sim, in_hist = np.intersect1d(sim.indices[lo:hi], h.items, assume_unique=True,
                                                     return_indices=True)
            if len(common):
                best = common[np.argmax(sim.data[lo:hi][in_sim] * h.weights[in_hist])]
                return f"because you bought {self._product_label(int(best))}"
        return self.reason_label

    @property
    def explain_by_column(self) -> sp.csc_matrix:
        """:attr:`explain_similarity` by column (product), indices sorted: what explanations read."""
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
            for name in ("user_items_", "bought_", "last_bought_"):
                m = getattr(self, name)
                setattr(self, name, sp.vstack([m, sp.csr_matrix((grow, m.shape[1]), dtype=m.dtype)]).tocsr())
        now = max(self.now_, pd.Timestamp(interactions["occurred_at"].max()))
        delta = interaction_matrix(interactions, self.customers_, self.products_,
                                   half_life_days=self.half_life_days, now=self.now_, clip=False)
        self.user_items_ = (self.user_items_ + delta).tocsr()
        self.user_items_.data = np.clip(self.user_items_.data, 0, None)
        self.user_items_.eliminate_zeros()
        purchases = interactions[interactions["kind"] == "purchase"]
        if len(purchases):
            self.bought_ = (self.bought_ + interaction_matrix(
                purchases, self.customers_, self.products_, half_life_days=None, now=now, column="_count")).tocsr()
            self.last_bought_ = self.last_bought_.maximum(self._last_purchase_days(purchases)).tocsr()
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
        for name in ("user_items_", "bought_", "last_bought_"):
            setattr(self, name, getattr(self, name)[keep].tocsr())
        self._forget_rows(keep)
        return n

    def _forget_rows(self, keep: np.ndarray) -> None:
        """Keep only per-customer model state of rows ``keep``."""


"""Live recommendations: each visitor's or customer's latest behaviour events, used at question time.

The served recommender learned from the warehouse up to its training end; the storefront keeps
sending views, carts, favourites and purchases after that (the collector, file ingests).
:func:`recommend_live` reads the asker's latest product events from the ``events`` table and
ranks the served model's item-to-item neighbours of those products. Nothing is trained per request:

- **signals** (:func:`recent_signals`): the latest ``recent`` distinct products the asker viewed,
  clicked, saved, put in the basket or bought, within ``horizon_days`` of their latest such event.
  A removal from the basket cancels the earlier basket signal of that product (a view of it stays);
  a product is named by the strongest thing done with it (bought > in the basket > saved >
  clicked > viewed);
- **weights**: that kind's weight (:class:`~shoplens.recs.interactions.InteractionWeights`),
  times ``decay`` per more recent product (the latest counts most);
- **neighbours** (:func:`item_neighbours`): the served model's item-item similarity (item-kNN's
  neighbour lists, or the hybrid's item-kNN generator; other models: the co-purchase cosine every
  model keeps for its reasons). A product's live score is the sum of weight x similarity over the
  asker's products, mapped to [0, 1] as s / (1 + s);
- the asker's own signal products are left out (they have seen, carted or bought them); the
  reason names the product whose neighbour list gave most: ``because you viewed CREAM HANGING
  HEART T-LIGHT HOLDER (85123A)``;
- an id the model does not know (a new visitor) gets the live list once ``min_products`` of their
  products have neighbours, else the model's answer (popular); a customer the model knows gets
  their model list blended with the live one (weighted reciprocal-rank fusion). For them only
  events after the model's training end count as live: the earlier ones are in the model already.

Consent is the caller's business (:func:`shoplens.recs.service.recommend` calls this only for ids
allowed personalisation, warehouse ids in and out).

>>> import pandas as pd
>>> from shoplens.recs.models import ItemKNN
>>> rows = pd.DataFrame({"customer_id": list("aabbcc"), "product_id": ["x", "y", "x", "y", "z", "w"],
...     "occurred_at": pd.Timestamp("2024-01-01"), "kind": "purchase", "weight": 1.0})
>>> model = ItemKNN().fit(rows)
>>> signals = pd.DataFrame({"customer_id": ["visitor"], "product_id": ["x"], "kind": ["view"],
...                         "last_at": [pd.Timestamp("2024-02-01")]})
>>> live_lists(model, signals, k=2)[["customer_id", "product_id", "reason", "personalised"]].values.tolist()
[['visitor', 'y', 'because you viewed x', True], ['visitor', 'w', 'popular now', False]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.errors import UserInputError
from shoplens.recs.base import OUTPUT_COLUMNS, RecFilters, Recommender, row_columns
from shoplens.recs.interactions import KIND_PHRASES, InteractionWeights
from shoplens.store.warehouse import Warehouse

#: event types that are live signals of interest in a product (``remove_cart`` cancels ``cart``)
SIGNAL_EVENTS = ("view", "click", "favorite", "cart", "remove_cart", "purchase")
_SIGNAL_LIST = ", ".join(f"'{t}'" for t in SIGNAL_EVENTS)


@dataclass(frozen=True)
class LiveOptions:
    """How live lists are made (see the module docstring).

    >>> LiveOptions(min_products=2).recent
    20
    """

    recent: int = 20                 # latest distinct products used
    horizon_days: float = 30.0       # ... within this many days of the asker's latest event
    min_products: int = 1            # a new visitor's list turns personal at this many known products
    decay: float = 0.8               # weight factor per more recent product
    live_share: float = 0.5          # a known customer's blend: weight of the live list (rest: the model's)
    fusion_constant: float = 10.0    # reciprocal-rank fusion: 1 / (constant + rank)

    def __post_init__(self) -> None:
        if self.recent < 1 or self.min_products < 1:
            raise UserInputError("live recommendations: recent and min_products must be at least 1")
        if not 0 < self.decay <= 1 or not 0 <= self.live_share <= 1 or self.horizon_days <= 0:
            raise UserInputError("live recommendations: decay in (0, 1], live_share in [0, 1], horizon_days > 0")


def recent_signals(wh: Warehouse, customer_ids: Sequence[str], *, since: Any = None,
                   options: LiveOptions | None = None) -> pd.DataFrame:
    """The latest product signals of each customer (warehouse ids), latest first: customer_id,
    product_id, kind (purchase, cart, favorite, click, view), last_at. ``since``: only events after it.

    One plain read of the ids' events, folded here: a window-function SQL doing the same took
    40+ ms per request against under 10 for the read (measured on the Taobao head), and a
    request holds a few dozen events.

    >>> recent_signals(demo_warehouse(), ["nobody"]).columns.tolist()
    ['customer_id', 'product_id', 'kind', 'last_at']
    """
    opts = options or LiveOptions()
    ids = sorted({str(c) for c in customer_ids if c is not None})
    columns = ["customer_id", "product_id", "kind", "last_at"]
    if not ids:
        return pd.DataFrame(columns=columns)
    where = "customer_id = ?" if len(ids) == 1 else "customer_id IN (SELECT unnest(?::VARCHAR[]))"
    params: list[Any] = [ids[0] if len(ids) == 1 else ids]
    sql = (f"SELECT customer_id, CAST(product_id AS VARCHAR), event_type, occurred_at FROM events WHERE {where} "
           f"AND product_id IS NOT NULL AND event_type IN ({_SIGNAL_LIST})")
    if since is not None:
        sql += " AND occurred_at > ?"
        params.append(pd.Timestamp(since).to_pydatetime())
    events: dict[str, list[tuple[Any, bool, str, str]]] = {}
    for cid, product, kind, at in wh.con.execute(sql, params).fetchall():
        events.setdefault(cid, []).append((at, kind == "remove_cart", kind, product))  # a removal sorts after an add
    horizon = pd.Timedelta(days=opts.horizon_days).to_pytimedelta()
    out: list[tuple[str, str, str, Any]] = []
    for cid in sorted(events):
        rows = sorted(events[cid])
        start = rows[-1][0] - horizon
        state: dict[str, dict[str, Any]] = {}
        for at, _, kind, product in rows:
            if at < start:
                continue
            seen = state.setdefault(product, {"last_at": at})
            seen["last_at"] = at
            if kind in ("cart", "remove_cart"):
                seen["basket"] = kind  # the latest basket event says whether it is still in the basket
            else:
                seen[kind] = True
        found = []
        for product, seen in state.items():
            kind = next((k for k in ("purchase", "cart", "favorite", "click", "view")
                         if (seen.get("basket") == "cart" if k == "cart" else seen.get(k))), None)
            if kind is not None:
                found.append((seen["last_at"], product, kind))
        found.sort(key=lambda f: (-f[0].timestamp(), f[1]))
        out += [(cid, product, kind, at) for at, product, kind in found[: opts.recent]]
    frame = pd.DataFrame(out, columns=columns)
    frame["last_at"] = pd.to_datetime(frame["last_at"])
    return frame


def item_neighbours(model: Recommender) -> sp.csr_matrix:
    """The served model's item-item similarity, row = product, over its product index (computed by
    the model, never per request): item-kNN's lists, the hybrid's item-kNN generator, else the
    co-purchase cosine every model explains with."""
    generators = getattr(model, "generators_", None) or {}
    for source in (generators.get("item_knn"), model):
        similarity = getattr(source, "similarity_", None)
        if isinstance(similarity, sp.csr_matrix) and similarity.shape[0] == len(model.products_):
            return similarity
    return model.explain_similarity.tocsr()


def _live_one(model: Recommender, similarity: sp.csr_matrix, cols: np.ndarray, kinds: list[str],
              options: LiveOptions, weights: InteractionWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(products, sums, best source product) of one asker's signal products ``cols`` (latest first)."""
    w = np.array([weights.for_kind(k) for k in kinds]) * options.decay ** np.arange(len(cols))
    starts, ends = similarity.indptr[cols], similarity.indptr[cols + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
    pos = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    target = similarity.indices[pos].astype(np.int64)
    source = np.repeat(cols, lengths)
    gain = np.repeat(w, lengths) * similarity.data[pos].astype(np.float64)
    keep = (gain > 0) & ~np.isin(target, cols)
    target, source, gain = target[keep], source[keep], gain[keep]
    found, at = np.unique(target, return_inverse=True)
    sums = np.bincount(at, weights=gain, minlength=len(found))
    order = np.lexsort((source, -gain, at))  # per product: the largest gain first (then the lower column)
    first = np.r_[True, at[order][1:] != at[order][:-1]] if len(order) else np.zeros(0, dtype=bool)
    best = np.empty(len(found), dtype=np.int64)
    best[at[order][first]] = source[order][first]
    return found, sums, best


def live_lists(model: Recommender, signals: pd.DataFrame, *, k: int = 10, filters: RecFilters | None = None,
               options: LiveOptions | None = None, weights: InteractionWeights | None = None,
               rows_of: dict[str, int] | None = None) -> pd.DataFrame:
    """Top-``k`` from ``signals`` (:func:`recent_signals`) for each customer in it, filled with popular
    items: customer_id, rank, product_id, score, reason, personalised. Customers with fewer than
    ``min_products`` signal products the model knows are left out. ``rows_of``: the model rows of
    known customers (their purchases are left out under ``exclude_purchased``)."""
    opts, filters, weights = options or LiveOptions(), filters or RecFilters(), weights or InteractionWeights()
    if k < 1:
        raise UserInputError(f"k must be at least 1 (got {k})")
    similarity = item_neighbours(model)
    allowed = model._static_mask(filters)
    cats = model.catalogue_["category"].to_numpy() if filters.max_per_category is not None else None
    ids = model.products_.to_numpy()
    out: list[pd.DataFrame] = []
    for cid, group in signals.groupby("customer_id", sort=False):
        cols = model.products_.get_indexer(group["product_id"].astype(str))
        known = cols >= 0
        if int(known.sum()) < opts.min_products:
            continue
        kinds = group["kind"].to_numpy()[known].tolist()
        cols = cols[known]
        found, sums, best = _live_one(model, similarity, cols, kinds, opts, weights)
        blocked = set(cols.tolist())  # seen, carted or bought: not offered again
        row = (rows_of or {}).get(str(cid), -1)
        if filters.exclude_purchased and row >= 0:
            blocked |= set(row_columns(model.bought_, row).tolist())
        kind_of = dict(zip(cols.tolist(), kinds))
        order = np.lexsort((found, -sums))
        picked: list[tuple[int, float, str, bool]] = []
        per_cat: dict[Any, int] = {}

        def take(col: int) -> bool:
            if col in blocked or (allowed is not None and not allowed[col]):
                return False
            if cats is not None:
                if per_cat.get(cats[col], 0) >= filters.max_per_category:  # type: ignore[operator]
                    return False
                per_cat[cats[col]] = per_cat.get(cats[col], 0) + 1
            blocked.add(col)
            return True

        for i in order:
            if len(picked) >= k:
                break
            col = int(found[i])
            if take(col):
                phrase = KIND_PHRASES[kind_of[int(best[i])]].format(product=model._product_label(int(best[i])))
                picked.append((col, float(sums[i] / (1.0 + sums[i])), f"because you {phrase}", True))
        if len(picked) < k:  # fill with popular items, as every list is
            for col in model.popular_order_:
                if len(picked) >= k:
                    break
                if take(int(col)):
                    picked.append((int(col), float(model._popular_share(np.array([col]))[0]), "popular now", False))
        out.append(pd.DataFrame({
            "customer_id": str(cid), "rank": np.arange(1, len(picked) + 1),
            "product_id": [str(ids[c]) for c, _, _, _ in picked],
            "score": [min(max(s, 0.0), 1.0) for _, s, _, _ in picked],
            "reason": [r for _, _, r, _ in picked],
            "personalised": pd.Series([p for _, _, _, p in picked], dtype=bool)}))
    if not out:
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "personalised" else object) for c in OUTPUT_COLUMNS})
    return pd.concat(out, ignore_index=True)[OUTPUT_COLUMNS]


def blend(history: pd.DataFrame, live: pd.DataFrame, *, k: int, options: LiveOptions | None = None,
          blocked: set[str] = frozenset()) -> pd.DataFrame:  # type: ignore[assignment]
    """One customer's model list and live list fused by weighted reciprocal rank (live first on ties);
    each product keeps the score and reason of the list that ranks it better. ``blocked``: products
    left out (just bought or in the basket).

    >>> h = pd.DataFrame({"customer_id": "a", "rank": [1, 2], "product_id": ["p", "q"], "score": 0.5,
    ...                   "reason": "model", "personalised": True})
    >>> l = h.assign(product_id=["r", "q"], reason="live")
    >>> blend(h, l, k=3)["product_id"].tolist()
    ['q', 'r', 'p']
    """
    opts = options or LiveOptions()
    c = opts.fusion_constant
    parts = [history.assign(_w=(1 - opts.live_share) / (c + history["rank"]), _src=1),
             live.assign(_w=opts.live_share / (c + live["rank"]), _src=0)]
    both = pd.concat(parts, ignore_index=True)
    both = both[~both["product_id"].astype(str).isin(blocked)]
    fused = both.groupby("product_id", sort=False)["_w"].sum().rename("_fused")
    best = both.sort_values(["_w", "_src"], ascending=[False, True], kind="stable").drop_duplicates("product_id")
    best = best.join(fused, on="product_id").sort_values(["_fused", "_src", "product_id"],
                                                          ascending=[False, True, True], kind="stable").head(k)
    return best.assign(rank=np.arange(1, len(best) + 1))[OUTPUT_COLUMNS].reset_index(drop=True)


def recommend_live(wh: Warehouse, model: Recommender, customer_ids: Sequence[str], *, k: int = 10,
                   filters: RecFilters | None = None, options: LiveOptions | None = None) -> pd.DataFrame:
    """Top-``k`` per customer (warehouse ids, consent already checked) from the served ``model`` and
    each one's latest events (see the module docstring); columns as ``model.recommend``."""
    opts = options or LiveOptions()
    ids = [str(c) for c in dict.fromkeys(customer_ids)]
    rows = model.customers_.get_indexer(ids)
    known = [c for c, r in zip(ids, rows) if r >= 0]
    unknown = [c for c, r in zip(ids, rows) if r < 0]
    found = [frame for frame in (recent_signals(wh, known, since=model.now_, options=opts) if known else None,
                                 recent_signals(wh, unknown, options=opts) if unknown else None)
             if frame is not None and len(frame)]
    if not found:
        return model.recommend(ids, k=k, filters=filters)
    signals = pd.concat(found, ignore_index=True)
    rows_of = {c: int(r) for c, r in zip(ids, rows) if r >= 0}
    live = live_lists(model, signals, k=2 * k, filters=filters, options=opts, rows_of=rows_of)
    has_live = set(live["customer_id"])
    plain = [c for c in ids if c not in has_live]
    frames = {c: f for c, f in model.recommend(plain, k=k, filters=filters).groupby("customer_id", sort=False)} \
        if plain else {}
    mixed = [c for c in ids if c in has_live and c in rows_of]
    history = {c: f for c, f in model.recommend(mixed, k=2 * k, filters=filters).groupby("customer_id", sort=False)} \
        if mixed else {}
    live_by = dict(tuple(live.groupby("customer_id", sort=False)))
    blocked_by = {c: set(g.loc[g["kind"].isin(["purchase", "cart"]), "product_id"].astype(str))
                  for c, g in signals.groupby("customer_id", sort=False)}
    out = []
    for cid in ids:
        if cid in history:
            out.append(blend(history[cid], live_by[cid], k=k, options=opts, blocked=blocked_by.get(cid, set())))
        elif cid in live_by:
            out.append(live_by[cid].head(k))
        elif cid in frames:
            out.append(frames[cid])
    if not out:
        return model.recommend([], k=k, filters=filters)
    return pd.concat(out, ignore_index=True)[OUTPUT_COLUMNS]


def activity(wh: Warehouse, customer_id: str, *, recent: int = 10) -> dict[str, Any]:
    """Behaviour counters of one customer (warehouse id), JSON-ready: events, product views and basket
    adds, the last time seen, the latest products viewed and what is in the basket now (a removal
    takes it out), each with its name.

    >>> activity(demo_warehouse(), "nobody")
    {'events': 0, 'views': 0, 'carts': 0, 'last_seen': None, 'recently_viewed': [], 'in_cart': []}
    """
    totals = wh.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE event_type = 'view'), count(*) FILTER (WHERE event_type = 'cart'), "
        "max(occurred_at) FROM events WHERE customer_id = ?", [customer_id]).fetchone()
    products = wh.con.execute("""
        WITH p AS (
            SELECT CAST(product_id AS VARCHAR) AS product_id,
                   max(occurred_at) FILTER (WHERE event_type = 'view') AS viewed_at,
                   arg_max(event_type, epoch_us(occurred_at) * 2 + CAST(event_type = 'remove_cart' AS BIGINT))
                       FILTER (WHERE event_type IN ('cart', 'remove_cart')) AS basket,
                   max(occurred_at) FILTER (WHERE event_type = 'cart') AS carted_at
            FROM events WHERE customer_id = ? AND product_id IS NOT NULL GROUP BY product_id)
        SELECT p.*, n.name FROM p LEFT JOIN (SELECT CAST(product_id AS VARCHAR) AS product_id, any_value(name) AS name
                                             FROM products GROUP BY 1) n USING (product_id)
        """, [customer_id]).df()

    def listed(frame: pd.DataFrame, at: str) -> list[dict[str, Any]]:
        frame = frame.sort_values([at, "product_id"], ascending=[False, True]).head(recent)
        return [{"product_id": p, "name": None if pd.isna(n) else str(n), "at": t.isoformat()}
                for p, n, t in zip(frame["product_id"], frame["name"], frame[at])]

    viewed = products[products["viewed_at"].notna()]
    in_cart = products[products["basket"].eq("cart")]
    return {"events": int(totals[0]), "views": int(totals[1]), "carts": int(totals[2]),
            "last_seen": None if totals[3] is None else pd.Timestamp(totals[3]).isoformat(),
            "recently_viewed": listed(viewed, "viewed_at"), "in_cart": listed(in_cart, "carted_at")}

"""Customer-product interactions from the warehouse, as one event-level frame.

Every row is one signal: a purchased order line, a returned or cancelled line,
a behaviour event (view, cart, favourite...) or a review (4-5 stars: a positive signal,
1-2 stars: a negative one), with a signed
weight from :class:`InteractionWeights` (purchase > cart > view; returns and bad
reviews negative). Models turn the rows into a time-decayed customer x product
matrix (see :func:`shoplens.recs.base.interaction_matrix`).

The extraction is one set-based SQL statement so the same definition can run on
another engine.

>>> w = InteractionWeights()
>>> w.purchase > w.cart > w.view
True
>>> w.for_kind("return") < 0
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from shoplens.errors import InsufficientDataError
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

COLUMNS = ["customer_id", "product_id", "occurred_at", "kind", "weight", "basket_id", "quantity"]
POSITIVE_KINDS = ("purchase", "good_review", "cart", "favorite", "click", "view")  # strongest first
#: how a reason names each positive kind ("because you {verb}"; {product} is the product's name)
KIND_PHRASES = {"purchase": "bought {product}", "good_review": "rated {product} highly",
                "cart": "put {product} in your basket", "favorite": "saved {product}",
                "click": "clicked on {product}", "view": "viewed {product}"}


@dataclass(frozen=True)
class InteractionWeights:
    """Signed weight of each kind of signal (before time decay)."""

    purchase: float = 1.0
    cart: float = 0.5
    favorite: float = 0.4
    click: float = 0.15
    view: float = 0.1
    good_review: float = 0.3
    return_: float = -0.5
    bad_review: float = -1.0

    def for_kind(self, kind: str) -> float:
        return float(getattr(self, "return_" if kind == "return" else kind))

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d["return"] = d.pop("return_")
        return d


def interactions_sql(weights: InteractionWeights) -> str:
    """The SQL that gives every interaction strictly before the ``{until}`` placeholder (NULL: all)."""
    w = weights
    return f"""
    WITH lines AS (
        SELECT o.customer_id, oi.product_id, o.ordered_at AS occurred_at, o.order_id AS basket_id,
               oi.quantity,
               CASE WHEN oi.quantity < 0 OR o.status IN ('cancelled', 'returned', 'refunded')
                    THEN 'return' ELSE 'purchase' END AS kind
        FROM order_items oi JOIN orders o USING (order_id)
        WHERE o.customer_id IS NOT NULL AND coalesce(o.status, 'completed') <> 'adjustment'
          AND oi.product_id IS NOT NULL AND ({{until}} IS NULL OR o.ordered_at < {{until}})
    ),
    purchases AS (
        SELECT customer_id, product_id, occurred_at, kind,
               CASE kind WHEN 'purchase' THEN {w.purchase} ELSE {w.return_} END AS weight,
               basket_id, abs(sum(quantity)) AS quantity
        FROM lines GROUP BY customer_id, product_id, occurred_at, kind, basket_id
    ),
    behaviour AS (
        SELECT customer_id, product_id, occurred_at,
               CASE WHEN event_type IN ('ad_click') THEN 'click' ELSE event_type END AS kind,
               CASE event_type WHEN 'purchase' THEN {w.purchase} WHEN 'cart' THEN {w.cart}
                    WHEN 'favorite' THEN {w.favorite} WHEN 'view' THEN {w.view}
                    WHEN 'click' THEN {w.click} WHEN 'ad_click' THEN {w.click}
                    WHEN 'remove_cart' THEN -{w.cart} / 2 END AS weight,
               session_id AS basket_id, 1.0 AS quantity
        FROM events
        WHERE product_id IS NOT NULL
          AND event_type IN ('purchase', 'cart', 'favorite', 'view', 'click', 'ad_click', 'remove_cart')
          AND ({{until}} IS NULL OR occurred_at < {{until}})
    ),
    reviews_rated AS (
        SELECT customer_id, product_id, created_at AS occurred_at,
               CASE WHEN rating <= 2 THEN 'bad_review' ELSE 'good_review' END AS kind,
               CASE WHEN rating <= 2 THEN {w.bad_review} ELSE {w.good_review} END AS weight,
               order_id AS basket_id, 1.0 AS quantity
        FROM reviews
        WHERE customer_id IS NOT NULL AND product_id IS NOT NULL AND (rating <= 2 OR rating >= 4)
          AND created_at IS NOT NULL AND ({{until}} IS NULL OR created_at < {{until}})
    )
    SELECT customer_id, product_id, occurred_at, kind, CAST(weight AS DOUBLE) AS weight, basket_id,
           CAST(quantity AS DOUBLE) AS quantity FROM purchases
    UNION ALL SELECT customer_id, product_id, occurred_at, kind, CAST(weight AS DOUBLE), basket_id,
           CAST(quantity AS DOUBLE) FROM behaviour
    UNION ALL SELECT customer_id, product_id, occurred_at, kind, CAST(weight AS DOUBLE), basket_id,
           CAST(quantity AS DOUBLE) FROM reviews_rated
    """


def interactions_transform(weights: InteractionWeights | None = None, *, consented_only: bool = False) -> Transform:
    """Every interaction as one :class:`~shoplens.store.transform.Transform` (parameter ``until``),
    run on the warehouse's engine; ``consented_only`` keeps customers who allow personalisation."""
    sql = interactions_sql(weights or InteractionWeights())
    inputs: tuple[str, ...] = ("orders", "order_items", "events", "reviews", "customers")
    if consented_only:
        from shoplens.privacy.consent import CONSENT_TABLES, consent_filter_sql

        sql = f"SELECT * FROM ({sql}) WHERE {consent_filter_sql('recommendation')}"
        inputs = tuple(dict.fromkeys(inputs + CONSENT_TABLES))
    return Transform("interactions", sql, inputs=inputs, params={"until": None})


def load_interactions(
    wh: Warehouse,
    *,
    until: datetime | str | None = None,
    weights: InteractionWeights | None = None,
    consented_only: bool = False,
) -> pd.DataFrame:
    """Every interaction strictly before ``until`` (all when None).

    ``consented_only`` drops customers who refused personalisation (their data
    then shapes no model at all).

    >>> # load_interactions(wh, until="2011-11-01").columns.tolist() == COLUMNS
    """
    until_ts = pd.Timestamp(until).to_pydatetime() if until is not None else None
    frame = interactions_transform(weights, consented_only=consented_only).run(wh, until=until_ts)
    # one order for every engine: time, then the row's identity
    frame = frame.sort_values(["occurred_at", "customer_id", "product_id", "kind", "basket_id"],
                              kind="mergesort", na_position="first").reset_index(drop=True)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["product_id"] = frame["product_id"].astype(str)
    frame["basket_id"] = frame["basket_id"].astype("string")
    return frame[COLUMNS]


def load_catalogue(wh: Warehouse) -> pd.DataFrame:
    """Products with the attributes business filters and content models use."""
    return wh.query(
        "SELECT product_id, name, category, brand, price, in_stock, description FROM products"
    ).astype({"product_id": str})


def load_segments(wh: Warehouse) -> pd.DataFrame:
    """customer_id -> segment, for per-segment popularity.

    Uses the customer package's ``customer_segments`` table (``segment_name``) when
    present, else the customer's country (the one attribute most shops have).
    """
    if wh.has_table("customer_segments") and "segment_name" in wh.columns("customer_segments"):
        return wh.query("SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(segment_name AS VARCHAR) AS segment "
                        "FROM customer_segments")
    return wh.query("SELECT customer_id, country AS segment FROM customers WHERE country IS NOT NULL")


def check_interactions(frame: pd.DataFrame, what: str = "interactions") -> None:
    """Raise a clear error when a frame cannot train a recommender."""
    missing = [c for c in ("customer_id", "product_id", "occurred_at", "weight") if c not in frame.columns]
    if missing:
        raise InsufficientDataError(f"{what}: missing column(s) {', '.join(missing)}")
    positive = frame["weight"].to_numpy() > 0

    def at_least_two(column: str) -> bool:  # without counting every distinct id of a large log
        values = frame[column].to_numpy()[positive]
        return bool(len(values)) and bool((values != values[0]).any())

    if not positive.any() or not at_least_two("customer_id") or not at_least_two("product_id"):
        raise InsufficientDataError(
            f"{what}: need purchases or events of at least 2 customers and 2 products "
            "(load orders/order_items or events with `shoplens ingest` first, or pick a later --until)"
        )


def window(frame: pd.DataFrame, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Rows with ``start <= occurred_at < end``."""
    mask = pd.Series(True, index=frame.index)
    if start is not None:
        mask &= frame["occurred_at"] >= pd.Timestamp(start)
    if end is not None:
        mask &= frame["occurred_at"] < pd.Timestamp(end)
    return frame[mask]

"""Per-customer features as of a date, fused from orders, items, products, reviews,
support messages and (when the text package has run) text signals.

One SQL statement per source, joined on ``customer_id``; everything is computed
from data strictly before ``as_of`` so that the same function builds training
features at a past cut-off and live features today. Signal sources are a list
(:data:`SIGNALS`): a new source adds one entry and its columns slot into the
segments, churn model, profile and rules.

>>> [s.name for s in SIGNALS][:2]
['reviews', 'text_reviews']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from shoplens.customers.data import customer_value_sql, has_categories, has_table, purchases_sql
from shoplens.metrics import category_sql, line_value_sql
from shoplens.store.shop import local_time_sql, read_shop
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

# Behaviour features every warehouse with orders has (name -> plain-words label).
BEHAVIOUR_LABELS: dict[str, str] = {
    "orders": "orders",
    "net_revenue": "net spend",
    "aov": "average order value",
    "recency_days": "days since the last order",
    "tenure_days": "days since the first order",
    "orders_last_90d": "orders in the last 90 days",
    "avg_days_between_orders": "days between orders",
    "items_per_order": "different products per order",
    "distinct_products": "different products bought",
    "price_index": "price level paid (1 = typical price of the product)",
    "return_rate": "share of spend returned",
    "cancelled_orders": "cancelled orders",
    "discount_share": "share of orders with a discount",
    "weekend_share": "share of orders at weekends",
    "evening_share": "share of orders after 6 pm",
    "top_category_share": "share of spend in the favourite category",
}
# Every feature's label in Chinese (the behaviour features and the signals' ones), for the
# sentences generated in Chinese from the same numbers (segment traits, churn reasons).
LABELS_ZH: dict[str, str] = {
    "orders": "订单数", "net_revenue": "净消费额", "aov": "平均订单金额", "recency_days": "距上次下单天数",
    "tenure_days": "首单至今天数", "orders_last_90d": "近90天订单数", "avg_days_between_orders": "平均下单间隔天数",
    "items_per_order": "每单商品种数", "distinct_products": "购买商品种类数", "price_index": "支付价格水平（1 = 商品的通常价格）",
    "return_rate": "退货金额占比", "cancelled_orders": "取消订单数", "discount_share": "使用折扣的订单占比",
    "weekend_share": "周末订单占比", "evening_share": "晚上6点后订单占比", "top_category_share": "最爱品类消费占比",
    "reviews": "评价数", "negative_review_share": "1-2 星评价占比", "last_review_sentiment": "最近一条评价的情感",
    "review_sentiment_score": "评价情感得分", "last_text_sentiment": "最近评价文本的情感",
    "last_negative_aspect": "最近差评涉及的方面", "support_contacts": "客服会话数",
    "top_support_intent": "最常见的客服诉求", "negative_message_share": "负面客服消息占比",
}


@dataclass(frozen=True)
class Signal:
    """An optional per-customer signal source: SQL over ``as_of`` (a TIMESTAMP literal) -> customer_id + columns."""

    name: str
    available: Callable[[Warehouse], bool]
    sql: Callable[[str], str]
    labels: dict[str, str]
    inputs: tuple[str, ...] = ()


def _reviews_sql(lit: str) -> str:
    # the last review: latest created_at, ties broken by the lowest rating (deterministic on every engine)
    return f"""WITH rev_rows AS (SELECT customer_id, rating, created_at,
                   CASE WHEN rating <= 2 THEN 'negative' WHEN rating >= 4 THEN 'positive' ELSE 'neutral' END AS sentiment,
                   row_number() OVER (PARTITION BY customer_id ORDER BY (rating IS NULL), created_at DESC, rating) AS k
            FROM reviews WHERE customer_id IS NOT NULL AND created_at < {lit})
        SELECT customer_id, count(*) AS reviews,
        avg(CASE WHEN rating <= 2 THEN 1.0 ELSE 0.0 END) FILTER (WHERE rating IS NOT NULL) AS negative_review_share,
        min(sentiment) FILTER (WHERE k = 1 AND rating IS NOT NULL) AS last_review_sentiment
        FROM rev_rows GROUP BY customer_id"""


def _text_reviews_sql(lit: str) -> str:
    # CTE names are unique across all signals: Spark SQL (via sqlglot) hoists nested CTEs to one WITH
    # "last": latest created_at, ties broken by the value (deterministic on every engine)
    return f"""WITH trev_rows AS (SELECT customer_id, sentiment_score, sentiment,
                     row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC, sentiment) AS k
                     FROM text_reviews WHERE customer_id IS NOT NULL AND created_at < {lit}),
        trev_ranked AS (SELECT customer_id, aspect,
                      row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC, aspect) AS k
               FROM text_review_aspects
               WHERE polarity = 'negative' AND customer_id IS NOT NULL AND created_at < {lit}),
        trev_aspect AS (SELECT customer_id, aspect AS last_negative_aspect FROM trev_ranked WHERE k = 1)
        SELECT r.customer_id, avg(r.sentiment_score) AS review_sentiment_score,
               min(r.sentiment) FILTER (WHERE r.k = 1) AS last_text_sentiment, min(a.last_negative_aspect) AS last_negative_aspect
        FROM trev_rows r LEFT JOIN trev_aspect a USING (customer_id) GROUP BY r.customer_id"""


def _support_sql(lit: str) -> str:
    return f"""SELECT customer_id, count(DISTINCT conversation_id) AS support_contacts
        FROM support_messages WHERE customer_id IS NOT NULL AND created_at < {lit} AND sender = 'customer' GROUP BY customer_id"""


def _text_messages_sql(lit: str) -> str:
    # the most frequent intent, ties broken by name (deterministic on every engine)
    return f"""WITH tmsg_rows AS (SELECT customer_id, intent, sentiment FROM text_messages
                          WHERE customer_id IS NOT NULL AND created_at < {lit}),
        tmsg_intents AS (SELECT customer_id, intent, row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, intent) AS k
              FROM tmsg_rows WHERE intent IS NOT NULL GROUP BY customer_id, intent)
        SELECT m.customer_id, min(i.intent) AS top_support_intent,
        avg(CASE WHEN m.sentiment = 'negative' THEN 1.0 ELSE 0.0 END) AS negative_message_share
        FROM tmsg_rows m LEFT JOIN (SELECT customer_id, intent FROM tmsg_intents WHERE k = 1) i USING (customer_id)
        GROUP BY m.customer_id"""


SIGNALS: list[Signal] = [
    Signal("reviews", lambda wh: has_table(wh, "reviews"), _reviews_sql,
           {"reviews": "reviews written", "negative_review_share": "share of reviews rated 1-2 stars",
            "last_review_sentiment": "sentiment of the last review"}, ("reviews",)),
    Signal("text_reviews", lambda wh: has_table(wh, "text_reviews") and has_table(wh, "text_review_aspects"), _text_reviews_sql,
           {"review_sentiment_score": "review sentiment score", "last_text_sentiment": "sentiment of the last review text",
            "last_negative_aspect": "aspect of the last negative review"}, ("text_reviews", "text_review_aspects")),
    Signal("support", lambda wh: has_table(wh, "support_messages"), _support_sql,
           {"support_contacts": "support conversations"}, ("support_messages",)),
    Signal("text_messages", lambda wh: has_table(wh, "text_messages"), _text_messages_sql,
           {"top_support_intent": "most frequent support intent", "negative_message_share": "share of negative support messages"},
           ("text_messages",)),
]


def behaviour_sql(lit: str, with_categories: bool, zone: str = "UTC") -> str:
    """Purchase behaviour per customer before ``lit`` (one statement); weekends and evenings are the
    shop's local time in ``zone`` (``shoplens shop set --timezone``; an IANA name checked by
    :func:`shoplens.store.shop.check_timezone`).

    Written without DISTINCT aggregates and holistic ``mode()``: per-group hash sets made
    the first version run out of memory at a million customers; pre-aggregating to
    customer-day and customer-product rows keeps every step a plain streaming sum.
    """
    category = (f"""cat AS (
            SELECT customer_id, {category_sql('pr')} AS category, sum(cp.spend) AS spend
            FROM cust_product cp LEFT JOIN products pr USING (product_id) GROUP BY 1, 2),
        cat_rank AS (SELECT customer_id, category, spend,
                            row_number() OVER (PARTITION BY customer_id ORDER BY spend DESC, category) AS k FROM cat),
        cat_top AS (SELECT customer_id, min(category) FILTER (WHERE k = 1) AS top_category,
                           max(spend) / nullif(sum(spend), 0) AS top_category_share FROM cat_rank GROUP BY customer_id),"""
                if with_categories else
                "cat_top AS (SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS top_category, NULL::DOUBLE AS top_category_share),")
    local = local_time_sql("ordered_at", zone)
    return f"""
    WITH p AS NOT MATERIALIZED ({purchases_sql(lit)}),
    days AS (SELECT customer_id, ordered_at::DATE AS day FROM p GROUP BY 1, 2),
    day_stats AS (
        SELECT customer_id, count(*) AS purchase_days,
               CASE WHEN count(*) > 1 THEN date_diff('day', min(day), max(day)) / (count(*) - 1) END AS avg_days_between_orders
        FROM days GROUP BY customer_id),
    channels AS (SELECT customer_id, channel, count(*) AS n,
                        row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, channel) AS k
                 FROM p GROUP BY customer_id, channel),
    top_channel AS (SELECT customer_id, min(channel) FILTER (WHERE k = 1) AS top_channel FROM channels GROUP BY customer_id),
    cust_value AS ({customer_value_sql(lit)}),
    ord AS (
        SELECT customer_id,
               date_diff('day', max(ordered_at)::DATE, {lit}::DATE) AS recency_days,
               date_diff('day', min(ordered_at)::DATE, {lit}::DATE) AS tenure_days,
               count(*) FILTER (WHERE ordered_at >= {lit} - INTERVAL 90 DAY) AS orders_last_90d,
               avg(CASE WHEN discount > 0 THEN 1.0 ELSE 0.0 END) AS discount_share,
               avg(CASE WHEN dayofweek({local}) IN (0, 6) THEN 1.0 ELSE 0.0 END) AS weekend_share,
               avg(CASE WHEN hour({local}) >= 18 THEN 1.0 ELSE 0.0 END) AS evening_share
        FROM p GROUP BY customer_id
    ),
    product_price AS (SELECT product_id, median(unit_price) AS median_price FROM order_items WHERE quantity > 0 GROUP BY product_id),
    cust_product AS (
        SELECT o.customer_id, i.product_id, sum(i.quantity) AS units, sum({line_value_sql('i')}) AS spend
        FROM (SELECT order_id, customer_id FROM p) o
        JOIN (SELECT order_id, product_id, quantity, unit_price, discount, amount FROM order_items WHERE quantity > 0) i USING (order_id)
        GROUP BY o.customer_id, i.product_id
    ),
    items AS (
        SELECT cp.customer_id, sum(cp.units) AS units, count(*) AS distinct_products,
               sum(cp.spend) / nullif(sum(cp.units * pp.median_price), 0) AS price_index
        FROM cust_product cp JOIN product_price pp USING (product_id) GROUP BY cp.customer_id
    ),
    basket AS (
        SELECT o.customer_id, count(*) / count(DISTINCT o.order_id) AS items_per_order
        FROM (SELECT order_id, customer_id FROM p) o
        JOIN (SELECT DISTINCT order_id, product_id FROM order_items WHERE quantity > 0) i USING (order_id)
        GROUP BY o.customer_id
    ),
    cancelled AS (
        SELECT customer_id, count(*) AS cancelled_orders
        FROM orders WHERE status = 'cancelled' AND customer_id IS NOT NULL AND ordered_at < {lit} GROUP BY customer_id
    ),
    {category}
    joined AS (
        SELECT ord.customer_id, cust_value.orders, cust_value.gross_revenue, ord.recency_days, ord.tenure_days, ord.orders_last_90d,
               ord.discount_share, ord.weekend_share, ord.evening_share,
               ds.avg_days_between_orders, tc.top_channel, cust_value.net_revenue, cust_value.average_order_value AS aov,
               cust_value.returned_value / nullif(cust_value.gross_revenue, 0) AS return_rate,
               coalesce(cancelled.cancelled_orders, 0) AS cancelled_orders,
               basket.items_per_order, items.distinct_products, items.price_index,
               cat_top.top_category, cat_top.top_category_share
        FROM ord JOIN cust_value USING (customer_id) LEFT JOIN day_stats ds USING (customer_id)
        LEFT JOIN top_channel tc USING (customer_id) LEFT JOIN items USING (customer_id)
        LEFT JOIN cancelled USING (customer_id) LEFT JOIN cat_top USING (customer_id) LEFT JOIN basket USING (customer_id)
    )
    SELECT * FROM joined
    """


def features_transform(wh: Warehouse, *, signals: bool = True) -> Transform:
    """The profile-features transform for what ``wh`` holds (categories, signal sources); parameter ``as_of``."""
    sql = behaviour_sql("{as_of}", has_categories(wh), read_shop(wh).timezone)
    inputs = ["orders", "order_items", "products"]
    if signals:
        for s in SIGNALS:
            if s.available(wh):
                cols = "".join(f", s.{c}" for c in s.labels)
                sql = f"SELECT b.*{cols} FROM ({sql}) b LEFT JOIN ({s.sql('{as_of}')}) s USING (customer_id)"
                inputs += s.inputs
    return Transform("customer_features", sql + " ORDER BY customer_id", inputs=tuple(inputs))


def _as_datetime(day: date) -> datetime:
    """Midnight of ``day`` (datetimes pass through)."""
    return day if isinstance(day, datetime) else datetime(day.year, day.month, day.day)


def customer_features(wh: Warehouse, as_of: date, *, signals: bool = True,
                      cache: FeatureCache | None = None) -> pd.DataFrame:
    """One row per customer with at least one purchase before ``as_of``: behaviour plus available signals.

    Runs as one :class:`~shoplens.store.transform.Transform` on the warehouse's engine.
    With ``cache``, a date already computed in this run is served from it (a copy).
    """
    if cache is not None:
        return cache.get(wh, as_of, signals=signals)
    frame = features_transform(wh, signals=signals).run(wh, as_of=_as_datetime(as_of))
    for col in ("reviews", "support_contacts"):
        if col in frame:
            frame[col] = frame[col].fillna(0)
    # sums and averages run in another order on Spark (and vary with its task order): the
    # last bits differ, which can move a value across a tree model's bin edge. Rounded to 9
    # decimals, every engine hands the models the same numbers.
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    frame[floats] = frame[floats].round(9)
    return frame


class FeatureCache:
    """Customer features shared by the steps of one run: each (warehouse, date) is computed once.

    Churn, rules, segments and the profile all read the features at the last order
    date, and churn and rules also at one and two horizons before it; on a million
    customers each computation takes seconds. Create one cache per run, pass it to
    each step, and drop it afterwards: it does not notice later changes to the
    orders, so it must not outlive the data it was filled from.

    >>> cache = FeatureCache()
    >>> len(cache)
    0
    """

    def __init__(self) -> None:
        self._frames: dict[tuple[str, datetime, bool], pd.DataFrame] = {}

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, wh: Warehouse, as_of: date, *, signals: bool = True) -> pd.DataFrame:
        """:func:`customer_features` at ``as_of``, computed on the first request only (callers get a copy)."""
        ts = _as_datetime(as_of)
        key = (str(wh.path), ts, signals)
        if key not in self._frames:
            self._frames[key] = customer_features(wh, ts, signals=signals)
        return self._frames[key].copy()


def feature_labels(frame: pd.DataFrame) -> dict[str, str]:
    """Plain-words label of every feature column present in ``frame``."""
    labels = dict(BEHAVIOUR_LABELS)
    for s in SIGNALS:
        labels.update(s.labels)
    return {c: labels[c] for c in frame.columns if c in labels}


def numeric_features(frame: pd.DataFrame) -> list[str]:
    """Numeric feature columns (model inputs) present in ``frame``."""
    return [c for c in feature_labels(frame) if pd.api.types.is_numeric_dtype(frame[c])]

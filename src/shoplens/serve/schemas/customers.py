"""Schemas of the customers and segments resources: the customer 360, segment profiles and
members, and a segment's export.

The profile's fields are the canonical ``customers`` table's columns (:mod:`shoplens.schema`),
PII masked, so a new column is documented as soon as the schema has it.

>>> sorted(CustomerProfile.model_fields)[:3]
['address', 'birth_year', 'city']
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from shoplens.schema import TABLES
from shoplens.serve.schemas import ApiModel, Number, Row, Time

_TYPES: dict[str, Any] = {"VARCHAR": str, "TIMESTAMP": Time, "INTEGER": int, "BIGINT": int, "BOOLEAN": bool,
                          "DOUBLE": Number, "DATE": Time}


def _table_row(name: str, table: str) -> type[Row]:
    """A row model of a canonical table: every column, with its description (PII: masked)."""
    fields: dict[str, Any] = {}
    for c in TABLES[table].columns:
        about = " ".join(p for p in (c.description, "masked (PII)" if c.pii else "") if p) or None
        fields[c.name] = (_TYPES.get(c.type, Any) | None, Field(None, description=about))
    return create_model(name, __base__=Row, **fields)


CustomerProfile = _table_row("CustomerProfile", "customers")


class Purchases(ApiModel):
    orders: int | None = Field(None, description="purchases (shoplens.metrics)")
    net_revenue: Number | None = Field(None, description="purchases minus returns (shoplens.metrics)")
    first_order_at: Time | None = None
    last_order_at: Time | None = None
    currency: str | None = None


class MonthRevenue(Row):
    month: str | None = Field(None, description="YYYY-MM")
    revenue: Number | None = None


class SegmentOfCustomer(Row):
    segment_id: int | None = None
    segment_name: str | None = None
    segment_name_zh: str | None = Field(None, description="the segment's name in Chinese")
    as_of: Time | None = None


class Rfm(Row):
    as_of: Time | None = None
    first_order_at: Time | None = None
    last_order_at: Time | None = None
    recency_days: int | None = None
    frequency: int | None = None
    monetary: Number | None = None
    gross_value: Number | None = None
    returned_value: Number | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_code: str | None = None
    segment: str | None = Field(None, description="RFM segment name")
    segment_zh: str | None = None


class Clv(Row):
    clv: Number | None = Field(None, description="expected value over horizon_months")
    horizon_months: int | None = None
    expected_purchases: Number | None = None
    expected_purchases_pareto_nbd: Number | None = None
    expected_spend: Number | None = None
    p_alive: Number | None = None
    p_alive_basis: str | None = None
    p_alive_pareto_nbd: Number | None = None
    p_purchase_90d: Number | None = None
    frequency: Number | None = None
    recency: Number | None = None
    T: Number | None = Field(None, description="customer age in the model's time unit")
    monetary_value: Number | None = None
    calibration_end: Time | None = None


class Churn(Row):
    churn_risk: Number | None = Field(None, description="probability in [0, 1]")
    risk_band: str | None = Field(None, description="low, medium or high")
    reasons: str | None = None
    reasons_zh: str | None = Field(None, description="the reasons in Chinese, from the same numbers")
    top_reason_feature: str | None = None
    as_of: Time | None = None


class ScoresComputedAt(ApiModel):
    customer_segments: Time | None = None
    customer_rfm: Time | None = None
    customer_clv: Time | None = None
    customer_churn: Time | None = None


class ProductSeen(Row):
    product_id: str | None = None
    name: str | None = None
    at: Time | None = Field(None, description="the latest such event")


class Activity(ApiModel):
    """Behaviour counters from the ``events`` table, current as soon as events are folded in."""

    events: int = Field(description="behaviour events of this customer")
    views: int = Field(description="product views")
    carts: int = Field(description="basket adds")
    last_seen: Time | None = Field(None, description="the latest event")
    recently_viewed: list[ProductSeen] = Field(description="latest viewed products, latest first")
    in_cart: list[ProductSeen] = Field(description="in the basket now (added, not removed since)")


class CustomerOut(ApiModel):
    """The customer 360. ``segment``, ``rfm``, ``clv``, ``churn`` and ``computed_at`` are present only
    when the customer's consent allows personalisation (null: not computed), as is ``activity``; otherwise ``note``."""

    customer_id: str = Field(description="the shop's own customer id, as given")
    profile: CustomerProfile  # type: ignore[valid-type]
    attributes: dict[str, str | float | int | bool | None] = Field(
        default_factory=dict, description="what the shop's customers file says beyond the canonical columns "
                                          "(customer_attributes), typed, by name")
    purchases: Purchases
    orders_by_month: list[MonthRevenue]
    personalization_allowed: bool
    segment: SegmentOfCustomer | None = None
    rfm: Rfm | None = None
    clv: Clv | None = None
    churn: Churn | None = None
    computed_at: ScoresComputedAt | None = None
    activity: Activity | None = Field(None, description="live behaviour counters (with consent)")
    note: str | None = Field(None, description="why scores are not shown")


class SegmentProfile(Row):
    segment_id: int | None = None
    segment_name: str | None = None
    segment_name_zh: str | None = Field(None, description="the segment's name in Chinese")
    description: str | None = Field(None, description="the segment in plain words")
    traits: str | None = None
    description_zh: str | None = Field(None, description="the description in Chinese, from the same numbers")
    traits_zh: str | None = Field(None, description="the traits in Chinese, from the same numbers")
    customers: int | None = None
    share_of_customers: Number | None = None
    share_of_revenue: Number | None = None
    avg_orders: Number | None = None
    avg_net_revenue: Number | None = None
    avg_aov: Number | None = None
    avg_items_per_order: Number | None = None
    avg_distinct_products: Number | None = None
    avg_recency_days: Number | None = None
    avg_reviews: Number | None = None
    avg_negative_review_share: Number | None = None
    avg_support_contacts: Number | None = None
    avg_tenure_days: Number | None = None
    avg_avg_days_between_orders: Number | None = None
    avg_price_index: Number | None = None
    avg_return_rate: Number | None = None
    avg_top_category_share: Number | None = None
    avg_discount_share: Number | None = None
    avg_weekend_share: Number | None = None
    avg_evening_share: Number | None = None
    avg_review_sentiment_score: Number | None = None
    avg_negative_message_share: Number | None = None
    # one avg_<feature> per clustering feature that varies (shoplens.customers.segments.CLUSTER_FEATURES)


class SegmentRow(SegmentProfile):
    avg_clv: Number | None = Field(None, description="members' average CLV (when CLV is computed)")


class SegmentOut(SegmentProfile):
    computed_at: Time | None = None


class Member(Row):
    customer_id: str | None = Field(None, description="the shop's own customer id")
    clv: Number | None = None
    churn_risk: Number | None = None
    risk_band: str | None = None


class ExportIn(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="file name under exports/ (no extension)")


class ExportOut(ApiModel):
    path: str = Field(description="the CSV written, relative to the warehouse folder")
    exported: int
    excluded_without_consent: int = Field(description="members left out: refused, never asked or not a customer")

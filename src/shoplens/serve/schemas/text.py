"""Schemas of the text resource: text analysis and the review insights page.

>>> TextIn(text="great fit").lang
'auto'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel, Number, Row, Time

TextField = Annotated[str, Field(min_length=1, max_length=20_000)]
Lang = Annotated[str, Field(pattern=r"^(auto|en|zh)$", description="auto, en or zh")]


class TextIn(BaseModel):
    text: TextField
    lang: Lang = "auto"


class BatchIn(BaseModel):
    texts: list[TextField] = Field(min_length=1, max_length=1000)
    lang: Lang = "auto"


class Aspect(ApiModel):
    aspect: str | None = None
    polarity: str | None = None
    evidence: str | None = Field(None, description="the words that mention it (PII masked)")


class Entity(ApiModel):
    type: str | None = Field(None, description="order, price, size, colour, date, product...")
    text: str | None = None
    start: int | None = None
    end: int | None = None


class Analysis(ApiModel):
    text: str = Field(description="the text, PII masked")
    language: str | None = None
    sentiment: str | None = None
    sentiment_score: Number | None = None
    aspects: list[Aspect]
    entities: list[Entity]
    intent: str | None = Field(None, description="support intent")
    intent_score: Number | None = None


class BatchOut(ApiModel):
    data: list[Analysis]
    count: int


class InsightsQuery(BaseModel):
    quotes: int = Field(3, ge=0, le=10, description="quotes per complaint")
    limit: int = Field(10, ge=1, le=100, description="complaints listed")


class MonthSentiment(Row):
    month: str | None = Field(None, description="YYYY-MM")
    reviews: int | None = None
    positive_share: Number | None = None
    negative_share: Number | None = None
    mean_score: Number | None = None


class AspectCount(Row):
    label: str | None = Field(None, description="aspect · product")
    negative: int | None = None
    mentions: int | None = None


class Complaint(Row):
    aspect: str | None = None
    product_id: str | None = Field(None, description="the product's id (its page: GET /products/{product_id})")
    product: str | None = None
    negative: int | None = None
    mentions: int | None = None
    negative_share: Number | None = None
    quotes: list[str] | None = Field(None, description="PII masked")


class Emerging(Row):
    aspect: str | None = None
    period: str | None = None
    previous_period: str | None = None
    mentions: Number | None = None
    mentions_previous: Number | None = None
    negative: Number | None = None
    negative_previous: Number | None = None
    negative_share: Number | None = None
    negative_share_previous: Number | None = None
    change: Number | None = None
    z: Number | None = None
    p_value: Number | None = None
    significant: bool | None = None


class ReviewInsightsOut(ApiModel):
    computed_at: Time | None = Field(None, description="when the reviews were analysed")
    demo_links: bool | None = Field(None, description="true: the bundled demo's reviews, real texts whose links to "
                                    "customers and products were assigned by its build script (see its SOURCE.md)")
    sentiment_by_month: list[MonthSentiment]
    aspects: list[AspectCount]
    complaints: list[Complaint]
    emerging: list[Emerging] = Field(description="complaints growing significantly (empty: too little history)")

"""Schemas of the recommendations resource: a customer's list, similar items, bought together.

>>> RecsQuery(n=5).n
5
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel, Number, Row, Time

K = Annotated[int, Field(ge=1, le=100, description="how many items")]


class RecsQuery(BaseModel):
    n: K = 10
    exclude_purchased: bool = Field(False, description="leave out what the customer bought")
    in_stock_only: bool = False
    category: list[str] | None = Field(None, max_length=50, description="only these categories")
    price_min: float | None = Field(None, ge=0, le=1e9)
    price_max: float | None = Field(None, ge=0, le=1e9)
    max_per_category: int | None = Field(None, ge=1, le=100)
    live: bool = Field(True, description="also use the customer's or visitor's latest behaviour events "
                                         "(false: the served model's answer alone)")


class ItemsQuery(BaseModel):
    n: K = 10


class Recommendation(Row):
    rank: int | None = None
    product_id: str | None = None
    name: str | None = None
    score: Number | None = Field(None, description="in [0, 1]")
    reason: str | None = Field(None, description="why, in words")
    personalised: bool | None = Field(None, description="ranked from the customer's own history")


class RecommendationsOut(ApiModel):
    customer_id: str = Field(description="as given")
    model: str = Field(description="the served recommender's registry name")
    model_version: int
    personalised: bool = Field(description="true only when the list used the customer's history")
    data: list[Recommendation]
    count: int


class SimilarItem(Row):
    product_id: str | None = None
    rank: int | None = None
    similar_product_id: str | None = None
    name: str | None = None
    score: Number | None = None


class SimilarOut(ApiModel):
    product_id: str
    model: str
    model_version: int
    data: list[SimilarItem]
    count: int


class BoughtWith(Row):
    rank: int | None = None
    together_product_id: str | None = None
    together_product_id_name: str | None = Field(None, description="its product name")
    confidence: Number | None = None
    lift: Number | None = None
    support: Number | None = None


class BoughtTogetherOut(ApiModel):
    product_id: str
    computed_at: Time | None = Field(None, description="when the association rules were mined")
    data: list[BoughtWith]
    count: int

"""Schemas of the products resource: a category's products and one product's page (the dashboard's
drill-downs from the overview and the reviews).

>>> ProductSales(revenue=12.5, units=3).units
3
"""

from __future__ import annotations

from pydantic import Field

from shoplens.serve.schemas import COMPUTED_ON_REQUEST, ApiModel, Number, Row, Time
from shoplens.serve.schemas.system import ProductRevenue


class ProductSales(ApiModel):
    revenue: Number | None = Field(None, description="net revenue (purchases minus returns; shoplens.metrics)")
    units: Number | None = Field(None, description="units on lines of purchases and returns (returns negative)")
    orders: int | None = Field(None, description="purchases with this product")
    customers: int | None = Field(None, description="customers who bought it")


class ProductMonth(Row):
    month: str | None = Field(None, description="YYYY-MM")
    revenue: Number | None = None
    units: Number | None = None


class ReviewQuote(Row):
    created_at: Time | None = None
    rating: int | None = None
    sentiment: str | None = Field(None, description="positive, neutral or negative (null: not analysed)")
    text: str | None = Field(None, description="title and text, PII masked")


class ProductReviews(ApiModel):
    reviews: int = Field(description="reviews of this product")
    demo_links: bool | None = Field(None, description="true: the bundled demo's reviews, real texts whose links to "
                                    "customers and products were assigned by its build script (see its SOURCE.md)")
    negative: int | None = None
    neutral: int | None = None
    positive: int | None = None
    analysed: bool | None = Field(None, description="whether `shoplens text analyze` scored them")
    average_rating: Number | None = Field(None, description="1-5, over rated reviews")
    quotes: list[ReviewQuote] = Field(description="the latest reviews, negative first")


class ProductOut(ApiModel):
    product_id: str
    name: str | None = None
    category: str | None = None
    currency: str | None = None
    sales: ProductSales
    revenue_by_month: list[ProductMonth]
    reviews: ProductReviews
    computed_at: Time = Field(description=COMPUTED_ON_REQUEST)


class CategoryProduct(ProductRevenue):
    orders: int | None = Field(None, description="purchases with this product")


class CategoryProductsOut(ApiModel):
    category: str
    products: int = Field(description="products of this category that sold")
    data: list[CategoryProduct] = Field(description="the category's products, most net revenue first")
    currency: str | None = None
    computed_at: Time = Field(description=COMPUTED_ON_REQUEST)

"""Schemas of the system resource: health, status, overview, data quality, audit log.

>>> Health(status="ok", version="1.0").status
'ok'
"""

from __future__ import annotations

from pydantic import Field

from shoplens.serve.schemas import COMPUTED_ON_REQUEST, ApiModel, Number, PageQuery, Row, Time

class Health(ApiModel):
    status: str = Field(description="always `ok` while the server answers")
    version: str = Field(description="shoplens version")

class TableStatus(ApiModel):
    rows: int
    min_time: Time | None = Field(None, description="earliest event time (tables with a time column)")
    max_time: Time | None = None
    last_ingest: Time | None = Field(None, description="when the table was last loaded")

class Computed(Row):
    name: str | None = Field(None, description="result table or `model:NAME`")
    kind: str | None = None
    computed_at: Time | None = None
    rows: int | None = None

class PromotedModel(Row):
    name: str | None = None
    version: int | None = None
    created_at: Time | None = None
    data_start: Time | None = Field(None, description="training data window (null: no start)")
    data_end: Time | None = None

class DriftThresholds(ApiModel):
    moderate: Number | None = Field(None, description="PSI above this: moderate drift")
    significant: Number | None = Field(None, description="PSI above this: significant drift")

class DriftSettings(ApiModel):
    bins: int | None = None
    recent_days: int | None = None
    thresholds: DriftThresholds | None = None

class DriftCheck(Row):
    kind: str | None = Field(None, description="`feature` (order features, PSI) or a text model's confidence")
    feature: str | None = None
    psi: Number | None = Field(None, description="population stability index")
    status: str | None = Field(None, description="ok, moderate or significant")
    reference_start: Time | None = None
    reference_end: Time | None = None
    reference_n: int | None = None
    reference_mean: Number | None = None
    current_start: Time | None = None
    current_end: Time | None = None
    current_n: int | None = None
    current_mean: Number | None = None
    checked_at: Time | None = None

class Drift(ApiModel):
    """The latest drift checks (``shoplens drift``); ``{}`` when never run."""

    computed_at: Time | None = None
    thresholds: DriftThresholds | None = None
    settings: DriftSettings | None = None
    checks: list[DriftCheck] | None = None
    drifted: list[str] | None = Field(None, description="features with significant drift")

class StatusOut(ApiModel):
    version: str
    tables: dict[str, TableStatus] = Field(description="per canonical table")
    computed: list[Computed] = Field(description="when each result and model was last computed")
    models: list[PromotedModel] = Field(description="promoted model versions")
    drift: Drift

class Kpis(ApiModel):
    customers: int | None = Field(None, description="customers with a purchase")
    orders: int | None = Field(None, description="purchases")
    revenue: Number | None = Field(None, description="net revenue (purchases minus returns; shoplens.metrics)")
    gross_revenue: Number | None = None
    returned_value: Number | None = None
    average_order_value: Number | None = Field(None, description="net revenue / orders")
    repeat_purchase_rate: Number | None = None
    cancellations: int | None = None
    currency: str | None = None
    first_order: Time | None = None
    last_order: Time | None = None

class MonthRevenue(Row):
    month: str | None = None
    revenue: Number | None = None
    orders: int | None = None
    customers: int | None = None

class CategoryRevenue(Row):
    category: str | None = None
    revenue: Number | None = None
    units: Number | None = None
    orders: int | None = None

class ProductRevenue(Row):
    product_id: str | None = None
    name: str | None = None
    category: str | None = None
    revenue: Number | None = None
    units: Number | None = None
    customers: int | None = None

class OverviewOut(ApiModel):
    kpis: Kpis
    revenue_by_month: list[MonthRevenue]
    top_categories: list[CategoryRevenue]
    top_products: list[ProductRevenue]
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)

class QuarantineCount(Row):
    table: str | None = None
    rows: int | None = None

class QuarantineReason(Row):
    table: str | None = None
    reason: str | None = Field(None, description="why the rows were quarantined (the shop's own ids)")
    rows: int | None = None

class IngestRun(Row):
    run_id: str | None = None
    table: str | None = None
    finished_at: Time | None = None
    read: int | None = None
    loaded: int | None = None
    updated: int | None = None
    quarantined: int | None = None
    duplicates: int | None = None
    seconds: Number | None = None

class QualityOut(ApiModel):
    quarantine_by_table: list[QuarantineCount]
    quarantine_reasons: list[QuarantineReason]
    ingest_runs: list[IngestRun] = Field(description="the last 50 ingest runs, newest first")
    drift: Drift
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)

class AuditEntry(Row):
    at: Time | None = None
    event: str | None = Field(None, description="`request`, or `erasure`")
    key_id: str | None = None
    role: str | None = None
    method: str | None = None
    path: str | None = Field(None, description="the route template, never the concrete path")
    status: int | None = None
    customers: list[str] | None = Field(None, description="customers read, as keyed hashes")
    client: str | None = None
    erasure_id: str | None = Field(None, description="erasure events: the erasure's id")
    via: str | None = Field(None, description="erasure events: api:KEY, cli or python")
    removed: int | None = Field(None, description="erasure events: rows and items removed")
    reported: int | None = Field(None, description="erasure events: files reported, left untouched")
    prev: str | None = Field(None, description="SHA-256 of the previous line (the chain)")



class AuditQuery(PageQuery):
    customer: str | None = Field(None, max_length=200, description="only reads of this customer")

class SummaryPeriod(ApiModel):
    days: int = Field(description="length of each compared period in days")
    start: str | None = Field(None, description="first day of the last period (null: no orders)")
    end: str | None = Field(None, description="day after the last order (exclusive end)")
    last: str | None = Field(None, description="last day of the last period")
    previous_start: str | None = Field(None, description="first day of the period compared with")

class SummaryChange(ApiModel):
    metric: str = Field(description="revenue (net), customers, orders or complaints (shoplens.metrics)")
    label: str = Field(description="the metric's name in the requested language")
    current: Number = Field(description="value in the last period")
    previous: Number = Field(description="value in the period before")
    change: Number | None = Field(None, description="relative change (0.1 = +10%); null when the previous was 0")
    text: str = Field(description="the change in words")

class SummaryCause(ApiModel):
    kind: str = Field(description="product, category, segment or aspect")
    key: str = Field(description="the shop's id (product id, category, segment name, aspect)")
    name: str = Field(description="what people call it")
    change: Number = Field(description="change of net revenue (complaints for an aspect)")
    share_of_change: Number | None = Field(None, description="its share of the revenue change")
    text: str

class SummaryAction(ApiModel):
    kind: str = Field(description="rule, churn or reorder")
    key: str
    command: str | None = Field(None, description="the shoplens command that starts it")
    text: str

class SummaryOut(ApiModel):
    lang: str
    currency: str | None = None
    period: SummaryPeriod
    headings: dict[str, str] = Field(description="section titles in the requested language")
    period_text: str = Field(description="the periods compared, in words")
    changes: list[SummaryChange]
    why: list[SummaryCause]
    actions: list[SummaryAction]
    lines: list[str] = Field(description="the summary as `shoplens summary` prints it")
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)

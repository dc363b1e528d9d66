"""Customers (profile with segment, CLV, churn risk and reasons) and segments (list, describe,
members, consent-respecting export).

Results come from the customers package's tables (``customer_segments``,
``customer_segment_profiles``, ``customer_clv``, ``customer_churn``, ``customer_rfm``);
ids in and out are the shop's own; per-customer scores are shown only for customers
whose consent allows personalisation; personal data is masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from shoplens.errors import NotComputedError, NotFoundError
from shoplens.metrics import customer_value_sql, revenue_orders_sql
from shoplens.privacy.consent import _allowed_internal, consent_filter_sql
from shoplens.privacy.ids import to_external, to_internal
from shoplens.schema import TABLES
from shoplens.serve.deps import Admin, Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.schemas import Page, clean, page, records
from shoplens.store.warehouse import Warehouse, first_row

router = APIRouter(tags=["customers"])
API = "/api/v1"
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")]
PII_COLUMNS = [c.name for c in TABLES["customers"].columns if c.pii]
HOW = {
    "customer_segments": "shoplens segments (or shoplens demo)",
    "customer_segment_profiles": "shoplens segments (or shoplens demo)",
    "customer_clv": "shoplens clv",
    "customer_churn": "shoplens churn",
    "customer_rfm": "shoplens rfm",
}


def require_table(wh: Warehouse, name: str) -> None:
    if not wh.has_table(name):
        raise NotComputedError(f"{name} is not computed yet: run `{HOW.get(name, 'shoplens demo')}`")


def computed_at(wh: Warehouse, name: str) -> str | None:
    row = first_row(wh.con.execute("SELECT computed_at FROM _computed WHERE name = ?", [name]))
    return row[0].isoformat() if row else None


def mask(value: Any) -> Any:
    from shoplens.privacy.operators import mask_value

    return None if value is None else mask_value(str(value))


def one_row(wh: Warehouse, table: str, customer: str) -> dict[str, Any] | None:
    if not wh.has_table(table):
        return None
    rows = records(wh.query(f'SELECT * EXCLUDE (customer_id) FROM "{table}" WHERE customer_id = ? LIMIT 1',
                            [customer]))
    return rows[0] if rows else None


def purchase_summary(wh: Warehouse, customer: str) -> dict[str, Any]:
    """Orders, net revenue (as defined in :mod:`shoplens.metrics`), first and last purchase of one customer."""
    row = records(wh.con.execute(
        f"""SELECT orders, round(net_revenue, 2) AS net_revenue, first_order_at, last_order_at
            FROM ({customer_value_sql(customer='$customer')}) v""", {"customer": customer}).df())
    summary = row[0] if row else {"orders": 0, "net_revenue": 0.0, "first_order_at": None, "last_order_at": None}
    currency = first_row(wh.con.execute("SELECT min(currency) FROM orders WHERE customer_id = ?", [customer]))
    return clean({**summary, "currency": currency[0] if currency else None})


@router.get(f"{API}/customers/{{customer_id}}")
def customer_profile(customer_id: CustomerId, request: Request, wh: WarehouseDep, key: Analyst) -> dict[str, Any]:
    """Customer 360: masked profile, purchase summary, and (with consent) segment, CLV, churn risk and reasons."""
    internal = to_internal(wh, [customer_id])[0]
    found = wh.query("SELECT * FROM customers WHERE customer_id = ?", [internal])
    audit_customers(request, [customer_id])
    if found.empty:
        raise NotFoundError(f"no customer {customer_id!r} in the warehouse")
    base = records(found)[0]
    for column in PII_COLUMNS:
        if column in base:
            base[column] = mask(base[column])
    base["customer_id"] = customer_id
    purchases = purchase_summary(wh, internal)
    by_month = wh.con.execute(
        f"""SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month, round(sum(amount), 2) AS revenue
            FROM ({revenue_orders_sql(customer='$customer')}) m GROUP BY 1 ORDER BY 1""", {"customer": internal}).df()
    profile: dict[str, Any] = {"customer_id": customer_id, "profile": base, "purchases": purchases,
                               "orders_by_month": records(by_month)}
    personalised = bool(_allowed_internal(wh, [internal], "profile", default=request.app.state.consent_default))
    profile["personalization_allowed"] = personalised
    if personalised:
        profile["segment"] = one_row(wh, "customer_segments", internal)
        profile["rfm"] = one_row(wh, "customer_rfm", internal)
        profile["clv"] = one_row(wh, "customer_clv", internal)
        profile["churn"] = one_row(wh, "customer_churn", internal)
        profile["computed_at"] = {t: computed_at(wh, t) for t in
                                  ("customer_segments", "customer_rfm", "customer_clv", "customer_churn")}
    else:
        profile["note"] = "this customer has not consented to personalisation: scores are not shown"
    return clean(profile)


@router.get(f"{API}/segments", response_model=Page)
def list_segments(wh: WarehouseDep, key: Viewer, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Behavioural segments: size, share of revenue, description and average CLV."""
    require_table(wh, "customer_segment_profiles")
    clv = ""
    if wh.has_table("customer_clv"):
        clv = """, (SELECT round(avg(c.clv), 2) FROM customer_segments s JOIN customer_clv c USING (customer_id)
                    WHERE s.segment_id = p.segment_id) AS avg_clv"""
    frame = wh.query(f"SELECT p.* {clv} FROM customer_segment_profiles p ORDER BY p.customers DESC")
    return page(frame, limit, offset)


@router.get(f"{API}/segments/{{segment_id}}")
def describe_segment(segment_id: Annotated[int, Path(ge=0, le=1_000_000)], wh: WarehouseDep,
                     key: Viewer) -> dict[str, Any]:
    """One segment's profile, with when it was computed."""
    require_table(wh, "customer_segment_profiles")
    rows = records(wh.query("SELECT * FROM customer_segment_profiles WHERE segment_id = ?", [segment_id]))
    if not rows:
        raise NotFoundError(f"no segment {segment_id} (see GET /api/v1/segments)")
    return {**rows[0], "computed_at": computed_at(wh, "customer_segment_profiles")}


def _members(wh: Warehouse, segment_id: int, need: str, default: Any) -> list[str]:
    require_table(wh, "customer_segments")
    rows = wh.con.execute(
        f"SELECT customer_id FROM customer_segments WHERE segment_id = ? AND "
        f"{consent_filter_sql(need, default=default)} "
        "ORDER BY customer_id", [segment_id]).fetchall()
    return [r[0] for r in rows]


@router.get(f"{API}/segments/{{segment_id}}/members", response_model=Page)
def segment_members(segment_id: Annotated[int, Path(ge=0, le=1_000_000)], request: Request, wh: WarehouseDep,
                    key: Analyst, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Members of a segment who consent to personalisation, with CLV and churn risk when computed."""
    members = _members(wh, segment_id, "profile", request.app.state.consent_default)
    chunk = members[offset: offset + limit]
    rows = []
    clv = wh.has_table("customer_clv")
    churn = wh.has_table("customer_churn")
    if chunk:
        frame = wh.query(
            f"""SELECT s.customer_id {', c.clv' if clv else ''} {', h.churn_risk, h.risk_band' if churn else ''}
                FROM (SELECT unnest(?::VARCHAR[]) AS customer_id) s
                {'LEFT JOIN customer_clv c USING (customer_id)' if clv else ''}
                {'LEFT JOIN customer_churn h USING (customer_id)' if churn else ''}""", [chunk])
        frame["customer_id"] = to_external(wh, frame["customer_id"].tolist())
        rows = records(frame[frame["customer_id"].notna()])  # an id without a shop id (erased) never leaves
    audit_customers(request, [r["customer_id"] for r in rows])
    return Page(data=rows, count=len(members), limit=limit, offset=offset)


class ExportIn(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="file name under exports/ (no extension)")


class ExportOut(BaseModel):
    path: str
    exported: int
    excluded_without_consent: int


@router.post(f"{API}/segments/{{segment_id}}/export", response_model=ExportOut)
def export_segment(segment_id: Annotated[int, Path(ge=0, le=1_000_000)], body: ExportIn, request: Request,
                   wh: WarehouseDep, key: Admin) -> ExportOut:
    """Export a segment for a campaign: only customers who consent to marketing (refused, never
    asked and unknown ids are counted in ``excluded_without_consent``, never exported)."""
    from shoplens.privacy.export import _export_internal

    require_table(wh, "customer_segments")
    everyone = [r[0] for r in wh.con.execute(
        "SELECT customer_id FROM customer_segments WHERE segment_id = ?", [segment_id]).fetchall()]
    if not everyone:
        raise NotFoundError(f"no segment {segment_id} (see GET /api/v1/segments)")
    result = _export_internal(wh, everyone, body.name, purpose="marketing", default=request.app.state.consent_default)
    return ExportOut(path=str(result.path.relative_to(wh.home)), exported=result.exported,
                     excluded_without_consent=len(everyone) - result.exported)

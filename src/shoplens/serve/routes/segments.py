"""Segments: list, describe, members (who consent to personalisation) and the consent-respecting
export for a campaign, over :mod:`shoplens.customers.segments`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from shoplens.serve.deps import Admin, Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, PageQuery, page
from shoplens.serve.schemas.customers import ExportIn, ExportOut, Member, SegmentOut, SegmentRow

router = ResourceRouter(prefix="/segments", tags=["segments"])
SegmentId = Annotated[int, Path(ge=0, le=1_000_000)]


@router.get("", response_model=Page[SegmentRow])
def list_segments(wh: WarehouseDep, key: Viewer, query: Annotated[PageQuery, Query()]) -> Page:
    """Behavioural segments: size, share of revenue, description and average CLV."""
    from shoplens.customers.segments import segment_profiles

    return page(segment_profiles(wh), query.limit, query.offset)


@router.get("/{segment_id}", response_model=SegmentOut)
def describe_segment(segment_id: SegmentId, wh: WarehouseDep, key: Viewer) -> dict:
    """One segment's profile, with when it was computed."""
    from shoplens.customers.segments import segment_profile

    return segment_profile(wh, segment_id)


@router.get("/{segment_id}/members", response_model=Page[Member])
def segment_members(segment_id: SegmentId, request: Request, wh: WarehouseDep, key: Analyst,
                    query: Annotated[PageQuery, Query()]) -> Page:
    """Members of a segment who consent to personalisation, with CLV and churn risk when computed."""
    from shoplens.customers.segments import segment_members as members

    rows, count = members(wh, segment_id, limit=query.limit, offset=query.offset,
                          consent_default=request.app.state.consent_default)
    audit_customers(request, [r["customer_id"] for r in rows])
    return Page(data=rows, count=count, limit=query.limit, offset=query.offset)


@router.post("/{segment_id}/export", response_model=ExportOut)
def export_segment(segment_id: SegmentId, body: ExportIn, request: Request, wh: WarehouseDep, key: Admin) -> dict:
    """Export a segment for a campaign: only customers who consent to marketing (refused, never
    asked and unknown ids are counted in ``excluded_without_consent``, never exported)."""
    from shoplens.customers.segments import export_segment as export

    return export(wh, segment_id, body.name, consent_default=request.app.state.consent_default)

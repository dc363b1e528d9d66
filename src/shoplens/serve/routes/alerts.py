"""Alerts: what the alert rules found (emerging complaints, drift, KPI drops, campaign verdicts),
newest first, each with its evidence and when it was computed (:func:`shoplens.monitor.alerts.list_alerts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from shoplens.serve.deps import Viewer, WarehouseDep
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, page
from shoplens.serve.schemas.alerts import AlertOut, AlertsQuery

router = ResourceRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=Page[AlertOut])
def list_alerts(wh: WarehouseDep, key: Viewer, query: Annotated[AlertsQuery, Query()]) -> Page:
    """Stored alerts, newest first (`shoplens alerts check` or the scheduled `alerts` job raises them);
    `lang=zh`: titles and messages in Chinese, with the kind, severity and delivery in Chinese."""
    from shoplens.monitor.alerts import list_alerts as stored

    return page(stored(wh, kind=query.kind, lang=query.lang), query.limit, query.offset)

"""System: health, status and freshness, overview, data quality, the access audit log, and the
Prometheus metrics (served at ``/metrics``, outside the API prefix, by :data:`metrics_router`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials

from shoplens import __version__
from shoplens.serve.deps import Admin, Viewer, WarehouseDep, authenticate, bearer
from shoplens.serve.keys import role_at_least
from shoplens.serve.routes import ResourceRouter, computed_now
from shoplens.serve.schemas import Page, clean, error_responses, page, records
from shoplens.serve.schemas.system import AuditEntry, AuditQuery, Health, OverviewOut, QualityOut, StatusOut, SummaryOut

router = ResourceRouter(tags=["system"])
open_router = ResourceRouter(tags=["system"], responses=error_responses(413))
metrics_router = ResourceRouter(tags=["system"], responses=error_responses(401, 403, 429))


@open_router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness; the only endpoint open without a key."""
    return Health(status="ok", version=__version__)


@router.get("/status", response_model=StatusOut)
def status(wh: WarehouseDep, key: Viewer) -> dict:
    """Tables (rows, time range, last ingest), when each result and model was last computed, promoted
    model versions and the latest drift checks."""
    from shoplens.monitor.drift import latest_drift
    from shoplens.store.registry import ModelRegistry
    from shoplens.store.warehouse import table_status

    models = ModelRegistry(wh).list() if wh.has_table("_models") else None
    promoted = [] if models is None else records(models[models["status"] == "promoted"][["name", "version", "created_at",
                                                                                          "data_start", "data_end"]])
    return clean({"version": __version__, "tables": table_status(wh), "computed": wh.freshness(), "models": promoted,
                  "drift": latest_drift(wh)})


@router.get("/overview", response_model=OverviewOut, tags=["insights"])
def overview(wh: WarehouseDep, key: Viewer) -> dict:
    """Shop KPIs, revenue by month, top categories and products."""
    from shoplens.insights.overview import overview as shop_overview

    return computed_now(clean(shop_overview(wh)))


@router.get("/summary", response_model=SummaryOut, tags=["insights"])
def summary(wh: WarehouseDep, key: Viewer, lang: Annotated[str, Query(pattern="^(en|zh)$")] = "en",
            days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict:
    """What changed in the last ``days`` days against the ``days`` before, why, and what to do
    (the dashboard's home page; ``shoplens summary`` prints the same)."""
    from shoplens.insights.summary import shop_summary

    return computed_now(clean(shop_summary(wh, days=days, lang=lang).to_dict()))


@router.get("/quality", response_model=QualityOut, tags=["insights"])
def quality(wh: WarehouseDep, key: Viewer) -> dict:
    """Data quality: quarantined rows by table and reason, recent ingest runs, drift checks."""
    from shoplens.insights.quality import ingest_runs, quarantine_by_table, quarantine_reasons
    from shoplens.monitor.drift import latest_drift

    return computed_now(clean({"quarantine_by_table": quarantine_by_table(wh), "quarantine_reasons": quarantine_reasons(wh),
                               "ingest_runs": ingest_runs(wh), "drift": latest_drift(wh)}))


@router.get("/audit", response_model=Page[AuditEntry])
def audit_log(request: Request, key: Admin, query: Annotated[AuditQuery, Query()]) -> Page:
    """The access audit log (who read which customer when, and every erasure)."""
    rows = request.app.state.audit.read(customer=query.customer, limit=10_000_000)
    return page(rows, query.limit, query.offset)


@metrics_router.get("/metrics", response_class=PlainTextResponse,
                    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
    """Prometheus metrics; needs an admin key or the SHOPLENS_METRICS_TOKEN."""
    state = request.app.state
    token = state.serve.metrics_token
    given = credentials.credentials if credentials else ""
    ok = bool(token) and hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    if not ok:
        if not given:
            raise HTTPException(401, "metrics need an admin API key or the metrics token",
                                headers={"WWW-Authenticate": "Bearer"})
        key = authenticate(request, given)  # the same checks (expiry, slowed guessing) as every route
        request.state.api_key = key
        if not role_at_least(key.role, "admin"):
            raise HTTPException(403, "metrics need the admin role or the metrics token")
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

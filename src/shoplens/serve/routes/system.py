"""Health, status and freshness, overview, data quality, ingest, model registry, audit log, metrics."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials

from shoplens import __version__
from shoplens.errors import UserInputError
from shoplens.serve.deps import Admin, Viewer, WarehouseDep, authenticate, bearer
from shoplens.serve.keys import role_at_least
from shoplens.serve.schemas import Accounting, Health, ModelVersionOut, Page, clean, page, records
from shoplens.store.files import open_private, private_dir
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import table_status

router = APIRouter()
API = "/api/v1"
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]


@router.get(f"{API}/health", response_model=Health, tags=["system"])
def health() -> Health:
    """Liveness; the only endpoint open without a key."""
    return Health(status="ok", version=__version__)


def drift_summary(wh: Any) -> dict[str, Any]:
    """Latest drift checks (``shoplens drift``), empty when never computed."""
    from shoplens.monitor.drift import latest_drift

    return latest_drift(wh)


@router.get(f"{API}/status", tags=["system"])
def status(wh: WarehouseDep, key: Viewer) -> dict[str, Any]:
    """Tables (rows, time range, last ingest), when each result and model was last computed, promoted
    model versions and the latest drift checks."""
    models = ModelRegistry(wh).list() if wh.has_table("_models") else None
    promoted = [] if models is None else records(models[models["status"] == "promoted"][["name", "version", "created_at",
                                                                                          "data_start", "data_end"]])
    return clean({
        "version": __version__,
        "tables": table_status(wh),
        "computed": wh.freshness(),
        "models": promoted,
        "drift": drift_summary(wh),
    })


@router.get(f"{API}/overview", tags=["insights"])
def overview(wh: WarehouseDep, key: Viewer) -> dict[str, Any]:
    """Shop KPIs, revenue by month, top categories and products."""
    from shoplens.insights.overview import overview as shop_overview

    return clean(shop_overview(wh))


@router.get(f"{API}/quality", tags=["insights"])
def quality(wh: WarehouseDep, key: Viewer) -> dict[str, Any]:
    """Data quality: quarantined rows by table and reason, recent ingest runs, drift checks."""
    from shoplens.privacy.ids import external_text

    quarantine = wh.query(
        'SELECT table_name AS "table", reason, count(*) AS rows FROM _quarantine GROUP BY ALL ORDER BY rows DESC')
    quarantine["reason"] = external_text(wh, quarantine["reason"].tolist())  # the shop's ids, never pseudonyms
    by_table = wh.query('SELECT table_name AS "table", count(*) AS rows FROM _quarantine GROUP BY ALL ORDER BY 1')
    runs = wh.query(
        'SELECT run_id, table_name AS "table", finished_at, "read", loaded, updated, quarantined, duplicates, seconds '
        "FROM _ingest_runs ORDER BY finished_at DESC LIMIT 50")
    return clean({"quarantine_by_table": by_table, "quarantine_reasons": quarantine, "ingest_runs": runs,
                  "drift": drift_summary(wh)})


def remove_leftover_uploads(wh: Any) -> list[str]:
    """Delete the upload folders a killed server left behind (they may hold raw PII); returns their names.
    Only ``upload-*`` folders inside shoplens' own uploads folder are touched."""
    removed = []
    if wh.uploads_dir.is_dir():
        for folder in sorted(wh.uploads_dir.glob("upload-*")):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    return removed


MAX_NAME_BYTES = 255  # the longest file name common file systems store


def upload_name(filename: str | None) -> str:
    """The uploaded file's name, used only for its extension (format, compression): one plain name;
    ``..``, path separators, control characters or more than 255 bytes are a 422 naming the field."""
    name = filename or "upload.csv"
    problem = None
    if name in (".", "..") or not name.strip():
        problem = "is not a file name"
    elif any(sep in name for sep in ("/", "\\")) or any(ord(c) < 32 for c in name):
        problem = "may not contain path separators or control characters"
    elif len(name.encode("utf-8", errors="surrogatepass")) > MAX_NAME_BYTES:
        problem = f"is longer than {MAX_NAME_BYTES} bytes"
    if problem:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise RequestValidationError([{"loc": ("body", "file"), "msg": f"the file name {shown!r} {problem}; "
                                       "name the file like orders.csv or export.csv.gz", "type": "value_error"}])
    return name


@router.post(f"{API}/ingest", response_model=Accounting, tags=["ingest"])
def ingest_file(
    request: Request,
    wh: WarehouseDep,
    key: Admin,
    file: Annotated[UploadFile, File(description="CSV/TSV, Parquet or JSON Lines, optionally gzipped")],
    table: Annotated[str | None, Form(description="canonical table (omit with a preset)")] = None,
    preset: Annotated[str | None, Form(description="mapping preset, e.g. online-retail")] = None,
    strict: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Upload a file and load it; returns the accounting (read = loaded + updated + quarantined + duplicates)."""
    from shoplens.services import ingest_files

    if not table and not preset:
        raise UserInputError("give a table (form field `table`) or a preset (form field `preset`)")
    name = upload_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=private_dir(wh.uploads_dir)))  # 0700
    try:  # removed in any case; a killed server's leftovers go when it next starts (app.create_app)
        target = folder / name
        with open_private(target) as out:
            shutil.copyfileobj(file.file, out)
        settings = request.app.state.settings
        # one ingest at a time: DuckDB allows one writer transaction per table
        with request.app.state.ingest_lock:
            result = ingest_files(settings, wh, [target], table=table or None, preset=preset or None, strict=strict)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        request.app.state.responses.clear()
    out = result.to_dict()
    out["files"] = [name]
    return clean(out)


@router.get(f"{API}/models", response_model=Page, tags=["models"])
def list_models(wh: WarehouseDep, key: Viewer, limit: Limit = 100, offset: Offset = 0,
                name: Annotated[str | None, Query(max_length=200)] = None) -> Page:
    """Every registered model version with its status, data window, metrics and code version."""
    if not wh.has_table("_models"):
        return page([], limit, offset)
    return page(ModelRegistry(wh).list(name), limit, offset)


@router.post(f"{API}/models/{{name}}/promote", response_model=ModelVersionOut, tags=["models"])
def promote_model(name: str, request: Request, wh: WarehouseDep, key: Admin,
                  version: Annotated[int, Query(ge=1, le=1_000_000)]) -> ModelVersionOut:
    """Serve ``version`` of model ``name`` from now on."""
    ModelRegistry(wh).promote(name, version)
    request.app.state.responses.clear()
    return ModelVersionOut(name=name, version=version, status="promoted")


@router.post(f"{API}/models/{{name}}/rollback", response_model=ModelVersionOut, tags=["models"])
def rollback_model(name: str, request: Request, wh: WarehouseDep, key: Admin) -> ModelVersionOut:
    """Promote the version before the current one."""
    version = ModelRegistry(wh).rollback(name)
    request.app.state.responses.clear()
    return ModelVersionOut(name=name, version=version, status="promoted")


@router.get(f"{API}/audit", response_model=Page, tags=["system"])
def audit_log(request: Request, key: Admin, limit: Limit = 100, offset: Offset = 0,
              customer: Annotated[str | None, Query(max_length=200, description="only reads of this customer")] = None
              ) -> Page:
    """The access audit log (who read which customer when)."""
    rows = request.app.state.audit.read(customer=customer, limit=10_000_000)
    return page(rows, limit, offset)


@router.get("/metrics", tags=["system"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
    """Prometheus metrics; needs an admin key or the SHOPLENS_METRICS_TOKEN."""
    import hmac

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

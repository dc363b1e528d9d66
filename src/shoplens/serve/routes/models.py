"""Models: the registry's versions, and what is served (promote, roll back), over
:class:`shoplens.store.registry.ModelRegistry`. Promoting or rolling back empties the
response cache, so the next answer comes from the newly served version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from shoplens.serve.deps import Admin, Viewer, WarehouseDep
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, page
from shoplens.serve.schemas.models import ModelsQuery, ModelVersion, ModelVersionOut, PromoteQuery
from shoplens.store.registry import ModelRegistry

router = ResourceRouter(prefix="/models", tags=["models"])
ModelName = Annotated[str, Path(description="the model's registry name, e.g. recs")]


@router.get("", response_model=Page[ModelVersion])
def list_models(wh: WarehouseDep, key: Viewer, query: Annotated[ModelsQuery, Query()]) -> Page:
    """Every registered model version with its status, data window, metrics and code version."""
    if not wh.has_table("_models"):
        return page([], query.limit, query.offset)
    return page(ModelRegistry(wh).list(query.name), query.limit, query.offset)


@router.post("/{name}/promote", response_model=ModelVersionOut)
def promote_model(name: ModelName, request: Request, wh: WarehouseDep, key: Admin,
                  query: Annotated[PromoteQuery, Query()]) -> ModelVersionOut:
    """Serve ``version`` of model ``name`` from now on."""
    ModelRegistry(wh).promote(name, query.version)
    request.app.state.responses.clear()
    return ModelVersionOut(name=name, version=query.version, status="promoted")


@router.post("/{name}/rollback", response_model=ModelVersionOut)
def rollback_model(name: ModelName, request: Request, wh: WarehouseDep, key: Admin) -> ModelVersionOut:
    """Promote the version before the current one."""
    version = ModelRegistry(wh).rollback(name)
    request.app.state.responses.clear()
    return ModelVersionOut(name=name, version=version, status="promoted")

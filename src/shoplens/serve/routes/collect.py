"""The collector: behaviour events as Segment / RudderStack send them (``collector`` or admin keys).

``POST /track``, ``/identify``, ``/alias``, ``/page`` and ``/batch`` take the payloads unchanged
(:mod:`shoplens.stream.spec`); the key goes as ``Authorization: Bearer KEY`` or as the HTTP
Basic user name with an empty password (what the SDKs send). The answer comes once the accepted
events are on disk (:mod:`shoplens.stream.log`); the server folds them into the warehouse in
the background (:class:`shoplens.stream.worker.FoldWorker`).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shoplens.serve.deps import Collector
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas.collect import BatchIn, CollectOut, SpecEvent
from shoplens.stream.spec import MAX_BATCH_BYTES

router = ResourceRouter(tags=["collect"])


async def _collect(request: Request, kind: str) -> dict[str, Any]:
    from shoplens.stream.collector import collect_body

    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise HTTPException(413, f"request body larger than {MAX_BATCH_BYTES // 1024} KB (the SDKs' batch limit); "
                                 "send smaller batches")
    worker = request.app.state.fold_worker
    result = await run_in_threadpool(collect_body, worker.collector, body, kind)  # fsync: off the event loop
    worker.notify()
    return result.to_dict()


def _doc(model: type[BaseModel]) -> dict[str, Any]:
    """The request body as OpenAPI documents it (the route reads it raw: payloads pass unchanged)."""
    event = SpecEvent.model_json_schema()
    schema = event if model is SpecEvent else {
        "title": "BatchIn", "type": "object", "required": ["batch"],
        "properties": {"batch": {"type": "array", "items": event}, "context": {"type": "object"}}}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post("/track", response_model=CollectOut, openapi_extra=_doc(SpecEvent))
async def track(request: Request, key: Collector) -> dict[str, Any]:
    """One event (``event``: "Product Viewed", "Order Completed"...) of a visitor or customer."""
    return await _collect(request, "track")


@router.post("/identify", response_model=CollectOut, openapi_extra=_doc(SpecEvent))
async def identify(request: Request, key: Collector) -> dict[str, Any]:
    """The visitor ``anonymousId`` is the customer ``userId``: their history is merged."""
    return await _collect(request, "identify")


@router.post("/alias", response_model=CollectOut, openapi_extra=_doc(SpecEvent))
async def alias(request: Request, key: Collector) -> dict[str, Any]:
    """Merge ``previousId`` (an anonymous id) into ``userId``."""
    return await _collect(request, "alias")


@router.post("/page", response_model=CollectOut, openapi_extra=_doc(SpecEvent))
async def page(request: Request, key: Collector) -> dict[str, Any]:
    """A page view."""
    return await _collect(request, "page")


@router.post("/batch", response_model=CollectOut, openapi_extra=_doc(BatchIn))
async def batch(request: Request, key: Collector) -> dict[str, Any]:
    """Several calls at once (``{"batch": [...]}``, at most 500 KB): each event is accepted or rejected on its own."""
    return await _collect(request, "batch")

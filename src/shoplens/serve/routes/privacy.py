"""Privacy: erase a customer everywhere and verify nothing is left (admin only), over
:mod:`shoplens.privacy.erasure`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from shoplens.serve.deps import Admin, WarehouseDep, audit_customers

router = APIRouter(tags=["privacy"])
API = "/api/v1"


class EraseIn(BaseModel):
    customer_id: Annotated[str, Field(min_length=1, max_length=200, description="the shop's own customer id")]


@router.post(f"{API}/privacy/erase")
def erase_customer(body: EraseIn, request: Request, wh: WarehouseDep, key: Admin) -> dict[str, Any]:
    """Remove a customer from every table, model, and export or report shoplens wrote; returns what was removed
    and (``reported``) the other files below the warehouse folder that name the customer, left untouched.
    404 for an id the warehouse does not know (nothing changed)."""
    from shoplens.privacy.erasure import erase

    audit_customers(request, [body.customer_id])
    with request.app.state.ingest_lock:  # no ingest may re-add rows while erasing
        report = erase(wh, body.customer_id, via=f"api:{key.key_id}")
    request.app.state.cache.clear()  # cached models may hold the customer: reload from the registry
    request.app.state.responses.clear()
    return report.to_dict()


@router.get(f"{API}/privacy/verify/{{customer_id}}")
def verify_erasure(customer_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
                   wh: WarehouseDep, key: Admin) -> dict[str, Any]:
    """Search everything again for the customer: ``clean`` is true when no reference is left."""
    from shoplens.privacy.erasure import verify

    audit_customers(request, [customer_id])
    return verify(wh, customer_id).to_dict()

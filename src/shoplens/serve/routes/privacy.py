"""Privacy: erase a customer everywhere and verify nothing is left (admin only), over
:mod:`shoplens.privacy.erasure`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from shoplens.serve.deps import Admin, WarehouseDep, audit_customers
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas.privacy import EraseIn, ErasureOut, VerifyOut

router = ResourceRouter(prefix="/privacy", tags=["privacy"])


@router.post("/erase", response_model=ErasureOut)
def erase_customer(body: EraseIn, request: Request, wh: WarehouseDep, key: Admin) -> dict:
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


@router.get("/verify/{customer_id}", response_model=VerifyOut)
def verify_erasure(customer_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
                   wh: WarehouseDep, key: Admin) -> dict:
    """Search everything again for the customer: ``clean`` is true when no reference is left."""
    from shoplens.privacy.erasure import verify

    audit_customers(request, [customer_id])
    return verify(wh, customer_id).to_dict()

"""Customers: the customer 360 (masked profile, purchases and, with consent, segment, RFM, CLV,
churn risk and reasons, live behaviour counters), over :func:`shoplens.services.customer_360`. Ids in and out
are the shop's own; every read is recorded in the access audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from shoplens.serve.deps import Analyst, WarehouseDep, audit_customers, privacy_state
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas.customers import CustomerOut

router = ResourceRouter(prefix="/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")]


@router.get("/{customer_id}", response_model=CustomerOut)
def customer_profile(customer_id: CustomerId, request: Request, wh: WarehouseDep, key: Analyst) -> dict:
    """Customer 360: masked profile, purchase summary, and (with consent) segment, CLV, churn risk and reasons,
    and live behaviour counters (recently viewed, in the basket, last seen)."""
    from shoplens.services import customer_360

    audit_customers(request, [customer_id])
    return customer_360(wh, customer_id, consent_default=request.app.state.consent_default,
                        privacy_state=privacy_state(request, wh))

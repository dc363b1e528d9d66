"""Rules: the generated customer rules (what to do, for whom) with the customers each tags, and the
strongest cross-sell rules with product names, over :mod:`shoplens.customers.rules` and
:mod:`shoplens.recs.service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request

from shoplens.serve.deps import Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, PageQuery, records
from shoplens.serve.schemas.customers import Member
from shoplens.serve.schemas.rules import CrossSellOut, RulesOut

router = ResourceRouter(prefix="/rules", tags=["rules"])
RuleId = Annotated[str, Path(min_length=1, max_length=100)]


def _at(wh: Any, table: str) -> str | None:
    at = wh.computed_at(table)
    return at.isoformat() if at else None


@router.get("", response_model=RulesOut)
def list_rules(wh: WarehouseDep, key: Viewer, lang: Annotated[str, Query(pattern="^(en|zh)$")] = "en") -> dict[str, Any]:
    """The generated customer rules, validated and strongest first, in English or Chinese (`lang=zh`),
    each with how many customers it tags today."""
    from shoplens.customers.rules import rules_for_people
    from shoplens.insights.products import shop_currency

    rules = rules_for_people(wh, lang)
    return {"computed_at": _at(wh, "customer_rules"), "lang": lang, "currency": shop_currency(wh),
            "data": records(rules), "count": len(rules)}


@router.get("/cross-sell", response_model=CrossSellOut)
def cross_sell(wh: WarehouseDep, key: Viewer,
               n: Annotated[int, Query(ge=1, le=500, description="how many rules")] = 20) -> dict[str, Any]:
    """The strongest cross-sell rules (FP-growth association rules): highest lift first, with product names."""
    from shoplens.recs.service import strongest_rules

    rules = strongest_rules(wh, n)
    return {"computed_at": _at(wh, "association_rules"), "data": records(rules), "count": len(rules)}


@router.get("/{rule_id}/members", response_model=Page[Member])
def rule_members(rule_id: RuleId, request: Request, wh: WarehouseDep, key: Analyst,
                 query: Annotated[PageQuery, Query()]) -> Page:
    """The customers a rule tags today who consent to personalisation, with CLV and churn risk when computed."""
    from shoplens.customers.rules import rule_members as members

    rows, count = members(wh, rule_id, limit=query.limit, offset=query.offset,
                          consent_default=request.app.state.consent_default)
    audit_customers(request, [r["customer_id"] for r in rows])
    return Page(data=rows, count=count, limit=query.limit, offset=query.offset)

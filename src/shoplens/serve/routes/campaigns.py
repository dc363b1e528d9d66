"""Campaigns: create, list, show, assign (counts; the file export stays on the CLI), stop, the
live offer for the storefront and the report, over :mod:`shoplens.campaigns`.

Roles: viewers read campaigns and reports (aggregates; a report never writes); analysts ask for a
customer's offer (per-customer, logged as a decision, recorded in the access audit log); admins
create, assign, post the rewards of closed windows and stop. Ids in and out are the shop's own; marketing consent is asked for every offer and
assignment (fails closed), with the server's policy default for never-asked customers.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Path, Query, Request

from shoplens.serve.deps import Admin, Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.routes import ResourceRouter, computed_now
from shoplens.serve.schemas import Page, PageQuery, clean, page
from shoplens.serve.schemas.campaigns import (
    AsOfQuery,
    AssignIn,
    AssignOut,
    CampaignDetailOut,
    CampaignIn,
    CampaignOut,
    CampaignRow,
    OfferOut,
    ReportOut,
    ReportQuery,
    RewardsOut,
)

router = ResourceRouter(prefix="/campaigns", tags=["campaigns"])
Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="campaign name")]
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the shop's own customer id")]
_lock = threading.Lock()  # one assignment at a time: a customer is assigned once per campaign


def _iso(day: object) -> str | None:
    return None if day is None else str(day)


@router.get("", response_model=Page[CampaignRow])
def list_campaigns(wh: WarehouseDep, key: Viewer, query: Annotated[PageQuery, Query()]) -> Page:
    """Every campaign (latest version) with its status, goal, audience, arms and customers assigned."""
    from shoplens.campaigns.campaign import list_campaigns as campaigns

    return page(campaigns(wh), query.limit, query.offset)


@router.post("", response_model=CampaignOut)
def create_campaign(body: CampaignIn, wh: WarehouseDep, key: Admin) -> dict:
    """Store a campaign (with ``replace``, a new version of an existing one): audience, offers,
    control share, goal, window and guardrails."""
    from shoplens.campaigns.campaign import Campaign, parse_arm
    from shoplens.campaigns.campaign import create_campaign as create

    campaign = Campaign(body.name, body.audience, tuple(parse_arm(a, body.costs.get(a, 0.0)) for a in body.arms),
                        control=body.control, goal=body.goal, window_days=body.window_days, policy=body.policy,
                        frequency_cap=body.frequency_cap, cap_days=body.cap_days, start=_iso(body.start),
                        end=_iso(body.end), budget=body.budget)
    with _lock:
        return clean(create(wh, campaign, replace=body.replace).to_dict())


@router.get("/{name}", response_model=CampaignDetailOut)
def show_campaign(name: Name, wh: WarehouseDep, key: Viewer) -> dict:
    """A campaign's latest version, its version history and its assignment runs (counts)."""
    from shoplens.campaigns.campaign import campaign_detail

    return clean(campaign_detail(wh, name))


@router.post("/{name}/assign", response_model=AssignOut)
def assign_campaign(name: Name, body: AssignIn, request: Request, wh: WarehouseDep, key: Admin) -> dict:
    """Assign the audience to arms (sticky; logged with propensities) and answer the counts, exclusions
    included. The file for the e-mail or ad tool is written by `shoplens campaign assign --output`."""
    from shoplens.campaigns.assign import assign_campaign as assign

    with _lock:
        result = assign(wh, name, as_of=_iso(body.as_of), consent_default=request.app.state.consent_default)
    return clean(result.to_dict())


@router.post("/{name}/stop", response_model=CampaignOut)
def stop_campaign(name: Name, wh: WarehouseDep, key: Admin) -> dict:
    """Stop a campaign (a new version with status stopped): it assigns no one any more; reports still work."""
    from shoplens.campaigns.campaign import stop_campaign as stop

    with _lock:
        return clean(stop(wh, name).to_dict())


@router.post("/{name}/rewards", response_model=RewardsOut)
def post_campaign_rewards(name: Name, body: AssignIn, wh: WarehouseDep, key: Admin) -> dict:
    """Post the goal metric of every assignment whose window has closed (by ``as_of``, default the last
    order) as its reward in the decision log, where bandits and off-policy evaluation read it.
    Idempotent: run again, it writes nothing. (Assignment runs and the scheduler's refresh do the same.)"""
    from shoplens.campaigns.report import post_rewards

    with _lock:
        return clean(post_rewards(wh, name, as_of=_iso(body.as_of)))


@router.get("/{name}/offer/{customer_id}", response_model=OfferOut)
def campaign_offer(name: Name, customer_id: CustomerId, request: Request, wh: WarehouseDep, key: Analyst,
                   query: Annotated[AsOfQuery, Query()]) -> dict:
    """The live offer for the storefront: the customer's sticky arm (assigned and logged now if new),
    or ``arm`` null with a ``reason`` (campaign stopped, unknown id, no marketing consent, not in the
    audience, over the frequency cap). ``customer_id`` comes back as given."""
    from shoplens.campaigns.assign import live_offer

    audit_customers(request, [customer_id])
    with _lock:
        return clean(live_offer(wh, name, customer_id, as_of=_iso(query.as_of),
                                consent_default=request.app.state.consent_default))


@router.get("/{name}/report", response_model=ReportOut)
def campaign_report(name: Name, wh: WarehouseDep, key: Viewer, query: Annotated[ReportQuery, Query()]) -> dict:
    """The report (the `campaign report --json` shape): lift per arm and metric against control with
    95 % intervals, chance to beat control, CUPED, the sample-ratio check, policy estimates and a
    conclusion in English and Chinese. Only reads: rewards are posted by POST .../rewards."""
    from shoplens.campaigns.report import campaign_report as report

    return computed_now(clean(report(wh, name, as_of=_iso(query.as_of), attribution=query.attribution)))

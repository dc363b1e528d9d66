"""Decisions: bandit policies (create, list arms), choose an action for a context and log it,
post a reward; over the decide package (:class:`shoplens.decide.log.Decider`,
:class:`shoplens.decide.log.DecisionLog`).

Bandit policies are registry models (any name, e.g. ``offer-bandit`` from the demo) whose
object is a :class:`shoplens.decide.policies.Policy`; the server keeps the promoted version
of each in memory and teaches it the rewards logged since it last learned
(``Decider.learn``) each time a reward arrives.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError

from shoplens.errors import InvalidParameterError, NotComputedError, NotFoundError
from shoplens.serve.deps import Admin, Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.routes import ResourceRouter
from shoplens.serve.schemas import Page, PageQuery, clean, page
from shoplens.serve.schemas.decisions import (Arm, DecisionIn, DecisionOut, PolicyIn, PolicyOut, RewardIn,
                                              RewardOut)
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse

router = ResourceRouter(tags=["decisions"])
_lock = threading.Lock()


def _decider(request: Request, wh: Warehouse, name: str, decision_type: str = "offer") -> Any:
    """The served (promoted) policy ``name`` wrapped in a Decider over this request's warehouse."""
    from shoplens.decide.log import Decider
    from shoplens.decide.policies import Policy

    cache = request.app.state.cache.setdefault("bandits", {})
    if not wh.has_table("_models"):
        raise NotComputedError(f"no bandit policy {name!r}: create one with POST /api/v1/bandits")
    registry = ModelRegistry(wh)
    try:
        version = registry.promoted_version(name)
    except NotFoundError:
        raise NotComputedError(f"no bandit policy {name!r}: create one with POST /api/v1/bandits") from None
    key = (name, decision_type)
    entry = cache.get(key)
    if entry is None or entry["version"] != version:
        policy = registry.load(name, version)
        if not isinstance(policy, Policy):
            raise NotComputedError(f"model {name!r} is not a bandit policy (see GET /api/v1/models)")
        entry = {"version": version, "policy": policy, "learned_until": None}
        cache[key] = entry
    decider = Decider(wh, entry["policy"], name=name, version=str(version), decision_type=decision_type,
                      consent_default=request.app.state.consent_default)  # the policy read once at start
    decider.learned_until = entry["learned_until"]
    return decider, entry


@router.post("/bandits", response_model=PolicyOut)
def create_policy(body: PolicyIn, wh: WarehouseDep, key: Admin) -> PolicyOut:
    """Register a new bandit policy version (promoted, served from the next decision on)."""
    from shoplens.decide.policies import Policy, make_policy
    from shoplens.errors import UserInputError

    try:  # checked before anything is stored: a stored bad value would fail every later decision
        policy = make_policy(body.policy, **body.params)
    except InvalidParameterError as exc:
        raise RequestValidationError([{"loc": ("body", "params", exc.param), "msg": str(exc),
                                       "type": "value_error"}]) from None
    registry = ModelRegistry(wh)
    if not registry.list(body.name).empty and not isinstance(registry.load(body.name), Policy):
        raise UserInputError(f"{body.name!r} is already the name of another kind of model; choose another name")
    version = registry.register(body.name, policy, kind=body.policy, note="created through the API")
    return PolicyOut(name=body.name, version=version, policy=body.policy)


@router.get("/bandits", response_model=Page[Arm])
def bandit_arms(wh: WarehouseDep, key: Viewer, query: Annotated[PageQuery, Query()]) -> Page:
    """Per policy and arm: decisions served, rewards received, mean reward (from the decision log)."""
    from shoplens.decide.log import DecisionLog

    return page(DecisionLog(wh).arms(), query.limit, query.offset)


@router.post("/decisions", response_model=DecisionOut)
def decide(body: DecisionIn, request: Request, wh: WarehouseDep, key: Analyst) -> DecisionOut:
    """Choose ``k`` actions for a customer (the shop's id) and context, and log them with their propensities.
    An offer (any ``decision_type`` but recommendation, ranking, content, layout, price) needs marketing
    consent: without it (refused, never given, or not a customer) ``action`` is null with a ``reason``, and
    the decision is logged as not offered. Without personalisation consent (or for an id that is not a
    customer) the choice is a logged, context-free random one. Ids come back as given."""
    with _lock:  # a bandit's state changes with every choice
        decider, entry = _decider(request, wh, body.policy, body.decision_type)
        slots = decider.decide(body.customer_id, body.context or None, body.actions, k=body.k)
    if body.customer_id:
        audit_customers(request, [body.customer_id])
    return DecisionOut(policy=body.policy, version=entry["version"], data=clean(slots))


@router.post("/decisions/{decision_id}/reward", response_model=RewardOut)
def reward(decision_id: Annotated[str, Path(min_length=1, max_length=100)], body: RewardIn, request: Request,
           wh: WarehouseDep, key: Analyst) -> RewardOut:
    """Attach a (possibly late) reward to a logged decision; the serving policy learns it at once."""
    from shoplens.decide.log import DecisionLog

    log = DecisionLog(wh)
    found = log.find(decision_id)
    if found is None:
        raise NotFoundError(f"no decision {decision_id!r}")
    log.log_reward(decision_id, body.reward)
    policy, decision_type = found
    learned = 0
    with _lock:
        try:
            decider, entry = _decider(request, wh, policy, decision_type or "offer")
        except NotComputedError:  # e.g. the non-personalised policy: logged only
            decider = None
        if decider is not None:
            learned = decider.learn()
            entry["learned_until"] = decider.learned_until
    return RewardOut(decision_id=decision_id, reward=body.reward, learned=learned)

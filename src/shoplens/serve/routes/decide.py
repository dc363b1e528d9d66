"""Decisions (choose an action for a context and log it, post a reward), bandit policies and
experiment analysis, over the decide package (:class:`shoplens.decide.log.Decider`,
:func:`shoplens.decide.abtest.analyze_stats`).

Bandit policies are registry models (any name, e.g. ``offer-bandit`` from the demo) whose
object is a :class:`shoplens.decide.policies.Policy`; the server keeps the promoted version
of each in memory and teaches it the rewards logged since it last learned
(``Decider.learn``) each time a reward arrives.
"""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, Field, model_validator

from shoplens.errors import InvalidParameterError, NotComputedError, NotFoundError
from shoplens.serve.deps import Admin, Analyst, Viewer, WarehouseDep, audit_customers
from shoplens.serve.schemas import Page, clean, page
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, first_row

router = APIRouter(tags=["decisions"])
API = "/api/v1"
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
_lock = threading.Lock()
MAX_MAGNITUDE = 1e15  # larger numbers are no real context (and 10**400 overflows every float)


def _scalar(value: Any) -> Any:
    """A context or parameter value as it may be stored: finite numbers within +-1e15, text of at most
    200 characters, booleans, null; anything else is a 422 naming the field."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ValueError(f"numbers must be finite and within +-{MAX_MAGNITUDE:g}")
        return value
    if isinstance(value, str) and len(value) > 200:
        raise ValueError("text values may have at most 200 characters")
    return value


Scalar = Annotated[float | int | str | bool | None, BeforeValidator(_scalar)]
Key = Annotated[str, Field(min_length=1, max_length=100)]


class PolicyIn(BaseModel):
    name: Name
    policy: Literal["epsilon-greedy", "ucb1", "bernoulli-ts", "linucb", "linear-ts", "logistic-ts"]
    params: dict[Key, Scalar] = Field(default_factory=dict, max_length=20,
                                      description="the policy's parameters, e.g. {\"epsilon\": 0.1}; checked against "
                                                  "its constraints (422 names a bad one)")


class PolicyOut(BaseModel):
    name: str
    version: int
    policy: str


class DecisionIn(BaseModel):
    policy: Name
    actions: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=200)
    customer_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    context: dict[Key, Scalar] = Field(default_factory=dict, max_length=100)
    k: int = Field(1, ge=1, le=50)
    decision_type: Annotated[str, Field(max_length=50)] = "offer"


class DecisionOut(BaseModel):
    policy: str
    version: int
    data: list[dict[str, Any]]


class RewardIn(BaseModel):
    reward: float = Field(ge=-1e12, le=1e12)


class RewardOut(BaseModel):
    decision_id: str
    reward: float
    learned: int


class VariantIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    n: int = Field(ge=0, le=10**12)
    sum: float = Field(ge=-1e15, le=1e15)
    sum_squares: float | None = Field(None, ge=0, le=1e30, description="omit for a 0/1 (conversion) metric")

    @model_validator(mode="after")
    def _consistent(self) -> VariantIn:
        """Sufficient statistics that no real data can produce are a user error, not a server error."""
        if self.sum_squares is None and not 0 <= self.sum <= self.n:
            raise ValueError(f"variant {self.name!r}: for a 0/1 metric sum must lie between 0 and n ({self.n})")
        if self.sum_squares is not None and self.n and self.sum_squares < self.sum ** 2 / self.n * (1 - 1e-9):
            raise ValueError(f"variant {self.name!r}: sum_squares must be at least sum**2 / n")
        return self


class ExperimentIn(BaseModel):
    variants: list[VariantIn] = Field(min_length=2, max_length=50)
    baseline: str | None = None
    method: Literal["frequentist", "bayesian", "sequential"] = "frequentist"
    difference: Literal["relative", "absolute"] = "relative"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    correction: Literal["none", "holm", "bh"] = "none"


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


@router.post(f"{API}/bandits", response_model=PolicyOut)
def create_policy(body: PolicyIn, wh: WarehouseDep, key: Admin) -> PolicyOut:
    """Register a new bandit policy version (promoted, served from the next decision on)."""
    from shoplens.decide.policies import make_policy
    from shoplens.errors import UserInputError

    try:  # checked before anything is stored: a stored bad value would fail every later decision
        policy = make_policy(body.policy, **body.params)
    except InvalidParameterError as exc:
        raise RequestValidationError([{"loc": ("body", "params", exc.param), "msg": str(exc),
                                       "type": "value_error"}]) from None
    registry = ModelRegistry(wh)
    kinds = wh.con.execute("SELECT DISTINCT kind FROM _models WHERE name = ?", [body.name]).fetchall() \
        if wh.has_table("_models") else []
    if kinds:
        existing = registry.load(body.name)
        from shoplens.decide.policies import Policy

        if not isinstance(existing, Policy):
            raise UserInputError(f"{body.name!r} is already the name of another kind of model; choose another name")
    version = registry.register(body.name, policy, kind=body.policy, note="created through the API")
    return PolicyOut(name=body.name, version=version, policy=body.policy)


@router.get(f"{API}/bandits", response_model=Page)
def bandit_arms(wh: WarehouseDep, key: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> Page:
    """Per policy and arm: decisions served, rewards received, mean reward (from the decision log)."""
    frame = wh.query(
        """SELECT policy, action AS arm, count(*) AS decisions, count(reward) AS rewards,
                  round(avg(reward), 4) AS mean_reward, max(occurred_at) AS last_decision
           FROM decisions GROUP BY ALL ORDER BY policy, decisions DESC""")
    return page(frame, limit, offset)


@router.post(f"{API}/decisions", response_model=DecisionOut)
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


@router.post(f"{API}/decisions/{{decision_id}}/reward", response_model=RewardOut)
def reward(decision_id: Annotated[str, Path(min_length=1, max_length=100)], body: RewardIn, request: Request,
           wh: WarehouseDep, key: Analyst) -> RewardOut:
    """Attach a (possibly late) reward to a logged decision; the serving policy learns it at once."""
    from shoplens.decide.log import DecisionLog

    row = first_row(wh.con.execute("SELECT policy, decision_type FROM decisions WHERE decision_id = ?", [decision_id]))
    if row is None:
        raise NotFoundError(f"no decision {decision_id!r}")
    DecisionLog(wh).log_reward(decision_id, body.reward)
    learned = 0
    with _lock:
        try:
            decider, entry = _decider(request, wh, row[0], row[1] or "offer")
        except NotComputedError:  # e.g. the non-personalised policy: logged only
            decider = None
        if decider is not None:
            learned = decider.learn()
            entry["learned_until"] = decider.learned_until
    return RewardOut(decision_id=decision_id, reward=body.reward, learned=learned)


@router.post(f"{API}/experiments/analyze", tags=["experiments"])
def analyze_experiment(body: ExperimentIn, key: Viewer) -> dict[str, Any]:
    """Compare each variant with the baseline from sufficient statistics (n, sum, sum of squares):
    effect, interval, p-value or chance to win, sample-ratio mismatch check."""
    from shoplens.decide.abtest import VariantStats, analyze_stats

    stats = [VariantStats(v.name, v.n, v.sum, v.sum_squares) for v in body.variants]
    result = analyze_stats(stats, baseline=body.baseline, method=body.method, difference=body.difference,
                           alpha=body.alpha, correction=body.correction)
    return clean(result.to_dict())


@router.get(f"{API}/experiments", response_model=Page, tags=["experiments"])
def experiments(wh: WarehouseDep, key: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> Page:
    """Logged decision experiments: per decision type and policy, how many decisions and rewards and
    the mean reward, with when they ran."""
    frame = wh.query(
        """SELECT coalesce(decision_type, 'offer') AS experiment, policy, policy_version,
                  count(*) AS decisions, count(reward) AS rewards, round(avg(reward), 4) AS mean_reward,
                  min(occurred_at) AS started, max(occurred_at) AS last_decision
           FROM decisions GROUP BY ALL ORDER BY experiment, policy""")
    return page(frame, limit, offset)

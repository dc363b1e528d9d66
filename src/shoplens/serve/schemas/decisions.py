"""Schemas of the decisions resource (bandit policies, decisions, rewards) and the experiments
resource (A/B analysis from sufficient statistics, logged experiments).

Every context or parameter value is checked at the edge: finite numbers within +-1e15, text of at
most 200 characters, booleans, null; anything else is a 422 naming the field.

>>> DecisionIn(policy="offers", actions=["a", "b"]).k
1
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from shoplens.serve.schemas import ApiModel, Number, Row, Time

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
MAX_MAGNITUDE = 1e15  # larger numbers are no real context (and 10**400 overflows every float)


def _scalar(value: Any) -> Any:
    """A context or parameter value as it may be stored (see the module docstring)."""
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


class PolicyOut(ApiModel):
    name: str
    version: int
    policy: str


class Arm(Row):
    policy: str | None = None
    arm: str | None = Field(None, description="the action (null: nothing was offered)")
    decisions: int | None = None
    rewards: int | None = None
    mean_reward: Number | None = None
    last_decision: Time | None = None


class DecisionIn(BaseModel):
    policy: Name
    actions: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=200)
    customer_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    context: dict[Key, Scalar] = Field(default_factory=dict, max_length=100)
    k: int = Field(1, ge=1, le=50)
    decision_type: Annotated[str, Field(max_length=50)] = "offer"


class Slot(ApiModel):
    decision_id: str | None = Field(None, description="post its reward to /decisions/{decision_id}/reward")
    customer_id: str | None = Field(None, description="as given")
    action: str | None = Field(None, description="null: no offer (see reason)")
    position: int | None = None
    propensity: Number | None = Field(None, description="probability the policy chose this action")
    personalised: bool | None = None
    reason: str | None = Field(None, description="why nothing was offered")


class DecisionOut(ApiModel):
    policy: str
    version: int
    data: list[Slot]


class RewardIn(BaseModel):
    reward: float = Field(ge=-1e12, le=1e12)


class RewardOut(ApiModel):
    decision_id: str
    reward: float
    learned: int = Field(description="rewards the serving policy learned from now")


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


class VariantResult(ApiModel):
    variant: str | None = None
    baseline: bool | None = Field(None, description="the variant the others are compared with")
    n: int | None = None
    mean: Number | None = None
    stddev: Number | None = None
    effect: Number | None = Field(None, description="relative or absolute difference from the baseline")
    ci: list[Number | None] | None = Field(None, description="confidence (or credible) interval of the effect")
    p_value: Number | None = None
    chance_to_win: Number | None = Field(None, description="Bayesian: probability it beats the baseline")
    risk: Number | None = Field(None, description="Bayesian: expected loss of shipping it")
    risk_baseline: Number | None = Field(None, description="Bayesian: expected loss of keeping the baseline")
    error: str | None = Field(None, description="why this variant could not be compared")


class Srm(ApiModel):
    """Sample-ratio mismatch check."""

    chi2: Number | None = None
    p_value: Number | None = None
    alarm: bool | None = None


class AnalysisOut(ApiModel):
    baseline: str
    method: str
    difference: str
    variants: list[VariantResult]
    srm: Srm
    cuped: dict[str, Any] | None = Field(None, description="variance reduction applied (null: none)")


class ExperimentRow(Row):
    experiment: str | None = Field(None, description="the decision type (offer when none was given)")
    policy: str | None = None
    policy_version: str | None = None
    decisions: int | None = None
    rewards: int | None = None
    mean_reward: Number | None = None
    started: Time | None = None
    last_decision: Time | None = None

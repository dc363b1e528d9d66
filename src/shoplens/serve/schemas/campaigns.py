"""Schemas of the campaigns resource: create, list, show, assign, the live offer and the report
(the ``campaign report --json`` shape, see docs/campaigns.md).

An audience given through the API is ``all``, ``rfm:SEGMENT``, ``segment:ID`` or ``rule:ID``;
``sql:`` and ``file:`` audiences run a query or read a file on the server, so they are created
with the CLI only (422 here).

>>> CampaignIn(name="winback", audience="rfm:At risk", arms=["free_shipping"]).control
0.1
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from shoplens.serve.schemas import COMPUTED_ON_REQUEST, ApiModel, Number, Row, Time

CampaignName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ArmName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
API_AUDIENCES = ("all", "rfm", "segment", "rule")


class CampaignIn(BaseModel):
    name: CampaignName
    audience: str = Field(min_length=3, max_length=200,
                          description="all, rfm:SEGMENT, segment:ID or rule:ID (sql: and file: through the CLI only)")
    arms: list[ArmName] = Field(min_length=1, max_length=20, description="offers, e.g. [\"free_shipping\", "
                                "\"discount_10\"]; the control group is added as `control`")
    costs: dict[ArmName, float] = Field(default_factory=dict, max_length=20,
                                        description="cost per use of an arm, e.g. {\"discount_10\": 3}")
    control: float = Field(0.1, gt=0, lt=1, description="share of the audience held out as control")
    goal: Literal["conversion", "revenue", "margin"] = "conversion"
    window_days: int = Field(14, ge=1, le=366, description="attribution window in days after assignment")
    policy: Literal["split", "bandit"] = Field(
        "split", description="split (a fixed random split) or bandit (learns the offer per customer, control random)")
    frequency_cap: int | None = Field(None, ge=1, le=1000)
    cap_days: int = Field(30, ge=1, le=3660)
    start: date | None = None
    end: date | None = None
    budget: float | None = Field(None, ge=0, le=1e12, description="most the offers may cost (cost per use x "
                                 "expected use); then no one new is assigned")
    replace: bool = Field(False, description="store a new version of an existing campaign")

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: str) -> str:
        kind = value.partition(":")[0].strip().lower()
        if kind not in API_AUDIENCES:
            raise ValueError(f"use all, rfm:SEGMENT, segment:ID or rule:ID ({kind}: audiences are created with "
                             "`shoplens campaign create` on the server)")
        return value

    @field_validator("costs")
    @classmethod
    def _costs(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= v <= 1e9 for v in value.values()):
            raise ValueError("a cost per use lies between 0 and 1e9")
        return value

    @model_validator(mode="after")
    def _known_costs(self) -> CampaignIn:
        unknown = set(self.costs) - set(self.arms)
        if unknown:
            raise ValueError(f"costs name arm(s) not in arms: {', '.join(sorted(unknown))}")
        return self


class AsOfQuery(BaseModel):
    as_of: date | None = Field(None, description="YYYY-MM-DD [default: now]")


class ReportQuery(AsOfQuery):
    attribution: Literal["itt", "exposure"] = Field(
        "itt", description="itt (intention to treat) or exposure (adds the effect on customers who saw the offer)")


class AssignIn(BaseModel):
    as_of: date | None = Field(None, description="assignment date YYYY-MM-DD [default: now]")


class RewardsOut(ApiModel):
    campaign: str
    closed: int = Field(description="assignments whose window has closed")
    posted: int = Field(description="rewards written now (not logged before, or changed by a late order or return); "
                                    "0 when run again")


class ArmOut(ApiModel):
    name: str
    kind: str
    value: Number | None = Field(None, description="read from the name: discount_10 is 10")
    cost: Number = Field(description="cost per use, charged once per converting customer in the margin")


class CampaignOut(ApiModel):
    name: str
    audience: str
    arms: list[ArmOut]
    control: Number = Field(description="share held out as the arm `control`")
    goal: str
    window_days: int
    policy: str
    frequency_cap: int | None = None
    cap_days: int
    start: str | None = None
    end: str | None = None
    budget: Number | None = None
    version: int
    status: str = Field(description="active or stopped")
    created_at: Time | None = None
    weights: dict[str, Number] = Field(description="planned share of each arm, control included")


class Version(ApiModel):
    version: int
    status: str
    created_at: Time | None = None


class Run(Row):
    version: int | None = None
    run_at: Time | None = None
    as_of: Time | None = None
    audience: int | None = None
    assigned: int | None = None
    newly_assigned: int | None = None
    excluded_no_consent: int | None = None
    excluded_unknown: int | None = None
    excluded_frequency_cap: int | None = None
    excluded_budget: int | None = None


class CampaignDetailOut(CampaignOut):
    versions: list[Version]
    runs: list[Run] = Field(description="assignment runs: counts only")


class CampaignRow(Row):
    name: str | None = None
    version: int | None = None
    status: str | None = None
    goal: str | None = None
    audience: str | None = None
    arms: str | None = Field(None, description="comma-separated, control first")
    created_at: Time | None = None
    assigned: int | None = Field(None, description="customers assigned so far")


class AssignOut(ApiModel):
    campaign: str
    version: int
    audience: int = Field(description="customers in the audience")
    assigned: int = Field(description="customers who may be contacted now (control included)")
    newly_assigned: int
    already_assigned: int
    excluded_no_consent: int
    excluded_unknown: int
    excluded_frequency_cap: int
    excluded_budget: int = Field(0, description="left out once the offers' expected cost reached the budget")
    arms: dict[str, int] = Field(description="customers per arm")
    rewards_posted: int = Field(0, description="rewards of windows closed by the assignment date written to the "
                                               "decision log by this run (as POST .../rewards does)")
    output: str | None = Field(None, description="always null here: the file export is `shoplens campaign assign "
                                                 "--output` on the server")


class OfferOut(ApiModel):
    campaign: str
    version: int
    customer_id: str = Field(description="as given (the shop's id)")
    arm: str | None = Field(None, description="the sticky arm; null: no arm (see reason)")
    offer: ArmOut | None = Field(None, description="what to show; null for control or no arm")
    propensity: Number | None = None
    assigned_at: Time | None = None
    newly_assigned: bool = Field(description="assigned by this request (stored and logged)")
    reason: str | None = Field(None, description="why there is no offer")


class ArmResult(ApiModel):
    arm: str
    metric: str
    n: int
    mean: Number | None = None
    total: Number | None = Field(None, description="the metric summed over the arm (conversions, or money)")
    effect: Number | None = Field(None, description="difference of means against control (null for control)")
    relative_effect: Number | None = None
    ci_low: Number | None = Field(None, description="95 % Welch interval of effect")
    ci_high: Number | None = None
    p_value: Number | None = None
    chance_to_win: Number | None = Field(None, description="Bayesian chance to beat control")
    ci_low_sequential: Number | None = Field(None, description="always-valid confidence sequence")
    ci_high_sequential: Number | None = None
    effect_cuped: Number | None = Field(None, description="effect less what the pre-period predicts")
    ci_low_cuped: Number | None = None
    ci_high_cuped: Number | None = None
    p_value_cuped: Number | None = None
    incremental_total: Number | None = Field(None, description="effect x customers in the arm")
    error: str | None = Field(None, description="why this arm could not be compared")
    exposure_rate: Number | None = Field(None, description="exposure attribution: share of the arm who saw the offer")
    effect_exposed: Number | None = Field(None, description="exposure attribution: effect / exposure_rate")
    ci_low_exposed: Number | None = None
    ci_high_exposed: Number | None = None


class SrmOut(ApiModel):
    p_value: Number | None = None
    alarm: bool
    counts: dict[str, int]
    expected_share: dict[str, Number]


class CupedInfo(ApiModel):
    theta: Number | None = None
    variance_reduction: Number | None = None


class ReportCampaign(ApiModel):
    name: str
    version: int
    status: str
    goal: str
    audience: str
    window_days: int
    arms: list[ArmOut]
    control_share: Number
    policy: str = Field("split", description="split or bandit")


class ReportWindow(ApiModel):
    assigned_from: Time | None = None
    assigned_to: Time | None = None
    data_until: Time | None = Field(None, description="the latest order the report knows of")
    share_closed: Number = Field(description="customers whose window has ended")


class PolicyEstimate(ApiModel):
    policy: str = Field(description="as run, all-control, all-ARM, best-arm (the best single arm), learned (a "
                                    "cross-fitted policy learned from the campaign)")
    estimator: str
    value: Number | None = None
    ci_low: Number | None = None
    ci_high: Number | None = None
    arm: str | None = Field(None, description="best-arm: which arm")
    arm_shares: dict[str, Number] | None = Field(None, description="learned: the share of customers it gives each arm")


class Conclusion(ApiModel):
    en: str
    zh: str


class Attribution(ApiModel):
    method: Literal["intention_to_treat", "exposure"]
    exposed: dict[str, int] | None = Field(None, description="exposure attribution: exposed customers per arm")


class ReportOut(ApiModel):
    """The ``campaign report --json`` answer."""

    arms: list[ArmResult]
    srm: SrmOut
    control: str
    alpha: Number
    cuped: dict[str, CupedInfo] | None = None
    campaign: ReportCampaign
    window: ReportWindow
    currency: str
    policies: list[PolicyEstimate]
    rewards_logged: int = Field(description="assignments with a reward in the decision log (posted by assignment "
                                            "runs, the scheduler's refresh or POST .../rewards; the report only reads)")
    conclusion: Conclusion
    attribution: Attribution = Field(description="which attribution the report used")
    simulated: bool = Field(False, description="false: outcomes from the shop's orders (simulated reports are the "
                                               "demo's only)")
    offers_vs_control: list[ArmResult] | None = Field(
        None, description="bandit campaigns: the randomised effect of getting any offer against control")
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)


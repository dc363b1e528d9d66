"""Schemas of the rules resource: the generated customer rules (IF/THEN, checked on a later window),
the customers a rule tags, and the strongest cross-sell (association) rules with product names."""

from __future__ import annotations

from pydantic import Field

from shoplens.serve.schemas import ApiModel, Number, Row, Time


class CustomerRule(Row):
    rule_id: str | None = None
    kind: str | None = Field(None, description="retention (churn above average) or growth (buying again above average)")
    condition: str | None = Field(None, description="the rule's condition, in the language asked for")
    rule: str | None = Field(None, description="IF condition THEN action, in the language asked for")
    action: str | None = Field(None, description="the suggested action, in the language asked for")
    explanation: str | None = Field(None, description="one paragraph: support, outcome rates and lift, mined and later")
    support: int | None = Field(None, description="customers the condition covered when mined")
    lift_mining: Number | None = Field(None, description="outcome rate among them / among all, in the mining window")
    lift_later: Number | None = Field(None, description="the same on the later window, never seen while mining")
    validated: bool | None = Field(None, description="the later lift kept the mined direction (only these are applied)")
    customers: int | None = Field(None, description="customers tagged with the rule today (null before --apply)")


class RulesOut(ApiModel):
    computed_at: Time | None = Field(None, description="when the rules were mined")
    lang: str
    currency: str | None = Field(None, description="the shop's currency (of the members' CLV)")
    data: list[CustomerRule]
    count: int


class CrossSellRule(Row):
    antecedent: str | None = Field(None, description="the product id(s) bought ('A + B' for several)")
    antecedent_name: str | None = Field(None, description="their product names")
    consequent: str | None = Field(None, description="the product id(s) bought with them")
    consequent_name: str | None = Field(None, description="their product names")
    support: Number | None = Field(None, description="share of baskets holding both sides")
    confidence: Number | None = Field(None, description="share of baskets with the first side that hold the second")
    lift: Number | None = Field(None, description="confidence / the second side's share of all baskets")
    baskets: int | None = Field(None, description="baskets holding both sides")


class CrossSellOut(ApiModel):
    computed_at: Time | None = Field(None, description="when the association rules were mined")
    data: list[CrossSellRule]
    count: int

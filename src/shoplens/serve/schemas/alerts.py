"""Schemas of the alerts resource (the alert rules of :mod:`shoplens.monitor.alerts`).

>>> AlertsQuery(kind="drift").limit
100
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shoplens.serve.schemas import PageQuery, Row, Time


class AlertOut(Row):
    """One alert: what the rule found, in words, with its evidence and delivery state."""

    alert_id: str | None = Field(None, description="stable id (from the key)")
    kind: str | None = Field(None, description="emerging_complaint, drift, kpi_drop or campaign_verdict")
    key: str | None = Field(None, description="what it is about (rule:subject:period); an alert is raised once per key")
    severity: str | None = Field(None, description="info, warning or critical")
    title: str | None = None
    message: str | None = Field(None, description="the finding in one or two sentences")
    evidence: dict[str, Any] | None = Field(None, description="the numbers behind it (periods, shares, p-values, "
                                            "usual range, PSI, campaign arms)")
    computed_at: Time | None = Field(None, description="when the rule found it")
    delivery: str | None = Field(None, description="pending, delivered, failed (retried at the next check) or no webhook")
    attempts: int | None = Field(None, description="webhook POSTs made")
    delivered_at: Time | None = None
    error: str | None = Field(None, description="the last delivery error")
    kind_zh: str | None = Field(None, description="the kind in Chinese (`lang=zh`)")
    severity_zh: str | None = Field(None, description="the severity in Chinese (`lang=zh`)")
    delivery_zh: str | None = Field(None, description="the delivery state in Chinese (`lang=zh`)")


class AlertsQuery(PageQuery):
    kind: Literal["emerging_complaint", "drift", "kpi_drop", "campaign_verdict"] | None = Field(
        None, description="only alerts of this rule")
    lang: Literal["en", "zh"] = Field("en", description="language of titles and messages")

"""Schemas of the collector: the Segment / RudderStack payloads it accepts (documentation: the
routes read the body as sent, so the payloads pass unchanged) and its answer.

>>> CollectOut(accepted=2, duplicates=1, rejected=[{"index": 3, "reason": "track needs `event`"}]).rejected[0].index
3
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel


class SpecEvent(BaseModel):
    """One call of the Segment / RudderStack HTTP API (other fields are accepted and ignored)."""

    type: str | None = Field(None, description="track, identify, alias, page or screen (implied by the endpoint)")
    event: str | None = Field(None, description='track: the event name, e.g. "Product Viewed"')
    userId: str | None = Field(None, description="the shop's customer id")
    anonymousId: str | None = Field(None, description="the visitor's anonymous id (cookie / device)")
    previousId: str | None = Field(None, description="alias: the id to merge into userId")
    properties: dict[str, Any] | None = Field(None, description="product_id, category, order_id, products[]...")
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = Field(None, description="sessionId, consent.categoryPreferences...")
    timestamp: str | None = Field(None, description="ISO 8601 time the event happened (client clock)")
    messageId: str | None = Field(None, description="unique id: a re-sent messageId is stored once")


class BatchIn(BaseModel):
    batch: list[SpecEvent]
    context: dict[str, Any] | None = None


class RejectedOut(ApiModel):
    index: int = Field(description="position of the event in the request (0 for a single call)")
    reason: str = Field(description="why it was not stored")


class CollectOut(ApiModel):
    """What happened to the request's events; the accepted ones are on disk."""

    accepted: int = Field(description="events written to the durable log (visible after the next fold, < 1 s)")
    duplicates: int = Field(description="events whose messageId was already received (stored once)")
    rejected: list[RejectedOut] = Field(description="events refused, each with its reason; the others are kept")

"""Schemas of the behaviour resource: funnels, retention, paths, sessions and live counters
(:mod:`shoplens.behaviour`); each answer is the capability's ``to_dict()`` as is.

>>> FunnelOut.model_validate({"steps": [], "window_seconds": 86400.0, "from": None, "to": None}).window_seconds
86400.0
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shoplens.serve.schemas import COMPUTED_ON_REQUEST, ApiModel, Number, Time


class _Ranged(ApiModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FunnelStep(ApiModel):
    step: int = Field(description="1 for the first step")
    event: str = Field(description="the step as asked: a spec name, an event type or a custom event name")
    users: int = Field(description="users who did steps 1..k in order within the window of step 1")
    conversion: Number | None = Field(None, description="users / users at step 1 (null when nobody is at step 1)")
    step_conversion: Number | None = Field(None, description="users / users at the previous step")
    drop_off: int = Field(description="users at the previous step who did not reach this one")
    drop_off_rate: Number | None = None
    median_seconds_to_convert: Number | None = Field(None, description="from step 1 to this step (null at step 1)")


class FunnelGroup(ApiModel):
    value: str = Field(description="the breakdown value ('(none)' when missing)")
    value_zh: str | None = Field(None, description="by segment: the segment's name in Chinese")
    steps: list[FunnelStep]


class FunnelOut(_Ranged):
    steps: list[FunnelStep]
    window_seconds: Number
    from_: Time | None = Field(None, alias="from", description="only events at or after this time")
    to: Time | None = Field(None, description="only events before this time")
    by: str | None = Field(None, description="the breakdown asked for (with breakdown)")
    breakdown: list[FunnelGroup] | None = Field(None, description="the funnel per value of `by`, most users first")
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)


class Cohort(ApiModel):
    cohort: str = Field(description="first day of the cohort's week (or the day)")
    users: int
    retained: list[int | None] = Field(description="users back in period 0, 1, 2... (null: not observable yet)")
    retention: list[Number | None] = Field(description="retained / users per period (null: not observable yet)")


class RetentionOut(ApiModel):
    start_event: str
    return_event: str
    period: str = Field(description="week or day")
    periods: int = Field(description="length of each cohort's lists")
    cohorts: list[Cohort]
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)


class PathOut(ApiModel):
    path: list[str] = Field(description="the events after the anchor; '(end)' when the session ended first")
    users: int
    share: Number


class PathsOut(ApiModel):
    after: str
    steps: int
    users: int = Field(description="users with the anchor event")
    paths: list[PathOut]
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)


class SessionSummary(ApiModel):
    sessions: int
    users: int
    events: int
    events_per_session: Number | None = None
    median_events: Number | None = None
    mean_seconds: Number | None = None
    median_seconds: Number | None = None
    bounces: int = Field(description="sessions with one event")
    bounce_rate: Number | None = None


class SessionGroup(SessionSummary):
    value: str


class SessionLength(ApiModel):
    length: str
    sessions: int
    share: Number | None = None


class SessionsOut(ApiModel):
    gap_seconds: Number
    summary: SessionSummary
    lengths: list[SessionLength]
    by: str | None = None
    breakdown: list[SessionGroup] | None = None
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)


class LiveWindow(ApiModel):
    window: str = Field(description="5m, 1h or 1d")
    seconds: Number
    since: Time
    events: int
    users: int
    by_type: dict[str, int] = Field(description="events per canonical event type")


class LiveOut(ApiModel):
    now: Time
    total_events: int
    last_event_at: Time | None = None
    windows: list[LiveWindow]
    computed_at: Time | None = Field(None, description=COMPUTED_ON_REQUEST)

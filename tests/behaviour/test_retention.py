"""Retention cohorts against hand-computed tables."""

from __future__ import annotations

import pytest

from shoplens.behaviour.retention import retention
from shoplens.errors import InsufficientDataError, UnknownEventError, UserInputError

# Mondays: 2024-05-06, 05-13, 05-20, 05-27
ROWS = [
    ("a", "view", "2024-05-06 10:00"), ("a", "view", "2024-05-08 10:00"), ("a", "view", "2024-05-21 10:00"),
    ("b", "view", "2024-05-12 23:59"), ("b", "purchase", "2024-05-13 00:00"),
    ("c", "view", "2024-05-14 10:00"), ("c", "purchase", "2024-05-14 09:00"),  # bought before the first view
    ("d", "purchase", "2024-05-27 10:00"),
]


def test_weekly_cohorts_by_hand(events_wh):
    result = retention(events_wh(ROWS), periods=3)
    by_cohort = {c["cohort"]: c for c in result.cohorts}
    # week of 05-06: a, b; a back in week 0 (05-08) and week 2 (05-21); b back in week 1 (05-13)
    assert by_cohort["2024-05-06"]["users"] == 2
    assert by_cohort["2024-05-06"]["retained"] == [1, 1, 1, 0]
    assert by_cohort["2024-05-06"]["retention"] == [0.5, 0.5, 0.5, 0.0]
    # week of 05-13: c (first event the purchase at 09:00, back with the view at 10:00); last data week is 05-27
    assert by_cohort["2024-05-13"]["retained"] == [1, 0, 0, None]
    # week of 05-27: d; nothing after it can be observed yet
    assert by_cohort["2024-05-27"]["retained"] == [0, None, None, None]
    assert by_cohort["2024-05-27"]["retention"] == [0.0, None, None, None]
    assert result.to_dict()["periods"] == 4


def test_start_and_return_events(events_wh):
    result = retention(events_wh(ROWS), start_event="view", return_event="Order Completed", periods=2)
    by_cohort = {c["cohort"]: c for c in result.cohorts}
    # a never buys; b views on Sunday 05-12 and buys on Monday: week 1; c bought before its first view: not a return
    assert by_cohort["2024-05-06"]["users"] == 2 and by_cohort["2024-05-06"]["retained"] == [0, 1, 0]
    assert by_cohort["2024-05-13"]["retained"] == [0, 0, 0]
    assert "2024-05-27" not in by_cohort  # d never viewed


def test_daily_periods(events_wh):
    result = retention(events_wh(ROWS), period="day", periods=2)
    first = result.cohorts[0]
    assert (first["cohort"], first["users"], first["retained"]) == ("2024-05-06", 1, [0, 0, 1])
    assert result.matrix().loc["2024-05-06", 2] == 1.0


def test_errors(events_wh):
    with pytest.raises(InsufficientDataError):
        retention(events_wh([]))
    wh = events_wh(ROWS)
    with pytest.raises(UnknownEventError):
        retention(wh, return_event="Came Back")
    with pytest.raises(UserInputError, match="week or day"):
        retention(wh, period="month")
    with pytest.raises(UserInputError, match="--periods"):
        retention(wh, periods=0)

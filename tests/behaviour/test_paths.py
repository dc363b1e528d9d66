"""Top paths after an event, by hand."""

from __future__ import annotations

import pytest

from shoplens.behaviour.paths import top_paths
from shoplens.errors import InsufficientDataError, UnknownEventError, UserInputError

ROWS = [
    ("a", "view", "2024-05-01 10:00"), ("a", "view", "2024-05-01 10:01"), ("a", "cart", "2024-05-01 10:02"),
    ("a", "purchase", "2024-05-01 10:03"),
    ("a", "view", "2024-05-02 10:00"), ("a", "cart", "2024-05-02 10:01"),   # a's second visit: not its first view
    ("b", "search", "2024-05-01 09:00"), ("b", "view", "2024-05-01 10:00"), ("b", "cart", "2024-05-01 10:10"),
    ("b", "purchase", "2024-05-01 10:20"),
    ("c", "view", "2024-05-01 10:00"), ("c", "cart", "2024-05-01 11:00"),   # the cart is in a later session
    ("d", "cart", "2024-05-01 10:00"),                                       # never viewed
]


def test_paths_after_each_users_first_event(events_wh):
    result = top_paths(events_wh(ROWS), "view", steps=2)
    assert result.users == 3
    assert [(p["path"], p["users"]) for p in result.paths] == [
        (["cart", "purchase"], 2), (["(end)"], 1)]
    assert result.paths[0]["share"] == pytest.approx(2 / 3)


def test_without_collapsing_repeats(events_wh):
    result = top_paths(events_wh(ROWS), "view", steps=2, collapse=False)
    assert {tuple(p["path"]): p["users"] for p in result.paths} == {
        ("view", "cart"): 1, ("cart", "purchase"): 1, ("(end)",): 1}


def test_limit_and_longer_paths(events_wh):
    wh = events_wh(ROWS)
    assert len(top_paths(wh, "view", steps=2, limit=1).paths) == 1
    longer = top_paths(wh, "Product Viewed", steps=3)
    assert {tuple(p["path"]) for p in longer.paths} == {("cart", "purchase", "(end)"), ("(end)",)}
    assert top_paths(wh, "view", gap="2h", steps=1).paths[0] == {"path": ["cart"], "users": 3, "share": 1.0}


def test_errors(events_wh):
    with pytest.raises(InsufficientDataError):
        top_paths(events_wh([]), "view")
    wh = events_wh(ROWS)
    with pytest.raises(UnknownEventError):
        top_paths(wh, "Wishlist Opened")
    with pytest.raises(UserInputError, match="--steps"):
        top_paths(wh, "view", steps=0)

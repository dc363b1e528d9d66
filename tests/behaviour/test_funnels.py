"""Funnels against hand-computed cases: order, window boundary, ties, repeats, breakdowns, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.behaviour.events import resolve_event
from shoplens.behaviour.funnels import funnel
from shoplens.errors import InsufficientDataError, NotComputedError, UnknownEventError, UserInputError


def users(result) -> list[int]:
    return [s["users"] for s in result.steps]


def test_three_steps_counted_by_hand(events_wh):
    wh = events_wh([
        # a: all three in order
        ("a", "view", "2024-05-01 10:00"), ("a", "cart", "2024-05-01 10:05"), ("a", "purchase", "2024-05-01 11:00"),
        # b: view and cart only
        ("b", "view", "2024-05-01 09:00"), ("b", "cart", "2024-05-01 09:30"),
        # c: view only
        ("c", "view", "2024-05-02 09:00"),
        # d: purchase and cart but never a view: not in the funnel at all
        ("d", "cart", "2024-05-01 09:00"), ("d", "purchase", "2024-05-01 09:10"),
        # e: view, purchase, but no cart between: reaches step 1 only
        ("e", "view", "2024-05-01 09:00"), ("e", "purchase", "2024-05-01 09:10"),
    ])
    result = funnel(wh, "view,cart,purchase", window="1d")
    assert users(result) == [4, 2, 1]
    assert [s["conversion"] for s in result.steps] == [1.0, 0.5, 0.25]
    assert [s["step_conversion"] for s in result.steps] == [1.0, 0.5, 0.5]
    assert [s["drop_off"] for s in result.steps] == [0, 2, 1]
    # a carts after 5 min, b after 30 min: median 17.5 min; a buys after 60 min
    assert [s["median_seconds_to_convert"] for s in result.steps] == [None, 1050.0, 3600.0]


def test_window_boundary_is_inclusive(events_wh):
    wh = events_wh([
        ("on", "view", "2024-05-01 10:00:00"), ("on", "cart", "2024-05-02 10:00:00"),     # exactly 1 day: counts
        ("late", "view", "2024-05-01 10:00:00"), ("late", "cart", "2024-05-02 10:00:01"),  # one second over
    ])
    assert users(funnel(wh, ["view", "cart"], window="1d")) == [2, 1]
    assert users(funnel(wh, ["view", "cart"], window="24h")) == [2, 1]
    assert users(funnel(wh, ["view", "cart"], window="2d")) == [2, 2]


def test_window_is_measured_from_step_one_not_from_the_previous_step(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 00:00"), ("a", "cart", "2024-05-01 20:00"),
                    ("a", "purchase", "2024-05-02 04:00")])  # 8 h after the cart, 28 h after the view
    assert users(funnel(wh, "view,cart,purchase", window="1d")) == [1, 1, 0]


def test_order_is_by_event_time_not_by_arrival(events_wh):
    wh = events_wh([
        # sent in reverse: the cart row arrives first, but happened after the view
        ("a", "cart", "2024-05-01 10:05", None, None, None, None, "2024-05-01 10:06"),
        ("a", "view", "2024-05-01 10:00", None, None, None, None, "2024-05-01 12:00"),
        # the cart happened before the view: not view -> cart
        ("b", "view", "2024-05-01 10:05"), ("b", "cart", "2024-05-01 10:00"),
    ])
    assert users(funnel(wh, "view,cart")) == [2, 1]


def test_events_at_the_same_instant_follow_the_funnel_order(events_wh):
    wh = events_wh([("a", "cart", "2024-05-01 10:00"), ("a", "view", "2024-05-01 10:00")])
    assert users(funnel(wh, "view,cart")) == [1, 1]
    assert users(funnel(wh, "cart,view")) == [1, 1]


def test_one_event_never_fills_two_steps(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 10:00"),
                    ("b", "view", "2024-05-01 10:00"), ("b", "view", "2024-05-01 10:00")])
    assert users(funnel(wh, "view,view")) == [2, 1]
    assert users(funnel(wh, "view,view,view")) == [2, 1, 0]


def test_a_later_attempt_that_goes_further_is_the_one_counted(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00"),                                       # attempt 1: no cart within a day
        ("a", "view", "2024-05-05 10:00"), ("a", "cart", "2024-05-05 11:00"),   # attempt 2: cart after 1 h
        ("a", "view", "2024-05-05 10:30"),                                       # attempt 3: cart after 30 min
    ])
    result = funnel(wh, "view,cart", window="1d")
    assert users(result) == [1, 1]
    # attempts 2 and 3 both reach the cart; the earliest of them (2) is counted
    assert result.steps[1]["median_seconds_to_convert"] == 3600.0


def test_a_cart_before_a_repeated_view_still_follows_the_first_view(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 10:00"), ("a", "view", "2024-05-01 10:10"),
                    ("a", "cart", "2024-05-01 10:20"), ("a", "purchase", "2024-05-03 10:00")])
    assert users(funnel(wh, "view,cart,purchase", window="1d")) == [1, 1, 0]
    assert users(funnel(wh, "view,cart,purchase", window="3d")) == [1, 1, 1]


def test_spec_names_types_and_custom_names(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00", "Product Viewed"),         # sent by the collector
        ("b", "view", "2024-05-01 10:00"),                             # a file row: no name
        ("c", "list_view", "2024-05-01 10:00", "Product List Filtered"),
        ("d", "other", "2024-05-01 10:00", "Newsletter Signup"),
        ("d", "view", "2024-05-01 10:01"),
    ])
    assert users(funnel(wh, ["Product Viewed"])) == [3]
    assert users(funnel(wh, ["view"])) == [3]
    assert users(funnel(wh, ["Product List Viewed"])) == [0]   # a filter is not a list view by name
    assert users(funnel(wh, ["list_view"])) == [1]             # but is by type
    assert users(funnel(wh, ["Newsletter Signup", "Product Viewed"])) == [1, 1]
    assert resolve_event(wh, "Newsletter Signup").kind == "custom"


def test_unknown_step_is_a_clear_error_listing_what_exists(events_wh):
    wh = events_wh([("d", "other", "2024-05-01 10:00", "Newsletter Signup")])
    with pytest.raises(UnknownEventError) as err:
        funnel(wh, "Product Viewed,Product Bought")
    message = str(err.value)
    assert "'Product Bought'" in message and "Order Completed" in message and "purchase" in message
    assert "Newsletter Signup" in message


def test_no_events_is_a_clear_error(events_wh):
    wh = events_wh([])
    with pytest.raises(InsufficientDataError, match="no behaviour events.*shoplens ingest events"):
        funnel(wh, "view,cart")
    wh2 = events_wh([("a", "view", "2024-05-01 10:00")])
    with pytest.raises(InsufficientDataError, match="in the chosen time range"):
        funnel(wh2, "view", start="2025-01-01")


def test_nobody_at_step_one_gives_zeros_not_an_error(events_wh):
    wh = events_wh([("a", "cart", "2024-05-01 10:00")])
    result = funnel(wh, "view,cart")
    assert users(result) == [0, 0] and result.steps[0]["conversion"] is None


def test_time_range_reads_only_events_inside_it(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 10:00"), ("a", "cart", "2024-05-01 10:10"),
                    ("b", "view", "2024-05-02 10:00"), ("b", "cart", "2024-05-02 10:10")])
    assert users(funnel(wh, "view,cart", start="2024-05-02")) == [1, 1]
    assert users(funnel(wh, "view,cart", end="2024-05-01T10:05")) == [1, 0]


def test_breakdown_by_a_column_uses_the_counted_step_one_event(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00", None, None, "app"),                      # no cart within a day
        ("a", "view", "2024-05-03 10:00", None, None, "web"), ("a", "cart", "2024-05-03 10:01", None, None, "app"),
        ("b", "view", "2024-05-01 10:00", None, None, "web"),
        ("c", "view", "2024-05-01 10:00"),                                           # no channel
    ])
    result = funnel(wh, "view,cart", by="channel")
    groups = {g["value"]: [s["users"] for s in g["steps"]] for g in result.breakdown}
    assert groups == {"web": [2, 1], "(none)": [1, 0]}
    assert [g["value"] for g in result.breakdown] == ["web", "(none)"]  # most users first
    assert sum(g["steps"][0]["users"] for g in result.breakdown) == result.steps[0]["users"]
    assert result.to_dict()["by"] == "channel"


def test_breakdown_by_segment(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 10:00"), ("a", "cart", "2024-05-01 10:01"),
                    ("b", "view", "2024-05-01 10:00"), ("c", "view", "2024-05-01 10:00")])
    with pytest.raises(NotComputedError, match="shoplens customers segments"):
        funnel(wh, "view,cart", by="segment")
    wh.write_table("customer_segments", pd.DataFrame({"customer_id": ["a", "b"], "segment_id": [0, 1],
                                                      "segment_name": ["Loyal", "New"]}))
    groups = {g["value"]: [s["users"] for s in g["steps"]] for g in funnel(wh, "view,cart", by="segment").breakdown}
    assert groups == {"Loyal": [1, 1], "New": [1, 0], "(none)": [1, 0]}


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": ""}, "give event names"),
    ({"steps": "view,,cart"}, "give event names"),
    ({"steps": ",".join(["view"] * 11)}, "at most 10"),
    ({"steps": "view", "window": "soon"}, "--window 'soon'"),
    ({"steps": "view", "window": "0d"}, "longer than zero"),
    ({"steps": "view", "by": "price"}, "--by 'price'"),
    ({"steps": "view", "start": "yesterday"}, "--from 'yesterday'"),
    ({"steps": "view", "start": "2024-05-02", "end": "2024-05-01"}, "must be after"),
    ({"steps": "view", "window": "99999999999w"}, "at most 3,660 days"),
    ({"steps": "view", "end": "0001-01-01"}, "between 1900 and 2999"),
])
def test_bad_parameters_are_user_errors(events_wh, kwargs, message):
    wh = events_wh([("a", "view", "2024-05-01 10:00")])
    steps = kwargs.pop("steps")
    with pytest.raises(UserInputError, match=message):
        funnel(wh, steps, **kwargs)


def test_a_warehouse_made_before_event_names_reads_them_as_missing(events_wh):
    """A warehouse created before the Segment columns existed, opened read-only: no migration needed."""
    from shoplens.behaviour import live_counters, retention, sessions, top_paths
    from shoplens.store.warehouse import Warehouse

    wh = events_wh([("a", "view", "2024-05-01 10:00"), ("a", "cart", "2024-05-01 10:05")])
    for column in ("event_name", "anonymous_id", "message_id", "received_at"):
        wh.con.execute(f"ALTER TABLE events DROP COLUMN {column}")
    wh.con.execute("CHECKPOINT")
    path = wh.path
    wh.close()
    with Warehouse(path, read_only=True) as old:
        assert users(funnel(old, "Product Viewed,Product Added")) == [1, 1]
        assert retention(old).cohorts[0]["users"] == 1
        assert top_paths(old, "view").paths[0]["path"] == ["cart", "(end)"]
        assert sessions(old).summary["sessions"] == 1
        assert live_counters(old, now="2024-05-01T10:05")["windows"][1]["events"] == 2
        with pytest.raises(UnknownEventError):
            funnel(old, "Newsletter Signup")

"""Sessions: the 30-minute rule at its boundary, the sender's session ids, bounces, lengths."""

from __future__ import annotations

import pytest

from shoplens.behaviour.sessions import session_table, sessions
from shoplens.errors import InsufficientDataError, UserInputError


def test_thirty_minutes_of_inactivity_ends_a_session(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00:00"), ("a", "view", "2024-05-01 10:30:00"),  # exactly 30 min: same session
        ("a", "cart", "2024-05-01 11:00:01"),                                         # 30 min 1 s: a new one
        ("b", "view", "2024-05-01 10:00:00"),
    ])
    table = session_table(wh)
    assert sorted(table["events"].tolist()) == [1, 1, 2]
    s = sessions(wh).summary
    assert (s["sessions"], s["users"], s["events"], s["bounces"]) == (3, 2, 4, 2)
    assert s["bounce_rate"] == pytest.approx(2 / 3)
    assert s["median_seconds"] == 0.0 and s["mean_seconds"] == 600.0
    assert sessions(wh, gap="1h").summary["sessions"] == 2


def test_the_senders_session_ids_are_kept(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00", None, "s1"), ("a", "cart", "2024-05-01 15:00", None, "s1"),  # long pause, one session
        ("a", "view", "2024-05-01 10:10", None, "s2"),
        ("a", "view", "2024-05-01 10:05"), ("a", "view", "2024-05-01 10:20"),  # no id: by inactivity, one session
    ])
    table = session_table(wh).sort_values("session_key")
    assert table["events"].tolist() == [2, 2, 1]
    assert table["seconds"].tolist() == [900.0, 5 * 3600.0, 0.0]


def test_out_of_order_rows_are_sessioned_by_time(events_wh):
    wh = events_wh([("a", "view", "2024-05-01 11:00"), ("a", "view", "2024-05-01 10:00"), ("a", "view", "2024-05-01 10:40")])
    assert sorted(session_table(wh)["events"].tolist()) == [1, 2]


def test_lengths_and_breakdown(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 10:00", None, None, "web"), ("a", "cart", "2024-05-01 10:02", None, None, "app"),
        ("b", "view", "2024-05-01 10:00", None, None, "app"),
    ])
    result = sessions(wh, by="channel")
    lengths = {r["length"]: r["sessions"] for r in result.lengths}
    assert lengths["0 s (one event or one instant)"] == 1 and lengths["1-5 min"] == 1 and sum(lengths.values()) == 2
    groups = {g["value"]: (g["sessions"], g["bounce_rate"]) for g in result.breakdown}
    assert groups == {"web": (1, 0.0), "app": (1, 1.0)}  # a's session started on the web


def test_errors(events_wh):
    with pytest.raises(InsufficientDataError):
        sessions(events_wh([]))
    with pytest.raises(UserInputError, match="--gap"):
        sessions(events_wh([("a", "view", "2024-05-01 10:00")]), gap="half an hour")

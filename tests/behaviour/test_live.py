"""Live counters: window edges, receive time first, an empty warehouse."""

from __future__ import annotations

from shoplens.behaviour.live import live_counters


def test_windows_by_hand(events_wh):
    wh = events_wh([
        ("a", "view", "2024-05-01 11:55:00"),          # exactly 5 min before now: not in the last 5 min
        ("a", "cart", "2024-05-01 11:55:01"),
        ("b", "view", "2024-05-01 11:00:00", None, None, None, None, "2024-05-01 11:59:00"),  # sent late: counts when received
        ("c", "purchase", "2024-05-01 12:00:00"),      # exactly now: in
        ("c", "view", "2024-05-01 12:00:01"),          # after now: out
        ("d", "view", "2024-04-30 12:00:00"),          # exactly a day before: out
    ])
    out = live_counters(wh, now="2024-05-01T12:00:00")
    windows = {w["window"]: w for w in out["windows"]}
    assert (windows["5m"]["events"], windows["5m"]["users"]) == (3, 3)
    assert windows["5m"]["by_type"] == {"cart": 1, "purchase": 1, "view": 1}
    assert windows["1h"]["events"] == 4 and windows["1d"]["events"] == 4
    assert out["total_events"] == 6


def test_no_events_gives_zeros(events_wh):
    out = live_counters(events_wh([]))
    assert out["total_events"] == 0 and out["last_event_at"] is None
    assert [w["events"] for w in out["windows"]] == [0, 0, 0]

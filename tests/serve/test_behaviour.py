"""`/api/v1/events/...`: the behaviour analytics over HTTP: same answers as the Python functions,
roles, errors, every field documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shoplens.behaviour import funnel, live_counters, retention, sessions, top_paths
from shoplens.jsonsafe import json_safe

from tests.serve.serve_helpers import auth
from tests.serve.test_contract import undocumented

EVENTS = """INSERT INTO events (customer_id, event_type, event_name, occurred_at, channel) VALUES
    ('a', 'view', 'Product Viewed', '2024-05-06 10:00', 'web'), ('a', 'cart', 'Product Added', '2024-05-06 10:05', 'web'),
    ('a', 'purchase', NULL, '2024-05-06 10:30', 'web'), ('a', 'view', NULL, '2024-05-14 09:00', 'app'),
    ('b', 'view', NULL, '2024-05-07 12:00', 'app'), ('b', 'cart', NULL, '2024-05-09 12:00', 'app'),
    ('c', 'other', 'Newsletter Signup', '2024-05-07 12:00', NULL)"""

PATHS = {
    "funnel?steps=Product%20Viewed,Product%20Added,Order%20Completed&window=1d&by=channel":
        lambda wh: funnel(wh, "Product Viewed,Product Added,Order Completed", window="1d", by="channel").to_dict(),
    "retention?periods=2": lambda wh: retention(wh, periods=2).to_dict(),
    "paths?after=view&steps=2": lambda wh: top_paths(wh, "view", steps=2).to_dict(),
    "sessions?by=channel": lambda wh: sessions(wh, by="channel").to_dict(),
    "live?now=2024-05-07T12:00:00": lambda wh: live_counters(wh, now="2024-05-07T12:00:00"),
}


@pytest.fixture()
def with_events(served):
    client, keys, settings = served
    client.app.state.warehouse.con.execute(EVENTS)
    return client, keys


@pytest.mark.parametrize("path", list(PATHS))
def test_answers_equal_the_python_functions_and_are_documented(with_events, path):
    client, keys = with_events
    answer = client.get(f"/api/v1/events/{path}", headers=auth(keys["analyst"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert datetime.fromisoformat(body.pop("computed_at")) >= datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    assert body == json_safe(PATHS[path](client.app.state.warehouse))  # and when it was computed on request
    schema = client.get("/api/v1/openapi.json").json()
    documented = schema["paths"][f"/api/v1/events/{path.split('?')[0]}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert not undocumented(answer.json(), documented, schema["components"]["schemas"])


def test_the_issue_funnel_contract(with_events):
    client, keys = with_events
    out = client.get("/api/v1/events/funnel", params={"steps": "Product Viewed,Product Added,Order Completed",
                                                      "window": "1d"}, headers=auth(keys["analyst"])).json()
    assert [(s["event"], s["users"], s["conversion"]) for s in out["steps"]] == [
        ("Product Viewed", 2, 1.0), ("Product Added", 1, 0.5), ("Order Completed", 1, 0.5)]
    assert "breakdown" not in out


def test_time_range_parameters_are_from_and_to(with_events):
    client, keys = with_events
    out = client.get("/api/v1/events/funnel", params={"steps": "view", "from": "2024-05-07", "to": "2024-05-08"},
                     headers=auth(keys["analyst"])).json()
    assert out["steps"][0]["users"] == 1 and out["from"] == "2024-05-07T00:00:00"


def test_roles(with_events):
    client, keys = with_events
    assert client.get("/api/v1/events/live").status_code == 401
    assert client.get("/api/v1/events/live", headers=auth(keys["viewer"])).status_code == 403
    assert client.get("/api/v1/events/live", headers=auth(keys["admin"])).status_code == 200


def test_errors_are_one_line_answers(served, with_events):
    client, keys = with_events
    h = auth(keys["analyst"])
    unknown = client.get("/api/v1/events/funnel", params={"steps": "view,Product Bought"}, headers=h)
    assert unknown.status_code == 400 and "Product Bought" in unknown.json()["detail"]
    assert client.get("/api/v1/events/retention", params={"period": "month"}, headers=h).status_code == 422
    assert client.get("/api/v1/events/funnel", params={"steps": "view", "window": "soon"}, headers=h).status_code == 400
    assert client.get("/api/v1/events/funnel", params={"steps": "view", "by": "segment"}, headers=h).status_code == 409


def test_no_events_is_409_with_the_way_to_load_them(served):
    client, keys, _ = served
    answer = client.get("/api/v1/events/funnel", params={"steps": "view,cart"}, headers=auth(keys["analyst"]))
    assert answer.status_code == 409 and "shoplens ingest events" in answer.json()["detail"]
    live = client.get("/api/v1/events/live", headers=auth(keys["analyst"]))
    assert live.status_code == 200 and live.json()["total_events"] == 0


def test_extreme_inputs_are_400_not_500(with_events):
    """Found by fuzzing: a duration or a date out of range is the caller's mistake."""
    client, keys = with_events
    h = auth(keys["analyst"])
    assert client.get("/api/v1/events/sessions", params={"gap": "99999999999w"}, headers=h).status_code == 400
    assert client.get("/api/v1/events/live", params={"now": "0001-01-01"}, headers=h).status_code == 400
    assert client.get("/api/v1/events/funnel", params={"steps": "view'; DROP TABLE events; --"}, headers=h).status_code == 400
    assert client.get("/api/v1/events/live", headers=h).json()["total_events"] == 7


def test_funnel_by_segment_names_each_segment_in_chinese_too(with_events):
    """By segment, each group carries its segment's name in Chinese (value_zh) for the zh dashboard."""
    import pandas as pd

    client, keys = with_events
    wh = client.app.state.warehouse
    wh.write_table("customer_segments", pd.DataFrame({"customer_id": ["a"], "segment_id": [0],
                                                      "segment_name": ["Recently active, high-spend customers"]}),
                   kind="customer")
    answer = client.get("/api/v1/events/funnel", params={"steps": "view,cart", "window": "1d", "by": "segment"},
                        headers=auth(keys["analyst"]))
    assert answer.status_code == 200, answer.text
    groups = {g["value"]: g["value_zh"] for g in answer.json()["breakdown"]}
    assert groups == {"Recently active, high-spend customers": "近期活跃、高消费的客户", "(none)": "（无分群）"}

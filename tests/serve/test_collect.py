"""The collector routes: Segment/RudderStack calls with a collector key (Bearer or HTTP Basic), per-event
answers, 400/413, and a collector key that can read nothing."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shoplens.privacy.ids import to_internal
from shoplens.serve.app import create_app
from shoplens.store.warehouse import Warehouse

from tests.serve.serve_helpers import auth


@pytest.fixture()
def collecting(demo_copy):
    """(client, keys by role, settings), the fold run by the test (``client.app.state.fold_worker.fold_now()``)."""
    settings, store, serve = demo_copy(rate_limit_per_minute=6000, rate_limit_burst=1000, fold_interval_seconds=3600)
    keys = {role: store.create(role) for role in ("viewer", "analyst", "admin", "collector")}
    with TestClient(create_app(settings, serve), raise_server_exceptions=False) as client:
        yield client, keys, settings


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


VIEW = {"event": "Product Viewed", "anonymousId": "v-1", "properties": {"product_id": "22423"},
        "timestamp": "2011-06-01T10:00:00Z", "messageId": "m-1"}


def test_a_batch_keeps_the_good_events_and_names_each_bad_one(collecting):
    client, keys, _ = collecting
    body = {"batch": [{**VIEW, "type": "track"}, {"type": "track", "anonymousId": "v-1"},
                      {"type": "identify", "userId": "12348", "anonymousId": "v-1", "messageId": "m-2"},
                      {**VIEW, "type": "track"}]}
    answer = client.post("/api/v1/batch", json=body, headers=auth(keys["collector"]))
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "duplicates": 1, "rejected": [
        {"index": 1, "reason": 'track needs `event` (the event name, e.g. "Product Viewed")'}]}


def test_each_call_type_has_its_endpoint_and_the_fold_makes_them_visible(collecting):
    client, keys, settings = collecting
    seen = []
    client.app.state.fold_callbacks.append(seen.append)
    headers = basic(keys["collector"])  # what the SDKs send: the write key as Basic user name
    assert client.post("/api/v1/track", json=VIEW, headers=headers).json()["accepted"] == 1
    assert client.post("/api/v1/page", json={"anonymousId": "v-1", "name": "Home"}, headers=headers).json()["accepted"] == 1
    assert client.post("/api/v1/identify", json={"userId": "12348", "anonymousId": "v-1"}, headers=headers).json()["accepted"] == 1
    assert client.post("/api/v1/alias", json={"previousId": "v-2", "userId": "12348"}, headers=headers).json()["accepted"] == 1
    wrong = client.post("/api/v1/page", json={"type": "track", "event": "X", "userId": "1"}, headers=headers).json()
    assert wrong["rejected"] == [{"index": 0, "reason": "a track call sent to the /page endpoint; send it to /track or /batch"}]
    result = client.app.state.fold_worker.fold_now()
    assert result.events.loaded == 2 and result.identities == 2
    assert seen and {"12348", "anon:v-1", "anon:v-2"} <= seen[-1].customers
    wh = client.app.state.warehouse
    internal = to_internal(wh, ["12348"])[0]
    rows = wh.con.execute("SELECT event_type, event_name FROM events WHERE customer_id = ? ORDER BY event_type",
                          [internal]).fetchall()
    assert rows == [("page", "Home"), ("view", "Product Viewed")]


def test_a_failing_callback_does_not_stop_the_fold(collecting):
    client, keys, _ = collecting

    def broken(result):
        raise RuntimeError("cache down")

    client.app.state.fold_callbacks.append(broken)
    client.post("/api/v1/track", json=VIEW, headers=auth(keys["collector"]))
    assert client.app.state.fold_worker.fold_now().events.loaded == 1


def test_a_collector_key_sends_events_and_reads_nothing(collecting):
    client, keys, _ = collecting
    key = keys["collector"]
    for path in ("/api/v1/overview", "/api/v1/customers/12348", "/api/v1/segments", "/api/v1/recommendations/12348",
                 "/api/v1/models", "/api/v1/status"):
        answer = client.get(path, headers=auth(key))
        assert answer.status_code == 403, (path, answer.status_code)
    assert client.post("/api/v1/ingest", headers=auth(key), data={"table": "orders"},
                       files={"file": ("o.csv", b"order_id\n1\n")}).status_code == 403


def test_who_may_send_events(collecting):
    client, keys, _ = collecting
    assert client.post("/api/v1/track", json=VIEW).status_code == 401
    assert client.post("/api/v1/track", json=VIEW, headers=auth("slk_nope_nope")).status_code == 401
    assert client.post("/api/v1/track", json=VIEW, headers={"Authorization": "Basic %%%"}).status_code == 401
    answer = client.post("/api/v1/track", json=VIEW, headers=auth(keys["viewer"]))
    assert answer.status_code == 403 and "collector" in answer.json()["detail"]
    assert client.post("/api/v1/track", json=VIEW, headers=auth(keys["analyst"])).status_code == 403
    assert client.post("/api/v1/track", json=VIEW, headers=basic(keys["admin"])).status_code == 200


def test_malformed_json_is_a_400_and_a_batch_over_500_kb_a_413(collecting):
    client, keys, _ = collecting
    headers = {**auth(keys["collector"]), "Content-Type": "application/json"}
    answer = client.post("/api/v1/batch", content=b'{"batch": [', headers=headers)
    assert answer.status_code == 400 and answer.json()["detail"].startswith("the request body is not valid JSON")
    assert client.post("/api/v1/batch", content=b'{"events": []}', headers=headers).status_code == 400
    big = json.dumps({"batch": [{**VIEW, "messageId": f"m{i}", "properties": {"product_id": "x" * 200}}
                                for i in range(2000)]}).encode()
    assert len(big) > 500 * 1024
    answer = client.post("/api/v1/batch", content=big, headers=headers)
    assert answer.status_code == 413 and "500 KB" in answer.json()["detail"]
    assert client.app.state.fold_worker.collector.pending == 0  # nothing of a refused request is kept


def test_keys_create_collector_role(demo_copy):
    from shoplens.cli import app

    settings, store, _ = demo_copy()
    out = CliRunner().invoke(app, ["-w", str(settings.warehouse), "keys", "create", "--role", "collector", "--json"])
    assert out.exit_code == 0, out.output
    made = json.loads(out.output)
    assert made["role"] == "collector" and store.verify(made["key"]).role == "collector"
    bad = CliRunner().invoke(app, ["-w", str(settings.warehouse), "keys", "create", "--role", "writer"])
    assert bad.exit_code != 0


def test_events_survive_a_server_restart_and_are_folded_at_start(demo_copy):
    settings, store, serve = demo_copy(fold_interval_seconds=3600)
    key = store.create("collector")
    with TestClient(create_app(settings, serve), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/track", json=VIEW, headers=auth(key)).json()["accepted"] == 1
    with Warehouse(settings.warehouse) as wh:  # stopping the server folded what it had accepted
        assert wh.con.execute("SELECT count(*) FROM events WHERE message_id = 'm-1'").fetchall()[0][0] == 1


def test_metrics_show_how_long_events_waited_to_be_visible(collecting):
    client, keys, _ = collecting
    client.post("/api/v1/batch", json={"batch": [{**VIEW, "type": "track", "messageId": f"x{i}"} for i in range(3)]},
                headers=auth(keys["collector"]))
    client.app.state.fold_worker.fold_now()
    text = client.get("/metrics", headers=auth(keys["admin"])).text
    assert "shoplens_events_folded_total 3.0" in text and "shoplens_event_visible_seconds_count 3.0" in text


def test_a_fold_drops_the_cached_answers_its_data_changes(collecting):
    """Events alone drop only their visitor's answers; an order (shared data) empties the cache."""
    client, keys, _ = collecting
    cache = client.app.state.responses
    cache.put(("probe",), {"x": 1})
    cache.put(("visitor",), {"y": 1}, customers=["anon:v-1"])
    client.app.state.fold_worker.fold_now()  # nothing to fold: the cache stays
    assert cache.get(("probe",)) == {"x": 1} and cache.get(("visitor",)) == {"y": 1}
    client.post("/api/v1/track", json=VIEW, headers=auth(keys["collector"]))
    client.app.state.fold_worker.fold_now()
    assert cache.get(("visitor",)) is None and cache.get(("probe",)) == {"x": 1}
    order = {"type": "track", "event": "Order Completed", "userId": "12348", "messageId": "m-o1",
             "properties": {"order_id": "EV-1", "products": [{"product_id": "22423", "price": 12.75}]}}
    assert client.post("/api/v1/track", json=order, headers=auth(keys["collector"])).json()["accepted"] == 1
    result = client.app.state.fold_worker.fold_now()
    assert result.orders.loaded == 1 and cache.get(("probe",)) is None


def test_a_visitors_events_turn_a_cached_popular_answer_personal_at_the_next_fold(customers_warehouse_path, tmp_path):
    """End to end: /track -> fold -> the same (cached) recommendation question answers from the view."""
    from shoplens.config import Settings
    from shoplens.serve.keys import KeyStore
    from shoplens.serve.settings import ServeSettings
    from tests.serve.conftest import DEMO_SECRET
    from tests.serve.serve_helpers import copy_with_models

    path = tmp_path / "c" / "warehouse.duckdb"
    copy_with_models(customers_warehouse_path, path)  # a trained recommender
    store = KeyStore.for_warehouse(path)
    keys = {role: store.create(role) for role in ("analyst", "collector")}
    serve = ServeSettings(rate_limit_per_minute=6000, rate_limit_burst=1000, allow_weak_secret=True,
                          fold_interval_seconds=3600)  # the test folds
    with TestClient(create_app(Settings(warehouse=path, secret=DEMO_SECRET), serve)) as client:
        _visitor_turns_personal(client, keys)


def _visitor_turns_personal(client: TestClient, keys: dict[str, str]) -> None:
    analyst = auth(keys["analyst"])
    url = "/api/v1/recommendations/anon:v-9?n=5"
    first = client.get(url, headers=analyst).json()
    assert first.get("personalised") is False, first
    view = {**VIEW, "type": "track", "anonymousId": "v-9", "messageId": "m-9", "properties": {"product_id": "85123A"}}
    assert client.post("/api/v1/track", json=view, headers=auth(keys["collector"])).json()["accepted"] == 1
    assert client.get(url, headers=analyst).json() == first  # not folded yet: nothing changed
    result = client.app.state.fold_worker.fold_now()
    assert result.events.loaded == 1 and "anon:v-9" in result.customers
    after = client.get(url, headers=analyst).json()
    assert after["personalised"] is True and after["customer_id"] == "anon:v-9"
    assert {i["reason"] for i in after["data"]} == {"because you viewed CREAM HANGING HEART T-LIGHT HOLDER (85123A)"}

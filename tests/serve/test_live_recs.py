"""Live recommendations over REST: a cached answer changes as soon as the collector's post-fold
callback names the visitor, the customer 360 shows live counters, and the cache drops only the
answers of the customers named."""

from __future__ import annotations

import pandas as pd

from shoplens.privacy.ids import to_internal
from shoplens.serve.cache import ResponseCache, notify_events_folded
from tests.serve.serve_helpers import auth

HEART = "85123A"  # CREAM HANGING HEART T-LIGHT HOLDER
CAKESTAND = "22423"  # REGENCY CAKESTAND 3 TIER


def fold(client, shop_id: str, events: list[tuple[str, str]], at: str = "2026-01-01 10:00",
         notify_with: str = "warehouse") -> None:
    """Write events as the collector does (warehouse ids), then call the post-fold callbacks."""
    wh = client.app.state.warehouse
    internal = to_internal(wh, [shop_id])[0]
    for i, (kind, product) in enumerate(events):
        wh.con.execute("INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at, received_at) "
                       "VALUES (?, 's1', ?, ?, ?, now())", [internal, kind, product,
                                                              pd.Timestamp(at) + pd.Timedelta(seconds=i)])
    if notify_with:
        notify_events_folded(client.app.state, [internal if notify_with == "warehouse" else shop_id])


def test_a_cached_popular_answer_turns_personal_after_the_fold_callback(served_customers):
    client, keys, _ = served_customers
    analyst = auth(keys["analyst"])
    url = "/api/v1/recommendations/visitor-42?n=5"
    first = client.get(url, headers=analyst).json()
    assert first["personalised"] is False and all("not personalised" in i["reason"] for i in first["data"])
    assert client.get(url, headers=analyst).json() == first  # cached now
    misses = client.app.state.responses.misses
    fold(client, "visitor-42", [("view", HEART)], notify_with="")
    assert client.get(url, headers=analyst).json() == first  # still the cached answer: nobody said
    assert client.app.state.responses.misses == misses
    notify_events_folded(client.app.state, [to_internal(client.app.state.warehouse, ["visitor-42"])[0]])
    after = client.get(url, headers=analyst).json()
    assert after["personalised"] is True and after["customer_id"] == "visitor-42" and after["count"] == 5
    assert {i["reason"] for i in after["data"]} == {"because you viewed CREAM HANGING HEART T-LIGHT HOLDER (85123A)"}
    assert all(i["name"] for i in after["data"]) and HEART not in {i["product_id"] for i in after["data"]}
    # the batch answer stays available
    batch = client.get(url + "&live=false", headers=analyst).json()
    assert batch["personalised"] is False


def test_the_callback_accepts_shop_ids_and_keeps_other_answers(served_customers):
    client, keys, _ = served_customers
    analyst = auth(keys["analyst"])
    other = client.get("/api/v1/recommendations/17850?n=3", headers=analyst).json()
    client.get("/api/v1/recommendations/visitor-43?n=3", headers=analyst)
    fold(client, "visitor-43", [("cart", CAKESTAND)], notify_with="shop")
    body = client.get("/api/v1/recommendations/visitor-43?n=3", headers=analyst).json()
    assert body["data"][0]["reason"] == "because you put REGENCY CAKESTAND 3 TIER (22423) in your basket"
    misses = client.app.state.responses.misses
    assert client.get("/api/v1/recommendations/17850?n=3", headers=analyst).json() == other
    assert client.app.state.responses.misses == misses  # another customer's answer was kept


def test_a_known_customer_sees_the_session_and_live_counters(served_customers):
    client, keys, _ = served_customers
    analyst = auth(keys["analyst"])
    wh = client.app.state.warehouse
    customer = wh.con.execute("SELECT customer_id FROM customers WHERE consent_personalization "
                              "ORDER BY customer_id LIMIT 1").fetchone()[0]
    from shoplens.privacy.ids import to_external

    customer = to_external(wh, [customer])[0]
    before = client.get(f"/api/v1/customers/{customer}", headers=analyst).json()
    assert before["activity"]["events"] == 0 and before["activity"]["last_seen"] is None
    client.get(f"/api/v1/recommendations/{customer}?n=4", headers=analyst)
    fold(client, customer, [("view", HEART), ("cart", CAKESTAND)])
    recs = client.get(f"/api/v1/recommendations/{customer}?n=4", headers=analyst).json()
    assert recs["data"][0]["reason"] == "because you put REGENCY CAKESTAND 3 TIER (22423) in your basket"
    assert any(not i["reason"].startswith("because you put REGENCY") for i in recs["data"])  # history blended in
    profile = client.get(f"/api/v1/customers/{customer}", headers=analyst).json()
    assert profile["activity"]["events"] == 2 and profile["activity"]["views"] == 1
    assert profile["activity"]["last_seen"].startswith("2026-01-01T10:00:01")
    assert profile["activity"]["in_cart"][0]["product_id"] == CAKESTAND
    assert profile["activity"]["recently_viewed"][0]["name"] == "CREAM HANGING HEART T-LIGHT HOLDER"


def test_customers_without_consent_get_no_counters_and_no_live_list(served_customers):
    from tests.serve.test_capabilities import no_consent_customer

    client, keys, _ = served_customers
    analyst = auth(keys["analyst"])
    refused = no_consent_customer(client)
    fold(client, refused, [("view", HEART)])
    assert "activity" not in client.get(f"/api/v1/customers/{refused}", headers=analyst).json()
    body = client.get(f"/api/v1/recommendations/{refused}?n=3", headers=analyst).json()
    assert body["personalised"] is False and all("not personalised" in i["reason"] for i in body["data"])


def test_the_app_registers_the_invalidation_callback(served):
    client, _, _ = served
    callbacks = client.app.state.on_events_folded
    assert callbacks == [client.app.state.responses.invalidate_customers]


def test_response_cache_drops_by_customer_and_ignores_answers_older_than_an_invalidation():
    cache = ResponseCache(max_items=3)
    cache.put(("recs", "a", 5), 1, customers=["a", "ca"])
    cache.put(("recs", "a", 10), 2, customers=["a", "ca"])
    cache.put(("recs", "b", 5), 3, customers=["b"])
    assert cache.invalidate_customers(["ca", "nobody"]) == 2
    assert cache.get(("recs", "a", 5)) is None and cache.get(("recs", "b", 5)) == 3
    started = cache.epoch
    cache.invalidate_customers(["b"])  # events of b folded while an answer for a was being computed
    cache.put(("recs", "a", 5), "stale", customers=["a"], epoch=started)
    assert cache.get(("recs", "a", 5)) is None
    cache.put(("recs", "a", 5), "fresh", customers=["a"], epoch=cache.epoch)
    assert cache.get(("recs", "a", 5)) == "fresh"
    for i in range(5):  # evicted entries leave the index too
        cache.put(("x", i), i, customers=[f"x{i}"])
    assert cache.invalidate_customers(["x0", "x1", "a"]) == 0 and cache.get(("x", 4)) == 4
    disabled = ResponseCache(enabled=False)
    disabled.put(("k",), 1, customers=["a"])
    assert disabled.get(("k",)) is None and disabled.invalidate_customers(["a"]) == 0

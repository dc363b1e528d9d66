"""Spec checks: each payload accepted as sent or refused with a reason naming the field."""

from __future__ import annotations

from datetime import datetime

import pytest

from shoplens.stream.spec import anonymous_customer, check, message_id_of, parse_time, split_batch

RECEIVED = datetime(2024, 5, 1, 12, 0, 0)


@pytest.mark.parametrize(("payload", "reason"), [
    ([1], "an event must be a JSON object, not list"),
    ({"type": "jump", "userId": "1"}, "`type` must be one of track, identify, alias, page, screen, not 'jump'"),
    ({"type": "track", "event": "Product Viewed"}, "the event needs `userId` or `anonymousId`"),
    ({"type": "track", "userId": "1"}, 'track needs `event` (the event name, e.g. "Product Viewed")'),
    ({"type": "identify", "anonymousId": "a"}, "identify needs `userId` (the shop's customer id)"),
    ({"type": "alias", "userId": "1"}, "alias needs `previousId` (the anonymous id) and `userId`"),
    ({"type": "track", "event": "X", "userId": "1", "timestamp": "yesterday"}, "`timestamp` is not an ISO 8601 time: 'yesterday'"),
    ({"type": "track", "event": "X", "userId": {"a": 1}}, "`userId` must be a string or a number, not dict"),
    ({"type": "track", "event": "X", "userId": "1", "properties": [1]}, "`properties` must be a JSON object"),
    ({"type": "track", "event": "Order Completed", "userId": "1", "properties": {"order_id": "o", "products": [{"sku": None}]}},
     "`properties.products[0]` needs `product_id`"),
    ({"type": "track", "event": "Product Viewed", "userId": "1", "properties": {"product_id": "p", "price": -1}},
     "`properties.price` must not be negative"),
])
def test_bad_payloads_are_refused_with_a_reason(payload, reason):
    event, why = check(payload, received_at=RECEIVED)
    assert event is None and why == reason


def test_a_call_sent_to_another_endpoint_is_refused():
    assert check({"type": "page", "userId": "1"}, kind="track")[1] == \
        "a page call sent to the /track endpoint; send it to /page or /batch"
    assert check({"userId": "1", "event": "Cart Viewed"}, kind="track")[0].event_type == "cart_view"  # type implied


def test_spec_names_map_to_canonical_types_and_other_names_are_kept():
    viewed, _ = check({"type": "track", "event": "Product Added", "userId": 42, "properties": {"product_id": 7}})
    assert (viewed.event_type, viewed.customer_id, viewed.product_id) == ("cart", "42", "7")
    custom, _ = check({"type": "track", "event": "Size Guide Opened", "anonymousId": "a"})
    assert (custom.event_type, custom.event_name, custom.customer_id) == ("other", "Size Guide Opened", "anon:a")


def test_times_client_and_received():
    e, _ = check({"type": "page", "userId": "1", "timestamp": "2024-05-01T10:00:00+02:00"}, received_at=RECEIVED)
    assert e.occurred_at == datetime(2024, 5, 1, 8, 0) and e.received_at == RECEIVED
    # no timestamp: originalTimestamp corrected by the device clock's offset (sentAt vs receive time)
    e, _ = check({"type": "page", "userId": "1", "originalTimestamp": "2024-05-01T11:59:00Z",
                  "sentAt": "2024-05-01T12:09:00Z"}, received_at=RECEIVED)
    assert e.occurred_at == datetime(2024, 5, 1, 11, 50)
    e, _ = check({"type": "page", "userId": "1"}, received_at=RECEIVED)
    assert e.occurred_at == RECEIVED
    assert parse_time(1714557600000, "t") == datetime(2024, 5, 1, 10, 0)


def test_order_completed_carries_its_lines():
    e, _ = check({"type": "track", "event": "Order Completed", "userId": "1", "properties": {
        "order_id": "o1", "total": 30, "currency": "EUR",
        "products": [{"product_id": "p1", "quantity": 2, "price": 10, "name": "Mug"}, {"product_id": "p2", "price": 10}]}})
    assert e.order_id == "o1" and e.order_total == 30 and [(x.product_id, x.quantity) for x in e.lines] == [("p1", 2), ("p2", 1)]


def test_consent_declined_in_context_keeps_the_event_out():
    _, why = check({"type": "track", "event": "Product Viewed", "anonymousId": "a",
                    "context": {"consent": {"categoryPreferences": {"Analytics": False, "Advertising": True}}}})
    assert why == "the visitor did not consent to Analytics (context.consent.categoryPreferences); the event is not stored"
    event, _ = check({"type": "track", "event": "Product Viewed", "anonymousId": "a",
                      "context": {"consent": {"categoryPreferences": {"Analytics": True}}}})
    assert event is not None


def test_message_ids_and_batches():
    assert message_id_of({"type": "page", "userId": "1"}) == message_id_of({"userId": "1", "type": "page"})
    assert message_id_of({"type": "page", "userId": "1"}) != message_id_of({"type": "page", "userId": "2"})
    calls, problem = split_batch({"batch": [{"type": "page"}, {"type": "track", "context": {"a": 1}}], "context": {"b": 2}})
    assert problem is None and calls[0]["context"] == {"b": 2} and calls[1]["context"] == {"a": 1}
    assert split_batch("x")[1] == "a batch is a JSON object with a `batch` list of events"
    assert anonymous_customer("x") == "anon:x"

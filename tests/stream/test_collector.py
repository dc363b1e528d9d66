"""The collector: exactly once, nothing lost, late events in place, stitching, orders and products
aligned with file exports, erasure of merged visitors."""

from __future__ import annotations

from shoplens.ingest import ingest
from shoplens.privacy.erasure import erase, verify
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.warehouse import Warehouse
from shoplens.stream.collector import Collector

from tests.stream.conftest import track


def events(wh, customer: str) -> list[tuple]:
    internal = to_internal(wh, [customer])[0]
    return wh.con.execute("SELECT event_name, product_id, occurred_at FROM events WHERE customer_id = ? "
                          "ORDER BY occurred_at", [internal]).fetchall()


def test_bad_events_are_rejected_one_by_one_and_the_good_ones_kept(shop):
    wh, _, collector = shop
    answer = collector.collect([track("Product Viewed", anon="a1", product_id="p1"), {"type": "track", "userId": "1"},
                                "nonsense", track("Product Added", anon="a1", product_id="p1")])
    assert answer.to_dict() == {"accepted": 2, "duplicates": 0, "rejected": [
        {"index": 1, "reason": 'track needs `event` (the event name, e.g. "Product Viewed")'},
        {"index": 2, "reason": "an event must be a JSON object, not str"}]}
    result = collector.fold(wh)
    assert result.events.read == result.events.loaded == 2 and result.events.read == (
        result.events.loaded + result.events.updated + result.events.quarantined + result.events.duplicates)
    assert [e[0] for e in events(wh, "anon:a1")] == ["Product Viewed", "Product Added"]


def test_resent_message_ids_are_duplicates_stored_once_also_after_a_restart(shop):
    wh, settings, collector = shop
    call = track("Product Viewed", user="7", mid="m-1", product_id="p1")
    assert collector.collect([call, call]).to_dict()["duplicates"] == 1
    assert collector.collect([call]).duplicates == 1  # still in the log, not folded yet
    collector.fold(wh)
    assert collector.collect([call]).duplicates == 1
    collector.close()
    again = Collector(wh, settings)  # a restarted server knows the stored message ids
    assert again.collect([call]).to_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}
    again.fold(wh)
    again.close()
    assert wh.con.execute("SELECT count(*) FROM events WHERE message_id = 'm-1'").fetchall()[0][0] == 1


def test_accepted_events_survive_a_crash_before_the_fold(shop):
    wh, settings, collector = shop
    collector.collect([track("Product Viewed", user="7", mid=f"m{i}", product_id=f"p{i}") for i in range(5)])
    # the process dies here: nothing folded, the log file closed by the OS
    restarted = Collector(wh, settings)
    assert restarted.fold(wh).events.loaded == 5
    restarted.close()
    assert len(events(wh, "7")) == 5


def test_a_fold_interrupted_after_writing_is_repeated_without_double_counting(shop, monkeypatch):
    wh, settings, collector = shop
    collector.collect([track("Product Viewed", user="7", mid=f"m{i}", product_id="p1", ts=f"2024-05-01T10:0{i}:00Z")
                       for i in range(3)])
    monkeypatch.setattr(collector.log, "remove", lambda segments: None)  # crash between commit and log deletion
    collector.fold(wh)
    collector.close()
    again = Collector(wh, settings)
    result = again.fold(wh)
    again.close()
    assert (result.folded, result.skipped, result.events.read) == (3, 3, 0)
    assert len(events(wh, "7")) == 3


def test_a_fold_failing_after_writing_is_retried_in_the_same_process_without_double_counting(shop, monkeypatch):
    from shoplens.stream import identity

    wh, _, collector = shop
    collector.collect([track("Product Viewed", user="7", mid=f"m{i}", product_id="p1", ts=f"2024-05-01T10:0{i}:00Z")
                       for i in range(3)])
    collector.fold(wh)  # a clean fold: the next one trusts the collector's own message-id check

    def fail(con, ids):
        raise RuntimeError("disk full")

    collector.collect([track("Product Added", user="7", anon="v-7", mid="m9", product_id="p1")])
    monkeypatch.setattr(identity, "stitch", fail)  # the events are committed, then the fold fails
    try:
        collector.fold(wh)
    except RuntimeError:
        pass
    monkeypatch.undo()
    result = collector.fold(wh)  # the log still holds m9: the warehouse is asked, m9 is skipped
    assert (result.folded, result.skipped) == (1, 1)
    assert sorted(e[0] for e in events(wh, "7")) == ["Product Added"] + ["Product Viewed"] * 3


def test_a_log_written_one_record_per_line_is_still_read(shop):
    import json

    wh, settings, collector = shop
    collector.close()
    record = {"k": "track", "m": "old-1", "u": "7", "n": "Product Viewed", "t": "view", "i": "p1",
              "o": "2024-05-01T10:00:00", "r": "2024-05-01T10:00:01"}
    (collector.log.folder / "segment-000000000099.jsonl").write_text(json.dumps(record) + "\n")
    again = Collector(wh, settings)
    assert again.pending == 1 and again.fold(wh).events.loaded == 1
    again.close()


def test_late_and_out_of_order_events_land_at_their_client_time(shop):
    wh, _, collector = shop
    collector.collect([track("Checkout Started", user="7", ts="2024-05-01T10:05:00Z")])
    collector.fold(wh)
    collector.collect([track("Product Added", user="7", ts="2024-05-01T10:03:00Z", product_id="p1"),
                       track("Product Viewed", user="7", ts="2024-05-01T10:01:00Z", product_id="p1")])
    collector.fold(wh)
    assert [e[0] for e in events(wh, "7")] == ["Product Viewed", "Product Added", "Checkout Started"]
    received = wh.con.execute("SELECT count(*) FROM events WHERE received_at > occurred_at").fetchall()[0][0]
    assert received == 3  # the receive time is kept beside the client's time


def test_events_too_far_in_the_future_are_rejected(shop):
    _, _, collector = shop
    answer = collector.collect([track("Product Viewed", user="7", ts="2999-01-01T00:00:00Z")])
    assert answer.accepted == 0 and "in the future" in answer.rejected[0].reason


def test_identify_merges_history_before_and_after_across_devices(shop):
    wh, _, collector = shop
    collector.collect([track("Product Viewed", anon="phone", product_id="p1", ts="2024-05-01T10:00:00Z"),
                       track("Product Viewed", anon="laptop", product_id="p2", ts="2024-05-01T11:00:00Z")])
    collector.fold(wh)
    assert len(events(wh, "anon:phone")) == 1
    collector.collect([{"type": "identify", "userId": "c42", "anonymousId": "phone", "timestamp": "2024-05-01T12:00:00Z"},
                       {"type": "alias", "previousId": "laptop", "userId": "c42", "timestamp": "2024-05-01T12:30:00Z"}])
    result = collector.fold(wh)
    assert result.identities == 2 and {"c42", "anon:phone", "anon:laptop"} <= result.customers
    # after the merge, events still sent under the anonymous id only land on the customer too
    collector.collect([track("Product Added", anon="phone", product_id="p1", ts="2024-05-01T13:00:00Z")])
    collector.fold(wh)
    assert [(e[0], e[1]) for e in events(wh, "c42")] == [
        ("Product Viewed", "p1"), ("Product Viewed", "p2"), ("Product Added", "p1")]
    assert events(wh, "anon:phone") == [] and events(wh, "anon:laptop") == []
    # the merge graph is stored with warehouse ids: pseudonyms, never the raw ids
    links = wh.con.execute("SELECT anonymous_id, customer_id, via FROM _identity_links ORDER BY via").fetchall()
    assert [l[2] for l in links] == ["alias", "identify"]
    assert all(l[1] == to_internal(wh, ["c42"])[0] != "c42" for l in links)
    assert to_external(wh, [to_internal(wh, ["anon:phone"])[0]]) == ["anon:phone"]
    raw = wh.con.execute("SELECT count(*) FROM events WHERE anonymous_id IN ('phone', 'laptop')").fetchall()[0][0]
    assert raw == 0  # anonymous ids are pseudonymised like customer ids


def test_a_shared_device_stays_with_the_first_customer(shop):
    wh, _, collector = shop
    collector.collect([track("Product Viewed", anon="kiosk", product_id="p1"),
                       {"type": "identify", "userId": "first", "anonymousId": "kiosk", "timestamp": "2024-05-01T10:01:00Z"}])
    collector.fold(wh)
    collector.collect([{"type": "identify", "userId": "second", "anonymousId": "kiosk", "timestamp": "2024-05-01T11:00:00Z"}])
    collector.fold(wh)
    assert len(events(wh, "first")) == 1 and events(wh, "second") == []


def test_erasure_reaches_anonymous_ids_merged_into_the_customer(demo_shop):
    wh, _, collector = demo_shop
    collector.collect([track("Product Viewed", anon="dev-9", product_id="22423"),
                       track("Order Completed", anon="dev-9", order_id="EV-1",
                             products=[{"product_id": "22423", "price": 12.75}]),
                       {"type": "identify", "userId": "12348", "anonymousId": "dev-9"}])
    collector.fold(wh)
    anon_internal = to_internal(wh, ["anon:dev-9"])[0]
    assert wh.con.execute("SELECT count(*) FROM _vault_keys WHERE subject = ?", [anon_internal]).fetchall()[0][0] == 1
    report = erase(wh, "12348")
    assert report.removed["events"] == 2 and report.removed["_identity_links"] == 1  # viewed + completed
    assert wh.con.execute("SELECT count(*) FROM orders WHERE order_id = 'EV-1'").fetchall()[0][0] == 0
    assert wh.con.execute("SELECT count(*) FROM _vault_keys WHERE subject = ?", [anon_internal]).fetchall()[0][0] == 0
    assert verify(wh, "12348").clean


def test_erasure_also_removes_anonymous_rows_not_yet_moved(demo_shop):
    wh, _, collector = demo_shop
    collector.collect([{"type": "identify", "userId": "12348", "anonymousId": "dev-7"}])
    collector.fold(wh)
    anon_internal = to_internal(wh, ["anon:dev-7"])[0]
    # a row written under the anonymous id that no fold has moved yet (e.g. loaded from a file)
    wh.con.execute("INSERT INTO events (customer_id, event_type, occurred_at) VALUES (?, 'view', now())", [anon_internal])
    erase(wh, "12348")
    assert wh.con.execute("SELECT count(*) FROM events WHERE customer_id = ?", [anon_internal]).fetchall()[0][0] == 0


def test_order_events_and_a_file_export_of_the_same_order_make_one_order(shop, tmp_path):
    wh, settings, collector = shop
    collector.collect([track("Order Completed", user="7", order_id="A-100", total=25.0, currency="EUR",
                             ts="2024-05-01T10:00:00Z",
                             products=[{"product_id": "p1", "quantity": 2, "price": 10, "name": "Mug"},
                                       {"product_id": "p2", "quantity": 1, "price": 5}])])
    result = collector.fold(wh)
    assert (result.orders.loaded, result.order_items.loaded) == (1, 2)
    order = wh.con.execute("SELECT customer_id, total_amount, status FROM orders WHERE order_id = 'A-100'").fetchall()
    assert order == [(to_internal(wh, ["7"])[0], 25.0, "completed")]
    # the same order arrives later from the shop's export: one order, one row (the export's values)
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ordered_at,total_amount,currency,status\n"
                                         "A-100,7,2024-05-01 10:00:00,25.0,EUR,shipped\n")
    (tmp_path / "items.csv").write_text("order_id,line_number,product_id,quantity,unit_price\n"
                                        "A-100,1,p1,2,10\nA-100,2,p2,1,5\n")
    ingest(wh, [tmp_path / "orders.csv"], table="orders", settings=settings)
    ingest(wh, [tmp_path / "items.csv"], table="order_items", settings=settings)
    assert wh.con.execute("SELECT count(*), any_value(status) FROM orders WHERE order_id = 'A-100'").fetchall() == [(1, "shipped")]
    assert wh.con.execute("SELECT count(*) FROM order_items WHERE order_id = 'A-100'").fetchall()[0][0] == 2
    # the event re-sent (another message id) after the export changes nothing; a refund updates the status
    collector.collect([track("Order Completed", user="7", order_id="A-100", total=99.0,
                             products=[{"product_id": "p1", "price": 99}]),
                       track("Order Refunded", user="7", order_id="A-100")])
    result = collector.fold(wh)
    assert result.orders.read == 0 and result.refunds == 1
    assert wh.con.execute("SELECT count(*), any_value(total_amount), any_value(status) FROM orders "
                          "WHERE order_id = 'A-100'").fetchall() == [(1, 25.0, "refunded")]


def test_catalogue_fields_in_events_enrich_products_without_overwriting_the_catalogue(shop, tmp_path):
    wh, settings, collector = shop
    (tmp_path / "products.csv").write_text("product_id,name,category,price\np1,Blue Mug,,8.5\n")
    ingest(wh, [tmp_path / "products.csv"], table="products", settings=settings)
    collector.collect([track("Product Viewed", user="7", product_id="p1", name="mug (event)", category="kitchen", price=9),
                       track("Product Viewed", user="7", product_id="p9", name="Teapot", brand="Acme", price=30)])
    collector.fold(wh)
    rows = wh.con.execute("SELECT product_id, name, category, brand, price FROM products ORDER BY 1").fetchall()
    assert rows == [("p1", "Blue Mug", "kitchen", None, 8.5), ("p9", "Teapot", None, "Acme", 30.0)]


def test_an_old_warehouse_gets_the_new_event_columns(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (customer_id VARCHAR, session_id VARCHAR, event_type VARCHAR, product_id VARCHAR, "
                "occurred_at TIMESTAMP, category VARCHAR, query VARCHAR, channel VARCHAR)")
    con.execute("INSERT INTO events VALUES ('c1', NULL, 'view', 'p1', '2024-01-01', NULL, NULL, NULL)")
    con.close()
    with Warehouse(path) as wh:
        assert {"event_name", "anonymous_id", "message_id", "received_at"} <= set(wh.columns("events"))
        assert wh.con.execute("SELECT customer_id, message_id FROM events").fetchall() == [("c1", None)]


def test_a_new_customer_ordering_online_gets_a_customer_row_so_the_order_lands(demo_shop):
    wh, _, collector = demo_shop
    internal = to_internal(wh, ["web-555"])[0]
    assert wh.con.execute("SELECT count(*) FROM customers WHERE customer_id = ?", [internal]).fetchall()[0][0] == 0
    collector.collect([track("Order Completed", user="web-555", order_id="W-1", ts="2011-12-01T10:00:00Z",
                             products=[{"product_id": "22423", "price": 12.75}])])
    result = collector.fold(wh)
    assert (result.customers_added.loaded, result.orders.loaded, result.order_items.loaded) == (1, 1, 1)
    assert wh.con.execute("SELECT created_at FROM customers WHERE customer_id = ?", [internal]).fetchall()[0][0].year == 2011
    # a known customer's row is never touched
    known = wh.con.execute("SELECT min(customer_id) FROM customers WHERE customer_id <> ?", [internal]).fetchall()[0][0]
    before = wh.con.execute("SELECT * FROM customers WHERE customer_id = ?", [known]).fetchall()
    collector.collect([{"type": "identify", "userId": to_external(wh, [known])[0], "anonymousId": "z"}])
    assert collector.fold(wh).customers_added.read == 0
    assert wh.con.execute("SELECT * FROM customers WHERE customer_id = ?", [known]).fetchall() == before


def test_a_guest_checkout_is_an_order_of_the_visitor_until_they_are_identified(demo_shop):
    wh, _, collector = demo_shop
    customers = wh.con.execute("SELECT count(*) FROM customers").fetchall()[0][0]
    collector.collect([track("Product Viewed", anon="g-1", mid="g1", product_id="22423", ts="2011-12-01T09:58:00Z"),
                       track("Order Completed", anon="g-1", mid="g2", order_id="G-1", ts="2011-12-01T10:00:00Z",
                             products=[{"product_id": "22423", "price": 12.75, "quantity": 2}])])
    result = collector.fold(wh)
    # landed, not quarantined, and the accounting adds up
    for counts in (result.orders, result.order_items, result.customers_added):
        assert counts.read == counts.loaded == 1 and counts.quarantined == 0
    guest = to_internal(wh, ["anon:g-1"])[0]
    assert wh.con.execute("SELECT customer_id, total_amount FROM orders WHERE order_id = 'G-1'").fetchall() == [(guest, 25.5)]
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall()[0][0] == customers + 1
    # the visitor signs up: the order and the events move to the customer, the guest's row goes
    collector.collect([{"type": "identify", "userId": "web-777", "anonymousId": "g-1", "messageId": "g3",
                        "timestamp": "2011-12-01T10:05:00Z"}])
    result = collector.fold(wh)
    assert (result.customers_added.loaded, result.guests_merged) == (1, 1)
    customer = to_internal(wh, ["web-777"])[0]
    assert wh.con.execute("SELECT customer_id FROM orders WHERE order_id = 'G-1'").fetchall() == [(customer,)]
    assert wh.con.execute("SELECT count(*) FROM customers WHERE customer_id = ?", [guest]).fetchall()[0][0] == 0
    assert wh.con.execute("SELECT count(*) FROM customers").fetchall()[0][0] == customers + 1
    assert [e[0] for e in events(wh, "web-777")] == ["Product Viewed", "Order Completed"]
    # a later order of the same visitor, sent anonymously, lands under the customer directly
    collector.collect([track("Order Completed", anon="g-1", mid="g4", order_id="G-2", ts="2011-12-02T10:00:00Z",
                             products=[{"product_id": "22423", "price": 12.75}])])
    result = collector.fold(wh)
    assert (result.orders.loaded, result.orders.quarantined, result.customers_added.read) == (1, 0, 0)
    assert wh.con.execute("SELECT customer_id FROM orders WHERE order_id = 'G-2'").fetchall() == [(customer,)]

"""Row validation: every check quarantines with file, line, column and reason."""

from __future__ import annotations

import pytest

from shoplens.ingest import ingest
from shoplens.privacy.ids import to_external

from .helpers import adds_up, write


def _one_bad(wh, tmp_path, table, header, good, bad, column, reason_part):
    f = write(tmp_path / f"{table}.csv", f"{header}\n{good}\n{bad}\n")
    r = ingest(wh, [f], table=table)
    assert adds_up(r)
    assert (r.loaded, r.quarantined) == (1, 1), wh.query("SELECT * FROM _quarantine")
    q = wh.query('SELECT file, line, "column", reason FROM _quarantine')
    assert q.line[0] == 3 and q.file[0].endswith(f"{table}.csv")
    assert q.column[0] == column
    assert reason_part in q.reason[0]


CASES = [
    ("orders", "order_id,ordered_at", "A,2011-01-01", ",2011-01-01", "order_id", "missing required value"),
    ("orders", "order_id,ordered_at", "A,2011-01-01", "B,31/31/2011", "ordered_at", "cannot read '31/31/2011' as a timestamp"),
    ("orders", "order_id,ordered_at", "A,2011-01-01", "B,2999-01-01", "ordered_at", "in the future"),
    ("orders", "order_id,ordered_at", "A,2011-01-01", "B,1901-01-01", "ordered_at", "before 1970"),
    ("orders", "order_id,ordered_at,status", "A,2011-01-01,completed", "B,2011-01-01,lost", "status", "not a known status"),
    ("orders", "order_id,ordered_at,total_amount", "A,2011-01-01,3", "B,2011-01-01,abc", "total_amount", "cannot read 'abc'"),
    ("reviews", "review_id,rating", "R1,5", "R2,7", "rating", "rating 7.0 is above the maximum 5"),
    ("reviews", "review_id,rating", "R1,5", "R2,0", "rating", "below the minimum 1"),
    ("reviews", "review_id,rating", "R1,5", "R2,4.5", "rating", "is not a whole number"),
    ("products", "product_id,price", "P1,2.5", "P2,-1", "price", "below the minimum 0"),
    ("customers", "customer_id,birth_year,consent_marketing", "C1,1980,yes", "C2,1980,maybe", "consent_marketing", "cannot read 'maybe' as true/false"),
    ("events", "customer_id,event_type,occurred_at", "C1,view,2017-11-25 10:00:00", "C1,teleport,2017-11-25", "event_type", "not a known event_type"),
    ("decisions", "decision_id,occurred_at,action,propensity", "D1,2020-01-01,a,0.5", "D2,2020-01-01,a,0", "propensity", "must be above 0"),
    ("support_messages", "message_id,conversation_id,sender", "M1,C1,customer", "M2,C1,robot", "sender", "not a known sender"),
]


@pytest.mark.parametrize("table,header,good,bad,column,reason", CASES, ids=[f"{c[0]}-{c[4]}-{i}" for i, c in enumerate(CASES)])
def test_each_check_quarantines_with_reason(tmp_wh, tmp_path, table, header, good, bad, column, reason):
    _one_bad(tmp_wh, tmp_path, table, header, good, bad, column, reason)


def test_zero_quantity_and_negative_returns(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "o.csv", "order_id,ordered_at,status\nO1,2011-01-01,completed\nC1,2011-01-02,cancelled\n")], table="orders")
    items = "order_id,line_number,product_id,quantity,unit_price\nO1,1,P,2,1.5\nO1,2,P,0,1.5\nC1,1,P,-2,1.5\n"
    r = ingest(tmp_wh, [write(tmp_path / "i.csv", items)], table="order_items")
    assert (r.loaded, r.quarantined) == (2, 1)
    assert "quantity is 0" in tmp_wh.query("SELECT reason FROM _quarantine").reason[0]
    # returns are data, not errors
    assert tmp_wh.query("SELECT quantity FROM order_items WHERE order_id = 'C1'").quantity[0] == -2


def test_order_items_must_reference_orders(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "o.csv", "order_id,ordered_at\nO1,2011-01-01\n")], table="orders")
    items = "order_id,line_number,product_id,quantity,unit_price\nO1,1,P,1,1\nORPHAN,1,P,1,1\n"
    r = ingest(tmp_wh, [write(tmp_path / "i.csv", items)], table="order_items")
    assert (r.loaded, r.quarantined) == (1, 1)
    q = tmp_wh.query('SELECT "column", reason, line FROM _quarantine')
    assert q.column[0] == "order_id" and "'ORPHAN' not found in orders" in q.reason[0] and q.line[0] == 3


def test_orders_reference_customers_only_when_customers_are_loaded(tmp_wh, tmp_path):
    orders = write(tmp_path / "o.csv", "order_id,customer_id,ordered_at\nO1,C1,2011-01-01\nO2,C9,2011-01-01\n")
    r = ingest(tmp_wh, [orders], table="orders")
    assert r.loaded == 2  # no customers loaded: not checked
    ingest(tmp_wh, [write(tmp_path / "c.csv", "customer_id\nC1\n")], table="customers")
    r = ingest(tmp_wh, [write(tmp_path / "o2.csv", "order_id,customer_id,ordered_at\nO3,C1,2011-01-01\nO4,C9,2011-01-01\nO5,,2011-01-01\n")], table="orders")
    assert (r.loaded, r.quarantined) == (2, 1)  # guest order O5 is fine


def test_values_are_normalised(tmp_wh, tmp_path):
    text = "customer_id,gender,consent_marketing,consent_personalization,birth_year\n17850.0,F,是,no,1980.0\n 42 ,Male,TRUE,0,\n"
    r = ingest(tmp_wh, [write(tmp_path / "c.csv", text)], table="customers")
    assert r.loaded == 2
    got = tmp_wh.query("SELECT * FROM customers")
    got["customer_id"] = to_external(tmp_wh, got.customer_id.tolist())  # stored as pseudonyms
    got = got.sort_values("customer_id")
    assert got.customer_id.tolist() == ["17850", "42"]
    assert got.gender.tolist() == ["female", "male"]
    assert got.consent_marketing.tolist() == [True, True]
    assert got.consent_personalization.tolist() == [False, False]


def test_offsets_are_converted_to_utc(tmp_wh, tmp_path):
    text = "order_id,ordered_at\nA,2011-06-01T10:00:00+08:00\nB,2011-06-01 10:00:00Z\n"
    ingest(tmp_wh, [write(tmp_path / "o.csv", text)], table="orders")
    got = tmp_wh.query("SELECT strftime(ordered_at, '%H:%M') AS t FROM orders ORDER BY order_id").t.tolist()
    assert got == ["02:00", "10:00"]

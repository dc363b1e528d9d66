"""Money that reconciles to the cent, and every derived row accounted for.

A receipt-line file in the Complete Journey layout (its preset: the line total
``sales_value`` after discounts, loyalty and coupon discounts, lines of no units for
coupon redemptions and voids) is built here with amounts a rounded unit price cannot
give back (3 units for 10.00). Total revenue, each customer's net revenue and RFM
monetary value equal the file's sums exactly; zero-quantity coupon lines keep their
discount, and their baskets and households stay counted; the ingest's money accounting
says read = loaded + quarantined (+ updated + duplicates) for every money column.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shoplens.customers.rfm import compute_rfm
from shoplens.ingest import ingest
from shoplens.ingest.loader import Money, money_columns
from shoplens.metrics import SHOP_KPIS, customer_value_sql
from shoplens.schema import TABLES
from tests.ingest.helpers import run_cli, write

HEADER = ("household_id,store_id,basket_id,product_id,quantity,sales_value,retail_disc,coupon_disc,"
          "coupon_match_disc,week,transaction_timestamp\n")
LINES = [
    # household, basket, product, quantity, sales_value, retail_disc, coupon_disc, coupon_match_disc, time
    ("1", "B1", "P1", "3.0", "10.0", "0.5", "0.0", "0.0", "2017-01-02T10:00:00Z"),  # 3.3333 x 3 = 9.9999
    ("1", "B1", "P2", "7.0", "1.0", "0.0", "0.0", "0.0", "2017-01-02T10:00:00Z"),   # 0.1429 x 7 = 1.0003
    ("1", "B1", "P3", "0.0", "0.0", "0.0", "1.4", "0.0", "2017-01-02T10:00:00Z"),   # coupon redemption
    ("1", "B2", "P1", "1.0", "3.86", "0.43", "0.0", "0.0", "2017-02-03T18:30:00Z"),
    ("2", "B3", "P4", "6.0", "2.0", "0.0", "0.5", "0.25", "2017-03-04T12:00:00Z"),  # 0.3333 x 6 = 1.9998
    ("2", "B3", "P5", "2.0", "11.87", "2.9", "0.0", "0.0", "2017-03-04T12:00:00Z"),
    ("3", "B4", "P6", "0.0", "0.0", "0.0", "0.75", "0.0", "2017-04-05T09:00:00Z"),  # a basket of a coupon only
    ("4", "B5", "P7", "0.0", "0.0", "0.0", "0.0", "0.0", "2017-05-06T09:00:00Z"),   # a void line, nothing else
]
FILE_SALES = sum(Decimal(r[4]) for r in LINES)  # 28.73
FILE_DISCOUNT = sum(Decimal(r[5]) + Decimal(r[6]) + Decimal(r[7]) for r in LINES)  # 6.73


def exact(wh, sql: str) -> Decimal:
    """A DECIMAL result as Python's Decimal (a DataFrame would make it a float)."""
    return wh.con.execute(sql).fetchone()[0]


def receipts(path, lines=LINES):
    body = "".join(f"{h},309,{b},{p},{q},{s},{rd},{cd},{cm},1,{t}\n" for h, b, p, q, s, rd, cd, cm, t in lines)
    return write(path, HEADER + body)


@pytest.fixture()
def loaded(tmp_wh, tmp_path):
    result = ingest(tmp_wh, [receipts(tmp_path / "transactions.csv")], preset="completejourney-transactions")
    return tmp_wh, result


def test_total_revenue_is_the_files_sum_to_the_cent(loaded):
    wh, _ = loaded
    kpis = wh.query(SHOP_KPIS.sql).iloc[0]
    assert round(Decimal(str(kpis.revenue)), 2) == FILE_SALES
    assert exact(wh, "SELECT sum(CAST(amount AS DECIMAL(18, 2))) FROM order_items") == FILE_SALES


def test_each_customers_net_revenue_is_their_lines_and_their_rfm_monetary(loaded):
    wh, _ = loaded
    value = wh.query(customer_value_sql()).set_index("customer_id").net_revenue
    rfm = compute_rfm(wh, write=False).set_index("customer_id").monetary
    assert value.round(2).to_dict() == rfm.round(2).to_dict()
    by_household = {h: sum(Decimal(r[4]) for r in LINES if r[0] == h) for h in {r[0] for r in LINES}}
    assert sorted(round(Decimal(str(v)), 2) for v in value) == sorted(by_household.values())


def test_zero_quantity_coupon_lines_are_kept_with_their_discount(loaded):
    wh, result = loaded
    assert result.quarantined == 0 and result.loaded == len(LINES)
    assert result.derived["orders"].read == result.derived["orders"].loaded == 5  # every basket
    assert result.derived["customers"].loaded == 4  # every household, the coupon-only and void-only ones too
    assert wh.query("SELECT count(*) AS n FROM _quarantine").n[0] == 0
    assert exact(wh, "SELECT sum(CAST(discount_amount AS DECIMAL(18, 2))) FROM orders") == FILE_DISCOUNT
    coupon = wh.query("SELECT quantity, amount, discount FROM order_items WHERE order_id = 'B4'").iloc[0]
    assert (coupon.quantity, coupon.amount, coupon.discount) == (0, 0, 0.75)
    # a line of no units is not demand and adds nothing to revenue
    assert wh.query("SELECT discount_amount FROM orders WHERE order_id = 'B4'").discount_amount[0] == 0.75


def test_zero_quantity_that_states_no_amount_or_discount_is_still_a_bad_row(tmp_wh, tmp_path):
    text = "order_id,product_id,quantity,unit_price\nO1,P,1,2.5\nO1,Q,0,2.5\n"
    write(tmp_path / "orders.csv", "order_id,ordered_at\nO1,2024-01-05\n")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders")
    result = ingest(tmp_wh, [write(tmp_path / "items.csv", text)], table="order_items")
    assert result.quarantined == 1
    reason = tmp_wh.query("SELECT reason FROM _quarantine").reason[0]
    assert reason == "quantity is 0 and the row states no amount or discount"


def test_zero_quantity_with_a_discount_is_a_line_of_no_units(tmp_wh, tmp_path):
    write(tmp_path / "orders.csv", "order_id,ordered_at\nO1,2024-01-05\n")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders")
    text = "order_id,product_id,quantity,unit_price,discount\nO1,P,2,2.5,0\nO1,COUPON,0,0,1.25\n"
    result = ingest(tmp_wh, [write(tmp_path / "items.csv", text)], table="order_items")
    assert (result.loaded, result.quarantined) == (2, 0)
    value = tmp_wh.query(SHOP_KPIS.sql).revenue[0]
    assert value == 5.0  # the coupon line has no units: its value is nothing (its discount is on the order)


def test_money_accounting_adds_up_with_quarantined_and_duplicate_rows(loaded, tmp_path):
    wh, result = loaded
    items = result.money["order_items"]
    assert items["amount"].read == items["amount"].loaded == FILE_SALES
    assert items["value"].read == FILE_SALES  # the lines' value as the metrics define it
    assert items["discount"].loaded == FILE_DISCOUNT
    assert result.money["orders"]["total_amount"].loaded == FILE_SALES
    # again, with one more line whose basket is unreadable-dated: duplicates and quarantine add up
    bad = ("5", "B6", "P1", "1.0", "4.25", "0.0", "0.0", "0.0", "not a date")
    again = ingest(wh, [receipts(tmp_path / "again.csv", [*LINES, bad])], preset="completejourney-transactions")
    amount = again.money["order_items"]["amount"]
    assert amount.read == FILE_SALES + Decimal("4.25")
    assert amount.duplicates == FILE_SALES and amount.loaded == 0
    assert amount.quarantined == Decimal("4.25")  # the line of the quarantined basket
    for cols in again.money.values():
        for m in cols.values():
            assert m.adds_up()


def test_an_updated_amount_is_counted_as_updated(loaded, tmp_path):
    wh, _ = loaded
    changed = [("1", "B2", "P1", "1.0", "3.96", "0.43", "0.0", "0.0", "2017-02-03T18:30:00Z")]
    again = ingest(wh, [receipts(tmp_path / "fix.csv", changed)], preset="completejourney-transactions")
    amount = again.money["order_items"]["amount"]
    assert (amount.read, amount.updated, amount.loaded, amount.quarantined) == (
        Decimal("3.96"), Decimal("3.96"), 0, 0)


def test_money_columns_of_each_table():
    assert set(money_columns(TABLES["order_items"], ["order_id", "quantity", "unit_price", "amount"])) == {
        "amount", "value"}
    assert set(money_columns(TABLES["orders"], ["order_id", "ordered_at", "total_amount"])) == {"total_amount"}
    assert money_columns(TABLES["customers"], ["customer_id"]) == {}
    assert not Money(Decimal("1.00"), Decimal("0.99")).adds_up()


def test_cli_prints_the_money_table_and_json(tmp_path):
    path = receipts(tmp_path / "transactions.csv")
    wh = str(tmp_path / "w.duckdb")
    shown = run_cli("--warehouse", wh, "ingest", "--preset", "completejourney-transactions", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "Money: read (the file's total) = loaded + quarantined" in shown.stdout
    assert "order_items.amount" in shown.stdout and "28.73" in shown.stdout
    again = run_cli("--warehouse", wh, "ingest", "--preset", "completejourney-transactions", str(path), "--json")
    assert again.returncode == 0, again.stderr
    money = json.loads(again.stdout)["money"]
    assert money["order_items"]["amount"] == {"read": 28.73, "loaded": 0.0, "updated": 0.0, "quarantined": 0.0,
                                              "duplicates": 28.73}


def test_an_order_whose_every_line_was_quarantined_is_counted_in_the_derived_accounting(tmp_wh, tmp_path):
    unreadable = [("9", "B9", "P1", "two", "5.5", "0.0", "0.0", "0.0", "2017-06-01T10:00:00Z"),
                  ("1", "B1", "", "1.0", "2.5", "0.0", "0.0", "0.0", "2017-01-02T10:00:00Z")]  # B1 keeps others
    result = ingest(tmp_wh, [receipts(tmp_path / "t.csv", [*LINES, *unreadable])], preset="completejourney-transactions")
    orders, customers = result.derived["orders"], result.derived["customers"]
    assert (orders.read, orders.loaded, orders.quarantined) == (6, 5, 1)
    assert (customers.read, customers.loaded, customers.quarantined) == (5, 4, 1)
    q = tmp_wh.query("SELECT table_name, line, reason FROM _quarantine WHERE table_name = 'orders'")
    assert q.line.tolist() == [len(LINES) + 2]  # the file line of B9 (after the header)
    assert q.reason[0] == "every row of this order was quarantined in order_items (see `shoplens quarantine order_items`)"
    amount = result.money["order_items"]["amount"]
    assert amount.quarantined == Decimal("8.0") and amount.loaded == FILE_SALES
    assert tmp_wh.query("SELECT count(*) AS n FROM orders WHERE order_id = 'B9'").n[0] == 0

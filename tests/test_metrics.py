"""The shop's metrics, defined once: order value and kind, per-customer value, shop KPIs, and the docs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shoplens.customers.features import customer_features
from shoplens.customers.rfm import compute_rfm
from shoplens.ingest import ingest
from shoplens.insights.overview import kpis, revenue_by_month, top_categories
from shoplens.metrics import customer_value_sql, metrics_markdown, order_values_sql

from tests.ingest.helpers import write

# One order of every kind (value in brackets):
# O1 c1 completed, no total: lines 2 x 5 - 1 discount (9)      -> purchase
# O2 c1 completed, total 20, no lines (20)                      -> purchase
# O3 c2 paid: lines 3 x 10 (30)                                 -> purchase
# R1 c2 cancelled credit note: line -1 x 10 (-10)               -> return
# R2 c1 returned, total 15, no lines (15)                       -> reversed: bought and taken back, nets to 0
# X1 c3 cancelled: line 1 x 5 (5)                               -> cancelled: never fulfilled
# P1 c3 pending: line 1 x 5 (5)                                 -> open
# G1 guest completed: line 1 x 5 (5)                            -> purchase (shop totals only)
# A1 guest adjustment, total 99                                 -> adjustment
ORDERS = """order_id,customer_id,ordered_at,status,total_amount,currency
O1,c1,2011-01-05,completed,,GBP
O2,c1,2011-02-05,completed,20,GBP
O3,c2,2011-02-06,paid,,GBP
R1,c2,2011-02-07,cancelled,,GBP
R2,c1,2011-02-08,returned,15,GBP
X1,c3,2011-02-09,cancelled,,GBP
P1,c3,2011-02-10,pending,,GBP
G1,,2011-02-11,completed,,GBP
A1,,2011-02-12,adjustment,99,GBP
"""
ITEMS = """order_id,line_number,product_id,quantity,unit_price,discount
O1,1,A,2,5,1
O3,1,B,3,10,
R1,1,B,-1,10,
X1,1,A,1,5,
P1,1,A,1,5,
G1,1,A,1,5,
"""


@pytest.fixture()
def shop(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "p.csv", "product_id,category\nA,mugs\nB,\n")], table="products", privacy="off")
    ingest(tmp_wh, [write(tmp_path / "o.csv", ORDERS)], table="orders", privacy="off")  # raw ids: definitions, not privacy
    ingest(tmp_wh, [write(tmp_path / "i.csv", ITEMS)], table="order_items", privacy="off")
    return tmp_wh


def test_order_value_and_kind(shop):
    got = shop.query(f"SELECT order_id, amount, kind FROM ({order_values_sql()}) ORDER BY order_id")
    assert got.set_index("order_id").to_dict("index") == {
        "A1": {"amount": 99.0, "kind": "adjustment"}, "G1": {"amount": 5.0, "kind": "purchase"},
        "O1": {"amount": 9.0, "kind": "purchase"}, "O2": {"amount": 20.0, "kind": "purchase"},
        "O3": {"amount": 30.0, "kind": "purchase"}, "P1": {"amount": 5.0, "kind": "open"},
        "R1": {"amount": -10.0, "kind": "return"}, "R2": {"amount": 15.0, "kind": "reversed"},
        "X1": {"amount": 5.0, "kind": "cancelled"},
    }


def test_lines_are_the_order_value_when_both_exist(tmp_wh, tmp_path):
    """Online Retail's invoice totals were summed over repeated rows that ingest drops: the lines win."""
    ingest(tmp_wh, [write(tmp_path / "o.csv", "order_id,customer_id,ordered_at,status,total_amount\n"
                                              "O1,c1,2011-01-05,completed,30\n")], table="orders")
    ingest(tmp_wh, [write(tmp_path / "i.csv", "order_id,line_number,product_id,quantity,unit_price\nO1,1,A,2,10\n")],
           table="order_items")
    assert tmp_wh.query(f"SELECT amount FROM ({order_values_sql()})").iloc[0, 0] == 20.0
    assert kpis(tmp_wh)["revenue"] == 20.0


def test_a_stated_payment_is_the_order_value(tmp_wh, tmp_path):
    """What the customer paid, as the source states it (shipping, taxes and the order's discount
    included), wins over the lines; the lines still give the categories."""
    ingest(tmp_wh, [write(tmp_path / "o.csv", "order_id,customer_id,ordered_at,status,total_amount,paid_amount\n"
                                              "O1,c1,2011-01-05,paid,58.76,58.76\nO2,c1,2011-01-06,paid,7,\n")],
           table="orders")
    ingest(tmp_wh, [write(tmp_path / "i.csv", "order_id,line_number,product_id,quantity,unit_price\n"
                                              "O1,1,A,3,19.95\nO2,1,A,1,5\n")], table="order_items")
    got = tmp_wh.query(f"SELECT order_id, amount FROM ({order_values_sql()}) ORDER BY 1").amount.tolist()
    assert got == [58.76, 5.0]  # O2 states no payment: its lines
    assert kpis(tmp_wh)["revenue"] == pytest.approx(63.76)
    assert top_categories(tmp_wh)["revenue"].sum() == pytest.approx(3 * 19.95 + 5)


def test_per_customer_value(shop):
    got = shop.query(f"SELECT * FROM ({customer_value_sql()}) ORDER BY customer_id").set_index("customer_id")
    assert list(got.index) == ["c1", "c2"]  # c3 has no purchase
    assert got.loc["c1"].to_dict().items() >= {"orders": 2, "gross_revenue": 29.0, "returned_value": 0.0,
                                               "net_revenue": 29.0, "average_order_value": 14.5}.items()
    assert got.loc["c2", "net_revenue"] == 20.0 and got.loc["c2", "returned_value"] == 10.0
    end = "TIMESTAMP '2011-02-01'"
    early = shop.query(f"SELECT * FROM ({customer_value_sql(end)})")
    assert early.to_dict("records")[0].items() >= {"customer_id": "c1", "orders": 1, "net_revenue": 9.0}.items()


def test_one_customers_value_is_the_same_query(shop):
    """The API's per-customer lookup (one customer's lines only) gives the shop-wide figures of that customer."""
    every = shop.query(f"SELECT * FROM ({customer_value_sql()}) ORDER BY customer_id")
    for customer in ("c1", "c2", "c3"):
        one = shop.con.execute(f"SELECT * FROM ({customer_value_sql(customer='$c')})", {"c": customer}).df()
        assert one.to_dict("records") == every[every["customer_id"] == customer].to_dict("records")


def test_shop_kpis(shop):
    k = kpis(shop)
    assert k["customers"] == 2 and k["orders"] == 4  # the guest's purchase counts in shop totals
    assert k["gross_revenue"] == 9 + 20 + 30 + 5 and k["returned_value"] == 10
    assert k["revenue"] == 54 and k["average_order_value"] == 54 / 4
    assert k["repeat_purchase_rate"] == 0.5 and k["cancellations"] == 3  # R1, R2, X1


def test_every_view_uses_the_same_definitions(shop):
    rfm = compute_rfm(shop, write=False).set_index("customer_id")
    features = customer_features(shop, date(2011, 3, 1)).set_index("customer_id")
    assert rfm["monetary"].to_dict() == features["net_revenue"].to_dict() == {"c1": 29.0, "c2": 20.0}
    assert rfm["frequency"].to_dict() == features["orders"].to_dict() == {"c1": 2, "c2": 1}
    assert features.loc["c1", "aov"] == 14.5
    months = revenue_by_month(shop).set_index("month")
    assert months["revenue"].sum() == kpis(shop)["revenue"] and months["orders"].sum() == 4
    cats = top_categories(shop).set_index("category")["revenue"].to_dict()
    assert cats == {"mugs": 9.0 + 5.0, "uncategorised": 30.0 - 10.0}  # O2 has no lines: in no category


def test_docs_list_every_metric():
    doc = (Path(__file__).parents[1] / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert metrics_markdown() in doc, "regenerate the metrics table of docs/data-model.md from metrics_markdown()"

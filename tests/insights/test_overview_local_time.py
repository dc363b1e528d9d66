"""Revenue by month in the shop's time zone: an order a few hours into a UTC month belongs to the
shop's previous month when the shop is behind UTC (the overview, the report and the API read it)."""

from __future__ import annotations

from shoplens.customers.profile import customer_360
from shoplens.ingest import ingest
from shoplens.insights.overview import revenue_by_month
from shoplens.store.shop import set_shop


def test_months_are_the_shops(tmp_wh, tmp_path):
    # 03:00 UTC on 1 February is 22:00 on 31 January in New York
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ordered_at,total_amount\n"
                                         "O1,C1,2024-01-10T15:00:00Z,10\nO2,C1,2024-02-01T03:00:00Z,25\n")
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    ingest(tmp_wh, [tmp_path / "customers.csv"], table="customers", privacy="off")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders", privacy="off")
    utc = revenue_by_month(tmp_wh)
    assert utc[["month", "revenue"]].values.tolist() == [["2024-01", 10.0], ["2024-02", 25.0]]
    assert [m["month"] for m in customer_360(tmp_wh, "C1")["orders_by_month"]] == ["2024-01", "2024-02"]
    set_shop(tmp_wh, timezone="America/New_York")
    local = revenue_by_month(tmp_wh)
    assert local[["month", "revenue", "orders", "customers"]].values.tolist() == [["2024-01", 35.0, 2, 1]]
    assert customer_360(tmp_wh, "C1")["orders_by_month"] == [{"month": "2024-01", "revenue": 35.0}]

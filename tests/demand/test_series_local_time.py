"""Demand series in the shop's time zone: days and weeks are the shop's local ones, and the default
cut-off is the day after the last order in local time."""

from __future__ import annotations

from shoplens.demand.series import data_end, demand_series, keys_with_sales
from shoplens.ingest import ingest
from shoplens.store.shop import set_shop


def test_days_are_the_shops(tmp_wh, tmp_path):
    # 02:00 UTC on 5 March is 21:00 on 4 March in New York
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ordered_at\nO1,C1,2024-03-01T12:00:00Z\n"
                                         "O2,C1,2024-03-05T02:00:00Z\nO3,C1,2024-03-07T12:00:00Z\n")
    (tmp_path / "items.csv").write_text("order_id,line_number,product_id,quantity,unit_price\n"
                                        "O1,1,P1,1,2\nO2,1,P1,4,2\nO3,1,P1,1,2\n")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders", privacy="off")
    ingest(tmp_wh, [tmp_path / "items.csv"], table="order_items", privacy="off")

    def units_by_day():
        s = demand_series(tmp_wh, freq="day", level="product")
        return {str(d.date()): u for d, u in zip(s["period_start"], s["units"]) if u}

    assert units_by_day() == {"2024-03-01": 1.0, "2024-03-05": 4.0, "2024-03-07": 1.0}
    set_shop(tmp_wh, timezone="America/New_York")
    assert units_by_day() == {"2024-03-01": 1.0, "2024-03-04": 4.0, "2024-03-07": 1.0}
    assert str(data_end(tmp_wh)) == "2024-03-08"
    assert keys_with_sales(tmp_wh, level="product", until=data_end(tmp_wh)) == ["P1"]

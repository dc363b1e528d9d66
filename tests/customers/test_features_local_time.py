"""Customer features in the shop's time zone: weekend and evening shares count the shop's local
weekdays and hours (``shoplens shop set --timezone``); unset, they stay in UTC."""

from __future__ import annotations

from datetime import date

from shoplens.customers.features import customer_features
from shoplens.ingest import ingest
from shoplens.store.shop import set_shop


def test_weekend_and_evening_shares_are_local(tmp_wh, tmp_path):
    # 23:30 UTC on Friday 5 January is 07:30 on Saturday in Shanghai
    (tmp_path / "orders.csv").write_text("order_id,customer_id,ordered_at,total_amount\n"
                                         "O1,C1,2024-01-05T23:30:00Z,10\nO2,C1,2024-01-10T02:00:00Z,10\n")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders", privacy="off")
    utc = customer_features(tmp_wh, date(2024, 2, 1)).set_index("customer_id").loc["C1"]
    assert (utc["weekend_share"], utc["evening_share"]) == (0.0, 0.5)
    set_shop(tmp_wh, timezone="Asia/Shanghai")
    local = customer_features(tmp_wh, date(2024, 2, 1)).set_index("customer_id").loc["C1"]
    assert (local["weekend_share"], local["evening_share"]) == (0.5, 0.0)

"""Cohorts in the shop's time zone (``shoplens shop set --timezone``): hours, weekdays and months
are the shop's local time, so an order a few hours into a UTC month stays in the shop's month."""

from __future__ import annotations

from shoplens.customers.cohorts import compute_cohorts
from shoplens.store.shop import set_shop


def test_hours_weekdays_and_months_are_the_shops_local_time(tmp_wh, tmp_path):
    from shoplens.ingest import ingest

    # 03:30 UTC on 1 January is 22:30 on 31 December (a Sunday) in New York
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,total_amount\n"
        "O1,C1,2017-12-01T15:00:00Z,10\nO2,C1,2018-01-01T03:30:00Z,20\n")
    ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders", privacy="off")
    # as of 1 February, so that January is a complete month (a partial one is left out)
    utc = compute_cohorts(tmp_wh, as_of="2018-02-01", write=False)
    assert sorted(utc.weekday_hour.hour.tolist()) == [3, 15]
    assert utc.retention.months_since.max() == 1  # January counts as a second month in UTC
    set_shop(tmp_wh, timezone="America/New_York")
    local = compute_cohorts(tmp_wh, as_of="2018-02-01", write=False)
    assert sorted(local.weekday_hour.hour.tolist()) == [10, 22]
    assert local.weekday_hour.set_index("hour").day[22] == "Sunday"
    assert local.retention.months_since.max() == 0  # both orders in December, the shop's month

"""Data that ends a few hours into a new month (and week) must not read as a collapse: retention,
category growth and weekly anomalies count complete periods only, and a category's direction in
``customers cohorts`` is the one ``demand trends`` reports."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shoplens.customers.cohorts import compute_cohorts
from shoplens.demand.trends import market_trends
from shoplens.trend import trend_window


@pytest.fixture()
def steady_shop(tmp_wh):
    """A year of steady daily sales in three categories (A steady, B growing, C shrinking) and
    three orders in the first hours of 1 January 2018, a Monday: the data ends inside a month and a week."""
    rng = np.random.default_rng(7)
    orders, items = [], []
    day0 = datetime(2017, 1, 1)
    for d in range(365):
        for k in range(12):
            oid = f"O{len(orders)}"
            when = day0 + timedelta(days=d, hours=9 + k % 10)
            orders.append((oid, f"C{(d * 12 + k) % 300}", when, "completed"))
            product = ["PA", "PB", "PC"][k % 3]
            qty = {"PA": 3.0, "PB": 1.0 + d / 120, "PC": 4.0 - d / 120}[product] + float(rng.poisson(2))
            items.append((oid, 1, product, qty, 2.0))
    for h in range(3):  # a few orders into the new month
        oid = f"O{len(orders)}"
        orders.append((oid, f"C{h}", datetime(2018, 1, 1, 1 + h), "completed"))
        items.append((oid, 1, "PA", 1.0, 2.0))
    tmp_wh.con.register("_o", pd.DataFrame(orders, columns=["order_id", "customer_id", "ordered_at", "status"]))
    tmp_wh.con.register("_i", pd.DataFrame(items, columns=["order_id", "line_number", "product_id", "quantity",
                                                            "unit_price"]))
    tmp_wh.con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, status) SELECT * FROM _o")
    tmp_wh.con.execute("INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) "
                       "SELECT * FROM _i")
    tmp_wh.con.execute("INSERT INTO products (product_id, name, category, price) VALUES "
                       "('PA', 'a', 'A', 2), ('PB', 'b', 'B', 2), ('PC', 'c', 'C', 2)")
    return tmp_wh


def test_a_partial_last_month_is_not_a_collapse(steady_shop):
    res = compute_cohorts(steady_shop, write=False)  # as of 2 January 2018: January is partial
    growth = res.category_trends.set_index("category")["growth"]
    # Oct-Dec against Jul-Sep; a partial January in the last three months read as about -30 %
    assert abs(growth["A"]) < 0.05
    assert growth["B"] > 0.1 and growth["C"] < -0.1
    assert res.retention["months_since"].max() == 11  # January 2018 is no twelfth month yet
    assert pd.Timestamp(res.retention["cohort"].max()) < pd.Timestamp("2018-01-01")


def test_a_partial_week_is_no_anomaly(steady_shop):
    anomalies = compute_cohorts(steady_shop, write=False).anomalies
    weeks = pd.to_datetime(anomalies["week"])
    # the week of Monday 1 January holds three orders; the first week (from Monday 26 December) one day of sales
    assert weeks.max() == pd.Timestamp("2017-12-25") and weeks.min() > pd.Timestamp("2016-12-26")
    assert not anomalies["revenue_anomaly"].any()  # steady sales: nothing to flag


def test_cohorts_and_demand_trends_agree_on_every_direction(steady_shop):
    cohorts = compute_cohorts(steady_shop, write=False).category_trends.set_index("category")["direction"]
    trends = market_trends(steady_shop, level="category").set_index("key")["trend"]
    assert cohorts.to_dict() == trends.to_dict() == {"A": "flat", "B": "rising", "C": "falling"}


def test_the_trend_window_ends_before_a_partial_week():
    assert trend_window(datetime(2018, 1, 2).date(), 26)[1] == datetime(2018, 1, 1).date()
    assert trend_window(datetime(2018, 1, 1).date(), 26)[1] == datetime(2018, 1, 1).date()  # cut-off on a Monday

from datetime import date

import pandas as pd
import pytest

from shoplens.demand.series import demand_series, keys_with_sales, parse_date, period_ceil, period_floor
from shoplens.errors import InsufficientDataError, UserInputError

START = pd.Timestamp("2024-01-01")  # the synthetic shop opens on a Monday (see conftest)


def test_weekly_series_are_zero_filled_from_first_sale_and_start_on_monday(shop_wh):
    s = demand_series(shop_wh, freq="week", level="product", until="2024-10-07")
    assert (s["period_start"].dt.weekday == 0).all()
    p3 = s[s["key"] == "P3"]
    # every week from the first sale to the last complete week is present
    expected = pd.date_range(p3["period_start"].min(), "2024-09-30", freq="W-MON")
    assert list(p3["period_start"]) == list(expected)
    assert (p3["units"] == 0).any()
    p4 = s[s["key"] == "P4"]
    assert p4["period_start"].min() == pd.Timestamp(START) + pd.Timedelta(weeks=32)


def test_returns_cancellations_and_adjustments_are_not_demand(shop_wh):
    s = demand_series(shop_wh, freq="week", level="product", until="2024-10-07").set_index(["key", "period_start"])
    week3, week4, week5 = (pd.Timestamp(START) + pd.Timedelta(weeks=w) for w in (3, 4, 5))
    assert s.loc[("P1", week3), "returned_units"] == 500
    assert s.loc[("P1", week4), "cancelled_units"] == 900
    assert s.loc[("P1", week4), "units"] < 100  # the cancelled 900 units are not demand
    assert s.loc[("P1", week5), "units"] < 100  # nor the adjustment
    assert (s["units"] >= 0).all()


def test_cutoff_leaves_out_the_partial_week_and_later_orders(shop_wh):
    s = demand_series(shop_wh, freq="week", level="category", until="2024-03-06")  # a Wednesday
    assert s["period_start"].max() == pd.Timestamp("2024-02-26")
    assert set(s["key"]) == {"A", "B"}
    d = demand_series(shop_wh, freq="day", level="product", until="2024-03-06")
    assert d["period_start"].max() == pd.Timestamp("2024-03-05")


def test_keys_with_sales_before_cutoff(shop_wh):
    keys = keys_with_sales(shop_wh, level="product", until=date(2024, 2, 1))
    assert {"P1", "P2", "P5"} <= set(keys)
    assert "P4" not in keys_with_sales(shop_wh, level="product", until=date(2024, 2, 1))


def test_period_helpers():
    assert period_floor(date(2024, 3, 6), "week") == date(2024, 3, 4)
    assert period_ceil(date(2024, 3, 6), "week") == date(2024, 3, 11)
    assert period_ceil(date(2024, 3, 4), "week") == date(2024, 3, 4)
    assert period_ceil(date(2024, 3, 6), "day") == date(2024, 3, 6)


def test_bad_inputs_raise_clear_errors(shop_wh, tmp_path):
    with pytest.raises(UserInputError, match="--freq"):
        demand_series(shop_wh, freq="month")
    with pytest.raises(UserInputError, match="--level"):
        demand_series(shop_wh, level="brand")
    with pytest.raises(UserInputError, match="YYYY-MM-DD"):
        parse_date("next tuesday")
    from shoplens.store.warehouse import Warehouse

    with Warehouse(tmp_path / "empty.duckdb") as empty, pytest.raises(InsufficientDataError, match="no orders"):
        demand_series(empty)

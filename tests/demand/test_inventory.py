import pandas as pd
import pytest
from scipy.stats import norm

from shoplens.demand.inventory import Z80, reorder_advice
from shoplens.errors import UserInputError


def forecast(key="A", n=6, f=10.0, lo=5.0, hi=15.0):
    return pd.DataFrame({"key": key, "period_start": pd.date_range("2024-01-01", periods=n, freq="W-MON"),
                         "forecast": f, "lo80": lo, "hi80": hi})


def test_reorder_point_and_safety_stock_from_the_interval():
    a = reorder_advice(forecast(), lead_time_periods=2, service_level=0.9, cover_periods=4).iloc[0]
    sd = (10 / (2 * Z80)) * 2 ** 0.5
    assert a["lead_time_demand"] == 20
    assert a["lead_time_sd"] == pytest.approx(sd)
    assert a["safety_stock"] == pytest.approx(norm.ppf(0.9) * sd)
    assert a["reorder_point"] == pytest.approx(-(-(20 + norm.ppf(0.9) * sd) // 1))
    assert a["order_quantity"] == 40
    assert 0.9 < a["fill_rate"] <= 1


def test_fractional_lead_time_and_higher_service_needs_more_stock():
    low = reorder_advice(forecast(), lead_time_periods=1.5, service_level=0.9).iloc[0]
    high = reorder_advice(forecast(), lead_time_periods=1.5, service_level=0.99).iloc[0]
    assert low["lead_time_demand"] == 15
    assert high["reorder_point"] > low["reorder_point"]
    assert high["expected_short_per_cycle"] < low["expected_short_per_cycle"]


def test_economic_order_quantity_and_order_now():
    cost = pd.Series({"A": 2.0})
    a = reorder_advice(forecast(), lead_time_periods=1, unit_cost=cost, order_cost=50, holding_rate=0.25,
                       periods_per_year=52, on_hand=pd.Series({"A": 3.0})).iloc[0]
    eoq = (2 * 10 * 52 * 50 / (0.25 * 2)) ** 0.5
    assert a["order_quantity"] == pytest.approx(-(-eoq // 1))
    assert a["order_now"] == a["order_quantity"]  # 3 on hand is below the reorder point


def test_bad_parameters():
    with pytest.raises(UserInputError, match="service level"):
        reorder_advice(forecast(), lead_time_periods=1, service_level=1.5)
    with pytest.raises(UserInputError, match="lead time"):
        reorder_advice(forecast(), lead_time_periods=0)
    with pytest.raises(UserInputError, match="both"):
        reorder_advice(forecast(), lead_time_periods=1, order_cost=10)

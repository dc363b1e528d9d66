import numpy as np
import pandas as pd
import pytest

from shoplens.demand.evaluate import backtest, head_keys, summarise, verdict
from shoplens.errors import InsufficientDataError


def test_head_keys_take_products_until_80_percent_of_revenue():
    s = pd.DataFrame({"key": ["a", "b", "c", "d"], "period_start": pd.Timestamp("2024-01-01"),
                      "revenue": [50.0, 30.0, 15.0, 5.0]})
    assert head_keys(s, pd.Timestamp("2024-02-01"), 0.8) == {"a", "b"}
    assert head_keys(s, pd.Timestamp("2024-02-01"), 0.81) == {"a", "b", "c"}


def test_summarise_computes_mase_smape_and_coverage():
    points = pd.DataFrame({
        "unique_id": ["a", "a", "a", "a"], "ds": pd.to_datetime(["2024-01-01", "2024-01-08"] * 2),
        "model": ["SeasonalNaive", "SeasonalNaive", "auto", "auto"],
        "forecast": [10.0, 10.0, 12.0, 8.0], "y": [12.0, 8.0, 12.0, 8.0],
        "lo": [9.0, 9.0, 11.0, 7.0], "hi": [11.0, 11.0, 13.0, 9.0],
        "scale": [4.0] * 4, "cutoff": pd.Timestamp("2024-01-01"), "head": True,
    })
    s = summarise(points).set_index(["subset", "model"])
    naive = s.loc[("all series", "SeasonalNaive")]
    assert naive["mase"] == pytest.approx(0.5)  # MAE 2 / scale 4
    assert naive["coverage80"] == 0.0
    assert naive["smape"] == pytest.approx(100 * (2 / 22 + 2 / 18))
    auto = s.loc[("all series", "auto")]
    assert auto["mase"] == 0 and auto["coverage80"] == 1.0 and auto["mase_vs_seasonal_naive"] == 0
    assert auto["zero_share"] == 0.0
    lines = verdict(summarise(points))
    assert lines[0].startswith("head (80 % of revenue) (1): the automatic model choice beats seasonal naive")
    assert "covered 100.0%" in lines[1]


def test_backtest_runs_every_model_and_scores_held_out_periods():
    rng = np.random.default_rng(3)
    weeks = pd.date_range("2023-01-02", periods=40, freq="W-MON")
    frames = [pd.DataFrame({"key": f"K{i}", "period_start": weeks, "units": rng.poisson(10 + i, 40).astype(float),
                            "revenue": 1.0}) for i in range(5)]
    summary, points = backtest(pd.concat(frames), freq="week", horizon=2, origins=2, n_jobs=1)
    assert {"auto", "SeasonalNaive", "AutoETS", "ADIDA", "IMAPA", "TSB", "CrostonSBA", "CrostonOptimized"} <= set(
        summary["model"])
    assert points["cutoff"].nunique() == 2
    assert (points["ds"] >= points["cutoff"]).all()  # only periods after the origin are scored
    assert summary["mase"].notna().all()


def test_backtest_refuses_too_short_history():
    s = pd.DataFrame({"key": "a", "period_start": pd.date_range("2024-01-01", periods=10, freq="W-MON"), "units": 1.0})
    with pytest.raises(InsufficientDataError, match="origins"):
        backtest(s, horizon=4, origins=3)

import numpy as np
import pandas as pd
import pytest

from shoplens.demand.forecast import ALL_MODELS, DemandForecaster, demand_profile
from shoplens.errors import InsufficientDataError, NotFittedError, UserInputError


def weekly(key: str, values) -> pd.DataFrame:
    return pd.DataFrame({"key": key, "period_start": pd.date_range("2023-01-02", periods=len(values), freq="W-MON"),
                         "units": np.asarray(values, dtype=float)})


@pytest.fixture(scope="module")
def mixed_series() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = [weekly(f"S{i}", rng.poisson(30, 60)) for i in range(6)]  # smooth
    parts += [weekly(f"I{i}", rng.poisson(0.4, 60) * rng.integers(1, 6, 60)) for i in range(6)]  # intermittent
    parts += [weekly("NEW", [3, 5, 4])]  # too short to cross-validate
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def fitted(mixed_series) -> DemandForecaster:
    return DemandForecaster(freq="week", horizon=4, n_jobs=1).fit(mixed_series)


def test_forecast_covers_every_series_and_horizon(fitted, mixed_series):
    out = fitted.predict()
    assert list(out.columns) == ["key", "period_start", "forecast", "lo80", "hi80", "model"]
    assert set(out["key"]) == set(mixed_series["key"])
    assert (out.groupby("key").size() == 4).all()
    assert (out["lo80"] >= 0).all() and (out["lo80"] <= out["hi80"]).all() and (out["forecast"] >= 0).all()
    first = out.groupby("key")["period_start"].min()
    last = mixed_series.groupby("key")["period_start"].max()
    assert (first == last + pd.Timedelta(weeks=1)).all()
    assert set(out["model"]) <= set(ALL_MODELS)


def test_forecast_level_follows_the_series(fitted):
    out = fitted.predict().groupby("key")["forecast"].mean()
    assert 20 < out["S0"] < 40  # Poisson(30) demand
    assert out["I0"] < 5


def test_demand_classes_and_short_series(fitted):
    prof = fitted.profile_
    assert prof.loc["S0", "demand_class"] in ("smooth", "erratic")
    assert prof.loc["I0", "demand_class"] in ("intermittent", "lumpy")
    assert prof.loc["NEW", "demand_class"] == "new"
    choice = fitted.model_choice()
    assert {"key", "demand_class", "model", "cv_mae_SeasonalNaive"} <= set(choice.columns)


def test_class_champion_unless_own_winner_is_clearly_better():
    f = DemandForecaster(switch_margin=0.1)
    profile = pd.DataFrame({"demand_class": ["smooth"] * 3, "scale": [1.0] * 3}, index=["a", "b", "c"])
    mae = pd.DataFrame({"AutoETS": [1.0, 1.0, 1.0], "ADIDA": [2.0, 0.95, 0.5]}, index=["a", "b", "c"])
    choice = f._choose(mae, profile, ["AutoETS", "ADIDA"])
    # champion AutoETS (mean 1.0 < 1.15); b is only 5 % better with ADIDA, c is 50 % better
    assert choice.to_dict() == {"a": "AutoETS", "b": "AutoETS", "c": "ADIDA"}


def test_intervals_cover_about_80_percent_out_of_sample():
    rng = np.random.default_rng(7)
    values = {f"K{i}": rng.poisson(rng.uniform(2, 40), 64) for i in range(60)}
    train = pd.concat([weekly(k, v[:56]) for k, v in values.items()], ignore_index=True)
    test = pd.concat([weekly(k, v) for k, v in values.items()], ignore_index=True)
    out = DemandForecaster(freq="week", horizon=8, n_jobs=1, models=("SeasonalNaive", "AutoETS", "ADIDA")).fit(
        train).predict()
    scored = out.merge(test, on=["key", "period_start"])
    coverage = ((scored["units"] >= scored["lo80"]) & (scored["units"] <= scored["hi80"])).mean()
    assert 0.7 <= coverage <= 0.92


def test_demand_profile_adi_and_cv2():
    h = pd.DataFrame({"unique_id": ["x"] * 4, "ds": pd.date_range("2024-01-01", periods=4, freq="W-MON"),
                      "y": [0.0, 4.0, 0.0, 4.0]})
    prof = demand_profile(h)
    assert prof.loc["x", "adi"] == 2.0 and prof.loc["x", "cv2"] == 0.0
    assert prof.loc["x", "demand_class"] == "intermittent"


def test_save_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "f.pkl")
    again = DemandForecaster.load(path)
    pd.testing.assert_frame_equal(again.predict(), fitted.predict())


def test_errors():
    with pytest.raises(NotFittedError):
        DemandForecaster().predict()
    with pytest.raises(UserInputError, match="negative"):
        DemandForecaster().fit(weekly("x", [1, -2, 3] * 8))
    with pytest.raises(UserInputError, match="horizon"):
        DemandForecaster(horizon=0).fit(weekly("x", [1, 2, 3] * 8))
    with pytest.raises(UserInputError, match="unknown forecasting model"):
        DemandForecaster(models=("Prophet",)).fit(weekly("x", [1, 2, 3] * 8))
    with pytest.raises(UserInputError, match="lacks column"):
        DemandForecaster().fit(pd.DataFrame({"key": ["x"], "units": [1.0]}))
    with pytest.raises(InsufficientDataError):
        DemandForecaster().fit(weekly("x", []))


def test_intermittent_series_get_statsforecasts_conformal_intervals():
    """Regression: the upper bound of most positive intermittent forecasts equalled the forecast.
    The interval is statsforecast's conformal interval for the chosen model, as statsforecast gives it."""
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA
    from statsforecast.utils import ConformalIntervals

    rng = np.random.default_rng(5)
    sparse = pd.concat([weekly(f"I{i}", rng.poisson(0.5, 52) * rng.integers(1, 4, 52)) for i in range(8)],
                       ignore_index=True)
    f = DemandForecaster(freq="week", horizon=4, n_jobs=1, models=("ADIDA",)).fit(sparse)
    out = f.predict()
    positive = out[out["forecast"] > 0]
    assert len(positive) and (positive["hi80"] > positive["forecast"]).all()
    direct = StatsForecast(models=[ADIDA()], freq="W-MON").forecast(
        df=f.history_, h=4, level=[80], prediction_intervals=ConformalIntervals(h=1, n_windows=20))
    assert out["hi80"].to_numpy() == pytest.approx(direct["ADIDA-hi-80"].to_numpy())
    assert out["lo80"].to_numpy() == pytest.approx(direct["ADIDA-lo-80"].clip(lower=0).to_numpy())


def test_a_series_too_short_to_calibrate_gets_zero_to_its_largest_period():
    f = DemandForecaster(freq="week", horizon=2, n_jobs=1).fit(weekly("TWO", [0.0, 6.0]))
    out = f.predict()
    assert (out["lo80"] == 0).all() and (out["hi80"] == np.maximum(out["forecast"], 6.0)).all()

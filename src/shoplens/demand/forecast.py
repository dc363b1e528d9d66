"""Per-series demand forecasting with automatic model choice and calibrated intervals.

The models come from Nixtla's statsforecast (seasonal naive, AutoETS, AutoARIMA,
Croston (optimized and SBA), ADIDA, IMAPA, TSB). For every series :class:`DemandForecaster`:

1. classifies the demand pattern (Syntetos-Boylan: average inter-demand interval
   ``adi`` and squared coefficient of variation ``cv2`` of non-zero demand) into
   smooth, erratic, intermittent or lumpy; AutoARIMA is a candidate only for
   smooth series (it is ~50x slower than the rest and made for continuous demand);
2. runs rolling-origin cross-validation over the last ``n_windows`` horizons;
   each demand class gets a champion (lowest mean scaled MAE over its series),
   and a series switches to its own best model only when that is clearly (10 %)
   better on its windows;
3. sets 80 % intervals with statsforecast's conformal intervals
   (:class:`statsforecast.utils.ConformalIntervals`, ``conformal_distribution``):
   the chosen model is refitted before each of the last ``interval_windows``
   periods of the series' own history (fewer when the history is shorter), and
   its absolute one-period-ahead errors there give the interval around every
   forecast period (clipped at 0). This works the same for the intermittent
   models (Croston, ADIDA, IMAPA, TSB), which have no intervals of their own.
   Windows of the whole horizon would give only one score per window and step,
   and with a year of weekly data too few of them (80 % intervals covered 68 %
   of Poisson demand with 6 such windows, 75 % with 20 one-period ones). A series
   of fewer than 3 periods cannot be calibrated and gets
   ``[0, max(forecast, largest period seen)]``.

>>> import pandas as pd
>>> weeks = pd.date_range("2024-01-01", periods=40, freq="W-MON")
>>> series = pd.DataFrame({"key": "A", "period_start": weeks, "units": [5.0, 7.0, 6.0, 8.0] * 10})
>>> f = DemandForecaster(freq="week", horizon=4).fit(series)
>>> out = f.predict()
>>> list(out.columns)
['key', 'period_start', 'forecast', 'lo80', 'hi80', 'model']
>>> len(out)
4
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from shoplens.base import Model
from shoplens.demand.series import PANDAS_FREQ
from shoplens.errors import InsufficientDataError, UserInputError

# Models that cost milliseconds per series or more: worth worker processes.
SLOW_MODELS = ("AutoETS", "AutoARIMA")
ALL_MODELS = ("SeasonalNaive", "AutoETS", "AutoARIMA", "CrostonOptimized", "CrostonSBA", "ADIDA", "IMAPA", "TSB")
INTERMITTENT_MODELS = ("CrostonOptimized", "CrostonSBA", "ADIDA", "IMAPA", "TSB")
# Used for series too short to cross-validate: robust on new and sparse products.
DEFAULT_MODEL = "ADIDA"
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "new")


def build_model(name: str, season_length: int) -> Any:
    """A statsforecast model by shoplens name."""
    from statsforecast import models as m

    factories = {
        "SeasonalNaive": lambda: m.SeasonalNaive(season_length=season_length),
        "AutoETS": lambda: m.AutoETS(season_length=season_length),
        # Restricted search: the full default search costs ~0.15 s per series.
        "AutoARIMA": lambda: m.AutoARIMA(season_length=season_length, max_p=2, max_q=2, max_P=1, max_Q=1,
                                         nmodels=10),
        "CrostonOptimized": lambda: m.CrostonOptimized(),
        "CrostonSBA": lambda: m.CrostonSBA(),
        "ADIDA": lambda: m.ADIDA(),
        "IMAPA": lambda: m.IMAPA(),
        "TSB": lambda: m.TSB(alpha_d=0.1, alpha_p=0.1),
    }
    if name not in factories:
        raise UserInputError(f"unknown forecasting model {name!r}; choose from {', '.join(ALL_MODELS)}")
    return factories[name]()


def demand_profile(history: pd.DataFrame) -> pd.DataFrame:
    """Per series: length, adi, cv2, naive scale and Syntetos-Boylan class (vectorised).

    ``history`` has columns ``unique_id, ds, y`` sorted by id and time.
    """
    g = history.groupby("unique_id", sort=False)["y"]
    n = g.size()
    nonzero = history[history["y"] > 0].groupby("unique_id", sort=False)["y"]
    n_nonzero = nonzero.size().reindex(n.index, fill_value=0)
    adi = n / n_nonzero.replace(0, np.nan)
    cv2 = (nonzero.std(ddof=0) / nonzero.mean()).reindex(n.index) ** 2
    diffs = history["y"].diff().abs().where(history["unique_id"].eq(history["unique_id"].shift()))
    naive_mae = diffs.groupby(history["unique_id"], sort=False).mean().reindex(n.index)
    mean = g.mean()
    scale = naive_mae.where(naive_mae > 0, mean.where(mean > 0, 1.0)).fillna(1.0)
    profile = pd.DataFrame({"length": n, "adi": adi, "cv2": cv2.fillna(0.0), "scale": scale, "mean": mean})
    intermittent = profile["adi"] >= 1.32
    variable = profile["cv2"] >= 0.49
    profile["demand_class"] = np.select(
        [~intermittent & ~variable, ~intermittent & variable, intermittent & ~variable],
        ["smooth", "erratic", "intermittent"], default="lumpy",
    )
    profile.index.name = "unique_id"
    return profile


def _to_nixtla(series: pd.DataFrame, target: str) -> pd.DataFrame:
    missing = {"key", "period_start", target} - set(series.columns)
    if missing:
        raise UserInputError(f"demand series lacks column(s) {', '.join(sorted(missing))}")
    out = series[["key", "period_start", target]].rename(
        columns={"key": "unique_id", "period_start": "ds", target: "y"})
    out = out.astype({"unique_id": str, "y": float})
    out["ds"] = pd.to_datetime(out["ds"])
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


class DemandForecaster(Model):
    """Automatic per-series demand forecaster (see the module docstring).

    Parameters
    ----------
    freq: ``"day"`` or ``"week"`` (weeks start on Monday).
    horizon: periods ahead, also the cross-validation window length.
    season_length: seasonal period; default 7 for days, 52 for weeks when the
        median series covers two years (else 1: seasonal naive becomes naive).
    n_windows: cross-validation origins per series.
    level: prediction-interval coverage in percent.
    models: candidate model names (default: all of :data:`ALL_MODELS`).
    target: the series column to forecast (``units`` or ``revenue``).
    n_jobs: worker processes for statsforecast (default: up to 2 CPUs).
    arima_max_series: AutoARIMA is tried on at most this many smooth series
        (the highest-volume ones); it is the one slow candidate.
    switch_margin: a series leaves its class champion model only for a model
        at least this much better (relative MAE) on its own windows.
    interval_windows: last periods of each series' own history whose one-period-ahead
        errors calibrate its conformal interval (fewer when the series is short).
    """

    def __init__(
        self,
        freq: str = "week",
        horizon: int = 4,
        season_length: int | None = None,
        n_windows: int = 2,
        level: int = 80,
        models: tuple[str, ...] | None = None,
        target: str = "units",
        n_jobs: int | None = None,
        arima_max_series: int = 100,
        switch_margin: float = 0.1,
        interval_windows: int = 20,
    ) -> None:
        self.freq = freq
        self.horizon = horizon
        self.season_length = season_length
        self.n_windows = n_windows
        self.level = level
        self.models = models
        self.target = target
        self.n_jobs = n_jobs
        self.arima_max_series = arima_max_series
        self.switch_margin = switch_margin
        self.interval_windows = interval_windows

    # -- fitting ----------------------------------------------------------------------
    def _validate(self) -> None:
        if self.freq not in PANDAS_FREQ:
            raise UserInputError(f"freq {self.freq!r}: choose day or week")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise UserInputError(f"horizon {self.horizon!r}: must be a whole number of periods >= 1")
        if not 50 <= self.level < 100:
            raise UserInputError(f"level {self.level!r}: interval coverage must be between 50 and 99 percent")
        if not isinstance(self.interval_windows, int) or self.interval_windows < 2:
            raise UserInputError(f"interval_windows {self.interval_windows!r}: conformal intervals need at least 2")
        for name in self.models or ():
            build_model(name, 1)

    def _statsforecast(self, names: list[str], n_series: int) -> Any:
        # Cheap models, and few series, run faster in-process than through a worker pool.
        parallel = bool(set(names) & set(SLOW_MODELS)) and n_series >= 200
        n_jobs = (self.n_jobs or min(2, os.cpu_count() or 1)) if parallel else 1
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        return StatsForecast(
            fallback_model=Naive(),  # a model that fails on one odd series must not stop the whole run
            models=[build_model(n, self.season_length_) for n in names],
            freq=PANDAS_FREQ[self.freq],
            n_jobs=n_jobs,
        )

    def fit(self, series: pd.DataFrame) -> DemandForecaster:
        """Choose a model per series by cross-validation and calibrate its intervals.

        ``series``: columns ``key, period_start`` and the target (``units``), one row per
        key and period, zero-filled (see :func:`shoplens.demand.series.demand_series`).
        """
        self._validate()
        history = _to_nixtla(series, self.target)
        if history.empty:
            raise InsufficientDataError("no demand series to forecast (no sales in the chosen window)")
        if (history["y"] < 0).any():
            raise UserInputError("demand series hold negative values; pass units sold, not net of returns")
        profile = demand_profile(history)
        default_m = 7 if self.freq == "day" else 52
        if self.season_length is not None:
            self.season_length_ = int(self.season_length)
        else:
            self.season_length_ = default_m if profile["length"].median() >= 2 * default_m + self.horizon else 1
        candidates = list(self.models or ALL_MODELS)
        cv_h = self.horizon
        min_len = self.n_windows * cv_h + max(10, self.season_length_ + 1)  # AutoETS needs ~10 points
        long_enough = profile.index[profile["length"] >= min_len]
        profile.loc[profile["length"] < min_len, "demand_class"] = "new"

        errors = self._cross_validate(history[history["unique_id"].isin(long_enough)], profile, candidates, cv_h)
        mae = self._cv_mae(errors)
        choice = self._choose(mae, profile.loc[mae.index] if len(mae) else profile, candidates).reindex(
            profile.index).fillna(DEFAULT_MODEL if DEFAULT_MODEL in candidates else candidates[0])
        self.profile_ = profile.assign(model=choice)
        self.cv_errors_ = errors
        self.history_ = history
        return self

    def _cross_validate(self, history: pd.DataFrame, profile: pd.DataFrame, candidates: list[str],
                        cv_h: int) -> pd.DataFrame:
        """Long frame ``unique_id, ds, cutoff, y, model, forecast`` of cross-validation forecasts."""
        if history.empty:
            return pd.DataFrame(columns=["unique_id", "ds", "cutoff", "y", "model", "forecast"])
        smooth_ids = profile.index[profile["demand_class"].eq("smooth")]
        groups = []
        cheap = [c for c in candidates if c not in SLOW_MODELS]
        if cheap:
            groups.append((cheap, history))
        if "AutoETS" in candidates:
            groups.append((["AutoETS"], history))
        if "AutoARIMA" in candidates:
            # the highest-volume smooth series only: AutoARIMA costs ~0.1 s per series and fit
            top = profile.loc[profile.index.intersection(smooth_ids), "mean"].nlargest(self.arima_max_series).index
            arima_part = history[history["unique_id"].isin(top)]
            if not arima_part.empty:
                groups.append((["AutoARIMA"], arima_part))
        frames = []
        for names, part in groups:
            sf = self._statsforecast(names, part["unique_id"].nunique())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cv = sf.cross_validation(h=cv_h, df=part, n_windows=self.n_windows, step_size=cv_h)
            frames.append(cv.melt(id_vars=["unique_id", "ds", "cutoff", "y"], value_vars=names,
                                  var_name="model", value_name="forecast"))
        out = pd.concat(frames, ignore_index=True)
        out["forecast"] = out["forecast"].clip(lower=0)
        return out

    def _choose(self, mae: pd.DataFrame, profile: pd.DataFrame, candidates: list[str]) -> pd.Series:
        """Per series: the class champion, unless the series' own best beats it clearly.

        ``mae``: cross-validated MAE, one row per series, one column per model. The
        champion of a demand class has the lowest mean *scaled* MAE over the class;
        a series keeps its own winner only when it is ``switch_margin`` better than
        the champion on that series. Two short windows make per-series winners
        noisy; shrinking towards the class champion is what makes the choice pay.
        """
        fallback = DEFAULT_MODEL if DEFAULT_MODEL in candidates else candidates[0]
        choice = pd.Series(fallback, index=profile.index, dtype=object)
        if mae.empty:
            return choice
        mae = mae[[c for c in candidates if c in mae.columns]]
        classes = profile["demand_class"].reindex(mae.index)
        scaled = mae.div(profile["scale"].reindex(mae.index), axis=0)
        # a model missing on some series of the class (AutoARIMA) cannot be champion
        complete = [c for c in mae.columns if c != "AutoARIMA"] or list(mae.columns)
        champion = scaled[complete].groupby(classes).mean().idxmin(axis=1)
        champ = classes.map(champion)
        champ_mae = pd.Series(mae.to_numpy()[np.arange(len(mae)), mae.columns.get_indexer(champ)], index=mae.index)
        own = mae.idxmin(axis=1, skipna=True)
        own_mae = mae.min(axis=1, skipna=True)
        switch = own_mae < (1 - self.switch_margin) * champ_mae
        choice.loc[mae.index] = champ.where(~switch, own).fillna(fallback)
        return choice

    @staticmethod
    def _cv_mae(errors: pd.DataFrame) -> pd.DataFrame:
        """Cross-validated MAE per series (rows) and model (columns)."""
        if errors.empty:
            return pd.DataFrame()
        return (errors.assign(e=(errors["y"] - errors["forecast"]).abs())
                .groupby(["unique_id", "model"], sort=False)["e"].mean().unstack("model"))

    # -- forecasting --------------------------------------------------------------------
    def predict(self, horizon: int | None = None) -> pd.DataFrame:
        """Forecast ``horizon`` periods after each series' last period, with conformal intervals.

        Returns ``key, period_start, forecast, lo80, hi80, model`` (interval
        columns are named after ``level``), forecasts and bounds clipped at zero.
        """
        self.check_fitted()
        h = horizon or self.horizon
        from statsforecast.utils import ConformalIntervals

        lengths = self.profile_["length"]
        frames = []
        for name, ids in self.profile_.groupby("model").groups.items():
            name = str(name)
            # one-period windows: every period of the last `interval_windows` gives a score (windows of
            # the whole horizon give only `interval_windows` scores per step: too few, they under-cover)
            for calibrated, keep in ((True, lengths.loc[ids] >= 3), (False, lengths.loc[ids] < 3)):
                chosen = keep.index[keep.to_numpy()]
                if chosen.empty:
                    continue
                part = self.history_[self.history_["unique_id"].isin(chosen)]
                sf = self._statsforecast([name], len(chosen))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if calibrated:
                        fc = sf.forecast(h=h, df=part, level=[self.level], prediction_intervals=ConformalIntervals(
                            h=1, n_windows=self.interval_windows))
                    else:
                        fc = sf.forecast(h=h, df=part)
                        largest = part.groupby("unique_id")["y"].max()
                        fc[f"{name}-lo-{self.level}"] = 0.0
                        fc[f"{name}-hi-{self.level}"] = np.maximum(fc[name], fc["unique_id"].map(largest))
                frames.append(pd.DataFrame({
                    "unique_id": fc["unique_id"], "ds": fc["ds"], "forecast": fc[name], "model": name,
                    "lo": fc[f"{name}-lo-{self.level}"], "hi": fc[f"{name}-hi-{self.level}"]}))
        out = pd.concat(frames, ignore_index=True)
        forecast = out["forecast"].clip(lower=0).fillna(0.0).to_numpy()
        lo = np.minimum(out["lo"].fillna(0.0).clip(lower=0).to_numpy(), forecast)
        hi = np.maximum(out["hi"].fillna(0.0).to_numpy(), forecast)
        lo_name, hi_name = f"lo{self.level}", f"hi{self.level}"
        result = pd.DataFrame({
            "key": out["unique_id"].astype(str), "period_start": pd.to_datetime(out["ds"]),
            "forecast": forecast, lo_name: lo, hi_name: hi, "model": out["model"],
        })
        return result.sort_values(["key", "period_start"], kind="stable").reset_index(drop=True)

    def model_choice(self) -> pd.DataFrame:
        """Per series: demand class, chosen model and cross-validated MAE of every candidate."""
        self.check_fitted()
        prof = self.profile_.reset_index().rename(columns={"unique_id": "key"})
        if self.cv_errors_.empty:
            return prof
        mae = (self.cv_errors_.assign(e=(self.cv_errors_["y"] - self.cv_errors_["forecast"]).abs())
               .groupby(["unique_id", "model"])["e"].mean().unstack("model").add_prefix("cv_mae_"))
        return prof.merge(mae, left_on="key", right_index=True, how="left")

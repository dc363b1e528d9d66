"""Rolling-origin backtests: every candidate model and the automatic choice,
against the seasonal-naive baseline, on held-out periods after each origin.

For each origin (cut-off) the models see only the periods before it and forecast
the next ``horizon`` periods; the actuals of those periods score them:

- **MASE**: mean absolute error over the horizon divided by the in-sample
  seasonal-naive MAE before the origin, averaged over series (series whose
  history is constant have no scale and are left out);
- **sMAPE**: ``200 |y - f| / (|y| + |f|)`` in percent, 0 when both are 0,
  averaged over all points;
- **coverage**: share of actuals inside the 80 % interval (``auto``: the
  forecaster's conformal intervals; seasonal naive, AutoETS and AutoARIMA:
  statsforecast's own; the intermittent models alone show none);
- **zero share**: share of held-out periods with no demand. An interval holding 0
  covers each of them, so coverage cannot fall below it: on very sparse products
  an 80 % interval over-covers by construction.

Results are given for all series and for the *head*: the products that made 80 %
of revenue before the first origin (the ones stock decisions depend on).

>>> from shoplens.demand.series import demand_series
>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> series = demand_series(wh, freq="week", level="category", until="2011-11-01")
>>> summary, points = backtest(series, freq="week", horizon=4, origins=2)
>>> summary.loc[summary["subset"] == "all series", ["model", "series"]].head(2).values.tolist()
[['auto', 11], ['SeasonalNaive', 11]]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shoplens.demand.forecast import ALL_MODELS, DemandForecaster, _to_nixtla, build_model
from shoplens.demand.series import PANDAS_FREQ
from shoplens.errors import InsufficientDataError, UserInputError

NATIVE_INTERVALS = ("SeasonalNaive", "AutoETS", "AutoARIMA")


def head_keys(series: pd.DataFrame, before: pd.Timestamp, share: float = 0.8) -> set[str]:
    """Keys that together made ``share`` of revenue before ``before`` (largest first)."""
    past = series[series["period_start"] < before]
    if "revenue" not in past.columns:
        return set(past["key"].astype(str).unique())
    revenue = past.groupby("key")["revenue"].sum().sort_values(ascending=False)
    revenue = revenue[revenue > 0]
    if revenue.empty:
        return set()
    cumulative = revenue.cumsum() / revenue.sum()
    # include the product that crosses the threshold
    n = int((cumulative < share).sum()) + 1
    return set(revenue.index[:n].astype(str))


def _scale(train: pd.DataFrame, m: int) -> pd.Series:
    """In-sample seasonal-naive MAE per series (the MASE denominator)."""
    lagged = train.groupby("unique_id", sort=False)["y"].shift(m)
    return (train["y"] - lagged).abs().groupby(train["unique_id"], sort=False).mean()


def _baselines(train: pd.DataFrame, horizon: int, freq: str, m: int, level: int, n_jobs: int | None,
               forecaster: DemandForecaster) -> pd.DataFrame:
    """Every candidate model fitted on every series it applies to; long format."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    frames = []
    profile = forecaster.profile_
    for name in ALL_MODELS:
        part = train
        if name == "AutoARIMA":  # as in the forecaster: the top smooth series only
            ids = profile.index[profile["model"].notna() & profile["demand_class"].eq("smooth")]
            ids = profile.loc[ids, "mean"].nlargest(forecaster.arima_max_series).index
            part = train[train["unique_id"].isin(ids)]
        elif name == "AutoETS":  # too short for ETS: the forecaster does not try it either
            part = train[train["unique_id"].isin(profile.index[profile["demand_class"] != "new"])]
        if part.empty:
            continue
        sf = StatsForecast(models=[build_model(name, m)], freq=PANDAS_FREQ[freq], fallback_model=Naive(),
                           n_jobs=(n_jobs or 2) if name in ("AutoETS", "AutoARIMA") and part["unique_id"].nunique() >= 200
                           else 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(h=horizon, df=part, level=[level] if name in NATIVE_INTERVALS else None)
        out = pd.DataFrame({"unique_id": fc["unique_id"].astype(str), "ds": fc["ds"], "model": name,
                            "forecast": fc[name].clip(lower=0)})
        if name in NATIVE_INTERVALS:
            out["lo"] = fc[f"{name}-lo-{level}"].clip(lower=0).to_numpy()
            out["hi"] = fc[f"{name}-hi-{level}"].to_numpy()
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


def backtest(
    series: pd.DataFrame,
    *,
    freq: str = "week",
    horizon: int = 4,
    origins: int = 4,
    level: int = 80,
    head_share: float = 0.8,
    n_jobs: int | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest of every model and the automatic choice.

    ``series``: zero-filled frame ``key, period_start, units[, revenue]`` covering
    the whole period. The last ``origins`` cut-offs are ``horizon`` periods apart
    and the last one leaves exactly ``horizon`` periods to score.

    Returns ``(summary, points)``: summary per (subset, model) with ``mase``,
    ``smape``, ``coverage``, ``mase_vs_seasonal_naive`` and sizes; points are the
    scored forecasts.
    """
    if horizon < 1 or origins < 1:
        raise UserInputError("horizon and origins must be at least 1")
    periods = np.sort(series["period_start"].unique())
    if len(periods) < horizon * origins + 12:
        raise InsufficientDataError(
            f"{len(periods)} periods of data: a backtest with {origins} origin(s) of {horizon} needs at least "
            f"{horizon * origins + 12}; use fewer --origins or a shorter --horizon")
    cutoffs = [pd.Timestamp(periods[len(periods) - horizon * (i + 1)]) for i in reversed(range(origins))]
    head = head_keys(series, cutoffs[0], head_share)
    full = _to_nixtla(series, "units")
    points = []
    for i, cutoff in enumerate(cutoffs):
        if progress:
            progress(f"origin {cutoff.date()}", i / len(cutoffs))
        train_series = series[series["period_start"] < cutoff]
        train_series = train_series[train_series["key"].isin(
            train_series.loc[train_series["units"] > 0, "key"].unique())]
        forecaster = DemandForecaster(freq=freq, horizon=horizon, level=level, n_jobs=n_jobs).fit(train_series)
        m = forecaster.season_length_
        auto = forecaster.predict().rename(columns={"key": "unique_id", "period_start": "ds",
                                                    f"lo{level}": "lo", f"hi{level}": "hi"})
        auto["model"] = "auto"
        train = forecaster.history_
        per_model = _baselines(train, horizon, freq, m, level, n_jobs, forecaster)
        scored = pd.concat([per_model, auto[["unique_id", "ds", "model", "forecast", "lo", "hi"]]],
                           ignore_index=True)
        actual = full[(full["ds"] >= cutoff)]
        scored = scored.merge(actual, on=["unique_id", "ds"], how="left")
        scored["y"] = scored["y"].fillna(0.0)  # zero-filled: no sale recorded means zero units
        scored["scale"] = scored["unique_id"].map(_scale(train, m))
        scored["cutoff"] = cutoff
        points.append(scored)
    if progress:
        progress("scoring", 1.0)
    points_df = pd.concat(points, ignore_index=True)
    points_df["head"] = points_df["unique_id"].isin(head)
    return summarise(points_df), points_df


def summarise(points: pd.DataFrame) -> pd.DataFrame:
    """MASE, sMAPE and coverage per subset and model from scored points."""
    p = points.copy()
    p["abs_error"] = (p["y"] - p["forecast"]).abs()
    denom = p["y"].abs() + p["forecast"].abs()
    p["smape"] = np.where(denom > 0, 200 * p["abs_error"] / denom.where(denom > 0, 1), 0.0)
    p["zero"] = (p["y"] == 0).astype(float)
    if "lo" in p.columns:
        p["covered"] = np.where(p["lo"].notna(), (p["y"] >= p["lo"] - 1e-9) & (p["y"] <= p["hi"] + 1e-9), np.nan)
    else:
        p["covered"] = np.nan
    rows: list[dict[str, Any]] = []
    for subset, part in (("all series", p), ("head (80 % of revenue)", p[p["head"]])):
        if part.empty:
            continue
        per_series = (part.groupby(["model", "unique_id", "cutoff"])
                      .agg(mae=("abs_error", "mean"), scale=("scale", "first")).reset_index())
        per_series = per_series[per_series["scale"] > 0]
        per_series["mase"] = per_series["mae"] / per_series["scale"]
        # compare every model with seasonal naive on the same series and origins
        base = per_series[per_series["model"] == "SeasonalNaive"].set_index(["unique_id", "cutoff"])["mase"]
        for model, g in part.groupby("model", sort=False):
            ps = per_series[per_series["model"] == model]
            common = ps.set_index(["unique_id", "cutoff"])["mase"]
            b = base.reindex(common.index)
            rows.append({
                "subset": subset, "model": model, "series": int(g["unique_id"].nunique()),
                "mase": float(ps["mase"].mean()) if len(ps) else np.nan,
                "smape": float(g["smape"].mean()),
                "coverage80": float(np.nanmean(g["covered"])) if g["covered"].notna().any() else np.nan,
                "zero_share": float(g["zero"].mean()),
                "mase_vs_seasonal_naive": float(common.mean() / b.mean()) if len(common) and b.mean() > 0 else np.nan,
            })
    order = {m: i for i, m in enumerate(("auto",) + ALL_MODELS)}
    out = pd.DataFrame(rows)
    out["_o"] = out["model"].map(order)
    return out.sort_values(["subset", "_o"], ascending=[False, True]).drop(columns="_o").reset_index(drop=True)


def verdict(summary: pd.DataFrame) -> list[str]:
    """Plain sentences: does the automatic choice beat seasonal naive, and what did its intervals cover?

    >>> table = pd.DataFrame({"subset": ["all series"], "model": ["auto"], "series": [40], "coverage80": [0.81],
    ...                       "zero_share": [0.3], "mase_vs_seasonal_naive": [1.01]})
    >>> verdict(table)
    ['all series (40): the automatic model choice does not beat seasonal naive (MASE ratio 1.010); its 80 % intervals covered 81.0% (30.0% of periods had no demand)']
    """
    lines = []
    for _, row in summary[summary["model"] == "auto"].iterrows():
        ratio = row["mase_vs_seasonal_naive"]
        if pd.isna(ratio):
            choice = "the automatic model choice could not be compared with seasonal naive (no scale)"
        elif ratio < 1:
            choice = f"the automatic model choice beats seasonal naive (MASE {1 - ratio:.1%} lower, ratio {ratio:.3f})"
        else:
            choice = f"the automatic model choice does not beat seasonal naive (MASE ratio {ratio:.3f})"
        cover = (f"its 80 % intervals covered {row['coverage80']:.1%} ({row['zero_share']:.1%} of periods had no demand)"
                 if pd.notna(row["coverage80"]) else "no interval was scored")
        lines.append(f"{row['subset']} ({int(row['series']):,}): {choice}; {cover}")
    return lines

"""Demand capability over a warehouse: the functions the CLI, the demo and the API
call. Each reads the warehouse, runs the models and writes a ``demand_*`` table.

Tables written: ``demand_forecast``, ``demand_model_choice``, ``eval_demand_backtest``,
``demand_reorder``, ``demand_trends`` (as ``eval_*`` reports when ``until`` is before the
last order: a past-dated run is a backtest and never replaces what is served).

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> result = forecast_demand(wh, until="2011-11-01", horizon=4, freq="week", level="category")
>>> result.forecast.columns.tolist()
['key', 'period_start', 'forecast', 'lo80', 'hi80', 'model']
>>> result.summary()["series"], result.summary()["first_period"]
(11, '2011-11-07')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shoplens.demand.evaluate import backtest
from shoplens.demand.forecast import DemandForecaster
from shoplens.demand.inventory import reorder_advice
from shoplens.demand.series import (
    check_freq_level, data_end, demand_series, keys_with_sales, parse_date, period_ceil, period_floor,
)
from shoplens.demand.trends import market_trends
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, serves

Progress = Callable[[str, float], None]
MAX_HORIZON = {"day": 366, "week": 104}
CONTRACT_COLUMNS = ["key", "period_start", "forecast", "lo80", "hi80"]


@dataclass
class ForecastResult:
    """A forecast run: the forecast frame and what produced it."""

    forecast: pd.DataFrame  # key, period_start, forecast, lo80, hi80, model
    model_choice: pd.DataFrame
    forecaster: DemandForecaster
    until: date
    freq: str
    level: str
    horizon: int
    model_version: int | None = None
    evaluation: bool = False  # dated before the latest data: a backtest, written to eval_demand_forecast

    def summary(self) -> dict[str, Any]:
        return {
            "until": self.until.isoformat(), "freq": self.freq, "level": self.level, "horizon": self.horizon,
            "evaluation": self.evaluation,
            "table": ("eval_" if self.evaluation else "") + "demand_forecast",
            "series": int(self.forecast["key"].nunique()), "rows": len(self.forecast),
            "first_period": self.forecast["period_start"].min().date().isoformat() if len(self.forecast) else None,
            "models": {str(k): int(v) for k, v in self.model_choice["model"].value_counts().items()},
            "season_length": self.forecaster.season_length_, "model_version": self.model_version,
        }


def _check_horizon(horizon: int, freq: str) -> None:
    if horizon < 1 or horizon > MAX_HORIZON[freq]:
        raise UserInputError(f"--horizon {horizon}: give 1 to {MAX_HORIZON[freq]} {freq}s")


def forecast_demand(
    wh: Warehouse,
    *,
    until: str | date | None = None,
    horizon: int = 4,
    freq: str = "week",
    level: str = "product",
    n_jobs: int | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> ForecastResult:
    """Forecast units for every key with sales before ``until``, ``horizon`` periods ahead.

    Uses orders strictly before ``until`` (default: the day after the last order).
    The first forecast period is the first period starting on or after ``until``;
    when ``until`` falls inside a week, that partial week is left out of the history
    and of the forecast. Writes ``demand_forecast`` and ``demand_model_choice`` and
    registers the fitted model as ``demand_<level>_<freq>``. An ``until`` before the day after
    the last order forecasts periods whose sales the warehouse holds: a backtest, written to
    ``eval_demand_forecast`` and ``eval_demand_model_choice`` only, with no model registered.
    """
    check_freq_level(freq, level)
    _check_horizon(horizon, freq)
    latest = data_end(wh)
    cutoff = parse_date(until) or latest
    step = timedelta(days=7 if freq == "week" else 1)
    first_forecast = period_ceil(cutoff, freq)
    last_history = period_floor(cutoff, freq) - step
    gap = (first_forecast - last_history) // step - 1  # whole periods between history and forecast
    if progress:
        progress("demand series", 0.05)
    series = demand_series(wh, freq=freq, level=level, until=cutoff)
    keys = keys_with_sales(wh, level=level, until=cutoff)
    if not keys:
        raise InsufficientDataError(f"no sales before {cutoff}; choose a later --until")
    # Keys that sold only inside the partial period get one zero period so they are forecast too.
    missing = sorted(set(keys) - set(series["key"]))
    if missing:
        series = pd.concat([series, pd.DataFrame({"key": missing, "period_start": pd.Timestamp(last_history),
                                                  "units": 0.0, "revenue": 0.0})], ignore_index=True)
    if progress:
        progress(f"choosing models for {len(keys):,} series", 0.15)
    forecaster = DemandForecaster(freq=freq, horizon=horizon + gap, n_jobs=n_jobs).fit(series)
    if progress:
        progress("forecasting", 0.8)
    fc = forecaster.predict()
    fc = fc[fc["period_start"] >= pd.Timestamp(first_forecast)].reset_index(drop=True)
    choice = forecaster.model_choice()
    result = ForecastResult(fc, choice, forecaster, cutoff, freq, level, horizon, evaluation=not serves(cutoff, latest))
    if write and result.evaluation:
        meta = {"until": cutoff, "freq": freq, "level": level, "horizon": horizon}
        wh.write_evaluation("demand_forecast", fc.assign(level=level, freq=freq, until=pd.Timestamp(cutoff)), info=meta)
        wh.write_evaluation("demand_model_choice", choice.assign(level=level, freq=freq), info=meta)
    elif write:
        meta = {"until": cutoff, "freq": freq, "level": level, "horizon": horizon}
        wh.write_table("demand_forecast", fc.assign(level=level, freq=freq, until=pd.Timestamp(cutoff)),
                       kind="demand", info=meta)
        wh.write_table("demand_model_choice", choice.assign(level=level, freq=freq), kind="demand", info=meta)
        cv = forecaster.cv_errors_
        metrics = {"series": len(keys), "cv_mae": float((cv["y"] - cv["forecast"]).abs().mean()) if len(cv) else None,
                   "models": result.summary()["models"]}
        start = series["period_start"].min()
        result.model_version = ModelRegistry(wh).register(
            f"demand_{level}_{freq}", forecaster, kind="demand_forecaster", metrics=metrics,
            data_window=(start.to_pydatetime() if pd.notna(start) else None, cutoff))
    if progress:
        progress("done", 1.0)
    return result


def contract_frame(forecast: pd.DataFrame) -> pd.DataFrame:
    """The CSV contract: ``key, period_start (YYYY-MM-DD), forecast, lo80, hi80``."""
    out = forecast[CONTRACT_COLUMNS].copy()
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.strftime("%Y-%m-%d")
    return out


def evaluate_demand(
    wh: Warehouse,
    *,
    until: str | date | None = None,
    horizon: int = 4,
    freq: str = "week",
    level: str = "product",
    origins: int = 3,
    n_jobs: int | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest on the warehouse's own orders before ``until``.

    Returns the summary (subset, model, series, mase, smape, coverage80,
    mase_vs_seasonal_naive) and writes it to ``eval_demand_backtest``.
    """
    check_freq_level(freq, level)
    _check_horizon(horizon, freq)
    if origins < 1 or origins > 12:
        raise UserInputError(f"--origins {origins}: give 1 to 12")
    cutoff = parse_date(until) or data_end(wh)
    series = demand_series(wh, freq=freq, level=level, until=cutoff)
    if series.empty:
        raise InsufficientDataError(f"no sales before {cutoff}; choose a later --until")
    summary, _ = backtest(series, freq=freq, horizon=horizon, origins=origins, n_jobs=n_jobs, progress=progress)
    if write:
        wh.write_evaluation("demand_backtest", summary.assign(level=level, freq=freq, horizon=horizon, origins=origins,
                                                              until=pd.Timestamp(cutoff)),
                            info={"until": cutoff, "freq": freq, "level": level})
    return summary


def measured_coverage(wh: Warehouse, freq: str = "week") -> dict[str, Any] | None:
    """What the reorder advice rests on: the 80 % interval coverage of the automatic forecasts in
    the last product-level backtest (``shoplens demand evaluate --level product``), or ``None``."""
    if not wh.has_table("eval_demand_backtest"):
        return None
    rows = wh.query("SELECT * FROM eval_demand_backtest WHERE level = 'product' AND freq = ? AND model = 'auto'",
                    [freq])
    if rows.empty or "coverage80" not in rows.columns:
        return None
    out: dict[str, Any] = {"until": pd.Timestamp(rows["until"].iloc[0]).date().isoformat(),
                           "horizon": int(rows["horizon"].iloc[0]), "origins": int(rows["origins"].iloc[0])}
    for _, row in rows.iterrows():
        key = "head" if str(row["subset"]).startswith("head") else "all"
        out[f"coverage80_{key}"] = None if pd.isna(row["coverage80"]) else float(row["coverage80"])
    return out


def coverage_sentence(coverage: dict[str, Any] | None) -> str:
    """The coverage the reorder advice rests on, in words.

    >>> coverage_sentence(None)[:60]
    'Safety stocks rest on 80 % intervals whose coverage was not '
    >>> coverage_sentence({"until": "2017-12-18", "horizon": 4, "origins": 3, "coverage80_all": 0.87,
    ...                    "coverage80_head": 0.81})
    'Safety stocks rest on 80 % intervals that covered 81.0% of held-out weeks of the products making 80 % of revenue (87.0% over all products) in the last backtest (orders before 2017-12-18, 3 origin(s) x 4).'
    """
    if not coverage or coverage.get("coverage80_all") is None:
        return ("Safety stocks rest on 80 % intervals whose coverage was not measured on this shop yet: "
                "run `shoplens demand evaluate --level product`; fill rates assume the intervals cover 80 %.")
    head = coverage.get("coverage80_head")
    part = (f"{head:.1%} of held-out weeks of the products making 80 % of revenue ({coverage['coverage80_all']:.1%} "
            "over all products)" if head is not None else f"{coverage['coverage80_all']:.1%} of held-out weeks")
    return (f"Safety stocks rest on 80 % intervals that covered {part} in the last backtest (orders before "
            f"{coverage['until']}, {coverage['origins']} origin(s) x {coverage['horizon']}).")


def reorder_demand(
    wh: Warehouse,
    *,
    until: str | date | None = None,
    freq: str = "week",
    lead_time_days: float = 14,
    service_level: float = 0.95,
    cover_days: float = 28,
    order_cost: float | None = None,
    holding_rate: float | None = None,
    stock: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    n_jobs: int | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Reorder advice per product from a fresh product forecast (or the one given).

    ``stock``: optional frame ``product_id, on_hand`` to say what to order now.
    """
    check_freq_level(freq, "product")
    if lead_time_days <= 0 or cover_days <= 0:
        raise UserInputError("--lead-time-days and --cover-days must be positive")
    if not 0.5 <= service_level < 1:  # checked before the (slow) forecast
        raise UserInputError(f"service level {service_level!r}: give a share between 0.5 and 0.999, e.g. 0.95")
    if (order_cost is None) != (holding_rate is None):
        raise UserInputError("give both --order-cost and --holding-rate for the economic order quantity, or neither")
    latest = data_end(wh)
    served = serves(parse_date(until) or latest, latest)  # advice as of a past date is a backtest
    period_days = 7 if freq == "week" else 1
    lead, cover = lead_time_days / period_days, cover_days / period_days
    if forecast is None:
        horizon = max(1, math.ceil(max(lead, cover)))
        forecast = forecast_demand(wh, until=until, horizon=horizon, freq=freq, level="product",
                                   n_jobs=n_jobs, write=write, progress=progress).forecast
    products = wh.query("SELECT product_id AS key, name, category, coalesce(cost, price) AS unit_cost FROM products")
    on_hand = None
    if stock is not None:
        if not {"product_id", "on_hand"} <= set(stock.columns):
            raise UserInputError("the stock file needs columns product_id and on_hand")
        on_hand = stock.astype({"product_id": str}).set_index("product_id")["on_hand"].astype(float)
    advice = reorder_advice(
        forecast, lead_time_periods=lead, service_level=service_level, cover_periods=cover,
        unit_cost=products.set_index("key")["unit_cost"], order_cost=order_cost, holding_rate=holding_rate,
        periods_per_year=365 / period_days, on_hand=on_hand)
    advice = products[["key", "name", "category"]].merge(advice, on="key", how="right")
    advice = advice.rename(columns={"key": "product_id"})
    advice["stock_value_at_risk"] = np.nan
    cost = advice["product_id"].map(products.set_index("key")["unit_cost"])
    advice["stock_value_at_risk"] = advice["expected_excess_at_arrival"] * cost
    coverage = measured_coverage(wh, freq)
    # the fill rate is only as good as the intervals: the coverage they reached in the last backtest
    advice["interval_coverage_backtest"] = coverage.get("coverage80_all") if coverage else np.nan
    if write:
        info = {"lead_time_days": lead_time_days, "service_level": service_level}
        if served:
            wh.write_table("demand_reorder", advice, kind="demand", info=info)
        else:
            wh.write_evaluation("demand_reorder", advice, info=info)
    return advice


def trends_demand(
    wh: Warehouse,
    *,
    level: str = "category",
    until: str | date | None = None,
    weeks: int = 26,
    alpha: float = 0.05,
    min_units: float = 20,
    write: bool = True,
) -> pd.DataFrame:
    """Market trends (see :func:`shoplens.demand.trends.market_trends`), written to ``demand_trends``."""
    trends = market_trends(wh, level=level, until=until, weeks=weeks, alpha=alpha, min_units=min_units)
    if write:
        latest = data_end(wh)
        if serves(parse_date(until) or latest, latest):
            wh.write_table("demand_trends", trends, kind="demand", info={"level": level, "weeks": weeks})
        else:  # trends as of a past date: a look back, not what is served
            wh.write_evaluation("demand_trends", trends, info={"level": level, "weeks": weeks, "until": until})
    return trends

"""Product-level check of the demand forecaster's conformal 80 % intervals on a loaded warehouse.

The last ``--origins`` cut-offs, 4 weeks apart; at each the forecaster (cross-validated choice
among seasonal naive and the intermittent-demand models CrostonOptimized, CrostonSBA, ADIDA,
IMAPA, TSB; statsforecast's conformal intervals) sees only the weeks before it and forecasts
the next 4, which score it. AutoETS and AutoARIMA are left out to keep the run short on a
shared machine (on weekly product series they are rarely chosen). Prints, per subset (the
products making 80 % of revenue before the first origin, and all), the coverage of the 80 %
interval, the share of held-out weeks with no demand (a floor for the coverage of any interval
holding 0) and the MASE of the automatic choice relative to seasonal naive.

    shoplens --warehouse or.duckdb ingest --preset online-retail ../shared/data/online_retail/online_retail.csv.gz
    python bench/demand_intervals.py or.duckdb --origins 2
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from shoplens.demand.evaluate import _scale, head_keys
from shoplens.demand.forecast import DemandForecaster, _to_nixtla
from shoplens.demand.series import demand_series
from shoplens.store.warehouse import Warehouse

MODELS = ("SeasonalNaive", "CrostonOptimized", "CrostonSBA", "ADIDA", "IMAPA", "TSB")


def run(path: str, origins: int, horizon: int = 4) -> pd.DataFrame:
    """Scored forecast points of every origin."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    with Warehouse(path, read_only=True) as wh:
        series = demand_series(wh, freq="week", level="product")
    full = _to_nixtla(series, "units")
    periods = np.sort(series["period_start"].unique())
    cutoffs = [pd.Timestamp(periods[len(periods) - horizon * (i + 1)]) for i in reversed(range(origins))]
    head = head_keys(series, cutoffs[0])
    points = []
    for cutoff in cutoffs:
        started = time.time()
        train = series[series["period_start"] < cutoff]
        train = train[train["key"].isin(train.loc[train["units"] > 0, "key"].unique())]
        f = DemandForecaster(freq="week", horizon=horizon, n_jobs=1, models=MODELS).fit(train)
        out = f.predict().rename(columns={"key": "unique_id", "period_start": "ds"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            naive = StatsForecast(models=[SeasonalNaive(season_length=f.season_length_)], freq="W-MON").forecast(
                df=f.history_, h=horizon)
        out = out.merge(naive, on=["unique_id", "ds"]).merge(full, on=["unique_id", "ds"], how="left")
        out["y"] = out["y"].fillna(0.0)
        out["scale"] = out["unique_id"].map(_scale(f.history_, f.season_length_))
        out["covered"] = (out["y"] >= out["lo80"] - 1e-9) & (out["y"] <= out["hi80"] + 1e-9)
        out["e_auto"] = (out["y"] - out["forecast"]).abs()
        out["e_naive"] = (out["y"] - out["SeasonalNaive"].clip(lower=0)).abs()
        out["head"], out["cutoff"] = out["unique_id"].isin(head), cutoff
        points.append(out)
        print(f"origin {cutoff.date()}: {time.time() - started:.0f} s", flush=True)
    return pd.concat(points, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse")
    parser.add_argument("--origins", type=int, default=2)
    args = parser.parse_args()
    p = run(args.warehouse, args.origins)
    print("| subset | products | 80 % coverage | weeks without demand | MASE vs seasonal naive |")
    print("|---|---:|---:|---:|---:|")
    for name, part in (("head (80 % of revenue)", p[p["head"]]), ("all series", p)):
        per = part.groupby(["unique_id", "cutoff"]).agg(a=("e_auto", "mean"), s=("e_naive", "mean"),
                                                        sc=("scale", "first"))
        per = per[per["sc"] > 0]
        ratio = (per["a"] / per["sc"]).mean() / (per["s"] / per["sc"]).mean()
        print(f"| {name} | {part['unique_id'].nunique():,} | {part['covered'].mean():.1%} | "
              f"{(part['y'] == 0).mean():.1%} | {ratio:.3f} |")
    print("models chosen (series x weeks):", p["model"].value_counts().to_dict())


if __name__ == "__main__":
    main()

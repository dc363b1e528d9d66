"""``shoplens demand forecast|evaluate|reorder|trends``: thin wrappers over
:mod:`shoplens.demand.service`.

    shoplens demand forecast --until 2011-09-01 --horizon 4 --freq week --output forecast.csv
    shoplens demand evaluate --horizon 4 --origins 3 --json
    shoplens demand reorder --lead-time-days 14 --service-level 0.95
    shoplens demand trends --level category --weeks 26
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json
from shoplens.errors import InputFileError, UserInputError

demand_app = typer.Typer(help="Demand forecasts, inventory advice and market trends per product and category.",
                         no_args_is_help=True)

UntilOpt = Annotated[Optional[str], typer.Option(
    "--until", help="use orders before this date (YYYY-MM-DD); default: the day after the last order",
    show_default=False)]
FreqOpt = Annotated[str, typer.Option("--freq", help="period of the series: day or week (weeks start on Monday)")]
LevelOpt = Annotated[str, typer.Option("--level", help="series per product or per category")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]


@contextmanager
def _progress(enabled: bool) -> Iterator:
    """A Rich progress bar fed by the service's ``progress(stage, fraction)`` callback."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("[bold]demand"), BarColumn(), TextColumn("{task.fields[stage]}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("demand", total=1.0, stage="")
        yield lambda stage, frac: bar.update(task, completed=frac, stage=escape(stage))


@demand_app.command("forecast")
def forecast_cmd(
    ctx: typer.Context,
    until: UntilOpt = None,
    horizon: Annotated[int, typer.Option("--horizon", help="periods to forecast")] = 4,
    freq: FreqOpt = "week",
    level: LevelOpt = "product",
    output: Annotated[Optional[Path], typer.Option(
        "--output", help="write key, period_start, forecast, lo80, hi80 (units) to this CSV", show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Forecast units with 80 % intervals for every product (or category) with sales before --until.

    A model is chosen per series by cross-validation among seasonal naive, AutoETS,
    AutoARIMA, Croston SBA, ADIDA, IMAPA and TSB. Results go to the warehouse table
    `demand_forecast`; `--output` also writes them as CSV. An --until before the day after the
    last order forecasts periods already sold: a backtest, written to `eval_demand_forecast` only
    (the served forecast and model stay; JSON `evaluation`, `table`).
    """
    from shoplens.demand.service import contract_frame, forecast_demand
    from shoplens.store.files import write_export

    if output is not None and output.exists() and output.is_dir():
        raise InputFileError(str(output), "is a folder", hint="give a file name such as forecast.csv")
    if output is not None and not output.parent.exists():
        raise InputFileError(str(output), "its folder does not exist", hint="create the folder or choose another path")
    with open_warehouse(ctx) as wh, _progress(not json_out) as progress:
        result = forecast_demand(wh, until=until, horizon=horizon, freq=freq, level=level, progress=progress)
        if output is not None:  # owner-only, recorded as a shoplens file holding no customer data
            write_export(wh, output, contract_frame(result.forecast), kind="forecast", names_customers=False)
    summary = result.summary() | {"output": str(output) if output else None}
    if json_out:
        print_json(summary)
        return
    console.print(f"Forecast {summary['series']:,} {level} series x {horizon} {freq}(s) from {summary['first_period']}"
                  f" (orders before {summary['until']}); models: "
                  + ", ".join(f"{k} {v:,}" for k, v in summary["models"].items()))
    totals = result.forecast.groupby("key")["forecast"].sum().nlargest(10)
    rank = {key: i for i, key in enumerate(totals.index)}  # largest first, as the title says
    shown = result.forecast[result.forecast["key"].isin(rank)].assign(
        period_start=lambda f: f["period_start"].dt.date, _rank=lambda f: f["key"].map(rank)
    ).sort_values(["_rank", "period_start"]).drop(columns="_rank")
    console.print(frame_table(shown, title="Largest forecasts (units)", max_rows=40))
    if output:
        console.print(f"Wrote {len(result.forecast):,} rows to {escape(str(output))}")


@demand_app.command("evaluate")
def evaluate_cmd(
    ctx: typer.Context,
    until: UntilOpt = None,
    horizon: Annotated[int, typer.Option("--horizon", help="periods forecast from each origin")] = 4,
    freq: FreqOpt = "week",
    level: LevelOpt = "product",
    origins: Annotated[int, typer.Option("--origins", help="rolling origins, `horizon` periods apart")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """Rolling-origin backtest: MASE, sMAPE and 80 % interval coverage per model vs seasonal naive.

    Written to the warehouse table `eval_demand_backtest` (an evaluation report: the served
    forecast and models are left as they are).
    """
    from shoplens.demand.service import evaluate_demand

    with open_warehouse(ctx) as wh, _progress(not json_out) as progress:
        summary = evaluate_demand(wh, until=until, horizon=horizon, freq=freq, level=level, origins=origins,
                                  progress=progress)
    from shoplens.demand.evaluate import verdict

    if json_out:
        print_json({"freq": freq, "level": level, "horizon": horizon, "origins": origins,
                    "verdict": verdict(summary), "results": summary.to_dict("records")})
        return
    console.print(frame_table(summary, title=f"Backtest: {origins} origin(s) x {horizon} {freq}(s), {level} level"))
    for line in verdict(summary):
        console.print(escape(line))


def _read_stock(path: Path):  # -> pd.DataFrame
    import pandas as pd

    if not path.is_file():
        raise InputFileError(str(path), "file not found", hint="give a CSV with columns product_id,on_hand")
    try:
        stock = pd.read_csv(path, dtype={"product_id": str})
    except Exception as exc:
        raise InputFileError(str(path), f"not a readable CSV ({exc})") from None
    missing = {"product_id", "on_hand"} - set(stock.columns)
    if missing:
        raise InputFileError(str(path), f"missing column(s) {', '.join(sorted(missing))}",
                             hint="the stock file needs columns product_id,on_hand")
    bad = pd.to_numeric(stock["on_hand"], errors="coerce").isna()
    if bad.any():
        line = int(bad.idxmax()) + 2
        raise InputFileError(str(path), "on_hand is not a number", line=line, column="on_hand")
    return stock.assign(on_hand=pd.to_numeric(stock["on_hand"]))


@demand_app.command("reorder")
def reorder_cmd(
    ctx: typer.Context,
    until: UntilOpt = None,
    lead_time_days: Annotated[float, typer.Option("--lead-time-days", help="days from ordering to stock on the shelf")] = 14,
    service_level: Annotated[float, typer.Option("--service-level", help="chance of no stock-out per cycle, e.g. 0.95")] = 0.95,
    cover_days: Annotated[float, typer.Option("--cover-days", help="days of demand one order covers (without --order-cost)")] = 28,
    order_cost: Annotated[Optional[float], typer.Option("--order-cost", help="fixed cost per order, for the economic order quantity", show_default=False)] = None,
    holding_rate: Annotated[Optional[float], typer.Option("--holding-rate", help="yearly holding cost as a share of unit cost, e.g. 0.25", show_default=False)] = None,
    stock: Annotated[Optional[Path], typer.Option("--stock", help="CSV product_id,on_hand: say what to order now", show_default=False)] = None,
    freq: FreqOpt = "week",
    limit: Annotated[int, typer.Option("--limit", help="rows shown in the table")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Reorder point, order quantity, expected stock-outs and excess stock per product.

    Built on a fresh product forecast; written to the warehouse table `demand_reorder`.
    """
    from shoplens.demand.service import coverage_sentence, measured_coverage, reorder_demand

    stock_frame = _read_stock(stock) if stock is not None else None
    if freq not in ("day", "week"):
        raise UserInputError(f"--freq {freq!r}: choose day or week")
    with open_warehouse(ctx) as wh, _progress(not json_out) as progress:
        advice = reorder_demand(wh, until=until, freq=freq, lead_time_days=lead_time_days,
                                service_level=service_level, cover_days=cover_days, order_cost=order_cost,
                                holding_rate=holding_rate, stock=stock_frame, progress=progress)
        coverage = measured_coverage(wh, freq)
    if json_out:
        print_json({"lead_time_days": lead_time_days, "service_level": service_level, "products": len(advice),
                    "interval_coverage": coverage, "rests_on": coverage_sentence(coverage),
                    "advice": advice.to_dict("records")})
        return
    cols = ["product_id", "name", "lead_time_demand", "safety_stock", "reorder_point", "order_quantity",
            "expected_short_per_cycle", "fill_rate", "expected_excess_at_arrival"]
    if "order_now" in advice.columns:
        cols += ["on_hand", "order_now"]
    console.print(frame_table(advice[cols], title=f"Reorder advice ({lead_time_days:g}-day lead time, "
                              f"{service_level:.0%} service level)", max_rows=limit))
    console.print(escape(coverage_sentence(coverage)))


@demand_app.command("trends")
def trends_cmd(
    ctx: typer.Context,
    until: UntilOpt = None,
    level: Annotated[str, typer.Option("--level", help="product or category")] = "category",
    weeks: Annotated[int, typer.Option("--weeks", help="full weeks before --until to test for a trend")] = 26,
    alpha: Annotated[float, typer.Option("--alpha", help="significance level of the Mann-Kendall test")] = 0.05,
    min_units: Annotated[float, typer.Option("--min-units", help="ignore keys selling fewer units in the window")] = 20,
    limit: Annotated[int, typer.Option("--limit", help="rows shown in the table")] = 25,
    json_out: JsonOpt = False,
) -> None:
    """Rising and falling products or categories (seasonality-adjusted), new-product ramp-up and review sentiment.

    Written to the warehouse table `demand_trends`.
    """
    from shoplens.demand.service import trends_demand

    with open_warehouse(ctx) as wh:
        trends = trends_demand(wh, level=level, until=until, weeks=weeks, alpha=alpha, min_units=min_units)
    if json_out:
        print_json({"level": level, "weeks": weeks, "counts": trends["trend"].value_counts().to_dict(),
                    "trends": trends.to_dict("records")})
        return
    cols = [c for c in ["key", "trend", "slope_pct_per_week", "p_value", "units", "units_change_pct",
                        "weeks_since_launch", "ramp_up_ratio", "negative_share_earlier", "negative_share_recent",
                        "complaints_rising_while_falling"] if c in trends.columns]
    console.print(frame_table(trends[cols], title=f"Market trends per {level}, last {weeks} weeks", max_rows=limit))


def register(app: typer.Typer) -> None:
    """Add ``shoplens demand ...`` to the main CLI."""
    app.add_typer(demand_app, name="demand")

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.errors import InputFileError, InsufficientDataError, UserInputError
from shoplens.store.warehouse import Warehouse

runner = CliRunner()


def run(wh_path, *args):
    return runner.invoke(app, ["--warehouse", str(wh_path), "demand", *args])


@pytest.fixture()
def shop_path(shop_wh):
    path = shop_wh.path
    shop_wh.close()
    return path


def test_forecast_contract_every_product_with_sales_before_date(shop_path, tmp_path):
    out = tmp_path / "f.csv"
    r = run(shop_path, "forecast", "--until", "2024-09-04", "--horizon", "3", "--freq", "week", "--output", str(out))
    assert r.exit_code == 0, r.output
    f = pd.read_csv(out, dtype={"key": str})
    assert list(f.columns) == ["key", "period_start", "forecast", "lo80", "hi80"]
    # P4 launched in week 32 (2024-08-12) and sold before the cut-off; all five products are there
    assert set(f["key"]) == {"P1", "P2", "P3", "P4", "P5"}
    assert (f.groupby("key").size() == 3).all()
    starts = pd.to_datetime(f["period_start"])
    assert (starts.dt.weekday == 0).all() and starts.min() == pd.Timestamp("2024-09-09")
    assert (f["lo80"] <= f["hi80"]).all()
    # "Largest forecasts" lists the products by their total forecast, largest first
    printed = [line.split("│")[1].strip() for line in r.output.splitlines()
               if line.startswith("│") and line.split("│")[1].strip() in set(f["key"])]
    order = list(dict.fromkeys(printed))
    totals = f.groupby("key")["forecast"].sum()
    assert order == sorted(order, key=lambda k: -totals[k]) and len(order) == 5


def test_forecast_json_day_category_and_warehouse_table(shop_path):
    r = run(shop_path, "forecast", "--until", "2024-06-01", "--horizon", "5", "--freq", "day", "--level", "category",
            "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["series"] == 2 and summary["rows"] == 10 and summary["first_period"] == "2024-06-01"
    from shoplens.store.warehouse import Warehouse

    # a cut-off before the last order forecasts weeks already sold: a backtest, in its own report
    assert summary["evaluation"] and summary["table"] == "eval_demand_forecast"
    with Warehouse(shop_path, read_only=True) as wh:
        assert wh.row_count("eval_demand_forecast") == 10
        assert set(wh.table("eval_demand_forecast")["key"]) == {"A", "B"}
        assert not wh.has_table("demand_forecast")


def test_forecast_dated_in_the_past_leaves_what_is_served(shop_path):
    """`forecast --until` (and `reorder`/`trends --until`) before the last order is a backtest: the served
    forecast, its model choice, reorder advice, trends and the promoted model stay as they were."""
    from tests.served_state import served_state

    summary = json.loads(run(shop_path, "forecast", "--horizon", "2", "--level", "category", "--json").stdout)
    assert not summary["evaluation"] and summary["table"] == "demand_forecast" and summary["model_version"] == 1
    assert run(shop_path, "reorder", "--json").exit_code == 0
    assert run(shop_path, "trends", "--level", "product", "--min-units", "5", "--json").exit_code == 0
    before = served_state(shop_path)
    assert {"demand_forecast", "demand_model_choice", "demand_reorder", "demand_trends",
            "model:demand_category_week"} <= set(before)
    for args in (["forecast", "--until", "2024-09-02", "--horizon", "2", "--level", "category", "--json"],
                 ["reorder", "--until", "2024-09-02", "--json"],
                 ["trends", "--level", "product", "--until", "2024-09-16", "--min-units", "5", "--json"]):
        r = run(shop_path, *args)
        assert r.exit_code == 0, r.output
    assert served_state(shop_path) == before
    with Warehouse(shop_path, read_only=True) as wh:
        for table in ("eval_demand_forecast", "eval_demand_model_choice", "eval_demand_reorder", "eval_demand_trends"):
            assert wh.row_count(table) > 0, table
        assert str(wh.table("eval_demand_forecast")["until"].max().date()) == "2024-09-02"
        versions = dict(wh.con.execute("SELECT name, count(*) FROM _models WHERE name LIKE 'demand_%' GROUP BY 1").fetchall())
    assert versions == {"demand_category_week": 1, "demand_product_week": 1}  # the backtests registered no model


def test_forecast_excludes_orders_on_and_after_until(shop_path, tmp_path):
    # P4 first sells in 2024-08-12's week: a cut-off before it must leave it out
    out = tmp_path / "f.csv"
    r = run(shop_path, "forecast", "--until", "2024-08-12", "--horizon", "1", "--output", str(out))
    assert r.exit_code == 0, r.output
    assert "P4" not in set(pd.read_csv(out)["key"])


def test_reorder_trends_evaluate_json(shop_path, tmp_path):
    stock = tmp_path / "stock.csv"
    stock.write_text("product_id,on_hand\nP1,0\nP2,100000\n")
    r = run(shop_path, "reorder", "--until", "2024-09-02", "--lead-time-days", "10", "--stock", str(stock), "--json")
    assert r.exit_code == 0, r.output
    advice = {a["product_id"]: a for a in json.loads(r.stdout)["advice"]}
    assert advice["P1"]["order_now"] > 0 and advice["P2"]["order_now"] == 0
    assert advice["P1"]["reorder_point"] >= advice["P1"]["lead_time_demand"]
    r = run(shop_path, "trends", "--level", "product", "--until", "2024-10-07", "--min-units", "5", "--json")
    assert r.exit_code == 0, r.output
    trends = {t["key"]: t["trend"] for t in json.loads(r.stdout)["trends"]}
    assert trends["P2"] == "rising" and trends["P5"] == "falling"
    # before any product backtest the advice says its coverage was not measured
    assert json.loads(run(shop_path, "reorder", "--until", "2024-09-02", "--json").stdout)["interval_coverage"] is None
    r = run(shop_path, "evaluate", "--level", "category", "--horizon", "2", "--origins", "2", "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    models = {row["model"] for row in body["results"]}
    assert {"auto", "SeasonalNaive"} <= models
    assert all("seasonal naive" in line and "80 % intervals covered" in line for line in body["verdict"])
    r = run(shop_path, "evaluate", "--until", "2024-09-02", "--level", "product", "--horizon", "2", "--origins", "2",
            "--json")
    auto_all = next(row for row in json.loads(r.stdout)["results"]
                    if row["model"] == "auto" and row["subset"] == "all series")
    # the reorder advice now states the coverage that backtest measured
    reorder = json.loads(run(shop_path, "reorder", "--until", "2024-09-02", "--json").stdout)
    assert reorder["interval_coverage"]["coverage80_all"] == pytest.approx(auto_all["coverage80"])
    assert f"{auto_all['coverage80']:.1%}" in reorder["rests_on"]
    assert reorder["advice"][0]["interval_coverage_backtest"] == pytest.approx(auto_all["coverage80"])


def test_user_mistakes_are_clear_errors(shop_path, tmp_path):
    cases = [
        (["forecast", "--until", "2024-13-01"], UserInputError, "YYYY-MM-DD"),
        (["forecast", "--freq", "month"], UserInputError, "day or week"),
        (["forecast", "--level", "brand"], UserInputError, "product or category"),
        (["forecast", "--horizon", "0"], UserInputError, "--horizon"),
        (["forecast", "--until", "2020-01-01"], InsufficientDataError, "no sales before"),
        (["forecast", "--output", str(tmp_path / "missing" / "f.csv")], InputFileError, "folder does not exist"),
        (["reorder", "--service-level", "1.2"], UserInputError, "service level"),
        (["reorder", "--stock", str(tmp_path / "nope.csv")], InputFileError, "not found"),
        (["trends", "--weeks", "2"], UserInputError, "--weeks"),
    ]
    for args, error, message in cases:
        r = run(shop_path, *args)
        assert isinstance(r.exception, error), (args, r.exception)
        assert message in str(r.exception)


def test_exit_code_2_and_one_line_without_traceback(shop_path):
    p = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "--warehouse", str(shop_path),
                        "demand", "forecast", "--until", "yesterday"], capture_output=True, text=True)
    assert p.returncode == 2
    assert "--until 'yesterday': not a date" in p.stderr and "Traceback" not in p.stderr


def test_demo_warehouse_category_forecast(demo_warehouse_path, tmp_path):
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, path)
    out = tmp_path / "c.csv"
    r = run(path, "forecast", "--until", "2011-10-03", "--horizon", "2", "--level", "category", "--output", str(out))
    assert r.exit_code == 0, r.output
    f = pd.read_csv(out)
    assert f["key"].nunique() == 11 and len(f) == 22
    assert set(f["period_start"]) == {"2011-10-03", "2011-10-10"}


def test_evaluate_leaves_the_served_forecast_and_model(shop_path):
    """A backtest writes its own report (eval_demand_backtest), never the forecast or a model."""
    from tests.served_state import served_state

    assert run(shop_path, "forecast", "--horizon", "2", "--json").exit_code == 0
    before = served_state(shop_path)
    assert "demand_forecast" in before and any(k.startswith("model:demand_") for k in before)
    r = run(shop_path, "evaluate", "--horizon", "2", "--origins", "2", "--json")
    assert r.exit_code == 0, r.output
    assert served_state(shop_path) == before
    with Warehouse(shop_path, read_only=True) as wh:
        assert wh.row_count("eval_demand_backtest") == len(json.loads(r.stdout)["results"])
        assert not wh.has_table("demand_backtest")

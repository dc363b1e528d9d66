"""Retraining what is stale or drifted, with the reasons recorded; the models/drift/retrain CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from shoplens.base import Model
from shoplens.cli import app
from shoplens.monitor import retrain as retrain_mod
from shoplens.store.registry import ModelRegistry


class MeanOrder(Model):
    def __init__(self, shrink: float = 0.0) -> None:
        self.shrink = shrink

    def fit(self, values: list[float]) -> "MeanOrder":
        self.mean_ = sum(values) / (len(values) + self.shrink)
        return self


def train_mean_order(wh) -> int:
    """A real trainer: average order line value over all current data (registers two models)."""
    values = [v for (v,) in wh.con.execute("SELECT quantity * unit_price FROM order_items").fetchall()]
    end = wh.con.execute("SELECT max(ordered_at) FROM orders").fetchone()[0]
    CALLS.append(1)
    ModelRegistry(wh).register("fresh_order", MeanOrder(1.0).fit(values), data_window=(None, end))
    return ModelRegistry(wh).register("mean_order", MeanOrder().fit(values), data_window=(None, end))


CALLS: list[int] = []


def test_stale_models_are_retrained_and_fresh_ones_kept(demo_wh):
    trainers = {"mean_order": train_mean_order, "fresh_order": train_mean_order}
    registry = ModelRegistry(demo_wh)
    registry.register("mean_order", MeanOrder().fit([1.0]), data_window=("2010-12-01", "2011-06-30"))
    end = demo_wh.con.execute("SELECT max(ordered_at) FROM orders").fetchone()[0]
    registry.register("fresh_order", MeanOrder().fit([1.0]), data_window=(None, end))

    assert any("new data" in r for r in retrain_mod.staleness(demo_wh, "mean_order"))
    assert retrain_mod.staleness(demo_wh, "fresh_order") == []
    decisions = {d["model"]: d for d in retrain_mod.retrain(demo_wh, trainers, if_stale=True)}
    assert decisions["mean_order"]["action"] == "retrained" and decisions["mean_order"]["new_version"] == 2
    assert decisions["fresh_order"]["action"] == "kept (fresh)"
    assert registry.promoted_version("mean_order") == 2
    log = demo_wh.query("SELECT model, stale, reasons, action FROM _retrain_log ORDER BY model")
    assert log["action"].tolist() == ["kept (fresh)", "retrained"]
    assert "new data" in json.loads(log.loc[log["model"] == "mean_order", "reasons"].iloc[0])[0]
    assert retrain_mod.staleness(demo_wh, "mean_order") == []  # retrained on all data: fresh now
    CALLS.clear()
    everything = {d["model"]: d for d in retrain_mod.retrain(demo_wh, trainers)}  # without --if-stale: all
    assert len(CALLS) == 1  # one trainer registering two models runs once
    assert everything["fresh_order"]["new_version"] == 3 and everything["mean_order"]["new_version"] == 3


def test_retrain_models_uses_the_capabilities_own_trainers(demo_wh):
    from shoplens import services
    from shoplens.customers.churn import fit_churn
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.segments import build_segments
    from shoplens.recs.service import train

    assert services.trainers() == {"recs": train, "churn": fit_churn, "customer_segments": build_segments,
                                   "clv_bgnbd": fit_clv, "clv_pareto_nbd": fit_clv, "clv_gamma_gamma": fit_clv}
    ModelRegistry(demo_wh).register("mean_order", MeanOrder().fit([1.0]), data_window=("2010-12-01", "2011-06-30"))
    CALLS.clear()
    decisions = services.retrain_models(demo_wh, if_stale=True, using={"mean_order": train_mean_order})
    assert [(d["model"], d["action"]) for d in decisions] == [("mean_order", "retrained")] and CALLS == [1]
    # a registered model with no trainer is reported, not retrained
    assert {d["action"] for d in services.retrain_models(demo_wh)} == {"no trainer"}


def test_drift_makes_a_model_stale(demo_wh):
    from shoplens.monitor.drift import check_drift, default_windows

    end = demo_wh.con.execute("SELECT max(ordered_at) FROM orders").fetchone()[0]
    ModelRegistry(demo_wh).register("mean_order", MeanOrder().fit([1.0]), data_window=(None, end))
    demo_wh.con.execute("UPDATE order_items SET quantity = quantity * 20 WHERE order_id IN "
                        "(SELECT order_id FROM orders WHERE ordered_at >= ?)", [default_windows(demo_wh).current_start])
    check_drift(demo_wh)
    reasons = retrain_mod.staleness(demo_wh, "mean_order")
    assert any(r.startswith("drift:") and "units" in r for r in reasons)


def test_models_cli(demo_warehouse_path, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    from shoplens.store.warehouse import Warehouse

    with Warehouse(path) as wh:
        for shrink in (0.0, 1.0):
            ModelRegistry(wh).register("basket", MeanOrder(shrink).fit([2.0]), metrics={"mae": shrink})
    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["-w", str(path), "models", "list", "--json"]).stdout)
    assert [(m["version"], m["status"]) for m in listed] == [(1, "archived"), (2, "promoted")]
    assert runner.invoke(app, ["-w", str(path), "models", "rollback", "basket"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["-w", str(path), "models", "list", "basket", "--json"]).stdout)
    assert [m["status"] for m in listed] == ["promoted", "archived"]
    assert runner.invoke(app, ["-w", str(path), "models", "promote", "basket", "2"]).exit_code == 0
    drift = json.loads(runner.invoke(app, ["-w", str(path), "drift", "--json"]).stdout)
    assert {c["feature"] for c in drift["checks"]} >= {"order_value", "units"}
    out = json.loads(runner.invoke(app, ["-w", str(path), "retrain", "--if-stale", "--json"]).stdout)
    basket = [d for d in out if d["model"] == "basket"][0]
    assert basket["action"] == "no trainer"
    # user mistakes: one line on stderr, exit code 2
    r = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "-w", str(path),
                        "models", "promote", "basket", "9"], capture_output=True, text=True)
    assert r.returncode == 2 and "no version 9" in r.stderr and "Traceback" not in r.stderr


def test_models_list_with_a_model_without_data_window(tmp_path):
    """Right after the demo a model has no data window (NaT): the table shows blanks, JSON nulls."""
    from shoplens.store.warehouse import Warehouse

    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        ModelRegistry(wh).register("segments", MeanOrder().fit([2.0]), data_window=(None, "2011-12-10"),
                                   metrics={"silhouette": float("nan")})
        ModelRegistry(wh).register("basket", MeanOrder().fit([2.0]))  # no window at all
    runner = CliRunner()
    table = runner.invoke(app, ["-w", str(path), "models", "list"])
    assert table.exit_code == 0, table.output
    assert "segments" in table.output and "NaT" not in table.output
    raw = runner.invoke(app, ["-w", str(path), "models", "list", "--json"]).stdout
    assert "NaT" not in raw and "NaN" not in raw
    listed = {m["name"]: m for m in json.loads(raw)}
    assert listed["segments"]["data_start"] is None and listed["segments"]["data_end"].startswith("2011-12-10")
    assert listed["basket"]["data_start"] is None and listed["basket"]["data_end"] is None
    assert json.loads(listed["segments"]["metrics"]) == {"silhouette": None}

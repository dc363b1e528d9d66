"""CLV: the CDNOW reproduction through the orders table, the CLI contract and the error paths."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.customers.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from shoplens.customers.clv import fit_clv
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse

PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def sig3(v: float) -> float:
    return float(f"{v:.3g}")


def test_cli_reproduces_published_cdnow_parameters(cdnow_warehouse_path: Path) -> None:
    result = CliRunner().invoke(app, ["-w", str(cdnow_warehouse_path), "customers", "clv", "--calibration-end",
                                      "1997-09-30", "--holdout-end", "1998-06-30", "--time-unit", "week", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"bgnbd", "pareto_nbd", "gamma_gamma", "holdout", "dropout", "evaluation", "table"}
    assert out["dropout"]["identified"] and out["dropout"]["identified_pareto_nbd"] and out["dropout"]["note"] is None
    assert out["dropout"]["p_alive_basis"] == "BG/NBD" and out["dropout"]["lr_bgnbd"] > 100
    for model, params in PUBLISHED.items():
        for name, value in params.items():
            assert sig3(out[model][name]) == sig3(value), (model, name, out[model][name])
    h = out["holdout"]
    assert set(h) == {"actual_total", "predicted_total_bgnbd", "predicted_total_pareto_nbd", "mae_bgnbd"}
    assert h["actual_total"] == 1882  # published holdout repeat transactions
    assert abs(h["predicted_total_bgnbd"] - 1653) < 5
    assert abs(h["predicted_total_pareto_nbd"] - 1666) < 5
    assert 0 < h["mae_bgnbd"] < 2


def test_fit_clv_writes_scores_and_registers_models(cdnow_warehouse_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(cdnow_warehouse_path, path)
    with Warehouse(path) as wh:
        served = fit_clv(wh, time_unit="week")  # all history: the served run
        assert served.table == "customer_clv" and not served.evaluation
        assert len(wh.table("customer_clv")) == 2357 and wh.table("customer_clv")["p_alive"].notna().all()
        assert ModelRegistry(wh).promoted_version("clv_bgnbd") == 1
        res = fit_clv(wh, calibration_end="1997-09-30", time_unit="week")  # an evaluation run
        assert res.evaluation and res.table == "eval_customer_clv"
        table = wh.table("eval_customer_clv")
        assert len(table) == 2357
        assert table["p_alive"].between(0, 1).all()
        assert (table["clv"] >= 0).all()
        # one-time buyers are alive with probability 1 under BG/NBD
        assert np.allclose(table.loc[table["frequency"] == 0, "p_alive"], 1.0)
        # a heavy, recent buyer is worth more than a one-time buyer
        assert table["clv"].max() > 20 * table.loc[table["frequency"] == 0, "clv"].median()
        assert res.holdout_end is not None and str(res.holdout_end) == "1998-06-30"  # defaults to the last purchase
        reg = ModelRegistry(wh)
        model = reg.load("clv_bgnbd")
        assert isinstance(model, BetaGeoModel)
        assert reg.list("clv_bgnbd")["version"].tolist() == [1]  # the evaluation registered nothing
        assert sig3(res.bgnbd.params_["r"]) == 0.243


def test_evaluation_run_leaves_served_table_and_models(cdnow_warehouse_path: Path, tmp_path: Path) -> None:
    """#16: `clv --calibration-end --holdout-end` replaced customer_clv (p_alive NaN) and promoted its models."""
    from tests.served_state import served_state

    path = tmp_path / "w.duckdb"
    shutil.copy(cdnow_warehouse_path, path)
    runner = CliRunner()
    assert runner.invoke(app, ["-w", str(path), "customers", "clv", "--json"]).exit_code == 0
    before = served_state(path)
    assert {"customer_clv", "model:clv_bgnbd", "model:clv_pareto_nbd", "model:clv_gamma_gamma"} <= set(before)
    for args in (["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"], ["--calibration-end", "1998-01-31"]):
        result = runner.invoke(app, ["-w", str(path), "customers", "clv", *args, "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["evaluation"] is True and out["table"] == "eval_customer_clv"
        assert served_state(path) == before
    with Warehouse(path, read_only=True) as wh:
        assert wh.query("SELECT max(calibration_end) AS c FROM eval_customer_clv")["c"].iloc[0].date().isoformat() == "1998-01-31"
        assert wh.query("SELECT kind FROM _computed WHERE name = 'eval_customer_clv'")["kind"].tolist() == ["evaluation"]
    text = runner.invoke(app, ["-w", str(path), "customers", "clv", "--calibration-end", "1997-09-30"])
    assert text.exit_code == 0 and "Evaluation run" in text.output and served_state(path) == before


def test_daily_time_unit_scales_rates(cdnow_warehouse_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(cdnow_warehouse_path, path)
    with Warehouse(path) as wh:
        week = fit_clv(wh, calibration_end="1997-09-30", holdout_end="1998-06-30", write=False, register=False)
        day = fit_clv(wh, calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit="day",
                      write=False, register=False)
    # alpha is a time scale: 7x larger in days; the shape parameters are unit-free
    assert day.bgnbd.params_["alpha"] == pytest.approx(7 * week.bgnbd.params_["alpha"], rel=1e-3)
    assert day.bgnbd.params_["r"] == pytest.approx(week.bgnbd.params_["r"], rel=1e-3)
    assert day.holdout["predicted_total_bgnbd"] == pytest.approx(week.holdout["predicted_total_bgnbd"], rel=1e-3)


def test_models_validate_inputs() -> None:
    with pytest.raises(UserInputError, match="recency"):
        BetaGeoModel().fit([1, 0], [5.0, 0.0], [3.0, 2.0])
    with pytest.raises(InsufficientDataError, match="repeat purchase"):
        BetaGeoModel().fit([0, 0, 0], [0.0, 0.0, 0.0], [3.0, 2.0, 5.0])
    with pytest.raises(InsufficientDataError):
        GammaGammaModel().fit([0, 1], [0.0, 10.0])


def test_pareto_expected_purchases_grow_with_horizon() -> None:
    m = ParetoNBDModel().fit([1, 0, 3, 2, 0, 5], [5.0, 0, 20, 12, 0, 28], [30.0, 30, 30, 25, 10, 30])
    short = m.expected_purchases(5, [3], [20.0], [30.0])
    long = m.expected_purchases(50, [3], [20.0], [30.0])
    assert 0 < short[0] < long[0]
    assert 0 < m.probability_alive([3], [20.0], [30.0])[0] <= 1


def test_clv_bad_dates_exit_2(cdnow_warehouse_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from shoplens.cli import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["shoplens", "-w", str(cdnow_warehouse_path), "customers", "clv", *args])
        with pytest.raises(SystemExit) as exc:
            main()
        return int(exc.value.code), capsys.readouterr().err

    code, err = run("--calibration-end", "1996-01-01", "--json")
    assert code == 2 and "calibration-end" in err and "Traceback" not in err
    code, err = run("--calibration-end", "1997-09-30", "--holdout-end", "1997-01-01")
    assert code == 2 and "must be after" in err


def test_clv_bad_date_exit_code_through_the_console_script(cdnow_warehouse_path: Path) -> None:
    code = "from shoplens.cli import main; main()"
    bad = subprocess.run([sys.executable, "-c", code, "-w", str(cdnow_warehouse_path), "customers", "clv",
                          "--calibration-end", "30/09/1997", "--json"], capture_output=True, text=True)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_empty_warehouse_is_a_clear_error(tmp_wh: Warehouse) -> None:
    with pytest.raises(InsufficientDataError, match="no purchases"):
        fit_clv(tmp_wh)


def test_time_unit_is_checked(cdnow_warehouse_path: Path) -> None:
    with Warehouse(cdnow_warehouse_path, read_only=True) as wh, pytest.raises(UserInputError, match="time-unit"):
        fit_clv(wh, calibration_end="1997-09-30", time_unit="month", write=False, register=False)  # type: ignore[arg-type]


def test_zero_values_do_not_break_gamma_gamma() -> None:
    m = GammaGammaModel().fit([1, 2, 3, 1, 4], [0.0, 10.0, 25.0, 12.0, 18.0])
    assert all(math.isfinite(v) for v in m.params_.values())


def test_profile_without_reviews_items_or_customers_table(cdnow_warehouse_path: Path, tmp_path: Path) -> None:
    """A shop with orders only (CDNOW) still gets RFM, CLV, churn, segments and a profile."""
    from shoplens.customers.profile import build_profile

    path = tmp_path / "w.duckdb"
    shutil.copy(cdnow_warehouse_path, path)
    with Warehouse(path) as wh:
        profile = build_profile(wh)
    assert len(profile) == 2357
    assert profile["next_best_action"].notna().all()
    assert profile["top_category"].isna().all() and profile["price_sensitivity"].isna().all()


def test_fit_on_sufficient_statistics_equals_per_customer_fit(cdnow_warehouse_path: Path) -> None:
    """The engine's GROUP BY rows (distinct tuples + customer counts) give the per-customer parameters."""
    from datetime import date

    from shoplens.customers.clv import rfm_summary, spend_statistics, sufficient_statistics

    cal = date(1997, 9, 30)
    with Warehouse(cdnow_warehouse_path, read_only=True) as wh:
        per_customer = rfm_summary(wh, cal)
        stats = sufficient_statistics(wh, cal)
        spend = spend_statistics(wh, cal)
    assert stats["customers"].sum() == len(per_customer) == 2357
    assert len(stats) < len(per_customer) / 2  # far fewer rows to evaluate
    x, t, T = (per_customer[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    sx, st, sT, sw = (stats[c].to_numpy(float) for c in ("frequency", "recency", "T", "customers"))
    for cls in (BetaGeoModel, ParetoNBDModel):
        full, agg = cls().fit(x, t, T), cls().fit(sx, st, sT, weights=sw)
        for k, v in full.params_.items():
            assert agg.params_[k] == pytest.approx(v, rel=1e-6), (cls.__name__, k)
        assert agg.n_customers_ == full.n_customers_ == 2357
        assert agg.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-9)
    gg_full = GammaGammaModel().fit(x, per_customer["monetary_value"].to_numpy(float))
    gg_agg = GammaGammaModel().fit(spend["frequency"], spend["monetary_value"], weights=spend["customers"])
    for k, v in gg_full.params_.items():
        assert gg_agg.params_[k] == pytest.approx(v, rel=1e-6), k
    with pytest.raises(UserInputError, match="weights"):
        BetaGeoModel().fit(sx, st, sT, weights=-sw)


def test_profile_as_of_an_earlier_date_is_a_look_back_that_serves_nothing(cdnow_warehouse_path: Path,
                                                                          tmp_path: Path) -> None:
    """`profile --as-of` an earlier date scores CLV (and RFM, segments, churn) as of that date, without
    a holdout, into eval_* reports it joins: the served tables and promoted models stay as they were."""
    from shoplens.customers.profile import build_profile
    from tests.served_state import served_state

    path = tmp_path / "w.duckdb"
    shutil.copy(cdnow_warehouse_path, path)
    with Warehouse(path) as wh:
        build_profile(wh)  # what is served: as of the latest data
    before = served_state(path)
    with Warehouse(path) as wh:
        profile = build_profile(wh, as_of="1998-01-01")
        clv = wh.table("eval_customer_clv")
        assert str(clv["calibration_end"].iloc[0].date()) == "1997-12-31" and "holdout_actual" not in clv
        assert profile["clv"].notna().any() and (profile["as_of"] == pd.Timestamp("1998-01-01")).all()
        assert (wh.table("eval_customer_rfm")["as_of"] == pd.Timestamp("1998-01-01")).all()
        assert wh.has_table("eval_customer_profile") and wh.has_table("eval_customer_churn")
    assert served_state(path) == before
    with Warehouse(path, read_only=True) as wh:
        assert ModelRegistry(wh).promoted_version("clv_bgnbd") == 1
    with pytest.raises(UserInputError, match="holdout"):
        with Warehouse(path, read_only=True) as wh:
            fit_clv(wh, calibration_end="1997-09-30", holdout_end="1998-01-01", holdout=False, write=False, register=False)


def test_dropout_is_tested_against_the_no_dropout_nbd(cdnow_warehouse_path: Path) -> None:
    """CDNOW shows dropout (p_alive is BG/NBD's); a history simulated without dropout does not."""
    with Warehouse(cdnow_warehouse_path, read_only=True) as wh:
        res = fit_clv(wh, calibration_end="1997-09-30", holdout_end="1998-06-30", write=False, register=False)
    c = res.customers
    assert res.bgnbd.dropout_identified_ and res.pareto_nbd.dropout_identified_
    assert np.allclose(c["p_alive"], res.bgnbd.probability_alive(c["frequency"], c["recency"], c["T"]))
    assert (c["p_alive_basis"] == "BG/NBD").all() and c["p_alive_pareto_nbd"].notna().all()
    # synthetic edge case: gamma-Poisson buyers who never leave, observed 52 weeks
    rng = np.random.default_rng(7)
    n, T = 3000, rng.uniform(10, 52, 3000)
    rates = rng.gamma(0.8, 1 / 8.0, n)
    times = [np.sort(rng.uniform(0, t, rng.poisson(lam * t))) for lam, t in zip(rates, T)]
    x = np.array([len(s) for s in times], float)
    t_x = np.array([s[-1] if len(s) else 0.0 for s in times])
    model = BetaGeoModel().fit(x, t_x, T)
    assert not model.dropout_identified_ and model.dropout_lr_ < 2.71
    assert not ParetoNBDModel().fit(x, t_x, T).dropout_identified_
    p0 = model.probability_no_purchase(13, x, t_x, T)
    assert ((0 < p0) & (p0 < 1)).all() and p0[x == 0].mean() > p0[x >= 5].mean()


@pytest.mark.parametrize("params", [(0.55, 10.6, 0.61, 11.7), (0.55, 12.0, 0.61, 10.0), (2.0, 5.0, 0.1, 30.0),
                                    (0.3, 20.0, 2.0, 4.0), (1.0, 1.0, 1.0, 1.0)])
def test_pareto_nbd_gradient_matches_the_likelihood(cdnow_warehouse_path: Path, params: tuple[float, ...]) -> None:
    """The fit's gradient (analytic, with 2F1's parameter derivatives on distinct pairs) is the likelihood's
    central-difference gradient, on both sides of alpha = beta (the two forms of Fader & Hardie's A0)."""
    from datetime import date

    from shoplens.customers.btyd import _compress
    from shoplens.customers.clv import rfm_summary

    with Warehouse(cdnow_warehouse_path, read_only=True) as wh:
        s = rfm_summary(wh, date(1997, 9, 30))
    (x, t_x, T), w = _compress(*(s[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    log_params = np.log(params)
    value, grad = ParetoNBDModel._neg_ll_and_grad(log_params, x, t_x, T, w, ParetoNBDModel._pairs(x, t_x, T))

    def mean_nll(lp: np.ndarray) -> float:
        return float(-(w @ ParetoNBDModel.log_likelihood(np.exp(lp), x, t_x, T)) / w.sum())

    assert value == pytest.approx(mean_nll(log_params), rel=1e-12)
    numeric = [(mean_nll(log_params + e) - mean_nll(log_params - e)) / 2e-6 for e in np.eye(4) * 1e-6]
    assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-7)

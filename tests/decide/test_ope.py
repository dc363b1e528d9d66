"""Off-policy evaluation: estimators, intervals, selection, the OBD validation and `decide ope`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.decide.obd import OBP_PUBLISHED, load_obd, run_obd_validation, summary_table
from shoplens.decide.ope import (ESTIMATORS, LoggedFeedback, estimate_all, logged_policy, read_logs,
                                 select_estimator, uniform_policy)
from shoplens.decide.simulate import OfferEnvironment

DATA = Path(__file__).parents[1] / "data" / "decide"
runner = CliRunner()


@pytest.fixture(scope="module")
def env():
    return OfferEnvironment.random(n_customers=2000, seed=1)


@pytest.fixture(scope="module")
def logs_csv(env, tmp_path_factory):
    path = tmp_path_factory.mktemp("ope") / "logs.csv"
    env.log_uniform(4000, seed=2).drop(columns=["customer_id"]).to_csv(path, index=False)
    return path


def test_on_policy_ipw_is_the_mean_reward(logs_csv):
    logs = read_logs(str(logs_csv))
    est = estimate_all(logs, uniform_policy(logs), n_bootstrap=100)
    mean = logs.reward.mean()
    assert est["ipw"]["value"] == pytest.approx(mean) and est["snipw"]["value"] == pytest.approx(mean)
    assert est["ipw"]["ci_low"] < mean < est["ipw"]["ci_high"]
    assert set(est) == set(ESTIMATORS)


def test_estimates_cover_the_true_value_of_a_different_policy(env, logs_csv):
    logs = read_logs(str(logs_csv))
    offers = list(logs.action_names)
    target = offers.index("10-percent-off")
    dist = np.full((len(logs), 4), 0.1)
    dist[:, target] = 0.7  # a policy favouring one offer
    env_dist = np.full(4, 0.1)
    env_dist[list(env.offers).index("10-percent-off")] = 0.7
    truth = env.true_value(lambda c: np.tile(env_dist, (len(c), 1)))
    est = estimate_all(logs, dist, n_bootstrap=200)
    for name in ("ipw", "snipw", "dr", "sndr"):
        assert est[name]["ci_low"] < truth < est[name]["ci_high"], name
    assert abs(est["dr"]["value"] - truth) < 0.02


def test_plain_ipw_is_not_clipped():
    logs = LoggedFeedback(np.array([0, 1]), np.array([1.0, 0.0]), np.array([0.001, 0.999]), 2)
    est = estimate_all(logs, np.array([[1.0, 0.0], [1.0, 0.0]]), n_bootstrap=10, tau=10)
    assert est["ipw"]["value"] == pytest.approx(500.0)  # (1/0.001 * 1 + 0) / 2
    assert est["ipw_clip"]["value"] == pytest.approx(5.0)


def test_selection_prefers_the_narrowest_consistent_interval():
    est = {"ipw": {"value": 0.5, "ci_low": 0.2, "ci_high": 0.8}, "dr": {"value": 0.45, "ci_low": 0.35, "ci_high": 0.55},
           "dm": {"value": 0.9, "ci_low": 0.89, "ci_high": 0.91}}
    choice = select_estimator(est)
    assert choice["selected"] == "dr" and "dm" not in choice["reason"].split("(")[-1]
    est["dm"] = {"value": 0.5, "ci_low": 0.49, "ci_high": 0.51}
    assert select_estimator(est)["selected"] == "dm"
    est["dm"] = {"value": 0.56, "ci_low": 0.55, "ci_high": 0.57}  # overlaps dr's interval but lies outside it
    assert select_estimator(est)["selected"] == "dr"


def test_logged_policy_distribution_is_consistent(logs_csv):
    logs = read_logs(str(logs_csv))
    dist = logged_policy(logs)
    assert np.allclose(dist.sum(axis=1), 1.0)
    assert np.allclose(dist[np.arange(len(logs)), logs.action], logs.propensity)


def test_read_logs_errors_point_at_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("action,reward,propensity\na,1,0.5\nb,0,0\n")
    with pytest.raises(ValueError, match="line 3.*propensity"):
        read_logs(str(bad))
    missing = tmp_path / "missing.csv"
    missing.write_text("action,reward\na,1\n")
    with pytest.raises(ValueError, match="missing column"):
        read_logs(str(missing))


# -- Open Bandit Dataset (bundled sample) -----------------------------------------------------
@pytest.fixture(scope="module")
def obd_results():
    return run_obd_validation(DATA, n_bootstrap=200)  # as in docs/decisions.md


def test_obd_sample_loads_with_positions():
    logs = load_obd(DATA, "bts")
    assert len(logs) == 10_000 and logs.n_actions == 80 and set(np.unique(logs.position)) == {0, 1, 2}
    assert logs.propensity.min() < 1e-3  # the tiny propensities that make IPW explode


def test_obd_relative_errors(obd_results):
    table = summary_table(obd_results).set_index("estimator")
    # measured on the bundled sample (docs/decisions.md); DM and the selected estimator beat IPW clearly
    assert table.loc["dm", "relative_error"] < 0.15
    selected = table.index[table.index.str.startswith("selected")][0]
    assert table.loc[selected, "relative_error"] < 0.15
    assert table.loc["ipw", "relative_error"] > table.loc["dm", "relative_error"]
    assert table.loc["ipw", "obp_published"] == OBP_PUBLISHED["ipw"]
    truth = obd_results.groupby("evaluation")["ground_truth"].first()
    assert truth.to_dict() == {"uniform from BTS logs": 0.0038, "BTS from random logs": 0.0042}


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_ope_json_shape(logs_csv):
    res = runner.invoke(app, ["decide", "ope", "--logs", str(logs_csv), "--policy", "uniform", "--bootstrap", "50",
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"ipw", "snipw", "dm", "dr", "sndr", "switch_dr", "dr_os"} <= set(out["estimates"])
    assert set(out["estimates"]["ipw"]) >= {"value", "ci_low", "ci_high"}
    assert out["selected"] in out["estimates"]


def test_cli_ope_uniform_over_more_actions_than_logged(tmp_path):
    path = tmp_path / "logs.csv"
    pd.DataFrame({"action": ["a", "b"] * 50, "reward": [1.0, 0.0] * 50, "propensity": [0.5] * 100}).to_csv(path, index=False)
    out = json.loads(runner.invoke(app, ["decide", "ope", "--logs", str(path), "--policy", "uniform",
                                         "--n-actions", "4", "--bootstrap", "20", "--json"]).output)
    # pi(a)=1/4 for the logged actions: ipw = mean(0.25/0.5 * r) = 0.25
    assert out["estimates"]["ipw"]["value"] == pytest.approx(0.25)


def test_cli_ope_logged_policy(logs_csv):
    out = json.loads(runner.invoke(app, ["decide", "ope", "--logs", str(logs_csv), "--policy", "logged",
                                         "--bootstrap", "20", "--json"]).output)
    assert out["estimates"]["ipw"]["value"] == pytest.approx(pd.read_csv(logs_csv)["reward"].mean())


@pytest.mark.parametrize("args, message", [
    (["--policy", "uniform", "--n-actions", "2"], "smaller than the 4 distinct actions"),
    (["--policy", "nonexistent.pkl"], "model file not found"),
])
def test_cli_ope_user_errors_exit_2(logs_csv, args, message):
    proc = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "decide", "ope",
                           "--logs", str(logs_csv), *args, "--json"], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_bootstrap_shortcut_for_repeated_rows_matches_row_resampling():
    from shoplens.decide.ope import bootstrap_means

    rng = np.random.default_rng(0)
    n = 4000
    repeated = {"a": (rng.random(n) < 0.3).astype(float), "b": rng.integers(0, 3, n).astype(float)}
    distinct = dict(repeated, c=rng.random(n))  # one distinct column forces plain row resampling
    fast, slow = bootstrap_means(repeated, 1000, 1), bootstrap_means(distinct, 1000, 1)
    se = np.sqrt(0.3 * 0.7 / n)
    assert np.std(fast["a"]) == pytest.approx(se, rel=0.1) and np.std(slow["a"]) == pytest.approx(se, rel=0.1)
    assert np.mean(fast["b"]) == pytest.approx(repeated["b"].mean(), abs=3 * se)


def test_cli_ope_with_a_saved_bandit(logs_csv, tmp_path):
    from shoplens.decide.policies import LinUCB

    frame = pd.read_csv(logs_csv)
    policy = LinUCB(seed=0)
    context_cols = ["recency_days", "orders", "log_spend"]
    for row in frame.head(1500).itertuples(index=False):
        policy.update({c: getattr(row, c) for c in context_cols}, row.action, row.reward)
    path = policy.save(tmp_path / "bandit.pkl")
    out = json.loads(runner.invoke(app, ["decide", "ope", "--logs", str(logs_csv), "--policy", str(path),
                                         "--bootstrap", "30", "--json"]).output)
    uniform = json.loads(runner.invoke(app, ["decide", "ope", "--logs", str(logs_csv), "--policy", "uniform",
                                             "--bootstrap", "30", "--json"]).output)
    assert out["estimates"]["dr"]["value"] > uniform["estimates"]["dr"]["value"]

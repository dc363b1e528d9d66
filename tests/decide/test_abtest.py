"""A/B statistics: GrowthBook gbstats' published test vectors (5 decimals), CUPED, SRM,
corrections, assignment, and the `shoplens ab` CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.decide import abtest
from shoplens.decide.abtest import VariantStats, bayesian_test, frequentist_test, sequential_test

A = VariantStats("A", n=3407, sum=1396.87, sum_squares=52377.9767)
B = VariantStats("B", n=3461, sum=2422.7, sum_squares=134698.29)
runner = CliRunner()


def r5(x):
    return round(float(x), 5)


# -- gbstats vectors (packages/stats/tests/frequentist/test_tests.py, bayesian/test_tests.py) ------
def test_gbstats_two_sided_ttest_relative():
    r = frequentist_test(A, B, difference="relative")
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.p_value)) == (
        0.70732, [-0.03526, 1.44989], 0.37879, 0.06191)


def test_gbstats_two_sided_ttest_absolute():
    r = frequentist_test(A, B, difference="absolute")
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.p_value)) == (
        0.29, [0.04538, 0.53462], 0.12478, 0.02016)


def test_gbstats_two_sided_ttest_binomial():
    r = frequentist_test(VariantStats("a", 28, 14), VariantStats("b", 30, 16))
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.p_value)) == (
        0.06667, [-0.47767, 0.61101], 0.2717, 0.80707)


def test_gbstats_sequential_mean_with_tuning():
    a = VariantStats("A", n=3000, sum=1396.87, sum_squares=52377.9767)
    r = sequential_test(a, B, tuning=1000)
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev)) == (0.50336, [-0.55844, 1.56516], 0.33341)


def test_gbstats_sequential_proportion():
    r = sequential_test(VariantStats("A", 3000, 1396), VariantStats("B", 3461, 2422))
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.p_value)) == (
        0.50386, [0.40098, 0.60675], 0.03386, 0.0)


def test_gbstats_bayesian_binomial():
    r = bayesian_test(VariantStats("a", 100, 49), VariantStats("b", 100, 51))
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.chance_to_win), [r5(x) for x in r.risk]) == (
        0.04082, [-0.24779, 0.32943], 0.14725, 0.60918, [0.0814, 0.04058])


def test_gbstats_bayesian_normal():
    r = bayesian_test(VariantStats("a", 10, 100, 1002.25), VariantStats("b", 10, 105, 1111.5))
    assert (r5(r.effect), [r5(x) for x in r.ci], r5(r.stddev), r5(r.chance_to_win), [r5(x) for x in r.risk]) == (
        0.05, [-0.02, 0.12], 0.03572, 0.91923, [0.05131, 0.00131])


def test_gbstats_missing_variance_gives_default_output():
    r = frequentist_test(VariantStats("A", 1, 3.0, 9.0), B)
    assert (r.effect, r.ci, r.p_value) == (0.0, (0.0, 0.0), 1.0) and r.error


def test_bayesian_informative_prior_shrinks_towards_prior_mean():
    flat = bayesian_test(A, B)
    tight = bayesian_test(A, B, prior_mean=0.0, prior_variance=0.01)
    assert abs(tight.effect) < abs(flat.effect) and tight.stddev < flat.stddev


def test_sequential_interval_is_wider_than_fixed_horizon():
    fixed, seq = frequentist_test(A, B), sequential_test(A, B)
    assert seq.ci[0] < fixed.ci[0] and seq.ci[1] > fixed.ci[1]


def test_sequential_tuning_must_be_positive():
    with pytest.raises(ValueError, match="tuning"):
        sequential_test(A, B, tuning=0)


# -- SRM, corrections, CUPED, assignment -----------------------------------------------------
def test_srm_alarms_only_on_real_mismatch():
    assert not abtest.srm_check([5000, 5050])["alarm"]
    assert abtest.srm_check([5000, 5400])["alarm"]
    assert abtest.srm_check([2000, 8000], weights=[0.2, 0.8])["p_value"] == pytest.approx(1.0)


def test_holm_and_bh_match_the_textbook():
    p = [0.01, 0.04, 0.03, None]
    holm = abtest.adjust_p_values(p, "holm")
    bh = abtest.adjust_p_values(p, "bh")
    assert holm[:3] == pytest.approx([0.03, 0.06, 0.06]) and holm[3] is None
    assert bh[:3] == pytest.approx([0.03, 0.04, 0.04])
    with pytest.raises(ValueError):
        abtest.adjust_p_values(p, "bonferonni")


def _units(n=4000, effect=0.0, seed=0):
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 50.0, n)
    variant = np.where(rng.random(n) < 0.5, "control", "treatment")
    metric = 0.8 * pre + rng.normal(0, 20, n) + np.where(variant == "treatment", effect, 0.0)
    return pd.DataFrame({"variant": variant, "metric": metric, "pre_metric": pre,
                         "country": np.where(rng.random(n) < 0.5, "UK", "FR")})


def test_cuped_shrinks_the_interval_and_keeps_the_effect():
    units = _units(effect=5.0)
    plain = abtest.analyze_units(units, difference="absolute", baseline="control").variants[1]
    cuped_res = abtest.analyze_units(units, covariates=["pre_metric"], difference="absolute", baseline="control")
    cuped = cuped_res.variants[1]
    assert cuped["ci"][1] - cuped["ci"][0] < 0.5 * (plain["ci"][1] - plain["ci"][0])
    assert abs(cuped["effect"] - 5.0) < 3 * cuped["stddev"]
    assert cuped_res.cuped["variance_reduction"] > 0.5
    covered = [abtest.analyze_units(_units(effect=5.0, seed=s), covariates=["pre_metric"], difference="absolute",
                                    baseline="control").variants[1]["ci"] for s in range(1, 21)]
    assert sum(lo < 5.0 < hi for lo, hi in covered) >= 17  # ~95 % coverage


def test_cuped_with_several_covariates():
    units = _units().assign(noise=np.random.default_rng(3).normal(size=4000))
    res = abtest.analyze_units(units, covariates=["pre_metric", "noise"])
    assert len(res.cuped["theta"]) == 2


def test_segments_and_corrections_are_reported():
    res = abtest.analyze_units(_units(), segment="country", correction="holm")
    assert set(res.segments) == {"FR", "UK"}
    assert all("p_value_adjusted" in seg["variants"][1] for seg in res.segments.values())


def test_unit_analysis_errors_name_the_column():
    with pytest.raises(ValueError, match="'revenue' not found"):
        abtest.analyze_units(_units(), metric="revenue")
    bad = _units().astype({"metric": object})
    bad.loc[3, "metric"] = "n/a"
    with pytest.raises(ValueError, match="row 5"):
        abtest.analyze_units(bad)


def test_assignment_is_deterministic_balanced_and_matches_sql(tmp_wh):
    ids = [str(i) for i in range(4000)]
    first = [abtest.assign(i, ["a", "b"], salt="exp") for i in ids]
    assert first == [abtest.assign(i, ["a", "b"], salt="exp") for i in ids]
    assert abs(first.count("a") / len(ids) - 0.5) < 0.03
    assert first != [abtest.assign(i, ["a", "b"], salt="other") for i in ids]
    sql = abtest.assignment_sql("id", ["a", "b"], salt="exp")
    from_sql = tmp_wh.con.execute(f"SELECT {sql} FROM (SELECT unnest(?) AS id) t", [ids]).fetchall()
    assert [r[0] for r in from_sql] == first
    skewed = [abtest.assign(i, ["a", "b"], salt="exp", weights=[0.9, 0.1]) for i in ids]
    assert skewed.count("a") / len(ids) > 0.85


def test_baseline_must_exist():
    with pytest.raises(ValueError, match="baseline 'Z'"):
        abtest.analyze_stats([A, B], baseline="Z")


# -- CLI ------------------------------------------------------------------------------------------
@pytest.fixture()
def summary_csv(tmp_path):
    path = tmp_path / "sums.csv"
    path.write_text("variant,n,sum,sum_squares\nA,3407,1396.87,52377.9767\nB,3461,2422.7,134698.29\n")
    return path


def test_cli_summary_json_shape_and_values(summary_csv):
    res = runner.invoke(app, ["ab", "analyze", "--summary", str(summary_csv), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["baseline"] == "A" and set(out["srm"]) >= {"p_value", "alarm"}
    b = out["variants"][1]
    assert set(b) >= {"variant", "n", "mean", "effect", "ci", "p_value", "chance_to_win", "risk"}
    assert (r5(b["effect"]), [r5(x) for x in b["ci"]], r5(b["p_value"])) == (0.70732, [-0.03526, 1.44989], 0.06191)


def test_cli_summary_baseline_absolute_and_bayesian(summary_csv):
    res = runner.invoke(app, ["ab", "analyze", "--summary", str(summary_csv), "--baseline", "B",
                              "--difference", "absolute", "--method", "bayesian", "--json"])
    out = json.loads(res.output)
    a = out["variants"][1]
    assert out["baseline"] == "B" and a["variant"] == "A" and r5(a["effect"]) == -0.29
    assert 0 < a["chance_to_win"] < 0.05 and a["risk"] > 0


def test_cli_proportions_without_sum_squares(tmp_path):
    path = tmp_path / "conv.csv"
    path.write_text("variant,n,sum\ncontrol,28,14\nnew,30,16\n")
    out = json.loads(runner.invoke(app, ["ab", "analyze", "--summary", str(path), "--json"]).output)
    assert r5(out["variants"][1]["p_value"]) == 0.80707


def test_cli_unit_level_applies_cuped(tmp_path):
    path = tmp_path / "units.csv"
    _units(effect=5.0).to_csv(path, index=False)
    res = runner.invoke(app, ["ab", "analyze", str(path), "--json"])
    out = json.loads(res.output)
    assert res.exit_code == 0 and out["cuped"]["variance_reduction"] > 0.5
    assert out["variants"][0]["variant"] == pd.read_csv(path)["variant"].iloc[0]


def test_cli_sequential_method(summary_csv):
    out = json.loads(runner.invoke(app, ["ab", "analyze", "--summary", str(summary_csv), "--method", "sequential",
                                         "--json"]).output)
    assert out["method"] == "sequential" and out["variants"][1]["p_value"] is not None


@pytest.mark.parametrize("args, message", [
    (["--summary", "missing.csv"], "file not found"),
    (["--difference", "ratio"], "--difference"),
    (["--method", "magic"], "--method"),
    ([], "either a unit-level FILE or --summary"),
])
def test_cli_user_errors_exit_2(summary_csv, args, message):
    if "--summary" not in args and args:
        args = ["--summary", str(summary_csv), *args]
    res = runner.invoke(app, ["ab", "analyze", *args, "--json"])
    assert res.exit_code != 0
    assert message in str(res.exception) or message in res.output


def test_cli_missing_columns_through_main_exit_2(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "bad.csv"
    path.write_text("group,n\nA,10\n")
    proc = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "ab", "analyze",
                           "--summary", str(path), "--json"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "missing column(s) variant, sum" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_assign_units_that_are_not_customers(tmp_path):
    out = json.loads(runner.invoke(app, ["ab", "assign", "s-1", "s-2", "--experiment", "e1", "--consent", "none",
                                         "--json"]).output)
    assert out == {"assignments": {u: abtest.assign(u, ["control", "treatment"], salt="e1") for u in ("s-1", "s-2")},
                   "not_assigned": {}}


def test_cli_assign_needs_marketing_consent(demo_warehouse_path, tmp_path):
    """Regression (#16, #25): a campaign assignment reached customers without marketing consent."""
    import shutil

    from shoplens.privacy.ids import to_external
    from shoplens.store.warehouse import Warehouse

    path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, path)
    with Warehouse(path, read_only=True) as wh:
        yes, no = (to_external(wh, wh.query(
            "SELECT customer_id FROM customers WHERE consent_marketing = ? ORDER BY 1 LIMIT 1", [flag])["customer_id"]
            .tolist())[0] for flag in (True, False))
    res = runner.invoke(app, ["-w", str(path), "ab", "assign", yes, no, "not-a-customer", "--experiment", "spring",
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["assignments"] == {yes: abtest.assign(yes, ["control", "treatment"], salt="spring")}
    assert set(out["not_assigned"]) == {no, "not-a-customer"}
    assert "consent_marketing is false" in out["not_assigned"][no]
    assert "unknown customer" in out["not_assigned"]["not-a-customer"]
    bad = runner.invoke(app, ["-w", str(path), "ab", "assign", yes, "--experiment", "e", "--consent", "ads"])
    assert bad.exit_code != 0 and "--consent must be" in str(bad.exception)


def test_cli_planned_weights_drive_the_srm_check(tmp_path):
    path = tmp_path / "split.csv"
    path.write_text("variant,n,sum\ncontrol,8000,800\nnew,2000,210\n")
    equal = json.loads(runner.invoke(app, ["ab", "analyze", "--summary", str(path), "--json"]).output)
    planned = json.loads(runner.invoke(app, ["ab", "analyze", "--summary", str(path), "--weights", "0.8,0.2",
                                             "--json"]).output)
    assert equal["srm"]["alarm"] and not planned["srm"]["alarm"]
    bad = runner.invoke(app, ["ab", "analyze", "--summary", str(path), "--weights", "1,1,1", "--json"])
    assert bad.exit_code != 0 and "weights has 3 values" in str(bad.exception)


@pytest.mark.parametrize("test", [frequentist_test, sequential_test, bayesian_test])
@pytest.mark.parametrize("difference", ["relative", "absolute"])
def test_statistics_too_extreme_for_floats_give_an_error_not_a_crash(test, difference):
    """Found by fuzzing the API: a variance that underflows to 0 over a huge n divided the t statistic
    by zero (a 500)."""
    a = VariantStats("a", 10**12, 1e-300, 1e-300)
    b = VariantStats("b", 10**12, 2e-300, 1e-300)
    result = test(a, b, difference=difference)
    assert result.error is not None and "too extreme" in result.error

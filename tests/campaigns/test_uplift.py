"""Uplift models and their Qini / AUUC evaluation against random targeting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shoplens.campaigns.uplift import UpliftModel, evaluate_uplift, qini_auc, uplift_auc
from shoplens.errors import NotFittedError, UserInputError
from shoplens.datasets import demo_data_dir


def _heterogeneous(seed: int, n: int = 6000) -> pd.DataFrame:
    """The offer helps only customers with x > 0 (+30 pp), never the others."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    noise = rng.normal(size=n)
    arm = rng.choice(["control", "offer"], size=n)
    p = 0.1 + np.where((arm == "offer") & (x > 0), 0.3, 0.0)
    return pd.DataFrame({"arm": arm, "x": x, "noise": noise, "bought": (rng.random(n) < p).astype(int)})


@pytest.mark.parametrize("learner", ["t", "x"])
def test_a_model_of_real_heterogeneity_beats_random_targeting(learner):
    f = _heterogeneous(0)
    [res] = evaluate_uplift(f, arm_column="arm", control="control", metric="bought", features=["x", "noise"],
                            learner=learner, seed=0)
    assert set(res) >= {"arm", "metric", "qini", "auuc", "auuc_random", "test_fraction"}
    assert res["arm"] == "offer" and res["test_fraction"] == 0.3
    # the Qini of ranking by the true effect on a same-size sample is about 0.019 (x > 0 first)
    assert res["qini"] > 0.012 and res["auuc"] > res["auuc_random"]
    assert res["lift_top"] > res["lift_rest"] + 0.1  # the top 40 % are the customers the offer helps


def test_qini_is_negative_when_the_ranking_is_backwards():
    f = _heterogeneous(1)
    treated = (f["arm"] == "offer").to_numpy()
    good = (f["x"] > 0).astype(float).to_numpy()
    assert qini_auc(f["bought"], treated, good) > 0 > qini_auc(f["bought"], treated, -good)
    auuc, random = uplift_auc(f["bought"], treated, -good)
    assert auuc < random


def test_uplift_model_follows_the_estimator_contract():
    m = UpliftModel(learner="x", seed=3)
    assert (m.learner, m.seed) == ("x", 3) and not hasattr(m, "models_")
    with pytest.raises(NotFittedError):
        m.predict(np.zeros((2, 1)))
    with pytest.raises(UserInputError, match="learner"):
        UpliftModel(learner="s").fit(np.zeros((40, 1)), np.arange(40) % 2, np.zeros(40))


def test_uplift_on_the_real_hillstrom_sample_has_the_contract_fields():
    f = pd.read_csv(demo_data_dir() / "hillstrom_sample.csv.gz")
    out = evaluate_uplift(f, arm_column="segment", control="No E-Mail", metric="visit",
                          features=["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"])
    assert sorted(r["arm"] for r in out) == ["Mens E-Mail", "Womens E-Mail"]
    assert all(np.isfinite([r["qini"], r["auuc"], r["auuc_random"]]).all() for r in out)


def test_bad_uplift_inputs_are_user_errors():
    f = _heterogeneous(2, 200)
    with pytest.raises(UserInputError, match="covariate"):
        evaluate_uplift(f, arm_column="arm", control="control", metric="bought", features=["nope"])
    with pytest.raises(UserInputError, match="test fraction"):
        evaluate_uplift(f, arm_column="arm", control="control", metric="bought", features=["x"], test_fraction=1.0)

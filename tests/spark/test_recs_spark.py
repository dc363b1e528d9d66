"""MLlib on the demo shop (local mode): FP-growth rules equal the Python FP-growth's;
ALS factors learned by MLlib rank about as well as implicit's (not bit-identical:
MLlib scales regularisation by each row's ratings and starts from other random factors).
"""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.recs.evaluate import evaluate_model, temporal_split
from shoplens.recs.interactions import load_interactions
from shoplens.recs.models import ALS
from shoplens.recs.rules import association_rules_from_baskets, load_baskets
from shoplens.recs.spark import fpgrowth_rules
from shoplens.store.warehouse import Warehouse

# NDCG@10 of MLlib ALS may be at most this much (absolute) below implicit's on the demo split
ALS_NDCG_TOLERANCE = 0.02
CUTOFF = "2011-11-01"


def test_fpgrowth_rules_equal_python_rules(demo_warehouse_path, spark_wh):
    opts = {"min_support": 0.01, "min_baskets": 10, "min_confidence": 0.3}
    with Warehouse(demo_warehouse_path, read_only=True) as duck:
        expected = association_rules_from_baskets(load_baskets(duck), **opts)
    got = fpgrowth_rules(spark_wh, **opts)
    assert len(expected) > 20
    assert list(got.columns) == list(expected.columns)
    key = ["antecedent", "consequent"]
    # the same rules; the order is the same up to ties in lift and confidence (equal to ~1e-15,
    # summed in another order), so compare by rule
    got, expected = (f.sort_values(key).reset_index(drop=True) for f in (got, expected))
    assert got[key].values.tolist() == expected[key].values.tolist()
    for col in ("support", "confidence", "lift"):
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy(), rel=1e-9), col
    assert got["baskets"].tolist() == expected["baskets"].tolist()


@pytest.fixture(scope="module")
def split(spark_demo_path):
    with Warehouse(spark_demo_path, engine="spark", spark_master="local[2]") as wh:
        rows = load_interactions(wh)  # the interactions transform, run on Spark
    return temporal_split(rows, CUTOFF)


def test_mllib_als_ranks_like_implicit_als(split, spark_wh):
    train, truth = split
    ref = evaluate_model(ALS(factors=32, iterations=10), train, truth, k=10)
    mllib_model = ALS(factors=32, iterations=10, backend="spark")
    got = evaluate_model(mllib_model, train, truth, k=10)
    assert ref["ndcg"] > 0.02  # a real signal to compare against
    assert got["ndcg"] >= ref["ndcg"] - ALS_NDCG_TOLERANCE, (got["ndcg"], ref["ndcg"])
    # the factors live in the same model object: fold-in and similar items work unchanged
    f = mllib_model.model_
    assert f.user_factors.shape == (len(mllib_model.customers_), 32) and f.item_factors.shape[1] == 32
    later = load_interactions(spark_wh)
    later = later[later["occurred_at"] >= pd.Timestamp(CUTOFF)].head(200)
    assert mllib_model.fold_in(later) > 0
    assert len(mllib_model.similar_items(str(mllib_model.products_[0]), k=5)) == 5


def test_unknown_als_backend_is_refused(split):
    from shoplens.errors import UserInputError

    with pytest.raises(UserInputError, match="backend"):
        ALS(backend="flink").fit(split[0])

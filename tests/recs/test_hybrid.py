"""The hybrid's sparse serving path (issue 22, item 2): the same top-k, scores and reasons as the dense
path over the whole catalogue, the generators' candidate lists, the flat tree walk, and provenance reasons."""

from __future__ import annotations

import pickle
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from shoplens.recs.base import KIND_CODES, RecFilters, _top_k
from shoplens.recs.hybrid import FlatForest, Hybrid
from shoplens.recs.interactions import KIND_PHRASES

warnings.filterwarnings("ignore", module="implicit")

SMALL = {"als_factors": 16, "max_iter": 30, "candidates": 20}


@pytest.fixture(scope="module")
def fitted(recs_data: dict[str, Any]) -> Hybrid:
    """The demo slice plus one customer who only viewed and carted products (no purchase)."""
    rows = recs_data["interactions"]
    donor = rows.loc[rows["customer_id"] == sorted(rows["customer_id"].unique())[5]]
    viewer = donor.drop_duplicates("product_id").assign(customer_id="only-viewed", kind="view", weight=0.1)
    viewer.loc[viewer.index[:3], ["kind", "weight"]] = ["cart", 0.5]
    rows = pd.concat([rows, viewer], ignore_index=True)
    return Hybrid(**SMALL).fit(rows, catalogue=recs_data["catalogue"], segments=recs_data["segments"])


def dense(model: Hybrid) -> Hybrid:
    copy = pickle.loads(pickle.dumps(model))
    copy.sparse_serving = False  # the dense path: every generator scores the whole catalogue
    return copy


@pytest.mark.parametrize("filters", [None, RecFilters(exclude_purchased=True),
                                     RecFilters(max_per_category=2, price_max=4.0), RecFilters(categories=("bags",))])
def test_sparse_path_gives_the_dense_top_k(fitted: Hybrid, filters: RecFilters | None) -> None:
    ids = [str(c) for c in fitted.customers_[::3]] + ["only-viewed", "never-seen"]
    # a few customers per call: one request at a time takes the sparse path (many go in dense blocks)
    sparse = pd.concat([fitted.recommend(ids[i:i + 8], k=10, filters=filters) for i in range(0, len(ids), 8)],
                       ignore_index=True)
    batched = fitted.recommend(ids, k=10, filters=filters)
    reference = dense(fitted).recommend(ids, k=10, filters=filters)
    assert len(sparse) == len(reference) == 10 * len(ids)
    cols = ["customer_id", "rank", "product_id", "reason", "personalised"]
    for got in (sparse, batched):
        pd.testing.assert_frame_equal(got[cols], reference[cols])
        np.testing.assert_allclose(got["score"], reference["score"], rtol=1e-6, atol=1e-9)


def test_candidate_features_match_the_dense_block(fitted: Hybrid) -> None:
    gens, context = fitted.generators_, fitted.context_
    rows = np.arange(0, len(gens["buy_again"].customers_), 7)
    pos, col, feats = fitted._candidate_features(gens, context, rows)
    for i, r in enumerate(rows):
        one_cols, one_feats, ranks = fitted._candidate_features_one(gens, context, int(r))
        assert one_cols.tolist() == col[pos == i].tolist()
        # float32 factor products summed in another order (one customer vs a block) differ in the last bits
        np.testing.assert_allclose(one_feats, feats[pos == i], rtol=1e-6, atol=1e-6, equal_nan=True)
        assert ranks.shape == (len(gens), len(one_cols)) and (ranks.min(axis=0) <= fitted.candidates).all()


def test_each_generator_proposes_its_dense_top_n(fitted: Hybrid) -> None:
    n = fitted.candidates
    for name, gen in fitted.generators_.items():
        for row in range(0, len(gen.customers_), 25):
            cols, vals, score_at = gen.propose(row, n)
            full = np.asarray(gen._score(np.array([row])), dtype=np.float64)
            want_cols, want_vals = _top_k(full, n)
            finite = np.isfinite(want_vals[0])
            assert cols.tolist() == want_cols[0][finite].tolist(), name
            np.testing.assert_allclose(vals, want_vals[0][finite], rtol=1e-6)
            probe = np.arange(0, len(gen.products_), 11)
            np.testing.assert_allclose(score_at(probe), full[0, probe], rtol=1e-6, atol=1e-12)


def test_als_candidate_lists_follow_fold_in_and_erasure(fitted: Hybrid, recs_data: dict[str, Any]) -> None:
    model = pickle.loads(pickle.dumps(fitted))
    als = model.generators_["als"]
    assert als.candidate_cols_.shape == (len(als.customers_), model.candidates)
    rows = recs_data["interactions"]
    newcomer = rows[rows["customer_id"] == str(model.customers_[2])].assign(customer_id="fresh-face")
    model.fold_in(newcomer)
    row = als.customers_.get_loc("fresh-face")
    listed = als.candidate_cols_[row].tolist()
    want, _ = _top_k(np.asarray(als._score(np.array([row]))), model.candidates)
    assert listed == want[0].tolist()
    victim = str(model.customers_[0])
    before = len(als.candidate_cols_)
    model.forget_customers({victim})
    assert len(als.candidate_cols_) == before - 1 == len(als.model_.user_factors)
    assert model.recommend(["fresh-face"], k=5)["personalised"].all()


def test_training_on_the_sparse_path_learns_the_same_ranker(recs_data: dict[str, Any]) -> None:
    class SparseTrained(Hybrid):
        def _sparse_training(self, n_products: int) -> bool:
            return True

    rows, catalogue = recs_data["interactions"], recs_data["catalogue"]
    a = Hybrid(**SMALL).fit(rows, catalogue=catalogue)
    b = SparseTrained(**SMALL).fit(rows, catalogue=catalogue)
    assert a.training_rows_ == b.training_rows_ and a.candidate_recall_ == b.candidate_recall_
    ids = [str(c) for c in a.customers_[:40]]
    pd.testing.assert_frame_equal(a.recommend(ids, k=10)[["customer_id", "product_id", "reason"]],
                                  b.recommend(ids, k=10)[["customer_id", "product_id", "reason"]])


def test_flat_forest_reproduces_predict_proba_with_missing_values() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 6))
    y = (x[:, 0] + np.where(np.isnan(x[:, 1]), 1.5, x[:, 1]) > 0.3).astype(int)
    x[rng.random(x.shape) < 0.15] = np.nan  # missing values seen in training, on both sides of splits
    clf = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=31, random_state=0).fit(x, y)
    test = rng.normal(size=(500, 6))
    test[rng.random(test.shape) < 0.2] = np.nan
    test[:5, 2] = np.inf
    np.testing.assert_array_equal(FlatForest(clf).predict_proba(test), clf.predict_proba(test)[:, 1])


def test_serving_ranker_equals_scikit_learn(fitted: Hybrid) -> None:
    gens = fitted.generators_
    x = np.vstack([fitted._candidate_features_one(gens, fitted.context_, r)[1] for r in range(30)])
    np.testing.assert_array_equal(FlatForest(fitted.ranker_).predict_proba(x), fitted.ranker_.predict_proba(x)[:, 1])


def test_scores_are_probabilities_corrected_for_dropped_negatives(fitted: Hybrid) -> None:
    raw = np.array([0.05, 0.5, 0.9])
    cal = fitted._calibrated(raw)
    odds = cal / (1 - cal) / (raw / (1 - raw))
    np.testing.assert_allclose(odds, fitted.negative_share)  # keeping a share s of negatives inflated odds by 1/s
    assert (np.diff(cal) > 0).all()
    recs = fitted.recommend([str(c) for c in fitted.customers_[:30]], k=10)
    assert recs["score"].between(0, 1).all() and recs["personalised"].all()


def test_provenance_reasons_name_the_real_interaction(fitted: Hybrid) -> None:
    patterns = {kind: re.escape(p).replace(re.escape("{product}"), r".* \((?P<pid>[^()]+)\)")
                for kind, p in KIND_PHRASES.items()}
    kind_of_code = {code: kind for kind, code in KIND_CODES.items()}
    recs = fitted.recommend([str(c) for c in fitted.customers_[:60]] + ["only-viewed"], k=10,
                            filters=RecFilters(exclude_purchased=True))
    ref = fitted.generators_["buy_again"]
    checked = 0
    for cid, reason in zip(recs["customer_id"], recs["reason"]):
        if not reason.startswith("because you "):
            assert reason in ("customers with similar tastes bought it", "trending now", "popular now"), reason
            continue
        kind, pid = next((k, m.group("pid")) for k, p in patterns.items()
                         if (m := re.fullmatch("because you " + p, reason)))
        code = int(ref.kinds_[ref.customers_.get_loc(cid), ref.products_.get_loc(pid)])
        assert kind_of_code[code] == kind, (cid, reason)  # the strongest thing they did with that product
        checked += 1
    assert checked > 20
    viewer = recs.loc[recs["customer_id"] == "only-viewed", "reason"]
    assert not viewer.str.startswith(("because you bought", "you bought")).any()
    assert viewer.str.startswith(("because you viewed", "because you put")).any()


def test_the_hybrid_trains_and_serves_on_an_events_only_warehouse(tmp_path) -> None:
    """The bundled Taobao slice through the collector: events only (no orders, no prices), so the
    price and quantity features are missing for every candidate; the hybrid still learns and serves."""
    from shoplens.config import Settings
    from shoplens.datasets import demo_data_dir
    from shoplens.recs.service import recommend, train
    from shoplens.store.warehouse import Warehouse
    from shoplens.stream.collector import Collector, send
    from shoplens.stream.presets import read_calls

    settings = Settings(warehouse=tmp_path / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
    with Warehouse(settings.warehouse) as wh:
        calls = read_calls(demo_data_dir() / "taobao_userbehavior_sample.csv.gz", "taobao-userbehavior")
        send(Collector(wh, settings), wh, calls)
        assert wh.con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 0
        trained = train(wh, model="hybrid")
        assert trained["model"] == "hybrid" and trained["note"] == ""
        lists = recommend(wh, ["1"], k=5)
        assert len(lists) == 5 and lists["reason"].str.len().gt(0).all()

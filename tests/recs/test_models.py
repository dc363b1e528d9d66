"""One contract suite over every recommender, plus behaviour specific to each model."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shoplens.errors import NotFittedError, NotFoundError, UserInputError
from shoplens.recs.base import OUTPUT_COLUMNS, Recommender, RecFilters
from shoplens.recs.hybrid import Hybrid
from shoplens.recs.models import ALS, BPR, EASE, BuyAgain, ContentBased, ItemKNN, Popularity, due_factor, repurchase_cycles

from .conftest import tiny_frame

warnings.filterwarnings("ignore", module="implicit")

# small settings keep the suite fast; behaviour is the same
FACTORIES: dict[str, Callable[[], Recommender]] = {
    "popularity": Popularity,
    "trending": lambda: Popularity(recent_days=30),
    "buy_again": BuyAgain,
    "item_knn": ItemKNN,
    "item_knn_bm25": lambda: ItemKNN(similarity="bm25"),
    "ease": lambda: EASE(max_items=600),
    "als": lambda: ALS(factors=16, iterations=5),
    "bpr": lambda: BPR(factors=16, iterations=20),
    "content": ContentBased,
    "hybrid": lambda: Hybrid(als_factors=16, max_iter=30, candidates=20),
}


@pytest.fixture(scope="module", params=list(FACTORIES))
def fitted(request: pytest.FixtureRequest, recs_data: dict[str, Any]) -> tuple[str, Recommender]:
    model = FACTORIES[request.param]()
    out = model.fit(recs_data["interactions"], catalogue=recs_data["catalogue"], segments=recs_data["segments"])
    assert out is model
    return request.param, model


def some_customers(model: Recommender, n: int = 5) -> list[str]:
    return [str(c) for c in model.customers_[:n]]


# -- the contract ---------------------------------------------------------------------------------
def test_constructor_only_stores_params_and_repr() -> None:
    for name, make in FACTORIES.items():
        model = make()
        assert not model.is_fitted(), name
        assert repr(model).startswith(type(model).__name__ + "(")
        with pytest.raises(NotFittedError):
            model.recommend(["x"])


def test_recommend_shape_ranks_and_no_duplicates(fitted: tuple[str, Recommender]) -> None:
    name, model = fitted
    ids = some_customers(model)
    recs = model.recommend(ids, k=7)
    assert list(recs.columns) == OUTPUT_COLUMNS
    assert recs.groupby("customer_id").size().eq(7).all(), name
    assert recs.groupby("customer_id")["rank"].apply(list).map(lambda r: r == list(range(1, 8))).all()
    assert not recs.duplicated(["customer_id", "product_id"]).any()
    assert recs["reason"].map(lambda r: isinstance(r, str) and len(r) > 3).all()
    assert set(recs["customer_id"]) == set(ids)


def test_model_scores_do_not_increase_down_the_list(fitted: tuple[str, Recommender]) -> None:
    _, model = fitted
    recs = model.recommend(some_customers(model, 20), k=10, explain=False)
    own = recs[~recs["reason"].str.startswith("popular")]
    for _, group in own.groupby("customer_id"):
        scores = group.sort_values("rank")["score"].to_numpy()
        assert np.all(np.diff(scores[scores > 0]) <= 1e-9)


def test_scores_are_between_0_and_1_for_known_and_unknown_customers(fitted: tuple[str, Recommender]) -> None:
    name, model = fitted
    recs = model.recommend(some_customers(model, 10) + ["never-seen-customer"], k=10)
    assert recs["score"].between(0.0, 1.0).all(), name
    assert not recs.loc[recs["customer_id"] == "never-seen-customer", "personalised"].any()
    assert recs.loc[recs["customer_id"] != "never-seen-customer", "personalised"].any() == model.uses_history


def test_exclude_purchased(fitted: tuple[str, Recommender], recs_data: dict[str, Any]) -> None:
    _, model = fitted
    rows = recs_data["interactions"]
    ids = some_customers(model, 10)
    recs = model.recommend(ids, k=10, filters=RecFilters(exclude_purchased=True))
    bought = rows[(rows["kind"] == "purchase") & rows["customer_id"].isin(ids)][["customer_id", "product_id"]]
    clash = recs.merge(bought.drop_duplicates(), on=["customer_id", "product_id"])
    assert clash.empty


def test_business_filters(fitted: tuple[str, Recommender], recs_data: dict[str, Any]) -> None:
    _, model = fitted
    cat = recs_data["catalogue"].set_index("product_id")
    ids = some_customers(model, 5)
    recs = model.recommend(ids, k=5, filters=RecFilters(categories=("bags",)))
    assert set(cat.loc[recs["product_id"], "category"]) == {"bags"}
    recs = model.recommend(ids, k=5, filters=RecFilters(price_min=2.0, price_max=5.0))
    prices = cat.loc[recs["product_id"], "price"]
    assert prices.between(2.0, 5.0).all()
    banned = set(model.recommend(ids, k=3)["product_id"])
    recs = model.recommend(ids, k=5, filters=RecFilters(exclude_products=frozenset(banned)))
    assert not set(recs["product_id"]) & banned
    recs = model.recommend(ids, k=8, filters=RecFilters(max_per_category=2))
    per = recs.assign(category=cat.loc[recs["product_id"], "category"].to_numpy()).groupby(["customer_id", "category"]).size()
    assert per.max() <= 2


def test_unknown_customer_gets_popular_items(fitted: tuple[str, Recommender]) -> None:
    _, model = fitted
    recs = model.recommend(["never-seen-customer"], k=5)
    top = model.products_[np.argsort(-model.popularity_, kind="stable")[:5]].tolist()
    assert recs["product_id"].tolist() == top
    assert recs["reason"].str.startswith("popular").all()


def test_similar_items(fitted: tuple[str, Recommender]) -> None:
    name, model = fitted
    product = str(model.products_[int(np.argmax(model.popularity_))])
    similar = model.similar_items(product, k=5)
    assert list(similar.columns) == ["product_id", "rank", "similar_product_id", "name", "score"]
    assert 0 < len(similar) <= 5, name
    assert product not in set(similar["similar_product_id"])
    assert (np.diff(similar["score"].to_numpy()) <= 1e-9).all()
    with pytest.raises(NotFoundError):
        model.similar_items("no-such-product")


def test_save_load_round_trip(fitted: tuple[str, Recommender], tmp_path: Path) -> None:
    _, model = fitted
    ids = some_customers(model)
    before = model.recommend(ids, k=5)
    path = model.save(tmp_path / "m.pkl")
    again = type(model).load(path)
    pd.testing.assert_frame_equal(before, again.recommend(ids, k=5))


def test_forget_customers_leaves_no_trace(fitted: tuple[str, Recommender]) -> None:
    _, model = fitted
    model = pickle.loads(pickle.dumps(model))  # private copy
    victim = some_customers(model, 1)[0]
    assert model.forget_customers({victim, "not-a-customer"}) == 1
    assert victim not in set(model.customers_)
    assert victim.encode() not in pickle.dumps(model)
    recs = model.recommend([victim], k=3)
    assert recs["reason"].str.startswith("popular").all()
    assert model.forget_customers({victim}) == 0
    other = some_customers(model, 2)
    assert len(model.recommend(other, k=3)) == 6


def test_bad_arguments() -> None:
    with pytest.raises(UserInputError):
        RecFilters(price_min=5, price_max=1)
    with pytest.raises(UserInputError):
        RecFilters(max_per_category=0)


# -- behaviour of single models -------------------------------------------------------------------------
def test_buy_again_prefers_frequent_then_due_products() -> None:
    rows = tiny_frame([
        ("a", "soap", "2024-01-01", "purchase", 1.0), ("a", "soap", "2024-01-31", "purchase", 1.0),
        ("a", "soap", "2024-03-01", "purchase", 1.0), ("a", "vase", "2024-03-01", "purchase", 1.0),
        ("b", "soap", "2024-01-01", "purchase", 1.0), ("b", "soap", "2024-02-01", "purchase", 1.0),
        ("b", "lamp", "2024-03-30", "purchase", 1.0), ("c", "lamp", "2024-03-30", "purchase", 1.0),
    ])
    plain = BuyAgain(half_life_days=None, cycle_weight=0.0).fit(rows)
    assert plain.recommend(["a"], k=2)["product_id"].tolist() == ["soap", "vase"]
    cycles = repurchase_cycles(rows, plain.products_)
    assert cycles[plain.products_.get_loc("soap")] == pytest.approx(30.0)  # gaps 30, 30 (a) and 31 (b)
    assert np.isnan(cycles[plain.products_.get_loc("vase")])
    # b bought soap every ~31 days and last 58 days ago: the cycle makes it due again
    due = BuyAgain(half_life_days=None, cycle_weight=5.0).fit(rows)
    recs = due.recommend(["b"], k=3)
    assert recs["product_id"].iloc[0] == "soap"
    assert recs["reason"].iloc[0].startswith("you bought it 2 times")


def test_returns_and_bad_reviews_lower_a_product() -> None:
    base = [("a", "cup", "2024-01-01", "purchase", 1.0), ("a", "mug", "2024-01-01", "purchase", 1.0),
            ("b", "cup", "2024-01-02", "purchase", 1.0)]
    model = BuyAgain(half_life_days=None, cycle_weight=0.0)
    first = model.fit(tiny_frame(base)).recommend(["a"], k=2)["product_id"].tolist()
    assert set(first) == {"cup", "mug"}
    returned = tiny_frame(base + [("a", "cup", "2024-01-05", "return", -0.5), ("a", "cup", "2024-01-06", "bad_review", -1.0)])
    assert model.fit(returned).recommend(["a"], k=1)["product_id"].tolist() == ["mug"]


def test_popularity_per_segment_and_trending() -> None:
    rows = tiny_frame(
        [(f"uk{i}", "tea", "2024-01-01", "purchase", 1.0) for i in range(6)]
        + [(f"fr{i}", "wine", "2024-01-01", "purchase", 1.0) for i in range(5)]
        + [(f"x{i}", "scarf", "2024-03-01", "purchase", 1.0) for i in range(3)]
    )
    segments = pd.DataFrame({"customer_id": [f"uk{i}" for i in range(6)] + [f"fr{i}" for i in range(5)],
                             "segment": ["UK"] * 6 + ["France"] * 5})
    model = Popularity().fit(rows, segments=segments)
    assert model.recommend(["fr0"], k=1)["product_id"].tolist() == ["wine"]
    assert model.recommend(["fr0"], k=1)["reason"].iloc[0] == "popular in your segment (France)"
    assert model.recommend(["uk1"], k=1)["product_id"].tolist() == ["tea"]
    assert Popularity(recent_days=10).fit(rows).recommend(["uk1"], k=1)["product_id"].tolist() == ["scarf"]


def test_content_model_brings_new_products_in() -> None:
    rows = tiny_frame([("a", "p1", "2024-01-01", "purchase", 1.0), ("b", "p2", "2024-01-01", "purchase", 1.0),
                       ("b", "p1", "2024-01-02", "view", 0.1)])
    catalogue = pd.DataFrame({"product_id": ["p1", "p2", "p3"],
                              "name": ["红色 连衣裙 夏季", "steel kitchen knife", "红色 连衣裙 冬季"],
                              "category": ["dress", "kitchen", "dress"]})
    model = ContentBased().fit(rows, catalogue=catalogue)
    # p3 was never bought: it reaches customer a and p1's neighbours through its (Chinese) text alone
    assert model.similar_items("p3", k=1)["similar_product_id"].tolist() == ["p1"]
    assert model.recommend(["a"], k=2, filters=RecFilters(exclude_purchased=True))["product_id"].iloc[0] == "p3"


def test_ease_learns_co_purchase() -> None:
    rows = tiny_frame([(f"c{i}", p, "2024-01-01", "purchase", 1.0) for i in range(20) for p in ("tea", "cup")]
                      + [(f"d{i}", "soap", "2024-01-01", "purchase", 1.0) for i in range(20)]
                      + [("new", "tea", "2024-01-02", "purchase", 1.0)])
    model = EASE(l2=1.0).fit(rows)
    recs = model.recommend(["new"], k=1, filters=RecFilters(exclude_purchased=True))
    assert recs["product_id"].tolist() == ["cup"]
    assert recs["reason"].iloc[0] == "because you bought tea"
    assert recs["personalised"].iloc[0] and 0 < recs["score"].iloc[0] < 1


def test_als_fold_in_new_customer_without_retrain(recs_data: dict[str, Any]) -> None:
    rows = recs_data["interactions"]
    model = ALS(factors=16, iterations=5).fit(rows)
    items_before = model.model_.item_factors.copy()
    donor = rows[rows["customer_id"] == model.customers_[0]].assign(customer_id="brand-new")
    assert model.recommend(["brand-new"], k=3)["reason"].str.startswith("popular").all()
    assert model.fold_in(donor) == 1
    assert "brand-new" in set(model.customers_)
    assert np.array_equal(items_before, model.model_.item_factors)  # product factors untouched
    recs = model.recommend(["brand-new"], k=5, explain=False)
    donor_recs = model.recommend([model.customers_[0]], k=5, explain=False)
    assert len(set(recs["product_id"]) & set(donor_recs["product_id"])) >= 3


def test_hybrid_fold_in_and_reasons(recs_data: dict[str, Any]) -> None:
    rows = recs_data["interactions"]
    model = Hybrid(als_factors=16, max_iter=30, candidates=20).fit(rows, catalogue=recs_data["catalogue"])
    assert set(model.feature_importance()["feature"]) == set(model.feature_names)
    newcomer = rows[rows["customer_id"] == model.customers_[3]].assign(customer_id="hybrid-new")
    assert model.fold_in(newcomer) == 1
    recs = model.recommend(["hybrid-new"], k=5)
    assert not recs["reason"].str.startswith("popular").all()
    assert len(model.generators_["als"].model_.user_factors) == len(model.customers_)


def test_same_seed_same_result(recs_data: dict[str, Any]) -> None:
    rows = recs_data["interactions"]
    ids = [str(c) for c in sorted(rows["customer_id"].unique())[:10]]
    a = ALS(factors=8, iterations=3, seed=3).fit(rows).recommend(ids, k=5, explain=False)
    b = ALS(factors=8, iterations=3, seed=3).fit(rows).recommend(ids, k=5, explain=False)
    pd.testing.assert_frame_equal(a, b)
    c = ALS(factors=8, iterations=3, seed=4).fit(rows).recommend(ids, k=5, explain=False)
    assert not np.allclose(a["score"], c["score"])


def test_bought_together_pairs_are_exact() -> None:
    rows = tiny_frame([(f"c{i}", p, "2024-01-01", "purchase", 1.0) for i in range(4) for p in ("tea", "cup")]
                      + [(f"c{i}", "tea", "2024-02-01", "purchase", 1.0) for i in range(4)]
                      + [("z", "soap", "2024-01-01", "purchase", 1.0)])
    model = BuyAgain().fit(rows)
    fbt = model.frequently_bought_together("cup")
    assert fbt[["together_product_id", "baskets"]].values.tolist() == [["tea", 4]]
    assert fbt["confidence"].iloc[0] == pytest.approx(1.0)
    assert fbt["lift"].iloc[0] == pytest.approx(4 * 9 / (4 * 8))  # 9 baskets, tea in 8, cup in 4
    assert model.frequently_bought_together("soap").empty
    with pytest.raises(NotFoundError):
        model.frequently_bought_together("nope")


def test_due_factor_at_bought_products_matches_the_dense_formula(recs_data) -> None:
    model = BuyAgain(cycle_weight=1.0).fit(recs_data["interactions"], catalogue=recs_data["catalogue"])
    rows = np.arange(min(50, len(model.customers_)))
    got = due_factor(model, rows)
    # reference: the formula over every product column
    last = model.last_bought_[rows].toarray().astype(np.float64)
    now_day = (model.now_ - pd.Timestamp("1970-01-01")).total_seconds() / 86400.0
    since = np.where(last > 0, now_day - last, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        due = np.exp(-np.abs(np.log((since + 1.0) / (model.cycle_days_[None, :] + 1.0))))
    want = np.nan_to_num(np.where(np.isfinite(since), due, 0.0), nan=0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert got.shape == (len(rows), len(model.products_)) and (got > 0).sum() > 10 and got.max() <= 1.0

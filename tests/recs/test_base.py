"""The shared output contract of every recommender (issue 16, item 10): one score scale, an honest
personalised flag, and reasons that name what the customer really did."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from shoplens.recs.base import KIND_CODES, RecFilters, _top_k, top_sorted
from shoplens.recs.interactions import KIND_PHRASES
from shoplens.recs.models import EASE, BuyAgain, ItemKNN, Popularity

from .conftest import tiny_frame

warnings.filterwarnings("ignore", module="implicit")


def shop() -> pd.DataFrame:
    """Four buyers of tea and cups, one of soap; 'viewer' only looked at tea and put soap in the basket."""
    return tiny_frame(
        [(c, p, "2024-01-01", "purchase", 1.0) for c in ("a", "b", "c") for p in ("tea", "cup")]
        + [("d", "tea", "2024-01-02", "purchase", 1.0), ("d", "soap", "2024-01-02", "purchase", 1.0),
           ("e", "soap", "2024-01-03", "purchase", 1.0), ("e", "sponge", "2024-01-03", "purchase", 1.0),
           ("viewer", "tea", "2024-01-04", "view", 0.1), ("viewer", "soap", "2024-01-04", "cart", 0.5)]
    )


CATALOGUE = pd.DataFrame({"product_id": ["tea", "cup", "soap", "sponge"],
                          "name": ["Green tea", "Tea cup", "Soap bar", "Sponge"]})


def test_popular_scores_are_shares_of_customers_not_counts() -> None:
    model = BuyAgain().fit(shop(), catalogue=CATALOGUE)
    recs = model.recommend(["nobody-knows-me"], k=3)
    # tea: a, b, c, d and the viewer engaged with it -> 5 of 6 customers
    assert recs["product_id"].tolist()[0] == "tea"
    assert recs["score"].iloc[0] == pytest.approx(5 / 6)
    assert recs["score"].between(0, 1).all() and recs["reason"].eq("popular now").all()


@pytest.mark.parametrize("make", [BuyAgain, lambda: BuyAgain(half_life_days=None, cycle_weight=0.0), ItemKNN,
                                  lambda: EASE(l2=1.0), Popularity])
def test_every_score_is_between_0_and_1_and_keeps_the_order(make) -> None:
    model = make().fit(shop(), catalogue=CATALOGUE)
    recs = model.recommend(["a", "d", "viewer", "unknown"], k=4)
    assert recs["score"].between(0.0, 1.0).all()
    own = recs[recs["personalised"]]
    for _, group in own.groupby("customer_id"):
        assert (np.diff(group.sort_values("rank")["score"].to_numpy()) <= 1e-12).all()


def test_personalised_only_when_the_list_used_the_customers_history() -> None:
    rows = shop()
    knn = ItemKNN().fit(rows, catalogue=CATALOGUE)
    recs = knn.recommend(["d", "unknown"], k=4)
    assert not recs.loc[recs["customer_id"] == "unknown", "personalised"].any()
    mine = recs[recs["customer_id"] == "d"]
    assert mine["personalised"].any()
    # popularity ranks for everyone alike: a known customer's list is not personalised either
    pop = Popularity().fit(rows).recommend(["d"], k=3)
    assert not pop["personalised"].any()
    # filling a short list with popular items: those rows are not the model's (EASE models 2 products here)
    short = EASE(l2=1.0, max_items=2).fit(rows, catalogue=CATALOGUE).recommend(["d"], k=4)
    fill = short[short["reason"] == "popular now"]
    assert len(fill) == 2 and not fill["personalised"].any() and short["personalised"].sum() == 2
    assert fill["score"].tolist() == [pytest.approx(3 / 6), pytest.approx(1 / 6)]  # soap (d, e, viewer), sponge


@pytest.mark.parametrize("make", [ItemKNN, lambda: EASE(l2=1.0)])
def test_reasons_name_the_real_interaction(make) -> None:
    model = make().fit(shop(), catalogue=CATALOGUE)
    recs = model.recommend(["viewer"], k=2, filters=RecFilters(exclude_products=frozenset({"tea", "soap"})))
    reasons = dict(zip(recs["product_id"], recs["reason"]))
    # the viewer never bought anything: cups relate to the tea they viewed, sponges to the soap in their basket
    assert reasons["cup"] == "because you viewed Green tea (tea)"
    assert reasons["sponge"] == "because you put Soap bar (soap) in your basket"
    assert not any("bought" in r for r in reasons.values())
    buyer = model.recommend(["d"], k=1, filters=RecFilters(exclude_purchased=True, exclude_products=frozenset({"sponge"})))
    assert buyer["reason"].iloc[0] == "because you bought Green tea (tea)"


def test_a_positive_review_is_named_as_a_rating() -> None:
    rows = pd.concat([shop(), tiny_frame([("critic", "tea", "2024-01-05", "good_review", 0.3)])], ignore_index=True)
    model = ItemKNN().fit(rows, catalogue=CATALOGUE)
    recs = model.recommend(["critic"], k=1, filters=RecFilters(exclude_products=frozenset({"tea"})))
    assert recs["product_id"].iloc[0] == "cup"
    assert recs["reason"].iloc[0] == "because you rated Green tea (tea) highly"


def test_the_strongest_interaction_wins() -> None:
    rows = pd.concat([shop(), tiny_frame([("d", "tea", "2024-01-06", "view", 0.1)])], ignore_index=True)
    model = ItemKNN().fit(rows, catalogue=CATALOGUE)
    assert model.interaction_phrase(model.customers_.get_loc("d"), model.products_.get_loc("tea")) \
        == "bought Green tea (tea)"
    assert KIND_CODES["purchase"] > KIND_CODES["good_review"] > KIND_CODES["cart"] > KIND_CODES["view"]
    assert set(KIND_PHRASES) == set(KIND_CODES)


def test_fold_in_keeps_the_latest_purchase_day() -> None:
    model = BuyAgain().fit(shop(), catalogue=CATALOGUE)
    fresh = tiny_frame([("e", "soap", "2024-02-01", "purchase", 1.0), ("e", "soap", "2024-02-10", "purchase", 1.0),
                        ("e", "tea", "2024-02-05", "view", 0.1)])
    model.fold_in(fresh)
    recs = model.recommend(["e"], k=1)
    # two purchases in one batch: the last day is the later one (their day numbers must not add up)
    assert recs["reason"].iloc[0] == "you bought it 3 times, last on 2024-02-10"
    assert model.interaction_phrase(model.customers_.get_loc("e"), model.products_.get_loc("tea")) \
        == "viewed Green tea (tea)"


def test_top_k_breaks_ties_by_column_and_matches_top_sorted() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 40)).astype(np.float64)  # many ties
    scores[3, :] = -np.inf
    cols, vals = _top_k(scores, 7)
    for i in range(len(scores)):
        c, v = top_sorted(np.arange(40), scores[i], 7)
        assert cols[i].tolist() == c.tolist() and np.array_equal(vals[i], v)
        expected = sorted(range(40), key=lambda j: (-scores[i, j], j))[:7]
        assert cols[i].tolist() == expected


def test_reason_product_names_come_from_the_catalogue() -> None:
    model = ItemKNN().fit(shop(), catalogue=CATALOGUE)
    reason = model.recommend(["viewer"], k=1, filters=RecFilters(exclude_products=frozenset({"tea", "soap", "sponge"})))
    assert re.fullmatch(r"because you viewed Green tea \(tea\)", reason["reason"].iloc[0])

"""Metrics checked by hand, the temporal protocol, repeat vs new items, search under a budget."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError
from shoplens.recs.evaluate import (
    evaluate_models,
    evaluate_recommendations,
    leave_last_basket_out,
    random_search,
    ranking_metrics,
    temporal_split,
)
from shoplens.recs.models import BuyAgain, ItemKNN, Popularity

from .conftest import tiny_frame


def test_ranking_metrics_by_hand() -> None:
    recs = pd.DataFrame({"customer_id": ["a"] * 3 + ["b"] * 3, "rank": [1, 2, 3] * 2,
                         "product_id": ["x", "y", "z", "x", "y", "z"]})
    truth = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "product_id": ["x", "z", "q", "x"]})
    m = ranking_metrics(recs, truth, k=3)
    # a: hits at 1 and 3 -> DCG = 1 + 1/2, IDCG = 1 + 1/log2(3); b and c (no list) score 0
    ndcg_a = 1.5 / (1 + 1 / math.log2(3))
    assert m["customers"] == 3
    assert m["ndcg"] == pytest.approx(ndcg_a / 3)
    assert m["recall"] == pytest.approx((2 / 2) / 3)
    assert m["precision"] == pytest.approx((2 / 3) / 3)
    assert m["map"] == pytest.approx(((1 + 2 / 3) / 2) / 3)
    assert m["hit_rate"] == pytest.approx(1 / 3)
    # only the first k ranks count
    assert ranking_metrics(recs, truth, k=1)["recall"] == pytest.approx((1 / 2) / 3)


def test_temporal_split_keeps_returning_customers_and_seen_products() -> None:
    rows = tiny_frame([
        ("a", "x", "2024-01-01", "purchase", 1.0), ("b", "y", "2024-01-02", "purchase", 1.0),
        ("a", "y", "2024-02-02", "purchase", 1.0),   # returning customer, seen product: in the truth
        ("a", "new", "2024-02-03", "purchase", 1.0),  # product unseen before the cutoff: out
        ("c", "x", "2024-02-03", "purchase", 1.0),   # new customer: out
        ("b", "x", "2024-02-04", "view", 0.1),       # not a purchase: out
    ])
    train, truth = temporal_split(rows, "2024-02-01")
    assert train["occurred_at"].max() < pd.Timestamp("2024-02-01")
    assert truth.values.tolist() == [["a", "y"]]
    with pytest.raises(InsufficientDataError):
        temporal_split(rows, "2030-01-01")


def test_repeat_and_new_items_reported_separately() -> None:
    train = tiny_frame([("a", "x", "2024-01-01", "purchase", 1.0), ("a", "y", "2024-01-01", "purchase", 1.0)])
    truth = pd.DataFrame({"customer_id": ["a", "a"], "product_id": ["x", "z"]})
    recs = pd.DataFrame({"customer_id": ["a", "a"], "rank": [1, 2], "product_id": ["x", "z"]})
    m = evaluate_recommendations(recs, truth, train, k=2)
    assert m["ndcg_repeat"] == pytest.approx(1.0)
    assert m["ndcg_new"] == pytest.approx(1 / math.log2(3))  # z is at rank 2 of the shown list
    assert m["ndcg_new_excluding_bought"] == pytest.approx(1.0)  # first once bought items are skipped
    assert m["share_repeat_in_list"] == pytest.approx(0.5)
    assert m["coverage"] == pytest.approx(1.0)  # 2 distinct products shown / 2 products in training


def test_leave_last_basket_out() -> None:
    rows = tiny_frame([("a", "x", "2024-01-01", "purchase", 1.0), ("a", "y", "2024-01-05", "purchase", 1.0),
                       ("a", "x", "2024-01-09", "purchase", 1.0), ("b", "y", "2024-01-02", "purchase", 1.0)])
    train, truth = leave_last_basket_out(rows)
    assert truth.values.tolist() == [["a", "x"]]
    assert len(train) == 3  # a's last basket left out; b has one basket and stays whole


def test_models_beat_popularity_on_real_data(recs_data: dict[str, Any]) -> None:
    train, truth = temporal_split(recs_data["interactions"], "2011-11-01")
    table = evaluate_models({"popularity": Popularity(per_segment=False), "buy_again": BuyAgain(),
                             "item_knn": ItemKNN()}, train, truth, k=10)
    assert table["model"].iloc[0] == "buy_again"  # repeat buying dominates this shop
    scores = dict(zip(table["model"], table["ndcg"]))
    assert scores["buy_again"] > scores["popularity"] > 0
    assert {"ndcg_repeat", "ndcg_new", "coverage", "novelty", "train_seconds"} <= set(table.columns)


def test_random_search_respects_the_cutoff_and_budget(recs_data: dict[str, Any]) -> None:
    rows = recs_data["interactions"]
    result = random_search(lambda **p: BuyAgain(**p), {"half_life_days": [None, 60.0], "cycle_weight": [0.0, 1.0]},
                           rows, "2011-11-01", budget_seconds=0.0)
    assert len(result) == 1  # budget spent after the first setting
    full = random_search(lambda **p: BuyAgain(**p), {"half_life_days": [None, 60.0]}, rows, "2011-11-01",
                         budget_seconds=60)
    assert len(full) == 2 and full["ndcg"].is_monotonic_decreasing

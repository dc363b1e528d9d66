"""Interactions from the warehouse (signs, weights, time window, consent) and FP-growth rules."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.recs.interactions import InteractionWeights, check_interactions, load_interactions
from shoplens.recs.models import BuyAgain
from shoplens.recs.rules import association_rules_from_baskets, bought_together, load_baskets
from shoplens.store.warehouse import Warehouse


def _load(wh: Warehouse) -> None:
    wh.con.execute("""INSERT INTO customers (customer_id, consent_personalization) VALUES
        ('a', TRUE), ('b', FALSE), ('c', NULL)""")
    wh.con.execute("""INSERT INTO orders (order_id, customer_id, ordered_at, status) VALUES
        ('o1', 'a', '2024-01-01 10:00', 'completed'), ('o2', 'a', '2024-02-01 10:00', 'cancelled'),
        ('o3', 'b', '2024-01-03 10:00', 'completed'), ('o4', NULL, '2024-01-04 10:00', 'completed'),
        ('o5', 'c', '2024-03-01 10:00', 'adjustment')""")
    wh.con.execute("""INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) VALUES
        ('o1', 0, 'x', 2, 1.0), ('o1', 1, 'y', 1, 2.0), ('o1', 2, 'x', 1, 1.0), ('o2', 0, 'x', -1, 1.0),
        ('o3', 0, 'y', 1, 2.0), ('o4', 0, 'x', 1, 1.0), ('o5', 0, 'x', 1, 1.0)""")
    wh.con.execute("""INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at) VALUES
        ('c', 's1', 'view', 'y', '2024-01-05 10:00'), ('c', 's1', 'cart', 'y', '2024-01-05 10:01'),
        ('c', 's1', 'search', NULL, '2024-01-05 10:02')""")
    wh.con.execute("""INSERT INTO reviews (review_id, customer_id, product_id, rating, created_at) VALUES
        ('r1', 'a', 'y', 1, '2024-01-10'), ('r2', 'a', 'x', 5, '2024-01-10')""")


def test_interactions_signs_weights_and_window(tmp_wh: Warehouse) -> None:
    _load(tmp_wh)
    w = InteractionWeights()
    rows = load_interactions(tmp_wh, weights=w)
    kinds = rows.groupby(["customer_id", "product_id", "kind"])["weight"].sum().to_dict()
    assert kinds[("a", "x", "purchase")] == w.purchase  # two lines of one order: one purchase of 3 units
    assert rows.loc[(rows["customer_id"] == "a") & (rows["kind"] == "purchase") & (rows["product_id"] == "x"),
                    "quantity"].tolist() == [3.0]
    assert kinds[("a", "x", "return")] == w.return_ < 0
    assert kinds[("a", "y", "bad_review")] == w.bad_review < 0
    assert ("a", "x", "bad_review") not in kinds  # 5 stars is no negative signal
    assert kinds[("a", "x", "good_review")] == w.good_review > 0  # but a positive one (reasons say "rated")
    assert kinds[("c", "y", "view")] == w.view and kinds[("c", "y", "cart")] == w.cart
    assert "o4" not in set(rows["basket_id"].dropna())  # guest orders have no customer to learn about
    assert not (rows["occurred_at"] == pd.Timestamp("2024-03-01 10:00")).any()  # adjustments are no signal
    early = load_interactions(tmp_wh, until="2024-01-04")
    assert early["occurred_at"].max() < pd.Timestamp("2024-01-04")
    consented = load_interactions(tmp_wh, consented_only=True)
    assert set(consented["customer_id"]) == {"a", "c"}  # b refused personalisation; c unknown = allowed


def test_check_interactions_explains_what_is_missing() -> None:
    with pytest.raises(InsufficientDataError, match="missing column"):
        check_interactions(pd.DataFrame({"customer_id": ["a"]}))
    one = pd.DataFrame({"customer_id": ["a"], "product_id": ["x"], "occurred_at": [pd.Timestamp("2024-01-01")],
                        "kind": ["purchase"], "weight": [1.0]})
    with pytest.raises(InsufficientDataError, match="at least 2 customers"):
        BuyAgain().fit(one)


def test_fp_growth_rules_match_exact_pair_counts(demo_wh: Warehouse) -> None:
    # rules use guest orders too; the model only learns from customers' orders: compare on those
    with_customer = set(demo_wh.query("SELECT order_id FROM orders WHERE customer_id IS NOT NULL")["order_id"])
    baskets = load_baskets(demo_wh)
    assert not set(baskets["basket_id"]) <= with_customer  # guest baskets do count for rules
    baskets = baskets[baskets["basket_id"].isin(with_customer)]
    rules = association_rules_from_baskets(baskets, min_support=0.005, min_baskets=15, min_confidence=0.3)
    assert len(rules) > 10
    assert (rules["baskets"] >= 15).all() and (rules["confidence"] >= 0.3).all() and (rules["lift"] >= 1).all()
    # the model's exact pair counting and FP-growth agree on every pair rule
    model = BuyAgain().fit(load_interactions(demo_wh), catalogue=demo_wh.query("SELECT * FROM products"))
    pairs = pd.concat([model.frequently_bought_together(a, k=1000) for a in rules["antecedent"].unique()])
    pairs = pairs.rename(columns={"product_id": "antecedent", "together_product_id": "consequent"})
    both = rules.merge(pairs, on=["antecedent", "consequent"], suffixes=("", "_exact"))
    assert len(both) == len(rules)  # every pair rule, counted exactly on demand
    assert (both["baskets"] == both["baskets_exact"]).all()
    assert both["confidence"].to_numpy() == pytest.approx(both["confidence_exact"].to_numpy())
    assert both["lift"].to_numpy() == pytest.approx(both["lift_exact"].to_numpy(), rel=1e-6)
    fbt = bought_together(rules, per_product=3)
    assert fbt.groupby("product_id").size().max() <= 3
    # fees and postage never enter the baskets
    fees = set(demo_wh.query("SELECT product_id FROM products WHERE category = 'fees & services'")["product_id"])
    assert not set(baskets["product_id"]) & fees


def test_longer_rules_and_bad_thresholds(demo_wh: Warehouse) -> None:
    baskets = load_baskets(demo_wh)
    rules = association_rules_from_baskets(baskets, min_support=0.005, min_baskets=10, min_confidence=0.5, max_len=3)
    assert rules["antecedent"].str.contains(r" \+ ").any()
    with pytest.raises(UserInputError, match="min_support"):
        association_rules_from_baskets(baskets, min_support=0)
    strict = association_rules_from_baskets(baskets, min_support=0.5)
    assert strict.empty

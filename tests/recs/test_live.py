"""Live recommendations: a visitor's and a customer's latest behaviour events shape their list at once,
with reasons naming the products (shop ids and names), removals cancel basket adds, consent fails closed."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from shoplens.errors import UserInputError
from shoplens.privacy.ids import to_internal
from shoplens.recs.base import RecFilters
from shoplens.recs.live import LiveOptions, activity, blend, item_neighbours, live_lists, recent_signals
from shoplens.recs.service import NOT_PERSONALISED, load_model, recommend, train

HEART = "85123A"  # CREAM HANGING HEART T-LIGHT HOLDER
CAKESTAND = "22423"  # REGENCY CAKESTAND 3 TIER
PSEUDONYM = re.compile(r"\bc[0-9a-f]{20}\b")


@pytest.fixture()
def shop(demo_wh):
    """The demo shop with an item-kNN recommender trained on it (the demo trains the hybrid)."""
    train(demo_wh, model="item_knn")
    return demo_wh


def add_events(wh, shop_id: str, events: list[tuple[str, str]], at: str | pd.Timestamp = "2026-01-01 10:00") -> None:
    """(event_type, product_id) rows for a shop id, one second apart from ``at``, as the collector stores them."""
    internal = to_internal(wh, [shop_id])[0]
    start = pd.Timestamp(at)
    for i, (kind, product) in enumerate(events):
        wh.con.execute("INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at) "
                       "VALUES (?, 's1', ?, ?, ?)", [internal, kind, product, start + pd.Timedelta(seconds=i)])


def live(wh, shop_id: str, k: int = 5, **options) -> pd.DataFrame:
    return recommend(wh, [shop_id], k=k, live=True, **options)


def test_a_new_visitor_gets_popular_then_personal_items_naming_the_viewed_product(shop):
    before = live(shop, "visitor-1")
    assert not before["personalised"].any() and set(before["reason"]) == {NOT_PERSONALISED}
    add_events(shop, "visitor-1", [("view", HEART)])
    after = live(shop, "visitor-1")
    assert after["personalised"].all() and after["customer_id"].eq("visitor-1").all()
    assert set(after["reason"]) == {"because you viewed CREAM HANGING HEART T-LIGHT HOLDER (85123A)"}
    assert HEART not in set(after["product_id"])  # the product itself is not offered back
    assert all(0 <= s <= 1 for s in after["score"])
    # the neighbours come from the served model's item-item similarity, best first
    _, model = load_model(shop)
    similarity = item_neighbours(model)
    col = model.products_.get_loc(HEART)
    row = similarity[col]
    others = row.indices != col  # (a product is its own nearest neighbour)
    best = model.products_[row.indices[others][row.data[others].argmax()]]
    assert after["product_id"].iloc[0] == best
    # the batch path (live=False) still answers from the model alone
    assert set(recommend(shop, ["visitor-1"], k=5)["reason"]) == {"popular now"}


def test_a_basket_add_outweighs_an_older_view_and_a_removal_cancels_it(shop):
    add_events(shop, "visitor-2", [("view", HEART), ("cart", CAKESTAND)])
    carted = live(shop, "visitor-2")
    assert carted["reason"].iloc[0] == "because you put REGENCY CAKESTAND 3 TIER (22423) in your basket"
    assert not {HEART, CAKESTAND} & set(carted["product_id"])
    add_events(shop, "visitor-2", [("remove_cart", CAKESTAND)], at="2026-01-01 10:05")
    removed = live(shop, "visitor-2")
    assert set(removed["reason"]) == {"because you viewed CREAM HANGING HEART T-LIGHT HOLDER (85123A)"}
    signals = recent_signals(shop, to_internal(shop, ["visitor-2"]))
    assert signals["product_id"].tolist() == [HEART] and signals["kind"].tolist() == ["view"]
    # viewed before it was carted and removed: the view stays
    add_events(shop, "visitor-2", [("view", CAKESTAND), ("cart", CAKESTAND), ("remove_cart", CAKESTAND)],
               at="2026-01-01 10:10")
    signals = recent_signals(shop, to_internal(shop, ["visitor-2"]))
    assert dict(zip(signals["product_id"], signals["kind"])) == {CAKESTAND: "view", HEART: "view"}
    assert signals["product_id"].tolist() == [CAKESTAND, HEART]  # latest first
    latest = recent_signals(shop, to_internal(shop, ["visitor-2", "visitor-3"]), options=LiveOptions(recent=1))
    assert latest["product_id"].tolist() == [CAKESTAND] and str(latest["last_at"].iloc[0]) == "2026-01-01 10:10:02"


def test_a_purchase_names_what_was_bought_and_is_not_offered_again(shop):
    add_events(shop, "visitor-3", [("view", HEART), ("purchase", CAKESTAND)])
    recs = live(shop, "visitor-3", k=10)
    assert recs["reason"].iloc[0] == "because you bought REGENCY CAKESTAND 3 TIER (22423)"
    assert CAKESTAND not in set(recs["product_id"]) and HEART not in set(recs["product_id"])


def test_a_known_customer_blends_history_with_the_live_session(shop):
    history = recommend(shop, ["17850"], k=6)
    assert live(shop, "17850", k=6).equals(history)  # no new events: the model's list
    add_events(shop, "17850", [("view", CAKESTAND)])
    blended = live(shop, "17850", k=6)
    live_rows = blended["reason"].str.contains("because you viewed REGENCY CAKESTAND 3 TIER")
    assert live_rows.sum() == 3 and blended["product_id"].is_unique
    # interleaved, the live list first; the rest is the customer's history, in its order
    assert live_rows.tolist() == [True, False] * 3
    assert blended.loc[~live_rows, "product_id"].tolist() == history["product_id"].head(3).tolist()
    assert blended["customer_id"].eq("17850").all() and blended["rank"].tolist() == [1, 2, 3, 4, 5, 6]


def test_a_known_customers_events_from_before_the_model_are_not_live(shop):
    history = recommend(shop, ["17850"], k=5)
    add_events(shop, "17850", [("view", CAKESTAND)], at="2010-12-01 09:00")  # before the training end
    assert live(shop, "17850").equals(history)


def test_consent_fails_closed_for_visitors_and_customers(shop):
    add_events(shop, "visitor-4", [("view", HEART)])
    # a visitor known only from events was never asked: the shop's default decides, as for customers
    assert live(shop, "visitor-4")["personalised"].all()
    opt_in = live(shop, "visitor-4", consent_default={"personalization": False})
    assert not opt_in["personalised"].any() and set(opt_in["reason"]) == {NOT_PERSONALISED}
    refused_internal = shop.con.execute("SELECT customer_id FROM customers WHERE consent_personalization = FALSE "
                                        "ORDER BY customer_id LIMIT 1").fetchone()[0]
    shop.con.execute("INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at) "
                     "VALUES (?, 's1', 'view', ?, TIMESTAMP '2026-01-01 10:00')", [refused_internal, HEART])
    from shoplens.privacy.ids import to_external

    refused = to_external(shop, [refused_internal])[0]
    plain = live(shop, refused)
    assert not plain["personalised"].any() and set(plain["reason"]) == {NOT_PERSONALISED}


def test_options_filters_and_the_horizon(shop):
    add_events(shop, "visitor-5", [("view", HEART)])
    assert not live(shop, "visitor-5", live_options=LiveOptions(min_products=2))["personalised"].any()
    add_events(shop, "visitor-5", [("view", CAKESTAND)], at="2026-03-01 10:00")  # 59 days after the first view
    recs = live(shop, "visitor-5", k=10, live_options=LiveOptions(horizon_days=30))
    assert set(recs["reason"]) == {"because you viewed REGENCY CAKESTAND 3 TIER (22423)"}
    _, model = load_model(shop)
    category = model.catalogue_.set_index("product_id").at[recs["product_id"].iloc[0], "category"]
    within = live(shop, "visitor-5", k=5, filters=RecFilters(categories=(category,)))
    cats = model.catalogue_.set_index("product_id").loc[within["product_id"], "category"]
    assert (cats == category).all()
    diverse = live(shop, "visitor-5", k=5, filters=RecFilters(max_per_category=1))
    assert model.catalogue_.set_index("product_id").loc[diverse["product_id"], "category"].is_unique
    with pytest.raises(UserInputError):
        LiveOptions(recent=0)
    with pytest.raises(UserInputError):
        LiveOptions(decay=1.5)


def test_only_shop_ids_and_names_come_out(shop):
    add_events(shop, "visitor-6", [("view", HEART), ("favorite", CAKESTAND)])
    add_events(shop, "17850", [("view", HEART)])
    out = recommend(shop, ["visitor-6", "17850", "never-seen"], k=5, live=True)
    assert out["customer_id"].drop_duplicates().tolist() == ["visitor-6", "17850", "never-seen"]
    text = out.to_csv()
    assert not PSEUDONYM.search(text) and to_internal(shop, ["visitor-6"])[0] not in text
    assert out.loc[out["customer_id"] == "visitor-6", "reason"].iloc[0] == \
        "because you saved REGENCY CAKESTAND 3 TIER (22423)"
    catalogue = set(shop.query("SELECT product_id FROM products")["product_id"].astype(str))
    assert set(out["product_id"]) <= catalogue


def test_activity_counts_views_baskets_and_last_seen(shop):
    add_events(shop, "visitor-7", [("view", HEART), ("view", CAKESTAND), ("cart", CAKESTAND), ("cart", HEART),
                                   ("remove_cart", HEART)])
    counters = activity(shop, to_internal(shop, ["visitor-7"])[0])
    assert counters["events"] == 5 and counters["views"] == 2 and counters["carts"] == 2
    assert counters["last_seen"] == "2026-01-01T10:00:04"
    assert [p["product_id"] for p in counters["recently_viewed"]] == [CAKESTAND, HEART]
    assert counters["in_cart"] == [{"product_id": CAKESTAND, "name": "REGENCY CAKESTAND 3 TIER",
                                    "at": "2026-01-01T10:00:02"}]


def test_live_lists_use_the_hybrids_item_knn_neighbours(recs_data):
    from shoplens.recs.hybrid import Hybrid

    rows = recs_data["interactions"]
    model = Hybrid(als_factors=16, max_iter=30, candidates=20).fit(rows, catalogue=recs_data["catalogue"])
    assert item_neighbours(model) is model.generators_["item_knn"].similarity_
    product = model.products_[model.popular_order_[0]]
    signals = pd.DataFrame({"customer_id": ["v"], "product_id": [product], "kind": ["cart"],
                            "last_at": [pd.Timestamp("2012-01-01")]})
    out = live_lists(model, signals, k=3)
    assert out["personalised"].all() and out["reason"].str.contains(f"({product}) in your basket", regex=False).all()


def test_blend_keeps_the_better_ranked_reason_and_drops_blocked_products():
    h = pd.DataFrame({"customer_id": "a", "rank": [1, 2, 3], "product_id": ["p", "q", "s"], "score": 0.5,
                      "reason": "model", "personalised": True})
    l = h.assign(product_id=["q", "r", "s"], reason="live")
    out = blend(h, l, k=5, blocked={"s"})
    assert out["product_id"].tolist() == ["q", "p", "r"]
    assert out["reason"].tolist() == ["live", "model", "live"] and out["rank"].tolist() == [1, 2, 3]


def test_a_known_customers_live_list_leaves_out_what_they_bought_when_asked(shop):
    add_events(shop, "17850", [("view", CAKESTAND)])
    recs = live(shop, "17850", k=10, filters=RecFilters(exclude_purchased=True))
    bought = set(shop.query("SELECT DISTINCT i.product_id FROM orders o JOIN order_items i USING (order_id) "
                            "WHERE o.customer_id = ?", to_internal(shop, ["17850"]))["product_id"].astype(str))
    assert bought and not bought & set(recs["product_id"])
    assert recs["reason"].str.startswith("because you viewed REGENCY CAKESTAND").any()


def test_models_without_neighbour_lists_use_their_co_purchase_similarity():
    from shoplens.recs.models import Popularity
    from tests.recs.conftest import tiny_frame

    rows = tiny_frame([("a", "x", "2024-01-01", "purchase", 1.0), ("a", "y", "2024-01-01", "purchase", 1.0),
                       ("b", "x", "2024-01-02", "purchase", 1.0), ("b", "y", "2024-01-02", "purchase", 1.0),
                       ("c", "z", "2024-01-03", "purchase", 1.0)])
    model = Popularity().fit(rows)
    assert (item_neighbours(model) != model.explain_similarity).nnz == 0
    signals = pd.DataFrame({"customer_id": ["v"], "product_id": ["y"], "kind": ["view"],
                            "last_at": [pd.Timestamp("2024-02-01")]})
    out = live_lists(model, signals, k=2)
    assert out["product_id"].tolist() == ["x", "z"] and out["reason"].tolist() == ["because you viewed y", "popular now"]
    assert live_lists(model, signals.assign(product_id="unknown"), k=2).empty  # no known product: no live list

import pytest

from shoplens.demand.trends import market_trends
from shoplens.errors import InsufficientDataError, UserInputError


def test_rising_falling_flat_and_new_products(shop_wh):
    t = market_trends(shop_wh, level="product", until="2024-10-07", weeks=26, min_units=5).set_index("key")
    assert t.loc["P2", "trend"] == "rising" and t.loc["P2", "slope_pct_per_week"] > 0
    assert t.loc["P5", "trend"] == "falling" and t.loc["P5", "p_value"] < 0.05
    assert t.loc["P4", "trend"] == "new"
    assert t.loc["P4", "weeks_since_launch"] == 8
    assert t.loc["P4", "units_first_4_weeks"] > 0


def test_sentiment_link_flags_falling_demand_with_rising_complaints(shop_wh):
    # bad reviews of the falling product in the second half of the window only
    shop_wh.con.execute("""INSERT INTO reviews (review_id, product_id, rating, created_at) VALUES
        ('r1', 'P5', 5, TIMESTAMP '2024-04-15'), ('r2', 'P5', 4, TIMESTAMP '2024-05-01'),
        ('r3', 'P5', 1, TIMESTAMP '2024-09-01'), ('r4', 'P5', 2, TIMESTAMP '2024-09-15')""")
    t = market_trends(shop_wh, level="product", until="2024-10-07", weeks=26, min_units=5).set_index("key")
    assert t.loc["P5", "negative_share_recent"] == 1.0 and t.loc["P5", "negative_share_earlier"] == 0.0
    assert bool(t.loc["P5", "complaints_rising_while_falling"])
    assert not bool(t.loc["P2", "complaints_rising_while_falling"])


def test_text_reviews_take_precedence(shop_wh):
    shop_wh.con.execute("""CREATE TABLE text_reviews AS SELECT * FROM (VALUES
        ('t1', NULL, 'P5', NULL, TIMESTAMP '2024-09-01', 'en', 'negative', -0.8)) v(review_id, customer_id, product_id,
        order_id, created_at, language, sentiment, sentiment_score)""")
    t = market_trends(shop_wh, level="category", until="2024-10-07", weeks=26).set_index("key")
    assert t.loc["B", "sentiment_source"] == "text_reviews"
    assert t.loc["B", "negative_share_recent"] == 1.0


def test_errors(shop_wh):
    with pytest.raises(UserInputError, match="--weeks"):
        market_trends(shop_wh, weeks=3)
    with pytest.raises(InsufficientDataError, match="--min-units"):
        market_trends(shop_wh, until="2024-01-02", weeks=8)

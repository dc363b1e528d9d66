"""text analyze into the warehouse, the insight queries and erasure."""

import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.text.analyze import analyze_warehouse, forget_customers
from shoplens.text.insights import emerging_complaints, intent_mix, sentiment_trend, top_negative_aspects

REVIEW_COLUMNS = ["review_id", "customer_id", "product_id", "order_id", "created_at", "language", "sentiment",
                  "sentiment_score"]
ASPECT_COLUMNS = ["review_id", "customer_id", "product_id", "created_at", "aspect", "polarity", "evidence"]
MESSAGE_COLUMNS = ["message_id", "conversation_id", "customer_id", "created_at", "language", "intent",
                   "intent_score", "sentiment"]


def test_result_tables_have_the_contract_columns(analyzed_wh):
    wh = analyzed_wh
    assert wh.columns("text_reviews")[:8] == REVIEW_COLUMNS
    assert wh.columns("text_review_aspects") == ASPECT_COLUMNS
    assert wh.columns("text_messages")[:8] == MESSAGE_COLUMNS
    assert wh.row_count("text_reviews") == wh.row_count("reviews")
    assert wh.row_count("text_messages") == wh.query("SELECT count(*) n FROM support_messages WHERE sender='customer'")["n"][0]
    langs = dict(wh.con.execute("SELECT language, count(*) FROM text_reviews GROUP BY 1").fetchall())
    assert langs["zh"] >= 390 and langs["en"] >= 2400
    assert wh.query("SELECT count(*) n FROM _computed WHERE name LIKE 'text_%'")["n"][0] == 3


def test_analyze_is_incremental_and_follows_deletions(analyzed_wh):
    wh = analyzed_wh
    assert analyze_warehouse(wh) == {"text_reviews": 0, "text_review_aspects": 0, "text_messages": 0}
    wh.con.execute("INSERT INTO reviews (review_id, product_id, text, created_at) "
                   "VALUES ('NEW-1', '22577', '包装破损，物流太慢了', TIMESTAMP '2011-12-09 10:00:00')")
    wh.con.execute("DELETE FROM reviews WHERE review_id = (SELECT min(review_id) FROM text_review_aspects)")
    before = wh.row_count("text_reviews")
    added = analyze_warehouse(wh)
    assert added["text_reviews"] == 1 and added["text_review_aspects"] >= 2
    assert wh.row_count("text_reviews") == before  # one added, one dropped with its source
    new = wh.query("SELECT aspect, polarity FROM text_review_aspects WHERE review_id = 'NEW-1' ORDER BY aspect")
    assert set(new["aspect"]) == {"logistics", "packaging"} and set(new["polarity"]) == {"negative"}
    assert wh.query("SELECT count(*) n FROM text_review_aspects WHERE review_id NOT IN (SELECT review_id FROM reviews)")["n"][0] == 0


def test_customers_without_consent_are_not_linked(demo_wh):
    wh = demo_wh
    cid = wh.query("SELECT customer_id FROM reviews WHERE customer_id IS NOT NULL LIMIT 1")["customer_id"][0]
    wh.con.execute("UPDATE customers SET consent_personalization = FALSE WHERE customer_id = ?", [cid])
    wh.con.execute("DELETE FROM reviews WHERE review_id NOT IN (SELECT review_id FROM reviews ORDER BY review_id LIMIT 200) "
                   "AND customer_id <> ?", [cid])
    wh.con.execute("DELETE FROM support_messages WHERE message_id NOT IN (SELECT message_id FROM support_messages LIMIT 20)")
    analyze_warehouse(wh)
    linked = wh.query("SELECT count(*) n FROM text_reviews WHERE customer_id = ?", [cid])["n"][0]
    assert linked == 0
    assert wh.query("SELECT count(*) n FROM text_reviews WHERE customer_id IS NOT NULL")["n"][0] > 0


def test_forget_customers(analyzed_wh):
    wh = analyzed_wh
    cid = wh.query("SELECT customer_id FROM text_review_aspects WHERE customer_id IS NOT NULL LIMIT 1")["customer_id"][0]
    deleted = forget_customers(wh, {cid})
    assert deleted > 0
    for t in ("text_reviews", "text_review_aspects", "text_messages"):
        assert wh.query(f"SELECT count(*) n FROM {t} WHERE customer_id = ?", [cid])["n"][0] == 0


def test_sentiment_trend(analyzed_wh):
    t = sentiment_trend(analyzed_wh, by="all")
    assert list(t.columns) == ["period", "key", "reviews", "positive_share", "negative_share", "mean_score"]
    assert t["reviews"].sum() == analyzed_wh.row_count("text_reviews")
    assert ((t["positive_share"] + t["negative_share"]) <= 1.0 + 1e-9).all()
    by_product = sentiment_trend(analyzed_wh, by="product", product_id="22577")
    assert set(by_product["key"]) == {"22577"}
    assert "home decor" in set(sentiment_trend(analyzed_wh, by="category")["key"])
    with pytest.raises(UserInputError, match="--by"):
        sentiment_trend(analyzed_wh, by="colour")


def test_top_negative_aspects_have_quotes(analyzed_wh):
    top = top_negative_aspects(analyzed_wh, limit=5, quotes=2)
    assert len(top) == 5 and (top["negative"] > 0).all()
    assert top["negative"].is_monotonic_decreasing
    row = top.iloc[0]
    assert 1 <= len(row["quotes"]) <= 2
    evidence = set(analyzed_wh.query("SELECT evidence FROM text_review_aspects WHERE polarity='negative'")["evidence"])
    assert set(row["quotes"]) <= evidence


def test_emerging_complaints_flags_a_real_jump(tmp_wh):
    rows = []
    for month, neg_logistics in (("2024-01-15", 5), ("2024-02-15", 40)):
        for i in range(100):
            rows.append({"review_id": f"{month}-{i}", "customer_id": None, "product_id": "p", "created_at": month,
                         "aspect": "logistics", "polarity": "negative" if i < neg_logistics else "positive", "evidence": "x"})
            rows.append({"review_id": f"{month}-{i}", "customer_id": None, "product_id": "p", "created_at": month,
                         "aspect": "quality", "polarity": "negative" if i < 10 else "positive", "evidence": "y"})
    frame = pd.DataFrame(rows).assign(created_at=lambda d: pd.to_datetime(d["created_at"]))
    tmp_wh.write_table("text_review_aspects", frame)
    out = emerging_complaints(tmp_wh).set_index("aspect")
    assert bool(out.loc["logistics", "significant"]) and out.loc["logistics", "p_value"] < 1e-6
    assert not bool(out.loc["quality", "significant"])
    assert out.loc["logistics", "change"] == pytest.approx(0.35)
    with pytest.raises(InsufficientDataError, match="first"):
        emerging_complaints(tmp_wh, at="2024-01-20")
    with pytest.raises(UserInputError, match="no aspect mentions"):
        emerging_complaints(tmp_wh, at="2023-05-01")


def test_intent_mix_shares(analyzed_wh):
    mix = intent_mix(analyzed_wh)
    assert list(mix.columns) == ["period", "intent", "messages", "share"]
    assert mix.groupby("period")["share"].sum().round(6).eq(1).all()


def test_insights_before_analyze(tmp_wh):
    with pytest.raises(InsufficientDataError, match="text analyze"):
        intent_mix(tmp_wh)

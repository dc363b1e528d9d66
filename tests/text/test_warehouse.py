"""text analyze into the warehouse, the insight queries and erasure."""

import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError, UserInputError
import re

from shoplens.text.analyze import analyze_warehouse, forget_customers, refit_topics
from shoplens.text.insights import (emerging_complaints, intent_mix, review_topics, sentiment_trend, top_entities,
                                    top_negative_aspects)

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
    assert wh.query("SELECT count(*) n FROM _computed WHERE name LIKE 'text_%'")["n"][0] == 6
    assert wh.columns("text_entities") == ["source", "id", "customer_id", "field", "type", "value", "start", "end"]


def test_analyze_is_incremental_and_follows_deletions(analyzed_wh):
    wh = analyzed_wh
    assert analyze_warehouse(wh) == {"text_reviews": 0, "text_review_aspects": 0, "text_messages": 0,
                                     "text_entities": 0}
    wh.con.execute("INSERT INTO reviews (review_id, product_id, text, created_at) "
                   "VALUES ('NEW-1', '22577', '包装破损，物流太慢了，订单号 88213456 的红色外套 299元', TIMESTAMP '2011-12-09 10:00:00')")
    wh.con.execute("DELETE FROM reviews WHERE review_id = (SELECT min(review_id) FROM text_review_aspects)")
    before = wh.row_count("text_reviews")
    added = analyze_warehouse(wh)
    assert added["text_reviews"] == 1 and added["text_review_aspects"] >= 2
    assert wh.row_count("text_reviews") == before  # one added, one dropped with its source
    new = wh.query("SELECT aspect, polarity FROM text_review_aspects WHERE review_id = 'NEW-1' ORDER BY aspect")
    new = new[new["aspect"].isin(["logistics", "packaging"])]
    assert set(new["aspect"]) == {"logistics", "packaging"} and set(new["polarity"]) == {"negative"}
    assert wh.query("SELECT count(*) n FROM text_review_aspects WHERE review_id NOT IN (SELECT review_id FROM reviews)")["n"][0] == 0
    ents = wh.query("SELECT type, value FROM text_entities WHERE id = 'NEW-1' ORDER BY start")
    assert list(zip(ents["type"], ents["value"])) == [("order_id", "88213456"), ("colour", "红色"), ("amount", "299元")]
    assert wh.query("SELECT count(*) n FROM text_entities WHERE source = 'review' "
                    "AND id NOT IN (SELECT review_id FROM reviews)")["n"][0] == 0
    assert added["text_topics"] > 0  # reviews changed: topics refitted
    assert wh.query("SELECT count(*) n FROM text_review_topics WHERE review_id = 'NEW-1'")["n"][0] <= 1


# its small warehouse once stopped NMF at max_iter (a ConvergenceWarning on the user's console)
@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
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
    theirs = set(wh.query("SELECT review_id FROM text_review_topics WHERE customer_id = ?", [cid])["review_id"])
    for t in ("text_reviews", "text_review_aspects", "text_messages", "text_entities", "text_review_topics"):
        assert wh.query(f"SELECT count(*) n FROM {t} WHERE customer_id = ?", [cid])["n"][0] == 0
    examples = {i for xs in wh.query("SELECT example_review_ids FROM text_topics")["example_review_ids"] for i in xs}
    assert not examples & theirs


def test_privacy_erasure_finds_the_new_text_tables(analyzed_wh):
    from shoplens.privacy.erasure import targets

    found = {t for t, _, _ in targets(analyzed_wh)}
    assert {"text_entities", "text_review_topics", "text_reviews", "text_messages"} <= found


def test_entities_found_in_real_reviews_and_messages(analyzed_wh):
    wh = analyzed_wh
    rows = wh.query("""SELECT e.*, CASE WHEN e.source = 'message' THEN m.text WHEN e.field = 'title' THEN r.title
                              ELSE r.text END AS src
                       FROM text_entities e LEFT JOIN reviews r ON e.source = 'review' AND r.review_id = e.id
                       LEFT JOIN support_messages m ON e.source = 'message' AND m.message_id = e.id""")
    assert all(src[a:b] == v for src, a, b, v in zip(rows["src"], rows["start"], rows["end"], rows["value"]))
    counts = rows.groupby(["source", "type"]).size()
    assert counts[("review", "colour")] >= 500 and counts[("review", "size")] >= 200
    # every Bitext message naming "order <number>" yields that order number
    msgs = wh.query("SELECT message_id, text FROM support_messages WHERE sender = 'customer'")
    expected = {(i, m.group(1)) for i, t in zip(msgs["message_id"], msgs["text"])
                for m in re.finditer(r"\border (\d{6,})", str(t), re.IGNORECASE)}
    got = set(zip(rows.loc[rows["type"] == "order_id", "id"], rows.loc[rows["type"] == "order_id", "value"]))
    assert len(expected) >= 20 and expected <= got
    top = top_entities(wh, type="colour", source="review", limit=3)
    assert top["value"].tolist()[0] == "black" and (top["in_messages"] == 0).all()
    with pytest.raises(UserInputError, match="--type"):
        top_entities(wh, type="shoe")


def test_topics_stored_per_language(analyzed_wh):
    wh = analyzed_wh
    topics = review_topics(wh)
    assert set(topics["language"]) == {"en", "zh"} and len(topics) == 16
    assignments = wh.query("SELECT language, count(*) n FROM text_review_topics GROUP BY 1")
    assert assignments["n"].sum() == topics["reviews"].sum() <= wh.row_count("text_reviews")
    assert topics.groupby("language")["share"].sum().round(6).eq(1).all()
    en = topics[topics["language"] == "en"]
    assert any("small" in t or "large" in t for t in en["terms"])  # the clothing reviews' sizing topic
    assert all(q for q in topics["quotes"])
    assert refit_topics(wh, n_topics=3) == 6
    assert len(review_topics(wh, language="zh")) == 3


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
    # a quote is a negative mention's evidence, or its negative part, cut at a word boundary (an ellipsis)
    assert all(any(q.removesuffix("…") in e for e in evidence) for q in row["quotes"])


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

import pickle

import numpy as np
import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError, NotFittedError, UserInputError
from shoplens.text.classifier import TextClassifier
from shoplens.text.entities import EntityExtractor
from shoplens.text.normalize import clauses, detect_language, normalize, words
from shoplens.text.sentiment import labels_from_ratings, normalize_labels
from shoplens.text.topics import discover_topics


def test_normalize_full_width_case_punctuation_emoji():
    assert normalize("ＡＢＣ！！！！！好😀") == "abc!!好😀"
    assert normalize(None) == "" and normalize(float("nan")) == ""
    assert normalize("  a \n b ") == "a b"


@pytest.mark.parametrize("text,lang", [
    ("质量很好，物流很快", "zh"), ("这个iPhone壳很好看", "zh"), ("The fit is great", "en"),
    ("cancel order", "en"), ("Ich möchte meine Bestellung stornieren bitte", "other"), ("", "other"), ("😀👍", "other"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_words_and_clauses():
    assert words("物流很快") == ["物流", "很快"]
    assert words("Runs SMALL!") == ["runs", "small", "!"]
    assert clauses("Love the color but the fabric is thin.") == ["Love the color", "the fabric is thin"]


def test_classifier_learns_and_pickles_compactly():
    texts = ["好 很好 推荐", "差 很差 退货", "很好 满意", "太差 失望"] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    m = TextClassifier(n_features=2**14).fit(texts, labels)
    assert m.predict(["很好 推荐", "很差 失望"]).tolist() == ["pos", "neg"]
    proba = m.predict_proba(["满意"])
    assert proba.shape == (1, 2) and np.isclose(proba.sum(), 1)
    blob = pickle.dumps(m)
    assert len(blob) < 2 * 2**14 * 2  # float16, compressed: far below the dense float32 size
    again = pickle.loads(blob)
    assert np.allclose(again.predict_proba(["满意"]), proba, atol=1e-3)


def test_classifier_multiclass_and_errors():
    m = TextClassifier(n_features=2**12, nb=False).fit(["a b", "c d", "e f"] * 3, ["x", "y", "z"] * 3)
    assert m.predict_proba(["a"]).shape == (1, 3)
    with pytest.raises(NotFittedError):
        TextClassifier().predict(["x"])
    with pytest.raises(InsufficientDataError):
        TextClassifier().fit(["a", "b"], ["x", "x"])


def test_labels_from_ratings_and_label_words():
    assert labels_from_ratings([1, 2, 3, 4, 5]) == ["negative", "negative", "neutral", "positive", "positive"]
    with pytest.raises(UserInputError, match="row 2"):
        labels_from_ratings([5, 9])
    with pytest.raises(UserInputError, match="not a number"):
        labels_from_ratings(["five"])
    assert normalize_labels(["1", 0, "POS", "neutral"]) == ["positive", "negative", "positive", "neutral"]
    with pytest.raises(UserInputError, match="'maybe'"):
        normalize_labels(["maybe"])


def test_entities():
    ex = EntityExtractor.from_products(["Jumbo Bag Red Retrospot"], ["Pilcro"])
    found = ex.extract("订单号 88213456 的红色外套 299元，2011年3月2日到货；my jumbo bag red retrospot by pilcro, size 8, $12.50")
    kinds = {(e["type"], e["text"]) for e in found}
    assert ("order_id", "88213456") in kinds
    assert ("amount", "299元") in kinds and ("amount", "$12.50") in kinds
    assert ("date", "2011年3月2日") in kinds
    assert ("size", "size 8") in kinds
    assert ("product", "jumbo bag red retrospot") in kinds and ("brand", "pilcro") in kinds
    assert all(found_text == text[e["start"]:e["end"]] for e in found for found_text, text in
               [(e["text"], "订单号 88213456 的红色外套 299元，2011年3月2日到货；my jumbo bag red retrospot by pilcro, size 8, $12.50")])
    assert EntityExtractor().extract("") == []


def test_entity_patterns_for_ascii_text_match_the_full_ones():
    from shoplens.text.entities import _PATTERNS_ASCII, PATTERNS

    texts = ["Order No. 12345 cost $5 usd on jan 3rd, XL, size 10 grey", "paid 12.5 dollars on Mar. 5 for #A12345",
             "order#99887766 2011-03-02 and 2011/3/2, size m, xxl and navy-blue", "ordered 3 pounds, s m l, 15 gbp",
             "Wore it to dinner. Runs a size small; the olive is darker than shown. 2 stars", "order 1234"]
    for text in texts:
        low = text.lower()
        full = [(k, m.span()) for k, p, _ in PATTERNS for m in p.finditer(low)]
        ascii_only = [(k, m.span()) for k, p, _ in _PATTERNS_ASCII for m in p.finditer(low)]
        assert full == ascii_only and full, text
    assert [k for k, _, _ in PATTERNS] == [k for k, _, _ in _PATTERNS_ASCII]


def test_topics_separate_clear_themes():
    texts = (["物流很快 快递给力 送货及时"] * 10 + ["面料舒服 质量很好 做工精细"] * 10)
    topics, assignment = discover_topics(texts, n_topics=2, seed=0)
    assert set(assignment[:10]) != set(assignment[10:])
    assert topics["reviews"].sum() == 20 and all(len(e) == 3 for e in topics["examples"])
    with pytest.raises(InsufficientDataError):
        discover_topics(["a"], n_topics=3)


def test_hand_made_data_is_consistent():
    from pathlib import Path

    from shoplens.text.aspects import ASPECTS
    from shoplens.text.intent import INTENTS

    d = Path(__file__).parents[1] / "data" / "text"
    asp = pd.read_csv(d / "zh_aspects.csv", dtype=str).fillna("")
    assert asp["review_id"].nunique() >= 300
    labelled = asp[asp["aspect"] != ""]
    assert set(labelled["aspect"]) <= set(ASPECTS)
    assert set(labelled["polarity"]) <= {"positive", "negative", "neutral"}
    assert all(e in t for e, t in zip(labelled["evidence"], labelled["text"]))
    train, test = pd.read_csv(d / "zh_intents_train.csv"), pd.read_csv(d / "zh_intents_test.csv")
    assert set(train["intent"]) == set(INTENTS) | {"other"} == set(test["intent"])
    assert not set(train["text"]) & set(test["text"])

"""The shipped models: loadable, small, and right on clear cases and the hand-written zh intent test set."""

from pathlib import Path

import pandas as pd

from shoplens.text.analyze import extract_aspects, score_intent, score_sentiment
from shoplens.text.aspects import AspectExtractor
from shoplens.text.models import MODEL_FILES, load_model, models_dir

DATA = Path(__file__).parents[1] / "data" / "text"


def test_shipped_models_exist_and_are_small():
    for name, file in MODEL_FILES.items():
        path = models_dir() / file
        assert path.is_file(), name
        assert path.stat().st_size < 6_000_000, f"{name} is too large to ship"


def test_sentiment_zh_and_en():
    out = score_sentiment([
        "质量非常好，物流也快，很满意", "太差了，用了两天就坏了，退货", "Absolutely love this dress, fits perfectly",
        "Terrible quality, it ripped after one wash. Returning it.", "",
    ])
    assert out["language"].tolist() == ["zh", "zh", "en", "en", "other"]
    assert out["sentiment"].tolist()[:4] == ["positive", "negative", "positive", "negative"]
    assert out["sentiment_score"].iloc[0] > 0.9 and out["sentiment_score"].iloc[1] < 0.1
    assert pd.isna(out["sentiment_score"].iloc[4]) and out["sentiment"].iloc[4] == "neutral"


def test_forced_language():
    out = score_sentiment(["good"], lang="zh")
    assert out["language"].tolist() == ["zh"]


def test_intent_clear_cases():
    out = score_intent(["I want to cancel my order 12345", "我的快递到哪了", "帮我转人工客服",
                        "what's the weather tomorrow in Paris?", ""])
    assert out["intent"].tolist() == ["cancel_order", "track_order", "contact_human_agent", "other", "other"]
    assert out["intent_score"].iloc[0] > 0.5


def test_zh_intent_hand_written_test_set():
    test = pd.read_csv(DATA / "zh_intents_test.csv")
    pred = score_intent(test["text"].tolist())["intent"]
    accuracy = (pred.values == test["intent"].values).mean()
    assert accuracy >= 0.75, accuracy


def test_category_model():
    cat = load_model("category")
    assert cat.predict(["这件衣服面料很舒服，尺码合适", "酒店房间干净，前台服务好"]).tolist() == ["衣服", "酒店"]


def test_aspects_with_polarity_and_evidence():
    found = extract_aspects(["物流很快，但是质量太差了，客服也不理人", "The color is gorgeous but the fabric is cheap and scratchy, very disappointed"])
    zh = {a["aspect"]: a for a in found[0]}
    assert zh["logistics"]["polarity"] == "positive" and zh["logistics"]["evidence"] == "物流很快"
    assert zh["quality"]["polarity"] == "negative"
    en = {a["aspect"]: a["polarity"] for a in found[1]}
    assert en["appearance"] == "positive" and en["quality"] == "negative"


def test_aspect_lexicon_is_extensible():
    ex = AspectExtractor(lexicon={"en": {"battery": ("battery",)}})
    assert ex.mentions("the battery died", "en") == [{"aspect": "battery", "evidence": "the battery died"}]


def test_zh_aspect_detection_on_hand_labelled_reviews():
    gold = pd.read_csv(DATA / "zh_aspects.csv", dtype=str).fillna("")
    texts = gold.drop_duplicates("review_id")
    ex = AspectExtractor()
    pred = {(r, m["aspect"]) for r, t in zip(texts["review_id"], texts["text"]) for m in ex.mentions(t, "zh")}
    truth = {(r, a) for r, a in zip(gold["review_id"], gold["aspect"]) if a}
    tp = len(pred & truth)
    f1 = 2 * tp / (len(pred) + len(truth))
    assert f1 >= 0.5, f1

import numpy as np
import pandas as pd
import pytest

from shoplens.base import Model
from shoplens.errors import UserInputError
from shoplens.text.classifier import NgramClassifier, TextClassifier
from shoplens.text.models import load_model, model_metadata, models_dir
from shoplens.text.sentiment import SentimentModel, evaluate_and_train, train_sentiment

POS = ["质量很好，推荐", "很满意，物流快", "好评，下次还买", "非常好用，喜欢", "包装好，质量好", "不错，值得购买"]
NEG = ["质量很差，退货", "很失望，物流慢", "差评，不会再买", "非常难用，后悔", "包装破了，质量差", "太差了，不值"]


def test_sentiment_model_fits_a_copy_of_any_classifier(tmp_path):
    for clf in [NgramClassifier((1, 3), min_df=1, nb_C=3.0), TextClassifier(n_features=2**12)]:
        m = SentimentModel(clf, neutral_band=0.0).fit((POS + NEG) * 5, ([1] * 6 + [0] * 6) * 5)
        assert type(m.model_) is type(clf) and not clf.is_fitted()
        labels, p = m.predict(["质量很好", "太差了，退货"])
        assert labels.tolist() == ["positive", "negative"] and p[0] > 0.5 > p[1]
        assert m.binary(["质量很好", "太差了"]).tolist() == [1, 0]
        again = SentimentModel.load(m.save(tmp_path / "m.pkl"))
        assert np.allclose(again.positive_proba(POS), m.positive_proba(POS), atol=2e-3)


def test_neutral_band_of_a_binary_model():
    m = SentimentModel(NgramClassifier((1, 2), min_df=1), neutral_band=0.49).fit(POS + NEG, [1] * 6 + [0] * 6)
    labels, p = m.predict(POS + NEG)
    assert set(labels) == {"neutral"}  # every probability is within 0.49 of 0.5 on so little data
    assert (m.binary(POS + NEG) == (p >= 0.5)).all()


def test_train_sentiment_uses_the_fast_ngram_recipe():
    frame = pd.DataFrame({"t": (POS + NEG) * 3, "y": (["pos"] * 6 + ["neg"] * 6) * 3})
    m = train_sentiment(frame, "t", label_column="y")
    assert m.language == "zh" and m.model_.ngram_range == (1, 5) and m.model_.word_ngrams is None
    assert isinstance(m.model_, NgramClassifier) and m.model_.coef_.shape[0] == 2  # LR + NB-LR heads
    assert m.predict(["质量很好，喜欢"])[0].tolist() == ["positive"]
    stars = pd.DataFrame({"t": (POS + NEG + ["一般般", "还行吧"]) * 3, "r": ([5] * 6 + [1] * 6 + [3, 3]) * 3})
    model, report = evaluate_and_train(stars, "t", rating_column="r")
    assert report["classes"] == ["negative", "neutral", "positive"] and model.model_.coef_.shape[0] == 3
    assert report["language"] == "zh"
    with pytest.raises(UserInputError):
        train_sentiment(frame, "t")


def test_shipped_zh_model_is_fast_ngram_model_and_small():
    m = load_model("zh_sentiment")
    assert isinstance(m, Model) and isinstance(m.model_, NgramClassifier)
    assert (models_dir() / "zh_sentiment.pkl").stat().st_size < 6_000_000  # 4.1 MB + the 1.2 MB clause model (issue #20)
    labels, p = m.predict(["质量很好，物流也快，推荐", "质量太差了，已经退货", "屏幕刚刚好，不错", "用了两天就坏了，后悔"])
    assert labels.tolist() == ["positive", "negative", "positive", "negative"]
    assert "train split" in model_metadata("zh_sentiment")["data"]


def test_train_sentiment_picks_the_word_recipe_for_english():
    good = ["love it, great quality", "perfect fit and lovely colour", "beautiful, would buy again", "so soft and comfy"]
    bad = ["awful, fell apart", "cheap fabric, returned", "terrible fit, very disappointed", "ripped after one wash"]
    frame = pd.DataFrame({"t": (good + bad) * 4 + ["质量很好"] * 3, "y": ([1] * 4 + [0] * 4) * 4 + [1] * 3})
    m = train_sentiment(frame, "t", label_column="y")  # 32 of 35 texts are English
    assert m.language == "en" and m.model_.ngram_range is None and m.model_.word_ngrams == (1, 3)
    assert m.predict(["great quality, love it"])[0].tolist() == ["positive"]
    forced = train_sentiment(frame, "t", label_column="y", language="zh")
    assert forced.language == "zh" and forced.model_.ngram_range == (1, 5)
    with pytest.raises(UserInputError, match="--lang 'fr'"):
        train_sentiment(frame, "t", label_column="y", language="fr")


# -- issue #20: contrast view, class balance adaptation, self-training, --adapt-to ------------------------
from shoplens.text.sentiment import contrast_view, self_train  # noqa: E402

_POS = ["great quality love it", "love the colour", "perfect fit great", "excellent and soft", "great value love"]
_NEG = ["terrible quality", "awful fit returned", "bad colour hate it", "poor and scratchy", "terrible value bad"]


def _toy_model(**kw) -> SentimentModel:
    texts, labels = (_POS + _NEG) * 3, ([1] * 5 + [0] * 5) * 3
    return SentimentModel(NgramClassifier(ngram_range=None, word_ngrams=(1, 2), min_df=1, C=10.0), **kw).fit(texts, labels)


@pytest.mark.parametrize("text, lang, view", [
    ("not bad at all, actually quite good", "en", "quite good"),
    ("The colour is lovely but it shrank in the wash", "en", "it shrank in the wash"),
    ("Although it looks nice, it's uncomfortable", "en", "it's uncomfortable"),
    ("Love it", "en", None),
    ("物流慢了点，不过衣服本身非常好", "zh", "衣服本身非常好"),
    ("虽然好看，但穿着不舒服", "zh", "穿着不舒服"),
    ("除了发货慢点，其他都很满意", "zh", "其他都很满意"),
    ("质量很好", "zh", None),
])
def test_contrast_view(text: str, lang: str, view: str | None) -> None:
    assert contrast_view(text, lang) == view


def test_contrast_weight_mixes_in_the_part_after_the_contrast() -> None:
    off, on = _toy_model(), _toy_model(contrast_weight=0.8)
    text = ["terrible colour but great quality love it"]
    p_off, p_on = off.positive_proba(text)[0], on.positive_proba(text)[0]
    p_view = off.positive_proba(["great quality love it"])[0]
    assert p_on == pytest.approx(0.2 * p_off + 0.8 * p_view, abs=1e-5)
    assert on.positive_proba(["love the colour"])[0] == pytest.approx(off.positive_proba(["love the colour"])[0])


def test_adapt_re_estimates_the_class_balance_without_labels() -> None:
    m = _toy_model()
    assert m.train_prior_.tolist() == [0.5, 0.5] and m.class_shift_ is None
    mostly_negative = ["terrible quality", "awful colour", "bad fit", "poor value", "hate it", "love it"] * 5
    before = m.positive_proba(["quality"])[0]
    m.adapt(mostly_negative)
    assert m.target_prior_[0] > 0.6  # negative is the first class
    assert m.positive_proba(["quality"])[0] < before  # an unsure text leans to the target's majority
    with pytest.raises(Exception):
        SentimentModel().adapt(["x"])  # not fitted


def test_self_train_learns_words_of_the_target_domain() -> None:
    m = _toy_model()
    target = ["great delivery rider love it", "rider was great", "terrible rider late", "awful rider bad"] * 5
    adapted = self_train(m, (_POS + _NEG) * 3, (["positive"] * 5 + ["negative"] * 5) * 3, target, share=0.5)
    assert adapted is not m and adapted.adapted_on_ == len(target)
    vocab_before = len(m.model_.vocabulary_.keys_)
    assert len(adapted.model_.vocabulary_.keys_) > vocab_before  # n-grams of the pseudo-labelled target texts
    with pytest.raises(UserInputError):
        self_train(m, _POS + _NEG, ["positive"] * 5 + ["negative"] * 5, ["", "  "])


# -- issue #20 part 2: polarity shifters (negation scope, contrast) with a clause model ---------------------
from shoplens.text.sentiment import clause_model_data, shifted_clauses  # noqa: E402


@pytest.mark.parametrize("text, lang, parts", [
    ("Not bad at all, actually quite good", "en", [("bad at all", "before", True), ("quite good", "after", False)]),
    ("It isn't good", "en", [("it is good", "negated", True)]),
    ("Looks great though", "en", [("looks great", "after", False)]),
    ("Love it", "en", []),
    ("Although it came late, it works well", "en", [("it works well", "after", False)]),  # concessive, then the verdict
    ("虽然贵，质量很好", "zh", [("质量很好", "after", False)]),
    ("一点都不差，还挺好的", "zh", [("差", "negated", True)]),
    ("是不是正品", "zh", []),  # an A-not-A question is not a negation
])
def test_shifted_clauses(text: str, lang: str, parts: list) -> None:
    assert shifted_clauses(text, lang)[0] == parts


def test_clause_model_data_reads_negated_clauses_with_the_opposite_label() -> None:
    assert clause_model_data(["Love it, no complaints"], ["positive"], "en") == (
        ["Love it", "complaints"], ["positive", "negative"])
    assert clause_model_data(["Love it, no complaints"], ["positive"], "en", flipped=False) == (["Love it"], ["positive"])


def test_shift_weights_read_a_negated_opinion_through_the_clause_model(tmp_path) -> None:
    off = _toy_model()
    on = _toy_model(shift_weights=(4, 1, 0, 1))
    assert off.view_model_ is None and on.view_model_ is not None
    text = ["not terrible quality"]
    assert on.positive_proba(text)[0] > off.positive_proba(text)[0]
    assert on.positive_proba(text)[0] > 0.5  # "terrible quality" read un-negated, then swapped
    assert on.positive_proba(["love the colour"])[0] == pytest.approx(off.positive_proba(["love the colour"])[0])
    on.save(tmp_path / "m.pkl")
    again = SentimentModel.load(tmp_path / "m.pkl")
    assert again.shift_weights == (4, 1, 0, 1)
    assert again.positive_proba(text)[0] == pytest.approx(on.positive_proba(text)[0], abs=1e-3)  # float16 weights


def test_clause_texts_train_only_the_clause_model_and_clause_weight_uses_it() -> None:
    texts, labels = (_POS + _NEG) * 3, ([1] * 5 + [0] * 5) * 3
    make = lambda **kw: SentimentModel(NgramClassifier(ngram_range=None, word_ngrams=(1, 2), min_df=1, C=10.0),  # noqa: E731
                                       shift_weights=(1, 1, 0, 1), **kw)
    plain = make().fit(texts, labels)
    more = make(clause_weight=1.0).fit(texts, labels, ["zipper jammed", "zipper jammed again"] * 3, [0, 0] * 3)
    assert len(more.model_.vocabulary_.keys_) == len(plain.model_.vocabulary_.keys_)
    assert more.clause_positive_proba(["zipper jammed"])[0] < plain.clause_positive_proba(["zipper jammed"])[0]
    assert plain.clause_positive_proba(["love it"])[0] == pytest.approx(plain.positive_proba(["love it"])[0])


def test_the_clause_model_can_use_a_smaller_recipe() -> None:
    small = NgramClassifier(ngram_range=None, word_ngrams=(1, 1), min_df=1, C=1.0)
    m = _toy_model(shift_weights=(1, 1, 0, 1), clause_classifier=small)
    assert m.view_model_.word_ngrams == (1, 1) and m.model_.word_ngrams == (1, 2)
    assert m.clause_classifier is small  # the constructor only stores it


def test_shipped_zh_model_reads_negated_opinions() -> None:
    import copy

    m = load_model("zh_sentiment")
    assert m.shift_weights is not None and m.view_model_ is not None
    plain = copy.copy(m)
    plain.shift_weights = None
    negated_negatives = ["做工不粗糙", "味道不难闻", "用着不卡"]  # written for this test, not in any evaluation set
    assert (m.positive_proba(negated_negatives) > 0.6).all()
    assert (m.positive_proba(negated_negatives) > plain.positive_proba(negated_negatives) + 0.15).all()
    assert m.predict(["衣服不好看", "质量不行", "很好用"])[0].tolist() == ["negative", "negative", "positive"]


def test_analyze_reads_aspect_clauses_with_the_clause_model_when_clause_weight_is_set() -> None:
    from shoplens.text.analyze import analyze_reviews

    texts, labels = (_POS + _NEG) * 3, ([1] * 5 + [0] * 5) * 3
    make = lambda w: SentimentModel(NgramClassifier(ngram_range=None, word_ngrams=(1, 2), min_df=1, C=10.0),  # noqa: E731
                                    language="en", shift_weights=(1, 1, 0, 1), clause_weight=w).fit(
        texts, labels, ["the stitching frayed"] * 6, [0] * 6)  # only the clause model learns these words
    review = ["love it. the stitching frayed"]
    off, on = (analyze_reviews(review, "en", models={"en_sentiment": make(w)}, workers=1).iloc[0] for w in (0.0, 4.0))
    assert off["sentiment"] == on["sentiment"] == "positive"  # the review's own reading is unchanged
    assert [a["aspect"] for a in on["aspects"]] == ["quality"]
    assert off["aspects"][0]["polarity"] != "negative" and on["aspects"][0]["polarity"] == "negative"


from shoplens.text.sentiment import negation_scope  # noqa: E402


@pytest.mark.parametrize("text, marked", [
    ("The stitching isn't bad at all, it feels solid.", "the stitching isn't negbad negat negall, it feels solid."),
    ("Not cheap, but worth every penny", "not negcheap, but worth every penny"),
    ("No regrets and I love it", "no negregrets and i love it"),
    ("It doesn’t feel flimsy", "it doesn't negfeel negflimsy"),
    ("Shipping was fast", "shipping was fast"),
])
def test_negation_scope_marks_words_up_to_punctuation_or_a_conjunction(text: str, marked: str) -> None:
    assert negation_scope(text) == marked


def test_negation_scope_lets_the_model_learn_negated_words_apart() -> None:
    texts = ["good", "great quality", "bad", "awful fit", "not good", "not great", "not bad", "not awful"] * 3
    labels = [1, 1, 0, 0, 0, 0, 1, 1] * 3
    clf = NgramClassifier(ngram_range=None, word_ngrams=(1, 1), min_df=1, C=10.0)
    on = SentimentModel(clf, language="en", negation_scope=True).fit(texts, labels)
    off = SentimentModel(clf, language="en").fit(texts, labels)
    assert on.binary(["it is not bad", "it is bad", "good"]).tolist() == [1, 0, 1]
    assert off.binary(["it is not bad"])[0] == 0  # without the scope "not" is a word of both classes and "bad" wins


def test_shipped_en_model_reads_negated_opinions() -> None:
    m = load_model("en_sentiment")
    assert m.negation_scope
    # written for this test, not in any evaluation set
    assert m.binary(["Not disappointed in the least", "Never had a problem with it", "It's junk",
                     "Not worth the money"]).tolist() == [1, 1, 0, 0]

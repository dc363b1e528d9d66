"""Learned English aspects (issue #20): the detector, the polarity model and the shipped extractor."""

from __future__ import annotations

import numpy as np
import pytest

from shoplens.text.aspects import AspectDetector, AspectExtractor, AspectPolarity, default_extractor, en_sentences

SENTENCES = ["the battery life is great", "price is too high", "i bought it yesterday", "the menu is confusing",
             "great price for what you get", "the zoom works well", "we took it on holiday", "screen is sharp",
             "my son uses it", "cheap for a camera like this", "the lens is superb", "it came on monday"]
ASPECT_LISTS = [["function"], ["price"], [], ["function"], ["price"], ["function"], [], ["function"], [], ["price"],
                ["function"], []]


def test_en_sentences_split_after_sentence_marks():
    assert en_sentences("Great zoom. Bad battery!\nok") == ["Great zoom.", "Bad battery!", "ok"]


def test_detector_learns_aspects_with_enough_examples():
    det = AspectDetector(learned=("price", "function", "service")).fit(SENTENCES, ASPECT_LISTS)
    assert det.aspects_ == ("price", "function")  # service has no example: left to the rules
    p = det.predict_proba(["the menu is confusing", "price is too high"])
    assert p.shape == (2, 2)
    assert p[0, 1] > p[0, 0] and p[1, 0] > p[1, 1]
    assert det.predict_proba([]).shape == (0, 2)


def test_detector_refuses_mismatched_labels():
    with pytest.raises(ValueError, match="aspect lists"):
        AspectDetector().fit(SENTENCES, ASPECT_LISTS[:-1])


def test_extractor_with_detector_keeps_rule_aspects_and_adds_learned_ones():
    det = AspectDetector(learned=("function",), threshold=0.5).fit(SENTENCES, ASPECT_LISTS)
    ex = AspectExtractor(detector=det)
    found = ex.mentions_batch(["The menu is confusing. Delivery was slow.", "物流很快"], ["en", "zh"])
    assert {"aspect": "function", "evidence": "The menu is confusing"} in found[0]  # the lexicon clause as evidence
    assert any(m["aspect"] == "logistics" for m in found[0])  # not learned: the lexicon decides
    assert found[1] == AspectExtractor().mentions("物流很快", "zh")  # other languages untouched
    det.threshold = 1.01  # nothing reaches it: the learned aspect is never mentioned, even with a keyword
    assert all(m["aspect"] != "function" for m in ex.mentions_batch(["The battery died."], ["en"])[0])


def test_polarity_model_reads_negation_and_ignores_text_unless_asked():
    clause_p = np.array([0.9, 0.9, 0.1, 0.1] * 10)
    evidence = ["works well", "does not work well", "works badly", "not bad at all"] * 10
    positive = [True, False, False, True] * 10
    x = AspectPolarity.features(evidence, evidence, clause_p)
    model = AspectPolarity(C=10.0).fit(x, positive)
    assert model.labels(x[:4]) == ["positive", "negative", "negative", "positive"]
    assert model.coef_.shape == (5,)  # the text reading is left out
    x_other_text = AspectPolarity.features(evidence[:4], evidence[:4], clause_p[:4], np.full(4, 0.01))
    assert np.allclose(model.positive_proba(x_other_text), model.positive_proba(x[:4]))
    assert AspectPolarity(C=10.0, text_reading=True).fit(x, positive).coef_.shape == (6,)
    assert AspectPolarity(neutral_band=0.5).fit(x, positive).labels(x[:2]) == ["neutral", "neutral"]


def test_shipped_extractor_english_polarity_is_learned_zh_unchanged():
    ex = default_extractor()
    assert ex.polarity_model is not None and ex.detector is None
    scorers = {"en": lambda c: np.full(len(c), 0.5), "zh": lambda c: np.full(len(c), 0.5)}
    en, zh = ex.extract(["The battery is not good.", "物流很快"], ["en", "zh"], scorers)
    assert en == [{"aspect": "function", "polarity": "negative", "evidence": "The battery is not good"}]
    assert zh[0]["polarity"] == "neutral"  # zh: the probability cut-offs as before

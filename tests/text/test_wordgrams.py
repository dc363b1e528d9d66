import pickle

import numpy as np
import pytest

from shoplens.errors import ConfigError
from shoplens.text.classifier import NgramClassifier
from shoplens.text.ngrams import KEY_BITS, codepoints, ngram_keys
from shoplens.text.wordgrams import WordNgramVocabulary, batch_codepoints, tokens, word_ngram_keys

POS = ["Love it, fits great", "great quality!! love the color", "so soft and comfy", "perfect fit, love it"]
NEG = ["runs small, returned it", "poor quality, fabric is thin", "hate the color", "too tight, sending it back"]


def _tokens(text):
    cps, _ = codepoints([text])
    s, e = tokens(cps)
    return ["".join(map(chr, cps[a:b])) for a, b in zip(s, e)]


def test_tokens_are_words_or_single_marks():
    # normalised (lower case, !!!! -> !!), markers \x02 / \x03 around the text
    assert _tokens("Don't LOVE it!!!! Café 好评 😀") == ["\x02", "don't", "love", "it", "!", "!", "café", "好", "评",
                                                       "😀", "\x03"]


def test_word_keys_count_every_ngram_and_never_cross_texts():
    doc, key = word_ngram_keys(["a b c", "", "a b"], (1, 3))
    # "a b c": unigrams 3, bigrams ^a ab bc c$ 4, trigrams ^ab abc bc$ 3 -> 10; "" -> "^ $" 1; "a b" -> 2 + 3 + 2 = 7
    assert np.bincount(doc).tolist() == [10, 1, 7]
    assert key.max() < 2**KEY_BITS
    # the same n-gram has the same key in any position, batch and text
    _, k1 = word_ngram_keys(["love"], (1, 1))
    _, k2 = word_ngram_keys(["xx yy zz", "we love love"], (1, 1))
    assert (k2 == k1[0]).sum() == 2 and len(set(k2.tolist())) == 5
    # word keys differ from the character keys of the same string
    _, chars = ngram_keys(["a"], (1, 1))
    _, words = word_ngram_keys(["a"], (1, 1))
    assert chars[0] != words[0]
    assert [len(a) for a in word_ngram_keys([], (1, 2))] == [0, 0]
    with pytest.raises(ValueError):
        word_ngram_keys(["a"], (0, 2))


def test_word_offsets_point_into_the_normalised_text():
    doc, key, begin, end = word_ngram_keys(["Love it!!!! really", "ok"], (1, 2), with_offsets=True)
    norm = "love it!! really"
    spans = sorted({(int(b), int(e)) for d, b, e in zip(doc, begin, end) if d == 0})
    assert (0, 4) in spans and (5, 7) in spans and (0, 7) in spans and (10, 16) in spans
    assert norm[10:16] == "really" and (10, 17) in spans  # "really $": the end marker is one past the end
    assert sorted({(int(b), int(e)) for d, b, e in zip(doc, begin, end) if d == 1}) == [(0, 2), (0, 3)]


def test_word_vocabulary_with_and_without_characters_pickles():
    v = WordNgramVocabulary((1, 2), min_df=2).fit(POS + NEG)
    X = v.transform(["love it", "zzz"])
    assert X.shape == (2, len(v.keys_)) and X[1].nnz == 0
    assert X[0].nnz == 4  # love, it, "love it", "it $" (each in >= 2 texts); "^ love" in one only
    both = WordNgramVocabulary((1, 2), min_df=1, char_range=(2, 3)).fit(POS + NEG)
    words = WordNgramVocabulary((1, 2), min_df=1).fit(POS + NEG)
    assert len(both.keys_) > len(words.keys_)
    again = pickle.loads(pickle.dumps(both))
    assert again.char_range == (2, 3) and (again.transform(NEG) != both.transform(NEG)).nnz == 0


def test_ngram_classifier_on_words():
    y = ["pos"] * 4 + ["neg"] * 4
    m = NgramClassifier(ngram_range=None, word_ngrams=(1, 2), min_df=1, C=10).fit(POS + NEG, y)
    assert type(m.vocabulary_).__name__ == "WordNgramVocabulary"
    assert m.predict(["love it", "returned it, poor quality"]).tolist() == ["pos", "neg"]
    again = pickle.loads(pickle.dumps(m))
    assert np.allclose(again.predict_proba(NEG), m.predict_proba(NEG), atol=1e-2)
    with pytest.raises(ConfigError, match="ngram_range, word_ngrams or both"):
        NgramClassifier(ngram_range=None).fit(POS + NEG, y)
    with pytest.raises(ConfigError, match="not available with word_ngrams"):
        NgramClassifier(word_ngrams=(1, 2), skip=True).fit(POS + NEG, y)
    old = NgramClassifier((1, 2), min_df=1).fit(POS + NEG, y)
    del old.word_ngrams  # a model pickled before the parameter existed
    assert old._vocabulary().ngram_range == (1, 2)


WEIRD = ["", " ", "  a  ", None, float("nan"), "ＧＯＯＤ！！！！质量好😀", "ΟΔΟΣ", "x\x1c y\u2028z", "İstanbul", "a\u00a0 b",
         "\u0301abc", "e\u0301", "...", "!!!!  !!!!", "\t\n", "ﬁne", "x\x00y", "a\x02b", 1.5, "Love it!!!   Runs SMALL."]


@pytest.mark.parametrize("texts", [WEIRD, WEIRD[::-1], [], ["  hi  "], [[a, b] for a in WEIRD for b in WEIRD]])
def test_batch_codepoints_equal_the_per_text_normalisation(texts):
    batches = texts if texts and isinstance(texts[0], list) else [texts]
    for batch in batches:
        a, b = codepoints(batch), batch_codepoints(batch)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), batch

import pickle

import numpy as np
import pytest

from shoplens.errors import InsufficientDataError, NotFittedError
from shoplens.text.classifier import AveragedClassifier, NgramClassifier, TextClassifier
from shoplens.text.ngrams import KEY_BITS, CharNgramVocabulary, ngram_keys, normalize

POS = ["质量很好，推荐", "很满意，物流快", "好评，下次还买", "非常好用，喜欢", "包装好，质量好", "不错，值得购买"]
NEG = ["质量很差，退货", "很失望，物流慢", "差评，不会再买", "非常难用，后悔", "包装破了，质量差", "太差了，不值"]


def test_ngram_keys_cover_every_ngram_of_each_text():
    doc, key = ngram_keys(["abc", "", "ab"], (1, 3))
    # "abc" with markers ^abc$: unigrams a b c, bigrams ^a ab bc c$, trigrams ^ab abc bc$ -> 10
    # "" -> ^$ (one bigram); "ab" -> a b ^a ab b$ ^ab ab$ -> 7
    assert np.bincount(doc).tolist() == [10, 1, 7]
    assert key.max() < 2**KEY_BITS
    again_doc, again_key = ngram_keys(["abc", "", "ab"], (1, 3))
    assert np.array_equal(key, again_key)  # deterministic, no per-process hash seed
    # the same n-gram gets the same key in any text, different n-grams differ
    _, k1 = ngram_keys(["a"], (1, 1))
    _, k2 = ngram_keys(["xa"], (1, 1))
    assert k1[0] in set(k2.tolist()) and len(set(k2.tolist())) == 2


def test_ngram_keys_ignore_marker_characters_inside_texts():
    _, clean = ngram_keys(["a b"], (1, 2))
    _, dirty = ngram_keys(["a\x00b"], (1, 2))  # a NUL must not split the text into two
    assert np.array_equal(np.sort(clean), np.sort(dirty))
    with pytest.raises(ValueError):
        ngram_keys(["a"], (0, 2))


def test_vocabulary_min_df_lookup_and_compact_pickle():
    v = CharNgramVocabulary((1, 2), min_df=2).fit(["好评", "好评", "差评"])
    X = v.transform(["好评", "差"])
    assert X.shape == (2, len(v.keys_))
    # kept: 好 评 好评 ^好 评$ (df 2-3); 差, 差评, ^差 occur once
    assert len(v.keys_) == 5 and X[0].sum() == 5 and X[1].nnz == 0
    big = CharNgramVocabulary((1, 4), min_df=1).fit(POS + NEG)
    _, key = ngram_keys(POS + ["全新的文字"], (1, 4))
    ref = np.searchsorted(big.keys_, key).clip(0, len(big.keys_) - 1)
    expected = np.where(big.keys_[ref] == key, ref, -1)
    assert np.array_equal(big._find(key), expected)  # bucketed lookup == binary search
    again = pickle.loads(pickle.dumps(big))
    assert np.array_equal(again.keys_, big.keys_) and (again.transform(POS) != big.transform(POS)).nnz == 0


def test_ngram_classifier_two_heads_learn_and_pickle():
    m = NgramClassifier((1, 3), min_df=1, C=10, nb_C=3).fit(POS + NEG, ["pos"] * 6 + ["neg"] * 6)
    assert m.coef_.shape == (2, len(m.vocabulary_.keys_))  # plain LR head + NB-LR head
    assert m.predict(["质量很好", "质量很差，后悔"]).tolist() == ["pos", "neg"]
    z = m.decision_function(["很好"])
    proba = m.predict_proba(["很好"])
    assert np.isclose(proba[0, 1], np.mean(1 / (1 + np.exp(-z[0]))))  # mean of the heads' probabilities
    m.nb_weight = 0.75
    assert np.isclose(m.predict_proba(["很好"])[0, 1], np.dot([0.25, 0.75], 1 / (1 + np.exp(-z[0]))))
    blob = pickle.dumps(m)
    again = pickle.loads(blob)
    assert np.allclose(again.predict_proba(POS), m.predict_proba(POS), atol=2e-3)
    assert len(blob) < 8 * len(m.vocabulary_.keys_) + 2000  # ~3 B/key + float16 weights and idf


def test_ngram_classifier_multiclass_and_errors():
    m = NgramClassifier((1, 2), min_df=1, nb_C=1.0).fit(["aa bb", "cc dd", "ee ff"] * 3, ["x", "y", "z"] * 3)
    assert m.coef_.shape[0] == 3  # no NB head for three classes
    assert m.predict(["cc"]).tolist() == ["y"] and np.isclose(m.predict_proba(["aa"]).sum(), 1)
    with pytest.raises(NotFittedError):
        NgramClassifier().predict(["x"])
    with pytest.raises(InsufficientDataError):
        NgramClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(InsufficientDataError):
        NgramClassifier(min_df=5).fit(["ab", "cd"], ["x", "y"])


def test_averaged_classifier_is_the_mean_of_its_members():
    members = [NgramClassifier((1, 2), min_df=1), TextClassifier(n_features=2**12)]
    y = ["pos"] * 6 + ["neg"] * 6
    avg = AveragedClassifier(members, weights=[3, 1]).fit(POS + NEG, y)
    a, b = (type(m)(**m.get_params()).fit(POS + NEG, y) for m in members)
    expected = (3 * a.predict_proba(NEG) + b.predict_proba(NEG)) / 4
    assert np.allclose(avg.predict_proba(NEG), expected)
    assert members[0].is_fitted() is False  # members are copied, not fitted in place
    with pytest.raises(ValueError):
        AveragedClassifier(members, weights=[1]).fit(POS + NEG, y)


def test_feature_normalisation_is_private_and_stable():
    assert normalize("ＧＯＯＤ！！！！ 质量  好") == "good!! 质量 好"
    assert normalize(None) == "" and normalize(float("nan")) == ""


@pytest.mark.parametrize("make", [lambda: TextClassifier(n_features=2**12), lambda: NgramClassifier((1, 2), min_df=1)])
def test_transposed_weights_are_cached_not_pickled_and_follow_refits(make):
    m = make().fit(POS + NEG, ["pos"] * 6 + ["neg"] * 6)
    X = m._tfidf(NEG) if isinstance(m, NgramClassifier) else m._features(NEG)
    reference = np.asarray(X @ m.coef_.T)
    first = m.decision_function(NEG)
    assert np.allclose(first, reference + m.intercept_) and "_coef_t" in vars(m)
    assert m._coef_t[1].flags.c_contiguous
    again = pickle.loads(pickle.dumps(m))
    assert "_coef_t" not in vars(again)  # weights are stored as float16:
    assert np.allclose(again.decision_function(NEG), first, atol=1e-2)
    m.fit(POS + NEG, ["neg"] * 6 + ["pos"] * 6)  # labels swapped: the cache must not serve the old weights
    assert m.predict(["质量很好"]).tolist() == ["neg"]

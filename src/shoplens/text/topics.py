"""Topics: the supervised product-category classifier lives in the shipped
``category`` model (a :class:`TextClassifier` trained on the 10-category Chinese
set); :func:`discover_topics` finds topics in a shop's own unlabelled reviews
with NMF on TF-IDF, each named by its top terms and example reviews.

>>> texts = ["物流很快 快递给力", "快递太慢 物流差", "质量很好 面料舒服", "面料差 质量不行"] * 5
>>> topics, assignment = discover_topics(texts, n_topics=2, seed=0)
>>> len(topics), len(assignment)
(2, 20)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from shoplens.errors import InsufficientDataError
from shoplens.text.normalize import words

_ZH_STOP = frozenset("的 了 是 我 也 很 都 就 还 在 和 有 不 这 那 一 个 买 没有 吧 啊 呢 吗 就是 但是 非常 比较 感觉 可以 东西".split())
_STOP = _ZH_STOP | ENGLISH_STOP_WORDS


def _topic_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in _STOP and len(w) > 1 and not w.isdigit()]


def discover_topics(texts: Sequence[str], n_topics: int = 8, *, top_terms: int = 8, examples: int = 3,
                    seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """NMF topics: (frame of topic, terms, reviews, examples; topic index per text)."""
    texts = [str(t) for t in texts if isinstance(t, str) and t.strip()]
    if len(texts) < max(2 * n_topics, 10):
        raise InsufficientDataError(f"{len(texts)} texts are too few to find {n_topics} topics; need {max(2 * n_topics, 10)}")
    vec = TfidfVectorizer(analyzer=_topic_words, min_df=2, max_df=0.5, sublinear_tf=True)
    X = vec.fit_transform(texts)
    if X.shape[1] < n_topics:
        raise InsufficientDataError("too few distinct words in the texts to find topics")
    nmf = NMF(n_components=n_topics, init="nndsvda", random_state=seed, max_iter=400)
    W = nmf.fit_transform(X)
    terms = np.asarray(vec.get_feature_names_out())
    assignment = W.argmax(axis=1)
    rows = []
    for k in range(n_topics):
        top = terms[np.argsort(nmf.components_[k])[::-1][:top_terms]]
        best = np.argsort(W[:, k])[::-1][:examples]
        rows.append({"topic": k, "terms": " / ".join(top), "reviews": int((assignment == k).sum()),
                     "examples": [texts[i][:120] for i in best]})
    return pd.DataFrame(rows), assignment

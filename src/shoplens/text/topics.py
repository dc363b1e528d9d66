"""Topics: the supervised product-category classifier lives in the shipped
``category`` model (a :class:`TextClassifier` trained on the 10-category Chinese
set); :func:`discover_topics` finds topics in a shop's own unlabelled reviews
with NMF on TF-IDF, each named by its top terms and example reviews.

>>> texts = ["物流很快 快递给力", "快递太慢 物流差", "质量很好 面料舒服", "面料差 质量不行"] * 5
>>> topics, assignment = discover_topics(texts, n_topics=2, seed=0)
>>> len(topics), len(assignment), sorted(set(topics["reviews"])) != [0]
(2, 20, True)
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


def discover_topics(texts: Sequence[object], n_topics: int = 8, *, top_terms: int = 8, examples: int = 3,
                    seed: int = 0, ids: Sequence[object] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """NMF topics: (frame of topic, name, terms, reviews, examples[, example_ids]; topic index per text).

    The topic index is aligned with ``texts``; texts that are empty get -1. With
    ``ids`` (one per text) the frame also lists the ids of the example texts.
    """
    all_texts = ["" if not isinstance(t, str) else t for t in texts]
    keep = np.array([bool(t.strip()) for t in all_texts], dtype=bool)
    texts_kept = [t for t, k in zip(all_texts, keep) if k]
    need = max(2 * n_topics, 10)
    if len(texts_kept) < need:
        raise InsufficientDataError(f"{len(texts_kept)} texts are too few to find {n_topics} topics; need {need}")
    vec = TfidfVectorizer(analyzer=_topic_words, min_df=2, max_df=0.5, sublinear_tf=True)
    X = vec.fit_transform(texts_kept)
    if X.shape[1] < n_topics:
        raise InsufficientDataError("too few distinct words in the texts to find topics")
    nmf = NMF(n_components=n_topics, init="nndsvda", random_state=seed, max_iter=1000)
    W = nmf.fit_transform(X)
    terms = np.asarray(vec.get_feature_names_out())
    kept_assignment = np.where(W.max(axis=1) > 0, W.argmax(axis=1), -1)
    kept_ids = [i for i, k in zip(ids, keep) if k] if ids is not None else None
    rows = []
    for k in range(n_topics):
        top = terms[np.argsort(nmf.components_[k])[::-1][:top_terms]]
        best = [i for i in np.argsort(W[:, k])[::-1][:examples] if W[i, k] > 0]
        row = {"topic": k, "name": " / ".join(top[:3]), "terms": " / ".join(top),
               "reviews": int((kept_assignment == k).sum()), "examples": [texts_kept[i][:120] for i in best]}
        if kept_ids is not None:
            row["example_ids"] = [str(kept_ids[i]) for i in best]
        rows.append(row)
    assignment = np.full(len(all_texts), -1, dtype=int)
    assignment[keep] = kept_assignment
    return pd.DataFrame(rows), assignment

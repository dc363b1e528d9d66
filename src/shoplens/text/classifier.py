"""Compact linear text classifiers: TF-IDF n-gram features, logistic regression.

- :class:`NgramClassifier` (the shipped sentiment models): character n-grams over a
  learned vocabulary (:mod:`shoplens.text.ngrams`, vectorised numpy, no word
  segmentation; optionally word n-grams, :mod:`shoplens.text.wordgrams`, which the
  English model uses alone), a plain LR head and, for binary problems, an NB-LR head
  (Wang & Manning 2012: features scaled by how much more often they occur in one
  class than in the other), probabilities averaged.
- :class:`TextClassifier` (intent and category models): hashed character and jieba
  word n-grams, optional NB-LR; hashing keeps files small without a vocabulary.
- :class:`AveragedClassifier`: weighted average of several classifiers' probabilities.

scikit-learn does the optimisation; weights are stored as compressed float16.

>>> m = TextClassifier(n_features=2**12).fit(["好评 很好", "差评 很差", "很好 推荐", "太差 退货"], ["pos", "neg", "pos", "neg"])
>>> m.predict(["很好"]).tolist()
['pos']
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression

from shoplens.base import Model, clone
from shoplens.errors import ConfigError, InsufficientDataError
from shoplens.text.ngrams import CharNgramVocabulary
from shoplens.text.normalize import normalize, word_ngrams
from shoplens.text.wordgrams import WordNgramVocabulary


class TextClassifier(Model):
    """Linear classifier over hashed char + word n-grams.

    Parameters
    ----------
    char_ngrams: (min, max) character n-gram lengths.
    word_features: also use word unigrams + bigrams (jieba for Chinese).
    n_features: hash space per feature block (power of two).
    C: inverse L2 regularisation of the logistic regression.
    nb: scale features by NB log-count ratios (binary problems only).
    seed: random state of the solver.
    min_df: with ``nb``, n-grams found in fewer training texts get no weight.
    """

    def __init__(self, char_ngrams: tuple[int, int] = (1, 3), word_features: bool = True,
                 n_features: int = 2**20, C: float = 1.0, nb: bool = True, seed: int = 0,
                 min_df: int = 2) -> None:
        self.char_ngrams = char_ngrams
        self.word_features = word_features
        self.n_features = n_features
        self.C = C
        self.nb = nb
        self.seed = seed
        self.min_df = min_df

    # -- features --------------------------------------------------------------------
    def _blocks(self) -> list[HashingVectorizer]:
        blocks = [HashingVectorizer(analyzer="char", ngram_range=tuple(self.char_ngrams), preprocessor=normalize,
                                    n_features=self.n_features, alternate_sign=False, norm=None, dtype=np.float32)]
        if self.word_features:
            blocks.append(HashingVectorizer(analyzer=word_ngrams, n_features=self.n_features,
                                            alternate_sign=False, norm=None, dtype=np.float32))
        return blocks

    def _counts(self, texts: Sequence[str]) -> list[sp.csr_matrix]:
        texts = ["" if t is None else str(t) for t in texts]
        return [v.transform(texts) for v in self._blocks()]

    def _features(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = self._counts(texts)
        return sp.hstack([t.transform(c) for t, c in zip(self.tfidf_, counts)], format="csr")

    # -- learning ----------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[object],
            sample_weight: Sequence[float] | None = None) -> TextClassifier:
        """Learn from texts and labels; ``sample_weight`` weighs each text in the loss (default 1)."""
        y = np.asarray([str(v) for v in labels])
        classes = np.unique(y)
        if len(classes) < 2:
            raise InsufficientDataError(f"need at least two different labels to train, got {classes.tolist()}")
        counts = self._counts(texts)
        tfidf = [TfidfTransformer(sublinear_tf=True).fit(c) for c in counts]
        X = sp.hstack([t.transform(c) for t, c in zip(tfidf, counts)], format="csr")
        scale = None
        if self.nb and len(classes) == 2:
            present = (X > 0).astype(np.float32)
            p = np.asarray(present[y == classes[1]].sum(0)).ravel() + 1.0
            q = np.asarray(present[y == classes[0]].sum(0)).ravel() + 1.0
            scale = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            # n-grams seen in a single training text get no weight (min_df=2):
            # their log-count ratios are pure noise and hurt held-out accuracy.
            scale[(p + q - 2.0) < self.min_df] = 0.0
            X = X @ sp.diags(scale)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        lr = LogisticRegression(C=self.C, max_iter=3000, random_state=self.seed).fit(X, y, sample_weight=weight)
        coef = lr.coef_.astype(np.float32)
        if scale is not None:
            coef = coef * scale  # fold the NB scaling into the weights: one vector to ship
        for t in tfidf:
            t.idf_ = _as_saved(t.idf_)
        self.tfidf_ = tfidf
        self.classes_ = classes
        self.coef_ = _as_saved(coef)
        self.intercept_ = lr.intercept_.astype(np.float32)
        return self

    # -- compact files -----------------------------------------------------------------
    # Most hashed slots are never seen, so weights are mostly zeros: store float16
    # and zlib-compress, which keeps each shipped model to a few MB.
    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_coef_t"}
        if "coef_" in state:
            state["coef_"] = _pack(state["coef_"])
            state["idf_packed_"] = [_pack(t.idf_) for t in state["tfidf_"]]
            stripped = []
            for t in state["tfidf_"]:
                params = {k: v for k, v in vars(t).items() if k != "idf_"}
                clone = TfidfTransformer.__new__(TfidfTransformer)
                clone.__dict__.update(params)
                stripped.append(clone)
            state["tfidf_"] = stripped
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("coef_"), tuple):
            state["coef_"] = _unpack(state["coef_"])
            for t, packed in zip(state["tfidf_"], state.pop("idf_packed_")):
                t.idf_ = _unpack(packed)
        self.__dict__.update(state)

    # -- prediction --------------------------------------------------------------------
    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        self.check_fitted()
        X = self._features(texts)
        return np.asarray(X @ _coef_t(self)) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        z = self.decision_function(texts)
        if len(self.classes_) == 2:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)]


def _coef_t(model: Model) -> np.ndarray:
    """``model.coef_.T`` as a C-contiguous array, computed once per ``coef_``.

    ``sparse @ coef_.T`` would make scipy copy the (Fortran-ordered) transposed view
    on every call: several MB for the intent and category models, about a third of the
    time of scoring one message. The copy is cached on the model (not pickled) and
    recomputed when ``coef_`` is replaced (e.g. by a new ``fit``).
    """
    cached = model.__dict__.get("_coef_t")
    if cached is None or cached[0] is not model.coef_:  # type: ignore[attr-defined]
        cached = (model.coef_, np.ascontiguousarray(model.coef_.T))  # type: ignore[attr-defined]
        model._coef_t = cached  # type: ignore[attr-defined]
    return cached[1]


def _as_saved(a: np.ndarray) -> np.ndarray:
    """``a`` at the precision a saved model keeps (float16 values, as float32), so that a
    fitted model answers exactly as it will after a save and load."""
    return np.asarray(a, dtype=np.float16).astype(np.float32)


def _pack(a: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return a.shape, zlib.compress(np.ascontiguousarray(a, dtype=np.float16).tobytes(), 6)


def _unpack(packed: tuple[tuple[int, ...], bytes]) -> np.ndarray:
    shape, blob = packed
    return np.frombuffer(zlib.decompress(blob), dtype=np.float16).astype(np.float32).reshape(shape)


class NgramClassifier(Model):
    """Linear classifier over a learned character n-gram vocabulary (no hashing, no word segmentation).

    Features: character n-grams of the normalised text with begin/end markers
    (:class:`shoplens.text.ngrams.CharNgramVocabulary`), sublinear TF-IDF, rows
    L2-normalised. A logistic regression (scikit-learn) learns the weights; for
    binary problems ``nb_C`` adds a second head, NB-LR (features scaled by naive-Bayes
    log-count ratios, Wang & Manning 2012), and the two heads' probabilities are
    averaged. Both heads share one featurisation, which is vectorised numpy over
    the whole batch (several times faster than scikit-learn's char analyzer + jieba).

    Parameters
    ----------
    ngram_range: (min, max) character n-gram lengths (None: none, with ``word_ngrams``).
    min_df: keep n-grams found in at least this many training texts.
    C: inverse L2 regularisation of the plain logistic regression head.
    nb_C: inverse regularisation of the NB-LR head (binary problems; None = no NB head).
    seed: random state of the solver.
    skip: also gapped character bigrams (``a_c`` of every ``abc``).
    nb_weight: weight of the NB-LR head's probability in the average (the LR head gets the rest).
    word_ngrams: also word n-grams of these lengths
        (:class:`shoplens.text.wordgrams.WordNgramVocabulary`); with ``ngram_range=None``
        words only (the English model: long reviews make character n-grams costly).

    >>> m = NgramClassifier(ngram_range=(1, 2), min_df=1, nb_C=1.0).fit(
    ...     ["好评 很好", "差评 很差", "很好 推荐", "太差 退货"], ["pos", "neg", "pos", "neg"])
    >>> m.predict(["很好"]).tolist()
    ['pos']
    """

    def __init__(self, ngram_range: tuple[int, int] | None = (1, 5), min_df: int = 2, C: float = 10.0,
                 nb_C: float | None = None, seed: int = 0, skip: bool = False, nb_weight: float = 0.5,
                 word_ngrams: tuple[int, int] | None = None) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.C = C
        self.nb_C = nb_C
        self.seed = seed
        self.skip = skip
        self.nb_weight = nb_weight
        self.word_ngrams = word_ngrams

    def _tfidf(self, texts: Sequence[str]) -> sp.csr_matrix:
        X = self.vocabulary_.transform(texts)
        X.data = (1.0 + np.log(X.data)) * self.idf_[X.indices]
        norms = np.sqrt(np.bincount(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)), X.data**2, X.shape[0]))
        norms[norms == 0] = 1.0
        X.data /= np.repeat(norms, np.diff(X.indptr)).astype(np.float32)
        return X

    def _vocabulary(self) -> CharNgramVocabulary:
        words = getattr(self, "word_ngrams", None)  # models pickled before word n-grams existed
        if words is None:
            if self.ngram_range is None:
                raise ConfigError("NgramClassifier needs ngram_range, word_ngrams or both")
            return CharNgramVocabulary(tuple(self.ngram_range), self.min_df, self.skip)
        if self.skip:
            raise ConfigError("skip (gapped character bigrams) is not available with word_ngrams")
        chars = None if self.ngram_range is None else tuple(self.ngram_range)
        return WordNgramVocabulary(tuple(words), self.min_df, char_range=chars)

    def fit(self, texts: Sequence[str], labels: Sequence[object],
            sample_weight: Sequence[float] | None = None) -> NgramClassifier:
        """Learn from texts and labels; ``sample_weight`` weighs each text in the loss (default 1)."""
        texts = ["" if t is None else str(t) for t in texts]
        y = np.asarray([str(v) for v in labels])
        classes = np.unique(y)
        if len(classes) < 2:
            raise InsufficientDataError(f"need at least two different labels to train, got {classes.tolist()}")
        self.vocabulary_ = self._vocabulary().fit(texts)
        n = len(texts)
        self.idf_ = _as_saved(np.log((1.0 + n) / (1.0 + self.vocabulary_.df_)) + 1.0)
        X = self._tfidf(texts)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        lr = LogisticRegression(C=self.C, max_iter=3000, random_state=self.seed).fit(X, y, sample_weight=weight)
        coefs, intercepts = [lr.coef_.astype(np.float32)], [lr.intercept_.astype(np.float32)]
        if self.nb_C is not None and len(classes) == 2:
            present = X.copy()
            present.data[:] = 1.0
            p = np.asarray(present[y == classes[1]].sum(0)).ravel() + 1.0
            q = np.asarray(present[y == classes[0]].sum(0)).ravel() + 1.0
            scale = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            nb = LogisticRegression(C=self.nb_C, max_iter=3000, random_state=self.seed).fit(
                X @ sp.diags(scale), y, sample_weight=weight)
            coefs.append(nb.coef_.astype(np.float32) * scale)  # NB scaling folded into the weights
            intercepts.append(nb.intercept_.astype(np.float32))
        self.classes_ = classes
        self.coef_ = _as_saved(np.vstack(coefs))  # one block of rows per head
        self.intercept_ = np.concatenate(intercepts)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_coef_t"}
        for k in ("coef_", "idf_"):
            if k in state:
                state[k] = _pack(state[k])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k in ("coef_", "idf_"):
            if isinstance(state.get(k), tuple):
                state[k] = _unpack(state[k])
        self.__dict__.update(state)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Scores per head: (n, heads) for binary problems, (n, classes) otherwise."""
        self.check_fitted()
        return np.asarray(self._tfidf(texts) @ _coef_t(self)) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (weighted mean over heads), columns in ``classes_`` order."""
        z = self.decision_function(texts)
        if len(self.classes_) == 2:
            p = 1.0 / (1.0 + np.exp(-z))
            if p.shape[1] == 2:
                w = getattr(self, "nb_weight", 0.5)
                p = (1.0 - w) * p[:, :1] + w * p[:, 1:]
            return np.column_stack([1 - p[:, 0], p[:, 0]])
        return _proba(z, len(self.classes_))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)]


def _proba(z: np.ndarray, n_classes: int) -> np.ndarray:
    if n_classes == 2:
        p = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1 - p, p])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class AveragedClassifier(Model):
    """Average of the class probabilities of several classifiers (each refitted on the same data).

    Parameters
    ----------
    members: unfitted classifiers (``TextClassifier``/``NgramClassifier``); fresh copies are fitted.
    weights: one weight per member (default equal).

    >>> m = AveragedClassifier([NgramClassifier((1, 2), min_df=1), NgramClassifier((1, 3), min_df=1, nb_C=1.0)]).fit(
    ...     ["好评 很好", "差评 很差", "很好 推荐", "太差 退货"], ["pos", "neg", "pos", "neg"])
    >>> m.predict(["很好"]).tolist()
    ['pos']
    """

    def __init__(self, members: Sequence[Model] = (), weights: Sequence[float] | None = None) -> None:
        self.members = members
        self.weights = weights

    def fit(self, texts: Sequence[str], labels: Sequence[object]) -> AveragedClassifier:
        if not self.members:
            raise InsufficientDataError("AveragedClassifier needs at least one member")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(f"{len(self.weights)} weights for {len(self.members)} members")
        self.models_ = [clone(m).fit(texts, labels) for m in self.members]
        self.classes_ = self.models_[0].classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Weighted mean of the members' probabilities, columns in ``classes_`` order."""
        self.check_fitted()
        w = np.ones(len(self.models_)) if self.weights is None else np.asarray(self.weights, dtype=float)
        return sum(wi * m.predict_proba(texts) for wi, m in zip(w, self.models_)) / w.sum()

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)]

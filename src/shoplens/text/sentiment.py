"""Sentiment: positive / negative / neutral with the probability of positive.

A binary model (Chinese: reviews labelled good/bad) reports ``neutral`` when
the probability of positive lies within ``neutral_band`` of 0.5; a model trained
on star ratings (1-2 negative, 3 neutral, 4-5 positive) learns neutral as a
third class.

>>> m = SentimentModel(classifier=NgramClassifier(min_df=1)).fit(
...     ["great quality", "terrible fit", "love it", "awful, returned"], [1, 0, 1, 0])
>>> bool(m.positive_proba(["love the quality"])[0] > 0.5)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shoplens.base import Model, clone
from shoplens.errors import UserInputError
from shoplens.text.classifier import AveragedClassifier, NgramClassifier, TextClassifier  # noqa: F401 (re-exported)
from shoplens.text.normalize import detect_languages

SENTIMENTS = ("negative", "neutral", "positive")
_LABEL_WORDS = {
    "1": "positive", "1.0": "positive", "pos": "positive", "positive": "positive", "true": "positive", "good": "positive",
    "0": "negative", "0.0": "negative", "-1": "negative", "neg": "negative", "negative": "negative", "false": "negative",
    "bad": "negative", "neutral": "neutral", "neu": "neutral", "mixed": "neutral",
}


def labels_from_ratings(ratings: Sequence[object]) -> list[str]:
    """Star ratings -> sentiment: 1-2 negative, 3 neutral, 4-5 positive.

    >>> labels_from_ratings([1, 3, 5])
    ['negative', 'neutral', 'positive']
    """
    out = []
    for i, r in enumerate(ratings):
        try:
            v = float(r)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise UserInputError(f"rating {r!r} in row {i + 1} is not a number 1-5") from None
        if not 1 <= v <= 5:
            raise UserInputError(f"rating {r!r} in row {i + 1} is outside 1-5")
        out.append("negative" if v <= 2 else "neutral" if v < 4 else "positive")
    return out


def normalize_labels(labels: Sequence[object]) -> list[str]:
    """Map 0/1, pos/neg, positive/negative/neutral (any case) to the canonical names.

    >>> normalize_labels([1, "NEG", "neutral"])
    ['positive', 'negative', 'neutral']
    """
    out = []
    for i, v in enumerate(labels):
        key = str(v).strip().lower()
        if key not in _LABEL_WORDS:
            raise UserInputError(
                f"label {v!r} in row {i + 1} is not a sentiment; use 1/0, pos/neg or positive/negative/neutral "
                "(or pass --rating-column for 1-5 stars)"
            )
        out.append(_LABEL_WORDS[key])
    return out


class SentimentModel(Model):
    """Sentiment classifier for one language.

    Parameters
    ----------
    classifier: the (unfitted) classifier to train: :class:`NgramClassifier` (default),
        :class:`AveragedClassifier` or :class:`TextClassifier`; a fresh copy is fitted.
    neutral_band: binary models call ``neutral`` any probability of positive within this distance of 0.5.
    language: 'zh', 'en' or '' (informational).
    """

    def __init__(self, classifier: Model | None = None, neutral_band: float = 0.15, language: str = "") -> None:
        self.classifier = classifier
        self.neutral_band = neutral_band
        self.language = language

    def fit(self, texts: Sequence[str], labels: Sequence[object]) -> SentimentModel:
        y = normalize_labels(labels)
        clf = self.classifier if self.classifier is not None else NgramClassifier()
        self.model_ = clone(clf).fit(list(texts), y)
        self.classes_ = self.model_.classes_
        return self

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of positive for each text."""
        self.check_fitted()
        proba = self.model_.predict_proba(texts)
        return proba[:, list(self.classes_).index("positive")] if "positive" in self.classes_ else np.zeros(len(proba))

    def predict(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probability of positive)."""
        self.check_fitted()
        proba = self.model_.predict_proba(texts)
        classes = list(self.classes_)
        p_pos = proba[:, classes.index("positive")] if "positive" in classes else np.zeros(len(proba))
        if "neutral" in classes:
            labels = np.asarray(self.classes_)[proba.argmax(axis=1)]
        else:
            labels = np.where(p_pos >= 0.5 + self.neutral_band, "positive",
                              np.where(p_pos <= 0.5 - self.neutral_band, "negative", "neutral"))
        return labels.astype(object), p_pos

    def binary(self, texts: Sequence[str]) -> np.ndarray:
        """Positive (1) / negative (0) only: the label with the larger probability between the two."""
        self.check_fitted()
        proba = self.model_.predict_proba(texts)
        classes = list(self.classes_)
        return (proba[:, classes.index("positive")] >= proba[:, classes.index("negative")]).astype(int)


def recipe_language(texts: Sequence[str], language: str = "auto", sample: int = 2000) -> str:
    """The training recipe for these texts: 'en' (word n-grams) or 'zh' (character n-grams).

    ``auto`` looks at up to ``sample`` texts: English when most of them are English,
    otherwise the character recipe, which also serves other and mixed languages.

    >>> recipe_language(["Runs small, order a size up", "Love the colour"])
    'en'
    >>> recipe_language(["质量很好", "物流太慢了"])
    'zh'
    """
    if language not in {"auto", "zh", "en"}:
        raise UserInputError(f"--lang {language!r} is not one of auto, zh, en")
    if language != "auto":
        return language
    step = max(1, len(texts) // sample)
    langs = detect_languages(list(texts)[::step][:sample])
    return "en" if langs and langs.count("en") * 2 > len(langs) else "zh"


def sentiment_classifier(language: str, n_classes: int, seed: int = 0) -> NgramClassifier:
    """The shipped models' recipes, fit in seconds on a shop's data.

    English: word 1-3 grams, LR C=30 (the shipped en model; as accurate as character
    n-grams on long reviews and several times faster). Chinese and everything else:
    character 1-5 grams; with two classes, LR + NB-LR heads (the shipped zh model),
    with three, LR alone (the NB-LR head is binary).
    """
    if language == "en":
        return NgramClassifier(ngram_range=None, word_ngrams=(1, 3), min_df=2, C=30.0, seed=seed)
    binary = n_classes == 2
    return NgramClassifier(ngram_range=(1, 5), min_df=2, C=10.0 if binary else 4.0, nb_C=3.0 if binary else None,
                           seed=seed)


def train_sentiment(frame: pd.DataFrame, text_column: str, *, label_column: str | None = None,
                    rating_column: str | None = None, language: str = "auto", seed: int = 0) -> SentimentModel:
    """Train a sentiment model on a shop's own data (labels or 1-5 star ratings).

    ``language`` (auto, zh or en) picks the recipe, see :func:`sentiment_classifier`.
    """
    if (label_column is None) == (rating_column is None):
        raise UserInputError("give exactly one of --label-column or --rating-column")
    for col in [text_column, label_column or rating_column]:
        if col not in frame.columns:
            raise UserInputError(f"column {col!r} not in the data; columns are: {', '.join(map(str, frame.columns))}")
    target = label_column or rating_column
    data = frame[[text_column, target]].dropna()
    data = data[data[text_column].astype(str).str.strip() != ""]
    if len(data) < 20:
        raise UserInputError(f"only {len(data)} rows with both text and {target!r}; need at least 20 to train")
    y = labels_from_ratings(data[target].tolist()) if rating_column else normalize_labels(data[target].tolist())
    if len(set(y)) < 2:
        raise UserInputError(f"all {len(y)} rows have the same sentiment {y[0]!r}; need at least two classes")
    texts = data[text_column].astype(str).tolist()
    lang = recipe_language(texts, language)
    return SentimentModel(sentiment_classifier(lang, len(set(y)), seed), language=lang).fit(texts, y)


def evaluate_and_train(frame: pd.DataFrame, text_column: str, *, label_column: str | None = None,
                       rating_column: str | None = None, holdout: float = 0.2, language: str = "auto",
                       seed: int = 0) -> tuple[SentimentModel, dict[str, object]]:
    """Measure on a stratified hold-out, then fit on every row; returns (model, report)."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    if not 0 <= holdout < 1:
        raise UserInputError(f"--holdout {holdout} must be in [0, 1)")
    model = train_sentiment(frame, text_column, label_column=label_column, rating_column=rating_column,
                            language=language, seed=seed)
    report: dict[str, object] = {"rows": None, "language": model.language, "classes": list(map(str, model.classes_)),
                                 "holdout_accuracy": None, "holdout_macro_f1": None}
    target = label_column or rating_column
    data = frame[[text_column, target]].dropna()
    data = data[data[text_column].astype(str).str.strip() != ""]
    report["rows"] = len(data)
    y = labels_from_ratings(data[target].tolist()) if rating_column else normalize_labels(data[target].tolist())
    if holdout > 0 and min(pd.Series(y).value_counts()) >= 2 and len(data) * holdout >= len(set(y)):
        tr, te, ytr, yte = train_test_split(data, y, test_size=holdout, stratify=y, random_state=seed)
        tr = tr.assign(_y=ytr)
        m = train_sentiment(tr, text_column, label_column="_y", language=model.language, seed=seed)
        pred = m.model_.predict(te[text_column].astype(str).tolist())
        report["holdout_accuracy"] = round(float(accuracy_score(yte, pred)), 4)
        report["holdout_macro_f1"] = round(float(f1_score(yte, pred, average="macro")), 4)
    return model, report

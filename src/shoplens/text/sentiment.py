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

import re
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


# Contrast: the clause after "but" / 但是 usually carries the verdict ("not bad at all, actually quite
# good"; "好看是好看，一周就开线了"). A concessive opener ("although X, Y"; 虽然X，Y; 除了X，Y) puts it after the comma.
_EN_CONTRAST = re.compile(r"\b(?:but|however|though|yet|actually|except|unfortunately|sadly|that said|only downside is|"
                          r"only problem is|the only thing is)\b", re.I)
_EN_CONCESSIVE = re.compile(r"^\s*(?:although|though|even though|while|despite|apart from|other than|aside from)\b[^,;.!?]*[,;]\s*", re.I)
_ZH_CONTRAST = re.compile(r"但是|不过|可是|可惜|然而|只是|就是|其实|结果|但|却")
_ZH_CONCESSIVE = re.compile(r"^\s*(?:虽然|虽说|尽管|除了)[^，,。！!？?；;]*[，,；;]\s*")


def contrast_view(text: str, language: str) -> str | None:
    """The part of ``text`` a contrast marks as the verdict, or None when there is no contrast.

    >>> contrast_view("not bad at all, actually quite good", "en")
    'quite good'
    >>> contrast_view("好看是好看，一周就开线了", "zh") is None, contrast_view("虽然好看，但穿着不舒服", "zh")
    (True, '穿着不舒服')
    """
    t = str(text or "")
    rx, concessive = (_ZH_CONTRAST, _ZH_CONCESSIVE) if language == "zh" else (_EN_CONTRAST, _EN_CONCESSIVE)
    last = None
    for last in rx.finditer(t):
        pass
    if last is not None:
        rest = t[last.end():].strip(" ,，.。!！;；:：")
        if len(rest) >= (2 if language == "zh" else 4):
            return rest
    m = concessive.match(t)
    if m and len(t) - m.end() >= (2 if language == "zh" else 4):
        return t[m.end():].strip()
    return None


class SentimentModel(Model):
    """Sentiment classifier for one language.

    Parameters
    ----------
    classifier: the (unfitted) classifier to train: :class:`NgramClassifier` (default),
        :class:`AveragedClassifier` or :class:`TextClassifier`; a fresh copy is fitted.
    neutral_band: binary models call ``neutral`` any probability of positive within this distance of 0.5.
    language: 'zh', 'en' or '' (informational).
    contrast_weight: texts with a contrast ("..., but ...", 但是, "although ..., ...") are scored as
        ``(1 - w) * P(text) + w * P(part after the contrast)`` (:func:`contrast_view`); 0 turns it off.

    :meth:`adapt` re-estimates the class balance on a shop's unlabelled reviews (``class_shift_``).
    """

    def __init__(self, classifier: Model | None = None, neutral_band: float = 0.15, language: str = "",
                 contrast_weight: float = 0.0) -> None:
        self.classifier = classifier
        self.neutral_band = neutral_band
        self.language = language
        self.contrast_weight = contrast_weight

    def _proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities with the contrast view and the prior shift applied."""
        texts = list(texts)
        proba = self.model_.predict_proba(texts)
        w = getattr(self, "contrast_weight", 0.0)
        if w:
            views = [contrast_view(t, getattr(self, "language", "")) for t in texts]
            idx = [i for i, v in enumerate(views) if v]
            if idx:
                proba[idx] = (1.0 - w) * proba[idx] + w * self.model_.predict_proba([views[i] for i in idx])
        shift = getattr(self, "class_shift_", None)
        if shift is not None:
            proba = proba * np.exp(shift)
            proba = proba / proba.sum(axis=1, keepdims=True)
        return proba

    def adapt(self, texts: Sequence[str], max_iter: int = 200) -> SentimentModel:
        """Re-estimate the class balance on unlabelled ``texts`` of the target domain (no labels needed).

        EM of Saerens, Latinne & Decaestecker (2002): the class prior of the target texts is
        the mean of the posteriors re-weighted by (target prior / training prior), iterated to a
        fixed point; predictions are then re-weighted the same way (``class_shift_``, log ratios).
        A shop whose reviews are mostly negative (food delivery) no longer gets the balanced
        prior of the training data. Returns self.
        """
        self.check_fitted()
        self.class_shift_ = None
        proba = np.clip(self._proba(texts), 1e-9, 1.0)
        source = np.asarray(getattr(self, "train_prior_", np.full(proba.shape[1], 1.0 / proba.shape[1])), dtype=float)
        target = source.copy()
        for _ in range(max_iter):
            q = proba * (target / source)
            q /= q.sum(axis=1, keepdims=True)
            new = q.mean(axis=0)
            if np.abs(new - target).max() < 1e-7:
                target = new
                break
            target = new
        self.target_prior_ = target
        self.class_shift_ = np.log(np.clip(target, 1e-6, 1.0) / source)
        return self

    def fit(self, texts: Sequence[str], labels: Sequence[object]) -> SentimentModel:
        y = normalize_labels(labels)
        clf = self.classifier if self.classifier is not None else NgramClassifier()
        self.model_ = clone(clf).fit(list(texts), y)
        self.classes_ = self.model_.classes_
        self.train_prior_ = np.array([np.mean(np.asarray(y) == c) for c in self.classes_])
        self.class_shift_ = None
        return self

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of positive for each text."""
        self.check_fitted()
        proba = self._proba(texts)
        return proba[:, list(self.classes_).index("positive")] if "positive" in self.classes_ else np.zeros(len(proba))

    def predict(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probability of positive)."""
        self.check_fitted()
        proba = self._proba(texts)
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
        proba = self._proba(texts)
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


ADAPT_SHARE = 0.3  # share of the target texts pseudo-labelled per round (chosen on held-out categories)


def self_train(model: SentimentModel, texts: Sequence[str], labels: Sequence[str], target: Sequence[str], *,
               share: float = ADAPT_SHARE) -> SentimentModel:
    """Domain adaptation without target labels: self-training plus class-balance re-estimation.

    The model (fitted on ``texts``/``labels``) re-estimates the class balance on ``target``
    (:meth:`SentimentModel.adapt`), labels the ``share`` most confident target texts of each
    predicted class under that balance, and a copy is refitted on the labelled texts plus these
    pseudo-labelled ones, so it learns the target domain's own words ("送餐", "骑手"). The new
    model keeps the training balance (re-estimating it once more lost accuracy on both
    held-out-category checks, docs/text-models.md); ``target_prior_`` reports the estimate.
    Returns the new model.
    """
    target = [t for t in (str(x) for x in target) if t.strip()]
    if not target:
        raise UserInputError("no non-empty texts to adapt to")
    model.adapt(target)
    proba = model._proba(target)
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    keep: list[int] = []
    for c in range(proba.shape[1]):
        idx = np.where(pred == c)[0]
        keep += idx[np.argsort(-conf[idx])][: int(share * len(idx))].tolist()
    pseudo = [str(model.classes_[pred[i]]) for i in keep]
    adapted = SentimentModel(model.classifier, model.neutral_band, model.language,
                             getattr(model, "contrast_weight", 0.0)).fit(
        list(texts) + [target[i] for i in keep], list(normalize_labels(labels)) + pseudo)
    adapted.train_prior_ = model.train_prior_  # the labelled data's balance, not the pseudo labels'
    adapted.target_prior_ = model.target_prior_
    adapted.adapted_on_ = len(target)
    return adapted


def train_sentiment(frame: pd.DataFrame, text_column: str, *, label_column: str | None = None,
                    rating_column: str | None = None, language: str = "auto", seed: int = 0,
                    adapt_to: Sequence[str] | None = None) -> SentimentModel:
    """Train a sentiment model on a shop's own data (labels or 1-5 star ratings).

    ``language`` (auto, zh or en) picks the recipe, see :func:`sentiment_classifier`.
    ``adapt_to``: unlabelled reviews of the domain the model will score (the shop's own), see
    :func:`self_train`.
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
    model = SentimentModel(sentiment_classifier(lang, len(set(y)), seed), language=lang).fit(texts, y)
    if adapt_to is not None:
        model = self_train(model, texts, y, adapt_to)
    return model


def evaluate_and_train(frame: pd.DataFrame, text_column: str, *, label_column: str | None = None,
                       rating_column: str | None = None, holdout: float = 0.2, language: str = "auto",
                       seed: int = 0, adapt_to: Sequence[str] | None = None) -> tuple[SentimentModel, dict[str, object]]:
    """Measure on a stratified hold-out, then fit on every row; returns (model, report).

    With ``adapt_to`` the final model is adapted to those unlabelled texts (:func:`self_train`);
    the hold-out figures are of the labelled data's own domain, without adaptation.
    """
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    if not 0 <= holdout < 1:
        raise UserInputError(f"--holdout {holdout} must be in [0, 1)")
    model = train_sentiment(frame, text_column, label_column=label_column, rating_column=rating_column,
                            language=language, seed=seed, adapt_to=adapt_to)
    report: dict[str, object] = {"rows": None, "language": model.language, "classes": list(map(str, model.classes_)),
                                 "holdout_accuracy": None, "holdout_macro_f1": None}
    if adapt_to is not None:
        report["adapted_to"] = int(model.adapted_on_)
        report["target_class_share"] = {str(c): round(float(v), 4) for c, v in zip(model.classes_, model.target_prior_)}
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

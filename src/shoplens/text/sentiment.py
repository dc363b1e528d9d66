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

import bisect
import itertools
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


# Polarity shifters: negation scope and contrast, per clause.
# A negated clause is read through its un-negated form with the positive and negative
# probabilities swapped ("not bad at all" -> "bad at all" -> negative -> positive), so the
# model's knowledge of plain opinion words carries over to negated ones, which its training
# reviews rarely show; a clause after a contrast marker ("..., but ...", 但是, 不过) weighs more.
_EN_PUNCT = re.compile(r"[,.;:!?\n()]+|\s[-–—]+\s")
# English patterns run case-sensitively on the lower-cased text (re.IGNORECASE is several times slower)
_EN_CONTRAST_START = re.compile(
    r"\b(?:but|however|though|although|except|unfortunately|sadly|actually|otherwise|that said|"
    r"turns out|turned out|ended up|in the end|instead)\b")
_EN_CONCESSIVE_START = re.compile(r"^\s*(?:although|though|even though|while|despite|apart from|other than|aside from)\b")
_EN_NEGATION = re.compile(
    r"\b(?:(?P<aux>is|was|are|were|do|does|did|could|would|should|has|have|had|need|must|might)(?:n't|nt)|"
    r"(?P<cant>can't|cant|cannot|can not)|(?P<wont>won't|wont)|(?:not(?! only| just)|never|no(?! doubt)|nothing|nobody|"
    r"none|neither|nor|hardly|barely|no longer|without))\b")
# any negation cue or contrast marker: texts without one have nothing to shift
_EN_TRIGGER = re.compile(_EN_NEGATION.pattern + "|" + _EN_CONTRAST_START.pattern)
_ZH_PUNCT = re.compile(r"[，。！？；：,.;:!?\n~～…（）()、]+")
_ZH_SPLIT = re.compile(r"[，。！？；：,.;:!?\n~～…（）()、\s]+")  # Chinese reviews often separate clauses by spaces
_ZH_CONTRAST_START = re.compile(r"但是|但|不过|可是|可惜|然而|只是|却|结果|没想到|其实|其他|其它|除此之外|才知道")
_ZH_CONCESSIVE_START = re.compile(r"^\s*(?:虽然|虽说|尽管|虽)")
_ZH_NEGATION = re.compile(
    r"一点(?:也|都)?不|毫不|并不|并没有?|从来?(?:不|没有?)|绝不|并非|绝非|"
    r"(?<![特区分类差要])不(?!错|过|得不|仅|但|管|论|少|久|同|然|断|停|禁|免|知|一定|好意思|起|是一般)|"
    r"没(?!想到|得说)|"
    r"(?<![虽])无(?!论|线|聊|语|奈|比|限|敌|数|人)|"
    r"未(?!来|必)|(?<![特区分类告离识级性])别(?!人|的|说|家|处|致|扭|提|墅)")


_ZH_SCOPE = 6  # characters after a Chinese negation cue that it scopes over (English: the whole clause)


def _en_unnegate(m: re.Match[str]) -> str:
    """"isn't" -> "is", "can't" -> "can", "won't" -> "will", "not"/"never"/"no"... -> ""."""
    return m.group("aux") or ("can" if m.group("cant") else "will" if m.group("wont") else "")


def _first_negation(clause: str, negation: re.Pattern[str]) -> re.Match[str] | None:
    """The first negation cue of a clause, skipping A-not-A questions (是不是, 有没有, 好不好)."""
    for m in negation.finditer(clause):
        a, b = m.start(), m.end()
        if a > 0 and b < len(clause) and len(m.group()) == 1 and clause[a - 1] == clause[b]:
            continue
        return m
    return None


_CONCESSIVE = frozenset("although though even_though while despite apart_from other_than aside_from 虽然 虽说 尽管 虽".split())
# clause separators: one character each, so that segment offsets follow from the lengths (a split on a
# character class runs in C, about twice as fast as str.translate + split on Chinese text)
_EN_SEPARATORS = re.compile("[" + re.escape(",.;:!?\n()–—") + "]")
_ZH_SEPARATORS = re.compile("[" + re.escape("，。！？；：,.;:!?\n~～…（）()、 \t\r\u3000") + "]")
_EN_SHIFTERS = re.compile(rf"(?P<neg>{_EN_NEGATION.pattern})|(?P<con>{_EN_CONTRAST_START.pattern}|"
                          r"\b(?:even though|while|despite|apart from|other than|aside from)\b)")
_ZH_SHIFTERS = re.compile(rf"(?P<neg>{_ZH_NEGATION.pattern})|(?P<con>{_ZH_CONTRAST_START.pattern}|虽然|虽说|尽管|虽)")


def shifted_clauses(text: str, language: str) -> tuple[list[tuple[str, str, bool]], int]:
    """([(clause to score, role, flip)], number of ordinary clauses) of a text.

    Clauses end at punctuation (Chinese: also at spaces) and before a contrast marker. role:
    'after' (the clause follows a contrast marker, or ends with one: "Looks great though"),
    'before' (a negated clause before a contrast, or after a concessive opener: "although",
    虽然), 'negated'. A negated clause is given un-negated ("isn't bad" -> "is bad"; Chinese: the
    few characters after the cue, 不太好 -> 太好) with ``flip`` True: its positive and negative
    probabilities are to be swapped. Ordinary clauses (no negation, no contrast) are only
    counted: the whole text's own score stands for them.

    >>> shifted_clauses("Not bad at all, actually quite good", "en")
    ([('bad at all', 'before', True), ('quite good', 'after', False)], 0)
    >>> shifted_clauses("物流不慢，但是衣服偏小", "zh")
    ([('慢', 'before', True), ('衣服偏小', 'after', False)], 0)
    """
    zh = language == "zh"
    text = str(text or "")
    if not zh:
        text = text.lower()
    shifters = list((_ZH_SHIFTERS if zh else _EN_SHIFTERS).finditer(text))
    if not shifters:
        return [], 0
    negation = _ZH_NEGATION if zh else _EN_NEGATION
    parts = (_ZH_SEPARATORS if zh else _EN_SEPARATORS).split(text)
    seg_starts = list(itertools.accumulate((len(p) + 1 for p in parts[:-1]), initial=0))
    by_segment: dict[int, list[re.Match[str]]] = {}
    for m in shifters:
        by_segment.setdefault(bisect.bisect_right(seg_starts, m.start()) - 1, []).append(m)
    # only segments holding a shifter are parsed; the others are ordinary clauses
    ordinary = sum(1 for k, p in enumerate(parts) if k not in by_segment and p.strip())
    out = []
    keys, forced = sorted(by_segment), set()  # forced: segments after a concessive clause ("Although X, Y")
    while keys:
        k = keys.pop(0)
        found = by_segment.get(k, [])
        seg_end = seg_starts[k] + len(parts[k])
        pieces: list[tuple[int, int, bool, bool, re.Match[str] | None]] = []
        start, after, opener, cue = seg_starts[k], k in forced, False, None
        if not found:  # an ordinary segment after a concessive clause: the verdict
            clause = " ".join(parts[k].split())
            if clause:
                out.append((clause, "after", False))
                ordinary -= 1
            continue
        for m in found:
            if m.lastgroup == "neg":
                a, b = m.start(), m.end()
                if cue is None and not (zh and len(m.group()) == 1 and 0 < a and b < len(text)
                                        and text[a - 1] == text[b]):
                    cue = m  # A-not-A questions (是不是, 有没有) are not negations
                continue
            word = m.group().replace(" ", "_")
            if not text[start:m.start()].strip():  # at the start of a clause
                opener, after = (True, after) if word in _CONCESSIVE else (opener, True)
                start = m.end()
            elif not text[m.end():seg_end].strip(" '\"-"):  # "looks great though": this clause is the verdict
                pieces.append((start, m.start(), True, opener, cue))
                start, after, opener, cue = seg_end, False, False, None
            elif word not in _CONCESSIVE or word in ("although", "though"):
                pieces.append((start, m.start(), after, opener, cue))
                start, after, opener, cue = m.end(), True, False, None
        if text[start:seg_end].strip():
            pieces.append((start, seg_end, after, opener, cue))
        for i, (a, b, after, opener, cue) in enumerate(pieces):
            if cue is not None:
                clause = (negation.sub("", text[cue.end():min(b, cue.end() + _ZH_SCOPE)]) if zh
                          else negation.sub(_en_unnegate, text[a:b]))
            else:
                clause = text[a:b]
            clause = " ".join(clause.split())
            if len(clause) < (1 if zh else 2) or not (after or cue is not None):
                ordinary += not after
                continue
            if after:
                out.append((clause, "after", cue is not None))
                continue
            if i + 1 < len(pieces):
                before = opener or pieces[i + 1][2]
            else:  # the next segment opens with a contrast marker ("Not cheap. But worth it")
                nxt = by_segment.get(k + 1, ())
                before = opener or bool(nxt and nxt[0].lastgroup == "con"
                                        and not text[seg_starts[k + 1]:nxt[0].start()].strip()
                                        and nxt[0].group().replace(" ", "_") not in _CONCESSIVE)
            out.append((clause, "before" if before else "negated", True))
        if pieces and pieces[-1][3] and k + 1 < len(parts) and parts[k + 1].strip() and k + 1 not in forced:
            forced.add(k + 1)  # "Although it was late, it works": the next segment carries the verdict
            if k + 1 not in by_segment:
                keys.insert(0, k + 1)
    return out, ordinary


# Negation scope (English; Das & Chen 2001): the words after a negation cue, up to the next punctuation
# mark or conjunction, are marked ("isn't bad at all" -> "isn't negbad negat negall"), so the word
# n-gram model learns negated opinion words as features of their own instead of reading "bad".
_EN_NEG_SCOPE = re.compile(
    r"\b(?:not|no|never|nothing|nobody|none|neither|nor|hardly|barely|without|cannot|[a-z]+n't|"
    r"(?:do|did|does|is|was|ca|wo|are|were|could|would|should|have|has|had)nt)\b"
    r"([^.,;:!?()\n]*?)(?=[.,;:!?()\n]|\b(?:but|however|though|although|yet|except|and)\b|$)")
_WORD_START = re.compile(r"\b(?=[a-z0-9])")


def _mark_scope(m: re.Match[str]) -> str:
    rest = m.group(1)
    return m.group()[: m.start(1) - m.start()] + _WORD_START.sub("neg", rest)


def negation_scope(text: str) -> str:
    """Lower-cased ``text`` with the words in the scope of a negation cue prefixed ``neg``.

    >>> negation_scope("Not cheap, but worth it. It doesn't feel flimsy")
    "not negcheap, but worth it. it doesn't negfeel negflimsy"
    """
    t = str(text or "").lower().replace("\u2019", "'")
    return _EN_NEG_SCOPE.sub(_mark_scope, t) if "n" in t else t


_FLIPPED = {"positive": "negative", "negative": "positive", "neutral": "neutral"}


def clause_model_data(texts: Sequence[str], labels: Sequence[str], language: str,
                      flipped: bool = True) -> tuple[list[str], list[str]]:
    """Training texts and labels for the clause model that reads negated clauses un-negated.

    In reviews, negative words occur mostly negated ("no complaints", "doesn't disappoint",
    没毛病), so a model trained on whole reviews reads "complaints" alone as praise. The clause
    model learns from each review without its negated clauses (the review's label) and from the
    un-negated forms of those clauses (:func:`shifted_clauses`) with the opposite label (the idea
    of dual training, Xia et al. 2015; ``flipped=False`` leaves them out), so it learns what the
    plain words mean.

    >>> clause_model_data(["Love it, no complaints"], ["positive"], "en")
    (['Love it', 'complaints'], ['positive', 'negative'])
    """
    zh = language == "zh"
    split, negation = (_ZH_SPLIT, _ZH_NEGATION) if zh else (_EN_PUNCT, _EN_NEGATION)
    x: list[str] = []
    y: list[str] = []
    for text, label in zip(texts, labels):
        pieces = [c.strip() for c in split.split(str(text or "")) if c.strip()]
        plain = [c for c in pieces if _first_negation(c, negation) is None]
        if plain:
            x.append(("，" if zh else ", ").join(plain))
            y.append(label)
        views = [] if not flipped else [v for v, _, flip in shifted_clauses(" ".join(c for c in pieces if c not in plain) if zh else
                                                      ". ".join(c for c in pieces if c not in plain), language)[0]
                 if flip]
        if views:
            x.append(("，" if zh else ", ").join(views))
            y.append(_FLIPPED.get(label, label))
    return x, y


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
    shift_weights: ``(negated, after, before[, whole])`` clause weights for polarity shifters
        (:func:`shifted_clauses`): the text's log-probabilities are averaged with those of its
        negated clauses (read un-negated by a clause model, ``view_model_``, positive and negative
        swapped) and of the clauses after a contrast; each ordinary clause weighs 1 and the whole
        text ``whole`` (default 1); None turns it off.
    clause_weight: weight of the clause model in :meth:`clause_positive_proba` (aspect polarity).
    dual_clauses: the clause model also learns from un-negated clauses with the opposite label
        (:func:`clause_model_data`); False: only from the texts without their negated clauses.
    clause_classifier: the clause model's recipe (default: a copy of ``classifier``); clauses are
        short, so a smaller one (e.g. char 1-3 grams) keeps the model file small.
    negation_scope: mark the words after a negation cue (:func:`negation_scope`, English) before the
        classifier reads a text, in training and prediction.

    :meth:`adapt` re-estimates the class balance on a shop's unlabelled reviews (``class_shift_``).
    """

    def __init__(self, classifier: Model | None = None, neutral_band: float = 0.15, language: str = "",
                 contrast_weight: float = 0.0, shift_weights: tuple[float, ...] | None = None,
                 clause_weight: float = 0.0, dual_clauses: bool = True,
                 clause_classifier: Model | None = None, negation_scope: bool = False) -> None:
        self.classifier = classifier
        self.neutral_band = neutral_band
        self.language = language
        self.contrast_weight = contrast_weight
        self.shift_weights = shift_weights
        self.clause_weight = clause_weight
        self.dual_clauses = dual_clauses
        self.clause_classifier = clause_classifier
        self.negation_scope = negation_scope

    def _read(self, texts: Sequence[str]) -> np.ndarray:
        """The main model's class probabilities (negation scope marked when ``negation_scope``)."""
        if getattr(self, "negation_scope", False):  # models pickled before it: off
            texts = [negation_scope(t) for t in texts]
        return self.model_.predict_proba(list(texts))

    def _proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities with the contrast view and the prior shift applied."""
        texts = list(texts)
        proba = self._read(texts)
        w = getattr(self, "contrast_weight", 0.0)
        if w:
            views = [contrast_view(t, getattr(self, "language", "")) for t in texts]
            idx = [i for i, v in enumerate(views) if v]
            if idx:
                proba[idx] = (1.0 - w) * proba[idx] + w * self._read([views[i] for i in idx])
        weights = getattr(self, "shift_weights", None)
        if weights is not None and any(weights):
            proba = self._shift(texts, proba, weights)
        shift = getattr(self, "class_shift_", None)
        if shift is not None:
            proba = proba * np.exp(shift)
            proba = proba / proba.sum(axis=1, keepdims=True)
        return proba

    def _shift(self, texts: list[str], proba: np.ndarray, weights: Sequence[float]) -> np.ndarray:
        """Average log-probabilities of each text with its polarity-shifting clauses (:func:`shifted_clauses`)."""
        role_weight = dict(zip(("negated", "after", "before"), weights))
        owner, views, wts, flips = [], [], [], []
        base = np.full(len(texts), float(weights[3]) if len(weights) > 3 else 1.0)
        lang = getattr(self, "language", "")
        for i, t in enumerate(texts):
            parts, ordinary = shifted_clauses(t, lang)
            base[i] += ordinary
            for clause, role, flip in parts:
                if role_weight[role]:
                    owner.append(i)
                    views.append(clause)
                    wts.append(role_weight[role])
                    flips.append(flip)
        if not views:
            return proba
        classes = list(self.classes_)
        viewer = getattr(self, "view_model_", None) or self.model_
        part = np.log(np.clip(viewer.predict_proba(views), 1e-9, 1.0))
        if "positive" in classes and "negative" in classes:
            pos, neg = classes.index("positive"), classes.index("negative")
            f = np.asarray(flips, dtype=bool)
            part[f, pos], part[f, neg] = part[f, neg], part[f, pos].copy()
        owner_a, w = np.asarray(owner), np.asarray(wts, dtype=float)
        total = base[:, None] * np.log(np.clip(proba, 1e-9, 1.0))
        np.add.at(total, owner_a, part * w[:, None])
        norm = base.copy()
        np.add.at(norm, owner_a, w)
        z = total / norm[:, None]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

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

    def fit(self, texts: Sequence[str], labels: Sequence[object], clause_texts: Sequence[str] = (),
            clause_labels: Sequence[object] = ()) -> SentimentModel:
        """Learn from texts and labels. With ``shift_weights`` a clause model is learned too
        (:func:`clause_model_data`); ``clause_texts``/``clause_labels`` add short labelled
        sentences to its training data only (e.g. aspect-annotated review sentences)."""
        texts = ["" if t is None else str(t) for t in texts]
        y = normalize_labels(labels)
        clf = self.classifier if self.classifier is not None else NgramClassifier()
        self.model_ = clone(clf).fit([negation_scope(t) for t in texts] if self.negation_scope else list(texts), y)
        self.classes_ = self.model_.classes_
        self.train_prior_ = np.array([np.mean(np.asarray(y) == c) for c in self.classes_])
        self.class_shift_ = None
        self.view_model_ = None
        if self.shift_weights is not None and any(self.shift_weights):
            dual = getattr(self, "dual_clauses", True)
            vx, vy = clause_model_data(texts, y, self.language, flipped=dual)
            if len(clause_texts):
                cx, cy = clause_model_data([str(t) for t in clause_texts], normalize_labels(clause_labels), self.language,
                                           flipped=dual)
                vx, vy = vx + cx, vy + cy
            if len(set(vy)) == len(self.classes_):
                small = getattr(self, "clause_classifier", None) or clf
                self.view_model_ = type(small)(**small.get_params()).fit(vx, vy)
        return self

    def positive_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of positive for each text."""
        self.check_fitted()
        proba = self._proba(texts)
        return proba[:, list(self.classes_).index("positive")] if "positive" in self.classes_ else np.zeros(len(proba))

    def clause_positive_proba(self, clauses: Sequence[str]) -> np.ndarray:
        """Probability of positive for short clauses (aspect evidence): the text reading
        (:meth:`positive_proba`, polarity shifters included) averaged in log space with the
        clause model's reading of the clause, weighted ``clause_weight`` (0: the text reading alone)."""
        self.check_fitted()
        clauses = list(clauses)
        proba = self._proba(clauses)
        viewer, w = getattr(self, "view_model_", None), float(getattr(self, "clause_weight", 0.0))
        if viewer is not None and w and clauses:
            z = (np.log(np.clip(proba, 1e-9, 1.0)) + w * np.log(np.clip(viewer.predict_proba(clauses), 1e-9, 1.0))) / (1 + w)
            z -= z.max(axis=1, keepdims=True)
            proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
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
    adapted = SentimentModel(**model.get_params()).fit(  # the same recipe (older pickles: defaults)
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

"""Aspect-based sentiment for e-commerce reviews (Chinese and English).

Which aspects a review talks about comes from a curated lexicon per aspect and
language (extensible: pass your own ``lexicon``); the polarity toward each
aspect is the sentiment model's reading of the clause that mentions it, and
that clause is the evidence. A lexicon is used for detection because no
aspect-labelled Chinese training data exists; the hand-labelled set in
``tests/data/text/zh_aspects.csv`` measures how well it works.

>>> ex = AspectExtractor()
>>> [(a["aspect"], a["evidence"]) for a in ex.mentions("物流很快，但是衣服偏小", "zh")]
[('logistics', '物流很快'), ('size_fit', '但是衣服偏小')]
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shoplens.base import Model
from shoplens.text.entities import trie_regex
from shoplens.text.normalize import CLAUSE_SEPARATOR, FULL_WIDTH, clauses, normalize

ASPECTS = ("logistics", "quality", "price", "service", "packaging", "appearance", "size_fit", "function")

LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "logistics": ("物流", "快递", "发货", "送货", "配送", "到货", "送到", "收到货", "派送", "运输", "送达", "邮寄",
                      "顺丰", "圆通", "申通", "中通", "韵达", "速度很快", "送得", "送的", "几天才到", "到了"),
        "quality": ("质量", "做工", "品质", "材质", "面料", "布料", "用料", "质感", "掉色", "起球", "线头", "正品", "假货",
                    "新鲜", "烂", "坏了", "开线", "破洞", "结实", "耐用", "褪色", "掉毛", "有瑕疵", "次品"),
        "price": ("价格", "价钱", "性价比", "便宜", "贵", "实惠", "划算", "物美价廉", "优惠", "降价", "价位", "值得",
                  "不值", "块钱", "元"),
        "service": ("客服", "服务", "态度", "售后", "卖家", "商家", "店家", "掌柜", "前台", "服务员", "回复"),
        "packaging": ("包装", "盒子", "纸箱", "外包装", "破损", "泡沫", "封口", "漏了", "箱子", "袋子"),
        "appearance": ("外观", "颜色", "款式", "样子", "好看", "漂亮", "颜值", "设计", "图案", "色差", "丑", "外形",
                       "时尚", "大方", "显瘦", "上身效果"),
        "size_fit": ("尺码", "大小", "码数", "偏大", "偏小", "合身", "尺寸", "长短", "宽松", "太紧", "太大", "太小",
                     "大了", "小了", "码子", "肥"),
        "function": ("功能", "性能", "效果", "电池", "续航", "屏幕", "系统", "运行", "好用", "信号", "声音", "音质",
                     "速度慢", "反应", "卡顿", "死机", "发热", "充电", "散热", "键盘", "像素", "拍照", "去屑", "止痒",
                     "味道", "口感", "好吃", "甜", "酸", "加热", "出水", "温度"),
    },
    "en": {
        "logistics": ("shipping", "delivery", "delivered", "arrived", "shipped", "courier", "ship", "arrive",
                      "transit", "tracking"),
        "quality": ("quality", "fabric", "material", "stitching", "well made", "poorly made", "durable", "tear",
                    "ripped", "pilling", "pilled", "seams", "flimsy", "sturdy", "cheaply made", "thin", "sheer",
                    "see through", "see-through", "wash", "washed", "shrunk", "shrank",
                    # breakage and defects of the product itself (the guideline's quality, tests/data/text/README.md)
                    "broken", "broke", "cracked", "defective", "faulty", "fell apart", "falling apart"),
        "price": ("price", "priced", "expensive", "cheap", "value", "worth", "deal", "sale", "money", "pricey",
                  "overpriced", "bargain", "cost"),
        "service": ("customer service", "service", "staff", "support", "seller", "rude", "helpful", "representative",
                    "tech support"),
        "packaging": ("packaging", "package", "box", "wrapped", "packed", "bag"),
        "appearance": ("color", "colour", "colors", "look", "looks", "pattern", "design", "style", "beautiful",
                       "pretty", "cute", "print", "gorgeous", "ugly", "flattering", "stylish", "elegant"),
        "size_fit": ("size", "sizing", "fit", "fits", "fitted", "runs small", "runs large", "tight", "loose", "length",
                     "petite", "too big", "too small", "too short", "too long", "snug", "baggy", "boxy", "true to size"),
        "function": ("battery", "screen", "works", "performance", "feature", "features", "sound", "picture",
                     "pictures", "speed", "camera", "software", "zoom", "lens", "menu", "interface", "signal",
                     "reception", "functions", "setup", "install", "keep warm", "warm",
                     # electronics features named in the tuning half of the Hu & Liu reviews (scripts/eval_aspects.py)
                     "battery life", "sound quality", "picture quality", "photos", "photo", "image", "lcd", "display",
                     "flash", "controls", "control", "buttons", "button", "navigation", "firmware", "storage",
                     "memory", "capacity", "volume", "headphones", "earbuds", "remote", "transfer", "ease of use",
                     "user interface", "play", "radio", "bluetooth", "ringtone", "ringtones", "games", "video", "audio",
                     "bass", "installation", "set up", "noise", "power", "scroll", "wheel", "keypad", "keys", "manual",
                     "smell",
                     "comfortable", "comfy", "soft"),
    },
}


# Opinion words (English): evaluative adjectives, verbs and phrases. With
# ``AspectExtractor(opinion=OPINION_WORDS)`` a clause without one of them does not
# count as an opinion on an aspect. Off by default: on the Hu & Liu tuning half it
# raised precision less than it cost recall (docs/text-models.md, Aspects).
OPINION_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        # positive
        "good", "great", "excellent", "amazing", "awesome", "fantastic", "wonderful", "perfect", "perfectly", "nice",
        "best", "better", "love", "loved", "loves", "like", "liked", "likes", "happy", "pleased", "satisfied",
        "impressed", "impressive", "recommend", "recommended", "easy", "easily", "intuitive", "fast", "quick",
        "quickly", "sharp", "clear", "crisp", "bright", "vivid", "beautiful", "pretty", "gorgeous", "cute", "lovely",
        "stunning", "elegant", "stylish", "sleek", "flattering", "comfortable", "comfy", "soft", "cozy", "warm",
        "sturdy", "solid", "durable", "reliable", "well made", "well-made", "high quality", "worth", "worth it",
        "value", "bargain", "affordable", "reasonable", "cheap", "inexpensive", "helpful", "friendly", "responsive",
        "superb", "outstanding", "incredible", "terrific", "superior", "decent", "fine", "fun", "cool", "neat",
        "handy", "useful", "convenient", "powerful", "strong", "long", "plenty", "enough", "compact", "light",
        "lightweight", "small", "tiny", "slim", "thin", "big", "large", "huge", "loud", "quiet", "smooth", "stable",
        "accurate", "true to size", "fits", "fit", "flawless", "flawlessly", "works", "worked", "working", "well",
        "favorite", "favourite", "enjoy", "enjoyed", "glad", "exceeded", "exceeds", "rocks", "rock", "wow",
        "incredibly", "highly", "fabulous", "brilliant", "lasts", "lasted", "simple", "versatile", "adequate",
        "acceptable", "okay", "ok", "fair", "improved", "improvement", "nicely", "beautifully", "gorgeous",
        # negative
        "bad", "poor", "poorly", "terrible", "horrible", "awful", "worst", "worse", "hate", "hated", "dislike",
        "disappointed", "disappointing", "disappointment", "unhappy", "annoying", "annoyed", "frustrating",
        "frustrated", "problem", "problems", "issue", "issues", "trouble", "defective", "broken", "broke", "breaks",
        "died", "dies", "dead", "fail", "failed", "fails", "failure", "faulty", "flaw", "flaws", "flimsy", "cheaply",
        "junk", "useless", "waste", "slow", "sluggish", "blurry", "fuzzy", "grainy", "dim", "dull", "noisy",
        "heavy", "bulky", "clunky", "awkward", "difficult", "hard", "complicated", "confusing", "expensive",
        "overpriced", "pricey", "costly", "rude", "unhelpful", "weak", "short", "tight", "loose", "baggy", "boxy",
        "itchy", "scratchy", "sheer", "see through", "see-through", "ugly", "unflattering", "wrong", "lacks",
        "lacking", "lack", "missing", "mediocre", "crap", "crappy", "sucks", "suck", "return", "returned",
        "returning", "refund", "complaint", "complain", "drawback", "downside", "unfortunately", "not", "no",
        "never", "don't", "doesn't", "didn't", "can't", "cannot", "won't", "isn't", "wasn't", "too", "only",
        "runs small", "runs large", "ripped", "tear", "torn", "pilling", "pilled", "shrunk", "shrank", "faded",
        "stopped", "crash", "crashes", "crashed", "freeze", "freezes", "froze", "glitch", "bug", "bugs", "buggy",
        "unreliable", "inaccurate", "limited", "mistake", "regret", "avoid", "beware", "lousy", "pathetic",
    ),
}


def _compile(words: Sequence[str], language: str) -> re.Pattern[str]:
    """One trie-shaped alternation of all keywords (spaces match any whitespace); word-bounded for Latin scripts."""
    body = trie_regex(sorted({" ".join(w.lower().split()) for w in words if w.strip()})).replace("\\ ", r"\s+")
    return re.compile(body if language == "zh" else rf"\b{body}\b")


def _spans(text: str) -> tuple[list[int], list[int]]:
    """(starts, ends) of the clauses of ``text`` (separators excluded, before stripping)."""
    starts, ends, pos = [], [], 0
    for m in CLAUSE_SEPARATOR.finditer(text):
        starts.append(pos)
        ends.append(m.start())
        pos = m.end()
    starts.append(pos)
    ends.append(len(text))
    return starts, ends


class AspectExtractor:
    """Find aspects per clause; polarity from a clause-level sentiment scorer.

    Keywords of all aspects of a language are one compiled (trie-shaped) regular
    expression, run once over the lower-cased review; each hit is placed in its
    clause by position. With ``opinion`` words for a language (e.g.
    :data:`OPINION_WORDS`), only clauses that also contain an opinion word count
    there ("I bought the camera for a trip" names a feature but says nothing about it).

    Parameters
    ----------
    lexicon: ``{language: {aspect: (keyword, ...)}}``; defaults to :data:`LEXICON`.
    positive_at, negative_at: probability-of-positive cut-offs for the polarity.
    opinion: ``{language: (opinion word, ...)}``; default none (every mention counts).
    detector: an :class:`AspectDetector` that decides its learned aspects in English texts (per sentence);
        the lexicon keeps the other aspects and the other languages.
    polarity_model: an :class:`AspectPolarity` for English mentions instead of the probability cut-offs.

    >>> AspectExtractor().mentions("I bought it for the camera", "en")
    [{'aspect': 'function', 'evidence': 'I bought it for the camera'}]
    >>> AspectExtractor(opinion=OPINION_WORDS).mentions("I bought it for the camera", "en")
    []
    """

    def __init__(self, lexicon: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 positive_at: float = 0.6, negative_at: float = 0.4,
                 opinion: Mapping[str, Sequence[str]] | None = None, detector: AspectDetector | None = None,
                 polarity_model: AspectPolarity | None = None) -> None:
        self.lexicon = lexicon
        self.positive_at = positive_at
        self.negative_at = negative_at
        self.opinion = opinion
        self.detector = detector
        self.polarity_model = polarity_model
        lex = lexicon or LEXICON
        self._patterns = {lang: {a: _compile(ws, lang) for a, ws in aspects.items() if ws}
                          for lang, aspects in lex.items()}
        self._keyword_aspects: dict[str, dict[str, list[str]]] = {}
        self._combined: dict[str, re.Pattern[str]] = {}
        for lang, aspects in lex.items():
            index: dict[str, list[str]] = {}
            for aspect, ws in aspects.items():
                for w in ws:
                    key = " ".join(w.lower().split())
                    if key and aspect not in index.setdefault(key, []):
                        index[key].append(aspect)
            if index:
                self._keyword_aspects[lang] = index
                self._combined[lang] = _compile(list(index), lang)
        self._order = {lang: {a: i for i, a in enumerate(aspects)} for lang, aspects in lex.items()}
        self._opinion = {lang: _compile(ws, lang) for lang, ws in (opinion or {}).items() if ws}

    def _lang(self, language: str) -> str:
        return language if language in self._combined else "en"

    def mentions(self, text: str, language: str) -> list[dict[str, str]]:
        """Aspect mentions without polarity: [{aspect, evidence}], first (opinionated) clause per aspect."""
        text = str(text or "")
        lang = self._lang(language)
        if lang not in self._combined:
            return []
        folded = text.lower() if text.isascii() else text.translate(FULL_WIDTH).lower()
        if len(folded) != len(text):  # offsets would not line up: the slow, clause-by-clause way
            return self._mentions_by_clause(text, lang)
        starts, ends = _spans(folded)
        hits = [(m.start(), m.group()) for m in self._combined[lang].finditer(folded)]
        if not hits:
            return []
        opinion = self._opinion.get(lang)
        allowed = None
        if opinion is not None:
            allowed = {bisect.bisect_right(starts, m.start()) - 1 for m in opinion.finditer(folded)}
        index, order = self._keyword_aspects[lang], self._order[lang]
        found: dict[str, int] = {}
        for pos, word in hits:
            c = bisect.bisect_right(starts, pos) - 1
            if allowed is not None and c not in allowed:
                continue
            for aspect in index[" ".join(word.split())]:
                if aspect not in found:
                    found[aspect] = c
        ranked = sorted(found.items(), key=lambda kv: (kv[1], order.get(kv[0], 99)))
        out = []
        for aspect, c in ranked:
            evidence = text[starts[c]:ends[c]].strip()
            if evidence:
                out.append({"aspect": aspect, "evidence": evidence})
        return out

    def _mentions_by_clause(self, text: str, lang: str) -> list[dict[str, str]]:
        patterns = self._patterns.get(lang, {})
        opinion = self._opinion.get(lang)
        found: dict[str, str] = {}
        for clause in clauses(text):
            norm = normalize(clause)
            if opinion is not None and not opinion.search(norm):
                continue
            for aspect, pattern in patterns.items():
                if aspect not in found and pattern.search(norm):
                    found[aspect] = clause
        return [{"aspect": a, "evidence": e} for a, e in found.items()]

    def polarity(self, p: float) -> str:
        """positive / negative / neutral from a probability of positive."""
        return "positive" if p >= self.positive_at else "negative" if p <= self.negative_at else "neutral"

    def mentions_batch(self, texts: Sequence[str], languages: Sequence[str]) -> list[list[dict[str, str]]]:
        """:meth:`mentions` of many texts; with a ``detector`` its aspects in English texts come from it.

        A learned aspect is mentioned when one sentence's P(aspect) reaches the detector's threshold; the
        evidence is the lexicon's clause for it in such a sentence, else that sentence.
        """
        out = [self.mentions(t, lang) for t, lang in zip(texts, languages)]
        if self.detector is None:
            return out
        en = [i for i, lang in enumerate(languages) if self._lang(lang) == "en"]
        sentences = {i: en_sentences(str(texts[i] or "")) for i in en}
        flat = [s for i in en for s in sentences[i]]
        proba = self.detector.predict_proba(flat)
        learned = self.detector.aspects_
        order = {a: k for k, a in enumerate(ASPECTS)}
        row = 0
        for i in en:
            text, sents = str(texts[i] or ""), sentences[i]
            p = proba[row:row + len(sents)]
            row += len(sents)
            kept = [m for m in out[i] if m["aspect"] not in learned]
            by_aspect = {m["aspect"]: m for m in out[i]}
            for k, aspect in enumerate(learned):
                hit = [j for j in range(len(sents)) if p[j, k] >= self.detector.threshold]
                if not hit:
                    continue
                rule = by_aspect.get(aspect)
                if rule is not None and any(rule["evidence"] in sents[j] for j in hit):
                    kept.append(rule)
                    continue
                own = [m for m in self.mentions(sents[hit[0]], "en") if m["aspect"] == aspect]
                kept.append({"aspect": aspect, "evidence": own[0]["evidence"] if own else sents[hit[0]]})
            kept.sort(key=lambda m: (max(text.find(m["evidence"]), 0), order.get(m["aspect"], 99)))
            out[i] = kept
        return out

    def extract(self, texts: Sequence[str], languages: Sequence[str],
                scorers: Mapping[str, Callable[[list[str]], np.ndarray]]) -> list[list[dict[str, str]]]:
        """[{aspect, polarity, evidence}] per text; ``scorers[lang](clauses) -> P(positive)``.

        All evidence clauses of one language are scored in one call (each distinct clause once); with a
        ``polarity_model`` that reads the text the English texts that have mentions are scored too.
        """
        texts = [str(t or "") for t in texts]
        per_text = self.mentions_batch(texts, languages)
        by_lang: dict[str, dict[str, int]] = {}
        keys = [lang if lang in scorers else "en" for lang in languages]
        learned = self.polarity_model is not None
        reads_text = learned and getattr(self.polarity_model, "text_reading", False)
        for t, mentions, key in zip(texts, per_text, keys):
            unique = by_lang.setdefault(key, {})
            for m in mentions:
                unique.setdefault(m["evidence"], len(unique))
            if mentions and reads_text and key == "en":
                unique.setdefault(t, len(unique))
        scores: dict[str, np.ndarray] = {lang: np.asarray(scorers[lang](list(u))) if u else np.empty(0)
                                         for lang, u in by_lang.items()}
        return [self.with_polarity(mentions, by_lang[key], scores[key], text=t if learned and key == "en" else None,
                                   text_p=(float(scores[key][by_lang[key][t]])
                                           if reads_text and key == "en" and mentions else None))
                for t, mentions, key in zip(texts, per_text, keys)]

    def with_polarity(self, mentions: list[dict[str, str]], where: Mapping[str, int],
                      probs: np.ndarray, *, text: str | None = None,
                      text_p: float | None = None) -> list[dict[str, str]]:
        """Mentions with polarity: ``probs[where[evidence]]`` is the clause's probability of positive.

        With a ``polarity_model`` and the English ``text`` (and its P(positive) ``text_p`` when the model
        reads the text), the model decides.
        """
        clause_p = np.array([float(probs[where[m["evidence"]]]) for m in mentions])
        model = self.polarity_model
        if model is not None and text is not None and mentions and (text_p is not None or not model.text_reading):
            x = AspectPolarity.features([m["evidence"] for m in mentions], [text] * len(mentions), clause_p,
                                        None if text_p is None else np.full(len(mentions), text_p))
            labels = model.labels(x)
        else:
            labels = [self.polarity(p) for p in clause_p]
        return [{"aspect": m["aspect"], "polarity": label, "evidence": m["evidence"]}
                for m, label in zip(mentions, labels)]


# -- learned English aspects (issue #20): detection per sentence, polarity per mention --------------------------
_EN_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def en_sentences(text: str) -> list[str]:
    """The sentences of an English text (split after . ! ? and at line breaks; empty ones dropped)."""
    return [s.strip() for s in _EN_SENTENCE.split(text) if s.strip()]


class AspectDetector(Model):
    """Which aspects an English sentence gives an opinion on: one logistic regression per learned aspect.

    Features: word 1-2 gram TF-IDF of the lower-cased sentence, and (times ``lexicon_weight``) the
    lexicon's keyword hit per aspect, the hits that co-occur with an opinion word (:data:`OPINION_WORDS`),
    the number of opinion words, the length and a product-noun flag. Trained on the Hu & Liu tuning half
    (CC BY 4.0) by ``scripts/train_en_aspects.py``; not shipped (docs/text-models.md). An aspect not in
    ``learned`` stays with the lexicon rules.

    Parameters
    ----------
    learned: the aspects this model decides (the others: lexicon rules).
    C: inverse L2 strength of each logistic regression.
    threshold: P(aspect) at or above which a sentence mentions it.
    lexicon_weight: scale of the lexicon features next to the TF-IDF ones.
    min_df: minimum number of training sentences per n-gram.
    """

    def __init__(self, learned: Sequence[str] = ("price", "service", "appearance", "function"), C: float = 3.0,
                 threshold: float = 0.25, lexicon_weight: float = 3.0, min_df: int = 2) -> None:
        self.learned = learned
        self.C = C
        self.threshold = threshold
        self.lexicon_weight = lexicon_weight
        self.min_df = min_df

    def _lexicon_features(self, sentences: Sequence[str]) -> np.ndarray:
        patterns = _lexicon_patterns()
        opinion = _compile(OPINION_WORDS["en"], "en")
        rows = np.zeros((len(sentences), 2 * len(ASPECTS) + 4), dtype=np.float64)
        for i, s in enumerate(sentences):
            s = s.lower()
            hits = [1.0 if patterns[a].search(s) else 0.0 for a in ASPECTS]
            n_opinion = len(opinion.findall(s))
            rows[i, :len(ASPECTS)] = hits
            rows[i, len(ASPECTS):2 * len(ASPECTS)] = np.asarray(hits) * (n_opinion > 0)
            rows[i, -4:] = (min(n_opinion, 3) / 3, float(n_opinion > 0), min(len(s.split()), 40) / 40,
                            float(bool(_PRODUCT_WORDS.search(s))))
        return rows * self.lexicon_weight

    def _features(self, sentences: Sequence[str]):  # noqa: ANN202 (a scipy sparse matrix)
        from scipy import sparse

        words = self.vectorizer_.transform([s.lower() for s in sentences])
        return sparse.hstack([words, sparse.csr_matrix(self._lexicon_features(sentences))]).tocsr()

    def fit(self, sentences: Sequence[str], aspects: Sequence[Sequence[str]]) -> AspectDetector:
        """Learn from sentences and the aspects each gives an opinion on (an empty list for none)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(sentences) != len(aspects):
            raise ValueError(f"{len(sentences)} sentences but {len(aspects)} aspect lists")
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df, sublinear_tf=True, dtype=np.float32)
        self.vectorizer_.fit([s.lower() for s in sentences])
        x = self._features(sentences)
        coef, intercept, kept = [], [], []
        for aspect in self.learned:
            y = np.array([aspect in a for a in aspects], dtype=int)
            if y.sum() < 3 or y.sum() == len(y):
                continue
            lr = LogisticRegression(C=self.C, solver="liblinear").fit(x, y)
            coef.append(lr.coef_[0].astype(np.float32))
            intercept.append(float(lr.intercept_[0]))
            kept.append(aspect)
        self.aspects_ = tuple(kept)
        self.coef_ = np.vstack(coef) if coef else np.zeros((0, x.shape[1]), dtype=np.float32)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        return self

    def predict_proba(self, sentences: Sequence[str]) -> np.ndarray:
        """P(aspect) per sentence (rows) and learned aspect (columns, in ``aspects_`` order)."""
        self.check_fitted()
        if not sentences:
            return np.zeros((0, len(self.aspects_)))
        z = np.asarray(self._features(sentences) @ self.coef_.T) + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))


_PRODUCT_WORDS = re.compile(r"\b(?:product|item|unit|device|thing|camera|phone|player|router|machine|model|it|this|one)\b")
_CONTRAST = re.compile(r"\b(?:but|however|though|although|except|unfortunately|sadly|yet)\b")
_LEXICON_PATTERNS: dict[str, re.Pattern[str]] = {}


def _lexicon_patterns() -> dict[str, re.Pattern[str]]:
    """One compiled pattern per English aspect of :data:`LEXICON` (compiled once per process)."""
    if not _LEXICON_PATTERNS:
        _LEXICON_PATTERNS.update({a: _compile(ws, "en") for a, ws in LEXICON["en"].items()})
    return _LEXICON_PATTERNS


def default_extractor() -> AspectExtractor:
    """The shipped aspect extractor: lexicon rules; English polarity from the learned model
    ``en_aspect_polarity.pkl`` (rebuilt by ``scripts/train_en_aspects.py``). The learned detector is not
    shipped: it gained on the Hu & Liu electronics but lost on clothing-like sentences (docs/text-models.md)."""
    from shoplens.text.models import load_model

    return AspectExtractor(polarity_model=load_model("en_aspect_polarity"))


class AspectPolarity(Model):
    """positive / negative toward an aspect from its clause: a logistic regression over few features.

    Features: logit of the sentiment model's P(positive) of the evidence clause, a negation cue in the
    clause (and its product with the clause logit), a contrast word in the clause, a contrast word before
    the clause in the text; with ``text_reading`` also the logit of the whole text's P(positive). Trained
    on the (sentence, aspect) pairs of the Hu & Liu tuning half with sentiment probabilities of models
    that did not see those sentences (``scripts/train_en_aspects.py``).

    Parameters
    ----------
    C: inverse L2 strength.
    neutral_band: ``|P(positive) - 0.5|`` below which the polarity is neutral (0: never neutral).
    text_reading: also read the whole text's P(positive) (off: it won on the Hu & Liu sentences but lost on
        clothing-like sentences whose aspects differ in polarity, docs/text-models.md).
    intercept: learn an intercept (the training mentions' share of positive ones).
    """

    def __init__(self, C: float = 0.1, neutral_band: float = 0.0, text_reading: bool = False,
                 intercept: bool = True) -> None:
        self.C = C
        self.neutral_band = neutral_band
        self.text_reading = text_reading
        self.intercept = intercept

    @staticmethod
    def features(evidence: Sequence[str], texts: Sequence[str], clause_p: np.ndarray,
                 text_p: np.ndarray | None = None) -> np.ndarray:
        """Feature rows for mentions: clause logit, text logit (0 without ``text_p``), negation, negation x
        clause logit, contrast in the clause, contrast before it."""
        from shoplens.text.sentiment import _EN_NEGATION

        def logit(p: np.ndarray) -> np.ndarray:
            p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
            return np.log(p / (1 - p))

        lc = logit(clause_p)
        lt = logit(text_p) if text_p is not None else np.zeros(len(lc))
        neg = np.array([bool(_EN_NEGATION.search(e.lower())) for e in evidence], dtype=float)
        con = np.array([bool(_CONTRAST.search(e.lower())) for e in evidence], dtype=float)
        before = np.array([bool(_CONTRAST.search(t.lower()[:max(t.find(e), 0)])) for e, t in zip(evidence, texts)],
                          dtype=float)
        return np.column_stack([lc, lt, neg, neg * lc, con, before]).reshape(len(lc), 6)

    def _columns(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return x if self.text_reading else np.delete(x, 1, axis=1)

    def fit(self, x: np.ndarray, positive: Sequence[bool]) -> AspectPolarity:
        """Learn from :meth:`features` rows and whether each mention is positive."""
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.C, fit_intercept=self.intercept).fit(self._columns(x),
                                                                            np.asarray(positive, dtype=int))
        self.coef_, self.intercept_ = lr.coef_[0].copy(), float(np.ravel(lr.intercept_)[0])
        return self

    def positive_proba(self, x: np.ndarray) -> np.ndarray:
        """P(positive) per :meth:`features` row."""
        self.check_fitted()
        return 1.0 / (1.0 + np.exp(-(self._columns(x) @ self.coef_ + self.intercept_)))

    def labels(self, x: np.ndarray) -> list[str]:
        """positive / negative (/ neutral inside the band) per feature row."""
        p = self.positive_proba(x)
        return ["neutral" if abs(q - 0.5) < self.neutral_band else "positive" if q >= 0.5 else "negative" for q in p]

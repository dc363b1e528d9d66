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

    >>> AspectExtractor().mentions("I bought it for the camera", "en")
    [{'aspect': 'function', 'evidence': 'I bought it for the camera'}]
    >>> AspectExtractor(opinion=OPINION_WORDS).mentions("I bought it for the camera", "en")
    []
    """

    def __init__(self, lexicon: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 positive_at: float = 0.6, negative_at: float = 0.4,
                 opinion: Mapping[str, Sequence[str]] | None = None) -> None:
        self.lexicon = lexicon
        self.positive_at = positive_at
        self.negative_at = negative_at
        self.opinion = opinion
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

    def extract(self, texts: Sequence[str], languages: Sequence[str],
                scorers: Mapping[str, Callable[[list[str]], np.ndarray]]) -> list[list[dict[str, str]]]:
        """[{aspect, polarity, evidence}] per text; ``scorers[lang](clauses) -> P(positive)``.

        All evidence clauses of one language are scored in one call (each distinct clause once).
        """
        per_text = [self.mentions(t, lang) for t, lang in zip(texts, languages)]
        by_lang: dict[str, dict[str, int]] = {}
        for mentions, lang in zip(per_text, languages):
            key = lang if lang in scorers else "en"
            unique = by_lang.setdefault(key, {})
            for m in mentions:
                unique.setdefault(m["evidence"], len(unique))
        scores: dict[str, np.ndarray] = {lang: np.asarray(scorers[lang](list(u))) if u else np.empty(0)
                                         for lang, u in by_lang.items()}
        return [self.with_polarity(mentions, by_lang[lang if lang in scorers else "en"],
                                   scores[lang if lang in scorers else "en"])
                for mentions, lang in zip(per_text, languages)]

    def with_polarity(self, mentions: list[dict[str, str]], where: Mapping[str, int],
                      probs: np.ndarray) -> list[dict[str, str]]:
        """Mentions with polarity: ``probs[where[evidence]]`` is the clause's probability of positive."""
        return [{"aspect": m["aspect"], "polarity": self.polarity(float(probs[where[m["evidence"]]])),
                 "evidence": m["evidence"]} for m in mentions]

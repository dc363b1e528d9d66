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

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shoplens.text.normalize import clauses, normalize

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
                    "see through", "see-through", "wash", "washed", "shrunk", "shrank"),
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
                     "reception", "functions", "player", "router", "setup", "install", "keep warm", "warm",
                     "comfortable", "comfy", "soft"),
    },
}


def _compile(words: Sequence[str], language: str) -> re.Pattern[str]:
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(alts if language == "zh" else rf"\b(?:{alts})\b")


class AspectExtractor:
    """Find aspects per clause; polarity from a clause-level sentiment scorer.

    Parameters
    ----------
    lexicon: ``{language: {aspect: (keyword, ...)}}``; defaults to :data:`LEXICON`.
    positive_at, negative_at: probability-of-positive cut-offs for the polarity.
    """

    def __init__(self, lexicon: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 positive_at: float = 0.6, negative_at: float = 0.4) -> None:
        self.lexicon = lexicon
        self.positive_at = positive_at
        self.negative_at = negative_at
        lex = lexicon or LEXICON
        self._patterns = {lang: {a: _compile(ws, lang) for a, ws in aspects.items() if ws}
                          for lang, aspects in lex.items()}

    def mentions(self, text: str, language: str) -> list[dict[str, str]]:
        """Aspect mentions without polarity: [{aspect, evidence}], first clause per aspect."""
        patterns = self._patterns.get(language) or self._patterns.get("en", {})
        found: dict[str, str] = {}
        for clause in clauses(text):
            norm = normalize(clause)
            for aspect, pattern in patterns.items():
                if aspect not in found and pattern.search(norm):
                    found[aspect] = clause
        return [{"aspect": a, "evidence": e} for a, e in found.items()]

    def extract(self, texts: Sequence[str], languages: Sequence[str],
                scorers: Mapping[str, Callable[[list[str]], np.ndarray]]) -> list[list[dict[str, str]]]:
        """[{aspect, polarity, evidence}] per text; ``scorers[lang](clauses) -> P(positive)``."""
        per_text = [self.mentions(t, lang) for t, lang in zip(texts, languages)]
        by_lang: dict[str, list[tuple[int, int]]] = {}
        for i, (mentions, lang) in enumerate(zip(per_text, languages)):
            key = lang if lang in scorers else "en"
            by_lang.setdefault(key, []).extend((i, j) for j in range(len(mentions)))
        for lang, where in by_lang.items():
            if not where:
                continue
            probs = scorers[lang]([per_text[i][j]["evidence"] for i, j in where])
            for (i, j), p in zip(where, probs):
                per_text[i][j]["polarity"] = (
                    "positive" if p >= self.positive_at else "negative" if p <= self.negative_at else "neutral")
        return [[{"aspect": m["aspect"], "polarity": m.get("polarity", "neutral"), "evidence": m["evidence"]}
                 for m in mentions] for mentions in per_text]

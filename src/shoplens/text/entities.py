"""Entities in reviews and messages: brands and product names (the products
table as a gazetteer), order numbers, amounts, dates, sizes and colours.

Patterns are regular expressions (the formats are regular); the gazetteer is
one compiled alternation of the shop's own product names and brands.

>>> [(e["type"], e["text"]) for e in EntityExtractor().extract("order 536749 cost £12.50, size M in navy, 2011-03-02")]
[('order_id', '536749'), ('amount', '£12.50'), ('date', '2011-03-02'), ('size', 'size M'), ('colour', 'navy')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

COLOURS = ("black", "white", "red", "blue", "navy", "green", "yellow", "pink", "purple", "grey", "gray", "brown",
           "beige", "ivory", "orange", "cream", "olive", "burgundy", "黑色", "白色", "红色", "蓝色", "绿色", "黄色",
           "粉色", "紫色", "灰色", "棕色", "米色", "藏青", "卡其", "咖啡色", "银色", "金色")

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("order_id", re.compile(r"(?:\border(?: number| no\.?| id)?\s*#?\s*|订单号?[:：]?\s*|单号[:：]?\s*|#)(?P<v>[A-Za-z]?\d{4,})",
                            re.IGNORECASE)),
    ("amount", re.compile(r"[£$€¥￥]\s?\d+(?:[.,]\d{1,2})?|\d+(?:\.\d{1,2})?\s?(?:元|块钱|块|rmb\b|usd\b|gbp\b|eur\b|dollars\b|pounds\b)",
                          re.IGNORECASE)),
    ("date", re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}月\d{1,2}[日号]|\d{4}年\d{1,2}月(?:\d{1,2}[日号])?"
                        r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?\b",
                        re.IGNORECASE)),
    ("size", re.compile(r"\bsize (?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{1,2})\b|\b(?:xxs|xs|xl|xxl|xxxl)\b|\d{2,3}码|[smlx]{1,3}码"
                        r"|(?<![a-z])(?:xs|s|m|l|xl|xxl)(?:号)", re.IGNORECASE)),
    ("colour", re.compile("|".join(rf"\b{c}\b" if c.isascii() else c for c in COLOURS), re.IGNORECASE)),
]


class EntityExtractor:
    """Extract entities; ``gazetteer`` maps a product name or brand to its type ('product' or 'brand').

    >>> EntityExtractor({"Alice Tea Set": "product"}).extract("the alice tea set broke")[0]["type"]
    'product'
    """

    def __init__(self, gazetteer: dict[str, str] | None = None) -> None:
        self.gazetteer = gazetteer
        names = {k.lower(): v for k, v in (gazetteer or {}).items() if k and len(k.strip()) >= 3}
        self._names = names
        self._gaz = (re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in sorted(names, key=len, reverse=True)))
                     if names else None)

    @classmethod
    def from_products(cls, names: Iterable[str], brands: Iterable[str] = ()) -> EntityExtractor:
        gaz = {str(n): "product" for n in names if isinstance(n, str)}
        gaz.update({str(b): "brand" for b in brands if isinstance(b, str)})
        return cls(gaz)

    def extract(self, text: str) -> list[dict[str, object]]:
        """[{type, text, start, end}] in pattern order, then gazetteer hits."""
        text = str(text or "")
        out: list[dict[str, object]] = []
        for kind, pattern in PATTERNS:
            for m in pattern.finditer(text):
                g = "v" if "v" in pattern.groupindex else 0
                out.append({"type": kind, "text": m.group(g), "start": m.start(g), "end": m.end(g)})
        if self._gaz is not None:
            for m in self._gaz.finditer(text.lower()):
                out.append({"type": self._names[m.group(0)], "text": text[m.start():m.end()],
                            "start": m.start(), "end": m.end()})
        return out

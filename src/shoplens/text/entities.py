"""Entities in reviews and messages: brands and product names (the products
table as a gazetteer), order numbers, amounts, dates, sizes and colours.

Patterns are regular expressions (the formats are regular), compiled once at
import and run case-sensitively over the lower-cased text (case-insensitive
matching is several times slower in Python's ``re``); patterns that need a digit
are skipped for texts without one. The gazetteer is one trie-shaped regular
expression of the shop's own product names and brands (:func:`trie_regex`), so
thousands of names cost about as much as one.

>>> [(e["type"], e["text"]) for e in EntityExtractor().extract("order 536749 cost £12.50, size M in navy, 2011-03-02")]
[('order_id', '536749'), ('amount', '£12.50'), ('date', '2011-03-02'), ('size', 'size M'), ('colour', 'navy')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

ENTITY_TYPES = ("order_id", "amount", "date", "size", "colour", "product", "brand")

COLOURS = ("black", "white", "red", "blue", "navy", "green", "yellow", "pink", "purple", "grey", "gray", "brown",
           "beige", "ivory", "orange", "cream", "olive", "burgundy", "黑色", "白色", "红色", "蓝色", "绿色", "黄色",
           "粉色", "紫色", "灰色", "棕色", "米色", "藏青", "卡其", "咖啡色", "银色", "金色")


def trie_regex(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words``, shaped as a trie (longest match first).

    Python's ``re`` tries alternatives one by one; factoring common prefixes makes a
    large word list cost about as much as a short one.

    >>> trie_regex(["red", "reddish", "blue"])
    '(?:blue|red(?:dish)?)'
    """
    root: dict[str, dict] = {}
    for w in words:
        if not w:
            continue
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    alts = [re.escape(ch) + build(sub) for ch, sub in sorted(root.items())]
    return "(?:" + "|".join(alts) + ")" if alts else "(?!)"


_MONTHS = trie_regex(["jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june",
                      "jul", "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november",
                      "dec", "december"])
# (type, pattern over lower-cased text, cheap gate: a pattern runs only when one of these substrings is in the text;
# "0".."9" stand for "has a digit")
_DIGITS = tuple("0123456789")
_SOURCES: list[tuple[str, str, tuple[str, ...]]] = [
    ("order_id", r"(?:\border(?: number| no\.?| id)?\s*#?\s*|订单号?[:：]?\s*|单号[:：]?\s*|#)(?P<v>[a-z]?\d{4,})", _DIGITS),
    ("amount", r"[£$€¥￥]\s?\d+(?:[.,]\d{1,2})?|\d+(?:\.\d{1,2})?\s?(?:元|块钱|块|rmb\b|usd\b|gbp\b|eur\b|dollars\b|pounds\b)",
     _DIGITS),
    ("date", r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}月\d{1,2}[日号]|\d{4}年\d{1,2}月(?:\d{1,2}[日号])?"
             rf"|\b{_MONTHS}\.? \d{{1,2}}(?:st|nd|rd|th)?\b", _DIGITS),
    ("size", r"\bsize (?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{1,2})\b|\b(?:xxs|xs|xl|xxl|xxxl)\b|\d{2,3}码|[smlx]{1,3}码"
             r"|(?<![a-z])(?:xs|s|m|l|xl|xxl)(?:号)", ("size", "码", "号", "xs", "xl")),
    ("colour", r"\b" + trie_regex(c for c in COLOURS if c.isascii()) + r"\b|" + trie_regex(c for c in COLOURS if not c.isascii()),
     ()),
]
PATTERNS: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [(k, re.compile(p), g) for k, p, g in _SOURCES]
# The same patterns without the alternatives that need a non-ASCII character (Chinese
# words, currency signs other than $): identical matches on ASCII text, and fewer
# alternatives to try at every position (English reviews: ~1.4x faster).
_ASCII_SOURCES: dict[str, str] = {
    "order_id": r"(?:\border(?: number| no\.?| id)?\s*#?\s*|#)(?P<v>[a-z]?\d{4,})",
    "amount": r"\$\s?\d+(?:[.,]\d{1,2})?|\d+(?:\.\d{1,2})?\s?(?:rmb\b|usd\b|gbp\b|eur\b|dollars\b|pounds\b)",
    "date": rf"\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\b{_MONTHS}\.? \d{{1,2}}(?:st|nd|rd|th)?\b",
    "size": r"\bsize (?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{1,2})\b|\b(?:xxs|xs|xl|xxl|xxxl)\b",
    "colour": r"\b" + trie_regex(c for c in COLOURS if c.isascii()) + r"\b",
}
_PATTERNS_ASCII: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [
    (k, re.compile(_ASCII_SOURCES[k]), g) for k, _, g in _SOURCES]
# for the rare texts whose lower-cased form changes length (offsets would not line up)
_PATTERNS_ICASE: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [
    (k, re.compile(p, re.IGNORECASE), g) for k, p, g in _SOURCES]
_DIGIT = re.compile(r"\d")


class EntityExtractor:
    """Extract entities; ``gazetteer`` maps a product name or brand to its type ('product' or 'brand').

    Names shorter than 3 characters are ignored (too ambiguous); matching is
    case-insensitive and on word boundaries.

    >>> EntityExtractor({"Alice Tea Set": "product"}).extract("the alice tea set broke")[0]["type"]
    'product'
    """

    def __init__(self, gazetteer: dict[str, str] | None = None) -> None:
        self.gazetteer = gazetteer
        names: dict[str, str] = {}
        for k, v in (gazetteer or {}).items():
            key = " ".join(str(k).lower().split())
            if len(key) >= 3:
                names.setdefault(key, v)
        self._names = names
        self._gaz = re.compile(rf"(?<!\w){trie_regex(names)}(?!\w)") if names else None

    @classmethod
    def from_products(cls, names: Iterable[object], brands: Iterable[object] = ()) -> EntityExtractor:
        """Gazetteer from the products table's names and brands (brands win on a tie).

        Product names of a single word are left out: shops use them for generic items
        ("CHECK", "Manual", "POSTAGE") that would match ordinary words.
        """
        gaz = {str(n): "product" for n in names if isinstance(n, str) and len(n.split()) >= 2}
        gaz.update({str(b): "brand" for b in brands if isinstance(b, str)})
        return cls(gaz)

    def extract(self, text: str) -> list[dict[str, object]]:
        """[{type, text, start, end}] in pattern order, then gazetteer hits."""
        text = str(text or "")
        if not text:
            return []
        low = gate_text = text.lower()
        patterns = _PATTERNS_ASCII if text.isascii() else PATTERNS
        if len(low) != len(text):
            low, patterns = text, _PATTERNS_ICASE
        has_digit = _DIGIT.search(text) is not None
        out: list[dict[str, object]] = []
        for kind, pattern, gate in patterns:
            if gate and not (has_digit if gate is _DIGITS else any(g in gate_text for g in gate)):
                continue
            for m in pattern.finditer(low):
                g = "v" if "v" in pattern.groupindex else 0
                out.append({"type": kind, "text": text[m.start(g):m.end(g)], "start": m.start(g), "end": m.end(g)})
        if self._gaz is not None:
            for m in self._gaz.finditer(low):
                out.append({"type": self._names[m.group(0)], "text": text[m.start():m.end()],
                            "start": m.start(), "end": m.end()})
        return out

    def extract_many(self, texts: Sequence[object]) -> list[list[dict[str, object]]]:
        """:meth:`extract` for each text."""
        return [self.extract("" if t is None else str(t)) for t in texts]

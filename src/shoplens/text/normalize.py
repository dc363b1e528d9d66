"""Text basics: normalisation, language detection and tokenisation.

Normalisation maps full-width forms to half-width (NFKC), lower-cases Latin
letters, collapses runs of repeated punctuation and keeps emoji (they carry
sentiment). Chinese is segmented with jieba; models add character n-grams,
which need no segmentation and survive typos.

>>> normalize("ＧＯＯＤ！！！！质量好😀")
'good!!质量好😀'
>>> detect_language("The dress runs small"), detect_language("衣服偏小"), detect_language("12345")
('en', 'zh', 'other')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import jieba

jieba.setLogLevel(60)

_REPEATED_PUNCT = re.compile(r"([!?！？.。,，~～…、])\1{2,}")
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_WORDS = re.compile(r"[a-z']+")
_EN_WORDS_ANYCASE = re.compile(r"[A-Za-z']+")
# Frequent English function words: a Latin-script text without any of them is
# most likely another language (French, German...), reported as "other".
_EN_STOP = frozenset(
    "the a an and or but is are was were be been i you he she it we they my your this that to of in on for with "
    "not no so at as have has had do does did can could would will me what how when where why please order "
    "very too size fit love great good bad".split()
)
_CLAUSE = re.compile(r"[，。！？!?；;,.\n~～…]+|(?<=\S)\s+(?:but|however|though|although)\s+", re.IGNORECASE)
# the same separators for text that is already lower-cased (case-sensitive matching is faster)
CLAUSE_SEPARATOR = re.compile(r"[，。！？!?；;,.\n~～…]+|(?<=\S)\s+(?:but|however|though|although)\s+")
# full-width ASCII forms -> ASCII, one character for one (offsets are kept, unlike NFKC)
FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
LANGUAGES = ("zh", "en", "other")


def normalize(text: object) -> str:
    """Canonical form of a text for the models (None/NaN -> '')."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = _REPEATED_PUNCT.sub(r"\1\1", s)
    return _SPACES.sub(" ", s).strip()


def detect_language(text: object) -> str:
    """'zh', 'en' or 'other' from the script mix (a fast rule, no model).

    >>> detect_language("Bonjour, je voudrais annuler ma commande")
    'other'
    """
    s = normalize(text)
    cjk = len(_CJK.findall(s))
    latin = len(_LATIN.findall(s))
    if cjk == 0 and latin == 0:
        return "other"
    if cjk >= 2 and cjk * 3 >= latin:  # a Chinese review may name a Latin brand
        return "zh"
    if cjk > latin:
        return "zh"
    words = _EN_WORDS.findall(s)
    if len(words) >= 4 and not any(w in _EN_STOP for w in words):
        return "other"
    return "en"


def detect_languages(texts: Sequence[object]) -> list[str]:
    """:func:`detect_language` for each text (ASCII texts take a shortcut: no normalisation, early exit).

    >>> detect_languages(["The dress runs small", "衣服偏小", None, "Merci beaucoup pour tout cela"])
    ['en', 'zh', 'other', 'other']
    """
    return [_detect_ascii(t) if isinstance(t, str) and t.isascii() else detect_language(t) for t in texts]


def _detect_ascii(s: str) -> str:
    # Same rule as detect_language for ASCII text (no CJK, so only the Latin rules apply).
    if _LATIN.search(s) is None:
        return "other"
    n = 0
    for m in _EN_WORDS_ANYCASE.finditer(s):
        if m.group().lower() in _EN_STOP:
            return "en"
        n += 1
    return "other" if n >= 4 else "en"


@lru_cache(maxsize=4096)
def _cut(s: str) -> tuple[str, ...]:
    return tuple(w for w in jieba.lcut(s) if not w.isspace())


def words(text: str) -> list[str]:
    """Word tokens: jieba for Chinese runs, whitespace/punctuation split otherwise.

    >>> words("质量很好")
    ['质量', '很', '好']
    """
    s = normalize(text)
    if _CJK.search(s):
        return list(_cut(s)) if len(s) < 64 else [w for w in jieba.lcut(s) if not w.isspace()]
    return re.findall(r"[a-z0-9']+|[^\sa-z0-9']", s)


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams (the analyzer of the word features; module level so models pickle)."""
    w = words(text)
    return w + [a + " " + b for a, b in zip(w, w[1:])]


def clauses(text: str) -> list[str]:
    """Split a review into clauses (the unit aspects and their polarity are read from).

    >>> clauses("物流很快，但是质量一般。")
    ['物流很快', '但是质量一般']
    """
    return [c.strip() for c in _CLAUSE.split(str(text or "")) if c and c.strip()]

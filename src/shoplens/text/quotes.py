"""Complaint quotes: which words of a negative review are shown as a complaint, and where they are cut.

An aspect's evidence is the clause it was read from; shown as a complaint it must say something
negative itself. :func:`complaint_quote` reads the evidence's own parts (split at "and",
brackets and dashes) with the shipped sentiment model's clause probability and keeps the most
negative part that names the aspect; a quote whose part or whose sentence reads positive is
skipped ("...and the quality seems very high" is no complaint). Quotes are cut only at word
boundaries (English) or punctuation/character boundaries (Chinese), with an ellipsis, and a
review that stops mid-word (public review sets cut texts at a length) loses its last, cut word.

>>> cut_quote("the zipper broke after one wash and the seams came apart within a week", max_chars=40)
'the zipper broke after one wash and the…'
>>> cut_quote("质量很差，穿了一次就开线了，客服也不理人", "zh", max_chars=14)
'质量很差，穿了一次就开线了…'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np

ELLIPSIS = "…"
MAX_QUOTE_CHARS = 160
# the parts of a clause read on their own: "... and ...", brackets, dashes; Chinese: 而且/并且/还
_PARTS = {"en": re.compile(r"\s*[()\[\]]\s*|\s+(?:and|so|plus|while|which)\s+|\s+[-–—]+\s+", re.IGNORECASE),
          "zh": re.compile(r"[（）()、]|而且|并且")}
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])\s*|\n+")
# a text longer than this without a closing mark may have been cut by its source (the clothing
# reviews stop at 500 characters, often mid-word); so may one with an unclosed double quote
MAY_BE_CUT_FROM = 490
_CLOSED = re.compile(r"[.!?。！？…)\]）」』\"'”’~～]\s*$|[\U0001F300-\U0001FAFF]\s*$")


def sentence_of(text: str, evidence: str) -> str:
    """The sentence of ``text`` that holds ``evidence`` (``evidence`` itself when it is not found).

    >>> sentence_of("Runs small. The fabric is thin and scratchy. Love the colour!", "fabric is thin")
    'The fabric is thin and scratchy.'
    """
    at = text.find(evidence)
    if at < 0:
        return evidence
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= at and m.end() > start:
            start = m.end()
        elif m.start() >= at + len(evidence):
            return text[start:m.start()].strip()
    return text[start:].strip()


def ends_cut(text: str, evidence: str) -> bool:
    """True when ``evidence`` runs to the end of a ``text`` that may stop mid-word (see MAY_BE_CUT_FROM).

    >>> ends_cut('simple and comfy. it is not very "fit', 'it is not very "fit')
    True
    >>> ends_cut("simple and comfy. give it a try", "give it a try")
    False
    """
    body = text.rstrip()
    if not body.endswith(evidence.rstrip()) or _CLOSED.search(body):
        return False
    return len(body) >= MAY_BE_CUT_FROM or body.count('"') % 2 == 1


def cut_quote(quote: str, lang: str = "en", *, max_chars: int = MAX_QUOTE_CHARS, cut_end: bool = False) -> str:
    """``quote`` at most ``max_chars`` long, cut at a word boundary (English) or after punctuation or a
    character (Chinese), an ellipsis marking the cut; ``cut_end``: its last word may be cut, dropped.

    >>> cut_quote('it is not very "fit', cut_end=True)
    'it is not very…'
    """
    quote = " ".join(quote.split())
    cut = False
    if cut_end and lang != "zh" and " " in quote:
        quote, cut = quote.rsplit(" ", 1)[0], True
    if len(quote) > max_chars:
        head = quote[:max_chars + 1]
        if lang == "zh":
            marks = [m.end() for m in re.finditer(r"[，。！？；、,.!?;]", head[:max_chars])]
            quote = head[:marks[-1] - 1] if marks and marks[-1] > max_chars // 2 else head[:max_chars]
        else:
            quote = head.rsplit(" ", 1)[0] if " " in head else head[:max_chars]
        cut = True
    quote = quote.rstrip(" ,;:-–—(\"'“‘，；：")
    return quote + ELLIPSIS if cut else quote


def _parts(evidence: str, lang: str) -> list[str]:
    parts = [p.strip(" ,;:()[]\"'") for p in _PARTS["zh" if lang == "zh" else "en"].split(evidence)]
    return [p for p in parts if p]


def complaint_quote(evidence: str, text: str | None, aspect: str, lang: str,
                    score: Callable[[list[str]], np.ndarray], names_aspect: Callable[[str], bool],
                    negative_at: float = 0.4, positive_at: float = 0.6) -> str | None:
    """The quote shown for a negative ``aspect`` mention: the part of ``evidence`` that names the
    aspect and reads most negative (P(positive) from ``score``, at most ``negative_at``), cut
    with :func:`cut_quote`; None when no such part is negative or its sentence in ``text`` reads
    positive (at least ``positive_at``). ``names_aspect(part)``: whether a part names the aspect."""
    parts = _parts(evidence, lang)
    about = [p for p in parts if names_aspect(p)] or [evidence]
    sentence = sentence_of(text, evidence) if text else evidence
    p = np.asarray(score(about + [sentence]), dtype=float)
    best = int(np.argmin(p[:-1]))
    if p[best] > negative_at or p[-1] >= positive_at:
        return None
    quote = about[best]
    return cut_quote(quote, lang, cut_end=bool(text) and ends_cut(text, quote))


def complaint_quotes(mentions: list[dict], n: int, scorers: Mapping[str, Callable[[list[str]], np.ndarray]],
                     names_aspect: Callable[[str, str, str], bool]) -> list[str]:
    """The first ``n`` distinct quotes of ``mentions`` ({evidence, text, aspect, language}, most recent
    first) that :func:`complaint_quote` keeps. ``names_aspect(part, aspect, lang)``."""
    out: list[str] = []
    for m in mentions:
        if len(out) >= n:
            break
        lang = "zh" if m.get("language") == "zh" else "en"
        quote = complaint_quote(str(m["evidence"]), m.get("text"), m["aspect"], lang, scorers[lang],
                                lambda part: names_aspect(part, m["aspect"], lang))
        if quote and quote not in out:
            out.append(quote)
    return out

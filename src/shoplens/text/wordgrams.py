"""Fast word n-gram features (plus optional character n-grams) with a learned vocabulary.

The English sentiment model reads long reviews (median 319 characters): character
1-5 grams make five keys per character, word 1-3 grams about three per word (~0.6 per
character). Words are found and hashed by vectorised numpy over the code points of
the whole batch (the same normalised, marker-wrapped code points as
:mod:`shoplens.text.ngrams`), with no Python loop per token:

- a token is a run of word characters (``a-z``, ``0-9``, ``'``, Latin letters with
  diacritics) or any other single non-space character (punctuation, emoji, CJK), so
  ``"love it!!"`` is ``love | it | ! | !``; the begin/end markers are tokens too (they
  give ``^ love``-style bigrams) but are never emitted as unigrams;
- a token's hash is a polynomial hash of its code points taken from one prefix sum
  over the batch (``sum c_j P^j`` between two offsets, shifted to a common power), so
  equal tokens hash equally wherever they occur;
- n-grams combine the token hashes FNV-style, fold in n and a word-space tag, then
  the splitmix64 finaliser and the top 40 bits, exactly like the character keys, so
  both kinds of keys share one sorted vocabulary.

>>> v = WordNgramVocabulary(ngram_range=(1, 2), min_df=1).fit(["love it", "hate it"])
>>> X = v.transform(["love it", "it love"])
>>> int(X[0].nnz), int(X[1].nnz)   # love, it, ^ love, love it, it $ ; only the unigrams of the second
(5, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import unicodedata

import numpy as np

from shoplens.text.ngrams import (_BEGIN, _END, _OFFSET, _PRIME, _REPEATED_PUNCT, _SEP,
                                  CharNgramVocabulary, _avalanche, codepoints, ngram_keys)

_POLY = 0x9E3779B97F4A7C15  # odd multiplier of the token polynomial hash
_POLY_INV = np.uint64(pow(_POLY, -1, 2**64))  # its inverse mod 2^64
_WORD_TAG = np.uint64(0x57A11D0000000000)  # keeps word keys apart from character keys


def batch_codepoints(texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shoplens.text.ngrams.codepoints` (same output) at about half the cost.

    :func:`shoplens.text.ngrams.normalize` per text is NFKC, lower case, runs of 3+
    punctuation marks cut to 2, whitespace collapsed and stripped. Here NFKC runs only
    on non-ASCII texts (ASCII is already NFKC), whitespace is collapsed by
    ``" ".join(text.split())`` (the same whitespace as ``\\s``), and lower-casing and the
    punctuation rule run once over the batch joined by NUL (neither can reach across
    it). Texts holding a NUL or a marker character take the per-text way.
    """
    parts = []
    for t in texts:
        t = "" if t is None or (isinstance(t, float) and t != t) else str(t)
        parts.append(" ".join((t if t.isascii() else unicodedata.normalize("NFKC", t)).split()))
    joined = _SEP.join(parts)
    if not parts or joined.count(_SEP) != len(parts) - 1 or _BEGIN in joined or _END in joined:
        return codepoints(texts)
    joined = _REPEATED_PUNCT.sub(r"\1\1", joined.lower())
    joined = _BEGIN + joined.replace(_SEP, _END + _SEP + _BEGIN) + _END + _SEP
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.zeros(len(parts) + 1, dtype=np.int64)
    starts[1:] = np.flatnonzero(cps == 0) + 1
    return cps, starts


def _is_word_char(cps: np.ndarray) -> np.ndarray:
    return (((cps >= 97) & (cps <= 122)) | ((cps >= 48) & (cps <= 57)) | (cps == 39)
            | ((cps >= 0xC0) & (cps <= 0x24F) & (cps != 0xD7) & (cps != 0xF7)))


def tokens(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) offsets into ``cps`` of every token (see the module docstring)."""
    word = _is_word_char(cps)
    space = (cps == 32) | (cps == 0)
    single = ~word & ~space
    prev_word = np.empty_like(word)
    prev_word[0] = False
    prev_word[1:] = word[:-1]
    next_word = np.empty_like(word)
    next_word[-1:] = False
    next_word[:-1] = word[1:]
    start = np.flatnonzero((word & ~prev_word) | single)
    end = np.flatnonzero((word & ~next_word) | single) + 1
    return start, end


def word_ngram_keys(texts: Sequence[object], ngram_range: tuple[int, int],
                    with_offsets: bool = False) -> tuple[np.ndarray, ...]:
    """(document index, 40-bit key) of every word n-gram of every text.

    With ``with_offsets`` also (start, end) character offsets of each n-gram in its
    normalised text (the begin marker excluded; the end marker counts as one
    character past the end).

    >>> doc, key = word_ngram_keys(["good, good", "good"], (1, 1))
    >>> doc.tolist(), len(set(key.tolist()))   # good , good | good
    ([0, 0, 0, 1], 2)
    """
    lo, hi = ngram_range
    if not 1 <= lo <= hi:
        raise ValueError(f"ngram_range {ngram_range} must satisfy 1 <= min <= max")
    cps, starts = batch_codepoints(texts)
    n = len(cps)
    with np.errstate(over="ignore"):
        power = np.empty(n, dtype=np.uint64)
        power[:1] = 1
        power[1:] = np.uint64(_POLY)
        np.cumprod(power, out=power)  # P^j, wrapping mod 2^64
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(cps * power, out=prefix[1:])
        inverse = np.empty(n, dtype=np.uint64)
        inverse[:1] = 1
        inverse[1:] = _POLY_INV
        np.cumprod(inverse, out=inverse)  # P^-j
        s, e = tokens(cps)
        # (sum_{s<=j<e} c_j P^j) P^-s = sum c_j P^(j-s): the same for equal tokens anywhere in any batch
        h = (prefix[e] - prefix[s]) * inverse[s]
        h ^= (e - s).astype(np.uint64) << np.uint64(56)
        doc_of_char = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
        tdoc = doc_of_char[s]
        marker = (cps[s] == 2) | (cps[s] == 3)
        text_start = starts[:-1][tdoc] + 1
        docs, keys, begins, ends = [], [], [], []
        m = len(h)
        g = np.full(m, _OFFSET, dtype=np.uint64)
        for k in range(1, hi + 1):
            cnt = m - k + 1
            if cnt <= 0:
                break
            g = (g[:cnt] ^ h[k - 1:k - 1 + cnt]) * _PRIME  # g[i] covers tokens i..i+k-1
            if k < lo:
                continue
            ok = tdoc[k - 1:k - 1 + cnt] == tdoc[:cnt]
            if k == 1:
                ok &= ~marker
            docs.append(tdoc[:cnt][ok])
            keys.append(g[ok] ^ (_WORD_TAG + np.uint64(k)))
            if with_offsets:
                begins.append(np.maximum(s[:cnt][ok] - text_start[:cnt][ok], 0))
                ends.append(e[k - 1:k - 1 + cnt][ok] - text_start[:cnt][ok])
        if not keys:  # no texts
            empty = np.zeros(0, dtype=np.int64)
            return (empty, empty.astype(np.uint64)) + ((empty, empty) if with_offsets else ())
        key = _avalanche(np.concatenate(keys))
    if with_offsets:
        return np.concatenate(docs), key, np.concatenate(begins), np.concatenate(ends)
    return np.concatenate(docs), key


class WordNgramVocabulary(CharNgramVocabulary):
    """Word n-gram (and optionally character n-gram) counts over a learned vocabulary of 40-bit keys.

    Parameters
    ----------
    ngram_range: (min, max) word n-gram lengths.
    min_df: keep n-grams found in at least this many training texts.
    char_range: also character n-grams of these lengths (None: words only).
    """

    _unit = "word"

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2,
                 char_range: tuple[int, int] | None = None) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.char_range = char_range

    def _keys(self, texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        doc, key = word_ngram_keys(texts, tuple(self.ngram_range))
        if self.char_range is not None:
            cdoc, ckey = ngram_keys(texts, tuple(self.char_range))
            doc, key = np.concatenate([doc, cdoc]), np.concatenate([key, ckey])
        return doc, key

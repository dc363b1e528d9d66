"""Fast character n-gram features with a learned vocabulary (no hashing collisions).

Texts are normalised (:func:`normalize`), wrapped in
begin/end markers, and every character n-gram is turned into a 40-bit key by
vectorised numpy arithmetic over the code points of the whole batch (FNV-style
multiply-xor, then a splitmix64 finaliser), so no Python-level loop runs per n-gram. A vocabulary is the sorted
array of keys kept at training time. With 1M kept n-grams, an unknown n-gram
matches a kept key with probability ~1e-6 (a stray feature in ~1 of 10,000
reviews), and among 2M distinct training n-grams about 2 pairs share a key:
nothing measurable, and sorted 40-bit keys compress to ~3 bytes each.

>>> v = CharNgramVocabulary(ngram_range=(1, 2), min_df=1).fit(["好评", "差评"])
>>> X = v.transform(["好评", "很好"])
>>> X.shape[0], int(X[0].nnz), int(X[1].nnz)   # 好评: ^好 好 好评 评 评$ ; 很好: only 好 is known
(2, 5, 1)
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from shoplens.base import Model
from shoplens.errors import InsufficientDataError

_REPEATED_PUNCT = re.compile(r"([!?！？.。,，~～…、])\1{2,}")
_SPACES = re.compile(r"\s+")


def normalize(text: object) -> str:
    """NFKC, lower case, runs of 3+ punctuation marks cut to 2, spaces collapsed (None/NaN -> '').

    Kept here rather than shared so that the features of a trained model never
    change under it.

    >>> normalize("ＧＯＯＤ！！！！质量好😀")
    'good!!质量好😀'
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = _REPEATED_PUNCT.sub(r"\1\1", s)
    return _SPACES.sub(" ", s).strip()



_BEGIN, _END, _SEP = "\x02", "\x03", "\x00"
_CONTROL = {0: 32, 2: 32, 3: 32}  # the marker characters never come from a text
KEY_BITS = 40  # 40-bit keys: ~1e-6 false matches per unknown n-gram at 1M entries, small files
_PRIME = np.uint64(0x100000001B3)
_OFFSET = np.uint64(0xCBF29CE484222325)


def codepoints(texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of all normalised texts with markers and separators, start offset of each text)."""
    parts = [_BEGIN + normalize(t).translate(_CONTROL) + _END for t in texts]
    joined = _SEP.join(parts) + _SEP
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(p) + 1 for p in parts), dtype=np.int64, count=len(parts))
    starts = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return cps, starts


def ngram_keys(texts: Sequence[object], ngram_range: tuple[int, int],
               skip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(document index, 40-bit n-gram key) for every character n-gram of every text.

    The lone begin/end markers are not emitted as unigrams (they carry no information).
    ``skip`` adds gapped bigrams ``a_c`` of every window ``abc`` (e.g. 不_好 in 不太好).

    >>> doc, key = ngram_keys(["ab", "b"], (1, 1))
    >>> doc.tolist(), len(set(key.tolist()))
    ([0, 0, 1], 2)
    """
    lo, hi = ngram_range
    if not 1 <= lo <= hi:
        raise ValueError(f"ngram_range {ngram_range} must satisfy 1 <= min <= max")
    cps, starts = codepoints(texts)
    n = len(cps)
    is_sep = cps == 0
    seps = np.concatenate([[0], np.cumsum(is_sep)])
    doc_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    marker = (cps == ord(_BEGIN)) | (cps == ord(_END))
    docs, keys = [], []
    with np.errstate(over="ignore"):
        h = np.full(n, _OFFSET, dtype=np.uint64)
        for k in range(1, hi + 1):
            m = n - k + 1
            if m <= 0:
                break
            h = (h[:m] ^ cps[k - 1:k - 1 + m]) * _PRIME  # h[i] now covers cps[i:i+k]
            if k < lo:
                continue
            ok = seps[k:k + m] - seps[:m] == 0  # window without a text separator
            if k == 1:
                ok &= ~marker[:m]
            docs.append(doc_of[:m][ok])
            keys.append(h[ok] ^ np.uint64(k))  # fold in the length
        if skip and n > 2:
            m = n - 2
            g = ((np.full(m, _OFFSET, dtype=np.uint64) ^ cps[:m]) * _PRIME ^ cps[2:]) * _PRIME
            ok = seps[3:3 + m] - seps[:m] == 0
            docs.append(doc_of[:m][ok])
            keys.append(g[ok] ^ np.uint64(0x5A5A))
        key = _avalanche(np.concatenate(keys))
    return np.concatenate(docs), key


def _avalanche(key: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (in place), then the top KEY_BITS bits: uniform top bits, on which
    :meth:`CharNgramVocabulary._find` buckets. Character and word n-gram keys both end here.

    >>> _avalanche(np.array([0, 1, 2], dtype=np.uint64)).tolist()
    [0, 371818110224, 944124761914]
    """
    with np.errstate(over="ignore"):
        key ^= key >> np.uint64(30)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(27)
        key *= np.uint64(0x94D049BB133111EB)
        key ^= key >> np.uint64(31)
        key >>= np.uint64(64 - KEY_BITS)
    return key


class CharNgramVocabulary(Model):
    """Character n-gram counts over a learned, sorted vocabulary of 40-bit keys.

    Parameters
    ----------
    ngram_range: (min, max) n-gram lengths (begin/end markers count as characters).
    min_df: keep n-grams found in at least this many training texts.
    skip: also gapped bigrams (see :func:`ngram_keys`).
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), min_df: int = 2, skip: bool = False) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.skip = skip

    _unit = "character"

    def _keys(self, texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        """(document index, 40-bit key) of every n-gram occurrence; subclasses change the n-grams."""
        return ngram_keys(texts, tuple(self.ngram_range), getattr(self, "skip", False))

    def fit(self, texts: Sequence[object]) -> CharNgramVocabulary:
        doc, key = self._keys(texts)
        order = np.lexsort((doc, key))
        key, doc = key[order], doc[order]
        first = np.ones(len(key), dtype=bool)  # first occurrence of each (key, document) pair
        first[1:] = (key[1:] != key[:-1]) | (doc[1:] != doc[:-1])
        uniq, df = np.unique(key[first], return_counts=True)
        keep = df >= self.min_df
        if not keep.any():
            raise InsufficientDataError(f"no {self._unit} n-gram occurs in {self.min_df} or more training texts")
        self.keys_ = uniq[keep]
        self.df_ = df[keep].astype(np.int32)
        self.n_docs_ = len(texts)
        return self

    def lookup(self, texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        """(document index, vocabulary index) of every known n-gram occurrence."""
        self.check_fitted()
        doc, key = self._keys(texts)
        idx = self._find(key)
        hit = idx >= 0
        return doc[hit], idx[hit]

    def _find(self, key: np.ndarray) -> np.ndarray:
        """Vocabulary index of each key, -1 when unknown.

        Keys are well-mixed hashes, so their top bits index a table of bucket
        offsets into the sorted vocabulary (about half an entry per bucket): a few
        vectorised probes instead of a binary search full of cache misses.
        """
        keys = self.keys_
        bits = int(np.ceil(np.log2(max(len(keys), 2)))) + 1
        shift = np.uint64(max(KEY_BITS - bits, 0))
        if getattr(self, "_bucket_bits", None) != bits:  # derived index, rebuilt after load/restrict
            self._starts = np.searchsorted(keys >> shift, np.arange(2**bits + 1, dtype=np.uint64)).astype(np.int32)
            self._bucket_bits = bits
        bucket = (key >> shift).astype(np.intp)
        first, end = np.take(self._starts, bucket), np.take(self._starts, bucket + 1)
        found = (first < end) & (np.take(keys, np.minimum(first, len(keys) - 1)) == key)
        out = np.where(found, first, -1).astype(np.int64)
        rest = np.flatnonzero(~found & (end - first > 1))
        r = 1
        while len(rest):  # the few buckets holding more than one key
            pos = first[rest] + r
            hit = np.take(keys, pos) == key[rest]
            out[rest[hit]] = pos[hit]
            rest, r = rest[~hit], r + 1
            rest = rest[end[rest] - first[rest] > r]
        return out

    def transform(self, texts: Sequence[object]) -> sp.csr_matrix:
        """Document x vocabulary count matrix (float32)."""
        doc, idx = self.lookup(texts)
        X = sp.csr_matrix((np.ones(len(doc), np.float32), (doc, idx)), shape=(len(texts), len(self.keys_)))
        X.sum_duplicates()
        return X

    def restrict(self, keep: np.ndarray) -> None:
        """Keep only the vocabulary entries where ``keep`` is true (used to prune a fitted model)."""
        self.check_fitted()
        self.keys_ = self.keys_[keep]
        self.df_ = self.df_[keep]
        self._bucket_bits = None

    # -- compact files: sorted keys stored as zlib-compressed deltas ------------------
    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_starts", "_bucket_bits")}
        if "keys_" in state:
            state["keys_"] = zlib.compress(np.diff(state["keys_"], prepend=np.uint64(0)).tobytes(), 9)
            state["df_"] = zlib.compress(state["df_"].tobytes(), 9)
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("keys_"), bytes):
            state["keys_"] = np.cumsum(np.frombuffer(zlib.decompress(state["keys_"]), dtype=np.uint64), dtype=np.uint64)
            state["df_"] = np.frombuffer(zlib.decompress(state["df_"]), dtype=np.int32).copy()
        self.__dict__.update(state)

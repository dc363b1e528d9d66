"""Evaluate shoplens aspect extraction (zh hand-labelled set, en Hu & Liu sentences).

    python scripts/eval_aspects.py --data-dir ../shared/data            # zh + en tables (markdown)
    python scripts/eval_aspects.py --data-dir ../shared/data --json out.json

Per aspect: precision / recall / F1 of (review or sentence, aspect) detection and the
polarity accuracy on the correctly detected pairs.

- zh: the 300 hand-labelled reviews in ``tests/data/text/zh_aspects.csv``.
- en: the Hu & Liu / Ding, Liu & Yu annotated sentences
  (``en_product_reviews_aspects/sentences.csv.gz``), split **by product file** into a
  tuning half and a test half: the 14 product names sorted alphabetically, even
  positions tune, odd positions test (:data:`TUNE_PRODUCTS`). The English lexicon and
  opinion words were adjusted looking at the tuning half only; report the test half.
  Gold: every annotated feature with a sign, except ``[u]`` (feature not in the
  sentence); the feature term is mapped to a shoplens aspect by keyword
  (:func:`term_aspect`). Two gold mappings are reported:

  * ``product-level dropped`` (default): a feature term that names the product itself
    ("camera", "player", "this thing", "nokia 6600", ...) is not an aspect; whole-product
    praise or blame is not labelled in the zh guideline either;
  * ``as before``: every unmapped term is ``function`` (the mapping used in
    ``scripts/train_text_models.py`` until now), for comparison with older figures.

The sentiment models are the shipped ones (``shoplens.text.models``); ``shoplens`` is the shipped
extractor (:func:`shoplens.text.aspects.default_extractor`: lexicon rules, English polarity from the
learned ``en_aspect_polarity`` model of ``scripts/train_en_aspects.py``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shoplens.text.analyze import sentiment_scorers  # noqa: E402
from shoplens.text.aspects import ASPECTS, LEXICON, OPINION_WORDS, AspectExtractor, default_extractor  # noqa: E402

TEST_DATA = ROOT / "tests" / "data" / "text"

# Hu & Liu annotate product-feature terms; map each term to a shoplens aspect by
# keywords (unmapped terms of these electronics are functions/features).
TERM_TO_ASPECT = [
    ("price", ("price", "cost", "value", "money", "expens", "cheap")),
    ("service", ("service", "support", "warrant", "customer", "tech ", "rebate")),
    ("packaging", ("packag", "box")),
    ("logistics", ("ship", "deliver")),
    ("quality", ("quality", "build", "made", "construct", "durab", "sturd")),
    ("appearance", ("look", "design", "color", "colour", "style", "appear")),
    ("size_fit", ("size", "weight", "fit", "compact")),
]
# Nouns that name a whole product rather than one of its aspects.
PRODUCT_NOUNS = frozenset("product item unit device thing this it camera phone player router machine model "
                          "mp3 pail one purchase".split())


def term_aspect(term: str) -> str:
    """The shoplens aspect of a Hu & Liu feature term (``function`` when no keyword matches)."""
    term = term.lower()
    if "picture quality" in term or "image quality" in term or "sound quality" in term:
        return "function"
    for aspect, keys in TERM_TO_ASPECT:
        if any(k in term for k in keys):
            return aspect
    return "function"


def names_product(term: str, product: str) -> bool:
    """True when every word of ``term`` is a product noun or a word of the product's name."""
    own = {w for w in re.split(r"[\s_]+", product.lower()) if w}
    words = [w for w in re.split(r"[\s\-]+", term.lower().strip()) if w]
    return bool(words) and all(w in PRODUCT_NOUNS or w in own for w in words)


def prf(gold: set, pred: set) -> dict:
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "gold": len(gold),
            "predicted": len(pred)}


def aspect_scores(gold: dict, pred: dict) -> list[dict]:
    """gold/pred: {(row, aspect): polarity} -> per-aspect P/R/F1 and polarity accuracy on matches."""
    rows = []
    for aspect in list(ASPECTS) + ["all"]:
        g = {k for k in gold if aspect == "all" or k[1] == aspect}
        p = {k for k in pred if aspect == "all" or k[1] == aspect}
        if aspect != "all" and not g and not p:
            continue
        both = g & p
        pol = float(np.mean([gold[k] == pred[k] for k in both])) if both else None
        rows.append({"aspect": aspect, **prf(g, p), "polarity acc": pol})
    return rows


def eval_zh(extractor: AspectExtractor, scorers: dict) -> list[dict]:
    frame = pd.read_csv(TEST_DATA / "zh_aspects.csv", dtype=str).fillna("")
    texts = frame.drop_duplicates("review_id")[["review_id", "text"]]
    gold = {(r.review_id, r.aspect): r.polarity for r in frame.itertuples() if r.aspect}
    found = extractor.extract(texts["text"].tolist(), ["zh"] * len(texts), scorers)
    pred = {(rid, a["aspect"]): a["polarity"] for rid, aspects in zip(texts["review_id"], found) for a in aspects}
    return aspect_scores(gold, pred)


def load_en(data: Path) -> pd.DataFrame:
    s = pd.read_csv(data / "en_product_reviews_aspects" / "sentences.csv.gz", dtype=str).fillna("")
    return s[s["malformed"].str.lower() != "true"].reset_index(drop=True)


def en_products(s: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(tuning products, test products): sorted names, even positions tune, odd test."""
    names = sorted(s["product"].unique())
    return names[0::2], names[1::2]


def en_gold(s: pd.DataFrame, *, drop_product_level: bool) -> dict:
    gold: dict = {}
    for i, ann, product in zip(s.index, s["annotation"], s["product"]):
        for part in filter(None, (x.strip() for x in ann.split(","))):
            if "[u]" in part or "[" not in part:
                continue
            term = part.split("[", 1)[0].strip()
            if drop_product_level and (not term or names_product(term, product)):
                continue
            sign = sum(int(x) for x in re.findall(r"\[([+-]\d)\]", part))
            if sign:
                gold[(i, term_aspect(term))] = "positive" if sign > 0 else "negative"
    return gold


def eval_en(s: pd.DataFrame, extractor: AspectExtractor, scorers: dict, *, drop_product_level: bool) -> list[dict]:
    found = extractor.extract(s["sentence"].tolist(), ["en"] * len(s), scorers)
    pred = {(i, a["aspect"]): a["polarity"] for i, aspects in zip(s.index, found) for a in aspects}
    return aspect_scores(en_gold(s, drop_product_level=drop_product_level), pred)


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [fmt(r.get(c)) for c in cols]
        if r.get("aspect") == "all":
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# English function keywords added after tuning (removed again to score the extractor as it was before)
ADDED_EN = frozenset(("battery life", "sound quality", "picture quality", "photos", "photo", "image", "lcd", "display",
                      "flash", "controls", "control", "buttons", "button", "navigation", "firmware", "storage",
                      "memory", "capacity", "volume", "headphones", "earbuds", "remote", "transfer", "ease of use",
                      "user interface", "play", "radio", "bluetooth", "ringtone", "ringtones", "games", "video",
                      "audio", "bass", "installation", "set up", "noise", "power", "scroll", "wheel", "keypad", "keys",
                      "manual", "smell"))


def old_extractor() -> AspectExtractor:
    """The English lexicon as it was before tuning ('player' and 'router' were function
    keywords, the electronics feature nouns were missing)."""
    lex = {lang: dict(a) for lang, a in LEXICON.items()}
    fn = tuple(w for w in lex["en"]["function"] if w not in ADDED_EN) + ("player", "router")
    lex["en"] = dict(lex["en"], function=fn)
    return AspectExtractor(lexicon=lex)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--split", choices=["tune", "test", "all"], action="append",
                    help="en sentences to score (repeatable; default tune and test)")
    ap.add_argument("--baseline", action="store_true",
                    help="also score the lexicon before tuning and the opinion-word gate")
    ap.add_argument("--json", type=Path, help="also write every table as JSON here")
    ap.add_argument("--detector", type=Path, help="also score with this learned aspect detector (scripts/train_en_aspects.py "
                    "--detector), next to the shipped polarity model")
    ap.add_argument("--only-shipped", action="store_true", help="skip the rules-with-cut-offs comparison row")
    args = ap.parse_args()
    splits = args.split or ["tune", "test"]
    scorers = sentiment_scorers()
    shipped = default_extractor()
    extractors = {"shoplens": shipped}
    if not args.only_shipped:
        extractors["lexicon rules, polarity cut-offs (before the polarity model)"] = AspectExtractor()
    if args.detector:
        from shoplens.base import read_model_file

        extractors["learned detector + rules + polarity model"] = AspectExtractor(
            detector=read_model_file(args.detector)["model"], polarity_model=shipped.polarity_model)
    if args.baseline:
        extractors["lexicon before tuning"] = old_extractor()
        extractors["shoplens + opinion-word gate"] = AspectExtractor(opinion=OPINION_WORDS)
    out: dict = {}
    for name, ex in extractors.items():
        out[f"zh | {name}"] = eval_zh(ex, scorers)
        print(f"\n## zh, 300 hand-labelled reviews — {name}\n" + markdown(out[f"zh | {name}"]), flush=True)
    s = load_en(args.data_dir)
    tune, test = en_products(s)
    print(f"\nen tuning products: {', '.join(tune)}\nen test products: {', '.join(test)}")
    for split in splits:
        part = s if split == "all" else s[s["product"].isin(tune if split == "tune" else test)]
        for name, ex in extractors.items():
            for drop, label in ((True, "product-level dropped"), (False, "mapping as before")):
                key = f"en {split} | {name} | {label}"
                out[key] = eval_en(part, ex, scorers, drop_product_level=drop)
                print(f"\n## en {split} ({len(part):,} sentences) — {name}, gold {label}\n" + markdown(out[key]),
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

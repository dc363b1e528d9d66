"""Score the shipped text models and PII rules on the realistic hand-written sets (issue #20).

    python scripts/eval_realistic.py --data-dir ../shared/data                 # all tables (markdown)
    python scripts/eval_realistic.py --data-dir ../shared/data --json out.json  # also as JSON
    python scripts/eval_realistic.py --data-dir ../shared/data --src /tmp/old/src   # another checkout's code + models

The sets are described in ``tests/data/WRITING.md``; they are never trained or tuned on.
With ``--src`` the code and shipped models of another checkout are scored (e.g. the models
before issue #20: ``git worktree add /tmp/old 15a9f4b``), so old and new figures come
from the same script.

- **intent**: accuracy on the realistic en / zh messages and on the older sets (Bitext
  test split, the 85 hand-written zh messages); in-scope accuracy, out-of-scope recall
  (``other`` predicted for ``other``), the share of in-scope messages sent to ``other``,
  and the share of Banking77 test questions sent to ``other``. Baseline: a plain word +
  char TF-IDF logistic regression (scikit-learn) trained on the same data as the old
  model (Bitext train+dev, the zh training messages, the 30 en out-of-scope messages),
  and with ``--new-baseline`` also on the new model's training data.
- **pii**: precision / recall per type on ``tests/data/pii/pii_realistic.jsonl``, per
  language, and look-alike texts (no gold PERSON) where a PERSON was found.
- **negation**: sentence polarity (positive / negative, the larger of the two
  probabilities) on the negation / contrast sets; aspect detection P/R/F1 and the
  polarity accuracy of the correctly detected (sentence, aspect) pairs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _src_from_argv() -> Path:
    """``--src`` must be known before shoplens is imported."""
    for i, a in enumerate(sys.argv):
        if a == "--src" and i + 1 < len(sys.argv):
            return Path(sys.argv[i + 1]).resolve()
        if a.startswith("--src="):
            return Path(a.split("=", 1)[1]).resolve()
    return ROOT / "src"


sys.path.insert(0, str(_src_from_argv()))
sys.path.insert(1, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REALISTIC = ROOT / "tests" / "data" / "text" / "realistic"
PII_SET = ROOT / "tests" / "data" / "pii" / "pii_realistic.jsonl"
OTHER = "other"


def read_tsv(path: Path) -> pd.DataFrame:
    """A realistic set (tab-separated, header, no quoting)."""
    return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)


def intent_scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    """accuracy, in-scope accuracy, out-of-scope recall and in-scope share sent to ``other``."""
    g, p = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    ins = g != OTHER
    out = {"rows": int(len(g)), "accuracy": float(np.mean(g == p))}
    if ins.any():
        out["in-scope accuracy"] = float(np.mean(g[ins] == p[ins]))
        out["in-scope sent to other"] = float(np.mean(p[ins] == OTHER))
    if (~ins).any():
        out["out-of-scope recall"] = float(np.mean(p[~ins] == OTHER))
    return out


def intent_sets(data: Path) -> dict[str, pd.DataFrame]:
    bitext = pd.read_csv(data / "intent_bitext_customer_service" / "test.csv.gz", dtype=str)
    return {
        "en realistic (342)": read_tsv(REALISTIC / "en_intents_test.tsv"),
        "zh realistic (342)": read_tsv(REALISTIC / "zh_intents_test.tsv"),
        "Bitext test split (810)": bitext.rename(columns={"utterance": "text"})[["text", "intent"]],
        "zh hand-written, old (85)": pd.read_csv(ROOT / "tests" / "data" / "text" / "zh_intents_test.csv", dtype=str),
    }


def plain_intent_baseline(train: pd.DataFrame):  # noqa: ANN201 - a fitted sklearn pipeline
    """Plain word 1-2 + char 1-4 TF-IDF + logistic regression: the baseline of issue #20."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                          TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2))
    return make_pipeline(features, LogisticRegression(C=10, max_iter=3000)).fit(train["text"], train["intent"])


def old_intent_training(data: Path) -> pd.DataFrame:
    """The training data of the intent model before issue #20."""
    d = data / "intent_bitext_customer_service"
    bitext = pd.concat([pd.read_csv(d / f, dtype=str) for f in ("train.csv.gz", "dev.csv.gz")])
    text = ROOT / "tests" / "data" / "text"
    return pd.concat([bitext.rename(columns={"utterance": "text"})[["text", "intent"]],
                      pd.read_csv(text / "zh_intents_train.csv", dtype=str),
                      pd.read_csv(text / "en_other_intents.csv", dtype=str)], ignore_index=True)


def eval_intent(data: Path, new_baseline: bool) -> list[dict]:
    from shoplens.text.analyze import score_intent

    sets = intent_sets(data)
    banking = pd.read_csv(data / "intent_banking77" / "test.csv.gz", dtype=str)["text"].tolist()
    models = {"shoplens intent model": lambda xs: score_intent(xs)["intent"].tolist()}
    base = plain_intent_baseline(old_intent_training(data))
    models["plain word+char TF-IDF + LR, old training data"] = lambda xs: base.predict(xs).tolist()
    if new_baseline:
        from train_text_models import intent_training_frame

        base_new = plain_intent_baseline(intent_training_frame(data))
        models["plain word+char TF-IDF + LR, new training data"] = lambda xs: base_new.predict(xs).tolist()
    rows = []
    for name, predict in models.items():
        for set_name, frame in sets.items():
            rows.append({"model": name, "set": set_name,
                         **intent_scores(frame["intent"].tolist(), predict(frame["text"].tolist()))})
        rows.append({"model": name, "set": "Banking77 test (3,080), share sent to other",
                     "rows": len(banking), "out-of-scope recall": float(np.mean(np.asarray(predict(banking)) == OTHER))})
        print(f"intent: {name} done", flush=True)
    return rows


def eval_pii() -> list[dict]:
    from shoplens.privacy.detect import PiiScanner
    from shoplens.privacy.evaluate import evaluate, load_rows

    rows = load_rows(PII_SET)
    out = []
    for lang in ("en", "zh", "all"):
        part = [r for r in rows if lang == "all" or r["lang"] == lang]
        m = evaluate(part)
        for t, v in m.items():
            if not t.startswith("_"):
                out.append({"language": lang, "type": t, **{k: v[k] for k in ("support", "tp", "fp", "fn", "precision",
                                                                                "recall")}})
        scanner = PiiScanner()
        looks = [r for r in part if not any(e["type"] == "PERSON" for e in r["entities"])]
        flagged = [r["text"] for r in looks if any(f.type == "PERSON" for f in scanner.scan(r["text"]))]
        out.append({"language": lang, "type": "look-alike texts with a PERSON found", "support": len(looks),
                    "fp": len(flagged)})
    return out


def aspect_pairs(frame: pd.DataFrame) -> dict[tuple[int, str], str]:
    gold = {}
    for i, spec in zip(frame.index, frame["aspects"]):
        for part in filter(None, spec.split(";")):
            aspect, polarity = part.split(":")
            gold[(i, aspect)] = polarity
    return gold


def eval_negation() -> list[dict]:
    from eval_aspects import aspect_scores

    from shoplens.text.analyze import extract_aspects
    from shoplens.text.models import load_model

    rows = []
    for lang in ("en", "zh"):
        frame = read_tsv(REALISTIC / f"{lang}_negation_contrast.tsv")
        model = load_model(f"{lang}_sentiment")
        texts = frame["text"].tolist()
        pred = np.where(model.binary(texts) == 1, "positive", "negative")
        gold = frame["label"].to_numpy()
        found = extract_aspects(texts, lang)
        predicted = {(i, a["aspect"]): a["polarity"] for i, aspects in zip(frame.index, found) for a in aspects}
        all_aspects = aspect_scores(aspect_pairs(frame), predicted)[-1]
        rows.append({"language": lang, "rows": len(frame), "sentence polarity acc": float(np.mean(pred == gold)),
                     "acc on positive": float(np.mean(pred[gold == "positive"] == "positive")),
                     "acc on negative": float(np.mean(pred[gold == "negative"] == "negative")),
                     "aspect precision": all_aspects["precision"], "aspect recall": all_aspects["recall"],
                     "aspect F1": all_aspects["f1"], "aspect polarity acc": all_aspects["polarity acc"],
                     "gold aspects": all_aspects["gold"]})
    return rows


def markdown(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--src", type=Path, help="score the shoplens code and models of this src folder instead")
    ap.add_argument("--only", choices=["intent", "pii", "negation"], action="append", help="sections (default all)")
    ap.add_argument("--new-baseline", action="store_true",
                    help="also train the plain baseline on the new intent training data")
    ap.add_argument("--json", type=Path, help="also write the tables as JSON here")
    args = ap.parse_args()
    want = set(args.only or ["intent", "pii", "negation"])
    out: dict = {}
    import shoplens

    print(f"shoplens from {Path(shoplens.__file__).parent}", flush=True)
    if "intent" in want:
        out["intent"] = eval_intent(args.data_dir, args.new_baseline)
        print("\n## intent\n" + markdown(out["intent"]), flush=True)
    if "pii" in want:
        out["pii"] = eval_pii()
        print("\n## PII, realistic set\n" + markdown(out["pii"]), flush=True)
    if "negation" in want:
        out["negation"] = eval_negation()
        print("\n## negation / contrast\n" + markdown(out["negation"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

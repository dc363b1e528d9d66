"""Domain adaptation of the sentiment models without target labels (issue #20): the figures of docs/text-models.md.

    python scripts/adapt_sentiment.py --data-dir ../shared/data                  # all targets
    python scripts/adapt_sentiment.py --data-dir ../shared/data --only waimai    # one target

Targets (labels hidden from training and adaptation, used only to score):

- ``hotels`` / ``food``: categories held out of the 10cats *training* split (train on the other
  categories); the method of ``shoplens.text.sentiment.self_train`` was chosen on these two.
- ``waimai``: the zh model trained on the whole 10cats training split, adapted to all waimai
  reviews.
- ``clothing``: an English model trained on the Hu & Liu annotated sentences (electronics,
  2004-2007; sentence label = sign of the summed feature opinions), adapted to the women's
  clothing reviews (2-class: 1-2 vs 4-5 stars). A small, very different source domain.

Columns: no adaptation; class balance re-estimated (EM) only; EM + self-training (what
``--adapt-to`` does); EM + self-training + the balance re-estimated again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from train_text_models import (HELD_OUT_CATEGORIES, load_en_clothing, load_waimai, load_zh_shopping,  # noqa: E402
                               markdown, zh_sentiment_model)

from shoplens.text.sentiment import SentimentModel, sentiment_classifier, self_train  # noqa: E402


def targets(data: Path, only: list[str] | None) -> dict:
    """name -> (make_model, source texts, source labels, target texts, target gold 0/1)."""
    out: dict = {}
    want = set(only or ["hotels", "food", "waimai", "clothing"])
    if want & {"hotels", "food", "waimai"}:
        train, _ = load_zh_shopping(data)
        for name, cats in zip(("food", "hotels"), HELD_OUT_CATEGORIES.values()):
            if name in want:
                held = train["cat"].isin(cats)
                out[name] = (zh_sentiment_model, train[~held]["review"].tolist(), train[~held]["label"].tolist(),
                             train[held]["review"].tolist(), train[held]["label"].astype(int).to_numpy())
        if "waimai" in want:
            w = load_waimai(data)
            out["waimai"] = (zh_sentiment_model, train["review"].tolist(), train["label"].tolist(), w["review"].tolist(),
                             w["label"].astype(int).to_numpy())
    if "clothing" in want:
        import eval_aspects as ea

        s = ea.load_en(data)
        sign = s["annotation"].map(lambda a: sum(int(x) for x in re.findall(r"\[([+-]\d)\]", a)))
        src = s[sign != 0]
        tr, te = load_en_clothing(data)
        clo = pd.concat([tr, te])
        clo = clo[clo["Rating"] != 3]
        out["clothing"] = (lambda: SentimentModel(sentiment_classifier("en", 2), language="en"), src["sentence"].tolist(),
                           np.where(sign[sign != 0] > 0, "positive", "negative").tolist(), clo["text"].tolist(),
                           (clo["Rating"] >= 4).astype(int).to_numpy())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--only", choices=["hotels", "food", "waimai", "clothing"], action="append")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args()
    rows = []
    for name, (make, x, y, target, gold) in targets(args.data_dir, args.only).items():
        t = time.perf_counter()
        acc = lambda m: float(np.mean(m.binary(target) == gold))  # noqa: E731
        base = make().fit(x, y)
        row = {"target": name, "target texts": len(target), "no adaptation": acc(base)}
        adapted = self_train(base, x, y, target)  # also leaves base with the re-estimated class balance
        row["class balance (EM) only"] = acc(base)
        row["EM + self-training (shipped)"] = acc(adapted)
        row["+ EM again"] = acc(adapted.adapt(target))
        row["estimated positive share"] = float(base.target_prior_[list(base.classes_).index("positive")])
        row["true positive share"] = float(gold.mean())
        row["seconds"] = time.perf_counter() - t
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n" + markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""Third round of zh sentiment experiments (not shipped; figures in docs/text-models.md).

    python scripts/zh_sentiment_round3.py --data-dir ../shared/data domain
    python scripts/zh_sentiment_round3.py --data-dir ../shared/data lexicon --lexicon-dir DIR

Both run on the 10cats *training* split only, with the three checks of
``train_text_models.py --validate`` (validation split, food held out, hotels
held out); the test split and waimai are never touched.

- ``domain``: "frustratingly easy domain adaptation" (Daumé 2007): the shipped
  char 1-5 features plus one copy per product category of the n-grams found in
  at least ``--min-df`` training texts, each copy scaled by the category (the
  true one or 3-fold out-of-fold probabilities at training, predicted
  probabilities at prediction); LR and NB-LR heads refitted on the wider matrix.
- ``lexicon``: counts of sentiment-lexicon matches (negation-aware) next to the
  shipped heads' 5-fold out-of-fold scores, into a logistic-regression
  meta-learner. ``--lexicon-dir`` is the ``cntext/io/data`` folder of the
  ``cntext`` wheel (``pip download cntext==2.2.1 --no-deps`` and unzip it); its
  word lists are for research use, which is one reason this is not shipped.
  Needs ``pyyaml`` and ``ahocorasick-rs``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

sys.path.insert(0, str(Path(__file__).parent))
import train_text_models as T  # noqa: E402


def folds(data: Path, held_out: bool) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    train, _ = T.load_zh_shopping(data)
    fit, val = train_test_split(train, test_size=0.2, stratify=train["label"], random_state=7)
    out = {"validation": (fit, val)}
    if held_out:
        for name, cats in T.HELD_OUT_CATEGORIES.items():
            held = train["cat"].isin(cats)
            out[name] = (train[~held], train[held])
    return out


def _augment(X: sp.csr_matrix, P: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    Xs = X[:, cols]
    return sp.hstack([X] + [sp.diags(P[:, k].astype(np.float32)) @ Xs for k in range(P.shape[1])]).tocsr()


def domain(data: Path, min_df: int, soft: bool) -> None:
    for name, (fit, val) in folds(data, held_out=True).items():
        xf, yf = fit["review"].tolist(), fit["label"].to_numpy()
        xv, yv = val["review"].tolist(), val["label"].to_numpy()
        cats = sorted(fit["cat"].unique())
        yc = fit["cat"].map({c: i for i, c in enumerate(cats)}).to_numpy()
        shipped = T.zh_sentiment_model().fit(xf, yf)
        m = shipped.model_
        Xf, Xv = m._tfidf(xf), m._tfidf(xv)
        t0 = time.perf_counter()
        Pv = LogisticRegression(C=10, max_iter=2000).fit(Xf, yc).predict_proba(Xv)
        if soft:
            Pf = np.zeros((len(xf), len(cats)))
            for a, b in StratifiedKFold(3, shuffle=True, random_state=0).split(xf, yc):
                Pf[b] = LogisticRegression(C=10, max_iter=2000).fit(Xf[a], yc[a]).predict_proba(Xf[b])
        else:
            Pf = np.eye(len(cats))[yc]
        present = Xf.copy()
        present.data[:] = 1.0
        df = np.asarray(present.sum(0)).ravel()
        p = np.asarray(present[yf == 1].sum(0)).ravel() + 1.0
        q = np.asarray(present[yf == 0].sum(0)).ravel() + 1.0
        scale = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        cols = np.flatnonzero(df >= min_df)
        A, B = _augment(Xf, Pf, cols), _augment(Xv, Pv, cols)
        sc = sp.diags(np.concatenate([scale] + [scale[cols]] * len(cats)))
        p1 = LogisticRegression(C=10, max_iter=3000).fit(A, yf).predict_proba(B)[:, 1]
        p2 = LogisticRegression(C=3, max_iter=3000).fit(A @ sc, yf).predict_proba(B @ sc)[:, 1]
        row = {"fold": name, "shipped": round(float(np.mean(shipped.binary(xv) == yv)), 4), "copied n-grams": len(cols),
               "fit s": round(time.perf_counter() - t0, 1)}
        for w in (0.5, 0.67):
            row[f"domain-aware, NB weight {w}"] = round(float(np.mean((((1 - w) * p1 + w * p2) >= 0.5) == yv)), 4)
        print(row, flush=True)


def lexicon(data: Path, lexicon_dir: Path) -> None:
    import ahocorasick_rs
    import yaml

    def words(file: str, cats: list[str]) -> dict[str, set[str]]:
        d = yaml.safe_load((lexicon_dir / file).read_text(encoding="utf-8"))["Dictionary"]
        return {c: {w for w in d[c] if isinstance(w, str) and w} for c in cats}

    hn = words("zh_common_HowNet.yaml", ["pos", "neg"])
    nt = words("zh_common_NTUSD.yaml", ["positive", "negative"])
    th = words("zh_common_TsinghuaPraiseDegrade.yaml", ["praise", "degrade"])
    pos = {w for w in hn["pos"] | nt["positive"] | th["praise"] if len(w) >= 2 or w in "好棒赞美快香"}
    neg = {w for w in hn["neg"] | nt["negative"] | th["degrade"] if len(w) >= 2 or w in "差烂坏慢贵脏臭"}
    vocab = sorted(pos | neg)
    ac = ahocorasick_rs.AhoCorasick(vocab, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    print(f"{len(pos)} positive, {len(neg)} negative words", flush=True)

    def feats(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 6))
        for i, t in enumerate(texts):
            for idx, s, _ in ac.find_matches_as_indexes(t):
                negated = any(d in t[max(0, s - 2):s] for d in "不没无别未非")
                positive = (vocab[idx] in pos) != negated
                out[i, 0 if positive else 1] += 1
                out[i, 2 if negated else 3] += 1
            out[i, 4] = np.log1p(len(t))
        out[:, :4] = np.log1p(out[:, :4])
        out[:, 5] = out[:, 0] - out[:, 1]
        return out

    for name, (fit, val) in folds(data, held_out=True).items():
        xf, yf = fit["review"].tolist(), fit["label"].to_numpy()
        xv, yv = val["review"].tolist(), val["label"].to_numpy()
        oof = np.zeros((len(xf), 2))
        for a, b in StratifiedKFold(5, shuffle=True, random_state=1).split(xf, yf):
            m = T.zh_sentiment_model().fit([xf[i] for i in a], yf[a])
            oof[b] = m.model_.decision_function([xf[i] for i in b])
        shipped = T.zh_sentiment_model().fit(xf, yf)
        hv = shipped.model_.decision_function(xv)
        lf, lv = feats(xf), feats(xv)
        row = {"fold": name, "shipped": round(float(np.mean(shipped.binary(xv) == yv)), 4)}
        for label, F, V in [("meta: heads", oof, hv), ("meta: heads + lexicon", np.hstack([oof, lf]), np.hstack([hv, lv])),
                            ("lexicon only", lf, lv)]:
            meta = LogisticRegression(C=1.0, max_iter=1000).fit(F, yf)
            row[label] = round(float(np.mean(meta.predict(V) == yv)), 4)
        print(row, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("experiment", choices=["domain", "lexicon"])
    ap.add_argument("--min-df", type=int, default=20, help="domain: copy the n-grams found in at least this many texts")
    ap.add_argument("--hard", action="store_true", help="domain: train on the true categories (default: out-of-fold)")
    ap.add_argument("--lexicon-dir", type=Path, help="lexicon: the cntext/io/data folder")
    args = ap.parse_args()
    if args.experiment == "domain":
        domain(args.data_dir, args.min_df, soft=not args.hard)
    else:
        if args.lexicon_dir is None:
            ap.error("lexicon needs --lexicon-dir")
        lexicon(args.data_dir, args.lexicon_dir)


if __name__ == "__main__":
    main()

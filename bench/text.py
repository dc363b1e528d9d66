"""Speed of shoplens text: reviews/s of the full review pipeline (language,
sentiment, aspects, entities) and training time of the default zh sentiment
model, each with a baseline measured in the same run.

    python bench/text.py --data-dir ../shared/data [--repeats 3] [--reviews 5000]

Baselines: VADER (English sentiment only) and SnowNLP (Chinese sentiment only)
for throughput; plain char TF-IDF + logistic regression (scikit-learn) for
training time. Medians over ``--repeats``; wall and CPU seconds are printed
because the machine may be shared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))


def timed(fn, repeats: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median (wall, cpu) seconds of ``fn()`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reviews", type=int, default=5000, help="reviews per language to score")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()

    from train_text_models import SEED, load_zh_shopping, markdown, zh_sentiment_model

    from shoplens.pipeline import demo_data_dir
    from shoplens.text.analyze import analyze_reviews
    from shoplens.text.models import load_model

    demo = pd.read_csv(demo_data_dir() / "reviews.csv.gz")
    en = demo[demo["review_id"].str.startswith("R-EN")]["text"].dropna().astype(str)
    en = en.sample(args.reviews, replace=len(en) < args.reviews, random_state=SEED).tolist()
    zh_train, zh_test = load_zh_shopping(args.data_dir)
    zh = zh_test["review"].sample(args.reviews, replace=len(zh_test) < args.reviews, random_state=SEED).tolist()
    for name in ("zh_sentiment", "en_sentiment", "intent"):
        load_model(name)
    analyze_reviews(en[:50] + zh[:50])  # warm up: model loading, jieba dictionary

    rows = []
    for lang, texts in (("en", en), ("zh", zh), ("mixed", en[: len(en) // 2] + zh[: len(zh) // 2])):
        wall, cpu = timed(lambda t=texts: analyze_reviews(t), args.repeats)
        rows.append({"what": f"shoplens full pipeline, {lang}", "texts": len(texts), "wall s": wall, "cpu s": cpu,
                     "texts/s (wall)": len(texts) / wall})
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()
        wall, cpu = timed(lambda: [vader.polarity_scores(t) for t in en], args.repeats)
        rows.append({"what": "baseline VADER sentiment only, en", "texts": len(en), "wall s": wall, "cpu s": cpu,
                     "texts/s (wall)": len(en) / wall})
    except ImportError:
        print("vaderSentiment missing: pip install shoplens[bench]", file=sys.stderr)
    try:
        from snownlp import SnowNLP

        sample = zh[:1000]
        wall, cpu = timed(lambda: [SnowNLP(t).sentiments for t in sample], 1)
        rows.append({"what": "baseline SnowNLP sentiment only, zh", "texts": len(sample), "wall s": wall, "cpu s": cpu,
                     "texts/s (wall)": len(sample) / wall})
    except ImportError:
        print("snownlp missing: pip install shoplens[bench]", file=sys.stderr)
    base = {r["what"]: r["texts/s (wall)"] for r in rows}
    for r in rows:
        if r["what"].endswith(", en") and "VADER" not in r["what"] and "baseline VADER sentiment only, en" in base:
            r["ratio vs baseline"] = r["texts/s (wall)"] / base["baseline VADER sentiment only, en"]
        if r["what"].endswith(", zh") and "SnowNLP" not in r["what"] and "baseline SnowNLP sentiment only, zh" in base:
            r["ratio vs baseline"] = r["texts/s (wall)"] / base["baseline SnowNLP sentiment only, zh"]
    print(markdown(rows))

    if not args.skip_training:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        x, y = zh_train["review"].tolist(), zh_train["label"].tolist()
        train_rows = []
        wall, cpu = timed(lambda: zh_sentiment_model().fit(x, y), 1)
        train_rows.append({"what": "train default zh sentiment (NB-LR, char 1-3 + jieba words 1-2)", "reviews": len(x),
                           "wall s": wall, "cpu s": cpu})

        def plain() -> None:
            vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
            LogisticRegression(C=10, max_iter=3000).fit(vec.fit_transform(x), y)

        wall, cpu = timed(plain, 1)
        train_rows.append({"what": "baseline plain char TF-IDF + LR", "reviews": len(x), "wall s": wall, "cpu s": cpu})
        train_rows[0]["ratio vs baseline (wall)"] = train_rows[0]["wall s"] / train_rows[1]["wall s"]
        print()
        print(markdown(train_rows))


if __name__ == "__main__":
    main()

"""Speed of shoplens text: reviews/s of the full review pipeline (language,
sentiment, aspects, entities) per stage and end to end, and training time of the
default zh sentiment model, each with a baseline measured in the same run.

    python bench/text.py --data-dir ../shared/data [--repeats 3] [--reviews 10000] [--workers 2]

Reviews: distinct English reviews of ``en_womens_clothing_reviews`` (title + text,
the held-out 20 % first) and distinct Chinese reviews of ``zh_online_shopping_10cats``
(the test split first). Per stage, CPU seconds of this process (``time.process_time``)
in one process: language detection, aspect matching, entity extraction (shoplens'
part) and the sentiment model (``predict`` on the reviews plus their distinct aspect
clauses, one call per language: the black box another engineer owns). End to end:
:func:`shoplens.text.analyze.analyze_reviews` with ``--workers`` processes, wall
seconds and CPU seconds of this process and its children. Baselines: VADER (English
sentiment only) and SnowNLP (Chinese sentiment only), one process, same run;
``ratio`` = shoplens end-to-end reviews/s (wall) / baseline reviews/s (wall). Plain
char TF-IDF + logistic regression (scikit-learn) for training time. Medians over
``--repeats``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))


def _cpu_all() -> float:
    """CPU seconds of this process and its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeats: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median (wall, cpu) seconds of ``fn()`` over ``repeats`` runs (CPU includes child processes)."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), _cpu_all()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(_cpu_all() - c)
    return statistics.median(walls), statistics.median(cpus)


def _load() -> str:
    """The 1-minute load average (other jobs on a shared machine inflate wall times)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover - not Unix
        return "n/a"


def sample(frame: pd.DataFrame, column: str, n: int, seed: int) -> list[str]:
    texts = frame[column].dropna().astype(str).drop_duplicates()
    return texts.sample(min(n, len(texts)), random_state=seed).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reviews", type=int, default=10000, help="distinct reviews per language to score")
    ap.add_argument("--workers", type=int, default=2, help="processes for the end-to-end run")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-baselines", action="store_true")
    args = ap.parse_args()

    from train_text_models import SEED, load_en_clothing, load_zh_shopping, markdown, zh_sentiment_model

    from shoplens.text.analyze import _model_for, analyze_reviews, languages_for
    from shoplens.text.aspects import AspectExtractor
    from shoplens.text.entities import EntityExtractor
    from shoplens.text.models import load_model

    en_train, en_test = load_en_clothing(args.data_dir)
    en = sample(pd.concat([en_test, en_train]).head(args.reviews), "text", args.reviews, SEED)
    zh_train, zh_test = load_zh_shopping(args.data_dir)
    zh = sample(pd.concat([zh_test, zh_train]).head(args.reviews), "review", args.reviews, SEED)
    models = {name: load_model(name) for name in ("zh_sentiment", "en_sentiment")}
    aspects, entities = AspectExtractor(), EntityExtractor()
    analyze_reviews(en[:50] + zh[:50], workers=1)  # warm up: model loading, jieba dictionary
    mixed = en[: len(en) // 2] + zh[: len(zh) // 2]
    print(f"reviews: en {len(en):,} (mean {statistics.mean(map(len, en)):.0f} chars), "
          f"zh {len(zh):,} (mean {statistics.mean(map(len, zh)):.0f} chars); repeats {args.repeats}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {_load()}", flush=True)

    stage_rows, rows = [], []
    for lang, texts in (("en", en), ("zh", zh), ("mixed", mixed)):
        langs = languages_for(texts)
        found = [aspects.mentions(t, l) for t, l in zip(texts, langs)]
        batches: dict[str, list[str]] = {}
        clauses: dict[str, dict[str, None]] = {}
        for t, l, f in zip(texts, langs, found):
            batches.setdefault(_model_for(l), []).append(t)
            clauses.setdefault(_model_for(l), {}).update(dict.fromkeys(m["evidence"] for m in f))
        for k, v in clauses.items():
            batches[k].extend(v)
        stages = {
            "language": lambda t=texts: languages_for(t),
            "aspect matching": lambda t=texts, l=langs: [aspects.mentions(x, y) for x, y in zip(t, l)],
            "entities": lambda t=texts: entities.extract_many(t),
            "sentiment model (reviews + aspect clauses)": lambda b=batches: [models[k].predict(v) for k, v in b.items()],
        }
        cpu = {}
        for stage, fn in stages.items():
            cpu[stage] = timed(fn, args.repeats)[1]
        _, cpu_one = timed(lambda t=texts: analyze_reviews(t, workers=1), args.repeats)
        ours = cpu_one - cpu["sentiment model (reviews + aspect clauses)"]
        row = {"reviews": lang, "n": len(texts), **{f"{k} cpu s": v for k, v in cpu.items()},
               "full pipeline, 1 process, cpu s": cpu_one,
               "shoplens part (all but the model) reviews/cpu-s": len(texts) / ours,
               "model reviews/cpu-s": len(texts) / cpu["sentiment model (reviews + aspect clauses)"],
               "full pipeline reviews/cpu-s": len(texts) / cpu_one}
        stage_rows.append(row)
        wall, cpu_n = timed(lambda t=texts: analyze_reviews(t, workers=args.workers), args.repeats)
        rows.append({"what": f"shoplens full pipeline, {args.workers} processes, {lang}", "texts": len(texts),
                     "wall s": wall, "cpu s": cpu_n, "texts/s (wall)": len(texts) / wall})
        print(f"{lang}: done, load average {_load()}", flush=True)
    print("\n## per stage, one process (CPU seconds, medians)\n")
    print(markdown(stage_rows))

    if not args.skip_baselines:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            vader = SentimentIntensityAnalyzer()
            wall, cpu = timed(lambda: [vader.polarity_scores(t) for t in en], args.repeats)
            rows.append({"what": "baseline VADER sentiment only, 1 process, en", "texts": len(en), "wall s": wall,
                         "cpu s": cpu, "texts/s (wall)": len(en) / wall})
        except ImportError:
            from baselines import require

            require("vaderSentiment.vaderSentiment", baseline="VADER (en sentiment)")
        try:
            from snownlp import SnowNLP

            few = zh[:1000]
            wall, cpu = timed(lambda: [SnowNLP(t).sentiments for t in few], 1)
            rows.append({"what": "baseline SnowNLP sentiment only, 1 process, zh", "texts": len(few), "wall s": wall,
                         "cpu s": cpu, "texts/s (wall)": len(few) / wall})
        except ImportError:
            from baselines import require

            require("snownlp", baseline="SnowNLP (zh sentiment)")
    base = {r["what"].split(",")[0] + r["what"][-4:]: r["texts/s (wall)"] for r in rows if r["what"].startswith("baseline")}
    for r in rows:
        if r["what"].startswith("shoplens") and r["what"].endswith(", en") and "baseline VADER sentiment only, en" in base:
            r["ratio vs baseline (wall)"] = r["texts/s (wall)"] / base["baseline VADER sentiment only, en"]
        if r["what"].startswith("shoplens") and r["what"].endswith(", zh") and "baseline SnowNLP sentiment only, zh" in base:
            r["ratio vs baseline (wall)"] = r["texts/s (wall)"] / base["baseline SnowNLP sentiment only, zh"]
    print("\n## end to end (medians)\n")
    print(markdown(rows))

    if not args.skip_training:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        x, y = zh_train["review"].tolist(), zh_train["label"].tolist()
        train_rows = []
        wall, cpu = timed(lambda: zh_sentiment_model().fit(x, y), 1)
        train_rows.append({"what": "train default zh sentiment", "reviews": len(x), "wall s": wall, "cpu s": cpu})

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

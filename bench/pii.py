"""PII scan throughput on real review and support texts, against Presidio.

Texts (from ``--data-dir``, the shared data folder): English women's clothing reviews,
Bitext customer-service utterances (English), Chinese online-shopping reviews and
Chinese food-delivery reviews. Prints messages/s (median over ``--repeats``) for:

- shoplens ``PiiScanner`` (all PII types), one process, per corpus;
- shoplens on 2 processes (``multiprocessing``), all corpora together;
- Presidio ``AnalyzerEngine`` with its predefined pattern recognizers only (the spaCy
  NER recognizer removed; a blank spaCy English pipeline for tokens, so no model is
  downloaded), on the same English texts, when presidio-analyzer is installed.

Run: ``.venv/bin/python bench/pii.py --data-dir ../shared/data``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from shoplens.privacy.detect import PiiScanner


def load(data_dir: Path, limit: int) -> dict[str, list[str]]:
    def col(path: str, column: str) -> list[str]:
        frame = pd.read_csv(data_dir / path, usecols=[column])
        return frame[column].dropna().astype(str).tolist()[:limit]

    return {
        "en_reviews": col("en_womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz", "Review Text"),
        "en_support": col("intent_bitext_customer_service/train.csv.gz", "utterance"),
        "zh_reviews": col("zh_online_shopping_10cats/online_shopping_10_cats.csv.gz", "review"),
        "zh_delivery": col("zh_waimai_10k/waimai_10k.csv.gz", "review"),
    }


def timed(fn, repeats: int, clock=time.perf_counter) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeats):
        t = clock()
        fn()
        runs.append(clock() - t)
    return statistics.median(runs)


_SCANNER = PiiScanner()


def _scan_chunk(texts: list[str]) -> int:
    return sum(len(_SCANNER.scan(t)) for t in texts)


def presidio_analyzer():  # type: ignore[no-untyped-def]
    """Presidio with pattern recognizers only and a blank spaCy pipeline (no model download)."""
    import spacy
    import tldextract

    # the e-mail recognizer calls tldextract, which would try to fetch the suffix list online
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # type: ignore[assignment]
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])
            self.nlp = {"en": spacy.blank("en")}

        def load(self) -> None:
            pass

    nlp = BlankSpacy()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    registry.remove_recognizer("SpacyRecognizer")
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--limit", type=int, default=20000, help="texts per corpus")
    ap.add_argument("--presidio-limit", type=int, default=1000, help="English texts given to Presidio (it is slow)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from baselines import require

    require("presidio_analyzer", baseline="Presidio (pattern recognizers)")  # before any work
    if not args.data_dir.is_dir():
        sys.exit(f"{args.data_dir}: no such folder (give --data-dir pointing at the shared data)")
    corpora = load(args.data_dir, args.limit)
    scanner = PiiScanner()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine may be shared: wall-clock rates then drop; "
          "CPU-time rates depend much less on other processes)")
    print(f"shoplens PiiScanner, 1 process, median of {args.repeats}")
    for name, texts in corpora.items():
        sec = timed(lambda: [scanner.scan(t) for t in texts], args.repeats)
        cpu = timed(lambda: [scanner.scan(t) for t in texts], args.repeats, time.process_time)
        chars = sum(map(len, texts)) / len(texts)
        print(f"  {name:12s} {len(texts):6d} texts (mean {chars:5.0f} chars): {len(texts) / sec:9,.0f} messages/s wall, "
              f"{len(texts) / cpu:9,.0f} messages per CPU-second")
    everything = [t for texts in corpora.values() for t in texts]
    cpu = timed(lambda: [scanner.scan(t) for t in everything], args.repeats, time.process_time)
    print(f"  all corpora  {len(everything):6d} texts: {len(everything) / cpu:9,.0f} messages per CPU-second "
          f"(2 dedicated cores: about {2 * len(everything) / cpu:,.0f} messages/s)")
    chunks = [everything[i:i + 2000] for i in range(0, len(everything), 2000)]
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(_scan_chunk, chunks[:2])  # warm up
        sec = timed(lambda: pool.map(_scan_chunk, chunks), args.repeats)
    both = len(everything) / sec
    print(f"shoplens PiiScanner, 2 processes, all {len(everything)} texts: {both:,.0f} messages/s")
    english = corpora["en_reviews"][: args.presidio_limit // 2] + corpora["en_support"][: args.presidio_limit // 2]
    from baselines import require

    require("presidio_analyzer", baseline="Presidio (pattern recognizers)")
    analyzer = presidio_analyzer()
    analyzer.analyze(english[0], language="en")  # warm up
    sec_p = timed(lambda: [analyzer.analyze(t, language="en") for t in english], args.repeats)
    sec_s = timed(lambda: [scanner.scan(t) for t in english], args.repeats)
    p_rate, s_rate = len(english) / sec_p, len(english) / sec_s
    cpu_p = timed(lambda: [analyzer.analyze(t, language="en") for t in english], 1, time.process_time)
    cpu_s = timed(lambda: [scanner.scan(t) for t in english], 1, time.process_time)
    print(f"same {len(english)} English texts, per CPU-second: Presidio {len(english) / cpu_p:,.0f}, "
          f"shoplens {len(english) / cpu_s:,.0f} -> {cpu_p / cpu_s:.1f}x")
    print(f"same {len(english)} English texts, 1 process: Presidio pattern recognizers {p_rate:,.0f} messages/s, "
          f"shoplens {s_rate:,.0f} messages/s -> {s_rate / p_rate:.1f}x faster")


if __name__ == "__main__":
    main()

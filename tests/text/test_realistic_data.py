"""The hand-written realistic sets of issue #20 (tests/data/WRITING.md): size, labels, kept apart."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from shoplens.text.aspects import ASPECTS
from shoplens.text.intent import INTENTS, OTHER

DATA = Path(__file__).parents[1] / "data" / "text"
REALISTIC = DATA / "realistic"


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(REALISTIC / name, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_intent_test_sets_cover_every_intent_and_out_of_scope(lang: str) -> None:
    test = read(f"{lang}_intents_test.tsv")
    assert len(test) >= 300
    counts = test["intent"].value_counts()
    assert set(counts.index) == set(INTENTS) | {OTHER}
    assert counts.min() >= 10 and counts[OTHER] >= 40
    assert not test["text"].duplicated().any() and (test["text"].str.strip() != "").all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_training_messages_never_repeat_a_test_message(lang: str) -> None:
    test = set(read(f"{lang}_intents_test.tsv")["text"].str.lower().str.strip())
    more = [read("zh_intents_train_2.tsv"), read("zh_intents_train_3.tsv")] if lang == "zh" else []
    train = pd.concat([read(f"{lang}_intents_train.tsv")] + more)
    assert set(train["intent"]) <= set(INTENTS) | {OTHER}
    assert not (set(train["text"].str.lower().str.strip()) & test)
    older = pd.concat([pd.read_csv(DATA / "zh_intents_train.csv", dtype=str), pd.read_csv(DATA / "en_other_intents.csv", dtype=str)])
    assert not (set(older["text"].str.lower().str.strip()) & test)


@pytest.mark.parametrize("lang, rows", [("en", 200), ("zh", 200)])
def test_negation_contrast_sets(lang: str, rows: int) -> None:
    frame = read(f"{lang}_negation_contrast.tsv")
    assert len(frame) >= rows and set(frame["label"]) == {"positive", "negative"}
    assert abs((frame["label"] == "positive").mean() - 0.5) < 0.1
    for spec in frame["aspects"]:
        for part in filter(None, spec.split(";")):
            aspect, polarity = part.split(":")
            assert aspect in ASPECTS and polarity in {"positive", "negative", "neutral"}


def _nearest_test_similarity(texts: list[str], test: list[str]) -> list[float]:
    """Character-trigram TF-IDF cosine of each text with its nearest test text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vec = TfidfVectorizer(analyzer="char", ngram_range=(3, 3)).fit(texts + test)
    return cosine_similarity(vec.transform(texts), vec.transform(test)).max(axis=1).tolist()


@pytest.mark.parametrize("name, least", [("zh_intents_train_2.tsv", 10), ("zh_intents_train_3.tsv", 6)])
def test_later_zh_training_passes_cover_every_intent(name: str, least: int) -> None:
    more = read(name)
    counts = more["intent"].value_counts()
    assert set(counts.index) == set(INTENTS) | {OTHER} and counts.min() >= least
    assert not more["text"].duplicated().any()
    # no near copy of a test message either (the first pass of this file had some: "可以货到付款不" / "...不？")
    assert max(_nearest_test_similarity(more["text"].tolist(), read("zh_intents_test.tsv")["text"].tolist())) < 0.6


@pytest.mark.parametrize("lang, name, least", [("en", "en_negation_dev.tsv", 100), ("zh", "zh_negation_dev.tsv", 100),
                                               ("zh", "zh_negation_dev_2.tsv", 90)])
def test_negation_development_sentences_are_apart_from_the_test_set(lang: str, name: str, least: int) -> None:
    dev = pd.read_csv(DATA / "dev" / name, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    assert len(dev) >= least and set(dev["label"]) == {"positive", "negative"} and not dev["text"].duplicated().any()
    test = set(read(f"{lang}_negation_contrast.tsv")["text"].str.lower().str.strip())
    assert not (set(dev["text"].str.lower().str.strip()) & test)
    assert max(_nearest_test_similarity(dev["text"].tolist(), sorted(test))) < 0.6  # no paraphrase of a test row
    for spec in dev["aspects"]:
        for part in filter(None, spec.split(";")):
            aspect, polarity = part.split(":")
            assert aspect in ASPECTS and polarity in {"positive", "negative", "neutral"}

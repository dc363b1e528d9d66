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
    train = read(f"{lang}_intents_train.tsv")
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

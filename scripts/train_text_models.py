"""Train and evaluate shoplens' default text models (seeded, reproducible).

    python scripts/train_text_models.py --data-dir ../shared/data
    python scripts/train_text_models.py --data-dir ../shared/data --validate   # zh sentiment model selection
    python scripts/train_text_models.py --data-dir ../shared/data --validate-en   # en sentiment model selection
    python scripts/train_text_models.py --data-dir ../shared/data --only en_sentiment   # retrain one model, evaluate all

trains the Chinese and English sentiment models, the support-intent model and
the Chinese product-category model, writes them to ``src/shoplens/text/models``,
then evaluates every model and the baselines (SnowNLP for zh, VADER for en,
plain TF-IDF + LR) on held-out, de-duplicated splits, and the aspects with the
shipped models (the evaluation of ``scripts/eval_aspects.py``), and prints the
tables of ``docs/text-models.md``. Baselines need the ``bench`` extra
(``pip install shoplens[bench]``); they are evaluated only, never trained on or
used as components.

Splits (seed 42): texts are de-duplicated (texts with conflicting labels
dropped) before a stratified 80/20 split.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shoplens.text.aspects import default_extractor  # noqa: E402
from shoplens.text.classifier import NgramClassifier, TextClassifier  # noqa: E402
from shoplens.text.augment import augment_messages  # noqa: E402
from shoplens.text.intent import IntentModel, default_intent_classifier  # noqa: E402
from shoplens.text.models import MODEL_FILES  # noqa: E402
from shoplens.text.sentiment import SentimentModel, labels_from_ratings  # noqa: E402

SEED = 42
TEST_DATA = ROOT / "tests" / "data" / "text"
OUT = ROOT / "src" / "shoplens" / "text" / "models"


def dedupe(frame: pd.DataFrame, text: str, label: str) -> pd.DataFrame:
    """Drop empty texts, texts carrying conflicting labels, and exact duplicates."""
    frame = frame.dropna(subset=[text, label]).copy()
    frame[text] = frame[text].astype(str).str.strip()
    frame = frame[frame[text] != ""]
    conflicting = frame.groupby(text)[label].nunique()
    frame = frame[~frame[text].isin(conflicting[conflicting > 1].index)]
    return frame.drop_duplicates(text).reset_index(drop=True)


def load_zh_shopping(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = dedupe(pd.read_csv(data / "zh_online_shopping_10cats" / "online_shopping_10_cats.csv.gz"), "review", "label")
    return train_test_split(df, test_size=0.2, stratify=df["label"], random_state=SEED)


def load_waimai(data: Path) -> pd.DataFrame:
    return dedupe(pd.read_csv(data / "zh_waimai_10k" / "waimai_10k.csv.gz"), "review", "label")


def load_en_clothing(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.read_csv(data / "en_womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz")
    df["text"] = (df["Title"].fillna("") + ". " + df["Review Text"].fillna("")).str.strip(". ")
    df = dedupe(df[df["Review Text"].notna()], "text", "Rating")
    return train_test_split(df, test_size=0.2, stratify=df["Rating"], random_state=SEED)


def load_intents(data: Path) -> dict[str, pd.DataFrame]:
    d = data / "intent_bitext_customer_service"
    read = lambda f: pd.read_csv(d / f, dtype=str)[["utterance", "intent"]].rename(columns={"utterance": "text"})  # noqa: E731
    return {
        "en_train": pd.concat([read("train.csv.gz"), read("dev.csv.gz")]),
        "en_test": read("test.csv.gz"),
        "zh_train": pd.read_csv(TEST_DATA / "zh_intents_train.csv"),
        "zh_test": pd.read_csv(TEST_DATA / "zh_intents_test.csv"),
        "other_train": pd.read_csv(TEST_DATA / "en_other_intents.csv"),
        "banking77": pd.read_csv(data / "intent_banking77" / "test.csv.gz"),
    }


def _xy(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    return frame["text"].tolist(), frame["intent"].tolist()


REALISTIC = TEST_DATA / "realistic"
# Banking77 categories that are e-commerce support intents too (closing an account, a forgotten
# passcode, a refund, a declined or double card payment, accepted cards...): never used as out-of-scope.
BANKING_IN_SCOPE = frozenset("""edit_personal_details passcode_forgotten terminate_account request_refund
    Refund_not_showing_up declined_card_payment transaction_charged_twice pending_card_payment card_payment_not_recognised
    reverted_card_payment? card_payment_fee_charged extra_charge_on_statement apple_pay_or_google_pay visa_or_mastercard
    supported_cards_and_currencies card_acceptance country_support card_delivery_estimate card_arrival get_physical_card
    order_physical_card unable_to_verify_identity why_verify_identity verify_my_identity age_limit cancel_transfer
    change_pin pin_blocked""".split())
INTENT_WEIGHTS = {"bitext": 0.3, "realistic": 5.0, "banking": 1.0}  # chosen by 5-fold CV (docs/text-models.md)
BANKING_PER_CATEGORY = 30


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)


def banking_out_of_scope(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training, calibration) out-of-scope questions from the Banking77 *training* split.

    Only categories that are not e-commerce support intents; every third of them (sorted) is kept
    apart for calibrating the out-of-scope decision on kinds of question the model never saw.
    """
    b = pd.read_csv(data / "intent_banking77" / "train.csv.gz", dtype=str)
    cats = sorted(set(b["category"]) - BANKING_IN_SCOPE)
    held = set(cats[1::3])
    train = b[b["category"].isin(set(cats) - held)].groupby("category").head(BANKING_PER_CATEGORY)
    return (train.assign(intent="other")[["text", "intent"]].reset_index(drop=True),
            b[b["category"].isin(held)].assign(intent="other")[["text", "intent"]].reset_index(drop=True))


def realistic_intent_training() -> pd.DataFrame:
    """The hand-written training messages (en + zh, incl. out of scope); never the test sets."""
    return pd.concat([read_tsv(REALISTIC / "en_intents_train.tsv"), read_tsv(REALISTIC / "zh_intents_train.tsv"),
                      read_tsv(REALISTIC / "zh_intents_train_2.tsv"), read_tsv(REALISTIC / "zh_intents_train_3.tsv"),
                      pd.read_csv(TEST_DATA / "zh_intents_train.csv", dtype=str),
                      pd.read_csv(TEST_DATA / "en_other_intents.csv", dtype=str)], ignore_index=True)[["text", "intent"]]


def intent_training_frame(data: Path, realistic: pd.DataFrame | None = None, copies: int = 2) -> pd.DataFrame:
    """text, intent, weight: Bitext train+dev, the realistic messages and their noisy copies
    (:func:`shoplens.text.augment.augment_messages`), Banking77 out-of-scope questions."""
    it = load_intents(data)
    real = realistic_intent_training() if realistic is None else realistic
    x, y = augment_messages(real["text"].tolist(), real["intent"].tolist(), copies=copies, seed=SEED)
    oos, _ = banking_out_of_scope(data)
    return pd.concat([it["en_train"].assign(weight=INTENT_WEIGHTS["bitext"]),
                      pd.DataFrame({"text": x, "intent": y, "weight": INTENT_WEIGHTS["realistic"]}),
                      oos.assign(weight=INTENT_WEIGHTS["banking"])], ignore_index=True)


def _language(text: str) -> str:
    return "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"


def calibrate_intent_thresholds(data: Path, folds: int = 5, min_recall: float = 0.85) -> dict:
    """Per-language reject thresholds from out-of-fold predictions on the realistic training messages.

    Each fold trains the shipped recipe on everything but one fifth of the hand-written messages
    and predicts that fifth; English also scores the held-out Banking77 categories. The threshold
    (0-0.8, step 0.02) is the one with the best in-scope accuracy among those whose out-of-scope
    recall (English: the mean of the hand-written and the Banking77 recall) is at least
    ``min_recall`` (issue #20: out-of-scope recall >= 0.80 with in-scope messages rarely sent to
    ``other``; 0.85 leaves a margin). A first version maximised in-scope accuracy + recall, which
    sent 12 % of the in-scope test messages to ``other`` (docs/text-models.md).
    """
    from sklearn.model_selection import StratifiedKFold

    real = realistic_intent_training()
    lang = real["text"].map(_language)
    _, held_banking = banking_out_of_scope(data)
    best_in = np.empty(len(real), dtype=object)
    best_p = np.zeros(len(real))
    is_other = np.zeros(len(real), dtype=bool)
    bank_p, bank_other = [], []
    skf = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    for k, (tr, va) in enumerate(skf.split(real, real["intent"] + lang)):
        frame = intent_training_frame(data, real.iloc[tr])
        m = IntentModel(default_intent_classifier(SEED), other_threshold=0.0).fit(
            frame["text"].tolist(), frame["intent"].tolist(), sample_weight=frame["weight"].to_numpy())
        for texts, idx in ((real["text"].iloc[va].tolist(), va), (held_banking["text"].tolist(), None)):
            proba = m.model_.predict_proba(texts)
            o = list(m.classes_).index("other")
            inscope = proba.copy()
            inscope[:, o] = -1
            if idx is not None:
                best_in[idx] = m.classes_[inscope.argmax(1)]
                best_p[idx] = inscope.max(1)
                is_other[idx] = proba.argmax(1) == o
            else:
                bank_p.append(inscope.max(1))
                bank_other.append(proba.argmax(1) == o)
        print(f"intent calibration fold {k + 1}/{folds} done", flush=True)
    bank_p, bank_other = np.mean(bank_p, axis=0), np.mean(bank_other, axis=0) >= 0.5
    out: dict = {}
    for L in ("en", "zh"):
        sel = (lang == L).to_numpy()
        g = real["intent"].to_numpy()[sel]
        inside = g != "other"
        rows = []
        for t in np.round(np.arange(0.0, 0.81, 0.02), 2):
            pred = np.where(is_other[sel] | (best_p[sel] < t), "other", best_in[sel])
            acc_in = float(np.mean(pred[inside] == g[inside]))
            rec = float(np.mean(pred[~inside] == "other"))
            if L == "en":
                rec = (rec + float(np.mean(bank_other | (bank_p < t)))) / 2
            rows.append((rec >= min_recall, acc_in, t, rec))
        _, acc_in, t, rec = max(rows, key=lambda r: (r[0], r[1], -r[2]))
        out[L] = {"threshold": float(t), "in-scope accuracy": acc_in, "out-of-scope recall": rec,
                  "argmax in-scope accuracy": float(np.mean(best_in[sel][inside] == g[inside]))}
        print(f"intent threshold {L}: {out[L]}", flush=True)
    return out


# -- training -------------------------------------------------------------------------
def zh_sentiment_model(shift_weights: tuple | None = None, dual_clauses: bool = True, clause_classifier=None,
                       **params) -> SentimentModel:
    """The default zh model; hyper-parameters chosen by :func:`validate_zh` (validation split of the training split)."""
    params = {"ngram_range": (1, 5), "min_df": 3, "C": 10.0, "nb_C": 3.0, "nb_weight": 0.67, **params}
    return SentimentModel(NgramClassifier(seed=SEED, **params), neutral_band=0.15, language="zh",
                          shift_weights=shift_weights, dual_clauses=dual_clauses, clause_classifier=clause_classifier)


# Candidates compared on the validation split (never on the test split); the first is the default.
# nb_weight (the NB-LR head's share of the averaged probability) is then chosen by NB_WEIGHTS.
ZH_GRID = [
    {"ngram_range": (1, 5), "min_df": 3, "C": 10.0, "nb_C": 3.0},
    {"ngram_range": (1, 5), "min_df": 2, "C": 10.0, "nb_C": 3.0},
    {"ngram_range": (1, 5), "min_df": 5, "C": 10.0, "nb_C": 3.0},
    {"ngram_range": (1, 4), "min_df": 3, "C": 10.0, "nb_C": 3.0},
    {"ngram_range": (1, 5), "min_df": 3, "C": 10.0, "nb_C": None},
    {"ngram_range": (1, 5), "min_df": 3, "C": 3.0, "nb_C": 3.0},
    {"ngram_range": (1, 5), "min_df": 3, "C": 30.0, "nb_C": 3.0},
    {"ngram_range": (1, 5), "min_df": 3, "C": 10.0, "nb_C": 1.0},
    {"ngram_range": (1, 5), "min_df": 3, "C": 10.0, "nb_C": 10.0},
]


def validate_zh(data: Path) -> list[dict]:
    """Accuracy of each ZH_GRID candidate (and the previous default) on a validation split.

    The validation split is a stratified 20 % of the 10cats *training* split (seed 7); the
    test split and waimai are not touched.
    """
    train, _ = load_zh_shopping(data)
    fit, val = train_test_split(train, test_size=0.2, stratify=train["label"], random_state=7)
    rows = []
    candidates = [("NgramClassifier", p, zh_sentiment_model(**p)) for p in ZH_GRID]
    candidates.append(("previous default: hashed char 1-3 + jieba words, NB-LR C=1", {},
                       SentimentModel(TextClassifier(char_ngrams=(1, 3), word_features=True, n_features=2**20, C=1.0,
                                                     nb=True, seed=SEED), language="zh")))
    for name, params, model in candidates:
        t = time.process_time()
        model.fit(fit["review"].tolist(), fit["label"].tolist())
        cpu = time.process_time() - t
        acc = accuracy_score(val["label"], model.binary(val["review"].tolist()))
        rows.append({"model": name, **{k: str(v) for k, v in params.items()}, "validation acc": acc, "fit CPU s": cpu})
        print(rows[-1], flush=True)
    return [dict(r, **{"fit rows": len(fit), "validation rows": len(val)}) for r in rows]


NB_WEIGHTS = [0.0, 0.25, 0.5, 0.67, 0.75, 1.0]
HELD_OUT_CATEGORIES = {"food (水果 + 蒙牛)": ["水果", "蒙牛"], "hotel (酒店)": ["酒店"]}


def validate_zh_weights(data: Path) -> list[dict]:
    """Accuracy per NB-head weight of the default model, in domain and across categories.

    Three checks on the 10cats *training* split only: the validation split of
    :func:`validate_zh`, and two leave-categories-out folds (train on the other
    categories, test on the held-out ones), a proxy for other shops' domains. The
    weight with the best mean of the three is the default.
    """
    train, _ = load_zh_shopping(data)
    fit, val = train_test_split(train, test_size=0.2, stratify=train["label"], random_state=7)
    folds = {"validation split": (fit, val)}
    for name, cats in HELD_OUT_CATEGORIES.items():
        held = train["cat"].isin(cats)
        folds[name] = (train[~held], train[held])
    acc: dict[str, list[float]] = {}
    for name, (a, b) in folds.items():
        m = zh_sentiment_model().fit(a["review"].tolist(), a["label"].tolist()).model_
        heads = 1.0 / (1.0 + np.exp(-m.decision_function(b["review"].tolist())))  # LR head, NB-LR head
        y = b["label"].to_numpy()
        acc[name] = [float(np.mean((((1 - w) * heads[:, 0] + w * heads[:, 1]) >= 0.5) == y)) for w in NB_WEIGHTS]
        print(name, len(b), [round(x, 4) for x in acc[name]], flush=True)
    return [{"nb_weight": w, **{k: v[i] for k, v in acc.items()}, "mean": float(np.mean([v[i] for v in acc.values()]))}
            for i, w in enumerate(NB_WEIGHTS)]


def en_classifier() -> NgramClassifier:
    """Default en model (3-class); chosen among EN_CANDIDATES by :func:`validate_en`.

    Word 1-3 grams only: as accurate as char 1-5 grams on the validation split and
    ~6x faster on long English reviews (about 0.6 keys per character instead of 5).
    Rule: the lowest validation log loss among the candidates whose validation accuracy
    and macro-F1 are both at least the previous default's (char 1-5). Larger C gave a
    slightly better macro-F1 but overconfident probabilities (C=300: log loss 0.50 vs 0.40).
    """
    return NgramClassifier(ngram_range=None, word_ngrams=(1, 3), min_df=2, C=30.0, seed=SEED)


def _words(n: tuple[int, int], C: float, min_df: int = 2, chars: tuple[int, int] | None = None):  # noqa: ANN202
    return lambda: NgramClassifier(ngram_range=chars, word_ngrams=n, min_df=min_df, C=C, seed=SEED)


EN_CANDIDATES = {
    "word 1-3, min_df 2, LR C=30 (default)": lambda: en_classifier(),
    "word 1-3, min_df 2, LR C=4": _words((1, 3), 4.0),
    "word 1-3, min_df 2, LR C=10": _words((1, 3), 10.0),
    "word 1-3, min_df 2, LR C=100": _words((1, 3), 100.0),
    "word 1-3, min_df 2, LR C=300": _words((1, 3), 300.0),
    "word 1-3, min_df 2, LR C=1000": _words((1, 3), 1000.0),
    "word 1-3, min_df 3, LR C=30": _words((1, 3), 30.0, min_df=3),
    "word 1-2, min_df 2, LR C=10": _words((1, 2), 10.0),
    "word 1-2, min_df 2, LR C=30": _words((1, 2), 30.0),
    "word 1-2, min_df 2, LR C=100": _words((1, 2), 100.0),
    "word 1-4, min_df 2, LR C=30": _words((1, 4), 30.0),
    "word 1-4, min_df 2, LR C=100": _words((1, 4), 100.0),
    "word 1-3 + char 3-5, min_df 2, LR C=30": _words((1, 3), 30.0, chars=(3, 5)),
    "previous default: char 1-5, min_df 3, LR C=10": lambda: NgramClassifier(ngram_range=(1, 5), min_df=3, C=10.0,
                                                                              seed=SEED),
    "char 1-5, min_df 3, LR C=4": lambda: NgramClassifier(ngram_range=(1, 5), min_df=3, C=4.0, seed=SEED),
    "char 2-6, min_df 3, LR C=4": lambda: NgramClassifier(ngram_range=(2, 6), min_df=3, C=4.0, seed=SEED),
    "hashed char 2-5 + words 1-2, LR C=4 (default before that)": lambda: TextClassifier(
        char_ngrams=(2, 5), word_features=True, n_features=2**18, C=4.0, nb=False, seed=SEED),
}


def validate_en(data: Path) -> list[dict]:
    """3-class accuracy / macro-F1 / log loss of EN_CANDIDATES on a stratified 20 % validation split of the en
    training split.

    Also the speed of each candidate on the validation reviews (``predict``, one batch,
    featurisation included, median CPU seconds of 3 runs) and its vocabulary size.
    """
    train, _ = load_en_clothing(data)
    fit, val = train_test_split(train, test_size=0.2, stratify=train["Rating"], random_state=7)
    y_fit, y_val = labels_from_ratings(fit["Rating"].tolist()), labels_from_ratings(val["Rating"].tolist())
    texts = val["text"].tolist()
    rows = []
    for name, make in EN_CANDIDATES.items():
        t = time.process_time()
        m = make().fit(fit["text"].tolist(), y_fit)
        cpu = time.process_time() - t
        pred = m.predict(texts)
        proba = m.predict_proba(texts)
        runs = []
        for _ in range(3):
            t = time.process_time()
            m.predict(texts)
            runs.append(time.process_time() - t)
        vocabulary = getattr(m, "vocabulary_", None)
        rows.append({"model": name, "validation acc": accuracy_score(y_val, pred),
                     "validation macro-F1": f1_score(y_val, pred, average="macro"),
                     "validation log loss": log_loss(y_val, proba, labels=list(m.classes_)), "fit CPU s": cpu,
                     "reviews per CPU-second": len(texts) / float(np.median(runs)),
                     "n-grams": len(vocabulary.keys_) if vocabulary is not None else None,
                     "fit rows": len(fit), "validation rows": len(val)})
        print(rows[-1], flush=True)
    return rows


CONTRAST_WEIGHTS = [0.0, 0.2, 0.35, 0.5, 0.65, 0.8]
# Chosen by validate_contrast (--validate-contrast): en 0 / 0.2 / 0.35 tie at 0.9533 validation accuracy
# (higher weights lose), 0.35 shipped; zh every weight above 0 loses (0.9422 at 0, 0.9401 at 0.35).
CONTRAST_WEIGHT = {"en": 0.35, "zh": 0.0}  # en ships with it; zh uses the polarity-shift weights (SHIFT_WEIGHTS)


def validate_contrast(data: Path) -> list[dict]:
    """Accuracy per contrast weight (``SentimentModel.contrast_weight``) on validation splits of the training splits.

    zh: the 10cats validation split of :func:`validate_zh` (seed 7); en: a stratified 20 % of the clothing
    training split (seed 7), 2-class (1-2 vs 4-5 stars). Models are fitted on the rest; the test
    splits and the hand-written negation / contrast sets are not touched. Reported over all
    validation reviews and over those with a contrast view.
    """
    from shoplens.text.sentiment import contrast_view

    rows = []
    zh_train, _ = load_zh_shopping(data)
    fit, val = train_test_split(zh_train, test_size=0.2, stratify=zh_train["label"], random_state=7)
    en_train, _ = load_en_clothing(data)
    en_fit, en_val = train_test_split(en_train, test_size=0.2, stratify=en_train["Rating"], random_state=7)
    en_val = en_val[en_val["Rating"] != 3]
    sets = [("zh", zh_sentiment_model(), fit["review"].tolist(), fit["label"].tolist(), val["review"].tolist(),
             val["label"].astype(int).to_numpy()),
            ("en", SentimentModel(en_classifier(), language="en"), en_fit["text"].tolist(),
             labels_from_ratings(en_fit["Rating"].tolist()), en_val["text"].tolist(),
             (en_val["Rating"] >= 4).astype(int).to_numpy())]
    for lang, model, x, y, vx, vy in sets:
        model.fit(x, y)
        has = np.array([contrast_view(t, lang) is not None for t in vx])
        for w in CONTRAST_WEIGHTS:
            model.contrast_weight = w
            pred = model.binary(vx)
            rows.append({"language": lang, "contrast weight": w, "validation acc": float(np.mean(pred == vy)),
                         "acc on reviews with a contrast": float(np.mean(pred[has] == vy[has])),
                         "reviews": len(vy), "with a contrast": int(has.sum())})
            print(rows[-1], flush=True)
    return rows


DEV = TEST_DATA / "dev"
# Polarity-shift weights (negated, after, before, whole) compared by validate_shift; the first is "off".
# (the model of each kind is fitted once; the weights only act at prediction)
SHIFT_GRID = {"en": [(0, 0, 0, 1), (2, 1, 0, 0.5), (2, 1, 0, 1), (4, 1, 0, 0.5), (4, 2, 0, 0.5), (4, 1, 1, 0.5), (8, 2, 0, 0.5)],
              "zh": [(0, 0, 0, 1), (1, 1, 0, 1), (2, 1, 0, 0.5), (2, 2, 0, 0.5), (2, 2, 0, 1), (4, 2, 0, 0.5), (4, 4, 0, 0.5)]}
# Clause-model kinds compared: (dual training, + Hu & Liu tuning-half sentences, small clause recipe).
SHIFT_CLAUSE_KINDS = {"en": [(False, False, False), (False, True, False), (True, False, False)],
                      "zh": [(True, False, False), (True, False, True)]}
# Chosen by validate_shift (--validate-shift): the best accuracy on the hand-written development sentences
# (tests/data/text/dev) among the weights and kinds that keep the real validation accuracy within one standard
# error of no shift (docs/text-models.md). zh: the small clause recipe keeps the file under 5 MB.
# en: validate_shift chose (2, 1, 0, 0.5) with the plain + Hu & Liu clause model (development 0.56 -> 0.70), but
# on the independent negation / contrast test set it lost (0.626 -> 0.573, measured once): en ships as before,
# with the contrast weight of CONTRAST_WEIGHT and no polarity shifters (None).
SHIFT_WEIGHTS = {"en": None, "zh": (2, 2, 0, 1)}
SHIFT_KIND = {"en": (False, True, False), "zh": (True, False, True)}


def zh_clause_classifier() -> NgramClassifier:
    """The zh clause model's recipe: clauses are a few characters, so char 1-3 grams (min_df 5) do."""
    return NgramClassifier(ngram_range=(1, 3), min_df=5, C=10.0, nb_C=3.0, nb_weight=0.67, seed=SEED)


# Aspect polarity (SentimentModel.clause_weight): the clause model's weight next to the text reading; 0 ships.
CLAUSE_WEIGHT = {"en": 0.0, "zh": 0.0}


def hu_liu_tuning_sentences(data: Path) -> tuple[list[str], list[str]]:
    """The signed sentences of the Hu & Liu tuning half (never the test half): text, positive/negative by the sum of
    their feature annotations (``scripts/eval_aspects.py`` has the split)."""
    import re

    import eval_aspects as ea

    s = ea.load_en(data)
    tune, _ = ea.en_products(s)
    x, y = [], []
    for sentence, annotation in zip(s.loc[s["product"].isin(tune), "sentence"], s.loc[s["product"].isin(tune), "annotation"]):
        sign = sum(int(v) for v in re.findall(r"\[([+-]\d)\]", annotation))
        if sign:
            x.append(sentence)
            y.append("positive" if sign > 0 else "negative")
    return x, y


# en (issue #20, part 3): negation scope marked (SentimentModel.negation_scope), and next to the clothing reviews
# two kinds of short labelled text: the Hu & Liu tuning-half sentences and the VADER lexicon's words. Chosen in
# scratch runs on the clothing validation split, the development sentences (tests/data/text/dev) and a by-product
# split of the Hu & Liu tuning half (docs/text-models.md, Negation scope); never on the test sets.
EN_NEGATION_SCOPE = True
LEXICON_MIN_VALENCE = 1.0  # VADER words with |mean valence| >= this


def vader_lexicon_texts(min_valence: float = LEXICON_MIN_VALENCE) -> tuple[list[str], list[str]]:
    """Each word of the VADER lexicon (MIT licence, vaderSentiment package; C.J. Hutto 2014) with
    |valence| >= ``min_valence`` as a one-word text with its sign, and "not <word>" with the opposite
    sign, so the model knows opinion words that the clothing reviews rarely use ("junk", "letdown")."""
    try:
        import vaderSentiment
    except ImportError:
        sys.exit("the en sentiment model needs the VADER lexicon: pip install 'shoplens[bench]' (vaderSentiment)")
    x: list[str] = []
    y: list[str] = []
    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        word, valence = line.split("\t")[:2]
        v = float(valence)
        if abs(v) >= min_valence and word.isalpha() and word.islower():
            x += [word, f"not {word}"]
            y += ["positive", "negative"] if v > 0 else ["negative", "positive"]
    return x, y


def en_sentiment_model() -> SentimentModel:
    """The shipped en recipe: word 1-3 grams, contrast view, negation scope marked."""
    return SentimentModel(en_classifier(), language="en", contrast_weight=CONTRAST_WEIGHT["en"],
                          negation_scope=EN_NEGATION_SCOPE)


def en_sentiment_training(data: Path) -> tuple[list[str], list[str], str]:
    """(texts, labels, description) of the shipped en model: clothing train split (1-2 / 3 / 4-5 stars), the Hu &
    Liu tuning-half sentences and the VADER lexicon texts."""
    en_train, _ = load_en_clothing(data)
    x, y = en_train["text"].tolist(), labels_from_ratings(en_train["Rating"].tolist())
    if not EN_NEGATION_SCOPE:
        return x, y, "en_womens_clothing_reviews train split (80 %, seed 42), 1-2/3/4-5 stars"
    hx, hy = hu_liu_tuning_sentences(data)
    lx, ly = vader_lexicon_texts()
    return (x + hx + lx, y + hy + ly,
            "en_womens_clothing_reviews train split (80 %, seed 42), 1-2/3/4-5 stars; Hu & Liu tuning-half sentences "
            f"({len(hx)}); VADER lexicon words and their negations ({len(lx)})")


def shift_sentiment_model(lang: str, kind: tuple[bool, bool, bool], weights: tuple) -> SentimentModel:
    """The sentiment model of ``lang`` with polarity shifters of clause-model ``kind`` (dual, Hu & Liu, small)."""
    dual, _, small = kind
    if lang == "zh":
        return zh_sentiment_model(shift_weights=weights, dual_clauses=dual,
                                  clause_classifier=zh_clause_classifier() if small else None)
    if weights is None:  # the English model as shipped (contrast view, no shifters)
        return SentimentModel(en_classifier(), language="en", contrast_weight=CONTRAST_WEIGHT["en"])
    return SentimentModel(en_classifier(), language="en", shift_weights=weights, dual_clauses=dual)


def validate_shift(data: Path, languages: tuple[str, ...] = ("en", "zh")) -> list[dict]:
    """Accuracy per polarity-shift weight (``SentimentModel.shift_weights``) on two kinds of held-out text.

    The model (and its clause model) is fitted on the training split without a validation part
    (zh: the split of :func:`validate_zh`; en: a stratified 20 % of the clothing training split,
    seed 7, 2-class). Scored on that real validation part and on the hand-written development
    sentences ``tests/data/text/dev/{en,zh}_negation_dev.tsv`` (written for this; never the
    realistic test sets). Rule: the best development accuracy among the weights and clause-model
    kinds whose validation accuracy is within one standard error of no shift's (ties: the higher validation accuracy).
    """
    rows = []
    for lang in languages:
        if lang == "zh":
            train, _ = load_zh_shopping(data)
            fit, val = train_test_split(train, test_size=0.2, stratify=train["label"], random_state=7)
            x, y = fit["review"].tolist(), fit["label"].tolist()
            vx, vy = val["review"].tolist(), val["label"].astype(int).to_numpy()
        else:
            train, _ = load_en_clothing(data)
            fit, val = train_test_split(train, test_size=0.2, stratify=train["Rating"], random_state=7)
            x, y = fit["text"].tolist(), labels_from_ratings(fit["Rating"].tolist())
            val = val[val["Rating"] != 3]
            vx, vy = val["text"].tolist(), (val["Rating"] >= 4).astype(int).to_numpy()
        dev = read_tsv(DEV / f"{lang}_negation_dev.tsv")
        dy = (dev["label"] == "positive").astype(int).to_numpy()
        mine = []
        for kind in SHIFT_CLAUSE_KINDS[lang]:
            extra = hu_liu_tuning_sentences(data) if kind[1] else ([], [])
            model = shift_sentiment_model(lang, kind, SHIFT_GRID[lang][1]).fit(x, y, *extra)
            for w in SHIFT_GRID[lang]:
                model.shift_weights = w
                mine.append({"language": lang, "clause model": ("dual" if kind[0] else "plain") + (" + Hu & Liu" if kind[1] else "")
                             + (" (small)" if kind[2] else ""),
                             "weights (negated, after, before, whole)": str(w),
                             "validation acc": float(np.mean(model.binary(vx) == vy)),
                             "development acc": float(np.mean(model.binary(dev["text"].tolist()) == dy)),
                             "validation rows": len(vy), "development rows": len(dy)})
                print(mine[-1], flush=True)
        base = mine[0]["validation acc"]
        floor = base - float(np.sqrt(base * (1 - base) / len(vy)))
        best = max((r for r in mine if r["validation acc"] >= floor), key=lambda r: (r["development acc"], r["validation acc"]))
        best["chosen"] = True
        print(f"{lang}: chosen {best}", flush=True)
        rows += mine
    return rows


def train_all(data: Path, only: list[str] | None = None) -> dict[str, float]:
    seconds: dict[str, float] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    want = set(only or MODEL_FILES)
    zh_train, _ = load_zh_shopping(data)
    if "zh_sentiment" in want:
        t, c = time.perf_counter(), time.process_time()
        zh = shift_sentiment_model("zh", SHIFT_KIND["zh"], SHIFT_WEIGHTS["zh"]).fit(
            zh_train["review"].tolist(), zh_train["label"].tolist())
        seconds["zh_sentiment"] = time.perf_counter() - t
        seconds["zh_sentiment CPU"] = time.process_time() - c
        zh.save(OUT / MODEL_FILES["zh_sentiment"], data="zh_online_shopping_10cats train split (80 %, seed 42)")
        print(f"zh sentiment trained in {seconds['zh_sentiment']:.1f}s on {len(zh_train):,} reviews", flush=True)

    if "category" in want:
        t = time.perf_counter()
        cat = TextClassifier(char_ngrams=(1, 2), word_features=True, n_features=2**16, C=4.0, nb=False, seed=SEED)
        cat.fit(zh_train["review"].tolist(), zh_train["cat"].tolist())
        seconds["category"] = time.perf_counter() - t
        cat.save(OUT / MODEL_FILES["category"], data="zh_online_shopping_10cats train split (80 %, seed 42)")
        print(f"category trained in {seconds['category']:.1f}s", flush=True)

    if "en_sentiment" in want:
        en_x, en_y, en_data = en_sentiment_training(data)
        t = time.perf_counter()
        en = en_sentiment_model().fit(en_x, en_y)
        seconds["en_sentiment"] = time.perf_counter() - t
        en.save(OUT / MODEL_FILES["en_sentiment"], data=en_data)
        print(f"en sentiment trained in {seconds['en_sentiment']:.1f}s", flush=True)

    if "en_aspect_polarity" in want:  # scripts/train_en_aspects.py (trains two out-of-fold en sentiment models first)
        import train_en_aspects

        t = time.perf_counter()
        train_en_aspects.train(data)
        seconds["en_aspect_polarity"] = time.perf_counter() - t

    if "intent" in want:
        calibration = calibrate_intent_thresholds(data)
        frame = intent_training_frame(data)
        t = time.perf_counter()
        intent = IntentModel(default_intent_classifier(SEED), other_threshold=calibration["en"]["threshold"],
                             other_threshold_zh=calibration["zh"]["threshold"]).fit(
            frame["text"].tolist(), frame["intent"].tolist(), sample_weight=frame["weight"].to_numpy())
        seconds["intent"] = time.perf_counter() - t
        intent.save(OUT / MODEL_FILES["intent"],
                    data="Bitext train+dev (weight 0.3), hand-written realistic en + zh messages and 2 noisy copies each "
                         "(weight 5), Banking77 out-of-scope categories (30 each)", calibration=calibration)
        print(f"intent trained in {seconds['intent']:.1f}s on {len(frame):,} messages", flush=True)
    return seconds


# -- evaluation -------------------------------------------------------------------------
def plain_tfidf_lr(train_x: list[str], train_y: list, test_x: list[str]) -> np.ndarray:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    lr = LogisticRegression(C=10, max_iter=3000).fit(vec.fit_transform(train_x), train_y)
    return lr.predict(vec.transform(test_x))


def load(name: str):
    from shoplens.base import read_model_file

    return read_model_file(OUT / MODEL_FILES[name])["model"]


def eval_zh(data: Path, baselines: bool) -> list[dict]:
    train, test = load_zh_shopping(data)
    waimai = load_waimai(data)
    zh = load("zh_sentiment")
    texts = test["review"].tolist()
    cpu = []
    for _ in range(3):  # sentiment alone, batch, featurisation included; CPU seconds (robust to a loaded machine)
        t = time.process_time()
        zh.positive_proba(texts)
        cpu.append(time.process_time() - t)
    rows = [{"model": "shoplens char 1-5 n-grams, LR + NB-LR heads averaged",
             "10cats test acc": accuracy_score(test["label"], zh.binary(texts)),
             "waimai acc (cross-domain)": accuracy_score(waimai["label"], zh.binary(waimai["review"].tolist())),
             "reviews per CPU-second": len(texts) / float(np.median(cpu))}]
    if baselines:
        p = plain_tfidf_lr(train["review"].tolist(), train["label"].tolist(), test["review"].tolist() + waimai["review"].tolist())
        rows.append({"model": "plain char TF-IDF + LR", "10cats test acc": accuracy_score(test["label"], p[:len(test)]),
                     "waimai acc (cross-domain)": accuracy_score(waimai["label"], p[len(test):])})
        try:
            from snownlp import SnowNLP

            snow = lambda xs: np.array([int(SnowNLP(x).sentiments >= 0.5) for x in xs])  # noqa: E731
            rows.append({"model": "SnowNLP (bundled model; its corpus overlaps these sets)",
                         "10cats test acc": accuracy_score(test["label"], snow(test["review"])),
                         "waimai acc (cross-domain)": accuracy_score(waimai["label"], snow(waimai["review"]))})
        except ImportError:
            print("snownlp not installed: pip install shoplens[bench]", file=sys.stderr)
    info = {"10cats train": len(train), "10cats test": len(test), "waimai": len(waimai)}
    return [dict(r, **info) for r in rows]


def eval_en(data: Path, baselines: bool) -> list[dict]:
    train, test = load_en_clothing(data)
    en = load("en_sentiment")
    gold3 = np.array(labels_from_ratings(test["Rating"].tolist()))
    two = gold3 != "neutral"
    texts = test["text"].tolist()
    pred3, _ = en.predict(texts)
    proba = en.model_.predict_proba(texts)
    pred2 = np.where(en.binary(texts) == 1, "positive", "negative")
    cpu = []
    for _ in range(3):
        t = time.process_time()
        en.positive_proba(texts)
        cpu.append(time.process_time() - t)
    rows = [{"model": "shoplens word 1-3 n-grams, LR, 3-class",
             "3-class acc": accuracy_score(gold3, pred3), "3-class macro-F1": f1_score(gold3, pred3, average="macro"),
             "2-class acc": accuracy_score(gold3[two], pred2[two]),
             "2-class macro-F1": f1_score(gold3[two], pred2[two], average="macro"),
             "3-class log loss": log_loss(gold3, proba, labels=list(en.classes_)),
             "mean top probability": float(proba.max(axis=1).mean()),
             "reviews per CPU-second": len(texts) / float(np.median(cpu))}]
    if baselines:
        p3 = plain_tfidf_lr(train["text"].tolist(), labels_from_ratings(train["Rating"].tolist()), texts)
        rows.append({"model": "plain char TF-IDF + LR, 3-class", "3-class acc": accuracy_score(gold3, p3),
                     "3-class macro-F1": f1_score(gold3, p3, average="macro"), "2-class acc": None, "2-class macro-F1": None})
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            vader = SentimentIntensityAnalyzer()
            c = np.array([vader.polarity_scores(t)["compound"] for t in texts])
            v3 = np.where(c >= 0.05, "positive", np.where(c <= -0.05, "negative", "neutral"))
            v2 = np.where(c >= 0, "positive", "negative")
            rows.append({"model": "VADER (compound ±0.05)", "3-class acc": accuracy_score(gold3, v3),
                         "3-class macro-F1": f1_score(gold3, v3, average="macro"),
                         "2-class acc": accuracy_score(gold3[two], v2[two]),
                         "2-class macro-F1": f1_score(gold3[two], v2[two], average="macro")})
        except ImportError:
            print("vaderSentiment not installed: pip install shoplens[bench]", file=sys.stderr)
    info = {"train": len(train), "test": len(test), "test 2-class": int(two.sum())}
    return [dict(r, **info) for r in rows]


def eval_intent(data: Path) -> dict:
    it = load_intents(data)
    model = load("intent")
    out = {}
    for name in ["en_test", "zh_test"]:
        pred, _ = model.predict(it[name]["text"].tolist())
        out[f"{name} acc"] = accuracy_score(it[name]["intent"], pred)
        out[f"{name} rows"] = len(it[name])
    pred, score = model.predict(it["banking77"]["text"].tolist())
    counts = pd.Series(pred).value_counts(normalize=True)
    out["banking77 rows"] = len(pred)
    out["banking77 share other"] = float(counts.get("other", 0.0))
    out["banking77 top intents"] = {k: round(float(v), 3) for k, v in counts.head(6).items()}
    return out


def eval_category(data: Path) -> dict:
    _, test = load_zh_shopping(data)
    cat = load("category")
    return {"category acc": accuracy_score(test["cat"], cat.predict(test["review"].tolist())), "test rows": len(test)}


def eval_aspects(data: Path) -> dict[str, list[dict]]:
    """Aspect figures of the shipped extractor and models (``scripts/eval_aspects.py``, whose tables are in the docs):
    zh hand-labelled reviews, en Hu & Liu test half with product-level terms dropped."""
    import eval_aspects as ea

    from shoplens.text.analyze import sentiment_scorers

    scorers, extractor = sentiment_scorers({n: load(n) for n in ("zh_sentiment", "en_sentiment")}), default_extractor()
    s = ea.load_en(data)
    _, test = ea.en_products(s)
    out = {"aspects_zh": ea.eval_zh(extractor, scorers),
           "aspects_en_test_half": ea.eval_en(s[s["product"].isin(test)], extractor, scorers, drop_product_level=True)}
    print("\n## aspects zh (hand-labelled)\n" + markdown(out["aspects_zh"]), flush=True)
    print("\n## aspects en (Hu & Liu test half, product-level terms dropped)\n" + markdown(out["aspects_en_test_half"]),
          flush=True)
    return out


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data", help="folder of the public data sets")
    ap.add_argument("--skip-train", action="store_true", help="evaluate the models already in src/shoplens/text/models")
    ap.add_argument("--only", choices=["zh_sentiment", "category", "en_sentiment", "intent", "en_aspect_polarity"], action="append",
                    help="train only these models (repeatable; default all)")
    ap.add_argument("--skip-eval", action="store_true", help="train only")
    ap.add_argument("--validate", action="store_true",
                    help="compare zh sentiment hyper-parameters on a validation split of the training split, then exit")
    ap.add_argument("--validate-en", action="store_true",
                    help="compare en sentiment candidates on a validation split of the training split, then exit")
    ap.add_argument("--validate-contrast", action="store_true",
                    help="choose the sentiment models' contrast weight on validation splits of the training splits, then exit")
    ap.add_argument("--validate-shift", action="store_true",
                    help="choose the sentiment models' polarity-shift weights (negation, contrast) on validation splits "
                         "and the hand-written development sentences, then exit")
    ap.add_argument("--no-baselines", action="store_true", help="skip SnowNLP / VADER / plain TF-IDF baselines")
    ap.add_argument("--metrics", type=Path, default=OUT / "metrics.json", help="where to write all figures as JSON")
    args = ap.parse_args()
    if not args.data_dir.is_dir():
        sys.exit(f"{args.data_dir}: no such folder (pass --data-dir pointing at the shared data sets)")
    metrics: dict = {}
    if args.validate_en:
        metrics["en_sentiment_validation"] = validate_en(args.data_dir)
        print("\n## en sentiment, validation split\n" + markdown(metrics["en_sentiment_validation"]), flush=True)
        args.skip_train = args.skip_eval = True
    if args.validate_contrast:
        metrics["contrast_weight_validation"] = validate_contrast(args.data_dir)
        print("\n## contrast weight, validation splits\n" + markdown(metrics["contrast_weight_validation"]), flush=True)
        args.skip_train = args.skip_eval = True
    if args.validate_shift:
        metrics["shift_weight_validation"] = validate_shift(args.data_dir)
        print("\n## polarity-shift weights, validation splits + development sentences\n"
              + markdown(metrics["shift_weight_validation"]), flush=True)
        args.skip_train = args.skip_eval = True
    if args.validate:
        metrics["zh_sentiment_validation"] = validate_zh(args.data_dir)
        print("\n## zh sentiment, validation split\n" + markdown(metrics["zh_sentiment_validation"]), flush=True)
        metrics["zh_sentiment_nb_weight"] = validate_zh_weights(args.data_dir)
        print("\n## zh sentiment, NB-head weight\n" + markdown(metrics["zh_sentiment_nb_weight"]), flush=True)
        args.skip_train = args.skip_eval = True
    if not args.skip_train:
        metrics["train_seconds"] = train_all(args.data_dir, args.only)
    if not args.skip_eval:
        metrics["zh_sentiment"] = eval_zh(args.data_dir, not args.no_baselines)
        print("\n## zh sentiment\n" + markdown(metrics["zh_sentiment"]), flush=True)
        metrics["en_sentiment"] = eval_en(args.data_dir, not args.no_baselines)
        print("\n## en sentiment\n" + markdown(metrics["en_sentiment"]), flush=True)
        metrics["intent"] = eval_intent(args.data_dir)
        print("\n## intent\n" + json.dumps(metrics["intent"], indent=1, ensure_ascii=False), flush=True)
        metrics["category"] = eval_category(args.data_dir)
        print("\n## category\n" + json.dumps(metrics["category"]), flush=True)
        metrics.update(eval_aspects(args.data_dir))
    if metrics:
        old = json.loads(args.metrics.read_text()) if args.metrics.is_file() else {}
        if "aspects_zh" in metrics:
            old.pop("aspects_en", None)  # all sentences, old gold mapping: replaced by aspects_en_test_half
        if "train_seconds" in metrics:  # --only trains some models: keep the others' times
            metrics["train_seconds"] = {**old.get("train_seconds", {}), **metrics["train_seconds"]}
        old.update(metrics)
        args.metrics.write_text(json.dumps(old, indent=1, ensure_ascii=False, default=float))


if __name__ == "__main__":
    main()

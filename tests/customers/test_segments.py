"""Behavioural segment names and descriptions: generated from the numbers the table shows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from shoplens.customers.features import feature_labels
from shoplens.customers.segments import (NAME_GUARDS, STRONG_LESS, STRONG_MORE, TRAIT_WORDS, SegmentModel,
                                         describe_segments)

QUOTE = re.compile(r"^(?P<lead>.*) \((?P<value>[^()]*) vs (?P<average>[^()]*)\)$")


def latin_share(text: str) -> float:
    """The share of Latin letters among the letters of ``text`` (Latin and CJK), 0 without letters."""
    latin = len(re.findall(r"[A-Za-z]", text))
    letters = latin + len(re.findall(r"[\u4e00-\u9fff]", text))
    return latin / letters if letters else 0.0


def numbers_in(text: str) -> list[str]:
    """The numbers a text shows ('1,234', '2.3', '12%'), sorted: the same in both languages."""
    return sorted(re.findall(r"\d[\d,]*(?:\.\d+)?%?", text))


def _number(text: str) -> tuple[float, float]:
    """A number as printed ('4,729', '1.6', '32%') and half its last printed unit."""
    if text.endswith("%"):
        return float(text[:-1]) / 100, 0.005
    digits = text.replace(",", "")
    return float(digits), 0.05 if "." in digits else 0.5


def _word_meaning(word: str) -> tuple[str, str]:
    """The feature a name word stands for, and whether it says more, less or the guarded low."""
    for feature, (more, less) in TRAIT_WORDS.items():
        if word in (more, less):
            return feature, "more" if word == more else "less"
    return next((feature, "guard") for feature, (w, _) in NAME_GUARDS.items() if w == word)


def check_segment_texts(profiles: pd.DataFrame, features: pd.DataFrame) -> None:
    """Every "(X vs Y)" of a description is the segment's ``avg_`` column and the average customer;
    each ratio phrase agrees with them; every name word stands on a strong difference stated in the
    description; names are unique and carry no ids or numbers."""
    labels = {label: feature for feature, label in feature_labels(features).items()}
    averages: dict[str, tuple[float, float]] = {}
    assert profiles["segment_name"].is_unique
    for row in profiles.to_dict("records"):
        assert "#" not in row["segment_name"] and not re.search(r"\d", row["segment_name"])
        assert row["description"].startswith(f"{row['customers']:,} customers ({row['share_of_customers']:.0%}) "
                                              f"bringing {row['share_of_revenue']:.0%} of revenue: ")
        # the Chinese text: the same numbers, no English sentence (the shop's category names aside)
        zh = row["description_zh"]
        for name in features["top_category"].dropna().unique() if "top_category" in features else []:
            zh = zh.replace(str(name), "")
        assert latin_share(zh) < 0.05, row["description_zh"]
        assert numbers_in(row["description_zh"]) == numbers_in(row["description"]), (row["description"], row["description_zh"])
        assert row["description_zh"].endswith(row["traits_zh"] + "。")
        stated: dict[str, str] = {}
        for part in row["traits"].split("; "):
            m = QUOTE.match(part)
            if not m:
                continue
            close = m["lead"].endswith(" close to average")
            lead = m["lead"].removesuffix(" close to average")
            feature = next(labels[label] for label in sorted(labels, key=len, reverse=True) if lead.endswith(label))
            value, tolerance = _number(m["value"])
            average = _number(m["average"])
            assert row[f"avg_{feature}"] == pytest.approx(value, abs=tolerance), (row["segment_name"], part)
            assert averages.setdefault(feature, average) == average  # one average customer for every segment
            if "x more" in lead:
                stated[feature] = "more"
                assert float(lead.split("x more")[0]) >= STRONG_MORE and value > average[0]
            elif close:
                stated[feature] = "close"
            else:
                pct = float(lead.split("%")[0]) / 100
                more = " more " in lead or " higher " in lead
                stated[feature] = "more" if more else ("strong-less" if 1 - pct <= STRONG_LESS + 0.005 else "less")
                assert value == average[0] or (value > average[0]) == more, part
        base = row["segment_name"].split(" customers")[0]
        for word in [] if base == "Typical" else [w.strip().lower() for w in base.split(",")]:
            feature, side = _word_meaning(word)
            assert stated.get(feature) == ("more" if side == "more" else "strong-less"), (row["segment_name"], word)
            if side == "guard":
                assert row[f"avg_{feature}"] <= NAME_GUARDS[feature][1]
    for feature, (average, tolerance) in averages.items():  # the average customer is the customers' average
        if features[feature].notna().all():
            weighted = (profiles[f"avg_{feature}"] * profiles["customers"]).sum() / profiles["customers"].sum()
            assert weighted == pytest.approx(average, abs=tolerance + 1e-9), feature


def _shop(seed: int = 0) -> pd.DataFrame:
    """Three segments: big spenders (one wholesaler among them) and two alike low spenders with
    2.7 orders on average, told apart only by how long they have been customers."""
    rng = np.random.default_rng(seed)
    parts = []
    for seg, n, orders, spend, recency, tenure in [(0, 100, 10, 5000, 20, 200), (1, 100, 2.7, 500, 100, 160),
                                                   (2, 100, 2.7, 500, 100, 240)]:
        parts.append(pd.DataFrame({
            "segment_id": seg, "orders": rng.choice([np.floor(orders), np.ceil(orders)], n,
                                                    p=[1 - orders % 1, orders % 1]) if orders % 1 else orders,
            "net_revenue": rng.normal(spend, spend / 10, n), "recency_days": rng.normal(recency, 5, n),
            "tenure_days": rng.normal(tenure, 5, n)}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[0, "net_revenue"] = 1_000_000.0  # a wholesaler must not make the average
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    return frame


COLUMNS = ["orders", "net_revenue", "recency_days", "tenure_days"]


def test_names_and_descriptions_quote_the_table() -> None:
    features = _shop()
    profiles = describe_segments(features, COLUMNS)
    check_segment_texts(profiles, features)
    low = profiles[profiles["avg_orders"] < 3]
    assert len(low) == 2 and (low["avg_orders"] > 2.5).all()
    # 2.7 orders on average is not "one-off": fewer than average, said as such
    assert not low["segment_name"].str.contains("one-off").any()
    assert low["segment_name"].str.contains("infrequent").all()
    # the segment holding the wholesaler quotes the same (capped) average in its text and its table
    big = profiles.loc[profiles["avg_orders"].idxmax()]
    assert f"({big['avg_net_revenue']:,.0f} vs" in big["description"]


def test_namesakes_are_told_apart_in_words() -> None:
    profiles = describe_segments(_shop(), COLUMNS)
    low = profiles[profiles["avg_orders"] < 3].sort_values("avg_tenure_days")
    assert low["segment_name"].tolist() == ["Low-spend, infrequent customers with fewer days since the first order",
                                            "Low-spend, infrequent customers with more days since the first order"]
    # the feature that tells them apart is quoted in both descriptions
    assert low["description"].str.contains("days since the first order").all()


def test_one_off_needs_single_orders() -> None:
    features = _shop()
    features.loc[features["segment_id"] == 1, "orders"] = 1.0
    profiles = describe_segments(features, COLUMNS)
    check_segment_texts(profiles, features)
    one_off = profiles.loc[profiles["avg_orders"].idxmin()]
    assert one_off["avg_orders"] == 1.0 and "one-off" in one_off["segment_name"].lower()


def test_typical_segment_gets_no_trait_words() -> None:
    rng = np.random.default_rng(1)
    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(200)], "segment_id": [0, 1] * 100,
                             "orders": rng.normal(4, 0.5, 200), "net_revenue": rng.normal(1000, 50, 200),
                             "recency_days": rng.normal(50, 5, 200)})
    profiles = describe_segments(features, ["orders", "net_revenue", "recency_days"])
    check_segment_texts(profiles, features)
    assert profiles["segment_name"].str.startswith("Typical customers").all()  # nothing strong to name
    assert profiles["segment_name"].is_unique  # and still told apart, in words


def test_identical_segments_still_get_distinct_names() -> None:
    one = pd.DataFrame({"orders": [2.0, 3.0] * 10, "net_revenue": [100.0, 200.0] * 10, "recency_days": [10.0, 20.0] * 10})
    features = pd.concat([one.assign(segment_id=0), one.head(10).assign(segment_id=1)], ignore_index=True)
    features.insert(0, "customer_id", [f"c{i}" for i in range(len(features))])
    names = describe_segments(features, ["orders", "net_revenue", "recency_days"])["segment_name"].tolist()
    assert names == ["Typical customers (largest group)", "Typical customers (second-largest group)"]


def test_tiny_segments_are_not_eligible() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(m, 0.1, (100, 2)) for m in (0, 3, 6)] + [rng.normal(9, 0.1, (3, 2))])
    assert SegmentModel(k_range=(2, 5), min_share=0.0, seed=0).fit(X).n_segments_ == 4
    model = SegmentModel(k_range=(2, 5), seed=0).fit(X)  # 3 of 303 customers are not a segment
    assert model.n_segments_ == 3
    assert model.selection_.set_index("k").loc[4, "smallest_share"] < 0.02


def test_every_name_word_has_its_chinese_name() -> None:
    """A segment's name in Chinese uses only Chinese words: every word names may use has one."""
    from shoplens.customers.segments import NAME_WORDS_ZH, SIZE_WORDS, SIZE_WORDS_ZH

    words = {w for pair in TRAIT_WORDS.values() for w in pair if w} | {w for w, _ in NAME_GUARDS.values()}
    assert words <= set(NAME_WORDS_ZH), sorted(words - set(NAME_WORDS_ZH))
    assert len(SIZE_WORDS_ZH) == len(SIZE_WORDS)


def test_generated_names_read_in_chinese() -> None:
    """The names describe_segments makes (namesakes told apart, sizes) come out in Chinese words only."""
    from shoplens.customers.segments import segment_name_zh

    names = describe_segments(_shop(), COLUMNS)["segment_name"].tolist()
    one = pd.DataFrame({"orders": [2.0, 3.0] * 10, "net_revenue": [100.0, 200.0] * 10, "recency_days": [10.0, 20.0] * 10})
    twins = pd.concat([one.assign(segment_id=0), one.head(10).assign(segment_id=1)], ignore_index=True)
    twins.insert(0, "customer_id", [f"c{i}" for i in range(len(twins))])
    names += describe_segments(twins, ["orders", "net_revenue", "recency_days"])["segment_name"].tolist()
    zh = [segment_name_zh(n) for n in names]
    assert all(not re.search(r"[A-Za-z]", z) for z in zh), list(zip(names, zh))
    assert len(set(zh)) == len(set(names))  # names told apart stay apart
    assert "低消费、低频的客户（首单至今天数更少）" in zh


def test_namesakes_told_apart_by_an_attribute_value_are_named_by_how_often():
    """A text attribute's value is a share of customers, not an amount: 'with income Under 15K more
    often', never 'with a higher income Under 15K' (which reads as the opposite)."""
    import pandas as pd

    from shoplens.customers.segments import _separate_namesakes

    col = "attr_income=Under 15K"
    rows = [{"segment_id": 0, "words": ["recently active"]}, {"segment_id": 1, "words": ["recently active"]}]
    means = {0: pd.Series({col: 1.0}), 1: pd.Series({col: 0.02})}
    got = _separate_namesakes(rows, means, pd.Series({col: 0.2}), {col: "income Under 15K"})
    assert [p for _, _, p in got] == ["with income Under 15K more often", "with income Under 15K less often"]

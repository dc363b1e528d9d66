"""The formatting module: counts, money, shares, dates, plurals and headers in en-GB and zh-CN."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from shoplens import formatting as f


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_counts_are_integers_with_separators(lang):
    assert f.count(2839.0, lang) == "2,839" and f.cell(2839.0, "orders", lang) == "2,839"


def test_money_shares_and_times():
    assert f.money(1178.146, "GBP") == "£1,178.15"
    assert f.money(1178.146, "GBP/EUR") == "1,178.15"  # several currencies: the number, labelled elsewhere
    assert f.percent(0.1234) == "12.3%" and f.signed_percent(0.1) == "+10%" and f.signed_percent(None) == ""
    assert f.when(pd.Timestamp("2011-12-09 10:30:12.345678")) == "2011-12-09 10:30"
    assert f.cell(pd.Timestamp("2011-12-09 10:30:12.345678"), "computed_at") == "2011-12-09 10:30"
    assert f.number(float("inf")) == "∞" and f.count(None) == "" and f.cell(math.nan, "revenue") == ""


def test_plurals_in_both_languages():
    assert [f.counted(n, "product") for n in (0, 1, 2)] == ["0 products", "1 product", "2 products"]
    assert [f.days_ago(n) for n in (1, 2)] == ["1 day ago", "2 days ago"]
    assert f.counted(1, "product", "zh") == "1 个商品" and f.days_ago(1, "zh") == "1 天前"
    assert f.counted(2, "widget") == "2 widgets"


def test_headers_for_people():
    frame = pd.DataFrame({"share_of_revenue": [0.5], "avg_recency_days": [12.25], "product_id": [85123]})
    out = f.for_people(frame, "en", "GBP")
    assert list(out.columns) == ["Share of revenue", "Average recency (days)", "Product id"]
    assert out.iloc[0].tolist() == ["50%", "12.25", "85123"]
    assert all("_" not in c for c in f.for_people(frame, "zh").columns)
    assert f.header("some_new_column") == "Some new column"


def test_at_most_eight_colours():
    labels, values = f.top_with_other([f"i{i}" for i in range(27)], list(range(27)))
    assert len(labels) == f.MAX_COLOURS and labels[-1] == "other" and sum(values) == sum(range(27))
    assert labels[0] == "i26"


def test_dashboard_gets_the_same_headers():
    js = f.dashboard_labels_js()
    assert js.startswith("window.SHOPLENS_HEADERS = ") and '"share_of_revenue": "收入占比"' in js


def test_every_segment_average_has_a_chinese_header() -> None:
    """A segment table shows avg_<feature> for each clustering feature that varies: none may fall back to English."""
    import re

    from shoplens.customers.segments import CLUSTER_FEATURES
    from shoplens.formatting import header

    for feature in CLUSTER_FEATURES:
        zh = header(f"avg_{feature}", "zh")
        assert not re.search(r"[A-Za-z]{3,}", zh.replace("CLV", "")), (feature, zh)

"""The customer and recommendation data-layer transforms give the same tables on DuckDB
and on Spark: RFM (window-function scores), cohorts and patterns, profile features,
interactions, baskets and the CLV sufficient statistics.

The Spark warehouse is the demo shop ingested on Spark without mirroring, so its
DuckDB file holds no canonical rows: every figure below was computed by Spark.
Exact for keys, counts, text, integers and dates; floats within a relative 1e-9.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.customers.clv import rfm_summary, sufficient_statistics
from shoplens.customers.cohorts import compute_cohorts
from shoplens.customers.data import has_categories, last_order_date
from shoplens.customers.features import customer_features
from shoplens.customers.rfm import compute_rfm
from shoplens.recs.interactions import load_interactions
from shoplens.recs.rules import load_baskets
from shoplens.store.warehouse import Warehouse
from tests.spark.test_equivalence import assert_same_frame


@pytest.fixture(scope="module")
def duck(demo_warehouse_path):
    with Warehouse(demo_warehouse_path, read_only=True) as wh:
        yield wh


def test_spark_warehouse_has_no_duckdb_rows(spark_wh):
    assert spark_wh.row_count("orders") == 0  # so the results below cannot come from DuckDB


def test_reference_date_and_categories(duck, spark_wh):
    assert last_order_date(spark_wh) == last_order_date(duck)
    assert has_categories(spark_wh) is has_categories(duck) is True


def test_rfm_is_the_same_and_written_on_spark(duck, spark_wh_copy):
    spark_wh = spark_wh_copy
    expected = compute_rfm(duck, write=False)
    got = compute_rfm(spark_wh)  # writes customer_rfm: Parquet on Spark, and the DuckDB file for serving
    assert len(expected) > 1000 and expected["segment"].nunique() >= 8
    assert_same_frame(expected, got, ["customer_id"])
    assert spark_wh.engine.table_exists("customer_rfm")
    assert_same_frame(expected, spark_wh.engine.table("customer_rfm"), ["customer_id"])
    assert_same_frame(expected, spark_wh.table("customer_rfm"), ["customer_id"])
    # a later Spark transform reads the Parquet result
    n = spark_wh.engine.query("SELECT count(*) AS n FROM customer_rfm WHERE segment = 'Champions'")["n"][0]
    assert n == (expected["segment"] == "Champions").sum() > 0


def test_rfm_at_an_earlier_date(duck, spark_wh):
    assert_same_frame(compute_rfm(duck, as_of="2011-06-01", write=False),
                      compute_rfm(spark_wh, as_of="2011-06-01", write=False), ["customer_id"])


def test_cohorts_are_the_same(duck, spark_wh):
    expected = compute_cohorts(duck, write=False)
    got = compute_cohorts(spark_wh, write=False)
    assert_same_frame(expected.retention, got.retention, ["cohort", "months_since"])
    assert_same_frame(expected.intervals, got.intervals, ["days_between_orders"])
    assert_same_frame(expected.weekday_hour, got.weekday_hour, ["weekday", "hour"])
    assert expected.weekday_hour["day"].nunique() >= 6  # Sunday = 0 on both engines
    assert_same_frame(expected.category_trends, got.category_trends, ["category"])
    assert_same_frame(expected.anomalies, got.anomalies, ["week"])
    assert len(expected.anomalies) > 30


def test_profile_features_are_the_same(duck, spark_wh):
    as_of = last_order_date(duck)
    expected = customer_features(duck, as_of)
    got = customer_features(spark_wh, as_of)
    assert {"reviews", "support_contacts", "top_category", "top_channel", "last_review_sentiment"} <= set(expected.columns)
    assert_same_frame(expected, got, ["customer_id"])


def test_features_join_duckdb_only_results_through_the_driver(demo_warehouse_path, spark_wh_copy, tmp_path):
    """A signal table written by a DuckDB-only step (text_messages) is read by the Spark transform."""
    import shutil

    msgs = pd.DataFrame({"customer_id": ["12347", "12347", "12347", "12348"],
                         "intent": ["invoice", "refund", "refund", "invoice"],
                         "sentiment": ["negative", "neutral", "negative", "positive"],
                         "created_at": pd.to_datetime(["2011-01-01", "2011-02-01", "2011-03-01", "2011-01-05"])})
    copy = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, copy)
    as_of = pd.Timestamp("2011-12-01").date()
    with Warehouse(copy) as duck:
        duck.write_table("text_messages", msgs)
        expected = customer_features(duck, as_of)
    spark_wh_copy.write_table("text_messages", msgs)  # DuckDB file only, as the text step does
    got = customer_features(spark_wh_copy, as_of)
    assert not spark_wh_copy.engine.table_exists("text_messages")
    assert_same_frame(expected, got, ["customer_id"])
    assert got.loc[got["customer_id"] == "12347", "top_support_intent"].tolist() in (["refund"], [])


def test_interactions_are_the_same(duck, spark_wh):
    for until in (None, "2011-11-01"):
        expected = load_interactions(duck, until=until)
        got = load_interactions(spark_wh, until=until)
        assert len(expected) > 50_000
        assert expected["customer_id"].tolist() == got["customer_id"].tolist()  # the same rows in the same order
        assert_same_frame(expected, got, ["occurred_at", "customer_id", "product_id", "kind", "basket_id"])


def test_baskets_are_the_same(duck, spark_wh):
    expected = load_baskets(duck, since="2011-01-01")
    got = load_baskets(spark_wh, since="2011-01-01")
    assert_same_frame(expected, got, ["basket_id", "product_id"])


def test_clv_sufficient_statistics_are_the_same(duck, spark_wh):
    cal = last_order_date(duck) - pd.Timedelta(days=121)
    for unit in ("week", "day"):
        expected = sufficient_statistics(duck, cal, unit)
        got = sufficient_statistics(spark_wh, cal, unit)
        assert_same_frame(expected, got, ["frequency", "recency", "T"])
        assert expected["customers"].sum() == len(rfm_summary(duck, cal, None, unit))


def test_features_sql_with_every_signal_has_unique_cte_names(monkeypatch):
    """Spark SQL (through sqlglot) hoists nested CTEs into one WITH: names must not repeat."""
    import sqlglot
    from sqlglot import exp

    from shoplens.customers import features
    from shoplens.store.engine import to_spark_sql

    monkeypatch.setattr(features, "has_categories", lambda wh: True)
    from shoplens.store.shop import ShopSettings

    monkeypatch.setattr(features, "read_shop", lambda wh: ShopSettings(timezone="Europe/London"))  # local time too
    signals = [features.Signal(s.name, lambda wh: True, s.sql, s.labels, s.inputs) for s in features.SIGNALS]
    monkeypatch.setattr(features, "SIGNALS", signals)
    sql = to_spark_sql(features.features_transform(object()).render(as_of=pd.Timestamp("2011-12-01").to_pydatetime()))
    names = [c.alias_or_name for c in sqlglot.parse_one(sql, read="spark").find_all(exp.CTE)]
    assert len(names) == len(set(names)) > 10

"""RFM, segments, churn, cohorts, profile and rules on the demo shop."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from shoplens.customers.churn import ChurnModel, _canonical, _canonical_order, _sample, churn_labels, fit_churn, reason_phrase
from shoplens.customers.cohorts import compute_cohorts
from shoplens.customers.features import FeatureCache, customer_features
from shoplens.customers.profile import build_profile
from shoplens.customers.rfm import SEGMENTS, compute_rfm
from shoplens.customers.rules import RuleSet, apply_rules, generate_rules
from shoplens.customers.segments import SegmentModel, build_segments
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.insights.overview import kpis, top_categories
from shoplens.metrics import purchases_sql
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse

from tests.customers.test_segments import check_segment_texts, latin_share, numbers_in


def test_rfm_scores_segments_and_labels(analysed_wh: Warehouse) -> None:
    rfm = compute_rfm(analysed_wh)
    assert rfm["customer_id"].is_unique
    assert set(rfm["segment"]) <= set(SEGMENTS)
    assert rfm[["r_score", "f_score", "m_score"]].isin([1, 2, 3, 4, 5]).all().all()
    assert (rfm["segment_zh"] == rfm["segment"].map(lambda s: SEGMENTS[s]["zh"])).all()
    champions = rfm[rfm["segment"] == "Champions"]
    lost = rfm[rfm["segment"] == "Lost"]
    assert champions["monetary"].mean() > 5 * lost["monetary"].mean()
    assert champions["recency_days"].mean() < lost["recency_days"].mean()
    # monetary is net of returns: equals purchases minus returned amounts
    row = rfm.loc[rfm["returned_value"].idxmax()]
    assert row["monetary"] == pytest.approx(row["gross_value"] - row["returned_value"])
    assert analysed_wh.row_count("customer_rfm") == len(rfm)


def test_rfm_as_of_excludes_later_orders(analysed_wh: Warehouse) -> None:
    early = compute_rfm(analysed_wh, as_of="2011-03-01", write=False)
    assert early["last_order_at"].max() < pd.Timestamp("2011-03-01")
    assert len(early) < len(compute_rfm(analysed_wh, write=False))
    with pytest.raises(UserInputError, match="YYYY-MM-DD"):
        compute_rfm(analysed_wh, as_of="March 2011")


def test_features_hand_checked(analysed_wh: Warehouse) -> None:
    feats = customer_features(analysed_wh, date(2011, 12, 10))
    cid = analysed_wh.query("SELECT customer_id FROM orders WHERE status = 'completed' AND customer_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").iloc[0, 0]
    # an order's value is the sum of its lines (the stored lines: Online Retail's repeated rows are
    # dropped at ingest, while the invoice total was summed over them)
    expected = analysed_wh.query(
        "SELECT count(DISTINCT order_id) AS n, sum(i.quantity * i.unit_price) AS gross FROM orders o "
        "JOIN order_items i USING (order_id) WHERE status = 'completed' AND customer_id = ?", [cid])
    row = feats.set_index("customer_id").loc[cid]
    assert row["orders"] == expected["n"].iloc[0]
    assert row["gross_revenue"] == pytest.approx(expected["gross"].iloc[0])
    assert 0 <= row["top_category_share"] <= 1
    assert {"reviews", "negative_review_share", "support_contacts"} <= set(feats.columns)


def test_segments_are_described_with_numbers(analysed_wh: Warehouse) -> None:
    res = build_segments(analysed_wh)
    k = res.model.n_segments_
    assert 3 <= k <= 8 and len(res.profiles) == k
    assert res.profiles["share_of_customers"].sum() == pytest.approx(1.0)
    assert res.profiles["share_of_revenue"].sum() == pytest.approx(1.0, abs=0.01)
    for desc in res.profiles["description"]:
        assert "customers" in desc and "% of revenue" in desc and any(ch.isdigit() for ch in desc)
    assert res.profiles["segment_name"].is_unique
    check_segment_texts(res.profiles, res.features)  # names and texts quote the table's numbers
    assert analysed_wh.row_count("customer_segments") == len(res.assignments)
    assert ModelRegistry(analysed_wh).load("customer_segments").n_segments_ == k


def test_segment_model_finds_clear_clusters() -> None:
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(m, 0.2, (60, 3)) for m in (0, 4, 8, 12)])
    m = SegmentModel(k_range=(2, 6), seed=0).fit(X)
    assert m.n_segments_ == 4
    assert m.selection_.set_index("k").loc[4, "stability_ari"] > 0.9


def test_churn_labels_follow_the_cutoff(analysed_wh: Warehouse) -> None:
    labels = churn_labels(analysed_wh, date(2011, 9, 1), 90)
    cid = labels.loc[labels["churned"] == 0, "customer_id"].iloc[0]
    n = analysed_wh.query("SELECT count(*) FROM orders WHERE customer_id = ? AND status = 'completed' "
                          "AND ordered_at >= '2011-09-01' AND ordered_at < '2011-11-30'", [cid]).iloc[0, 0]
    assert n > 0
    cid = labels.loc[labels["churned"] == 1, "customer_id"].iloc[0]
    n = analysed_wh.query("SELECT count(*) FROM orders WHERE customer_id = ? AND status = 'completed' "
                          "AND ordered_at >= '2011-09-01' AND ordered_at < '2011-11-30'", [cid]).iloc[0, 0]
    assert n == 0


def test_churn_model_beats_chance_on_later_window_with_reasons(analysed_wh: Warehouse) -> None:
    res = fit_churn(analysed_wh)
    m = res.metrics
    assert m["validation_cutoff"] > m["train_cutoff"]
    assert m["roc_auc"] > 0.65 and m["pr_auc"] > m["validation_churn_rate"]
    assert res.scores["churn_risk"].between(0, 1).all()
    high = res.scores.sort_values("churn_risk").iloc[-1]
    assert "raises risk" in high["reasons"]
    # the same reasons in Chinese, from the same numbers, for every customer
    for en, zh in zip(res.scores["reasons"], res.scores["reasons_zh"]):
        assert latin_share(zh) < 0.05 and numbers_in(zh) == numbers_in(en), (en, zh)
    # the Customer 360 answers them beside the English ones
    from shoplens.customers.profile import customer_360
    from shoplens.privacy.ids import to_external

    shown = customer_360(analysed_wh, to_external(analysed_wh, [high["customer_id"]])[0], consent_default=True)
    assert shown["churn"]["reasons_zh"] == high["reasons_zh"] and shown["churn"]["reasons"] == high["reasons"]
    assert len(res.calibration) == 10
    # calibration: the riskiest decile churns far more than the safest
    assert res.calibration["observed"].iloc[-1] > res.calibration["observed"].iloc[0] + 0.3
    assert isinstance(ModelRegistry(analysed_wh).load("churn"), ChurnModel)


def test_occlusion_contributions_match_predicting_every_row() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.integers(1, 200, 600).astype(float),
                      "returns": np.where(rng.random(600) < 0.7, 0.0, rng.integers(1, 5, 600)),
                      "reviews": np.where(rng.random(600) < 0.5, np.nan, rng.integers(0, 3, 600))})
    y = (X["recency_days"] + 30 * X["returns"] + rng.normal(0, 20, 600) > 120).astype(int).to_numpy()
    m = ChurnModel(max_iter=40).fit(X, y)
    assert m.typical_["returns"] == 0.0  # most rows sit at the median: those are skipped
    got = m.contributions(X)
    base = m.classifier_.predict_proba(X.to_numpy(float))[:, 1]
    for j, f in enumerate(m.features_):  # brute force: every row predicted again
        alt = X.to_numpy(float).copy()
        alt[:, j] = m.typical_[f]
        np.testing.assert_allclose(got[f].to_numpy(), base - m.classifier_.predict_proba(alt)[:, 1], atol=1e-12)
    assert (got.loc[X["returns"] == 0, "returns"] == 0).all() and got["returns"].abs().sum() > 0
    only = m.contributions(X, features=["returns"])
    assert (only["recency_days"] == 0).all() and np.allclose(only["returns"], got["returns"])



def test_probe_sample_by_position_is_the_canonical_sample() -> None:
    """fit_churn draws the reasons' probe by position in the canonical order (no sorted copy of the
    frame): the same rows, in the same order, as sampling the sorted copy (ties and NaNs included)."""
    rng = np.random.default_rng(1)
    n = 20_000  # above the probe's 5,000 rows: the sample is a real subset
    X = pd.DataFrame({"a": rng.integers(0, 5, n).astype(float), "b": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
                      "c": rng.integers(0, 3, n).astype(float)}, index=rng.permutation(n))
    cols = ["a", "b", "c"]
    want = _canonical(X, cols).iloc[_sample(n, 5000)]
    got = X.iloc[_canonical_order(X, cols)[_sample(n, 5000)]]
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert not got.index.equals(pd.RangeIndex(5000))  # positions of the original frame, not a reset index

def test_feature_cache_computes_each_date_once(analysed_wh: Warehouse, monkeypatch) -> None:
    from shoplens.customers import features as features_module

    calls: list[object] = []
    real = features_module.features_transform
    monkeypatch.setattr(features_module, "features_transform",
                        lambda wh, **kw: calls.append(kw) or real(wh, **kw))
    from shoplens.customers.data import last_order_date

    end = last_order_date(analysed_wh)
    cache = FeatureCache()
    first = customer_features(analysed_wh, end, cache=cache)
    assert len(first) > 100
    first["orders"] = -1  # callers get copies: changing one leaves the cache intact
    again = customer_features(analysed_wh, end, cache=cache)
    assert len(calls) == 1 and len(cache) == 1 and (again["orders"] > 0).all()
    pd.testing.assert_frame_equal(again, customer_features(analysed_wh, end))
    assert len(calls) == 2  # without the cache: computed again
    customer_features(analysed_wh, end - pd.Timedelta(days=30), cache=cache)
    assert len(calls) == 3 and len(cache) == 2


def test_churn_with_a_shared_cache_is_the_same_model(analysed_wh: Warehouse) -> None:
    cache = FeatureCache()
    shared = fit_churn(analysed_wh, cache=cache, write=False, register=False)
    assert len(cache) == 3  # train cut-off, validation cut-off, today
    alone = fit_churn(analysed_wh, write=False, register=False)
    pd.testing.assert_frame_equal(shared.scores, alone.scores)
    segments = build_segments(analysed_wh, cache=cache)
    assert len(cache) == 3 and segments.assignments["customer_id"].nunique() > 0  # today's features reused
    # the profile straight after a cache hit (no query in between: DuckDB 2 once refused its register())
    build_profile(analysed_wh, cache=cache, write=False)  # computes the results it joins if missing
    profile = build_profile(analysed_wh, cache=cache, write=False)  # now only checks that they exist
    assert len(cache) == 3 and set(shared.scores["customer_id"]) <= set(profile["customer_id"])


def test_churn_needs_two_classes() -> None:
    X = pd.DataFrame({"orders": [1.0, 2.0, 3.0]})
    with pytest.raises(InsufficientDataError, match="one class"):
        ChurnModel().fit(X, np.array([1, 1, 1]))
    assert "single order" in reason_phrase("avg_days_between_orders", float("nan"), 50.0, 0.1)


def test_churn_horizon_too_long_is_clear(analysed_wh: Warehouse) -> None:
    with pytest.raises(InsufficientDataError, match="horizon"):
        fit_churn(analysed_wh, horizon_days=200, write=False, register=False)


def test_cohorts_retention_and_patterns(analysed_wh: Warehouse) -> None:
    res = compute_cohorts(analysed_wh)
    m = res.matrix()
    assert (m[0] == 1.0).all()  # everyone is active in their first month
    assert m.max().max() <= 1.0
    first = res.retention.query("months_since == 0")
    # the demo ends on 9 December 2011: December is partial, so its new customers have no cohort yet
    n_customers = analysed_wh.query(f"SELECT count(*) FROM (SELECT customer_id FROM ({purchases_sql()}) "
                                    "GROUP BY 1 HAVING min(ordered_at) < DATE '2011-12-01')").iloc[0, 0]
    assert first["cohort_customers"].sum() == n_customers
    assert res.retention["cohort"].max() == pd.Timestamp("2011-11-01")
    assert res.intervals["share"].sum() == pytest.approx(1.0)
    # weekday/hour, weekly anomalies and category trends are shop-wide: they add up to the overview's figures
    k = kpis(analysed_wh)
    assert res.weekday_hour["orders"].sum() == k["orders"]
    assert res.weekday_hour["revenue"].sum() == pytest.approx(k["revenue"])
    assert res.anomalies["revenue_anomaly"].dtype == bool
    assert analysed_wh.has_table("cohort_retention")


def test_category_trends_show_the_overview_revenue(analysed_wh: Warehouse) -> None:
    """Regression: "fees & services" was 8,547 in the overview and 41,500 in the category trends
    (returns left out of one of them). Both are net revenue now, per category, to the penny."""
    trends = compute_cohorts(analysed_wh, write=False).category_trends.set_index("category")["revenue_total"]
    overview = top_categories(analysed_wh, n=100).set_index("category")["revenue"]
    assert set(trends.index) == set(overview.index) and "fees & services" in overview.index
    assert trends.round(2).to_dict() == pytest.approx(overview.to_dict(), abs=0.006)
    assert trends.sum() == pytest.approx(kpis(analysed_wh)["revenue"])


def test_profile_and_rules(analysed_wh: Warehouse, tmp_path) -> None:
    from shoplens.customers.profile import write_profile

    profile = build_profile(analysed_wh)
    assert profile["customer_id"].is_unique
    # written without the read-back (the scheduled refresh, the 1M bench): the same table, its size returned
    analysed_wh.con.execute("DROP TABLE customer_profile")
    assert write_profile(analysed_wh) == len(profile)
    pd.testing.assert_frame_equal(analysed_wh.query("SELECT * FROM customer_profile ORDER BY customer_id"), profile)
    assert analysed_wh.computed_at("customer_profile") is not None
    n_customers = analysed_wh.query("SELECT count(*) FROM (SELECT customer_id FROM customers UNION "
                                    "SELECT customer_id FROM orders WHERE customer_id IS NOT NULL)").iloc[0, 0]
    assert len(profile) == n_customers
    buyers = profile[profile["orders"].notna()]
    assert buyers["next_best_action"].notna().all() and buyers["action_reason"].notna().all()
    assert buyers["segment_reason"].str.startswith("R").all()
    # plurals right: "1 order", "1 day ago" (the demo shop has one-order customers)
    assert not buyers["segment_reason"].str.contains(r"\b1 (?:orders|days)\b").any()
    assert buyers["segment_reason"].str.contains(r"\b1 order,").any()
    assert buyers["clv_reason"].str.contains("purchases in 12 months").all()
    assert buyers["churn_reasons"].notna().all()

    rules = generate_rules(analysed_wh)
    r = rules.rules
    assert len(r) >= 3
    assert r["rule"].str.match(r"^IF .+ THEN .+").all() and r["rule_zh"].str.startswith("如果").all()
    assert (r["lift_mining"] >= 1.3).all() and r["lift_later"].notna().all()
    assert r["validated"].any()
    for path in (tmp_path / "rules.yaml", tmp_path / "rules.json"):
        rules.export(path)
        assert "lift_later" in path.read_text(encoding="utf-8")
    tags = apply_rules(analysed_wh)
    assert set(tags["rule_id"]) <= set(r.loc[r["validated"], "rule_id"])
    no_consent = set(analysed_wh.query("SELECT customer_id FROM customers WHERE consent_personalization = FALSE")["customer_id"])
    assert not (set(tags["customer_id"]) & no_consent)


def test_apply_without_rules_is_a_clear_error(tmp_wh: Warehouse) -> None:
    with pytest.raises(UserInputError, match="customers rules"):
        apply_rules(tmp_wh)


def test_ruleset_export_yaml_roundtrip(tmp_path) -> None:
    import yaml

    rs = RuleSet(pd.DataFrame([{"rule_id": "R01", "rule": "IF a THEN b", "lift_later": 1.4}]), date(2011, 1, 1), date(2011, 4, 1), 90)
    doc = yaml.safe_load(rs.export(tmp_path / "r.yml").read_text(encoding="utf-8"))
    assert doc["rules"][0]["lift_later"] == 1.4 and doc["horizon_days"] == 90


def test_text_signals_slot_in_when_the_text_tables_exist(demo_wh: Warehouse) -> None:
    """The text package's result tables add columns to features and the profile without code changes."""
    demo_wh.con.execute("""CREATE TABLE text_reviews AS
        SELECT review_id, customer_id, product_id, order_id, created_at, 'en' AS language,
               CASE WHEN rating <= 2 THEN 'negative' ELSE 'positive' END AS sentiment,
               (rating - 3) / 2.0 AS sentiment_score FROM reviews WHERE rating IS NOT NULL""")
    demo_wh.con.execute("""CREATE TABLE text_review_aspects AS
        SELECT review_id, customer_id, product_id, created_at, 'delivery' AS aspect, 'negative' AS polarity,
               'late' AS evidence FROM reviews WHERE rating <= 2""")
    demo_wh.con.execute("""CREATE TABLE text_messages AS
        SELECT message_id, conversation_id, customer_id, created_at, 'en' AS language,
               CASE WHEN length(text) % 2 = 0 THEN 'track_order' ELSE 'complaint' END AS intent, 0.9 AS intent_score,
               CASE WHEN length(text) % 3 = 0 THEN 'negative' ELSE 'neutral' END AS sentiment
        FROM support_messages WHERE sender = 'customer'""")
    feats = customer_features(demo_wh, date(2011, 12, 10))
    assert {"review_sentiment_score", "last_negative_aspect", "top_support_intent", "negative_message_share"} <= set(feats.columns)
    unhappy = feats[feats["last_negative_aspect"].notna()]
    assert len(unhappy) > 0 and (unhappy["last_negative_aspect"] == "delivery").all()
    profile = build_profile(demo_wh)
    assert {"review_sentiment_score", "top_support_intent"} <= set(profile.columns)


def test_clv_and_churn_tell_the_same_story_on_the_demo_shop(analysed_wh: Warehouse) -> None:
    """#16: the demo's BG/NBD fitted a = 0.0047 and every P(alive) was 1.00 next to churn risks of 85 %.

    One year of this growing, seasonal shop shows no permanent dropout (the likelihood-ratio test against the
    no-dropout NBD says so); p_alive then falls back to the model's P(purchase within 90 days), which is what
    the churn model predicts, and the output says why.
    """
    from sklearn.metrics import roc_auc_score

    from shoplens.customers.clv import fit_clv

    served = fit_clv(analysed_wh, write=False, register=False)
    dropout = served.dropout()
    assert not dropout["identified"] and dropout["lr_bgnbd"] < 2.71
    assert dropout["p_alive_basis"] == "purchase within 90 days" and "no permanent drop-out" in dropout["note"]
    p_alive = served.customers.set_index("customer_id")["p_alive"]
    assert p_alive.between(0, 1).all() and p_alive.quantile(0.1) < 0.5 < p_alive.quantile(0.9)  # not 1.00 everywhere
    assert served.customers["p_alive_pareto_nbd"].isna().all()
    churn = fit_churn(analysed_wh, write=False, register=False)
    risk = churn.scores.set_index("customer_id")["churn_risk"]
    both = pd.concat([p_alive, risk], axis=1, join="inner")
    assert both["p_alive"].corr(1 - both["churn_risk"], method="spearman") > 0.7
    high_risk = both[both["churn_risk"] > 0.8]
    assert len(high_risk) and high_risk["p_alive"].mean() < 0.5  # was ~1.00
    # quality on real held-out data: fitted before the churn model's validation cut-off, the model's
    # P(no purchase within 90 days) ranks who bought in the next 90 days as well as the churn model does
    cut = pd.Timestamp(churn.metrics["validation_cutoff"])
    check = fit_clv(analysed_wh, calibration_end=(cut - pd.Timedelta(days=1)).date(),
                    holdout_end=(cut + pd.Timedelta(days=89)).date(), write=False, register=False)
    c = check.customers
    no_purchase = 1 - c["p_purchase_90d"]
    auc = roc_auc_score(c["holdout_actual"] == 0, no_purchase)
    assert auc > 0.7 and auc > churn.metrics["roc_auc"] - 0.03
    profile = build_profile(analysed_wh, write=False)
    assert profile["clv_reason"].dropna().str.contains("likely to buy within 90 days").all()


def test_churn_and_segments_do_not_depend_on_the_pseudonymisation_key(analysed_wh: Warehouse, tmp_path) -> None:
    """The same shop under another random key (so other pseudonyms, in another order) gets the same risks
    and the same segments (k was chosen differently on CI, whose key differs from a laptop's)."""
    from shoplens.config import Settings
    from shoplens.privacy.ids import to_external
    from shoplens.services import ingest_demo_shop

    path = tmp_path / "other-key.duckdb"
    settings = Settings(warehouse=path, secret="another shop secret, another pseudonym order")
    with Warehouse(path) as other:
        ingest_demo_shop(settings, other)
        theirs = fit_churn(other, write=False, register=False)
        theirs_ids = to_external(other, theirs.scores["customer_id"].tolist())
    ours = fit_churn(analysed_wh, write=False, register=False)
    ours_ids = to_external(analysed_wh, ours.scores["customer_id"].tolist())
    assert sorted(ours_ids) == sorted(theirs_ids) and ours_ids != theirs_ids  # really another order
    a = pd.Series(ours.scores["churn_risk"].to_numpy(), index=ours_ids).sort_index()
    b = pd.Series(theirs.scores["churn_risk"].to_numpy(), index=theirs_ids).sort_index()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-9)
    assert ours.metrics == theirs.metrics
    with Warehouse(path) as other:
        their_segments = build_segments(other, write=False, register=False)
        their_ids = to_external(other, their_segments.assignments["customer_id"].tolist())
    our_segments = build_segments(analysed_wh, write=False, register=False)
    our_ids = to_external(analysed_wh, our_segments.assignments["customer_id"].tolist())
    assert our_segments.model.n_segments_ == their_segments.model.n_segments_
    pd.testing.assert_frame_equal(our_segments.model.selection_, their_segments.model.selection_)
    a = pd.Series(our_segments.assignments["segment_name"].to_numpy(), index=our_ids).sort_index()
    b = pd.Series(their_segments.assignments["segment_name"].to_numpy(), index=their_ids).sort_index()
    pd.testing.assert_series_equal(a, b)


def test_churn_reasons_say_1_pt_and_match_the_single_phrase() -> None:
    """Plural forms in churn reasons: 'by 1 pt', 'by 5 pts'; the vectorised phrases equal reason_phrase's."""
    from shoplens.customers.churn import reasons_in_words

    values = np.array([[12.0, 1.0], [3.0, 40.0]])
    contributions = np.array([[-0.012, 0.05], [0.3, -0.004]])
    order = np.array([[0, 1], [0, 1]])
    features, labels = ["orders", "distinct_products"], {"orders": "orders", "distinct_products": "different products bought"}
    typical = {"orders": 4.0, "distinct_products": 29.0}
    got = reasons_in_words(values, contributions, order, features, typical, labels)
    assert got[0] == "12 orders (typical 4) lowers risk by 1 pt; 1 different product bought (typical 29) raises risk by 5 pts"
    assert got[0].split("; ")[0] == reason_phrase("orders", 12.0, 4.0, -0.012, "orders")
    assert got[1] == "3 orders (typical 4) raises risk by 30 pts"  # a contribution under half a point is left out


def test_churn_reasons_in_chinese_quote_the_same_numbers() -> None:
    """The zh reasons come from the same templates' numbers: no English words, the numbers of the en text;
    the vectorised phrases equal reason_phrase's (a missing value too: a single order, no returns yet)."""
    from shoplens.customers.churn import reasons_in_words
    from shoplens.customers.features import BEHAVIOUR_LABELS, LABELS_ZH

    features = ["orders", "avg_days_between_orders", "return_rate"]
    values = np.array([[12.0, np.nan, 0.25], [1.0, 30.0, np.nan]])
    contributions = np.array([[-0.012, 0.05, 0.2], [0.3, -0.004, 0.1]])
    order = np.array([[0, 1, 2], [0, 1, 2]])
    typical = {"orders": 4.0, "avg_days_between_orders": 40.0, "return_rate": 0.1}
    en = reasons_in_words(values, contributions, order, features, typical, BEHAVIOUR_LABELS)
    zh = reasons_in_words(values, contributions, order, features, typical, LABELS_ZH, lang="zh")
    assert zh[0] == "订单数 12（通常为 4），流失风险降低 1 个百分点；目前只有一单，流失风险提高 5 个百分点；" \
                    "退货金额占比 25%（通常为 10%），流失风险提高 20 个百分点"
    assert zh[1] == "订单数 1（通常为 4），流失风险提高 30 个百分点；尚无退货金额占比（通常为 10%），流失风险提高 10 个百分点"
    assert en[1] == "1 order (typical 4) raises risk by 30 pts; no share of spend returned yet (typical 10%) raises risk by 10 pts"
    for i in range(2):
        assert latin_share(zh[i]) == 0 and numbers_in(zh[i]) == numbers_in(en[i])
        kept = [j for j in range(3) if abs(contributions[i, j]) >= 0.005]
        assert zh[i] == "；".join(reason_phrase(features[j], values[i, j], typical[features[j]], contributions[i, j],
                                               LABELS_ZH[features[j]], lang="zh") for j in kept)
    assert reasons_in_words(values[:1], np.zeros((1, 3)), order[:1], features, typical, LABELS_ZH, lang="zh") == ["与典型客户接近"]

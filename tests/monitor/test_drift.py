"""Drift: PSI per feature between the training window and recent data, and text-model confidence drift."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from shoplens.errors import InsufficientDataError
from shoplens.monitor.drift import (
    check_drift,
    default_windows,
    latest_drift,
    psi_from_shares,
    psi_status,
)


def test_psi_matches_the_formula():
    ref, cur = [0.25, 0.25, 0.5], [0.5, 0.25, 0.25]
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + 0 + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi_from_shares(ref, cur) == pytest.approx(expected)
    assert psi_from_shares(ref, ref) == 0
    assert [psi_status(p) for p in (0.05, 0.2, 0.3)] == ["stable", "moderate", "significant"]


def test_demo_shop_is_stable_and_checks_are_stored(demo_wh):
    frame = check_drift(demo_wh)
    features = frame[frame["kind"] == "feature"].set_index("feature")
    assert {"order_value", "units", "days_since_previous_order"} <= set(features.index)
    assert (features["reference_n"] > 1000).all() and (features["current_n"] > 100).all()
    assert (features["psi"] < 0.25).all()  # one year of the same shop: no significant shift
    stored = latest_drift(demo_wh)
    assert stored["drifted"] == [] and stored["thresholds"] == {"moderate": 0.1, "significant": 0.25}
    assert len(stored["checks"]) == len(frame)


def test_a_price_shift_in_recent_orders_is_significant(demo_wh):
    windows = default_windows(demo_wh)
    demo_wh.con.execute(
        "UPDATE order_items SET unit_price = unit_price * 5 WHERE order_id IN "
        "(SELECT order_id FROM orders WHERE ordered_at >= ?)", [windows.current_start])
    frame = check_drift(demo_wh).set_index("feature")
    assert frame.loc["order_value", "status"] == "significant"
    assert frame.loc["median_unit_price", "psi"] > 1.0
    assert frame.loc["units", "status"] == "stable"  # quantities did not change
    assert "order_value" in latest_drift(demo_wh)["drifted"]


def test_text_confidence_drift(demo_wh):
    reviews = demo_wh.query("SELECT review_id, created_at FROM reviews")
    cutoff = default_windows(demo_wh).current_start
    recent = reviews["created_at"] >= cutoff
    # a sentiment model that became unsure on recent reviews: P(positive) near 0.5
    scores = pd.DataFrame({"review_id": reviews["review_id"], "created_at": reviews["created_at"],
                           "sentiment_score": [0.52 if r else (0.9 if i % 2 else 0.1) for i, r in enumerate(recent)]})  # conf. 0.52 vs 0.9
    demo_wh.write_table("text_reviews", scores)
    frame = check_drift(demo_wh)
    text = frame[frame["kind"] == "text_confidence"].iloc[0]
    assert text["feature"] == "text_reviews.sentiment_confidence" and text["status"] == "significant"
    assert text["current_mean"] == pytest.approx(0.52) and text["reference_mean"] == pytest.approx(0.9)


def test_real_text_model_confidence_is_checked(demo_wh):
    from shoplens.text.analyze import analyze_warehouse

    # a sample spread over the year keeps the shipped models' scoring short
    demo_wh.con.execute("DELETE FROM reviews WHERE hash(review_id) % 8 <> 0")
    demo_wh.con.execute("DELETE FROM support_messages WHERE hash(message_id) % 4 <> 0")
    analyze_warehouse(demo_wh)
    frame = check_drift(demo_wh)
    text = frame[frame["kind"] == "text_confidence"].set_index("feature")
    assert {"text_reviews.sentiment_confidence", "text_messages.intent_confidence"} <= set(text.index)
    assert (text["reference_n"] > 0).all() and text["psi"].notna().all()


def test_no_orders_is_a_clear_error(tmp_wh):
    with pytest.raises(InsufficientDataError, match="no orders"):
        check_drift(tmp_wh)


def test_status_shows_drift(demo_warehouse_path, tmp_path):
    import json
    import shutil

    from typer.testing import CliRunner

    from shoplens.cli import app

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    runner = CliRunner()
    assert json.loads(runner.invoke(app, ["-w", str(path), "status", "--json"]).stdout)["drift"] == {}
    runner.invoke(app, ["-w", str(path), "drift"])
    status = json.loads(runner.invoke(app, ["-w", str(path), "status", "--json"]).stdout)
    assert {c["feature"] for c in status["drift"]["checks"]} >= {"order_value"}
    assert "Drift at" in runner.invoke(app, ["-w", str(path), "status"]).stdout

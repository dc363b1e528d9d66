"""The demo's A/A test (:func:`shoplens.decide.study.aa_test`): split by the shop's ids, so the same shop
gives the same figures whatever its secret key (the docs quote them, scripts/doc_figures.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shoplens.config import Settings
from shoplens.decide.abtest import assign
from shoplens.decide.study import aa_test
from shoplens.services import ingest_demo_shop
from shoplens.store.warehouse import Warehouse

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # the session demo warehouse's (conftest.py)
OTHER_SECRET = "another-shop-secret-for-the-aa-test-0123456789"


@pytest.fixture()
def other_key_wh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The demo shop loaded under another secret key: other pseudonyms, the same shop."""
    path = tmp_path / "other" / "warehouse.duckdb"
    path.parent.mkdir()
    monkeypatch.setenv("SHOPLENS_SECRET", OTHER_SECRET)
    with Warehouse(path) as wh:
        ingest_demo_shop(Settings(warehouse=path, secret=OTHER_SECRET), wh)
        yield wh


def test_the_aa_split_and_figures_do_not_depend_on_the_secret_key(demo_wh, other_key_wh, monkeypatch) -> None:
    monkeypatch.setenv("SHOPLENS_SECRET", DEMO_SECRET)
    first = aa_test(demo_wh)
    monkeypatch.setenv("SHOPLENS_SECRET", OTHER_SECRET)
    second = aa_test(other_key_wh)
    assert set(demo_wh.query("SELECT customer_id FROM customers")["customer_id"]).isdisjoint(
        other_key_wh.query("SELECT customer_id FROM customers")["customer_id"])  # the pseudonyms differ
    pd.testing.assert_frame_equal(first["units"], second["units"])
    assert first["cuped"].cuped["variance_reduction"] == second["cuped"].cuped["variance_reduction"]


def test_units_carry_shop_ids_split_by_their_hash(demo_wh, monkeypatch) -> None:
    monkeypatch.setenv("SHOPLENS_SECRET", DEMO_SECRET)
    units = aa_test(demo_wh)["units"]
    assert "12348" in set(units["customer_id"])  # the shop's own id, never a pseudonym
    assert list(units["customer_id"]) == sorted(units["customer_id"])
    assert all(v == assign(c, ["A", "B"], salt="demo-aa") for c, v in zip(units["customer_id"], units["variant"]))
    assert set(units["variant"]) == {"A", "B"}

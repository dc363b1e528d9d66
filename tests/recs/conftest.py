"""Fixtures of the recommender tests: a slice of the bundled demo shop as interactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shoplens.recs.interactions import load_catalogue, load_interactions, load_segments
from shoplens.store.warehouse import Warehouse


@pytest.fixture(scope="session")
def recs_data(demo_warehouse_path: Path) -> dict[str, Any]:
    """Interactions of 300 demo customers (all their history), the catalogue and segments."""
    with Warehouse(demo_warehouse_path, read_only=True) as wh:
        rows = load_interactions(wh)
        catalogue = load_catalogue(wh)
        segments = load_segments(wh)
    keep = sorted(rows["customer_id"].unique())[:300]
    rows = rows[rows["customer_id"].isin(keep)].reset_index(drop=True)
    return {"interactions": rows, "catalogue": catalogue, "segments": segments}


def tiny_frame(records: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    """Interactions from (customer, product, day, kind, weight) tuples; each day is one basket."""
    frame = pd.DataFrame(records, columns=["customer_id", "product_id", "occurred_at", "kind", "weight"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame["basket_id"] = frame["customer_id"] + "@" + frame["occurred_at"].dt.strftime("%Y-%m-%d")
    frame["quantity"] = 1.0
    return frame

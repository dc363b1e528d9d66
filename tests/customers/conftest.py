"""Fixtures of the customer-insight tests: the CDNOW sample loaded into a warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shoplens.store.warehouse import Warehouse

DATA = Path(__file__).parents[1] / "data" / "customers"


def cdnow_orders_csv(path: Path) -> Path:
    """The bundled CDNOW sample as an orders CSV (one order per source row; same-day rows stay separate)."""
    df = pd.read_csv(DATA / "CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                     names=["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"],
                     dtype={"customer_id": str, "date": str})
    out = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(df))],
        "customer_id": df["customer_id"],
        "ordered_at": pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d 10:00:00"),
        "total_amount": df["dollar_value"],
    })
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cdnow_warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoplens.ingest import ingest

    folder = tmp_path_factory.mktemp("cdnow")
    csv = cdnow_orders_csv(folder / "orders.csv")
    path = folder / "warehouse.duckdb"
    with Warehouse(path) as wh:
        ingest(wh, [csv], table="orders")
    return path


@pytest.fixture(scope="module")
def analysed_wh(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """A private copy of the demo warehouse shared by one test module (analyses are slow-ish to recompute)."""
    import shutil

    path = tmp_path_factory.mktemp("customers") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    wh = Warehouse(path)
    yield wh
    wh.close()

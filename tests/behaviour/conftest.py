"""Warehouses holding a few hand-written events (synthetic on purpose: each test's expected
figures are computed by hand from its rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from shoplens.store.warehouse import Warehouse

COLUMNS = ("customer_id", "event_type", "occurred_at", "event_name", "session_id", "channel", "product_id", "received_at")


@pytest.fixture()
def events_wh(tmp_path: Path) -> Iterator[Callable[..., Warehouse]]:
    """Factory: a fresh warehouse holding ``rows``, tuples in the order of COLUMNS (missing ones are null)."""
    opened: list[Warehouse] = []

    def make(rows: list[tuple]) -> Warehouse:
        wh = Warehouse(tmp_path / f"w{len(opened)}" / "warehouse.duckdb")
        opened.append(wh)
        if rows:
            frame = pd.DataFrame([dict(zip(COLUMNS, r)) for r in rows])
            for c in ("occurred_at", "received_at"):
                if c in frame:
                    frame[c] = pd.to_datetime(frame[c])
            wh.con.register("_rows", frame)
            cols = ", ".join(frame.columns)
            wh.con.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM _rows")
            wh.con.unregister("_rows")
        return wh

    yield make
    for wh in opened:
        wh.close()

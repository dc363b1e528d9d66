"""Quarantine reasons: counted per table and reason, the most frequent first, in the shop's ids."""

from __future__ import annotations

from pathlib import Path

from shoplens.config import Settings
from shoplens.ingest import ingest
from shoplens.insights.quality import quarantine_reasons
from shoplens.store.warehouse import Warehouse

SECRET = "k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa"


def _load(tmp_path: Path, privacy: str = "on") -> Warehouse:
    (tmp_path / "customers.csv").write_text("customer_id\n12348\n")
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at\n"
        "o1,12348,2024-01-05\no2,99999,2024-01-06\no3,99999,2024-01-07\no4,12348,soon\n")
    settings = Settings(warehouse=tmp_path / "w.duckdb", secret=SECRET)
    wh = Warehouse(settings.warehouse)
    for table in ("customers", "orders"):
        ingest(wh, [tmp_path / f"{table}.csv"], table=table, settings=settings, privacy=privacy)  # type: ignore[arg-type]
    return wh


def test_reasons_most_frequent_first_with_shop_ids(tmp_path: Path) -> None:
    with _load(tmp_path) as wh:
        assert wh.query("SELECT count(*) AS n FROM _quarantine WHERE reason LIKE '%99999%'")["n"].iloc[0] == 0
        reasons = quarantine_reasons(wh)
    assert reasons.columns.tolist() == ["table", "reason", "rows"]
    assert reasons["table"].tolist() == ["orders", "orders"]
    assert reasons["reason"].tolist()[0] == "customer_id '99999' not found in customers"  # 2 rows, one reason
    assert reasons["rows"].tolist() == [2, 1]
    assert reasons["reason"].str.contains("soon").tolist() == [False, True]


def test_limit_keeps_the_most_frequent(tmp_path: Path) -> None:
    with _load(tmp_path) as wh:
        top = quarantine_reasons(wh, limit=1)
    assert top["rows"].tolist() == [2]


def test_without_privacy_the_reasons_are_as_stored(tmp_path: Path) -> None:
    with _load(tmp_path, privacy="off") as wh:
        reasons = quarantine_reasons(wh)
    assert reasons["reason"].iloc[0] == "customer_id '99999' not found in customers"


def test_an_empty_quarantine_gives_an_empty_frame(tmp_wh: Warehouse) -> None:
    reasons = quarantine_reasons(tmp_wh)
    assert reasons.empty and reasons.columns.tolist() == ["table", "reason", "rows"]

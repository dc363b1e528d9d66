"""Re-ingesting on Spark: the loaded / updated / duplicate / quarantined classification
and the final table agree with DuckDB, row for row."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.errors import StrictModeError
from shoplens.ingest import ingest
from shoplens.privacy.ids import to_external
from shoplens.store.warehouse import Warehouse

SECRET = "spark-ingest-test-secret-0123456789"

FIRST = "customer_id,country,birth_year,created_at\nc1,UK,1980,2011-01-02 10:00\nc2,FR,1975,2011-01-03\nc3,DE,,\n"
# c1 unchanged (duplicate), c2 changed (updated), c4 new then changed again in the same
# file (loaded + updated), c5 has a bad birth year (quarantined), a line without id
SECOND = ("customer_id,country,birth_year,created_at\nc1,UK,1980,2011-01-02 10:00\nc2,ES,1975,2011-01-03\n"
          "c4,IT,1990,2011-02-01\nc4,IT,1991,2011-02-01\nc5,NL,18x0,2011-02-02\n,PL,1970,\n")


def _run_both(tmp_path: Path, files: list[tuple[str, str]], **options):
    out = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        results = []
        # one shop secret for both warehouses: the same ids give the same pseudonyms
        settings = Settings(warehouse=folder / "w.duckdb", secret=SECRET, engine=engine)
        with Warehouse(folder / "w.duckdb", engine=engine, spark_master="local[2]") as wh:
            for name, text in files:
                path = folder / name
                path.write_text(text)
                results.append(ingest(wh, [path], table="customers", settings=settings, **options).to_dict())
            table = wh.engine.query("SELECT customer_id, country, birth_year, created_at FROM customers")
            stored = table["customer_id"].tolist()
            table["customer_id"] = to_external(wh, stored)  # privacy applies on Spark too: pseudonyms stored
            assert not set(stored) & set(table["customer_id"])
            table = table.sort_values("customer_id").reset_index(drop=True)
            quarantine = wh.query('SELECT line, "column", reason FROM _quarantine ORDER BY line')
        out[engine] = (results, table, quarantine)
    return out


def _counts(results):
    return [{k: r[k] for k in ("read", "loaded", "updated", "quarantined", "duplicates")} for r in results]


def test_second_ingest_classifies_like_duckdb(spark, tmp_path):
    out = _run_both(tmp_path, [("a.csv", FIRST), ("b.csv", SECOND)])
    duck, spk = out["duckdb"], out["spark"]
    assert _counts(duck[0]) == _counts(spk[0])
    assert _counts(spk[0])[1] == {"read": 6, "loaded": 1, "updated": 2, "quarantined": 2, "duplicates": 1}
    assert duck[1].astype(object).where(duck[1].notna(), None).values.tolist() == \
        spk[1].astype(object).where(spk[1].notna(), None).values.tolist()
    assert spk[1]["country"].tolist() == ["UK", "ES", "DE", "IT"] and spk[1]["birth_year"].tolist()[3] == 1991
    assert duck[2].equals(spk[2])
    assert spk[2]["reason"].tolist() == ["cannot read '18x0' as a number", "missing required value for customer_id"]


def test_strict_mode_writes_nothing_on_spark(spark, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(SECOND)
    with Warehouse(tmp_path / "w.duckdb", engine="spark", spark_master="local[2]") as wh:
        with pytest.raises(StrictModeError, match="nothing was loaded"):
            ingest(wh, [path], table="customers", strict=True)
        assert not wh.engine.table_exists("customers")
        assert wh.row_count("_ingest_runs") == 0 and wh.row_count("customers") == 0

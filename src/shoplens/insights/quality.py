"""Data quality of the ingested data: quarantined rows by table and by reason, and the recent
ingest runs with their accounting (read = loaded + updated + quarantined + duplicates).

Reasons name rows by the shop's own ids, never by pseudonyms. The API's ``/quality``, the
dashboard's data-quality page and the demo report read these.

>>> import tempfile
>>> from pathlib import Path
>>> with Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     quarantine_reasons(wh).columns.tolist(), len(ingest_runs(wh))
(['table', 'reason', 'rows'], 0)
"""

from __future__ import annotations

import pandas as pd

from shoplens.store.warehouse import Warehouse


def quarantine_by_table(wh: Warehouse) -> pd.DataFrame:
    """Quarantined rows per table (``table, rows``), by table name."""
    return wh.query('SELECT table_name AS "table", count(*) AS rows FROM _quarantine GROUP BY ALL ORDER BY 1')


def quarantine_reasons(wh: Warehouse, limit: int | None = None) -> pd.DataFrame:
    """Quarantined rows per table and reason (``table, reason, rows``), most frequent first; ids in
    the reasons are the shop's own."""
    from shoplens.privacy.ids import external_text

    sql = 'SELECT table_name AS "table", reason, count(*) AS rows FROM _quarantine GROUP BY ALL ORDER BY rows DESC'
    frame = wh.query(sql + (" LIMIT ?" if limit is not None else ""), [limit] if limit is not None else None)
    frame["reason"] = external_text(wh, frame["reason"].tolist())  # the shop's ids, never pseudonyms
    return frame


def ingest_runs(wh: Warehouse, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` ingest runs with their accounting, newest first."""
    return wh.query(
        'SELECT run_id, table_name AS "table", finished_at, "read", loaded, updated, quarantined, duplicates, seconds '
        "FROM _ingest_runs ORDER BY finished_at DESC LIMIT ?", [limit])

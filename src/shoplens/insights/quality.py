"""Data quality: why rows were quarantined at ingest, in the shop's own ids.

One query for every interface that shows quarantine reasons (the demo report, the REST
``/quality`` endpoint): reasons that name a customer show the shop's id, never the
pseudonym stored in the warehouse.

>>> import tempfile, pathlib
>>> from shoplens.config import Settings
>>> from shoplens.ingest import ingest
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "customers.csv").write_text("customer_id\\n12348\\n")
>>> _ = (folder / "orders.csv").write_text(
...     "order_id,customer_id,ordered_at\\no1,12348,2024-01-05\\no2,99999,2024-01-06\\no3,12348,soon\\n")
>>> settings = Settings(warehouse=folder / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> with Warehouse(settings.warehouse) as wh:
...     for table in ("customers", "orders"):
...         _ = ingest(wh, [folder / f"{table}.csv"], table=table, settings=settings)
...     stored = wh.query("SELECT reason FROM _quarantine WHERE reason LIKE 'customer_id%'")["reason"].tolist()
...     reasons = quarantine_reasons(wh)
>>> stored  # the warehouse holds the pseudonym ...
["customer_id 'c6b794078a7669d4ec943' not found in customers"]
>>> reasons.values.tolist()  # ... the reasons show the shop's id
[['orders', "cannot read 'soon' as a timestamp (ISO 8601 expected; set date_formats in a mapping for other layouts)", 1], ['orders', "customer_id '99999' not found in customers", 1]]
"""

from __future__ import annotations

import pandas as pd

from shoplens.privacy.ids import external_text
from shoplens.store.warehouse import Warehouse


def quarantine_reasons(wh: Warehouse, *, limit: int | None = None) -> pd.DataFrame:
    """Quarantined rows per table and reason (``table``, ``reason``, ``rows``), the most frequent first.

    ``limit``: keep only the first ``limit`` reasons (all when None).
    """
    sql = ('SELECT table_name AS "table", reason, count(*) AS rows FROM _quarantine GROUP BY ALL '
           'ORDER BY rows DESC, "table", reason')
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    frame = wh.query(sql)
    frame["reason"] = external_text(wh, frame["reason"].tolist())  # the shop's ids, never pseudonyms
    return frame

"""Proof that raw PII stays out of the warehouse: search every stored value for the
raw PII of a source file (used by the demo step and the tests).

Exact values are searched in every text column of every table (one hash join per
column); free-text columns (reviews, support messages, search queries, quarantined
raw rows) are also searched for the values as substrings. The vault is excluded:
it holds values encrypted on purpose.

>>> from importlib import resources
>>> raw = pd.read_csv(resources.files("shoplens.datasets") / "demo" / "customers.csv", dtype=str)  # the source file
>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> raw_pii_leaks(wh, {"email": raw["email"], "phone": raw["phone"], "name": raw["name"]}).empty
True
>>> _ = wh.con.execute("INSERT INTO support_messages (message_id, conversation_id, sender, text) "
...                    "VALUES ('m1', 'v1', 'agent', ?)", [f"sent to {raw['email'][0]}"])
>>> raw_pii_leaks(wh, {"email": raw["email"]})[["kind", "table", "column"]].values.tolist()
[['email', 'support_messages', 'text']]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from shoplens.schema import quote_identifier
from shoplens.store.warehouse import Warehouse

TEXT_COLUMNS = {("reviews", "text"), ("reviews", "title"), ("support_messages", "text"), ("events", "query"), ("_quarantine", "raw"),
                ("_quarantine", "reason")}
_EXCLUDED = {"_vault", "_vault_keys", "_erasure_audit"}


def raw_pii_leaks(wh: Warehouse, values: Mapping[str, Sequence[str]], min_substring: int = 6) -> pd.DataFrame:
    """Rows (kind, table, column, matches) where a raw value is stored; empty when none."""
    con = wh.con
    frame = pd.DataFrame([(k, str(v).strip()) for k, vs in values.items() for v in vs if isinstance(v, str) and str(v).strip()],
                         columns=["kind", "value"]).drop_duplicates()
    con.register("_raw_pii", frame)
    cols = con.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
        "USING (table_schema, table_name) WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type = 'VARCHAR' ORDER BY 1, 2"
    ).fetchall()
    out = []
    try:
        for table, column in cols:
            if table in _EXCLUDED:
                continue
            t = quote_identifier(table)
            q = f"{t}.{quote_identifier(column)}"
            rows = con.execute(f"SELECT p.kind, count(*) FROM {t} JOIN _raw_pii p ON {q} = p.value GROUP BY 1").fetchall()
            if (table, column) in TEXT_COLUMNS:
                rows += con.execute(
                    f"SELECT p.kind, count(*) FROM {t} JOIN (SELECT * FROM _raw_pii WHERE length(value) >= ?) p "
                    f"ON contains({q}, p.value) AND {q} <> p.value GROUP BY 1", [min_substring]
                ).fetchall()
            out += [{"kind": k, "table": table, "column": column, "matches": int(n)} for k, n in rows if n]
    finally:
        con.unregister("_raw_pii")
    return pd.DataFrame(out, columns=["kind", "table", "column", "matches"])

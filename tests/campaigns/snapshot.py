"""A snapshot of every table of a warehouse, to check that a read leaves it unchanged."""

from __future__ import annotations

from shoplens.store.warehouse import Warehouse


def warehouse_snapshot(wh: Warehouse) -> dict[str, str]:
    """Table name -> its rows as sorted CSV text (every column, NULLs included)."""
    tables = [r[0] for r in wh.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "ORDER BY table_name").fetchall()]
    out = {}
    for table in tables:
        frame = wh.con.execute(f'SELECT * FROM "{table}"').df()
        text = frame.astype(str).to_csv(index=False).splitlines()
        out[table] = "\n".join([text[0], *sorted(text[1:])])
    return out

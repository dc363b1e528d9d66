"""Reading customer attributes (``customer_attributes``, filled by ingest from the columns a
customers file brings beyond the canonical ones: see :mod:`shoplens.ingest.attributes`).

Values are stored as text with a type; here they are read typed: ``number`` as a float,
``boolean`` as True/False, ``text`` as stored. An attribute whose rows disagree on the type
(two files typed it differently) reads as text.

The wide form (:func:`wide_sql`) has one column ``attr_<name>`` per attribute: the campaign
audience's ``sql:`` condition and the segments' ``--attributes`` read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shoplens.errors import UserInputError
from shoplens.ingest.validate import TRUE_WORDS, lit
from shoplens.schema import quote_identifier as quote
from shoplens.store.warehouse import Warehouse

TABLE = "customer_attributes"
PREFIX = "attr_"


def attribute_types(wh: Warehouse) -> dict[str, str]:
    """Attribute name -> type (``number``, ``boolean`` or ``text``), by name."""
    if not wh.has_table(TABLE):
        return {}
    rows = wh.con.execute(f"SELECT attribute, CASE WHEN count(DISTINCT type) = 1 THEN any_value(type) ELSE 'text' END "
                          f"FROM {TABLE} GROUP BY 1 ORDER BY 1").fetchall()
    return {name: kind for name, kind in rows}


def typed_sql(kind: str, value: str = "value") -> str:
    """SQL reading a stored attribute value as its type."""
    if kind == "number":
        return f"TRY_CAST({value} AS DOUBLE)"
    if kind == "boolean":
        return f"(lower({value}) IN ({', '.join(lit(w) for w in TRUE_WORDS)}))"
    return value


def _typed(kind: str, value: str | None) -> Any:
    if value is None:
        return None
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        return value.strip().lower() in TRUE_WORDS
    return value


def customer_attributes(wh: Warehouse, customer_id: str) -> dict[str, Any]:
    """One customer's attributes (warehouse id), typed, by name; ``{}`` when they have none."""
    if not wh.has_table(TABLE):
        return {}
    kinds = attribute_types(wh)
    rows = wh.con.execute(f"SELECT attribute, value FROM {TABLE} WHERE customer_id = ? ORDER BY attribute",
                          [customer_id]).fetchall()
    return {name: _typed(kinds.get(name, "text"), value) for name, value in rows}


def wide_sql(wh: Warehouse, names: Sequence[str] | None = None) -> str | None:
    """SELECT customer_id and one typed column ``attr_<name>`` per attribute (``names``: these only,
    in this order); None when the warehouse holds no attributes."""
    kinds = attribute_types(wh)
    chosen = list(kinds) if names is None else list(names)
    unknown = [n for n in chosen if n not in kinds]
    if unknown:
        known = ", ".join(kinds) or "none: ingest a customers file with more columns than the canonical ones"
        raise UserInputError(f"unknown customer attribute(s) {', '.join(unknown)}; the warehouse has: {known}")
    if not chosen:
        return None
    items = ", ".join(f"max(CASE WHEN attribute = {lit(n)} THEN {typed_sql(kinds[n])} END) AS {quote(PREFIX + n)}"
                      for n in chosen)
    return f"SELECT customer_id, {items} FROM {TABLE} GROUP BY customer_id"


def attribute_summary(wh: Warehouse, top: int = 5) -> list[dict[str, Any]]:
    """Per attribute: its type, how many customers have it, and its most common values (ties by
    value), for ``shoplens customers attributes``."""
    kinds = attribute_types(wh)
    out = []
    for name, kind in kinds.items():
        customers = wh.con.execute(f"SELECT count(DISTINCT customer_id) FROM {TABLE} WHERE attribute = ?",
                                   [name]).fetchone()[0]
        values = wh.con.execute(f"SELECT value FROM {TABLE} WHERE attribute = ? GROUP BY value "
                                f"ORDER BY count(*) DESC, value LIMIT {int(top)}", [name]).fetchall()
        out.append({"attribute": name, "type": kind, "customers": int(customers),
                    "common_values": [_typed(kind, v) for (v,) in values]})
    return out

"""Consent: the one place other modules ask who may be personalised or marketed to.

- ``personalization``: recommendations, bandit decisions, per-customer scores
  exposed through any interface;
- ``marketing``: exported campaign segments.

A customer with the consent column false is excluded; unknown customers and
missing (NULL) consent follow ``default`` (True: the shop's legitimate interest;
set False for opt-in regimes).

>>> consent_filter_sql("personalization")
"customer_id NOT IN (SELECT customer_id FROM customers WHERE consent_personalization = FALSE)"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from shoplens.store.warehouse import Warehouse

Purpose = Literal["personalization", "marketing"]
COLUMNS = {"personalization": "consent_personalization", "marketing": "consent_marketing"}


def consent_filter_sql(purpose: Purpose, column: str = "customer_id", default: bool = True) -> str:
    """A SQL condition keeping only rows whose ``column`` customer may be used for ``purpose``."""
    col = COLUMNS[purpose]
    if default:
        return f"{column} NOT IN (SELECT customer_id FROM customers WHERE {col} = FALSE)"
    return f"{column} IN (SELECT customer_id FROM customers WHERE {col} = TRUE)"


def allowed(wh: Warehouse, customer_ids: Iterable[str], purpose: Purpose, default: bool = True) -> list[str]:
    """The subset of ``customer_ids`` (warehouse ids) that may be used for ``purpose``, order kept."""
    ids = [str(c) for c in customer_ids]
    if not ids:
        return []
    col = COLUMNS[purpose]
    rows = wh.con.execute(
        f"SELECT customer_id, {col} FROM customers WHERE customer_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    flags = {cid: flag for cid, flag in rows}
    return [c for c in ids if (flags.get(c) if flags.get(c) is not None else default)]

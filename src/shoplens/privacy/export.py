"""Consent-aware export of a customer list (campaign segments) below the warehouse folder.

Customers without marketing consent (or personalisation consent, for that purpose)
are left out; ids go out as the shop's own ids. Files land in ``<warehouse folder>/exports``
where erasure finds them.

>>> from shoplens.privacy.ids import to_internal
>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> path = export_customers(wh, to_internal(wh, ["12348", "12355", "12361"]), "winback_2026_11")
>>> path.relative_to(wh.home).as_posix(), path.read_text().split()  # 12348 refused marketing
('exports/winback_2026_11.csv', ['customer_id', '12355', '12361'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from shoplens.errors import UserInputError
from shoplens.privacy.consent import Purpose, allowed
from shoplens.privacy.ids import to_external
from shoplens.store.warehouse import Warehouse


def export_customers(wh: Warehouse, customer_ids: Sequence[str], name: str, *, purpose: Purpose = "marketing",
                     extra: pd.DataFrame | None = None) -> Path:
    """Write the consenting subset of ``customer_ids`` (warehouse ids) to ``exports/<name>.csv``.

    ``extra``: optional columns per customer (indexed by warehouse id), e.g. a segment label.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise UserInputError(f"export name {name!r}: use letters, digits, '_', '-' or '.' only")
    kept = allowed(wh, customer_ids, purpose)
    frame = pd.DataFrame({"customer_id": to_external(wh, kept)})
    if extra is not None and len(kept):
        frame = pd.concat([frame, extra.reindex(kept).reset_index(drop=True)], axis=1)
    path = wh.home / "exports" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path

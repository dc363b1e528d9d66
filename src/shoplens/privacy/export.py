"""Consent-aware export of a customer list (campaign segments) below the warehouse folder.

Customers without marketing consent (or personalisation consent, for that purpose)
are left out; ids go out as the shop's own ids. Files land in ``<warehouse folder>/exports``,
owner-only and recorded with their hash in ``_written_files``: erasure removes a
customer's row from the files it wrote, and only from those.

>>> # export_customers(wh, ids, "winback_2026_11")  -> Path(".../exports/winback_2026_11.csv")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from shoplens.errors import UserInputError
from shoplens.privacy.consent import Purpose, allowed
from shoplens.privacy.ids import to_external
from shoplens.store.files import write_export
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
    # owner-only, and recorded with its hash so that erasure may later remove a customer's row
    return write_export(wh, wh.home / "exports" / f"{name}.csv", frame, kind="export", id_column="customer_id")

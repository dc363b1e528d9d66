"""Consent-aware export of a customer list (a campaign audience) below the warehouse folder.

Only customers who consent to the purpose (marketing by default) are written; refused
and unknown ids are reported, never exported. Ids go in and out as the shop's own ids.
Files land in ``<warehouse folder>/exports``, owner-only, spreadsheet formulas neutralised,
and recorded with their hash in ``_written_files``: erasure removes a customer's row from
the files it wrote, and only from those.

>>> # export_customers(wh, ["12348", "17850"], "winback_2026_11").path  -> Path(".../exports/winback_2026_11.csv")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.errors import UserInputError
from shoplens.privacy.consent import ConsentCheck, Default, Purpose, _check_internal
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.files import write_export
from shoplens.store.warehouse import Warehouse


@dataclass(frozen=True)
class ExportResult:
    """Where the audience went and who was left out (shop ids)."""

    path: Path
    exported: int
    consent: ConsentCheck

    @property
    def refused(self) -> list[str]:
        return self.consent.refused

    @property
    def unknown(self) -> list[str]:
        return self.consent.unknown

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "exported": self.exported, "refused": len(self.refused),
                "unknown": len(self.unknown)}


def export_customers(wh: Warehouse, customer_ids: Sequence[str], name: str, *, purpose: Purpose = "marketing",
                     extra: pd.DataFrame | None = None, default: Default = None) -> ExportResult:
    """Write the consenting subset of ``customer_ids`` (the shop's ids) to ``exports/<name>.csv``.

    ``extra``: optional columns per customer, indexed by shop id (e.g. a segment label).
    Returns an :class:`ExportResult` (``.path``, ``.exported``, ``.refused``, ``.unknown``).
    """
    given = [str(c) for c in customer_ids]
    internal = to_internal(wh, given)
    if extra is not None:
        extra = extra.set_axis(to_internal(wh, [str(i) for i in extra.index]))
    names = {i: g for g, i in zip(given, internal) if i is not None}
    result = _export_internal(wh, [i or "" for i in internal], name, purpose=purpose, extra=extra, default=default,
                              shop_ids=names)
    return result


def _export_internal(wh: Warehouse, customer_ids: Sequence[str], name: str, *, purpose: Purpose = "marketing",
                     extra: pd.DataFrame | None = None, default: Default = None,
                     shop_ids: dict[str, str] | None = None) -> ExportResult:
    """:func:`export_customers` for callers holding warehouse ids (e.g. a segment's members).

    ``shop_ids`` maps warehouse ids to the shop ids a caller gave (else read from the vault).
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise UserInputError(f"export name {name!r}: use letters, digits, '_', '-' or '.' only")
    action = "audience_export" if purpose == "marketing" else purpose
    check = _check_internal(wh, customer_ids, action, default)
    kept = list(dict.fromkeys(check.allowed))
    if shop_ids is None:
        known = check.allowed + check.refused + check.unknown
        shop_ids = {i: e for i, e in zip(known, to_external(wh, known)) if e is not None}
    # pseudonyms without a shop id (erased, or not customers) are counted, never named
    shown = [shop_ids.get(c) for c in kept]
    if any(s is None for s in shown):  # a pseudonym without a shop id (erased) never leaves shoplens
        kept = [c for c, s in zip(kept, shown) if s is not None]
        shown = [s for s in shown if s is not None]
    frame = pd.DataFrame({"customer_id": pd.Series(shown, dtype=object)})
    if extra is not None and kept:
        frame = pd.concat([frame, extra.reindex(kept).reset_index(drop=True)], axis=1)
    # owner-only, and recorded with its hash so that erasure may later remove a customer's row
    path = write_export(wh, wh.home / "exports" / f"{name}.csv", frame, kind="export", id_column="customer_id")
    return ExportResult(path, len(frame), check.renamed(shop_ids))

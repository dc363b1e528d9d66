"""Per-customer results leaving shoplens (CLI, API, report): consent and the shop's own ids.

>>> import pandas as pd
>>> records(pd.DataFrame({"a": [1.0, None]}))
[{'a': 1.0}, {'a': None}]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoplens.store.warehouse import Warehouse


def exposable(wh: Warehouse, frame: pd.DataFrame, column: str = "customer_id") -> pd.DataFrame:
    """Rows of customers who allow personalisation, with the shop's own ids (consent + pseudonyms).

    Rows of ids that are not customers, or whose shop id cannot be revealed (erased), never leave."""
    from shoplens.privacy.consent import _allowed_internal
    from shoplens.privacy.ids import to_external

    if frame.empty:
        return frame
    keep = set(_allowed_internal(wh, frame[column].astype(str).tolist(), "profile"))
    out = frame[frame[column].astype(str).isin(keep)].copy()
    out[column] = to_external(wh, out[column].astype(str).tolist())
    return out[out[column].notna()]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN -> None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


HOW = {
    "customer_segments": "shoplens customers segments (or shoplens demo)",
    "customer_segment_profiles": "shoplens customers segments (or shoplens demo)",
    "customer_clv": "shoplens customers clv",
    "customer_churn": "shoplens customers churn",
    "customer_rfm": "shoplens customers rfm",
    "customer_rules": "shoplens customers rules --apply",
    "customer_rule_tags": "shoplens customers rules --apply",
}


def require_result(wh: Warehouse, name: str) -> None:
    """NotComputedError naming the command that computes ``name`` when the warehouse lacks it."""
    from shoplens.errors import NotComputedError

    if not wh.has_table(name):
        raise NotComputedError(f"{name} is not computed yet: run `{HOW.get(name, 'shoplens demo')}`")

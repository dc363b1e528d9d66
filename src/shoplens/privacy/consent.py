"""Consent: the one place other modules ask who may be personalised or marketed to.

- ``personalization``: recommendations, bandit decisions, per-customer scores
  exposed through any interface;
- ``marketing``: exported campaign segments.

A customer with the consent column false is excluded; unknown customers and
missing (NULL) consent follow ``default``. When ``default`` is not given it comes
from the policy (``consent_default`` in the ``[privacy]`` section of
shoplens.toml; true = the shop's legitimate interest, false = opt-in regimes).
Ids are warehouse ids (call :func:`shoplens.privacy.ids.to_internal` first).

>>> consent_filter_sql("personalization", default=True)
'customer_id NOT IN (SELECT customer_id FROM customers WHERE consent_personalization = FALSE)'
>>> consent_filter_sql("marketing", column="o.customer_id", default=False)
'o.customer_id IN (SELECT customer_id FROM customers WHERE consent_marketing = TRUE)'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from shoplens.errors import UserInputError
from shoplens.store.warehouse import Warehouse

Purpose = Literal["personalization", "marketing"]
COLUMNS = {"personalization": "consent_personalization", "marketing": "consent_marketing"}


def _column(purpose: str) -> str:
    try:
        return COLUMNS[purpose]
    except KeyError:
        raise UserInputError(f"unknown consent purpose {purpose!r}; choose one of: {', '.join(COLUMNS)}") from None


def consent_default(purpose: str, settings: Any = None) -> bool:
    """The policy's answer for customers whose consent is unknown (NULL or no customers row)."""
    from shoplens.privacy.policy import Policy

    if settings is None:
        from shoplens.config import load_settings

        settings = load_settings()
    return Policy.from_settings(settings).consent_default_for(purpose)


def consent_filter_sql(purpose: Purpose, column: str = "customer_id", default: bool | None = None) -> str:
    """A SQL condition keeping only rows whose ``column`` customer may be used for ``purpose``."""
    col = _column(purpose)
    if default is None:
        default = consent_default(purpose)
    if default:
        return f"{column} NOT IN (SELECT customer_id FROM customers WHERE {col} = FALSE)"
    return f"{column} IN (SELECT customer_id FROM customers WHERE {col} = TRUE)"


def allowed(wh: Warehouse, customer_ids: Iterable[str], purpose: Purpose, default: bool | None = None) -> list[str]:
    """The subset of ``customer_ids`` (warehouse ids) that may be used for ``purpose``, order kept."""
    ids = [str(c) for c in customer_ids]
    col = _column(purpose)
    if not ids:
        return []
    if default is None:
        default = consent_default(purpose)
    rows = wh.con.execute(
        f"SELECT customer_id, {col} FROM customers WHERE customer_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    flags = {cid: flag for cid, flag in rows}
    return [c for c in ids if (flags.get(c) if flags.get(c) is not None else default)]

"""Customer ids at the boundary.

Inside the warehouse customer ids are keyed pseudonyms (HMAC-SHA256 with the shop
secret, see :mod:`shoplens.privacy.ingest`) unless the policy turns that off.
Every interface (CLI, Python API, REST) accepts the shop's own ids and returns them
as given: call :func:`to_internal` on ids coming in and :func:`to_external` on ids
going out. The reverse direction reads the encrypted vault; a pseudonym whose vault
key was shredded (erased customer) or that is not in the vault comes back as None,
so a pseudonym never leaves shoplens as if it were a shop id. Outputs answering for
ids a caller gave echo those ids instead (an unknown id is answered as given).

Pass-through while the warehouse holds no pseudonyms:

>>> to_external(None, ["17850", None])
['17850', None]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from shoplens.privacy.keys import warehouse_secret

CUSTOMER_PREFIX = "c"


def _secret(wh: Any) -> bytes | None:
    if wh is None:
        return None
    return warehouse_secret(wh)


def _state(wh: Any) -> dict[str, str]:
    from shoplens.privacy.keys import warehouse_state

    return {} if wh is None else warehouse_state(wh.con)


def _pseudonymised(state: dict[str, str]) -> bool:
    return state.get("pseudonymize_customer_id", "true") == "true" and bool(state.get("key_fingerprint"))


def pseudonymised(wh: Any) -> bool:
    """True when customer ids in ``wh`` are pseudonyms."""
    return _pseudonymised(_state(wh))


def to_internal(wh: Any, customer_ids: Sequence[str], *, state: dict[str, str] | None = None) -> list[str]:
    """Shop ids -> warehouse ids (identity while pseudonymisation is off). ``state``: the warehouse's
    privacy state (:func:`shoplens.privacy.keys.warehouse_state`) when the caller holds it already."""
    ids = [None if _missing(c) else _clean(c) for c in customer_ids]
    state = _state(wh) if state is None else state  # read once: this runs on every API request
    if not _pseudonymised(state):
        return ids  # type: ignore[return-value]
    from shoplens.privacy.operators import pseudonym

    secret = warehouse_secret(wh, state=state)
    return [None if c is None else pseudonym(c, secret, prefix=CUSTOMER_PREFIX) for c in ids]  # type: ignore[arg-type,misc]


def to_external(wh: Any, customer_ids: Sequence[str]) -> list[str]:
    """Warehouse ids -> shop ids (identity while pseudonymisation is off); None for a
    pseudonym the vault cannot reveal (erased, or never a customer)."""
    ids = [None if _missing(c) else str(c) for c in customer_ids]
    if not pseudonymised(wh):
        return ids  # type: ignore[return-value]
    from shoplens.privacy.vault import Vault

    known = sorted({c for c in ids if c is not None})
    found = Vault(wh, _secret(wh)).reveal_tokens("customer_id", known)  # type: ignore[arg-type]
    return [None if c is None else found.get(c) for c in ids]  # type: ignore[misc]


_PSEUDONYM = re.compile(r"\bc[0-9a-f]{20}\b")


def external_text(wh: Any, texts: Sequence[str | None]) -> list[str | None]:
    """``texts`` (e.g. quarantine reasons) with every customer pseudonym replaced by the shop's id
    (``<erased customer>`` when the vault cannot reveal it), so no pseudonym is shown as an id.

    >>> external_text(None, ["customer_id 'c0123456789abcdef0123' not found", None])
    ["customer_id 'c0123456789abcdef0123' not found", None]
    """
    if not pseudonymised(wh):
        return list(texts)
    tokens = sorted({t for text in texts if text for t in _PSEUDONYM.findall(text)})
    if not tokens:
        return list(texts)
    shown = {t: e if e is not None else "<erased customer>" for t, e in zip(tokens, to_external(wh, tokens))}
    return [None if text is None else _PSEUDONYM.sub(lambda m: shown[m.group(0)], text) for text in texts]


def _missing(value: Any) -> bool:
    """None or NaN (a guest order has no customer): stays missing in both directions."""
    return value is None or (isinstance(value, float) and value != value)


def _clean(value: Any) -> str:
    """The id as ingest stores it (a float like 17850.0 from a spreadsheet becomes '17850')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()

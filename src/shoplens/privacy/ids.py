"""Customer ids at the boundary.

Inside the warehouse customer ids may be keyed pseudonyms; every interface (CLI,
Python API, REST) accepts the shop's own ids and returns them as given. Call
:func:`to_internal` on ids coming in and :func:`to_external` on ids going out.

>>> to_external(None, ["17850"])
['17850']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def to_internal(wh: Any, customer_ids: Sequence[str]) -> list[str]:
    """Shop ids -> warehouse ids (identity while pseudonymisation is off)."""
    return [str(c) for c in customer_ids]


def to_external(wh: Any, customer_ids: Sequence[str]) -> list[str]:
    """Warehouse ids -> shop ids (identity while pseudonymisation is off)."""
    return [str(c) for c in customer_ids]

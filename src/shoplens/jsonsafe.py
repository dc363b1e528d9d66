"""Values made JSON-ready, with every kind of missing value as ``null``.

pandas and NumPy have several missing values (``NaN``, ``NaT``, ``pd.NA``, NumPy's
``NaT``); left alone, ``json.dumps`` writes ``NaN`` (not JSON) and a ``default=str``
fallback writes the text ``"NaT"``. Every JSON shoplens writes (CLI ``--json``,
the API, the warehouse's bookkeeping columns) goes through :func:`json_safe`.

>>> import math, pandas as pd
>>> json_safe({"a": math.nan, "b": pd.NaT, "c": pd.Timestamp("2011-12-09"), "d": pd.NA})
{'a': None, 'b': None, 'c': '2011-12-09T00:00:00', 'd': None}
>>> dumps({"x": float("inf")})
'{"x": null}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None and the scalar missing values of Python, NumPy and pandas.

    >>> [is_missing(v) for v in (None, float("nan"), pd.NaT, pd.NA, 0, "")]
    [True, True, True, True, False, False]
    """
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def json_safe(value: Any) -> Any:
    """``value`` as nested dicts/lists of str, int, float, bool and None; missing values and
    infinities become None, times ISO 8601 text, NumPy scalars and arrays Python values."""
    if is_missing(value):
        return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict("records")]
    if isinstance(value, (pd.Series, pd.Index, np.ndarray)):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, timedelta, np.timedelta64)):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, Decimal):
        return json_safe(float(value))
    if isinstance(value, PurePath):
        return value.as_posix()
    return str(value)


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` (``value``): always valid JSON (``allow_nan=False``)."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)


def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (ISO times to the second, NaN -> null), as the API answers them.

    >>> records(pd.DataFrame({"at": [pd.Timestamp("2011-12-09 08:30")], "x": [math.nan]}))
    [{'at': '2011-12-09T08:30:00', 'x': None}]
    """
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s", force_ascii=False))


def clean(value: Any) -> Any:
    """Any nested value made JSON-ready: DataFrames as :func:`records`, the rest as :func:`json_safe`.

    >>> clean({"rows": pd.DataFrame({"n": [1]}), "end": pd.NaT})
    {'rows': [{'n': 1}], 'end': None}
    """
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return json_safe(value)  # NaT and pd.NA -> null too, not "NaT"

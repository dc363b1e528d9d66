"""JSON-ready API values: every missing value is null (never the text "NaT")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shoplens.serve.schemas import clean, page


def test_clean_turns_not_a_time_and_na_into_null():
    got = clean({"start": pd.NaT, "end": pd.Timestamp("2011-12-10"), "n": pd.NA, "x": [math.nan, np.int64(2)]})
    assert got == {"start": None, "end": "2011-12-10T00:00:00", "n": None, "x": [None, 2]}


def test_page_of_rows_with_missing_times():
    rows = [{"name": "segments", "data_start": pd.NaT}]
    assert page(rows, limit=10, offset=0).data == [{"name": "segments", "data_start": None}]

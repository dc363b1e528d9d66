"""Every missing value reaches JSON as null and a terminal table as a blank."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shoplens.cli_common import fmt, print_json, rows_table
from shoplens.jsonsafe import dumps, is_missing, json_safe

MISSING = [None, math.nan, np.float32("nan"), pd.NaT, pd.NA, np.datetime64("NaT"), np.timedelta64("NaT")]


@pytest.mark.parametrize("value", MISSING, ids=repr)
def test_missing_values_are_null_and_blank(value):
    assert is_missing(value)
    assert json_safe({"v": value}) == {"v": None}
    assert dumps([value]) == "[null]"
    assert fmt(value) == ""


def test_values_keep_their_meaning():
    frame = pd.DataFrame({"at": pd.to_datetime(["2011-12-09", None]), "n": [1.5, np.nan]})
    got = json_safe({"frame": frame, "i": np.int64(3), "arr": np.array([1.0, np.inf]), "day": date(2011, 1, 2),
                     "path": Path("models/recs/1.pkl"), "flag": np.bool_(True)})
    assert got == {"frame": [{"at": "2011-12-09T00:00:00", "n": 1.5}, {"at": None, "n": None}], "i": 3,
                   "arr": [1.0, None], "day": "2011-01-02", "path": "models/recs/1.pkl", "flag": True}
    assert not any(is_missing(v) for v in (0, 0.0, "", "NaT", False))


def test_print_json_and_tables_with_not_a_time(capsys):
    rows = [{"name": "a", "data_start": pd.NaT, "data_end": pd.Timestamp("2011-12-10")},
            {"name": "b", "data_start": pd.Timestamp("2011-01-01"), "data_end": pd.NaT}]
    print_json(rows)
    out = capsys.readouterr().out
    assert json.loads(out)[0] == {"name": "a", "data_start": None, "data_end": "2011-12-10T00:00:00"}
    assert "NaT" not in out
    table = rows_table(rows)  # used to raise "NaTType does not support strftime"
    cells = [[str(x) for x in c.cells] for c in table.columns]
    assert cells[1] == ["", "2011-01-01 00:00"] and cells[2] == ["2011-12-10 00:00", ""]

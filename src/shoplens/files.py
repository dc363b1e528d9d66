"""CSV files in and out: reading a user's CSV with errors that say what is wrong and how
to fix it, and writing every CSV shoplens produces safe to open in a spreadsheet.

Every command that takes a CSV of the user's (A/B results, decision logs, texts)
reads it here, so a missing file, an empty file, a broken quote or a non-UTF-8
byte always gives the same kind of one-line :class:`~shoplens.errors.InputFileError`
instead of a traceback.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
>>> _ = p.write_text(" variant ,users\\nA,10\\n", encoding="utf-8")
>>> read_user_csv(p).columns.tolist()
['variant', 'users']

Every CSV shoplens writes (exports, recommendations, forecasts, masked files, text
results) goes through :func:`write_csv`, which neutralises spreadsheet formulas
(OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``; numbers stay numbers.

>>> import pandas as pd
>>> neutralise_formulas(pd.DataFrame({"id": ["=1+2", "-2+3", "12348", "-17"], "n": [-1, 2, 3, 4]})).to_dict("list")
{'id': ["'=1+2", "'-2+3", '12348', '-17'], 'n': [-1, 2, 3, 4]}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.errors import InputFileError


def read_user_csv(path: str | Path, *, allow_empty: bool = False, **read_csv: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **read_csv)`` with clear errors; column names are stripped.

    Raises :class:`InputFileError` when the file is missing, a folder, not UTF-8, not a
    readable CSV, or (unless ``allow_empty``) has a header but no rows.
    """
    name = str(path)
    file = Path(path)
    if file.is_dir():
        raise InputFileError(name, "is a folder, not a file", hint="give the path of a CSV file")
    if not file.is_file():
        raise InputFileError(name, "file not found", hint="check the path")
    read_csv.setdefault("encoding", "utf-8")
    try:
        frame = pd.read_csv(file, **read_csv)
    except UnicodeDecodeError as exc:
        raise InputFileError(name, f"not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(name, "the file is empty", hint="give a CSV with a header row") from None
    except pd.errors.ParserError as exc:
        raise InputFileError(name, f"not a readable CSV ({str(exc).strip().splitlines()[0]})",
                             hint="check quoting and delimiters") from None
    if frame.empty and not allow_empty:
        raise InputFileError(name, "no rows", hint="the file has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


# OWASP's list of characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a text cell holding only a plain number (e.g. "-17", "+44.5") is read as that number,
# never as a formula: it is left alone so ids and amounts keep their value
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    >>> neutralise_cell("@SUM(A1)"), neutralise_cell("-3.5"), neutralise_cell(-3.5)
    ("'@SUM(A1)", '-3.5', -3.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas;
    numeric, boolean and date columns are unchanged."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(neutralise_cell)
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame, **to_csv: Any) -> str:
    """``frame`` as CSV text (no index unless told) with formulas neutralised: for writers
    that need the text itself (an export recorded with its hash, a masked copy).

    >>> csv_text(pd.DataFrame({"id": ["=1+2"]}))
    "id\\n'=1+2\\n"
    """
    to_csv.setdefault("index", False)
    return neutralise_formulas(frame).to_csv(**to_csv)


def write_csv(frame: pd.DataFrame, path: str | Path, **to_csv: Any) -> Path:
    """Write ``frame`` as CSV (no index, UTF-8 unless told) with formulas neutralised.

    The one way shoplens writes CSV; ``to_csv`` options (``sep``, ``compression``...)
    pass through to :meth:`pandas.DataFrame.to_csv`.
    """
    to_csv.setdefault("index", False)
    encoding = to_csv.pop("encoding", "utf-8")
    if to_csv.get("compression") not in (None, "infer") or str(path).endswith((".gz", ".bz2", ".zip", ".xz", ".zst")):
        neutralise_formulas(frame).to_csv(path, encoding=encoding, **to_csv)
        return Path(path)
    # owner-only and atomic, like every file shoplens writes (imported here: store sits above this module)
    from shoplens.store.files import open_private

    with open_private(path, "w", encoding=encoding) as fh:
        neutralise_formulas(frame).to_csv(fh, **to_csv)
    return Path(path)

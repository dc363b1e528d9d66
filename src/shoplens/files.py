"""Reading a user's CSV file with errors that say what is wrong and how to fix it.

Every command that takes a CSV of the user's (A/B results, decision logs, texts)
reads it here, so a missing file, an empty file, a broken quote or a non-UTF-8
byte always gives the same kind of one-line :class:`~shoplens.errors.InputFileError`
instead of a traceback.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
>>> _ = p.write_text(" variant ,users\\nA,10\\n", encoding="utf-8")
>>> read_user_csv(p).columns.tolist()
['variant', 'users']
"""

from __future__ import annotations

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

"""Reading and writing the files of the text commands (UTF-8 CSV in; CSV or JSON Lines out).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
>>> _ = p.write_text("id,text\\n1,好\\n", encoding="utf-8")
>>> read_texts(p, "text").columns.tolist()
['id', 'text']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.errors import InputFileError
from shoplens.store.files import open_private


def read_texts(path: str | Path, column: str) -> pd.DataFrame:
    """Read a UTF-8 CSV and check that ``column`` exists (clear errors, never a traceback)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "file not found", hint="check the path")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(str(path), f"not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(str(path), "the file is empty", hint="give a CSV with a header row") from None
    except pd.errors.ParserError as exc:
        raise InputFileError(str(path), f"not a valid CSV ({str(exc).strip()})", hint="check quoting and delimiters") from None
    if column not in frame.columns:
        raise InputFileError(str(path), f"no column {column!r}", column=None,
                             hint=f"columns are: {', '.join(map(str, frame.columns))}; pass one with --column")
    return frame


def write_output(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV (UTF-8) to ``path``, creating its folder (spreadsheet formulas neutralised)."""
    from shoplens.files import write_csv

    path = Path(path)
    return write_csv(frame, path)  # owner-only, like every file shoplens writes


def write_jsonl(records: list[dict[str, Any]], path: str | Path) -> Path:
    """One JSON object per line (UTF-8, Chinese kept readable)."""
    path = Path(path)
    with open_private(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    return path

"""Scan and mask a column of a CSV / TSV / JSON-lines / Parquet file (``shoplens privacy scan|mask``).

>>> # scan_file("support.csv", "text")  -> [{"row": 0, "type": "PHONE", "start": 7, "end": 18, "score": 1.0}]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shoplens.errors import InputFileError, UserInputError
from shoplens.files import csv_text
from shoplens.privacy.detect import PiiScanner
from shoplens.privacy.operators import apply_operator, check_operator
from shoplens.store.files import open_private


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read a data file as text columns (format from the extension)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(str(path), "file not found", hint="check the path")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path).astype("string")
        if name.endswith((".jsonl", ".ndjson")):
            return pd.read_json(path, lines=True, dtype=False).astype("string")
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise InputFileError(str(path), "not UTF-8 text", hint="convert the file to UTF-8") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputFileError(str(path), f"cannot read it ({str(exc).splitlines()[0]})",
                             hint="use CSV, TSV, JSON lines or Parquet") from None


def _column(frame: pd.DataFrame, path: str | Path, column: str) -> pd.Series:
    if column not in frame.columns:
        raise InputFileError(str(path), f"no column {column!r}", hint=f"columns are: {', '.join(map(str, frame.columns))}")
    return frame[column]


Progress = Callable[[int, int], None]  # (rows done, rows in total)
PROGRESS_EVERY = 5000


def _findings(texts: list[str | None], scanner: PiiScanner, processes: int, progress: Progress | None) -> list[list]:
    """Findings per text, block by block (progress between blocks; processes within a block)."""
    out: list[list] = []
    for start in range(0, len(texts), PROGRESS_EVERY * max(processes, 1)):
        if progress is not None:
            progress(start, len(texts))
        out += scanner.scan_many(texts[start:start + PROGRESS_EVERY * max(processes, 1)], processes=processes)
    if progress is not None:
        progress(len(texts), len(texts))
    return out


def scan_texts(texts: list[str | None], threshold: float = 0.5, types: list[str] | None = None,
               progress: Progress | None = None, processes: int = 1) -> list[dict]:
    """Findings as ``{"row", "type", "start", "end", "score", "rule"}`` dicts (row = position in ``texts``).

    >>> scan_texts(["mail a@b.co"])[0]["type"]
    'EMAIL'
    """
    scanner = PiiScanner(threshold=threshold, types=types)
    out = []
    for row, found in enumerate(_findings(texts, scanner, processes, progress)):
        for f in found:
            out.append({"row": row, "type": f.type, "start": f.start, "end": f.end, "score": f.score, "rule": f.rule})
    return out


def scan_file(path: str | Path, column: str, threshold: float = 0.5, types: list[str] | None = None,
              progress: Progress | None = None, processes: int = 1) -> list[dict]:
    """PII findings in ``column`` of the file; row is the 0-based data row."""
    frame = read_table_file(path)
    texts = _column(frame, path, column).tolist()
    return scan_texts([t if isinstance(t, str) else None for t in texts], threshold, types, progress, processes)


def mask_texts(texts: list[str | None], operator: str = "placeholder", *, threshold: float = 0.5,
               secret: bytes | None = None, progress: Progress | None = None, processes: int = 1) -> list[str | None]:
    """Each text with its PII replaced by ``operator`` (see :mod:`shoplens.privacy.operators`).

    >>> mask_texts(["call 13812345678", None])
    ['call <PHONE>', None]
    """
    check_operator(operator)
    if operator == "encrypt":
        raise UserInputError("the encrypt operator stores values in a warehouse vault; use it through the ingest policy")
    found = _findings(texts, PiiScanner(threshold=threshold), processes, progress)
    return [apply_operator(t, f, operator, secret=secret) if isinstance(t, str) else t for t, f in zip(texts, found)]


def mask_file(path: str | Path, column: str, output: str | Path, operator: str = "placeholder", *,
              threshold: float = 0.5, secret: bytes | None = None, progress: Progress | None = None,
              processes: int = 1) -> dict:
    """Write the file with ``column`` masked to ``output`` (CSV, or Parquet/JSON lines by extension)."""
    check_operator(operator)
    frame = read_table_file(path)
    texts = _column(frame, path, column).tolist()
    masked = mask_texts([t if isinstance(t, str) else None for t in texts], operator, threshold=threshold, secret=secret,
                        progress=progress, processes=processes)
    changed = sum(1 for a, b in zip(texts, masked) if a != b and isinstance(a, str))
    frame[column] = masked
    out = Path(output)
    if out.resolve() == Path(path).resolve():
        raise UserInputError(f"{out}: the output would overwrite the input; choose another --output")
    name = out.name.lower()
    with open_private(out) as fh:  # owner-only: the copy may still hold what the scanner missed
        if name.endswith(".parquet"):
            frame.to_parquet(fh, index=False)
        elif name.endswith((".jsonl", ".ndjson")):
            fh.write(frame.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8"))
        else:
            fh.write(csv_text(frame, sep="\t" if name.endswith(".tsv") else ",").encode("utf-8"))
    return {"input": str(path), "output": str(out), "column": column, "operator": operator,
            "rows": len(frame), "rows_changed": changed}

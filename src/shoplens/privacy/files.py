"""Scan and mask a column of a CSV / TSV / JSON-lines / Parquet file (``shoplens privacy scan|mask``).

>>> # scan_file("support.csv", "text")  -> [{"row": 0, "type": "PHONE", "start": 7, "end": 18, "score": 1.0}]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shoplens.errors import InputFileError, UserInputError
from shoplens.privacy.detect import PiiScanner
from shoplens.privacy.operators import apply_operator, check_operator


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


def scan_texts(texts: list[str | None], threshold: float = 0.5, types: list[str] | None = None,
               progress: Progress | None = None) -> list[dict]:
    """Findings as ``{"row", "type", "start", "end", "score", "rule"}`` dicts (row = position in ``texts``)."""
    scanner = PiiScanner(threshold=threshold, types=types)
    out = []
    for row, text in enumerate(texts):
        if progress is not None and row % PROGRESS_EVERY == 0:
            progress(row, len(texts))
        for f in scanner.scan(text if isinstance(text, str) else None):
            out.append({"row": row, "type": f.type, "start": f.start, "end": f.end, "score": f.score, "rule": f.rule})
    return out


def scan_file(path: str | Path, column: str, threshold: float = 0.5, types: list[str] | None = None,
              progress: Progress | None = None) -> list[dict]:
    """PII findings in ``column`` of the file; row is the 0-based data row."""
    frame = read_table_file(path)
    texts = _column(frame, path, column).tolist()
    return scan_texts([t if isinstance(t, str) else None for t in texts], threshold, types, progress)


def mask_texts(texts: list[str | None], operator: str = "placeholder", *, threshold: float = 0.5,
               secret: bytes | None = None, progress: Progress | None = None) -> list[str | None]:
    """Each text with its PII replaced by ``operator`` (see :mod:`shoplens.privacy.operators`)."""
    check_operator(operator)
    if operator == "encrypt":
        raise UserInputError("the encrypt operator stores values in a warehouse vault; use it through the ingest policy")
    scanner = PiiScanner(threshold=threshold)
    out: list[str | None] = []
    for i, t in enumerate(texts):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i, len(texts))
        out.append(apply_operator(t, scanner.scan(t), operator, secret=secret) if isinstance(t, str) else t)
    return out


def mask_file(path: str | Path, column: str, output: str | Path, operator: str = "placeholder", *,
              threshold: float = 0.5, secret: bytes | None = None, progress: Progress | None = None) -> dict:
    """Write the file with ``column`` masked to ``output`` (CSV, or Parquet/JSON lines by extension)."""
    check_operator(operator)
    frame = read_table_file(path)
    texts = _column(frame, path, column).tolist()
    masked = mask_texts([t if isinstance(t, str) else None for t in texts], operator, threshold=threshold, secret=secret,
                        progress=progress)
    changed = sum(1 for a, b in zip(texts, masked) if a != b and isinstance(a, str))
    frame[column] = masked
    out = Path(output)
    if out.resolve() == Path(path).resolve():
        raise UserInputError(f"{out}: the output would overwrite the input; choose another --output")
    out.parent.mkdir(parents=True, exist_ok=True)
    name = out.name.lower()
    if name.endswith(".parquet"):
        frame.to_parquet(out, index=False)
    elif name.endswith((".jsonl", ".ndjson")):
        frame.to_json(out, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(out, index=False, sep="\t" if name.endswith(".tsv") else ",")
    return {"input": str(path), "output": str(out), "column": column, "operator": operator,
            "rows": len(frame), "rows_changed": changed}

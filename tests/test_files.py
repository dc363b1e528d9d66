"""Reading a user's CSV: every unusable file is a one-line InputFileError saying what and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplens.errors import InputFileError
from shoplens.files import read_user_csv


def test_reads_and_strips_column_names(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(" variant , users \nA,10\nB,12\n", encoding="utf-8")
    frame = read_user_csv(p)
    assert frame.columns.tolist() == ["variant", "users"]
    assert frame["users"].tolist() == [10, 12]


def test_passes_read_csv_options(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("id,text\n007,好\n", encoding="utf-8")
    assert read_user_csv(p, dtype=str)["id"].tolist() == ["007"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"variant,users\n", "no rows"),
    (b"variant,users\n\xff\xfe,1\n", "not UTF-8"),
    (b'a,b\n"unclosed,1\n', "not a readable CSV"),
])
def test_unusable_files_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=message) as info:
        read_user_csv(p)
    assert str(p) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_user_csv(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        read_user_csv(tmp_path)


def test_allow_empty_keeps_the_header(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("action,reward\n", encoding="utf-8")
    assert read_user_csv(p, allow_empty=True).columns.tolist() == ["action", "reward"]


# -- writing: spreadsheet formula injection (#16 item 14) ------------------------------------
from shoplens.files import neutralise_cell, neutralise_formulas, write_csv  # noqa: E402


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1", "=1"])
def test_formula_cells_get_a_leading_quote(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["12348", "-17", "+44.5", "-1e3", "plain text", "", "a=b", None, -3.5, 7])
def test_other_cells_are_unchanged(cell) -> None:
    assert neutralise_cell(cell) == cell


def test_write_csv_neutralises_text_cells_and_headers_but_keeps_numbers(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ["=cmd|' /C calc'!A0", "17850"], "delta": [-5.0, 2.5],
                          "=evil_header": ["@x", "ok"]})
    path = write_csv(frame, tmp_path / "out.csv")
    assert path.read_text(encoding="utf-8").splitlines() == [
        "customer_id,delta,'=evil_header", "'=cmd|' /C calc'!A0,-5.0,'@x", "17850,2.5,ok"]
    back = pd.read_csv(path)
    assert back["delta"].tolist() == [-5.0, 2.5]  # a negative number column stays numbers
    assert frame["customer_id"].tolist()[0].startswith("=")  # the caller's frame is not changed
    tsv = write_csv(frame, tmp_path / "out.tsv", sep="\t")
    assert tsv.read_text(encoding="utf-8").splitlines()[1].startswith("'=cmd")
    assert neutralise_formulas(pd.DataFrame({"n": [-1, 2]}))["n"].tolist() == [-1, 2]


def test_every_csv_shoplens_writes_goes_through_write_csv() -> None:
    """One helper: no module writes CSV any other way (pandas to_csv or the csv module)."""
    import re

    src = Path(__file__).parents[1] / "src" / "shoplens"
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py") if p.name != "files.py" or p.parent != src
                 if re.search(r"\.to_csv\(|csv\.(writer|DictWriter)\(|COPY .* TO .*FORMAT csv", p.read_text("utf-8"))]
    assert offenders == []

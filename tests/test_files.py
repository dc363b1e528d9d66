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

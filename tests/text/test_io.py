"""Text results written as CSV are safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

from shoplens.text.io import write_output


def test_write_output_neutralises_formulas(tmp_path) -> None:
    path = write_output(pd.DataFrame({"text": ["@SUM(A1) great", "fine"], "score": [-0.5, 0.9]}),
                        tmp_path / "sub" / "scored.csv")
    back = pd.read_csv(path)
    assert back["text"].tolist() == ["'@SUM(A1) great", "fine"] and back["score"].tolist() == [-0.5, 0.9]

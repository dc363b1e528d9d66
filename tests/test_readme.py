"""The README's Python example runs as written and stores pseudonyms, not the shop's ids."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def _python_ingest_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if "ingest_files(" in b)


def test_readme_python_ingest_stores_pseudonyms(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPLENS_SECRET", raising=False)
    monkeypatch.setenv("SHOPLENS_CONFIG", str(tmp_path / "no-config.toml"))
    Path("orders.csv").write_text("order_id,customer_id,ordered_at,status\n"
                                  "O1,17850,2011-01-01,completed\nO2,13047,2011-01-02,cancelled\n")
    exec(compile(_python_ingest_example(), "README.md", "exec"), {})
    printed = capsys.readouterr()
    assert "'loaded': 2" in printed.out and "completed" in printed.out
    assert "created a new secret key file" in printed.err  # said once, beside the warehouse
    from shoplens.privacy.ids import to_external
    from shoplens.store.warehouse import Warehouse

    with Warehouse("shop/warehouse.duckdb", read_only=True) as wh:
        stored = wh.query("SELECT customer_id FROM orders ORDER BY order_id")["customer_id"].tolist()
        assert not {"17850", "13047"} & set(stored)
        assert all(re.fullmatch(r"c[0-9a-f]{20}", c) for c in stored)
        assert to_external(wh, stored) == ["17850", "13047"]

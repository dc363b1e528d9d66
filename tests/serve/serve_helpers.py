"""Helpers shared by the serving tests."""

from __future__ import annotations

import shutil
from pathlib import Path

STRONG_SECRET = "Qm8v-3kZr_T1xw9LpY2nB7cJd0fHs5aE4gUi6oVt"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def copy_with_models(source: Path, target: Path) -> None:
    """Copy a warehouse with its model files; the registry stores absolute model paths, so a plain copy
    would still load (and an erasure would rewrite) the original's files."""
    from shoplens.store.warehouse import Warehouse

    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    if (source.parent / "models").exists():
        shutil.copytree(source.parent / "models", target.parent / "models")
    with Warehouse(target) as wh:
        if wh.has_table("_models"):
            wh.con.execute("UPDATE _models SET path = replace(path, ?, ?)",
                           [str(source.parent / "models"), str(target.parent / "models")])

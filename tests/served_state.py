"""What a warehouse serves, as hashes: every result table (bookkeeping ``_*`` tables and
evaluation reports ``eval_*`` aside), the promoted model versions and their files.

Evaluation runs must leave it unchanged:

``before = served_state(path)``, run the evaluation command, then
``assert served_state(path) == before``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import EVALUATION_PREFIX, Warehouse


def served_state(path: Path) -> dict[str, Any]:
    """Hash of each served table's rows (order-independent) and of each promoted model file."""
    state: dict[str, Any] = {}
    with Warehouse(path, read_only=True) as wh:
        for table in wh.tables():
            if table.startswith(("_", EVALUATION_PREFIX)):
                continue
            rows = sorted(repr(r) for r in wh.con.execute(f'SELECT * FROM "{table}"').fetchall())
            state[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        if wh.has_table("_models"):
            registry = ModelRegistry(wh)
            for name, version in wh.con.execute(
                    "SELECT name, version FROM _models WHERE status = 'promoted' ORDER BY name").fetchall():
                state[f"model:{name}"] = (version, hashlib.sha256(registry.path(name, version).read_bytes()).hexdigest())
    return state

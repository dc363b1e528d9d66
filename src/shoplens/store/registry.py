"""Model registry: every trained model saved with its version, training-data window,
metrics and code version; one version per name is *promoted* (the one served).

Files live under ``<warehouse folder>/models/<name>/<version>.pkl``; the index is
the warehouse table ``_models``, whose ``path`` is relative to the warehouse folder
(``models/recs/1.pkl``), so a moved or copied warehouse folder keeps working from any
working directory. Rows written before paths were relative (``.shoplens/models/recs/1.pkl``,
relative to the working directory of the time, or absolute) are read too: the file is looked
for at its place in this warehouse's folder first. Erasure walks this registry: models whose class
implements ``forget_customers(ids)`` are loaded, made to forget and saved again.

>>> import tempfile
>>> from shoplens.customers.btyd import GammaGammaModel
>>> wh = Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb")
>>> reg = ModelRegistry(wh)
>>> spend = GammaGammaModel().fit([1, 2, 4, 3], [20., 35, 18, 50])
>>> reg.register("spend", spend, metrics={"customers": 4}), reg.register("spend", spend, promote=False)
(1, 2)
>>> reg.list("spend")[["version", "status"]].values.tolist()
[[1, 'promoted'], [2, 'candidate']]
>>> reg.load("spend")  # the promoted version
GammaGammaModel()
>>> reg.path("spend", 2).relative_to(wh.home).as_posix()
'models/spend/2.pkl'
>>> wh.close()
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens import __version__
from shoplens.base import Model, read_model_file
from shoplens.errors import NotFoundError
from shoplens.jsonsafe import dumps
from shoplens.store.warehouse import Warehouse, first_row, utcnow

MODELS_SQL = """CREATE TABLE IF NOT EXISTS _models (
    name VARCHAR, version INTEGER, path VARCHAR, kind VARCHAR, created_at TIMESTAMP,
    data_start TIMESTAMP, data_end TIMESTAMP, metrics VARCHAR, params VARCHAR,
    code_version VARCHAR, status VARCHAR, note VARCHAR)"""


def code_version() -> str:
    """shoplens version plus the git commit when running from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=2,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def promoted_version(wh: Warehouse, name: str) -> int | None:
    """The promoted version of model ``name``, None when there is none (or no registry yet).

    One query and no ``CREATE``: cheap enough for the serving path, and it never writes.

    >>> import tempfile
    >>> with Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
    ...     promoted_version(wh, "recs")
    """
    import duckdb

    try:
        row = first_row(wh.con.execute("SELECT version FROM _models WHERE name = ? AND status = 'promoted'", [name]))
    except duckdb.CatalogException:  # no model was ever registered in this warehouse
        return None
    return None if row is None else int(row[0])


class ModelRegistry:
    """Versioned models of one warehouse."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        if not wh.read_only:
            wh.con.execute(MODELS_SQL)

    @property
    def root(self) -> Path:
        return self.wh.home / "models"

    def register(
        self,
        name: str,
        model: Model,
        *,
        kind: str = "",
        metrics: dict[str, Any] | None = None,
        data_window: tuple[Any, Any] | None = None,
        promote: bool = True,
        note: str = "",
    ) -> int:
        """Save ``model`` as the next version of ``name``; promoted by default."""
        con = self.wh.con
        version = int(con.execute("SELECT coalesce(max(version), 0) + 1 FROM _models WHERE name = ?", [name]).fetchall()[0][0])
        path = self.root / name / f"{version}.pkl"
        model.save(path, name=name, version=version, metrics=metrics or {})
        start, end = data_window or (None, None)
        if promote:
            con.execute("UPDATE _models SET status = 'archived' WHERE name = ? AND status = 'promoted'", [name])
        con.execute(
            "INSERT INTO _models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, version, self.wh.relative_path(path), kind or type(model).__name__, utcnow(), start, end,
             dumps(metrics or {}), dumps(model.get_params()),
             code_version(), "promoted" if promote else "candidate", note],
        )
        self.wh.mark_computed(f"model:{name}", "model", info={"version": version})
        return version

    def list(self, name: str | None = None) -> pd.DataFrame:
        sql = "SELECT name, version, kind, status, created_at, data_start, data_end, metrics, code_version FROM _models"
        params: list[Any] = []
        if name:
            sql += " WHERE name = ?"
            params.append(name)
        return self.wh.query(sql + " ORDER BY name, version", params)

    def promoted_version(self, name: str) -> int:
        version = promoted_version(self.wh, name)
        if version is None:
            raise NotFoundError(f"no promoted model named {name!r} (see `shoplens models list`)")
        return version

    def path(self, name: str, version: int | None = None) -> Path:
        version = version or self.promoted_version(name)
        row = first_row(self.wh.con.execute("SELECT path FROM _models WHERE name = ? AND version = ?", [name, version]))
        if row is None:
            raise NotFoundError(f"model {name!r} has no version {version}")
        return self._locate(name, version, row[0])

    def _locate(self, name: str, version: int, recorded: str) -> Path:
        """The file of a registry row, wherever the warehouse folder is now.

        Rows recorded before paths were relative to the warehouse folder hold a path relative
        to the working directory of the time, or an absolute one that may name the folder this
        warehouse was copied from: the file at its place in *this* folder comes first.
        """
        own = self.root / name / f"{version}.pkl"
        for candidate in (own, self.wh.resolve_path(recorded), Path(recorded)):
            if candidate.exists():
                return candidate
        return self.wh.resolve_path(recorded)

    def load(self, name: str, version: int | None = None) -> Any:
        """The promoted (or given) version of ``name``."""
        return read_model_file(self.path(name, version))["model"]

    def promote(self, name: str, version: int) -> None:
        self.path(name, version)  # exists?
        with self.wh.transaction() as con:
            con.execute("UPDATE _models SET status = 'archived' WHERE name = ? AND status = 'promoted'", [name])
            con.execute("UPDATE _models SET status = 'promoted' WHERE name = ? AND version = ?", [name, version])

    def rollback(self, name: str) -> int:
        """Promote the version before the current one; returns it."""
        current = self.promoted_version(name)
        row = first_row(self.wh.con.execute(
            "SELECT max(version) FROM _models WHERE name = ? AND version < ?", [name, current]
        ))
        if row is None or row[0] is None:
            raise NotFoundError(f"model {name!r} has no version before {current} to roll back to")
        self.promote(name, int(row[0]))
        return int(row[0])

    def files(self) -> list[Path]:
        """Every registered model file (erasure walks these)."""
        rows = self.wh.con.execute("SELECT name, version, path FROM _models ORDER BY name, version").fetchall()
        return [self._locate(name, int(version), path) for name, version, path in rows]

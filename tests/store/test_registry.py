"""Model registry and the model contract."""

from __future__ import annotations

import pickle
import warnings

import pytest

from shoplens.base import Model
from shoplens.errors import ModelVersionWarning, NotFittedError, NotFoundError, UserInputError
from shoplens.store.registry import ModelRegistry


class MeanModel(Model):
    def __init__(self, shrink: float = 0.0) -> None:
        self.shrink = shrink

    def fit(self, xs: list[float]) -> "MeanModel":
        self.mean_ = sum(xs) / (len(xs) + self.shrink)
        return self


def test_contract_fit_repr_and_not_fitted():
    m = MeanModel(shrink=1.0)
    assert repr(m) == "MeanModel(shrink=1.0)" and not m.is_fitted()
    with pytest.raises(NotFittedError):
        m.check_fitted()
    assert m.fit([1, 2, 3]) is m and m.mean_ == 1.5


def test_save_load_round_trip_and_version_warning(tmp_path):
    path = MeanModel().fit([2, 4]).save(tmp_path / "m.pkl")
    assert MeanModel.load(path).mean_ == 3.0
    payload = pickle.loads(path.read_bytes())
    payload["shoplens_version"] = "0.0.1"
    path.write_bytes(pickle.dumps(payload))
    with pytest.warns(ModelVersionWarning, match="saved by shoplens 0.0.1"):
        MeanModel.load(path)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(UserInputError, match="not a readable shoplens model file"):
        MeanModel.load(bad)
    with pytest.raises(UserInputError, match="model file not found"):
        MeanModel.load(tmp_path / "missing.pkl")


def test_register_promote_rollback(tmp_wh):
    reg = ModelRegistry(tmp_wh)
    v1 = reg.register("mean", MeanModel().fit([1]), metrics={"mae": 1.0})
    v2 = reg.register("mean", MeanModel().fit([5]), metrics={"mae": 0.5})
    assert (v1, v2) == (1, 2) and reg.promoted_version("mean") == 2
    assert reg.load("mean").mean_ == 5
    assert reg.rollback("mean") == 1 and reg.load("mean").mean_ == 1
    with pytest.raises(NotFoundError, match="no version before 1"):
        reg.rollback("mean")
    reg.promote("mean", 2)
    listing = reg.list("mean")
    assert listing.status.tolist() == ["archived", "promoted"]
    assert len(reg.files()) == 2 and all(p.exists() for p in reg.files())
    with pytest.raises(NotFoundError):
        reg.load("other")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.load("mean")  # same version: no warning


def test_paths_are_relative_to_the_warehouse_folder(tmp_path):
    import shutil

    from shoplens.store.warehouse import Warehouse

    with Warehouse(tmp_path / "a" / "warehouse.duckdb") as wh:
        ModelRegistry(wh).register("mean", MeanModel().fit([1]))
        assert wh.query("SELECT path FROM _models")["path"].tolist() == ["models/mean/1.pkl"]
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    with Warehouse(tmp_path / "b" / "warehouse.duckdb") as wh:
        reg = ModelRegistry(wh)
        assert reg.load("mean").mean_ == 1
        assert reg.files() == [tmp_path / "b" / "models" / "mean" / "1.pkl"]


@pytest.mark.parametrize("recorded", ["absolute", "cwd-relative"])
def test_rows_recorded_before_relative_paths_still_load(tmp_path, monkeypatch, recorded):
    """Old rows hold `.shoplens/models/x/1.pkl` (relative to the cwd of the time) or an absolute path,
    possibly into the folder a warehouse was copied from: this folder's own file is loaded."""
    import shutil

    from shoplens.store.warehouse import Warehouse

    monkeypatch.chdir(tmp_path)
    with Warehouse(".shoplens/warehouse.duckdb") as wh:
        ModelRegistry(wh).register("mean", MeanModel().fit([1]))
        old = str((tmp_path / ".shoplens/models/mean/1.pkl").resolve()) if recorded == "absolute" else ".shoplens/models/mean/1.pkl"
        wh.con.execute("UPDATE _models SET path = ?", [old])
    shutil.copytree(tmp_path / ".shoplens", tmp_path / "copy")
    with Warehouse(tmp_path / ".shoplens" / "warehouse.duckdb") as wh:  # the original one changes...
        ModelRegistry(wh).root.joinpath("mean", "1.pkl").write_bytes(MeanModel().fit([7]).save(tmp_path / "m.pkl").read_bytes())
    monkeypatch.chdir(tmp_path / "copy")
    with Warehouse(tmp_path / "copy" / "warehouse.duckdb", read_only=True) as wh:
        assert ModelRegistry(wh).load("mean").mean_ == 1  # ... the copy serves its own file
        assert ModelRegistry(wh).files() == [tmp_path / "copy" / "models" / "mean" / "1.pkl"]


def test_promoted_version_reads_the_registry_and_never_writes(tmp_wh):
    from shoplens.store.registry import promoted_version

    assert promoted_version(tmp_wh, "recs") is None and not tmp_wh.has_table("_models")  # no registry: nothing created
    reg = ModelRegistry(tmp_wh)
    assert promoted_version(tmp_wh, "recs") is None
    with pytest.raises(NotFoundError, match="no promoted model named 'recs'"):
        reg.promoted_version("recs")
    reg.register("recs", MeanModel().fit([1.0]))
    reg.register("recs", MeanModel(1.0).fit([2.0]), promote=False)
    assert promoted_version(tmp_wh, "recs") == reg.promoted_version("recs") == 1
    reg.promote("recs", 2)
    assert promoted_version(tmp_wh, "recs") == 2

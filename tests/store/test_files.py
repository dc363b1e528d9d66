"""Files shoplens writes: owner-only (0600 in 0700 folders), atomic, and recorded with their hash."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from shoplens.store import Warehouse
from shoplens.store.files import (
    open_private,
    private_dir,
    register_file,
    sha256_file,
    write_export,
    write_private,
    written_files,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture()
def loose_umask():
    """The usual umask (files 0644, folders 0755), whatever the test runner's."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_private_dir_creates_0700_and_leaves_existing_folders_alone(tmp_path, loose_umask):
    os.chmod(tmp_path, 0o755)
    private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700
    assert mode(tmp_path) == 0o755


def test_write_private_is_owner_only_even_over_a_world_readable_file(tmp_path, loose_umask):
    path = tmp_path / "out.csv"
    path.write_text("old")
    assert mode(path) == 0o644
    write_private(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o600


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path):
    path = write_private(tmp_path / "x.txt", "kept")
    with pytest.raises(RuntimeError):
        with open_private(path, "w", encoding="utf-8") as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "kept" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_write_export_records_path_and_hash(tmp_wh):
    path = write_export(tmp_wh, tmp_wh.home / "exports" / "a.csv", pd.DataFrame({"customer_id": ["1", "2"]}),
                        kind="export", id_column="customer_id")
    (recorded,) = written_files(tmp_wh)
    assert recorded.key == "exports/a.csv" and recorded.path == path and recorded.sha256 == sha256_file(path)
    assert recorded.id_column == "customer_id" and recorded.unchanged()
    path.write_text("customer_id\n1\n")
    assert not written_files(tmp_wh)[0].unchanged()
    outside = tmp_wh.home.parent / "elsewhere.csv"
    register_file(tmp_wh, write_private(outside, "x"), "forecast", names_customers=False)
    assert {f.key for f in written_files(tmp_wh)} == {"exports/a.csv", str(outside)}


def test_write_export_needs_a_writable_warehouse(tmp_path):
    Warehouse(tmp_path / "w.duckdb").close()
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh, pytest.raises(ValueError, match="writing"):
        write_export(wh, tmp_path / "a.csv", "x", kind="export")
    assert not (tmp_path / "a.csv").exists()


def test_every_writer_creates_owner_only_files(demo_wh, tmp_path, loose_umask):
    """Issue #16 item 17: the warehouse, exports, models, reports, keys and the audit log were created
    world-readable (0644 in 0755); each writer now goes through shoplens.store.files."""
    from shoplens.customers.rules import RuleSet
    from shoplens.insights.report import Report
    from shoplens.privacy.access_log import AuditLog
    from shoplens.privacy.export import export_customers
    from shoplens.privacy.ids import to_external
    from shoplens.privacy.files import mask_file
    from shoplens.privacy.keys import resolve_secret
    from shoplens.serve.keys import KeyStore
    from shoplens.store.registry import ModelRegistry
    from shoplens.text.io import write_jsonl, write_output

    from tests.privacy.test_erasure import Factors

    new = tmp_path / "fresh" / "shop"
    with Warehouse(new / "w.duckdb") as wh:
        wh.write_table("t", pd.DataFrame({"x": [1]}))
    written = [new / "w.duckdb", new, new.parent]
    ids = [r[0] for r in demo_wh.con.execute("SELECT customer_id FROM customers LIMIT 3").fetchall()]
    written.append(export_customers(demo_wh, to_external(demo_wh, ids), "campaign", purpose="personalization").path)
    written.append(ModelRegistry(demo_wh).path("factors", ModelRegistry(demo_wh).register("factors", Factors().fit(ids))))
    written.append(Report("t", "s").write(demo_wh.home / "reports" / "r.html"))
    log = AuditLog.for_warehouse(demo_wh.path)
    log.record(key_id=None, role=None, method="GET", path="/x", status=200)
    written += [log.path, log.path.parent]
    store = KeyStore.for_warehouse(new / "w.duckdb")
    store.create("viewer")
    written.append(store.path)
    resolve_secret(None, new / "keys", announce=False)
    written += [new / "keys" / "shoplens.key", new / "keys"]
    rules = RuleSet(pd.DataFrame({"rule_id": ["r1"]}), pd.Timestamp("2011-01-01").date(), pd.Timestamp("2011-06-01").date(), 90)
    written.append(rules.export(tmp_path / "out" / "rules.yaml"))
    source = tmp_path / "chats.csv"
    source.write_text("text\ncall 13812345678\n")
    written.append(Path(mask_file(source, "text", tmp_path / "out" / "masked.csv")["output"]))
    written.append(write_output(pd.DataFrame({"a": [1]}), tmp_path / "out" / "texts.csv"))
    written.append(write_jsonl([{"a": 1}], tmp_path / "out" / "texts.jsonl"))
    written.append(tmp_path / "out")
    for path in written:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_the_cli_runs_with_an_owner_only_umask(tmp_path):
    """Files other libraries create for shoplens (DuckDB's write-ahead log, Spark's Parquet parts) follow
    the process umask: the `shoplens` entry point sets 0077."""
    import subprocess
    import sys

    program = ("import os, sys\nos.umask(0o022)\nsys.argv = ['shoplens', '--version']\n"
               "from shoplens.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
               "print(oct(os.umask(0)))")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600,
                         check=True)  # a hang guard only, far above any start-up time
    assert out.stdout.strip().splitlines()[-1] == "0o77"


def test_the_write_ahead_log_is_owner_only_while_a_warehouse_is_open(tmp_path, loose_umask):
    """Issue #16 item 17: used from Python (no CLI umask), DuckDB created `w.duckdb.wal` 0644 beside
    the warehouse, and again after every checkpoint (it deletes and re-creates the log)."""
    path = tmp_path / "w.duckdb"
    wal = tmp_path / "w.duckdb.wal"
    with Warehouse(path) as wh:
        wh.write_table("t", pd.DataFrame({"x": [1]}))
        assert wal.exists() and mode(wal) == 0o600 and mode(path) == 0o600
        wh.con.execute("CHECKPOINT")
        assert not wal.exists()
        with wh.transaction() as con:  # a write made directly on the connection, committed by the warehouse
            con.execute("INSERT INTO t VALUES (2)")
        assert wal.exists() and mode(wal) == 0o600
        wh.con.execute("CHECKPOINT")
        wh.mark_computed("t", "table", rows=2)
        assert mode(wal) == 0o600
        # a direct write that commits on its own re-creates the log with the process umask; the next
        # commit through the warehouse makes it owner-only again
        wh.con.execute("CHECKPOINT")
        wh.con.execute("INSERT INTO t VALUES (3)")
        wh.write_table("u", pd.DataFrame({"x": [1]}))
        assert mode(wal) == 0o600
    assert os.umask(0o022) == 0o022  # the caller's umask is back


def test_the_owner_only_umask_is_shared_across_threads(tmp_path, loose_umask):
    """The umask is process-wide: warehouses committing on several threads at once tighten it
    together, and the caller's comes back when the last one is done."""
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> int:
        with Warehouse(tmp_path / f"w{i}.duckdb") as wh:
            for n in range(15):
                wh.write_table(f"t{n}", pd.DataFrame({"x": [n]}))
            return mode(wh.wal_path)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(4))) == [0o600] * 4
    assert os.umask(0o022) == 0o022
    assert {mode(tmp_path / f"w{i}.duckdb") for i in range(4)} == {0o600}

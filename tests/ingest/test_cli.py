"""The ingest, quarantine and status commands: exit codes, messages, JSON shapes.

Every unusable input exits 2 with one line on stderr naming the file and the
problem, never a traceback, and leaves the warehouse as it was.
"""

from __future__ import annotations

import gzip
import json

import pytest

from .helpers import run_cli, write

ORDERS = "order_id,customer_id,ordered_at,status,total_amount\nO1,C1,2011-01-01,completed,10\nO2,C2,2011-01-02,cancelled,-5\n"


def _bad_inputs(tmp_path):
    truncated = tmp_path / "trunc.csv.gz"
    whole = gzip.compress(("order_id,ordered_at\n" + "".join(f"X{i},2011-01-01\n" for i in range(5000))).encode())
    truncated.write_bytes(whole[: len(whole) // 2])
    undecodable = tmp_path / "undecodable.csv"
    undecodable.write_bytes(b"order_id,ordered_at\n\xff\xfe\xfa\xfb\x80,2011-01-01\n")
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"PAR1 this is not parquet")
    return [
        (["ingest", "orders", str(tmp_path / "missing.csv")], "missing.csv: file not found"),
        (["ingest", "widgets", str(write(tmp_path / "w.csv", ORDERS))], "unknown table 'widgets'"),
        (["ingest", "orders", str(write(tmp_path / "nocol.csv", "id,when\n1,2\n"))], "required column(s) order_id, ordered_at"),
        (["ingest", "orders", str(write(tmp_path / "empty.csv", ""))], "empty.csv: empty file"),
        (["ingest", "orders", str(truncated)], "trunc.csv.gz: truncated or corrupt gzip"),
        (["ingest", "orders", str(undecodable), "--encoding", "utf-8"], "undecodable.csv"),
        (["ingest", "orders", str(parquet)], "broken.parquet: cannot read as Parquet"),
        (["ingest", "--preset", "nope", str(write(tmp_path / "x.csv", ORDERS))], "unknown preset 'nope'"),
        (["quarantine", "widgets"], "unknown table 'widgets'"),
    ]


def test_unusable_input_exits_2_with_one_clear_line(tmp_path):
    wh = str(tmp_path / "w.duckdb")
    assert run_cli("--warehouse", wh, "ingest", "orders", str(write(tmp_path / "ok.csv", ORDERS))).returncode == 0
    for args, message in _bad_inputs(tmp_path):
        proc = run_cli("--warehouse", wh, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
        assert len(proc.stderr.strip().splitlines()) <= 3  # one message (wrapped at most)
    status = json.loads(run_cli("--warehouse", wh, "status", "--json").stdout)
    assert status["tables"]["orders"]["rows"] == 2  # nothing half-written


def test_ingest_json_and_quarantine_json_shapes(tmp_path):
    wh = str(tmp_path / "w.duckdb")
    f = write(tmp_path / "o.csv", ORDERS + "O3,C3,someday,completed,1\nO1,C1,2011-01-01,completed,10\n")
    proc = run_cli("--warehouse", wh, "ingest", "orders", str(f), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"table", "files", "read", "loaded", "updated", "quarantined", "duplicates", "seconds"} <= set(out)
    assert (out["table"], out["read"], out["loaded"], out["quarantined"], out["duplicates"]) == ("orders", 4, 2, 1, 1)
    assert out["read"] == out["loaded"] + out["updated"] + out["quarantined"] + out["duplicates"]
    q = json.loads(run_cli("--warehouse", wh, "quarantine", "orders", "--json").stdout)
    assert q == [{"file": str(f), "line": 4, "column": "ordered_at", "reason": q[0]["reason"]}]
    assert "someday" in q[0]["reason"]


def test_status_json_shape(tmp_path):
    wh = str(tmp_path / "w.duckdb")
    run_cli("--warehouse", wh, "ingest", "orders", str(write(tmp_path / "o.csv", ORDERS)))
    st = json.loads(run_cli("--warehouse", wh, "status", "--json").stdout)
    orders = st["tables"]["orders"]
    assert set(orders) >= {"rows", "min_time", "max_time", "last_ingest"}
    assert orders["rows"] == 2 and orders["min_time"].startswith("2011-01-01") and orders["max_time"].startswith("2011-01-02")
    assert orders["last_ingest"] is not None
    assert st["tables"]["customers"] == {"rows": 0, "min_time": None, "max_time": None, "last_ingest": None}


def test_strict_cli_exit_code(tmp_path):
    wh = str(tmp_path / "w.duckdb")
    proc = run_cli("--warehouse", wh, "ingest", "orders", str(write(tmp_path / "o.csv", ORDERS + "O3,C3,x,completed,1\n")), "--strict")
    assert proc.returncode == 2 and "--strict" in proc.stderr and "line 4" in proc.stderr


def test_table_output_and_env_warehouse(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SHOPLENS_WAREHOUSE": str(tmp_path / "env.duckdb")}
    proc = subprocess.run([sys.executable, "-m", "shoplens.cli", "ingest", "orders", str(write(tmp_path / "o.csv", ORDERS))],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "Ingest accounting" in proc.stdout
    assert (tmp_path / "env.duckdb").exists()


@pytest.mark.parametrize("cmd", [["--help"], ["ingest", "--help"], ["status", "--help"], ["quarantine", "--help"], ["demo", "--help"]])
def test_help_explains(cmd):
    proc = run_cli(*cmd)
    assert proc.returncode == 0 and "Usage" in proc.stdout


def test_exit_codes_of_commands_are_kept(tmp_path):
    # `typer.Exit(n)` inside a command must reach the shell (no command: usage help, code 0 or 2)
    proc = run_cli("--warehouse", str(tmp_path / "w.duckdb"), "status", "--bogus-option")
    assert proc.returncode == 2 and "No such option" in (proc.stderr + proc.stdout)
    proc = run_cli("--version")
    assert proc.returncode == 0 and "shoplens" in proc.stdout

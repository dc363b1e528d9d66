"""`shoplens events ...`: events loaded by `shoplens ingest events`, JSON shapes, tables with user
text as text, user errors as one line, read-only use next to a running server (and through it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.store.warehouse import Warehouse

runner = CliRunner()
SECRET = "k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa"

EVENTS_CSV = """customer_id,event_type,event_name,occurred_at,channel
u1,view,Product Viewed,2024-05-06 10:00:00,web
u1,cart,Product Added,2024-05-06 10:04:00,web
u1,purchase,Order Completed,2024-05-06 10:20:00,web
u2,view,Product Viewed,2024-05-06 11:00:00,app
u2,cart,Product Added,2024-05-06 11:10:00,app
u3,view,Product Viewed,2024-05-07 09:00:00,web
u3,cart,Product Added,2024-05-08 10:00:00,web
u4,other,[bold]Promo[/bold],2024-05-07 09:00:00,web
u4,view,,2024-05-07 09:01:00,web
"""


def shoplens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (exit codes, stderr)."""
    return subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "120", **(env or {})})


@pytest.fixture(scope="module")
def wpath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("events-cli")
    (folder / "events.csv").write_text(EVENTS_CSV, encoding="utf-8")
    path = folder / "warehouse.duckdb"
    loaded = shoplens("-w", str(path), "ingest", "events", str(folder / "events.csv"), "--json",
                      env={"SHOPLENS_SECRET": SECRET})
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["loaded"] == 9
    return path


def run_json(wpath: Path, *args: str) -> dict:
    result = runner.invoke(app, ["-w", str(wpath), "events", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_funnel_json_contract(wpath: Path) -> None:
    out = run_json(wpath, "funnel", "--steps", "Product Viewed,Product Added,Order Completed", "--window", "1d")
    # u1 all three; u2 view and cart; u3 carts 25 h after the view; u4 views (a file-style row without a name)
    assert [(s["event"], s["users"], s["conversion"]) for s in out["steps"]] == [
        ("Product Viewed", 4, 1.0), ("Product Added", 2, 0.5), ("Order Completed", 1, 0.25)]
    assert out["steps"][1]["drop_off"] == 2 and out["window_seconds"] == 86400.0
    by = run_json(wpath, "funnel", "--steps", "view,cart", "--by", "channel")
    assert {g["value"]: g["steps"][1]["users"] for g in by["breakdown"]} == {"web": 1, "app": 1}


def test_every_command_answers_json(wpath: Path) -> None:
    assert run_json(wpath, "retention", "--period", "day", "--periods", "2")["cohorts"][0]["users"] == 2
    assert run_json(wpath, "paths", "--after", "Product Viewed", "--steps", "2")["paths"][0] == {
        "path": ["(end)"], "users": 2, "share": 0.5}  # u3 carts in a later session, u4 views last
    assert run_json(wpath, "sessions")["summary"]["sessions"] == 5  # u3 twice (a day apart)
    live = run_json(wpath, "live", "--now", "2024-05-06T11:10:00")
    assert [w["events"] for w in live["windows"]] == [1, 3, 5]


def test_tables_show_user_text_as_text(wpath: Path) -> None:
    result = runner.invoke(app, ["-w", str(wpath), "events", "paths", "--after", "[bold]Promo[/bold]"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[bold]Promo[/bold] -> view -> (end)" in result.output
    for command in (["funnel", "--steps", "view,cart", "--by", "channel"], ["retention"], ["sessions", "--by", "channel"],
                    ["live", "--now", "2024-05-07"]):
        shown = runner.invoke(app, ["-w", str(wpath), "events", *command])
        assert shown.exit_code == 0, shown.output


def test_user_mistakes_are_one_line_and_exit_2(wpath: Path, tmp_path: Path) -> None:
    unknown = shoplens("-w", str(wpath), "events", "funnel", "--steps", "view,Product Bought")
    assert unknown.returncode == 2 and "unknown event 'Product Bought'" in unknown.stderr
    assert "Traceback" not in unknown.stderr and len(unknown.stderr.strip().splitlines()) <= 3
    empty = tmp_path / "empty.duckdb"
    Warehouse(empty).close()  # a warehouse with every table, and no events
    none = shoplens("-w", str(empty), "events", "sessions")
    assert none.returncode == 2 and "no behaviour events in the warehouse" in none.stderr
    missing = shoplens("-w", str(tmp_path / "nothing.duckdb"), "events", "live")
    assert missing.returncode == 2 and "no warehouse here" in missing.stderr
    assert not (tmp_path / "nothing.duckdb").exists()  # read-only: nothing created


def _hold(path: Path, read_only: bool) -> subprocess.Popen:
    """Another process with the warehouse open (read-write: what a running `shoplens serve` does)."""
    code = ("import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro'); "
            "print('open', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), "ro" if read_only else "rw"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_runs_next_to_other_readers_and_says_what_to_do_next_to_a_writer(wpath: Path) -> None:
    reader = _hold(wpath, read_only=True)
    try:
        beside = shoplens("-w", str(wpath), "events", "funnel", "--steps", "view,cart", "--json")
        assert beside.returncode == 0, beside.stderr
    finally:
        reader.communicate("")
    writer = _hold(wpath, read_only=False)
    try:
        blocked = shoplens("-w", str(wpath), "events", "funnel", "--steps", "view,cart")
    finally:
        writer.communicate("")
    assert blocked.returncode == 2 and "--server" in blocked.stderr and "Traceback" not in blocked.stderr


def test_server_option_asks_a_running_server(wpath: Path, tmp_path: Path) -> None:
    """While `shoplens serve` holds the warehouse, `--server` gets the same answer from it."""
    from shoplens.serve.keys import KeyStore
    from tests.serve.test_kill_during_ingest import HANG, free_port

    path = tmp_path / "served" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(wpath, path)
    direct = shoplens("-w", str(path), "events", "funnel", "--steps", "view,cart,purchase", "--json")
    key = KeyStore.for_warehouse(path).create("analyst")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from shoplens.cli import main; main()", "-w", str(path), "serve", "--port", str(port),
         "--log-level", "warning"], env={**os.environ, "SHOPLENS_SECRET": SECRET, "SHOPLENS_ALLOW_WEAK_SECRET": "true"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + HANG
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        asked = shoplens("-w", str(path), "events", "funnel", "--steps", "view,cart,purchase", "--json", "--server", url,
                         env={"SHOPLENS_API_KEY": key})
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout)
        assert answer.pop("computed_at")  # the server says when it computed the answer
        assert answer == json.loads(direct.stdout)
        table = shoplens("events", "sessions", "--server", url, env={"SHOPLENS_API_KEY": key})
        assert table.returncode == 0 and "bounce rate" in table.stdout
        no_key = shoplens("events", "live", "--server", url, env={"SHOPLENS_API_KEY": ""})
        assert no_key.returncode == 2 and "SHOPLENS_API_KEY" in no_key.stderr
        wrong = shoplens("events", "funnel", "--steps", "view,Nope", "--server", url, env={"SHOPLENS_API_KEY": key})
        assert wrong.returncode == 2 and "400" in wrong.stderr and "Nope" in wrong.stderr
    finally:
        server.terminate()
        server.wait(timeout=HANG)

"""`shoplens privacy scan|mask|audit` and `shoplens erase`: JSON shapes and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app

runner = CliRunner()
DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # tests/conftest.py


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real entry point in a subprocess (exit codes, stderr)."""
    return subprocess.run([sys.executable, "-m", "shoplens.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture()
def chats(tmp_path: Path) -> Path:
    path = tmp_path / "chats.csv"
    pd.DataFrame({"id": [1, 2, 3], "text": ["我叫张伟，手机13812345678", "order 20231105 arrived", None]}).to_csv(path, index=False)
    return path


def test_scan_json_shape(chats) -> None:
    result = runner.invoke(app, ["privacy", "scan", str(chats), "--column", "text", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"row": 0, "type": "PERSON", "start": 2, "end": 4, "score": 0.8},
        {"row": 0, "type": "PHONE", "start": 7, "end": 18, "score": 1.0},
    ]
    table = runner.invoke(app, ["privacy", "scan", str(chats), "--column", "text"])
    assert table.exit_code == 0 and "13812345678" in table.stdout and "2 PII finding" in table.stdout


@pytest.mark.parametrize("operator, expected", [
    ("placeholder", "我叫<PERSON>，手机<PHONE>"),
    ("mask", "我叫**，手机*******5678"),
    ("redact", "我叫，手机"),
])
def test_mask_writes_the_masked_file(chats, tmp_path, operator, expected) -> None:
    out = tmp_path / f"{operator}.csv"
    result = runner.invoke(app, ["privacy", "mask", str(chats), "--column", "text", "--output", str(out),
                                 "--operator", operator, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_changed"] == 1
    frame = pd.read_csv(out, dtype=str)
    assert frame["text"][0] == expected and frame["text"][1] == "order 20231105 arrived" and frame["id"].tolist() == ["1", "2", "3"]


def test_masked_csv_cannot_run_spreadsheet_formulas(tmp_path) -> None:
    """Regression (#16 item 14): masked copies are CSVs shoplens writes; formulas are neutralised."""
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ["=1+1", "7"], "text": ["=HYPERLINK(\"x\") call 13812345678", "fine"]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["privacy", "mask", str(src), "--column", "text", "--output", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(out, dtype=str)
    assert back["id"].tolist() == ["'=1+1", "7"]
    assert back["text"].iloc[0].startswith("'=HYPERLINK") and "13812345678" not in back["text"].iloc[0]


def test_mask_pseudonym_uses_the_shop_secret(chats, tmp_path) -> None:
    outs = []
    for i in range(2):
        out = tmp_path / f"p{i}.jsonl"
        result = runner.invoke(app, ["-w", str(tmp_path / "w.duckdb"), "privacy", "mask", str(chats), "-c", "text", "-o", str(out),
                                     "--operator", "pseudonym"], env={"SHOPLENS_SECRET": "cli-secret-0123456789abcdef"})
        assert result.exit_code == 0, result.output
        outs.append(pd.read_json(out, lines=True)["text"][0])
    assert outs[0] == outs[1] and "13812345678" not in outs[0] and "<PHONE:" in outs[0]


@pytest.mark.parametrize("args, message", [
    (["privacy", "scan", "missing.csv", "--column", "text"], "file not found"),
    (["privacy", "scan", "{chats}", "--column", "body"], "no column 'body'"),
    (["privacy", "mask", "{chats}", "--column", "text", "--output", "{out}", "--operator", "shred"], "unknown operator"),
    (["privacy", "mask", "{chats}", "--column", "text", "--output", "{chats}"], "overwrite the input"),
])
def test_user_mistakes_exit_2_with_one_line(chats, tmp_path, args, message) -> None:
    args = [a.format(chats=chats, out=tmp_path / "o.csv") for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 2


@pytest.fixture()
def demo_copy(demo_warehouse_path, tmp_path) -> Path:
    dst = tmp_path / "demo" / "warehouse.duckdb"
    dst.parent.mkdir()
    shutil.copy(demo_warehouse_path, dst)
    return dst


def test_erase_and_verify_through_the_real_entry_point(demo_copy) -> None:
    env = {"SHOPLENS_SECRET": DEMO_SECRET}
    w = ["-w", str(demo_copy)]
    before = run_cli(*w, "erase", "--verify", "12348", "--json", env=env)
    assert before.returncode == 1 and json.loads(before.stdout)["remaining"] > 0
    erased = run_cli(*w, "erase", "--customer", "12348", "--json", env=env)
    assert erased.returncode == 0, erased.stderr
    body = json.loads(erased.stdout)
    assert body["customer"] == "12348" and body["total"] > 0 and body["removed"]["customers"] == 1
    after = run_cli(*w, "erase", "--verify", "12348", "--json", env=env)
    assert after.returncode == 0 and json.loads(after.stdout)["remaining"] == 0 and json.loads(after.stdout)["clean"]
    audit = run_cli(*w, "privacy", "audit", "--customer", "12348", "--json", env=env)
    assert audit.returncode == 0 and json.loads(audit.stdout)["count"] > 0


def test_audit_before_any_erasure_says_so(demo_copy) -> None:
    env = {"SHOPLENS_SECRET": DEMO_SECRET}
    proc = run_cli("-w", str(demo_copy), "privacy", "audit", env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "No erasures yet."
    one = run_cli("-w", str(demo_copy), "privacy", "audit", "--customer", "[b]12348", env=env)
    assert one.returncode == 0 and one.stdout.strip() == "No erasures recorded for customer [b]12348."
    body = json.loads(run_cli("-w", str(demo_copy), "privacy", "audit", "--json", env=env).stdout)
    assert body == {"data": [], "count": 0}


@pytest.mark.parametrize("args, message", [
    (["erase"], "exactly one of"),
    (["erase", "--customer", "1", "--verify", "1"], "exactly one of"),
    (["erase", "--customer", "no-such-customer"], "no customer 'no-such-customer' in the warehouse"),
])
def test_erase_mistakes_exit_2(demo_copy, args, message) -> None:
    proc = run_cli("-w", str(demo_copy), *args, env={"SHOPLENS_SECRET": DEMO_SECRET})
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_wrong_secret_exit_2(demo_copy) -> None:
    proc = run_cli("-w", str(demo_copy), "erase", "--verify", "12348", env={"SHOPLENS_SECRET": "w" * 40})
    assert proc.returncode == 2 and "does not match" in proc.stderr


def test_help_explains_options() -> None:
    for cmd in (["privacy", "scan", "--help"], ["privacy", "mask", "--help"], ["erase", "--help"]):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 0 and "--json" in result.stdout or "--operator" in result.stdout


def test_scan_on_two_processes_gives_the_same_findings(tmp_path) -> None:
    path = tmp_path / "many.csv"
    texts = ["call 13812345678 or mail a@b.co", "订单号 202311051234567890", "Dear Mrs Patel, thanks", None] * 1500
    pd.DataFrame({"text": texts}).to_csv(path, index=False)
    one = runner.invoke(app, ["privacy", "scan", str(path), "-c", "text", "--json"])
    two = runner.invoke(app, ["privacy", "scan", str(path), "-c", "text", "--json", "--processes", "2"])
    assert one.exit_code == two.exit_code == 0
    assert json.loads(one.stdout) == json.loads(two.stdout) and len(json.loads(one.stdout)) == 4500


def test_erase_reports_files_outside_shoplens_and_logs_the_event(demo_copy) -> None:
    """Issue #16 items 1 and 13 through the real entry point: files the shop keeps beside the warehouse are
    listed, byte-identical afterwards; the erasure is an event of the hash-chained access log."""
    import hashlib

    from shoplens.privacy.access_log import verify_chain

    folder = demo_copy.parent
    strangers = {"notes.md": b"call 12348 back\n", "tools/vip.py": b'VIP = "12348"\n',
                 ".venv/lib/_duckdb.cpython-311-x86_64-linux-gnu.so": b"\x7fELF\x00\x0012348\x00\xff"}
    for name, data in strangers.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    digest = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in strangers}
    env = {"SHOPLENS_SECRET": DEMO_SECRET}
    erased = run_cli("-w", str(demo_copy), "erase", "--customer", "12348", "--json", env=env)
    assert erased.returncode == 0, erased.stderr
    body = json.loads(erased.stdout)
    assert body["reported"] == [{"path": name, "reason": "not written by shoplens"} for name in sorted(strangers)]
    assert {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in strangers} == digest
    log = folder / "audit" / "access.jsonl"
    assert verify_chain(log) and [json.loads(line)["event"] for line in log.read_text().splitlines()] == ["erasure"]
    assert json.loads(log.read_text())["via"] == "cli" and b"12348" not in log.read_bytes()
    # a second erasure appends to the chain; the terminal names the files it did not touch
    again = run_cli("-w", str(demo_copy), "erase", "--customer", "12348", env=env)
    assert again.returncode == 0, again.stderr
    assert "these files outside shoplens mention the customer" in again.stdout
    assert all(name.split("/")[-1][:20] in again.stdout.replace("\n", "") for name in strangers)
    assert verify_chain(log) and len(log.read_text().splitlines()) == 2
    verify = run_cli("-w", str(demo_copy), "erase", "--verify", "12348", "--json", env=env)
    assert verify.returncode == 0 and len(json.loads(verify.stdout)["reported"]) == len(strangers)


@pytest.mark.parametrize("stranger", ["200", "2026", "%", "_"])
def test_erase_refuses_ids_that_are_not_customers(demo_copy, stranger) -> None:
    (demo_copy.parent / "api_keys.json").write_text('{"keys": [], "note": "2026 200 % _"}')
    before = (demo_copy.parent / "api_keys.json").read_bytes()
    proc = run_cli("-w", str(demo_copy), "erase", "--customer", stranger, env={"SHOPLENS_SECRET": DEMO_SECRET})
    assert proc.returncode == 2 and f"no customer '{stranger}' in the warehouse" in proc.stderr
    assert (demo_copy.parent / "api_keys.json").read_bytes() == before
    assert not (demo_copy.parent / "audit").exists()
    check = run_cli("-w", str(demo_copy), "erase", "--verify", stranger, env={"SHOPLENS_SECRET": DEMO_SECRET})
    assert check.returncode == 2 and "no customer" in check.stderr

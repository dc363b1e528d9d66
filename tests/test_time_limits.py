"""Tests check correctness, not the machine's load (issue #25, item 4).

A functional test may guard against a hang, but never with a limit a busy 2-core machine can
reach: every ``timeout=`` and every deadline is at least :data:`HANG_GUARD` seconds, and no
assertion compares a measured duration. Time limits belong in ``bench/`` only.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
HANG_GUARD = 600  # seconds: far above any step of the suite on a loaded machine
CLOCKS = {"perf_counter", "monotonic", "time", "process_time", "perf_counter_ns", "monotonic_ns"}


def _is_clock(node: ast.AST) -> bool:
    """``time.perf_counter()``, ``time.monotonic()``, ``time.time()``... (or the bare name)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in CLOCKS and isinstance(f.value, ast.Name)
            and f.value.id == "time") or (isinstance(f, ast.Name) and f.id in CLOCKS - {"time"})


def _short(node: ast.AST) -> bool:
    """A number below the hang guard."""
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
        node.value, bool) and node.value < HANG_GUARD


def _in_loop(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.While, ast.For)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
    return False


def time_limits(source: str, where: str = "<test>") -> list[str]:
    """The wall-clock limits in a test module's source (``where:line: what``)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            is_join = isinstance(node.func, ast.Attribute) and node.func.attr == "join"  # stops waiting, never fails
            for kw in node.keywords:
                # a short per-attempt timeout inside a retry loop is polling, bounded by the loop's own deadline
                if kw.arg == "timeout" and _short(kw.value) and not is_join and not _in_loop(node, parents):
                    found.append(f"{where}:{node.lineno}: timeout={kw.value.value}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            if (_is_clock(node.left) and _short(node.right)) or (_is_clock(node.right) and _short(node.left)):
                found.append(f"{where}:{node.lineno}: a deadline of {ast.unparse(node)}")
        elif isinstance(node, ast.Assert):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            if any(_is_clock(n) for n in ast.walk(node.test)) or names & {"elapsed", "duration", "took", "seconds"}:
                found.append(f"{where}:{node.lineno}: asserts on time: {ast.unparse(node.test)[:80]}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg, default in zip(reversed(node.args.args), reversed(node.args.defaults)):
                if arg.arg in ("seconds", "timeout") and _short(default):
                    found.append(f"{where}:{node.lineno}: {node.name}({arg.arg}={default.value})")
            for deco in node.decorator_list:  # pytest-timeout's marker
                if "mark.timeout" in ast.unparse(deco):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(deco)}")
    return found


def test_no_functional_test_has_a_wall_clock_limit() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if "data" in path.relative_to(TESTS).parts:
            continue
        found += time_limits(path.read_text(encoding="utf-8"), path.relative_to(TESTS.parent).as_posix())
    assert not found, "wall-clock limits in tests (use a hang guard of at least 600 s, or none):\n" + "\n".join(found)


def test_the_check_finds_each_kind_of_limit() -> None:
    """The forms the suite used to have: a subprocess limit, a short wait helper, an elapsed-time assert."""
    source = '''
import subprocess, time
def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + 10
def test_a():
    subprocess.run(["x"], timeout=120)
    t0 = time.perf_counter()
    elapsed = time.perf_counter() - t0
    assert elapsed < 5
    assert time.perf_counter() - t0 < 5
'''
    found = time_limits(source)
    assert [line.split(": ", 1)[1].split("(")[0].split(" ")[0] for line in found].count("asserts") == 2
    assert any("timeout=120" in f for f in found) and any("wait_for(seconds=10.0)" in f for f in found)
    assert any("deadline" in f for f in found)


def test_hang_guards_and_polling_pass() -> None:
    source = '''
import subprocess, time, httpx
HANG = 600
def test_b(thread):
    subprocess.run(["x"], timeout=600)
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        httpx.get("http://localhost/health", timeout=1)
    thread.join(timeout=10)
'''
    assert time_limits(source) == []

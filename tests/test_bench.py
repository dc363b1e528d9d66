"""Benchmarks stop loudly when their baseline library is missing (exit 2, what to install), never exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _without(tmp_path: Path, package: str) -> dict[str, str]:
    """An environment in which ``package`` cannot be imported (a shadowing package that raises)."""
    shim = tmp_path / "shim" / package
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(f"raise ImportError('{package} is not installed (test shim)')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "shim"), str(ROOT / "src")])
    return env


@pytest.mark.parametrize(("script", "args", "package"), [
    ("customers.py", ["--skip-scale", "--data-dir", "no-such-dir"], "lifetimes"),
    ("decide.py", ["speed"], "mabwiser"),
    ("pii.py", ["--data-dir", "no-such-dir"], "presidio_analyzer"),
])
def test_missing_baseline_stops_with_exit_2_and_says_what_to_install(tmp_path, script, args, package) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], env=_without(tmp_path, package),
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and package in last and "pip install 'shoplens[bench]'" in last
    assert "Traceback" not in proc.stderr


def test_docs_say_which_extra_each_benchmark_needs() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for script in sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name != "baselines.py"):
        assert f"| `bench/{script}" in text, f"docs/benchmarks.md does not say what bench/{script} needs"

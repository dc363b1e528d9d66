"""Small helpers for ingest tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ORDERS_HEADER = "order_id,customer_id,ordered_at,status,total_amount,currency\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point (exit codes, stderr) in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "shoplens.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def adds_up(r) -> bool:
    return r.read == r.loaded + r.updated + r.quarantined + r.duplicates

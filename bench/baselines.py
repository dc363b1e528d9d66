"""Baseline libraries of the benchmarks: imported up front, or the benchmark stops with one clear line.

A benchmark's figures are ratios against a baseline measured in the same run, so a run without the
baseline is not a result: it exits with code 2 and says what to install, instead of printing
"failed" and exiting 0. The libraries come with the `bench` extra (`pip install 'shoplens[bench]'`).

    >>> require("json", baseline="the standard library").__name__
    'json'
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def require(module: str, *, baseline: str, extra: str = "bench") -> ModuleType:
    """Import ``module`` for ``baseline``; exit 2 with what to install when it is missing or broken."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - ImportError, or a library that breaks on import
        print(f"error: the {baseline} baseline needs the Python package {module!r}, which cannot be imported "
              f"({type(exc).__name__}: {exc}); install the benchmark extra: pip install 'shoplens[{extra}]'",
              file=sys.stderr)
        raise SystemExit(2) from None


def fail(baseline: str, exc: BaseException) -> None:
    """A baseline that was installed but failed while measured: one line, exit code 1."""
    print(f"error: the {baseline} baseline failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    raise SystemExit(1)

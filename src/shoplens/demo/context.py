"""What every demo step gets: the settings, the open warehouse, the console, the report.

>>> sorted(DemoContext.__dataclass_fields__)[:4]
['console', 'data_dir', 'report', 'results']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from shoplens.config import Settings
from shoplens.insights.report import Report
from shoplens.store.warehouse import Warehouse


@dataclass
class DemoContext:
    """What each demo step gets; a step prints to ``console``, adds sections to ``report``
    and leaves what it found in ``results`` (keyed by step name) for tests."""

    settings: Settings
    warehouse: Warehouse
    console: Console
    report: Report
    data_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.warehouse.home

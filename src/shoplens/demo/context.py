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
    """What each demo step gets; a step prints its detail to ``console``, adds sections to ``report``
    and leaves what it found in ``results`` (keyed by step name) for tests.

    The short story and ``--verbose``: the runner gives steps a ``console`` that shows their detail
    only when verbose (otherwise it is kept, not printed) and prints, after each step, the one or two
    lines the step passed to :meth:`say` on ``story`` (the terminal), in either mode.
    """

    settings: Settings
    warehouse: Warehouse
    console: Console
    report: Report
    data_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    verbose: bool = True
    story: Console | None = None  # the terminal; None: the same as ``console``
    said: dict[str, list[str]] = field(default_factory=dict)
    step: str = ""

    def say(self, line: str) -> None:
        """One summary line of the current step (plain text, no markup), printed in the short story
        and with ``--verbose``.

        >>> import io; from rich.console import Console
        >>> ctx = DemoContext(None, None, Console(file=io.StringIO()), None, Path("."), step="ingest")
        >>> ctx.say("1 file loaded"); ctx.said
        {'ingest': ['1 file loaded']}
        """
        self.said.setdefault(self.step, []).append(line)

    @property
    def home(self) -> Path:
        return self.warehouse.home

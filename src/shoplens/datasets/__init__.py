"""Data shipped with shoplens: the bundled demo shop (``demo/``, sources in ``demo/SOURCE.md``).

>>> [name for _, _, name in DEMO_FILES][:2]
['customers.csv', 'online_retail_sample.csv.gz']
>>> (demo_data_dir() / "customers.csv").is_file()
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# (table or None for a preset, preset, file name) in load order: parents first.
DEMO_FILES: list[tuple[str | None, str | None, str]] = [
    ("customers", None, "customers.csv"),
    (None, "online-retail", "online_retail_sample.csv.gz"),
    ("reviews", None, "reviews.csv.gz"),
    ("support_messages", None, "support_messages.csv.gz"),
]


def demo_data_dir() -> Path:
    """Folder of the bundled demo shop (installed with the package)."""
    return Path(str(resources.files("shoplens.datasets") / "demo"))

"""The root command line: user errors print one line with their text intact (Rich markup escaped)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.ingest.helpers import ORDERS_HEADER, run_cli, write


def test_missing_spark_error_keeps_the_extra_name(tmp_path):
    """Regression: Rich read `[spark]` as markup and printed `pip install 'shoplens'`."""
    fake = tmp_path / "site" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("pyspark hidden by the test")\n')
    orders = write(tmp_path / "o.csv", ORDERS_HEADER + "O1,c1,2011-01-01,completed,10,GBP\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "shoplens.cli", "--warehouse", str(tmp_path / "w.duckdb"),
                           "--engine", "spark", "ingest", "orders", str(orders)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'shoplens[spark]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_error_naming_a_file_with_brackets(tmp_path):
    missing = tmp_path / "[bold]orders.csv"  # Rich would print "orders.csv"
    proc = run_cli("--warehouse", str(tmp_path / "w.duckdb"), "ingest", "orders", str(missing))
    assert proc.returncode == 2 and "[bold]orders.csv" in proc.stderr, proc.stderr


def test_tables_print_file_names_as_they_are(tmp_path):
    """A file called `[red]export :smile:.csv` is shown as such (no markup, no emoji)."""
    wh = str(tmp_path / "w.duckdb")
    odd = write(tmp_path / "[red]export :smile:.csv", ORDERS_HEADER + "O1,c1,not a date,completed,10,GBP\n")
    wide = {**os.environ, "COLUMNS": "400"}
    ingest = subprocess.run([sys.executable, "-m", "shoplens.cli", "--warehouse", wh, "ingest", "orders", str(odd)],
                            capture_output=True, text=True, env=wide)
    assert ingest.returncode == 0, ingest.stderr
    proc = subprocess.run([sys.executable, "-m", "shoplens.cli", "--warehouse", wh, "quarantine", "orders"],
                          capture_output=True, text=True, env=wide)
    assert proc.returncode == 0, proc.stderr
    assert "[red]export :smile:.csv" in proc.stdout

"""Regenerate the figures the docs quote from the demo shop, from the commands printed next to them.

A figure in README.md or docs/*.md that comes from the demo sits in a marked region::

    <!-- figures:ope -->
    ... text with the figures ...
    <!-- /figures -->

This script builds the demo (``shoplens demo``) in a temporary folder, or in a folder you
name (``--demo-dir``), computes every region's text from that build and rewrites the regions
in place; ``--check`` only reports stale regions (exit code 1). ``tests/test_docs.py`` checks that
the committed docs equal what this script computes now, so quoted figures cannot drift.

    python scripts/doc_figures.py                 # rebuild the demo, rewrite the regions
    python scripts/doc_figures.py --check         # exit 1 if a region is out of date
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
REGION = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)


@dataclass(frozen=True)
class DemoBuild:
    """A folder where ``shoplens demo`` ran, and what it printed (wide, no colours)."""

    folder: Path
    output: str

    @property
    def warehouse(self) -> Path:
        return self.folder / ".shoplens" / "warehouse.duckdb"

    def run(self, *args: str) -> str:
        """Run ``shoplens ARGS`` in the demo folder; its stdout (raises on a non-zero exit)."""
        proc = subprocess.run([sys.executable, "-m", "shoplens.cli", *args], cwd=self.folder, env=_env(),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"shoplens {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        return proc.stdout


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    return env


def build_demo(folder: Path) -> DemoBuild:
    """Run ``shoplens demo --verbose`` (the figures are in the steps' detail) in ``folder`` (its warehouse: ``folder/.shoplens/warehouse.duckdb``)."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "shoplens.cli", "demo", "--verbose"], cwd=folder, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"shoplens demo failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return DemoBuild(folder, proc.stdout)


def _search(pattern: str, text: str) -> re.Match:
    m = re.search(pattern, text)
    if m is None:
        raise ValueError(f"the demo's output no longer holds {pattern!r}: update scripts/doc_figures.py")
    return m


def ope(demo: DemoBuild) -> str:
    """docs/decisions.md: the demo's off-policy evaluation and learning (decide step of `shoplens demo`)."""
    out = demo.output
    logs = _search(r"Off-policy value of the bandit on ([\d,]+)\s+uniform logs \(true value ([\d.]+)\)", out)
    selected = _search(r"Trusted estimator: (\w+)", out).group(1)
    row = _search(rf"│ {selected}\s+│ ([\d.]+)\s+│ ([\d.]+)\s+│ ([\d.]+)\s+│", out)
    learned = _search(r"Learned DR policy: estimated ([\d.]+) \[([\d.]+), ([\d.]+)\] on (\d+) held-out rows; "
                      r"true ([\d.]+); logging policy ([\d.]+)", out)
    v, lo, hi, n_test, true, logging = learned.groups()
    return (f"In the demo (`shoplens demo`, {logs.group(1)} uniform logs from the demo shop's customers with\n"
            f"marketing consent, seed 0): the learned DR policy was estimated at {v} [{lo}, {hi}] on {n_test}\n"
            f"held-out rows; its true value in the simulator is {true}, the logging policy's {logging}. The\n"
            f"LinearTS bandit trained online in the same demo was estimated off-policy at {row.group(1)}\n"
            f"[{row.group(2)}, {row.group(3)}] (selected: {selected}) against a true value of {logs.group(2)}.\n")


def erasure(demo: DemoBuild) -> str:
    """docs/privacy.md: the demo's erasure of one customer (privacy step) and `erase --verify` after the demo."""
    import json

    erased = _search(r"Erased customer (\w+): ([\d,]+)\s+rows/items", demo.output)
    customer = erased.group(1)
    verify = json.loads(demo.run("erase", "--verify", customer, "--json"))
    models = sum(1 for place in verify["checked"] if place.startswith("file:models/"))
    return (f"The demo erases customer {customer} (a typical customer: the median number of orders among\n"
            f"customers with reviews and support messages): {erased.group(2)} rows/items removed, 0 references\n"
            f"left; after the whole demo (every other module's result tables, {models} model files and the HTML\n"
            f"report written after the erasure), `shoplens erase --verify {customer}` still finds "
            f"{verify['remaining']} references.\n")


def price_complaints(demo: DemoBuild) -> str:
    """docs/serving.md: the price complaints behind the demo's emerging-complaint alert rule (`shoplens text emerging`)."""
    import json
    from datetime import date

    rows = {r["aspect"]: r for r in json.loads(demo.run("text", "emerging", "--json"))}
    if "price" not in rows:
        raise ValueError("`shoplens text emerging` no longer lists the price aspect: update scripts/doc_figures.py")
    r = rows["price"]
    before, now = (date.fromisoformat(str(r[k])[:10]) for k in ("previous_period", "period"))
    side = "below" if r["p_value"] < 0.05 else "above"
    share = lambda x: f"{100 * x:.0f} %"  # noqa: E731
    return (f"complaints about price went from {share(r['negative_share_previous'])} of {int(r['mentions_previous'])} "
            f"mentions ({before:%B %Y}) to {share(r['negative_share'])}\nof {int(r['mentions'])} ({now:%B %Y}), "
            f"p = {r['p_value']:.3f}, {side} the 5 % level (`shoplens text emerging --json`).\n")


def cuped(demo: DemoBuild) -> str:
    """docs/decisions.md: CUPED's variance reduction on the demo's A/A test of real revenue (decide step)."""
    reduction = _search(r"CUPED variance reduction ([\d.]+)%", demo.output).group(1)
    return (f"On the demo shop's real revenue (an A/A split, `shoplens demo --verbose`, decide step) CUPED removes\n"
            f"{reduction} % of the variance.\n")


FIGURES: dict[str, Callable[[DemoBuild], str]] = {"ope": ope, "erasure": erasure, "price-complaints": price_complaints,
                                                  "cuped": cuped}


def doc_paths() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def regions_in_docs() -> dict[str, str]:
    """The text of every marked region in the docs, by name (a name is used once)."""
    found: dict[str, str] = {}
    for path in doc_paths():
        for m in REGION.finditer(path.read_text(encoding="utf-8")):
            if m.group("name") in found:
                raise ValueError(f"figures region {m.group('name')!r} appears twice")
            found[m.group("name")] = m.group("body")
    return found


def compute(demo: DemoBuild) -> dict[str, str]:
    """Every region's text computed from a demo build, for the regions the docs hold."""
    return {name: FIGURES[name](demo) for name in regions_in_docs() if name in FIGURES} | {
        name: f"(no computation for region {name!r} in scripts/doc_figures.py)\n"
        for name in regions_in_docs() if name not in FIGURES}


def rewrite(computed: dict[str, str]) -> list[Path]:
    """Write the computed texts into the docs' regions; returns the files that changed."""
    changed = []
    for path in doc_paths():
        text = path.read_text(encoding="utf-8")
        new = REGION.sub(lambda m: m.group(1) + computed.get(m.group("name"), m.group("body")) + m.group(4), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-dir", type=Path, help="build the demo in this folder (default: a temporary one)")
    parser.add_argument("--check", action="store_true", help="report stale regions, change nothing (exit 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shoplens-doc-figures-") as tmp:
        demo = build_demo(args.demo_dir or Path(tmp))
        computed = compute(demo)
        current = regions_in_docs()
        stale = sorted(n for n in computed if computed[n].strip() != current[n].strip())
        if args.check:
            for name in stale:
                print(f"stale: {name}\n{computed[name]}")
            return 1 if stale else 0
        changed = rewrite(computed)
        print(f"{len(computed)} region(s); rewrote {', '.join(p.name for p in changed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

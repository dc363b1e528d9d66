"""Build the bundled Hillstrom sample (src/shoplens/datasets/demo/hillstrom_sample.csv.gz).

    python scripts/build_hillstrom_sample.py --data-dir ../shared/data

A seeded random sample of 600 of the 64,000 customers of Kevin Hillstrom's MineThatData
e-mail test (2008), columns unchanged, for the tests and the demo; the full file stays
outside the repository (see docs/campaigns.md for the figures on all rows).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pandas as pd

ROWS = 600
SEED = 19


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding hillstrom_email/")
    args = parser.parse_args()
    frame = pd.read_csv(args.data_dir / "hillstrom_email" / "hillstrom.csv.gz")
    sample = frame.sample(n=ROWS, random_state=SEED).sort_index()
    out = Path(__file__).resolve().parents[1] / "src" / "shoplens" / "datasets" / "demo" / "hillstrom_sample.csv.gz"
    with gzip.GzipFile(out, "wb", mtime=0) as fh:  # mtime 0: the same inputs give the same bytes
        fh.write(sample.to_csv(index=False).encode("utf-8"))
    print(f"wrote {out} ({len(sample)} rows)")


if __name__ == "__main__":
    main()

"""Where an ingest's CPU goes: cProfile (process CPU time, every thread) of one shoplens ingest of
order_items, the path `bench/ingest.py` measures, on the CSV files that bench made.

    python bench/ingest.py --rows 3000000 --repeats 1        # makes /tmp/shoplens-bench-ingest/rows-3000000
    python bench/profile_ingest.py /tmp/shoplens-bench-ingest/rows-3000000 --top 15

DuckDB's calls are not separate entries in cProfile (pybind11 functions): the statements' CPU is the
own time of the shoplens function that runs them (``store/engine.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="holds orders.csv and order_items.csv (bench/ingest.py's --workdir/rows-N)")
    ap.add_argument("--top", type=int, default=15, help="functions listed, by own CPU time")
    ap.add_argument("--out", type=Path, help="also write the raw profile here (pstats)")
    a = ap.parse_args()
    from shoplens.config import load_settings
    from shoplens.services import ingest_files, open_warehouse

    with tempfile.TemporaryDirectory() as d:
        settings = load_settings(warehouse=Path(d) / "w.duckdb", memory_limit="1GB")
        with open_warehouse(settings) as wh:
            ingest_files(settings, wh, [a.folder / "orders.csv"], table="orders")
            prof = cProfile.Profile(time.process_time)
            load0, t0 = os.getloadavg()[0], time.perf_counter()
            prof.enable()
            r = ingest_files(settings, wh, [a.folder / "order_items.csv"], table="order_items")
            prof.disable()
            print(f"rows read {r.read:,}, loaded {r.loaded:,}; wall {time.perf_counter() - t0:.2f} s; "
                  f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    if a.out:
        prof.dump_stats(a.out)
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"CPU {total:.3f} s (process, every thread)")
    stats.sort_stats("tottime").print_stats(a.top)


if __name__ == "__main__":
    main()

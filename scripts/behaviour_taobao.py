"""Behaviour analytics on the real Taobao UserBehavior sample (the figures in docs/behaviour.md).

    python scripts/behaviour_taobao.py --data-dir ../shared/data

Ingests ``taobao_userbehavior_head/user_behavior_head.csv.gz`` (815 users, 84,475 events,
2017-11-25 .. 2017-12-03 Beijing time; pv/cart/fav/buy -> view/cart/favorite/purchase) with
``shoplens ingest --preset taobao-userbehavior`` into a temporary warehouse, then runs the same
functions as ``shoplens events ...``: the funnel view -> cart -> purchase within 1 day (and with
a breakdown by event day), daily and weekly retention, the top paths after a cart, sessions and
the live counters at 2017-12-03 12:00 UTC. The 35 rows stamped outside the documented window are
left out (``--from 2017-11-24T16:00`` = 2017-11-25 00:00 Beijing). Prints markdown tables and one
JSON line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shoplens.behaviour import funnel, live_counters, retention, sessions, top_paths  # noqa: E402
from shoplens.config import Settings  # noqa: E402
from shoplens.jsonsafe import dumps  # noqa: E402
from shoplens.services import ingest_files  # noqa: E402
from shoplens.store.warehouse import Warehouse  # noqa: E402

START, END = "2017-11-24T16:00", "2017-12-03T16:00"  # the documented window, Beijing midnight to midnight, in UTC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding taobao_userbehavior_head/")
    args = parser.parse_args()
    source = args.data_dir / "taobao_userbehavior_head" / "user_behavior_head.csv.gz"
    if not source.exists():
        sys.exit(f"{source}: not found (see --data-dir)")
    with tempfile.TemporaryDirectory(prefix="behaviour-taobao-") as folder:
        path = Path(folder) / "warehouse.duckdb"
        settings = Settings(warehouse=path, secret="behaviour-taobao-figures-secret-0123456789")
        with Warehouse(path) as wh:
            loaded = ingest_files(settings, wh, [source], preset="taobao-userbehavior")
        with Warehouse(path, read_only=True) as wh:
            started = time.perf_counter()
            steps = funnel(wh, "view,cart,purchase", window="1d", start=START, end=END)
            funnel_seconds = time.perf_counter() - started
            spec = funnel(wh, "Product Viewed,Product Added,Order Completed", window="1d", start=START, end=END)
            weekly = retention(wh, periods=2, start=START, end=END)
            daily = retention(wh, start_event="view", return_event="purchase", period="day", periods=7,
                              start=START, end=END)
            paths = top_paths(wh, "cart", steps=3, limit=5, start=START, end=END)
            visits = sessions(wh, start=START, end=END)
            live = live_counters(wh, now="2017-12-03T12:00")
    assert [s["users"] for s in spec.steps] == [s["users"] for s in steps.steps]  # spec names mean the same here

    print(f"events loaded: {loaded.loaded:,}\n")
    print("| step | users | conversion | from previous | median time to convert |\n|---|---|---|---|---|")
    for s in steps.steps:
        median = s["median_seconds_to_convert"]
        print(f"| {s['event']} | {s['users']:,} | {100 * s['conversion']:.1f} % | {100 * s['step_conversion']:.1f} % | "
              f"{'' if median is None else f'{median / 3600:.1f} h'} |")
    print(f"\nfunnel computed in {funnel_seconds:.2f} s\n")
    print("| cohort (week of) | users | week 0 | week 1 | week 2 |\n|---|---|---|---|---|")
    for c in weekly.cohorts:
        cells = " | ".join("" if v is None else f"{100 * v:.1f} %" for v in c["retention"])
        print(f"| {c['cohort']} | {c['users']:,} | {cells} |")
    print("\nview -> purchase, by day (cohort = day of first view, UTC):\n")
    print("| cohort | users | " + " | ".join(f"day {i}" for i in range(8)) + " |\n" + "|---" * 10 + "|")
    for c in daily.cohorts:
        cells = " | ".join("" if v is None else f"{100 * v:.1f} %" for v in c["retention"])
        print(f"| {c['cohort']} | {c['users']:,} | {cells} |")
    print(f"\ntop paths after cart ({paths.users:,} users):\n\n| path | users | share |\n|---|---|---|")
    for p in paths.paths:
        print(f"| cart -> {' -> '.join(p['path'])} | {p['users']:,} | {100 * p['share']:.1f} % |")
    s = visits.summary
    print(f"\nsessions: {s['sessions']:,} sessions of {s['users']:,} users, {s['events_per_session']:.2f} events per "
          f"session, median {s['median_seconds'] / 60:.1f} min, mean {s['mean_seconds'] / 60:.1f} min, "
          f"bounce rate {100 * s['bounce_rate']:.1f} %")
    print("live at 2017-12-03 12:00 UTC: " + ", ".join(f"{w['window']} {w['events']:,} events / {w['users']:,} users"
                                                     for w in live["windows"]))
    print(dumps({"funnel": steps.to_dict(), "weekly_retention": weekly.to_dict(), "paths": paths.to_dict(),
                 "sessions": visits.to_dict(), "live": live, "funnel_seconds": round(funnel_seconds, 3)}))


if __name__ == "__main__":
    main()

"""Build the demo's event sample: the complete histories of the first users of the Taobao
UserBehavior head (``../shared/data/taobao_userbehavior_head``), rows unchanged, header kept.

    python scripts/build_taobao_events_sample.py --data-dir ../shared/data

The same input gives the same file (users in file order; no randomness).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "shoplens" / "datasets" / "demo" / "taobao_userbehavior_sample.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--users", type=int, default=60, help="complete histories of this many users")
    args = parser.parse_args()
    source = args.data_dir / "taobao_userbehavior_head" / "user_behavior_head.csv.gz"
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    users: list[str] = []
    kept = [header]
    for row in body:
        if row[0] not in users:
            if len(users) == args.users:
                break
            users.append(row[0])
        kept.append(row)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(kept)
    # mtime=0: the same rows give the same bytes
    OUT.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))
    print(f"{OUT.name}: {len(kept) - 1} rows of {len(users)} users, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()

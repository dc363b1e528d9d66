"""Event presets: files of another layout read as Segment / RudderStack calls, so a backfill or a
public sample goes through exactly the collector path live events take.

``taobao-userbehavior``: the Taobao UserBehavior log (``user_id,item_id,category_id,
behavior_type,timestamp``, with or without that header; Unix seconds): ``pv`` -> ``Product
Viewed``, ``cart`` -> ``Product Added``, ``fav`` -> ``Product Added to Wishlist``, ``buy`` ->
``Order Completed`` (no order id in the log: a purchase event, no order row). The user id is
the shop's customer id; the message id is built from the row, so a repeated row is a duplicate.
With ``anonymous_until_purchase`` each user's events before their first purchase are sent
under an anonymous device id, and an ``identify`` at that purchase merges them (how a
storefront sees a visitor who signs in at checkout).

>>> import io
>>> rows = io.StringIO("1,2268318,2520377,pv,1511544070\\n1,2268318,2520377,buy,1511544090\\n")
>>> calls = list(taobao_userbehavior(rows, anonymous_until_purchase=True))
>>> [(c["type"], c.get("event"), c.get("userId"), c.get("anonymousId")) for c in calls]
[('track', 'Product Viewed', None, 'tb-device-1'), ('identify', None, '1', 'tb-device-1'), ('track', 'Order Completed', '1', 'tb-device-1')]
>>> calls[0]["timestamp"], calls[0]["properties"]
('2017-11-24T17:21:10Z', {'product_id': '2268318', 'category': '2520377'})
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from shoplens.errors import UserInputError

TAOBAO_EVENTS = {"pv": "Product Viewed", "cart": "Product Added", "fav": "Product Added to Wishlist",
                 "buy": "Order Completed"}


def taobao_userbehavior(lines: IO[str], *, anonymous_until_purchase: bool = False) -> Iterator[dict[str, Any]]:
    """Segment calls for the rows of a Taobao UserBehavior CSV (see the module doc)."""
    identified: set[str] = set()
    for n, row in enumerate(csv.reader(lines), start=1):
        if not row or (n == 1 and not row[0].strip().isdigit()):
            continue  # the header, when there is one
        if len(row) < 5:
            yield {"__invalid__": f"line {n}: expected 5 columns (user, item, category, behavior, timestamp)"}
            continue
        user, item, category, behavior, ts = (v.strip() for v in row[:5])
        event = TAOBAO_EVENTS.get(behavior)
        call: dict[str, Any] = {"type": "track", "event": event or behavior,
                                "messageId": f"taobao:{user}:{item}:{behavior}:{ts}",
                                "properties": {"product_id": item, "category": category}}
        try:
            call["timestamp"] = datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            call["timestamp"] = ts  # the collector rejects it with its reason
        if not anonymous_until_purchase:
            call["userId"] = user
        else:
            call["anonymousId"] = f"tb-device-{user}"
            if behavior == "buy" and user not in identified:
                identified.add(user)
                yield {"type": "identify", "userId": user, "anonymousId": f"tb-device-{user}",
                       "timestamp": call["timestamp"], "messageId": f"taobao:identify:{user}"}
            if user in identified:
                call["userId"] = user
        yield call


EVENT_PRESETS: dict[str, Callable[..., Iterator[dict[str, Any]]]] = {"taobao-userbehavior": taobao_userbehavior}


def read_calls(path: str | Path, preset: str | None = None, **options: Any) -> Iterator[dict[str, Any]]:
    """The calls in ``path``: JSON Lines of Segment payloads (a line that is not JSON becomes an
    ``__invalid__`` entry, rejected with its reason), or a file of a preset's layout; ``.gz`` read as gzip."""
    import json

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: no such file (give a JSON Lines file of Segment calls, or --preset)")
    if preset is not None and preset not in EVENT_PRESETS:
        raise UserInputError(f"unknown event preset {preset!r}; choose one of: {', '.join(EVENT_PRESETS)}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        if preset is not None:
            yield from EVENT_PRESETS[preset](fh, **options)
            return
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                yield {"__invalid__": f"line {n}: not JSON ({exc})"}

"""Identity stitching: anonymous visitors merged into the shop's customers.

Every ``identify`` (``userId`` + ``anonymousId``) and ``alias`` (``previousId`` -> ``userId``)
adds a row to the merge graph ``_identity_links`` (anonymous identity, customer, how, when,
message id), both ids stored as the warehouse stores customer ids (keyed pseudonyms of
``anon:<anonymousId>`` and of the shop's id, see :mod:`shoplens.privacy.ids`). :func:`stitch`
then moves the anonymous history (events, orders) to the customer: what happened before the
identify, and what arrives later under the anonymous id only, on every device that was
identified as that customer. An anonymous id identified as two customers (a shared device)
stays with the first one: history never moves between customers.

The table has a ``customer_id`` column, so an erasure of the customer removes its links, and
:func:`linked_anonymous_ids` lets the erasure reach the merged anonymous ids too
(:mod:`shoplens.privacy.erasure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

LINKS_SQL = """CREATE TABLE IF NOT EXISTS _identity_links (
    anonymous_id VARCHAR, customer_id VARCHAR, via VARCHAR, linked_at TIMESTAMP, message_id VARCHAR)"""
STITCHED_TABLES = ("events", "orders")


def ensure_links(con: Any) -> None:
    con.execute(LINKS_SQL)


def add_links(con: Any, rows: Sequence[tuple[str | None, str, str, datetime, str]]) -> int:
    """Record links (anonymous id, customer id, via, linked_at, message id), warehouse ids; returns
    how many anonymous ids were not linked before."""
    ensure_links(con)
    if not rows:
        return 0
    before = con.execute("SELECT count(DISTINCT anonymous_id) FROM _identity_links").fetchall()[0][0]
    con.executemany("INSERT INTO _identity_links VALUES (?, ?, ?, ?, ?)", [list(r) for r in rows])
    after = con.execute("SELECT count(DISTINCT anonymous_id) FROM _identity_links").fetchall()[0][0]
    return int(after - before)


def stitch(con: Any, anonymous_ids: Sequence[str] | None = None) -> int:
    """Move the rows of linked anonymous identities (all, or those in ``anonymous_ids``) to their
    customer in ``events`` and ``orders``; returns the rows moved."""
    ensure_links(con)
    where = "" if anonymous_ids is None else "AND anonymous_id IN (SELECT unnest(?))"
    params = [] if anonymous_ids is None else [list(anonymous_ids)]
    con.execute("CREATE OR REPLACE TEMP TABLE __stitch AS SELECT anonymous_id, arg_min(customer_id, linked_at) AS customer_id "
                f"FROM _identity_links WHERE anonymous_id IS NOT NULL {where} GROUP BY 1", params)
    moved = 0
    if not con.execute("SELECT count(*) FROM __stitch").fetchall()[0][0]:  # none linked: no table scans
        con.execute("DROP TABLE __stitch")
        return 0
    for table in STITCHED_TABLES:
        n = con.execute(f"SELECT count(*) FROM {table} t JOIN __stitch s ON t.customer_id = s.anonymous_id").fetchall()[0][0]
        if n:
            con.execute(f"UPDATE {table} SET customer_id = s.customer_id FROM __stitch s "
                        f"WHERE {table}.customer_id = s.anonymous_id")
        moved += int(n)
    con.execute("DROP TABLE __stitch")
    return moved


def drop_merged(con: Any, anonymous_ids: Sequence[str]) -> int:
    """Drop the ``customers`` rows of linked anonymous identities in ``anonymous_ids`` (warehouse ids):
    rows the collector added for a guest checkout, whose orders :func:`stitch` has moved to the
    customer. Returns the rows dropped."""
    if not anonymous_ids:
        return 0
    linked = ("SELECT DISTINCT anonymous_id FROM _identity_links WHERE anonymous_id IN (SELECT unnest(?)) "
              "AND customer_id IS NOT NULL")
    n = con.execute(f"SELECT count(*) FROM customers WHERE customer_id IN ({linked})", [list(anonymous_ids)]).fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM customers WHERE customer_id IN ({linked})", [list(anonymous_ids)])
    return int(n)


def linked_anonymous_ids(con: Any, customer_ids: Sequence[str]) -> list[str]:
    """The anonymous identities (warehouse ids) merged into ``customer_ids`` (warehouse ids)."""
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = '_identity_links'").fetchall()[0][0]
    if not has:
        return []
    rows = con.execute("SELECT DISTINCT anonymous_id FROM _identity_links WHERE customer_id IN (SELECT unnest(?)) "
                       "AND anonymous_id IS NOT NULL ORDER BY 1", [list(customer_ids)]).fetchall()
    return [r[0] for r in rows]

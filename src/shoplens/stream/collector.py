"""The collector: accept Segment / RudderStack events durably and exactly once, then fold them
into the warehouse in micro-batches through the one ingest path.

:meth:`Collector.collect` checks each payload (:func:`shoplens.stream.spec.check`), counts
re-sent ``messageId``\\ s as duplicates, writes the accepted ones to the durable log
(:class:`shoplens.stream.log.EventLog`, fsynced) and answers
``{"accepted": N, "duplicates": D, "rejected": [{"index": i, "reason": ...}]}``.
:meth:`Collector.fold` writes what the log holds into the warehouse:

1. ``identify`` / ``alias`` -> the merge graph ``_identity_links`` (:mod:`shoplens.stream.identity`);
2. products seen in events -> ``products`` (new products; known ones only get the fields the
   catalogue left empty: the catalogue file's values are never overwritten);
3. ``Order Completed`` with ``order_id`` -> ``orders`` + ``order_items`` (an order already in the
   warehouse, e.g. from a file export, is left as it is; a file export arriving later replaces
   the event's row under the same ``order_id``: one order, one row; a guest checkout, from an
   anonymous visitor only, is an order of ``anon:<anonymousId>``, moved to the customer at step 5);
   ``Order Refunded`` marks the order ``refunded``;
4. ``track`` / ``page`` -> ``events`` (one row per event, ``occurred_at`` the client's time,
   ``received_at`` shoplens' time);
5. stitching: anonymous history moves to the customer it was identified as.

Steps 2-4 go through :func:`shoplens.ingest.ingest` with the shop's privacy policy, so
pseudonyms, validation, quarantine and the accounting (read = loaded + updated + quarantined +
duplicates) are those of a file ingest. Events are written last and carry their message id:
a fold interrupted by a crash is simply run again (the log is deleted only after), and
message ids already in the warehouse are skipped.

>>> import pathlib, tempfile
>>> from shoplens.config import Settings
>>> from shoplens.store.warehouse import Warehouse
>>> settings = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> with Warehouse(settings.warehouse) as wh:
...     collector = Collector(wh, settings)
...     sent = collector.collect([{"type": "track", "event": "Product Viewed", "anonymousId": "a1", "messageId": "m1",
...                                "properties": {"product_id": "p1"}},
...                               {"type": "identify", "userId": "12348", "anonymousId": "a1", "messageId": "m2"},
...                               {"type": "track", "event": "Product Viewed", "anonymousId": "a1", "messageId": "m1"},
...                               {"type": "track", "userId": "12348"}])
...     folded = collector.fold(wh)
...     collector.close()
>>> sent.to_dict()
{'accepted': 2, 'duplicates': 1, 'rejected': [{'index': 3, 'reason': 'track needs `event` (the event name, e.g. "Product Viewed")'}]}
>>> folded.events.loaded, folded.identities, sorted(folded.customers)
(1, 1, ['12348', 'anon:a1'])
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shoplens.ingest.loader import Counts, IngestResult, ingest
from shoplens.ingest.sources import ParquetSource
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.warehouse import Warehouse, utcnow
from shoplens.stream import identity
from shoplens.stream.log import EventLog, log_folder
from shoplens.stream.spec import Event, anonymous_customer, check, product_line

EVENT_COLUMNS = ["customer_id", "session_id", "event_type", "product_id", "occurred_at", "category", "query",
                 "channel", "event_name", "anonymous_id", "message_id", "received_at"]


@dataclass
class Rejected:
    index: int
    reason: str


@dataclass
class CollectResult:
    """The answer to one request (or one ``events send`` file)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": [asdict(r) for r in self.rejected]}

    def add(self, other: CollectResult, offset: int = 0) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += [Rejected(r.index + offset, r.reason) for r in other.rejected]


@dataclass
class FoldResult:
    """What one fold wrote. ``customers``: the shop-facing ids whose data changed (the shop's
    customer id, or ``anon:<anonymousId>``), for callbacks such as cache invalidation."""

    folded: int = 0  # log records read
    skipped: int = 0  # already in the warehouse (a fold repeated after a crash)
    events: Counts = field(default_factory=Counts)
    orders: Counts = field(default_factory=Counts)
    order_items: Counts = field(default_factory=Counts)
    products: Counts = field(default_factory=Counts)
    customers_added: Counts = field(default_factory=Counts)  # new customers (identified or ordering)
    identities: int = 0  # anonymous ids newly linked to a customer
    guests_merged: int = 0  # customers rows of guest checkouts dropped: the visitor was identified
    stitched_rows: int = 0
    refunds: int = 0
    customers: set[str] = field(default_factory=set)
    visible_after: list[float] = field(default_factory=list)  # per event: seconds from receipt to the commit

    @property
    def changed(self) -> bool:
        """Whether the fold changed any table (rows written, moved or re-statused).

        >>> FoldResult().changed, FoldResult(identities=1).changed
        (False, True)
        """
        counts = (self.events, self.orders, self.order_items, self.products, self.customers_added)
        return bool(any(c.loaded or c.updated for c in counts) or self.identities or self.stitched_rows or self.refunds
                    or self.guests_merged)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("customers", "visible_after")}
        out["customers"] = len(self.customers)
        return out

    def add(self, other: FoldResult) -> None:
        """Add ``other``'s counts to these (several folds of one backfill)."""
        for name in ("folded", "skipped", "identities", "guests_merged", "stitched_rows", "refunds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("events", "orders", "order_items", "products", "customers_added"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for c in ("read", "loaded", "updated", "quarantined", "duplicates"):
                setattr(mine, c, getattr(mine, c) + getattr(theirs, c))
        self.customers |= other.customers
        self.visible_after += other.visible_after


class Collector:
    """Accepts events into the durable log of ``wh`` and folds them into it (see the module doc).

    ``settings``: the shop's :class:`~shoplens.config.Settings` (privacy policy, secret,
    ``max_future_days``). One collector per warehouse and process; thread-safe.
    """

    def __init__(self, wh: Warehouse, settings: Any, *, log: EventLog | None = None, fold_only: bool = False) -> None:
        self.settings = settings
        self.max_future_days = int(getattr(settings, "max_future_days", 1))
        self._lock = threading.Lock()
        self._fold_lock = threading.Lock()
        self._policy_bound = False
        self._enriched: dict[str, dict[str, Any]] = {}  # product id -> the event fields last folded
        self._guest_of: dict[str, str] = {}  # anon:<id> -> the customer it is linked to (per fold)
        identity.ensure_links(wh.con)
        self._seen: set[str] = set()
        # fold_only: records come from another reader (fold_records); no log, no ids kept in memory
        self.log: EventLog | None = None if fold_only else (log or EventLog(log_folder(wh.path)))
        self._verified = self.log is not None and not self.log.segments()  # see _not_stored
        if self.log is not None:
            self._seen |= set(self._stored_message_ids(wh))
            for record in self.log.read(self.log.segments()):
                self._seen.add(record["m"])

    @staticmethod
    def _stored_message_ids(wh: Warehouse) -> Iterable[str]:
        for sql in ("SELECT DISTINCT message_id FROM events WHERE message_id IS NOT NULL",
                    "SELECT DISTINCT message_id FROM _identity_links WHERE message_id IS NOT NULL"):
            for (mid,) in wh.con.execute(sql).fetchall():
                yield mid

    @property
    def pending(self) -> int:
        """Events in the log not yet folded."""
        return self.log.pending if self.log is not None else 0

    def _require_log(self) -> EventLog:
        if self.log is None:
            raise RuntimeError("this collector only folds records another reader delivers (fold_only=True)")
        return self.log

    def check_call(self, payload: Any, *, kind: str | None = None,
                   received_at: datetime | None = None) -> tuple[Event | None, str | None]:
        """(the event, None) when ``payload`` would be accepted (spec checks, a ``timestamp`` at most
        ``max_future_days`` ahead of ``received_at``), else (None, the reason). Duplicates are not
        judged here: :meth:`collect` counts them against the ids it holds, a fold skips ids stored."""
        now = received_at or utcnow()
        event, why = check(payload, kind=kind, received_at=now)
        if event is None:
            return None, why or "invalid event"
        if event.occurred_at > now + timedelta(days=self.max_future_days):
            return None, (f"`timestamp` {event.occurred_at.isoformat()} is more than "
                          f"{self.max_future_days} day(s) in the future")
        return event, None

    def collect(self, payloads: Sequence[Any], *, kind: str | None = None,
                received_at: datetime | None = None) -> CollectResult:
        """Check ``payloads``, drop re-sent message ids, write the rest to the log (fsynced) and
        say what happened to each. ``kind``: the call the endpoint implies (``/track``: ``track``)."""
        log = self._require_log()
        now = received_at or utcnow()
        result = CollectResult()
        records = []
        with self._lock:
            batch_ids: set[str] = set()
            for i, payload in enumerate(payloads):
                event, why = self.check_call(payload, kind=kind, received_at=now)
                if event is None:
                    result.rejected.append(Rejected(i, why or "invalid event"))
                    continue
                if event.message_id in self._seen or event.message_id in batch_ids:
                    result.duplicates += 1
                    continue
                batch_ids.add(event.message_id)
                records.append(event.to_record(received=False))
            log.append(records, common={"r": now.isoformat()})  # on disk (fsync) before anyone is told "accepted"
            self._seen |= batch_ids
        result.accepted = len(records)
        return result

    # ------------------------------------------------------------------ fold
    def fold(self, wh: Warehouse) -> FoldResult:
        """Write every logged event into ``wh`` (see the module doc); returns what changed.
        One fold at a time; the segments folded are removed only once the warehouse has them."""
        log = self._require_log()
        with self._fold_lock:
            segments = log.rotate()
            if not segments:
                return FoldResult()
            try:
                result = self._fold(wh, list(log.read(segments)))
            except BaseException:
                self._verified = False  # part of it may be in the warehouse: the next fold checks ids
                raise
            log.remove(segments)
            self._verified = True
            return result

    def fold_records(self, wh: Warehouse, records: list[dict[str, Any]]) -> FoldResult:
        """Fold log records another reader delivered (:meth:`Event.to_record` layout with the receive
        time ``r``): the same steps as :meth:`fold`. The warehouse is always asked which message ids
        it holds, so a batch delivered twice (a stream replaying a batch it had not committed) is
        written once. Used by the Spark job (:mod:`shoplens.stream.spark_job`)."""
        with self._fold_lock:
            self._verified = False
            return self._fold(wh, records)

    def _fold(self, wh: Warehouse, records: list[dict[str, Any]]) -> FoldResult:
        """The fold of ``records`` (log records, checked when accepted). Behaviour rows and product
        fields are built from the records column by column; only identify / alias calls and orders
        (a few) become :class:`~shoplens.stream.spec.Event` objects."""
        result = FoldResult(folded=len(records))
        if not self._policy_bound:  # the shop secret bound before ids are computed: links and rows agree
            from shoplens.privacy.ingest import write_policy

            write_policy(wh, self.settings)
            self._policy_bound = True
        records = self._not_stored(wh, records)
        result.skipped = result.folded - len(records)
        if not records:
            return result
        for r in records:
            user, anon = r.get("u"), r.get("a")
            if r["k"] == "alias":
                result.customers |= {user, anonymous_customer(r["p"])}
            elif user:
                result.customers.add(user)
                if anon:
                    result.customers.add(anonymous_customer(anon))
            elif anon:
                result.customers.add(anonymous_customer(anon))
        special = [Event.from_record(r) for r in records if "d" in r or r["k"] in ("identify", "alias")]
        links = self._links(wh, special)
        result.identities = identity.add_links(wh.con, links)
        self._products(wh, records, result)
        self._resolve_guests(wh, special)
        self._customers(wh, special, result)
        self._orders(wh, special, result)
        behaviour = [r for r in records if "t" in r]
        if behaviour:
            result.events = self._ingest(wh, "events", self._events_frame(behaviour))
        anonymous = {a for a, *_ in links if a} | set(to_internal(wh, sorted({anonymous_customer(r["a"])
                                                                              for r in records if r.get("a")})))
        if anonymous:  # visitors in this fold: move the history of those linked to a customer
            with wh.transaction() as con:
                result.stitched_rows = identity.stitch(con, sorted(anonymous))
                result.guests_merged = identity.drop_merged(con, sorted(anonymous))
        done = utcnow()
        result.visible_after = [(done - datetime.fromisoformat(r["r"])).total_seconds() for r in records]
        return result

    def _not_stored(self, wh: Warehouse, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records whose message id the warehouse does not hold yet (first of each id).

        The warehouse is asked only while a fold may have been cut short (the first fold after a
        start that found segments in the log, or the fold after one that failed): otherwise every
        logged record passed :meth:`collect`'s check against the ids stored and collected."""
        stored: set[str] = set()
        if not self._verified:
            ids = list({r["m"] for r in records})
            stored = {r[0] for r in wh.con.execute(
                "SELECT message_id FROM events WHERE message_id IN (SELECT unnest(?)) UNION "
                "SELECT message_id FROM _identity_links WHERE message_id IN (SELECT unnest(?))", [ids, ids]).fetchall()}
        out, seen = [], set()
        for r in records:
            mid = r["m"]
            if mid not in stored and mid not in seen:
                seen.add(mid)
                out.append(r)
        return out

    @staticmethod
    def _links(wh: Warehouse, events: list[Event]) -> list[tuple[str | None, str, str, datetime, str]]:
        calls = [e for e in events if e.kind in ("identify", "alias")]
        if not calls:
            return []
        anon = [anonymous_customer(e.previous_id if e.kind == "alias" else e.anonymous_id) if
                (e.previous_id if e.kind == "alias" else e.anonymous_id) else None for e in calls]
        anon_internal = to_internal(wh, [a or "" for a in anon])
        users = to_internal(wh, [e.user_id or "" for e in calls])
        return [(ai if a else None, u, e.kind, e.occurred_at, e.message_id)
                for e, a, ai, u in zip(calls, anon, anon_internal, users)]

    def _ingest(self, wh: Warehouse, table: str, frame: pd.DataFrame | pa.Table) -> Counts:
        """``frame`` through the one ingest path (privacy policy, validation, quarantine, upsert)."""
        # no leading "_" or ".": Spark skips such files (a fold on a Spark warehouse reads it through Spark)
        path = Path(wh.tmp_dir) / f"event-log-{table}-{uuid.uuid4().hex[:8]}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table_ = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table_, path, coerce_timestamps="us")  # microseconds: what Spark reads (not pandas' nanoseconds)
        try:
            source = ParquetSource(path)
            source.label = f"event log ({table})"
            r: IngestResult = ingest(wh, [source], table=table, settings=self.settings,
                                     max_future_days=self.max_future_days)
        finally:
            path.unlink(missing_ok=True)
        return Counts(r.read, r.loaded, r.updated, r.quarantined, r.duplicates)

    @staticmethod
    def _events_frame(records: list[dict[str, Any]]) -> pa.Table:
        """The ``events`` rows of behaviour records (see :meth:`Event.to_record` for the keys), built
        as Arrow columns (no pandas objects: this runs for every event)."""
        def col(key: str) -> pa.Array:
            return pa.array([r.get(key) for r in records], pa.string())

        def times(key: str) -> pa.Array:  # ISO 8601 without zone (naive UTC), as Event.to_record writes it
            return pc.cast(col(key), pa.timestamp("us"))

        customers = pa.array([r.get("u") or (anonymous_customer(r["a"]) if r.get("a") else None) for r in records],
                             pa.string())
        columns = {"customer_id": customers, "session_id": col("s"), "event_type": col("t"), "product_id": col("i"),
                   "occurred_at": times("o"), "category": col("c"), "query": col("q"), "channel": col("h"),
                   "event_name": col("n"), "anonymous_id": col("a"), "message_id": col("m"),
                   "received_at": times("r")}
        return pa.table([columns[c] for c in EVENT_COLUMNS], names=EVENT_COLUMNS)

    def _products(self, wh: Warehouse, records: list[dict[str, Any]], result: FoldResult) -> None:
        """Products seen in events: new ones added, known ones only get the fields still empty."""
        seen: dict[str, dict[str, Any]] = {}
        for r in records:
            product = product_line(r)
            lines = ([product] if product else []) + r.get("l", [])
            for pid, _quantity, price, name, category, brand in lines:  # see spec._line_record
                row = seen.setdefault(pid, {"product_id": pid})
                for col, value in (("name", name), ("category", category), ("brand", brand), ("price", price)):
                    if value is not None:
                        row[col] = value  # the latest event's value
        # a product whose fields this collector already folded needs no look-up (most events repeat products)
        informative = {pid: r for pid, r in seen.items() if len(r) > 1 and self._enriched.get(pid) != r}
        if not informative:
            return
        known = {r[0]: r[1:] for r in wh.con.execute(
            "SELECT product_id, name, category, brand, price FROM products WHERE product_id IN (SELECT unnest(?))",
            [list(informative)]).fetchall()}
        rows, fill = [], {}
        for pid, row in informative.items():
            current = known.get(pid)
            if current is None:
                rows.append(row)
                continue
            have = dict(zip(("name", "category", "brand", "price"), current))
            missing = {c: v for c, v in row.items() if c != "product_id" and have.get(c) is None}
            if missing:  # the catalogue's values stay; only what it left empty is filled
                fill[pid] = missing
        if fill:
            full = wh.query("SELECT * FROM products WHERE product_id IN (SELECT unnest(?))", [list(fill)])
            rows += [{**r, **fill[r["product_id"]]} for r in full.to_dict("records")]
        if len(self._enriched) > 200_000:
            self._enriched.clear()
        self._enriched.update(informative)
        if rows:
            frame = pd.DataFrame(rows)
            result.products = self._ingest(wh, "products", frame)

    def _customers(self, wh: Warehouse, events: list[Event], result: FoldResult) -> None:
        """Customers who identify or order and are not in ``customers`` yet get a row (id and first-seen
        time only), so their orders meet the reference check: a guest checkout (an order of an
        anonymous visitor never identified) gets the row ``anon:<anonymousId>``, dropped again when the
        visitor is identified and the order moves to the customer (:func:`identity.drop_merged`).
        Nothing is added while the shop keeps no customers table (the check is off then), and a known
        customer's row is never touched."""
        first: dict[str, datetime] = {}
        for e in events:
            if e.kind == "identify" and e.user_id or e.order_id and e.customer_id:
                who = e.user_id if e.kind == "identify" else self._orderer(e)
                if who:
                    first[who] = min(first.get(who, e.occurred_at), e.occurred_at)
        if not first or not wh.con.execute("SELECT count(*) FROM (SELECT 1 FROM customers LIMIT 1)").fetchall()[0][0]:
            return
        ids = list(first)
        internal = dict(zip(ids, to_internal(wh, ids)))
        known = {r[0] for r in wh.con.execute("SELECT customer_id FROM customers WHERE customer_id IN (SELECT unnest(?))",
                                              [list(internal.values())]).fetchall()}
        new = [{"customer_id": c, "created_at": t} for c, t in first.items() if internal[c] not in known]
        if new:
            frame = pd.DataFrame(new)
            frame["created_at"] = pd.to_datetime(frame["created_at"])
            result.customers_added = self._ingest(wh, "customers", frame)

    def _resolve_guests(self, wh: Warehouse, events: list[Event]) -> None:
        """The customer each anonymous orderer is already linked to (``self._guest_of``: ``anon:<id>`` ->
        the shop's customer id), so an order of an identified visitor lands under the customer."""
        guests = sorted({anonymous_customer(e.anonymous_id) for e in events
                         if e.order_id and not e.user_id and e.anonymous_id})
        self._guest_of = {}
        if not guests:
            return
        internal = dict(zip(to_internal(wh, guests), guests))
        rows = wh.con.execute("SELECT anonymous_id, arg_min(customer_id, linked_at) FROM _identity_links "
                              "WHERE anonymous_id IN (SELECT unnest(?)) GROUP BY 1", [list(internal)]).fetchall()
        if rows:
            customers = to_external(wh, [r[1] for r in rows])
            self._guest_of = {internal[r[0]]: c for r, c in zip(rows, customers)}

    def _orderer(self, e: Event) -> str | None:
        """Whose order ``e`` is: the shop's customer id, else the customer the visitor was identified as,
        else the visitor (``anon:<anonymousId>``, a guest checkout)."""
        who = e.customer_id
        return self._guest_of.get(who, who) if who and not e.user_id else who

    def _orders(self, wh: Warehouse, events: list[Event], result: FoldResult) -> None:
        orders = [e for e in events if e.order_id and e.event_type == "purchase"]
        refunds = [e for e in events if e.order_id and e.event_type == "refund"]
        ids = list({e.order_id for e in orders + refunds})
        if not ids:
            return
        existing = {r[0] for r in wh.con.execute("SELECT order_id FROM orders WHERE order_id IN (SELECT unnest(?))",
                                                  [ids]).fetchall()}
        new: dict[str, Event] = {}
        for e in orders:
            if e.order_id not in existing and e.order_id not in new:
                new[e.order_id] = e  # an order already known (a file export, an earlier event) stays as it is
        refunded_new = {e.order_id: e for e in refunds if e.order_id not in existing and e.order_id not in new}
        head, lines = [], []
        for oid, e in [*new.items(), *refunded_new.items()]:
            total = e.order_total
            if total is None and e.lines and all(x.unit_price is not None for x in e.lines):
                total = sum(x.quantity * (x.unit_price or 0.0) for x in e.lines)
            head.append({"order_id": oid, "customer_id": self._orderer(e), "ordered_at": e.occurred_at,
                         "status": "completed" if e.event_type == "purchase" else "refunded",
                         "total_amount": total, "currency": e.currency, "channel": e.channel or "web",
                         "discount_amount": e.discount})
            for n, x in enumerate(e.lines, start=1):
                if x.unit_price is not None:
                    lines.append({"order_id": oid, "line_number": n, "product_id": x.product_id,
                                  "quantity": x.quantity, "unit_price": x.unit_price})
        if head:
            frame = pd.DataFrame(head)
            frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
            result.orders = self._ingest(wh, "orders", frame)
        if lines:
            result.order_items = self._ingest(wh, "order_items", pd.DataFrame(lines))
        known_refunds = sorted({e.order_id for e in refunds if e.order_id in existing or e.order_id in new})  # type: ignore[misc]
        if known_refunds:
            with wh.transaction() as con:  # a status change of a known order: the rest of its row stays
                con.execute("UPDATE orders SET status = 'refunded' WHERE order_id IN (SELECT unnest(?))", [known_refunds])
            result.refunds = len(known_refunds)
        result.refunds += len(refunded_new)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()



def collect_body(collector: Collector, body: bytes, kind: str) -> CollectResult:
    """One HTTP request's body (``kind``: ``track``, ``identify``, ``alias``, ``page`` or ``batch``)
    through ``collector``. Malformed JSON or a batch without a ``batch`` list is a
    :class:`~shoplens.errors.UserInputError` (nothing is stored); bad events are rejected one by one.

    >>> import pathlib, tempfile
    >>> from shoplens.config import Settings
    >>> from shoplens.store.warehouse import Warehouse
    >>> s = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
    >>> with Warehouse(s.warehouse) as wh:
    ...     c = Collector(wh, s)
    ...     answer = collect_body(c, b'{"batch": [{"type": "page", "anonymousId": "a"}, 5]}', "batch").to_dict()
    ...     c.close()
    >>> answer["accepted"], answer["rejected"]
    (1, [{'index': 1, 'reason': 'an event must be a JSON object, not int'}])
    """
    import json

    from shoplens.errors import UserInputError
    from shoplens.stream.spec import split_batch

    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(f"the request body is not valid JSON ({exc}); send a JSON object") from None
    if kind == "batch":
        payloads, problem = split_batch(parsed)
        if problem:
            raise UserInputError(problem)
        return collector.collect(payloads)
    return collector.collect([parsed], kind=kind)


def send(collector: Collector, wh: Warehouse, calls: Iterable[Any], *, chunk: int = 2000,
         fold_every: int = 50_000, hand_over: Path | None = None) -> tuple[CollectResult, FoldResult]:
    """A backfill (``shoplens events send``): ``calls`` through ``collector`` in chunks, folded into
    ``wh`` every ``fold_every`` accepted events and at the end. An entry ``{"__invalid__": reason}``
    (a line a reader could not parse) is rejected with that reason. ``hand_over``: a folder; the
    log is moved there (:meth:`EventLog.hand_over`) for the Spark job instead of folded here.

    >>> import pathlib, tempfile
    >>> from shoplens.config import Settings
    >>> s = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
    >>> with Warehouse(s.warehouse) as wh:
    ...     sent, folded = send(Collector(wh, s), wh, [{"type": "page", "userId": "7"}, {"__invalid__": "line 2: not JSON"}])
    >>> sent.accepted, sent.rejected[0].reason, folded.events.loaded
    (1, 'line 2: not JSON', 1)
    """
    total, folded = CollectResult(), FoldResult()
    buffer: list[Any] = []
    log = collector._require_log()

    def fold() -> None:
        if hand_over is not None:
            log.hand_over(hand_over)
        else:
            folded.add(collector.fold(wh))

    since_fold, index = 0, 0

    def flush() -> None:
        nonlocal since_fold, index, buffer
        good = [(i, c) for i, c in enumerate(buffer) if not (isinstance(c, dict) and "__invalid__" in c)]
        for i, c in enumerate(buffer):
            if isinstance(c, dict) and "__invalid__" in c:
                total.rejected.append(Rejected(index + i, str(c["__invalid__"])))
        part = collector.collect([c for _, c in good])
        total.accepted += part.accepted
        total.duplicates += part.duplicates
        total.rejected += [Rejected(index + good[r.index][0], r.reason) for r in part.rejected]
        since_fold += part.accepted
        index += len(buffer)
        buffer = []

    try:
        for call in calls:
            buffer.append(call)
            if len(buffer) >= chunk:
                flush()
                if since_fold >= fold_every:
                    fold()
                    since_fold = 0
        flush()
        fold()
    finally:
        collector.close()
    total.rejected.sort(key=lambda r: r.index)
    return total, folded

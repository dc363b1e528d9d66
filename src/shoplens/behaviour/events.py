"""What every behaviour analysis shares: which events a name means, the events read, durations.

An event is named in one of three ways, resolved by :func:`resolve_event` (the one place):

- a Segment / RudderStack spec name (``"Product Viewed"``): events sent with that name, and events
  without a name (file rows) of the canonical type the spec maps it to (``view``);
- a canonical event type (``"view"``): every event of that type, whatever name it was sent with;
- a custom event name (``"Newsletter Signup"``): events sent with exactly that name.

Anything else is an :class:`~shoplens.errors.UnknownEventError` listing what exists.

>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> resolve_event(wh, "Product Viewed").sql
"(event_name = 'Product Viewed' OR (coalesce(event_name, '') = '' AND event_type = 'view'))"
>>> parse_duration("1d"), parse_duration("90m")
(datetime.timedelta(days=1), datetime.timedelta(seconds=5400))
>>> wh.close()
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shoplens.errors import InsufficientDataError, UnknownEventError, UserInputError
from shoplens.schema import EVENT_TYPES, SPEC_EVENT_TYPES, TABLES
from shoplens.store.warehouse import Warehouse

#: How to load events, quoted by every "no events" message.
LOAD_HINT = ("load them with `shoplens ingest events FILE.csv` (columns customer_id, event_type, occurred_at, ...) "
             "or send them to `shoplens serve` (docs/behaviour.md)")

#: Columns a funnel or session summary may be broken down by (besides ``segment``).
BREAKDOWN_COLUMNS = ("event_type", "event_name", "channel", "category", "product_id")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class EventMatch:
    """An event name as given and the SQL condition (on the ``events`` columns) it means."""

    name: str
    kind: str  # "spec", "type" or "custom"
    sql: str


def events_source(wh: Warehouse) -> str:
    """The ``events`` table as a FROM item with every column of the current schema: a warehouse
    made before a column existed (``event_name``, ``received_at``...) reads it as null, so the
    analyses work on it read-only, without a migration.

    >>> import tempfile, pathlib
    >>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
    >>> events_source(wh)
    'events'
    >>> _ = wh.con.execute("ALTER TABLE events DROP COLUMN received_at")
    >>> "NULL::TIMESTAMP AS received_at" in events_source(wh)
    True
    >>> wh.close()
    """
    have = set(wh.columns("events"))
    table = TABLES["events"]
    if all(c.name in have for c in table.columns):
        return "events"
    cols = ", ".join(c.name if c.name in have else f"NULL::{c.type} AS {c.name}" for c in table.columns)
    return f"(SELECT {cols} FROM events)"


def custom_event_names(wh: Warehouse) -> list[str]:
    """Event names in the warehouse that are not spec names (sorted)."""
    rows = wh.con.execute(
        f"SELECT DISTINCT event_name FROM {events_source(wh)} WHERE coalesce(event_name, '') <> '' ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] not in SPEC_EVENT_TYPES]


def resolve_event(wh: Warehouse, name: str) -> EventMatch:
    """The events ``name`` means (a spec name, a canonical type or a custom name; see the module).

    Raises :class:`~shoplens.errors.UnknownEventError` naming what exists when ``name`` is none of them.
    """
    name = name.strip()
    if name in SPEC_EVENT_TYPES:
        return EventMatch(name, "spec", f"(event_name = {_literal(name)} OR (coalesce(event_name, '') = '' "
                                        f"AND event_type = {_literal(SPEC_EVENT_TYPES[name])}))")
    if name in EVENT_TYPES:
        return EventMatch(name, "type", f"(event_type = {_literal(name)})")
    custom = custom_event_names(wh)
    if name in custom:
        return EventMatch(name, "custom", f"(event_name = {_literal(name)})")
    raise UnknownEventError(
        f"unknown event {name!r}: use a spec name ({', '.join(SPEC_EVENT_TYPES)}), an event type "
        f"({', '.join(EVENT_TYPES)})" + (f" or an event name in the warehouse ({', '.join(custom[:20])})" if custom
                                         else " (the warehouse holds no custom event names)"))


def parse_steps(steps: str | list[str]) -> list[str]:
    """Steps given as ``"A,B,C"`` or a list, stripped; at least one, none empty.

    >>> parse_steps("Product Viewed, Product Added")
    ['Product Viewed', 'Product Added']
    """
    items = [s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps)]
    if not items or any(not s for s in items):
        raise UserInputError(f"steps {steps!r}: give event names separated by commas, e.g. "
                             "\"Product Viewed,Product Added,Order Completed\"")
    return items


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
MAX_DURATION = timedelta(days=3660)  # ten years: longer windows are a typo, and would overflow dates
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | timedelta, what: str = "duration") -> timedelta:
    """``30s``, ``30m``, ``2h``, ``1d``, ``1w`` as a timedelta (positive)."""
    if isinstance(text, timedelta):
        value = text
    else:
        match = _DURATION.match(str(text).lower())
        if not match:
            raise UserInputError(f"{what} {text!r}: write a number and a unit s, m, h, d or w (e.g. 30m, 1d, 2w)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds > MAX_DURATION.total_seconds():
            raise UserInputError(f"{what} {text!r}: at most {MAX_DURATION.days:,} days")
        value = timedelta(seconds=seconds)
    if value <= timedelta(0):
        raise UserInputError(f"{what} {text!r} must be longer than zero")
    if value > MAX_DURATION:
        raise UserInputError(f"{what} {text!r}: at most {MAX_DURATION.days:,} days")
    return value


def parse_time(value: str | date | datetime | None, what: str) -> datetime | None:
    """A date or time (``YYYY-MM-DD`` or ISO 8601, UTC) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserInputError(f"{what} {value!r}: write a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM (UTC)") from None
    if parsed.tzinfo is not None:
        from datetime import timezone

        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    if not 1900 <= parsed.year <= 2999:
        raise UserInputError(f"{what} {value!r}: a year between 1900 and 2999")
    return parsed


def time_range_sql(start: datetime | None, end: datetime | None, column: str = "occurred_at") -> str:
    """SQL condition ``start <= column < end`` (either side open when None)."""
    if start is not None and end is not None and end <= start:
        raise UserInputError(f"--to {end:%Y-%m-%d %H:%M} must be after --from {start:%Y-%m-%d %H:%M}")
    parts = ["TRUE"]
    if start is not None:
        parts.append(f"{column} >= TIMESTAMP '{start.isoformat(sep=' ')}'")
    if end is not None:
        parts.append(f"{column} < TIMESTAMP '{end.isoformat(sep=' ')}'")
    return " AND ".join(parts)


def require_events(wh: Warehouse, where: str = "TRUE") -> int:
    """The number of events matching ``where``; InsufficientDataError (a clear message) when none."""
    if not wh.has_table("events"):
        raise InsufficientDataError(f"no events table in {wh.path}: {LOAD_HINT}")
    n = int(wh.con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchall()[0][0])
    if n == 0:
        scope = "" if where == "TRUE" else " in the chosen time range"
        raise InsufficientDataError(f"no behaviour events in the warehouse{scope}: {LOAD_HINT}")
    return n


def breakdown_sql(wh: Warehouse, by: str | None, alias: str = "e") -> tuple[str, str]:
    """(SQL expression of the breakdown value, extra join) for ``by``: an events column or ``segment``
    (the customer's behavioural segment, from ``customer_segments``). Missing values are ``(none)``."""
    if by is None:
        return "NULL", ""
    if by == "segment":
        if not wh.has_table("customer_segments"):
            from shoplens.errors import NotComputedError

            raise NotComputedError("customer_segments is not computed yet: run `shoplens customers segments` "
                                   "(or `shoplens demo`) to break down by segment")
        return ("coalesce(seg.segment_name, '(none)')",
                f"LEFT JOIN customer_segments seg ON seg.customer_id = {alias}.customer_id")
    if by not in BREAKDOWN_COLUMNS:
        raise UserInputError(f"--by {by!r}: choose segment or an events column ({', '.join(BREAKDOWN_COLUMNS)})")
    return f"coalesce(nullif(CAST({alias}.{by} AS VARCHAR), ''), '(none)')", ""


def event_label_sql(alias: str = "e") -> str:
    """How an event is named in paths: its canonical type, or its own name when the type is ``other``
    (a custom event), so file rows and events sent by name read alike."""
    return (f"CASE WHEN {alias}.event_type = 'other' AND coalesce({alias}.event_name, '') <> '' "
            f"THEN {alias}.event_name ELSE {alias}.event_type END")

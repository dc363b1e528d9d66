"""The Segment / RudderStack HTTP API payloads: validation, one event at a time, and what each
event becomes in shoplens.

A storefront's SDK sends ``track``, ``identify``, ``alias``, ``page`` (and ``screen``) calls,
alone or inside a ``batch``, with ``userId`` and/or ``anonymousId``, ``properties``,
``traits``, ``context``, ``timestamp`` and ``messageId``. :func:`check` accepts one payload
unchanged or says why not (one line, naming the field); a batch is checked event by event, so
a bad event never costs the good ones (:func:`split_batch`).

Identities: the resolved identity of an event (``customer_id`` in the warehouse) is the shop's
``userId`` when the event carries one, else ``anon:<anonymousId>`` (:func:`anonymous_customer`);
the ``anon:`` prefix keeps an anonymous id from ever reading as a shop customer id. Identify
and alias calls later merge that anonymous history into the customer
(:mod:`shoplens.stream.identity`).

>>> event, why = check({"type": "track", "event": "Product Viewed", "anonymousId": "a1",
...                     "properties": {"product_id": "p9"}, "timestamp": "2024-05-01T10:00:00+02:00",
...                     "messageId": "m1"})
>>> why, event.event_type, event.customer_id, event.product_id, event.occurred_at.isoformat()
(None, 'view', 'anon:a1', 'p9', '2024-05-01T08:00:00')
>>> check({"type": "track", "anonymousId": "a1"})[1]
'track needs `event` (the event name, e.g. "Product Viewed")'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from shoplens.schema import SPEC_EVENT_TYPES

KINDS = ("track", "identify", "alias", "page", "screen")
ANONYMOUS_PREFIX = "anon:"
MAX_BATCH_BYTES = 500 * 1024  # the Segment / RudderStack SDKs' limit per batch request
MAX_ID_CHARS = 256
# consent categories that, when a payload's context.consent says false, keep the event out
# (Segment's consent spec: context.consent.categoryPreferences)
CONSENT_CATEGORIES = ("analytics", "personalization", "personalisation", "advertising_analytics")


def anonymous_customer(anonymous_id: str) -> str:
    """The identity of a visitor known only by ``anonymous_id`` (never equal to a shop id without the prefix).

    >>> anonymous_customer("d8a7-42")
    'anon:d8a7-42'
    """
    return ANONYMOUS_PREFIX + anonymous_id


@dataclass
class OrderLine:
    product_id: str
    quantity: float
    unit_price: float | None
    name: str | None = None
    category: str | None = None
    brand: str | None = None


@dataclass
class Event:
    """One accepted payload, as shoplens stores it (see the module doc)."""

    kind: str
    message_id: str
    occurred_at: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None  # alias
    event_name: str | None = None
    event_type: str | None = None  # None for identify / alias (no behaviour row)
    product_id: str | None = None
    category: str | None = None
    query: str | None = None
    session_id: str | None = None
    channel: str | None = None
    order_id: str | None = None
    order_total: float | None = None
    currency: str | None = None
    discount: float | None = None
    lines: list[OrderLine] = field(default_factory=list)
    product: OrderLine | None = None  # catalogue fields of a single-product event

    def to_record(self, *, received: bool = True) -> dict[str, Any]:
        """The event as the durable log keeps it: only what shoplens stores (never traits or context),
        short keys, empty fields left out; the product of a single-product event only when it says
        more than its id and category (quantity other than 1, price, name or brand). ``received``:
        include the receive time (the log writes it once per request). :meth:`from_record` reads it back.

        >>> e, _ = check({"type": "page", "userId": "1", "timestamp": "2024-05-01T10:00:00Z", "messageId": "m"},
        ...              received_at=datetime(2024, 5, 1, 10, 0, 1))
        >>> Event.from_record(e.to_record()) == e
        True
        >>> e, _ = check({"type": "track", "event": "Product Viewed", "userId": "1", "messageId": "m",
        ...               "properties": {"product_id": "p1", "category": "toys"}})
        >>> record = e.to_record()
        >>> "x" in record, Event.from_record(record) == e
        (False, True)
        """
        values = self.__dict__
        out = {k: values[f] for k, f in _RECORD.items() if values[f] is not None}
        out["o"] = self.occurred_at.isoformat()
        if received:
            out["r"] = self.received_at.isoformat()
        if self.lines:
            out["l"] = [_line_record(x) for x in self.lines]
        product = self.product
        if product is not None and (product.quantity != 1.0 or product.unit_price is not None or product.name is not None
                                    or product.brand is not None or product.category != self.category):
            out["x"] = _line_record(product)
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        fields = {f: record[k] for k, f in _RECORD.items() if k in record}
        return cls(occurred_at=datetime.fromisoformat(record["o"]), received_at=datetime.fromisoformat(record["r"]),
                   lines=[OrderLine(*x) for x in record.get("l", ())], product=product_of(record), **fields)

    @property
    def customer_id(self) -> str | None:
        """The resolved identity at the time of the event: the shop's userId, else ``anon:<anonymousId>``."""
        if self.user_id:
            return self.user_id
        return anonymous_customer(self.anonymous_id) if self.anonymous_id else None


# log record key -> Event field (see Event.to_record)
_RECORD = {"k": "kind", "m": "message_id", "u": "user_id", "a": "anonymous_id", "p": "previous_id", "n": "event_name",
           "t": "event_type", "i": "product_id", "c": "category", "q": "query", "s": "session_id", "h": "channel",
           "d": "order_id", "T": "order_total", "C": "currency", "D": "discount"}


def product_line(record: dict[str, Any]) -> list[Any] | None:
    """The product of a single-product log record, as :func:`_line_record` writes it (``x``, or
    from the record's product id and category when ``x`` was left out), or None.

    >>> product_line({"i": "p1", "c": "toys"}), product_line({"k": "page"})
    (['p1', 1.0, None, None, 'toys', None], None)
    """
    if "x" in record:
        return record["x"]
    if "i" in record:
        return [record["i"], 1.0, None, None, record.get("c"), None]
    return None


def product_of(record: dict[str, Any]) -> OrderLine | None:
    line = product_line(record)
    return None if line is None else OrderLine(*line)


def _line_record(line: OrderLine) -> list[Any]:
    return [line.product_id, line.quantity, line.unit_price, line.name, line.category, line.brand]


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time (zone honoured; no zone means UTC) or epoch milliseconds, as naive UTC."""
    if isinstance(value, bool):
        raise ValueError(f"`{what}` must be an ISO 8601 time, not {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, timezone.utc).replace(tzinfo=None)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{what}` must be an ISO 8601 time, not {value!r}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)  # Python 3.11 reads every ISO 8601 form, "Z" included
    except ValueError:
        raise ValueError(f"`{what}` is not an ISO 8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _id(value: Any, what: str) -> str | None:
    if type(value) is str:  # the usual case, first (this runs several times per event)
        text = value.strip()
        if len(text) > MAX_ID_CHARS:
            raise ValueError(f"`{what}` is longer than {MAX_ID_CHARS} characters")
        return text or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"`{what}` must be a string or a number, not {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > MAX_ID_CHARS:
        raise ValueError(f"`{what}` is longer than {MAX_ID_CHARS} characters")
    return text or None


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value.strip()[:1000] or None
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:1000] or None


def _number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"`{what}` must be a number, not {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{what}` must be a number, not {value!r}") from None


def message_id_of(payload: dict[str, Any]) -> str:
    """The payload's ``messageId``, or (for senders that omit it) a hash of its content, so an
    identical re-send is still a duplicate.

    >>> message_id_of({"messageId": "m-1"}), message_id_of({"type": "track"}) == message_id_of({"type": "track"})
    ('m-1', True)
    """
    given = payload.get("messageId")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given).strip():
        return str(given).strip()[:MAX_ID_CHARS]
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return "sha256:" + digest[:32]


def _consent_denied(context: dict[str, Any]) -> str | None:
    consent = context.get("consent")
    if not isinstance(consent, dict):
        return None
    prefs = consent.get("categoryPreferences")
    if not isinstance(prefs, dict):
        return None
    for name, allowed in prefs.items():
        if str(name).lower() in CONSENT_CATEGORIES and allowed is not True:
            return str(name)
    return None


def _product(props: dict[str, Any], where: str) -> OrderLine | None:
    pid = _id(props.get("product_id", props.get("sku") if "product_id" not in props else None), f"{where}.product_id")
    if pid is None:
        return None
    quantity = _number(props.get("quantity"), f"{where}.quantity")
    price = _number(props.get("price"), f"{where}.price")
    if price is not None and price < 0:
        raise ValueError(f"`{where}.price` must not be negative")
    return OrderLine(pid, 1.0 if quantity is None else quantity, price, _text(props.get("name")),
                     _text(props.get("category")), _text(props.get("brand")))


def check(payload: Any, *, kind: str | None = None, received_at: datetime | None = None) -> tuple[Event | None, str | None]:
    """(the event, None) for a valid payload, else (None, the reason). ``kind``: the call type the
    endpoint implies (``/track`` -> ``track``) when the payload has no ``type``."""
    try:
        return _check(payload, kind, received_at or datetime.now(timezone.utc).replace(tzinfo=None)), None
    except ValueError as exc:
        return None, str(exc)


def _check(payload: Any, kind: str | None, received_at: datetime) -> Event:
    if not isinstance(payload, dict):
        raise ValueError(f"an event must be a JSON object, not {type(payload).__name__}")
    typ = payload.get("type", kind)
    if not isinstance(typ, str) or typ.lower() not in KINDS:
        raise ValueError(f"`type` must be one of {', '.join(KINDS)}, not {typ!r}")
    typ = typ.lower()
    if kind and typ != kind:
        raise ValueError(f"a {typ} call sent to the /{kind} endpoint; send it to /{typ} or /batch")
    user_id = _id(payload.get("userId"), "userId")
    anonymous_id = _id(payload.get("anonymousId"), "anonymousId")
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    for name in ("properties", "traits", "context"):
        if payload.get(name) is not None and not isinstance(payload.get(name), dict):
            raise ValueError(f"`{name}` must be a JSON object")
    denied = _consent_denied(context)
    if denied:
        raise ValueError(f"the visitor did not consent to {denied} (context.consent.categoryPreferences); the event is not stored")
    occurred = _occurred_at(payload, received_at)
    event = Event(kind=typ, message_id=message_id_of(payload), occurred_at=occurred, received_at=received_at,
                  user_id=user_id, anonymous_id=anonymous_id)
    if typ == "alias":
        event.previous_id = _id(payload.get("previousId"), "previousId")
        if not (event.previous_id and user_id):
            raise ValueError("alias needs `previousId` (the anonymous id) and `userId`")
        return event
    if not (user_id or anonymous_id):
        raise ValueError("the event needs `userId` or `anonymousId`")
    if typ == "identify":
        if not user_id:
            raise ValueError("identify needs `userId` (the shop's customer id)")
        return event
    props = payload.get("properties") or {}
    event.session_id = _id(context.get("sessionId", props.get("session_id")), "context.sessionId")
    event.channel = _text(payload.get("channel"))
    if typ in ("page", "screen"):
        event.event_type = "page"
        event.event_name = _text(payload.get("name")) or typ
        event.category = _text(payload.get("category") or props.get("category"))
        return event
    name = payload.get("event")
    if not isinstance(name, str) or not name.strip():
        raise ValueError('track needs `event` (the event name, e.g. "Product Viewed")')
    event.event_name = name.strip()[:200]
    event.event_type = SPEC_EVENT_TYPES.get(event.event_name, "other")
    event.query = _text(props.get("query"))
    event.product = _product(props, "properties")
    event.product_id = event.product.product_id if event.product else None
    event.category = _text(props.get("category"))
    if event.event_type in ("purchase", "refund"):
        _order(event, props)
    return event


def _occurred_at(payload: dict[str, Any], received_at: datetime) -> datetime:
    """The client's time: ``timestamp``; else ``originalTimestamp`` corrected for the device clock
    by ``sentAt`` (as Segment does); else the receive time."""
    if payload.get("timestamp") is not None:
        return parse_time(payload["timestamp"], "timestamp")
    if payload.get("originalTimestamp") is not None:
        original = parse_time(payload["originalTimestamp"], "originalTimestamp")
        if payload.get("sentAt") is not None:
            return received_at - (parse_time(payload["sentAt"], "sentAt") - original)
        return original
    return received_at


def _order(event: Event, props: dict[str, Any]) -> None:
    event.order_id = _id(props.get("order_id"), "properties.order_id")
    if event.order_id is None:
        return  # a purchase without an order id is a behaviour event only
    event.order_total = _number(props.get("total", props.get("revenue")), "properties.total")
    event.discount = _number(props.get("discount"), "properties.discount")
    event.currency = _text(props.get("currency"))
    products = props.get("products")
    if products is None:
        products = [props] if event.product else []
    if not isinstance(products, list):
        raise ValueError("`properties.products` must be a list of products")
    for i, item in enumerate(products):
        if not isinstance(item, dict):
            raise ValueError(f"`properties.products[{i}]` must be a JSON object")
        line = _product(item, f"properties.products[{i}]")
        if line is None:
            raise ValueError(f"`properties.products[{i}]` needs `product_id`")
        event.lines.append(line)


def split_batch(body: Any) -> tuple[list[Any], str | None]:
    """The payloads of a ``/batch`` body (``{"batch": [...]}``, or a bare list), or a reason it is not one.

    >>> split_batch({"batch": [{"type": "track"}]})[0], split_batch({"x": 1})[1]
    ([{'type': 'track'}], 'a batch is a JSON object with a `batch` list of events')
    """
    if isinstance(body, list):
        return body, None
    if isinstance(body, dict) and isinstance(body.get("batch"), list):
        shared = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
        if not shared:
            return body["batch"], None
        return [{**shared, **e} if isinstance(e, dict) else e for e in body["batch"]], None
    return [], "a batch is a JSON object with a `batch` list of events"

"""The shop's own settings, kept in its warehouse: name, currency, time zone and language.

They travel with the warehouse (a copied or moved folder keeps them) and are read by the
outputs: money is labelled in the shop's currency, and local time (hour of day, weekday,
the day, week and month an order falls in) is the shop's. Unset, the currency is the one
the orders state and the time zone is UTC.

>>> import tempfile
>>> from pathlib import Path
>>> from shoplens.store.warehouse import Warehouse
>>> with Warehouse(Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     _ = set_shop(wh, name="Corner Grocer", currency="usd", timezone="America/New_York")
...     shop = read_shop(wh)
>>> shop.currency, shop.timezone, shop.locale
('USD', 'America/New_York', None)
>>> local_time_sql("o.ordered_at", "America/New_York")
"((o.ordered_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York')"
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.numbers import list_currencies

from shoplens.errors import UserInputError

SHOP_TABLE = "_shop"
LOCALES = ("en", "zh")


@dataclass(frozen=True)
class ShopSettings:
    """What ``shoplens shop show`` prints. ``timezone``: IANA name (UTC when unset)."""

    name: str | None = None
    currency: str | None = None
    timezone: str = "UTC"
    locale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_shop(wh: Any) -> ShopSettings:
    """The shop's settings (defaults when none were set, or the warehouse predates them)."""
    if SHOP_TABLE not in wh.tables():
        return ShopSettings()
    stored = dict(wh.con.execute(f"SELECT key, value FROM {SHOP_TABLE}").fetchall())
    known = {f.name for f in fields(ShopSettings)}
    return ShopSettings(**{k: v for k, v in stored.items() if k in known and v is not None})


def check_currency(code: str) -> str:
    """An ISO 4217 code, upper case (babel's list of currencies).

    >>> check_currency(" cny ")
    'CNY'
    """
    value = code.strip().upper()
    if value not in list_currencies():
        raise UserInputError(f"--currency {code!r} is not an ISO 4217 currency code; give e.g. USD, EUR, GBP or CNY")
    return value


def check_timezone(name: str) -> str:
    """An IANA time zone name.

    >>> check_timezone("Asia/Shanghai")
    'Asia/Shanghai'
    """
    value = name.strip()
    try:
        if value not in available_timezones() and value != "UTC":
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"--timezone {name!r} is not an IANA time zone; give e.g. Europe/London, "
                             "America/New_York or Asia/Shanghai") from None
    return value


def set_shop(wh: Any, *, name: str | None = None, currency: str | None = None, timezone: str | None = None,
             locale: str | None = None) -> ShopSettings:
    """Store the settings given (the others keep their values) and return them all."""
    values: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            raise UserInputError("--name must not be empty")
        values["name"] = re.sub(r"\s+", " ", name.strip())
    if currency is not None:
        values["currency"] = check_currency(currency)
    if timezone is not None:
        values["timezone"] = check_timezone(timezone)
    if locale is not None:
        if locale.strip().lower() not in LOCALES:
            raise UserInputError(f"--locale must be one of {', '.join(LOCALES)}, not {locale!r}")
        values["locale"] = locale.strip().lower()
    if not values:
        raise UserInputError("nothing to set: give --name, --currency, --timezone or --locale")
    from shoplens.store.warehouse import utcnow

    with wh.transaction() as con:
        con.execute(f"CREATE TABLE IF NOT EXISTS {SHOP_TABLE} (key VARCHAR, value VARCHAR, updated_at TIMESTAMP)")
        for key, value in values.items():
            con.execute(f"DELETE FROM {SHOP_TABLE} WHERE key = ?", [key])
            con.execute(f"INSERT INTO {SHOP_TABLE} VALUES (?, ?, ?)", [key, value, utcnow()])
    return read_shop(wh)


def fill_unset(wh: Any, **values: str | None) -> dict[str, str]:
    """Set those of ``values`` (currency, timezone...) the shop has not set yet, as an export's
    preset states them; return what was set. A setting the shop chose is never replaced."""
    have = set()
    if SHOP_TABLE in wh.tables():
        have = {k for (k,) in wh.con.execute(f"SELECT key FROM {SHOP_TABLE} WHERE value IS NOT NULL").fetchall()}
    todo = {k: v for k, v in values.items() if v is not None and k not in have}
    if todo:
        set_shop(wh, **todo)
    return todo


def local_time_sql(column: str, zone: str) -> str:
    """SQL turning a stored UTC timestamp into the shop's local wall-clock time (naive), for hour
    of day, weekday and day/week/month boundaries. ``zone`` must come from :func:`check_timezone`
    (it is written into the SQL). Written with AT TIME ZONE, which sqlglot turns into Spark's
    ``from_utc_timestamp``, so the same SQL runs on both engines."""
    if zone == "UTC":
        return column
    return f"(({column} AT TIME ZONE 'UTC') AT TIME ZONE '{check_timezone(zone)}')"


def in_local_time(sql: str, columns: list[str], zone: str, time_column: str = "ordered_at") -> str:
    """``sql`` (a SELECT of ``columns``) with ``time_column`` in the shop's local time.

    >>> in_local_time("SELECT a, ordered_at FROM t", ["a", "ordered_at"], "Asia/Shanghai")
    "SELECT lt.a, ((lt.ordered_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai') AS ordered_at FROM (SELECT a, ordered_at FROM t) lt"
    """
    if zone == "UTC":
        return sql
    items = [f"{local_time_sql('lt.' + c, zone)} AS {c}" if c == time_column else f"lt.{c}" for c in columns]
    return f"SELECT {', '.join(items)} FROM ({sql}) lt"


def local_orders_sql(wh: Any) -> str:
    """The orders with ``ordered_at`` in the shop's local time (``shoplens shop set --timezone``), so
    that days, weeks and months are the shop's; plain ``orders`` when the zone is UTC (or unset)."""
    zone = read_shop(wh).timezone
    if zone == "UTC":
        return "orders"
    return f"(SELECT * REPLACE ({local_time_sql('ordered_at', zone)} AS ordered_at) FROM orders)"

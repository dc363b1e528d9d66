"""The canonical data model: tables, columns, types and constraints.

Everything else in shoplens (ingest validation, the warehouse DDL, the docs in
``docs/data-model.md``) is generated from these declarations, so the model is
stated once.

>>> TABLES["orders"].key
('order_id',)
>>> TABLES["order_items"].column("quantity").type
'DOUBLE'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoplens.errors import UnknownTableError


@dataclass(frozen=True)
class Column:
    """One canonical column.

    ``type`` is a portable SQL type (VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN,
    TIMESTAMP). Timestamps are stored in UTC without zone.
    """

    name: str
    type: str
    required: bool = False
    description: str = ""
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    allowed: tuple[str, ...] | None = None
    nonzero: bool = False
    pii: bool = False
    # 0 is allowed on a row that states any of these columns (a receipt's coupon or void line
    # has no units but states its amount or discount)
    zero_allowed_with: tuple[str, ...] = ()
    # an amount of money summed in the ingest's money accounting (file total = loaded + ...)
    money: bool = False


@dataclass(frozen=True)
class Reference:
    """A foreign key checked at ingest.

    ``when_loaded``: only checked when the parent table holds rows (customers are
    often exported separately, or not at all).
    """

    column: str
    parent: str
    parent_column: str
    when_loaded: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None
    references: tuple[Reference, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


C = Column

EVENT_TYPES = ("view", "cart", "remove_cart", "purchase", "click", "search", "favorite", "ad_click", "ad_impression",
               "list_view", "cart_view", "checkout", "refund", "promotion_view", "promotion_click", "coupon",
               "page", "other")

#: Segment / RudderStack e-commerce spec event names and the canonical ``event_type`` each maps to.
#: Events with another name are stored as ``other`` with their name in ``event_name``.
SPEC_EVENT_TYPES: dict[str, str] = {
    "Products Searched": "search",
    "Product List Viewed": "list_view",
    "Product List Filtered": "list_view",
    "Product Clicked": "click",
    "Product Viewed": "view",
    "Product Added": "cart",
    "Product Removed": "remove_cart",
    "Cart Viewed": "cart_view",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
    "Order Refunded": "refund",
    "Promotion Viewed": "promotion_view",
    "Promotion Clicked": "promotion_click",
    "Coupon Applied": "coupon",
    "Product Added to Wishlist": "favorite",
}
ATTRIBUTE_TYPES = ("number", "boolean", "text")
ORDER_STATUSES = ("completed", "pending", "paid", "shipped", "delivered", "cancelled", "returned", "refunded", "adjustment")

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "customers",
            "One row per customer of the shop.",
            (
                C("customer_id", "VARCHAR", True, "the shop's own customer id"),
                C("created_at", "TIMESTAMP", description="account creation (or first purchase) time, UTC"),
                C("country", "VARCHAR"),
                C("city", "VARCHAR"),
                C("gender", "VARCHAR", allowed=("female", "male", "other", "unknown")),
                C("birth_year", "INTEGER", min=1900, max=2030),
                C("email", "VARCHAR", pii=True),
                C("phone", "VARCHAR", pii=True),
                C("name", "VARCHAR", pii=True),
                C("address", "VARCHAR", description="postal address", pii=True),
                C("postcode", "VARCHAR"),
                C("language", "VARCHAR", description="preferred language, e.g. en, zh"),
                C("consent_marketing", "BOOLEAN", description="may receive campaigns"),
                C("consent_personalization", "BOOLEAN", description="may be profiled and get personal recommendations"),
            ),
            key=("customer_id",),
            time_column="created_at",
        ),
        Table(
            "customer_attributes",
            "What a customers file says about a customer beyond the canonical columns (demographics, tiers, "
            "tags, loyalty level), one row per customer and attribute. Filled by ingest from the columns of a "
            "customers source that no canonical column takes; personal data is refused.",
            (
                C("customer_id", "VARCHAR", True),
                C("attribute", "VARCHAR", True, "the source column's name, normalised (`Loyalty Level` -> `loyalty_level`)"),
                C("value", "VARCHAR", description="the value as the file states it (trimmed text)"),
                C("type", "VARCHAR", allowed=ATTRIBUTE_TYPES,
                  description="`number` when every value of the column reads as a number, `boolean` when every "
                              "value is a yes/no word, else `text`"),
            ),
            key=("customer_id", "attribute"),
            references=(Reference("customer_id", "customers", "customer_id"),),
        ),
        Table(
            "products",
            "One row per product (SKU).",
            (
                C("product_id", "VARCHAR", True),
                C("name", "VARCHAR"),
                C("category", "VARCHAR"),
                C("brand", "VARCHAR"),
                C("price", "DOUBLE", min=0, description="current list price"),
                C("cost", "DOUBLE", min=0, description="unit cost, for margins"),
                C("currency", "VARCHAR"),
                C("description", "VARCHAR"),
                C("in_stock", "BOOLEAN"),
                C("created_at", "TIMESTAMP", description="first listed"),
            ),
            key=("product_id",),
            time_column="created_at",
        ),
        Table(
            "orders",
            "One row per order (invoice). Cancellations and returns are kept with their status.",
            (
                C("order_id", "VARCHAR", True),
                C("customer_id", "VARCHAR", description="null for guest checkouts"),
                C("ordered_at", "TIMESTAMP", True, "order time, UTC"),
                C("status", "VARCHAR", allowed=ORDER_STATUSES),
                C("total_amount", "DOUBLE", description="negative for returns", money=True),
                C("currency", "VARCHAR"),
                C("channel", "VARCHAR", description="web, app, store, marketplace..."),
                C("discount_amount", "DOUBLE", min=0, money=True),
                C("paid_amount", "DOUBLE", description="what the customer pays for the order as the source states "
                  "it (after every discount, with shipping and taxes: Shopify's Total less its Refunded Amount, Taobao's 买家实际支付金额); "
                  "when given it is the order's value, whatever its lines add up to", money=True),
            ),
            key=("order_id",),
            time_column="ordered_at",
            references=(Reference("customer_id", "customers", "customer_id", when_loaded=True),),
        ),
        Table(
            "order_items",
            "One row per order line. Negative quantities are returns.",
            (
                C("order_id", "VARCHAR", True),
                C("line_number", "INTEGER", True, "from the source, else the line's position within its order", min=0),
                C("product_id", "VARCHAR", True),
                C("quantity", "DOUBLE", True, "units; negative for returns; 0 on a line of no units (a coupon, "
                  "discount or void line) that states its amount or discount", nonzero=True,
                  zero_allowed_with=("amount", "discount")),
                C("unit_price", "DOUBLE", True, "price per unit", min=0),
                C("discount", "DOUBLE", min=0, description="discount on the line", money=True),
                C("amount", "DOUBLE", description="the line's total as the source states it (after its discount; "
                  "negative on returns); when given it is the line's value, never rebuilt from the unit price",
                  money=True),
            ),
            key=("order_id", "line_number"),
            references=(Reference("order_id", "orders", "order_id"),),
        ),
        Table(
            "events",
            "Behaviour events: views, carts, purchases, clicks, searches.",
            (
                C("customer_id", "VARCHAR", True),
                C("session_id", "VARCHAR"),
                C("event_type", "VARCHAR", True, allowed=EVENT_TYPES),
                C("product_id", "VARCHAR"),
                C("occurred_at", "TIMESTAMP", True),
                C("category", "VARCHAR"),
                C("query", "VARCHAR", description="search text"),
                C("channel", "VARCHAR"),
                C("event_name", "VARCHAR", description="the event's name as sent (e.g. 'Product Viewed'); empty for file rows"),
                C("anonymous_id", "VARCHAR", description="the visitor's anonymous id before identification"),
                C("message_id", "VARCHAR", description="the sender's unique id of the event (duplicates are stored once)"),
                C("received_at", "TIMESTAMP", description="when shoplens received the event (occurred_at is the client's time)"),
            ),
            # message_id: two collected events alike in every other key part are still two events
            # (file rows have none: NULL key parts match each other, so files de-duplicate as before)
            key=("customer_id", "session_id", "event_type", "product_id", "occurred_at", "message_id"),
            time_column="occurred_at",
        ),
        Table(
            "reviews",
            "Product reviews.",
            (
                C("review_id", "VARCHAR", True),
                C("customer_id", "VARCHAR"),
                C("product_id", "VARCHAR"),
                C("order_id", "VARCHAR"),
                C("rating", "INTEGER", min=1, max=5),
                C("title", "VARCHAR"),
                C("text", "VARCHAR"),
                C("created_at", "TIMESTAMP"),
                C("language", "VARCHAR", description="zh, en... (detected when absent)"),
            ),
            key=("review_id",),
            time_column="created_at",
        ),
        Table(
            "support_messages",
            "Customer-service messages, one row per message.",
            (
                C("message_id", "VARCHAR", True),
                C("conversation_id", "VARCHAR", True),
                C("customer_id", "VARCHAR"),
                C("sender", "VARCHAR", True, allowed=("customer", "agent", "bot")),
                C("text", "VARCHAR"),
                C("created_at", "TIMESTAMP"),
                C("channel", "VARCHAR"),
            ),
            key=("message_id",),
            time_column="created_at",
        ),
        Table(
            "decisions",
            "Logged decisions (offers, ads, prices) with propensities, for off-policy evaluation.",
            (
                C("decision_id", "VARCHAR", True),
                C("occurred_at", "TIMESTAMP", True),
                C("customer_id", "VARCHAR"),
                C("context", "VARCHAR", description="JSON object of context features"),
                C("action", "VARCHAR", True),
                C("position", "INTEGER", min=0),
                C("propensity", "DOUBLE", min=0, max=1, min_exclusive=True),
                C("reward", "DOUBLE"),
                C("rewarded_at", "TIMESTAMP"),
                C("policy", "VARCHAR"),
                C("policy_version", "VARCHAR"),
                C("decision_type", "VARCHAR", description="offer, ad, price..."),
            ),
            key=("decision_id",),
            time_column="occurred_at",
        ),
    ]
}

# Required columns filled by ingest itself when the source has none.
GENERATED_COLUMNS = {("order_items", "line_number")}


def get_table(name: str) -> Table:
    """Return the canonical table ``name`` or raise a clear error."""
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(
            f"unknown table {name!r}; choose one of: {', '.join(TABLES)}"
        ) from None


def quote_identifier(name: str) -> str:
    """A table or column name as a quoted SQL identifier (DuckDB and Spark SQL via sqlglot).

    >>> print(quote_identifier("order_id"), quote_identifier('a"b'))
    "order_id" "a""b"
    """
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table, name: str | None = None) -> str:
    cols = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in table.columns)
    return f"CREATE TABLE IF NOT EXISTS {quote_identifier(name or table.name)} ({cols})"


def data_model_markdown() -> str:
    """The tables section of ``docs/data-model.md`` (kept in sync by a test)."""
    out = []
    for t in TABLES.values():
        out.append(f"### `{t.name}`\n\n{t.description}\n")
        out.append(f"Natural key: {', '.join(f'`{k}`' for k in t.key)}."
                   + (f" Time column: `{t.time_column}`." if t.time_column else ""))
        for ref in t.references:
            cond = " (checked when that table holds rows)" if ref.when_loaded else ""
            out.append(f" `{ref.column}` must exist in `{ref.parent}.{ref.parent_column}`{cond}.")
        out.append("\n\n| column | type | required | constraints | description |\n|---|---|---|---|---|")
        for c in t.columns:
            cons = []
            if c.min is not None:
                cons.append(f"{'>' if c.min_exclusive else '>='} {c.min:g}")
            if c.max is not None:
                cons.append(f"<= {c.max:g}")
            if c.nonzero:
                cons.append("not 0" + (f" (unless the row states {' or '.join(c.zero_allowed_with)})"
                                       if c.zero_allowed_with else ""))
            if c.allowed:
                cons.append("one of " + ", ".join(c.allowed))
            if c.pii:
                cons.append("personal data")
            gen = " (generated when absent)" if (t.name, c.name) in GENERATED_COLUMNS else ""
            out.append(f"| `{c.name}` | {c.type} | {'yes' if c.required else ''}{gen} | {'; '.join(cons)} | {c.description} |")
        out.append("\n")
    return "\n".join(out)

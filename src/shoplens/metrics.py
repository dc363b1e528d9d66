"""The shop's metrics, each defined once: SQL over the canonical tables that every
view uses (the overview, customer analyses, the REST API, the dashboard and the report).

Two views that show "net revenue" or "customers" read it from here, so they cannot
disagree. The definitions, in words (also in ``docs/data-model.md``, generated from
:data:`METRICS` and kept in sync by a test):

- a line's **value** is its ``amount`` when the source states it (the line total as written,
  never rebuilt from a rounded unit price), else quantity x unit price less the line discount;
- an order's **value** is what the customer pays for it when the source states that
  (``paid_amount``: Shopify's Total, after discounts and with shipping and taxes; Taobao's
  买家实际支付金额), else the sum of its lines' values, else its ``total_amount`` (an order
  exported without lines);
- each order is of one **kind**: ``purchase`` (status completed, paid, shipped,
  delivered or missing, value >= 0), ``return`` (value < 0: a credit note or return,
  like Online Retail's ``C`` invoices), ``reversed`` (status returned/refunded with
  a value >= 0: bought and taken back in full, so it nets to zero), ``cancelled``
  (never fulfilled), ``adjustment`` (bookkeeping) or ``open`` (pending);
- **net revenue** = value of purchases + value of returns (negative); **gross revenue**
  = value of purchases; adjustments, cancelled, reversed and open orders add nothing.

>>> "purchase" in order_values_sql()
True
>>> [m.name for m in METRICS][:3]
['line value', 'order value', 'order kind']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shoplens.store.transform import Transform

PURCHASE_STATUSES = ("completed", "paid", "shipped", "delivered")
REVERSED_STATUSES = ("returned", "refunded")
ORDER_KINDS = ("purchase", "return", "reversed", "cancelled", "adjustment", "open")
# Kinds whose value counts in revenue (purchases positive, returns negative).
REVENUE_KINDS = ("purchase", "return")

_LIST = lambda values: ", ".join(f"'{v}'" for v in values)  # noqa: E731



def line_value_sql(alias: str = "", columns: Sequence[str] | None = None) -> str:
    """The value of one order line: what the customer paid for it (negative on return lines).

    The line total as the source states it (``amount``) when given: a total rebuilt from a
    rounded unit price would not add up to the file's sum. A line of no units (a coupon line)
    is worth its amount, or nothing; its discount counts in the order's discount.

    ``columns``: the columns a relation has, when it lacks some of ``order_items``' (a staged file).

    >>> line_value_sql("i")
    'coalesce(i.amount, i.quantity * i.unit_price - sign(i.quantity) * coalesce(i.discount, 0))'
    >>> line_value_sql(columns=["quantity", "unit_price"])
    'quantity * unit_price'
    """
    a = f"{alias}." if alias else ""
    has = (lambda c: True) if columns is None else (lambda c: c in columns)  # noqa: E731
    rebuilt = f"{a}quantity * {a}unit_price"
    if has("discount"):
        rebuilt += f" - sign({a}quantity) * coalesce({a}discount, 0)"
    return f"coalesce({a}amount, {rebuilt})" if has("amount") else rebuilt


# Kind of an order from its status and value (``v``: the order's value expression).
_KIND = f"""CASE WHEN o.status = 'adjustment' THEN 'adjustment'
            WHEN {{v}} < 0 THEN 'return'
            WHEN o.status IS NULL OR o.status IN ({_LIST(PURCHASE_STATUSES)}) THEN 'purchase'
            WHEN o.status IN ({_LIST(REVERSED_STATUSES)}) THEN 'reversed'
            WHEN o.status = 'cancelled' THEN 'cancelled'
            ELSE 'open' END"""


def _before(column: str, end: str | None) -> str:
    return f" AND {column} < {end}" if end else ""


def order_values_sql(end: str | None = None, customer: str | None = None) -> str:
    """Every order (before ``end``, a SQL literal, exclusive) with its ``amount`` (value) and ``kind``.

    ``customer`` (a SQL literal or parameter such as ``$customer``) keeps one customer's orders and
    sums only their lines (a per-request lookup must not aggregate every line of the shop).
    Columns: order_id, customer_id, ordered_at, status, currency, channel, discount, amount, kind.
    """
    # a stated payment wins over the lines (Shopify's lines leave out shipping, taxes and the order's
    # discount; Taobao's are at list price); a derived total does not (Online Retail's invoice totals
    # were summed over repeated rows that ingest drops)
    value = "coalesce(o.paid_amount, ol.amount, o.total_amount, 0)"
    lines = f"SELECT order_id, sum({line_value_sql()}) AS amount FROM order_items"
    if customer is not None:
        lines += f" WHERE order_id IN (SELECT order_id FROM orders WHERE customer_id = {customer})"
    return f"""SELECT o.order_id, o.customer_id, o.ordered_at, o.status, o.currency, o.channel,
               coalesce(o.discount_amount, 0) AS discount, {value} AS amount, {_KIND.format(v=value)} AS kind
        FROM orders o LEFT JOIN ({lines} GROUP BY order_id) ol ON ol.order_id = o.order_id
        WHERE TRUE{_before('o.ordered_at', end)}{f' AND o.customer_id = {customer}' if customer is not None else ''}"""


def line_values_sql(end: str | None = None) -> str:
    """Order lines that count in revenue (lines of purchases and returns), with their signed ``amount``.

    Columns: order_id, customer_id, ordered_at, kind, product_id, quantity, amount. Summed
    over any grouping (category, product, month) they give that group's net revenue.
    """
    return f"""SELECT i.order_id, lv.customer_id, lv.ordered_at, lv.kind, i.product_id, i.quantity,
               {line_value_sql('i')} AS amount
        FROM order_items i JOIN ({order_values_sql(end)}) lv ON lv.order_id = i.order_id
        WHERE lv.kind IN ({_LIST(REVENUE_KINDS)})"""


def revenue_orders_sql(end: str | None = None, customer: str | None = None) -> str:
    """Orders that count in revenue (purchases and returns, guest checkouts included) before ``end``
    (of one ``customer`` when given)."""
    return f"SELECT * FROM ({order_values_sql(end, customer)}) ro WHERE kind IN ({_LIST(REVENUE_KINDS)})"


def purchases_sql(end: str | None = None) -> str:
    """Customers' purchases (customer_id, order_id, ordered_at, amount, channel, discount) before ``end``."""
    return f"""SELECT customer_id, order_id, ordered_at, amount, channel, discount
        FROM ({order_values_sql(end)}) pv WHERE kind = 'purchase' AND customer_id IS NOT NULL"""


def returns_sql(end: str | None = None) -> str:
    """Customers' returns (customer_id, order_id, ordered_at, returned: a positive amount) before ``end``."""
    return f"""SELECT customer_id, order_id, ordered_at, -amount AS returned
        FROM ({order_values_sql(end)}) rv WHERE kind = 'return' AND customer_id IS NOT NULL"""


def customer_value_sql(end: str | None = None, customer: str | None = None) -> str:
    """Per customer with at least one purchase before ``end`` (only ``customer`` when given): orders,
    gross_revenue, returned_value, net_revenue, average_order_value, first_order_at, last_order_at."""
    return f"""SELECT customer_id, orders, gross_revenue, returned_value, gross_revenue - returned_value AS net_revenue,
               (gross_revenue - returned_value) / orders AS average_order_value, first_order_at, last_order_at
        FROM (SELECT customer_id, count(*) FILTER (WHERE kind = 'purchase') AS orders,
                     coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS gross_revenue,
                     coalesce(-sum(amount) FILTER (WHERE kind = 'return'), 0) AS returned_value,
                     min(ordered_at) FILTER (WHERE kind = 'purchase') AS first_order_at,
                     max(ordered_at) FILTER (WHERE kind = 'purchase') AS last_order_at
              FROM ({order_values_sql(end, customer)}) cv
              WHERE customer_id IS NOT NULL AND kind IN ({_LIST(REVENUE_KINDS)})
              GROUP BY customer_id) cv_sums
        WHERE orders > 0"""


SHOP_KPIS = Transform(
    "shop_kpis",
    f"""
    WITH ov AS ({order_values_sql()}),
         per_customer AS (SELECT customer_id, count(*) AS n FROM ov
                          WHERE kind = 'purchase' AND customer_id IS NOT NULL GROUP BY customer_id),
         sums AS (SELECT count(*) FILTER (WHERE kind = 'purchase') AS orders,
                         coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS gross_revenue,
                         coalesce(-sum(amount) FILTER (WHERE kind = 'return'), 0) AS returned_value,
                         count(*) FILTER (WHERE kind IN ('return', 'reversed', 'cancelled')) AS cancellations,
                         min(ordered_at) AS first_order, max(ordered_at) AS last_order, min(currency) AS currency
                  FROM ov)
    SELECT (SELECT count(*) FROM per_customer) AS customers, orders, gross_revenue - returned_value AS revenue,
           (gross_revenue - returned_value) / nullif(orders, 0) AS average_order_value,
           (SELECT avg(CASE WHEN n >= 2 THEN 1.0 ELSE 0.0 END) FROM per_customer) AS repeat_purchase_rate,
           cancellations, gross_revenue, returned_value, first_order, last_order, currency
    FROM sums
    """,
    inputs=("orders", "order_items"),
    description="headline KPIs of the shop",
)

NET_REVENUE_BY_MONTH = Transform(
    "net_revenue_by_month",
    f"""SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month,
               round(sum(amount), 2) AS revenue,
               count(*) FILTER (WHERE kind = 'purchase') AS orders,
               count(DISTINCT customer_id) FILTER (WHERE kind = 'purchase') AS customers
        FROM ({revenue_orders_sql()}) m GROUP BY 1 ORDER BY 1""",
    inputs=("orders", "order_items"),
)



def period_kpis_sql(start: str, end: str) -> str:
    """Net revenue, orders and customers of the orders placed in ``[start, end)`` (SQL literals), by the
    same definitions as :data:`SHOP_KPIS`: the period comparison of ``shoplens summary`` uses it.

    >>> "kind = 'purchase'" in period_kpis_sql("DATE '2011-11-01'", "DATE '2011-12-01'")
    True
    """
    return f"""SELECT coalesce(sum(amount) FILTER (WHERE kind IN ({_LIST(REVENUE_KINDS)})), 0) AS revenue,
               count(*) FILTER (WHERE kind = 'purchase') AS orders,
               count(DISTINCT customer_id) FILTER (WHERE kind = 'purchase') AS customers,
               count(*) FILTER (WHERE kind IN ('return', 'reversed', 'cancelled')) AS cancellations
        FROM ({order_values_sql(end)}) pk WHERE ordered_at >= {start}"""


def period_lines_sql(start: str, end: str) -> str:
    """Revenue lines (:func:`line_values_sql`) of orders placed in ``[start, end)``: net revenue by product
    or category in a period, for the "why" of a change."""
    return f"SELECT * FROM ({line_values_sql(end)}) pl WHERE ordered_at >= {start}"


def complaints_sql(start: str, end: str, reviews: bool = True, messages: bool = True) -> str:
    """Complaints received in ``[start, end)``: reviews scored negative (``text_reviews``) and support
    messages whose intent is ``complaint`` or whose sentiment is negative (``text_messages``).
    ``reviews`` / ``messages``: whether those tables exist. Columns: source, id, customer_id, product_id.

    >>> "intent = 'complaint'" in complaints_sql("DATE '2011-11-01'", "DATE '2011-12-01'")
    True
    """
    parts = []
    if reviews:
        parts.append(f"""SELECT 'review' AS source, review_id AS id, customer_id, product_id FROM text_reviews
            WHERE sentiment = 'negative' AND created_at >= {start} AND created_at < {end}""")
    if messages:
        parts.append(f"""SELECT 'message' AS source, message_id AS id, customer_id, NULL AS product_id FROM text_messages
            WHERE (intent = 'complaint' OR sentiment = 'negative') AND created_at >= {start} AND created_at < {end}""")
    return " UNION ALL ".join(parts) or "SELECT NULL AS source, NULL AS id, NULL AS customer_id, NULL AS product_id WHERE FALSE"


def category_sql(alias: str = "p") -> str:
    """A product's category for grouping; products without one are ``uncategorised``.

    >>> category_sql("pr")
    "coalesce(pr.category, 'uncategorised')"
    """
    return f"coalesce({alias + '.' if alias else ''}category, 'uncategorised')"


@dataclass(frozen=True)
class Metric:
    """One documented metric: its name, where it is computed, and its definition in words."""

    name: str
    definition: str
    sql: str
    used_by: str
    zh: str = ""  # the definition in Chinese (the dashboard's tooltip in zh)
    keys: tuple[str, ...] = ()  # the fields and KPIs that show this metric (the dashboard's tooltips)


METRICS: list[Metric] = [
    Metric("line value", "the line's `amount` as the source states it; else quantity x unit price - line discount",
           "line_value_sql", "order value, revenue by category/product, demand revenue",
           zh="订单行的价值：数据源给出的行金额（amount）；没有时为数量 × 单价 - 行折扣", keys=()),
    Metric("order value", "what the customer pays for the order when the source states it (`paid_amount`: after "
           "discounts, with shipping and taxes); else the sum of the order's line values; else the order's "
           "`total_amount` (an order without lines)",
           "order_values_sql", "every metric below; drift's `order_value`",
           zh="数据源给出的客户实付金额（paid_amount：扣除折扣、含运费和税）；没有时为订单各行价值之和；"
              "没有订单行时为订单的总金额（total_amount）", keys=("order_value",)),
    Metric("order kind", "`purchase` (status completed/paid/shipped/delivered or missing, value >= 0), `return` "
           "(value < 0), `reversed` (status returned/refunded, value >= 0: nets to zero), `cancelled`, `adjustment`, "
           "`open` (pending)", "order_values_sql", "every metric below",
           zh="订单类型：购买（已完成/已付款/已发货/已送达或无状态，价值 ≥ 0）、退货（价值 < 0）、冲销（已退回/已退款，价值 ≥ 0，合计为零）、取消、调整、未完成", keys=()),
    Metric("orders", "number of purchases (guest checkouts included in shop totals)", "SHOP_KPIS, customer_value_sql",
           "overview KPIs, revenue by month, weekday/hour and weekly patterns, RFM frequency, customer features and "
           "profile, REST customer summary",
           zh="购买订单数（店铺合计含游客下单）", keys=("orders",)),
    Metric("customers", "customers with at least one purchase", "SHOP_KPIS, customer_value_sql",
           "overview KPIs, RFM, segments, cohorts, dashboard, report",
           zh="至少有一笔购买的客户数", keys=("customers", "size", "n_customers")),
    Metric("gross revenue", "value of purchases", "SHOP_KPIS, customer_value_sql",
           "overview (`gross_revenue`), RFM `gross_value`, features `gross_revenue`",
           zh="购买订单的价值之和", keys=("gross_revenue", "gross_value")),
    Metric("returns", "value of returns, as a positive amount (`returned_value`)", "SHOP_KPIS, returns_sql",
           "overview, RFM `returned_value`, features `return_rate`, CLV",
           zh="退货订单的价值（以正数计）", keys=("returned_value",)),
    Metric("net revenue", "gross revenue - returns; for a group of lines (category, product, month) the sum of the "
           "signed values of lines of purchases and returns", "SHOP_KPIS, customer_value_sql, line_values_sql",
           "overview KPI `revenue`, revenue by month/category/product, category trends, weekly anomalies, "
           "RFM `monetary`, features and profile `net_revenue`, segment `avg_net_revenue` and revenue share, "
           "REST customer summary and orders by month, dashboard, report, the demo's A/A test, `shoplens summary` "
           "(`period_kpis_sql`, `period_lines_sql`)",
           zh="总收入减去退货；一组订单行（品类、商品、月份）的净收入是其购买和退货订单行的带符号价值之和", keys=("revenue", "net_revenue", "monetary", "avg_net_revenue")),
    Metric("average order value", "net revenue / orders", "SHOP_KPIS, customer_value_sql",
           "overview KPI, customer features `aov`",
           zh="净收入 ÷ 订单数", keys=("average_order_value", "aov")),
    Metric("repeat-purchase rate", "share of customers with two or more purchases", "SHOP_KPIS", "overview KPI",
           zh="有两笔及以上购买的客户占比", keys=("repeat_purchase_rate",)),
    Metric("cancellations / returns", "number of orders of kind return, reversed or cancelled", "SHOP_KPIS",
           "overview KPI `cancellations`",
           zh="类型为退货、冲销或取消的订单数", keys=("cancellations",)),
    Metric("complaints", "reviews scored negative plus support messages with intent `complaint` or a negative "
           "sentiment", "complaints_sql", "`shoplens summary`, the report's and the dashboard's summary",
           zh="负面评论加上意图为投诉或情感为负面的客服消息", keys=("complaints",)),
    Metric("units demanded", "units on lines with a positive quantity of orders that are not cancelled or adjustments "
           "(returned orders count: the customer did buy)", "DEMAND_LINE_SQL",
           "demand series and forecasts, market trends",
           zh="未取消、非调整订单中数量为正的订单行件数（退货订单也计入：客户确实购买过）", keys=("units_demanded",)),
]

# Scores that models compute (not SQL over the orders): the screens explain them as well, one
# definition each (``sql`` names the module that computes it).
SCORES: list[Metric] = [
    Metric("churn risk", "the chance that the customer makes no purchase in the next 90 days, from the churn model",
           "shoplens.customers.churn", "Customer 360, segment members",
           zh="客户在未来 90 天内不再购买的概率（流失模型）", keys=("churn_risk",)),
    Metric("12-month CLV", "the customer's expected value over the next 12 months, discounted (BG/NBD purchases x "
           "Gamma-Gamma spend)", "shoplens.customers.clv", "Customer 360, segments `avg_clv`, segment members",
           zh="客户未来 12 个月的预期价值（折现；BG/NBD 购买次数 × Gamma-Gamma 消费额）", keys=("clv", "avg_clv")),
    Metric("chance still active", "the chance that the customer still buys from the shop (BG/NBD)",
           "shoplens.customers.clv", "Customer 360", zh="客户仍在本店购买的概率（BG/NBD）", keys=("p_alive",)),
    Metric("share of customers", "the segment's customers / all customers with a purchase",
           "shoplens.customers.segments", "segments", zh="该分群客户数 ÷ 有购买的客户总数", keys=("share_of_customers",)),
    Metric("share of revenue", "the segment's net revenue / the shop's net revenue", "shoplens.customers.segments",
           "segments", zh="该分群净收入 ÷ 店铺净收入", keys=("share_of_revenue",)),
    Metric("PSI", "population stability index: how far a feature's recent distribution moved from its reference "
           "(> 0.1 moderate, > 0.25 significant)", "shoplens.monitor.drift", "data quality, drift alerts",
           zh="群体稳定性指数：特征近期分布偏离参考期的程度（> 0.1 中等，> 0.25 显著）", keys=("psi",)),
    Metric("lift", "how many times more often the outcome (a customer rule's churn or repeat purchase, or a cross-sell "
           "rule's second product) occurs where the rule's condition holds than across all customers or baskets",
           "shoplens.customers.rules, shoplens.recs.rules", "rules",
           zh="规则条件成立时，结果（客户规则的流失或复购、交叉销售规则的第二件商品）出现的频率是全体客户或购物篮的多少倍",
           keys=("lift", "lift_later", "lift_mining")),
    Metric("confidence", "the share of baskets holding the rule's first product(s) that also hold the second",
           "shoplens.recs.rules", "rules, bought together", zh="含规则第一件商品的购物篮中同时含第二件商品的占比",
           keys=("confidence",)),
]


def metric_tooltips(lang: str = "en") -> dict[str, str]:
    """One sentence per field or KPI that shows a metric (``revenue``, ``churn_risk``...): the metric's
    definition of :data:`METRICS` or :data:`SCORES` in ``lang`` (``en`` or ``zh``), for the dashboard.

    >>> metric_tooltips()["average_order_value"]
    'Average order value: net revenue / orders.'
    >>> metric_tooltips("zh")["repeat_purchase_rate"]
    '有两笔及以上购买的客户占比。'
    """
    out: dict[str, str] = {}
    for m in [*METRICS, *SCORES]:
        text = (m.zh + "。") if lang == "zh" else f"{m.name[0].upper()}{m.name[1:]}: {m.definition.replace('`', '')}."
        for k in m.keys:
            out.setdefault(k, text)
    return out


# Order lines that are demand (aliases ``oi`` for order_items, ``o`` for orders).
DEMAND_LINE_SQL = "oi.quantity > 0 AND coalesce(o.status, '') NOT IN ('cancelled', 'adjustment')"


def metrics_markdown() -> str:
    """The metrics table of ``docs/data-model.md`` (kept in sync by a test)."""
    rows = ["| metric | definition | defined in `shoplens.metrics` | used by |", "|---|---|---|---|"]
    rows += [f"| {m.name} | {m.definition} | `{m.sql}` | {m.used_by} |" for m in METRICS]
    return "\n".join(rows) + "\n"

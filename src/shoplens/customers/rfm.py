"""RFM: recency, frequency and monetary value per customer, quintile scores and named segments.

Scores are 1-5 from percent ranks (ties share a score, so a crowd of one-order
customers all get F=1 instead of being split arbitrarily). Segments use the
usual R x FM grid, where FM is the rounded mean of the F and M scores.
Frequency is the number of orders and monetary value the net revenue, both as
defined once in :mod:`shoplens.metrics` (purchases minus returns).

>>> SEGMENTS["Champions"]["zh"]
'冠军客户'
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from shoplens.customers.data import customer_value_sql, last_order_date, parse_date
from shoplens.errors import InsufficientDataError
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse, serves

# name -> Chinese label, what it means, what to do (English, Chinese)
SEGMENTS: dict[str, dict[str, str]] = {
    "Champions": {"zh": "冠军客户", "meaning": "bought recently, buy often and spend the most",
                  "action": "reward them; ask for reviews; early access to new products", "action_zh": "给予奖励，邀请评价，新品抢先体验"},
    "Loyal": {"zh": "忠诚客户", "meaning": "buy regularly and spend well",
              "action": "upsell higher-value products; loyalty programme", "action_zh": "推荐更高价值商品，加入会员计划"},
    "Potential loyalist": {"zh": "潜在忠诚客户", "meaning": "recent customers with a few orders",
                           "action": "membership offer; personal recommendations", "action_zh": "会员邀请，个性化推荐"},
    "New": {"zh": "新客户", "meaning": "first order very recently",
            "action": "onboarding: welcome series, second-order incentive", "action_zh": "新客引导：欢迎邮件，二次购买激励"},
    "Promising": {"zh": "有潜力客户", "meaning": "recent but have spent little so far",
                  "action": "build the relationship: free shipping on the next order", "action_zh": "建立关系：下单包邮"},
    "Need attention": {"zh": "需要关注", "meaning": "average recency, frequency and spend",
                       "action": "limited-time offer based on past purchases", "action_zh": "基于历史购买的限时优惠"},
    "About to sleep": {"zh": "即将沉睡", "meaning": "below-average recency and few orders",
                       "action": "reactivate with popular products and a small discount", "action_zh": "用热门商品和小额折扣唤醒"},
    "At risk": {"zh": "流失风险客户", "meaning": "used to buy often but not for a long time",
                "action": "personal win-back message; ask what went wrong", "action_zh": "个性化召回，了解流失原因"},
    "Can't lose": {"zh": "不能失去的客户", "meaning": "were among the best customers, now silent",
                   "action": "call them back personally; strong win-back offer", "action_zh": "专人回访，强力召回优惠"},
    "Hibernating": {"zh": "休眠客户", "meaning": "last order long ago, few orders, low spend",
                    "action": "low-cost reminder with relevant products", "action_zh": "低成本提醒，推送相关商品"},
    "Lost": {"zh": "已流失客户", "meaning": "lowest recency, frequency and spend",
             "action": "ignore in paid campaigns; include only in cheap broad mailings", "action_zh": "不再投放付费营销，仅低成本群发"},
}

# First match wins; (segment, condition on r and fm scores).
SEGMENT_RULES: list[tuple[str, str]] = [
    ("Champions", "r >= 4 AND fm >= 4 AND f >= 3"),
    ("Can't lose", "r <= 1 AND fm >= 4"),
    ("At risk", "r <= 2 AND fm >= 3"),
    ("Loyal", "r >= 3 AND fm >= 3"),
    ("New", "r = 5 AND f <= 1"),
    ("Promising", "r = 4 AND f <= 1"),
    ("Potential loyalist", "r >= 4"),
    ("Need attention", "r = 3 AND fm >= 2"),
    ("About to sleep", "r = 3"),
    ("Lost", "r <= 1 AND fm <= 1"),
    ("Hibernating", "TRUE"),
]


def _case_sql(field: str) -> str:
    whens = " ".join(f"WHEN {cond} THEN '{name.replace(chr(39), chr(39) * 2)}'" for name, cond in SEGMENT_RULES)
    return f"CASE {whens} END AS {field}"


RFM = Transform(
    "customer_rfm",
    f"""
    WITH v AS (
        SELECT customer_id, date_diff('day', last_order_at::DATE, {{as_of}}::DATE) AS recency_days,
               orders AS frequency, gross_revenue AS gross_value, returned_value, net_revenue AS monetary,
               first_order_at, last_order_at
        FROM ({customer_value_sql('{as_of}')}) cv_all
    ), scored AS (
        SELECT *, least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY recency_days DESC)))::INTEGER AS r,
                  least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY frequency)))::INTEGER AS f,
                  least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY monetary)))::INTEGER AS m
        FROM v
    ), graded AS (SELECT *, round((f + m) / 2.0)::INTEGER AS fm FROM scored)
    SELECT customer_id, recency_days, frequency, monetary, gross_value, returned_value, first_order_at, last_order_at,
           r AS r_score, f AS f_score, m AS m_score, concat(r, f, m) AS rfm_code, {_case_sql('segment')},
           {{as_of}} AS as_of
    FROM graded ORDER BY customer_id
    """,
    inputs=("orders", "order_items"),
    description="RFM values, 1-5 scores (window functions) and segment per customer",
)


def compute_rfm(wh: Warehouse, *, as_of: str | date | None = None, write: bool = True) -> pd.DataFrame:
    """RFM values, 1-5 scores and segment (English + Chinese) per customer as of a date.

    ``as_of`` (exclusive) defaults to the day after the last purchase. Runs :data:`RFM` on
    the warehouse's engine; writes ``customer_rfm`` (``eval_customer_rfm`` when ``as_of`` is before
    the default: a look back is never served, see :func:`~shoplens.store.warehouse.serves`).
    """
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    out = RFM.run(wh, as_of=datetime(end.year, end.month, end.day))
    if out.empty:
        raise InsufficientDataError(f"no purchases before {end}; RFM needs completed orders")
    out["segment_zh"] = out["segment"].map(lambda s: SEGMENTS[s]["zh"])
    if write and serves(end, latest):
        wh.write_result("customer_rfm", out, kind="customer", info={"as_of": end})
    elif write:
        wh.write_evaluation("customer_rfm", out, info={"as_of": end})
    return out


def segment_summary(rfm: pd.DataFrame) -> pd.DataFrame:
    """Customers, revenue share, averages and the recommended action per RFM segment."""
    total = rfm["monetary"].clip(lower=0).sum() or 1.0
    g = rfm.groupby("segment").agg(customers=("customer_id", "size"), revenue=("monetary", "sum"),
                                   avg_recency_days=("recency_days", "mean"), avg_orders=("frequency", "mean"),
                                   avg_monetary=("monetary", "mean")).reset_index()
    g["share_of_customers"] = g["customers"] / len(rfm)
    g["share_of_revenue"] = g["revenue"].clip(lower=0) / total
    g["segment_zh"] = g["segment"].map(lambda s: SEGMENTS[s]["zh"])
    g["meaning"] = g["segment"].map(lambda s: SEGMENTS[s]["meaning"])
    g["action"] = g["segment"].map(lambda s: SEGMENTS[s]["action"])
    order = {name: i for i, name in enumerate(SEGMENTS)}
    return g.sort_values("segment", key=lambda s: s.map(order)).reset_index(drop=True)

"""Numbers, money, dates, column headers and plurals for people, in English (en-GB) or Chinese (zh-CN).

The one place that decides how a figure looks: the HTML report, the terminal (``summary``, the demo)
and, through :func:`dashboard_labels_js`, the dashboard's column headers. Locale rules (separators,
currency symbols) come from Babel's CLDR data, not hand-written tables.

>>> count(2839.0), money(1178.146, "GBP"), percent(0.1234), when("2011-12-09 10:30:12.345678")
('2,839', '£1,178.15', '12.3%', '2011-12-09 10:30')
>>> counted(1, "product"), counted(3, "product"), counted(2, "product", lang="zh"), days_ago(1)
('1 product', '3 products', '2 个商品', '1 day ago')
>>> header("avg_recency_days"), header("avg_recency_days", "zh")
('Average recency (days)', '平均最近购买（天）')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from babel.numbers import format_currency, format_decimal, format_percent

Lang = Literal["en", "zh"]
LANGS: tuple[str, ...] = ("en", "zh")
LOCALES = {"en": "en_GB", "zh": "zh_CN"}
# Review aspects in Chinese (shoplens.text.aspects' and the clothing reviews' words), for generated sentences
ASPECTS_ZH: dict[str, str] = {
    "appearance": "外观", "function": "功能", "logistics": "物流", "packaging": "包装", "price": "价格",
    "quality": "质量", "service": "服务", "size_fit": "尺码与合身", "fit": "合身", "size": "尺码", "delivery": "配送",
    "material": "材质", "comfort": "舒适度",
}
MAX_COLOURS = 8  # a chart shows at most this many series or colours; the rest are grouped as "other"

# Nouns that are counted on screens: English singular, English plural, Chinese (measure word + noun).
NOUNS: dict[str, tuple[str, str, str]] = {
    "product": ("product", "products", "个商品"), "customer": ("customer", "customers", "位客户"),
    "order": ("order", "orders", "笔订单"), "day": ("day", "days", "天"), "review": ("review", "reviews", "条评论"),
    "message": ("message", "messages", "条消息"), "complaint": ("complaint", "complaints", "条投诉"),
    "row": ("row", "rows", "行"), "segment": ("segment", "segments", "个分群"), "rule": ("rule", "rules", "条规则"),
    "text": ("text", "texts", "条文本"), "month": ("month", "months", "个月"), "file": ("file", "files", "个文件"),
    "action": ("action", "actions", "个行动"), "step": ("step", "steps", "个步骤"),
}

# Column headers for people: (English, Chinese). Columns not listed get their words split and capitalised.
HEADERS: dict[str, tuple[str, str]] = {
    "customer_id": ("Customer", "客户"), "product_id": ("Product id", "商品编号"), "name": ("Product", "商品"),
    "product": ("Product", "商品"), "category": ("Category", "品类"), "revenue": ("Net revenue", "净收入"),
    "units": ("Units", "件数"), "orders": ("Orders", "订单数"), "customers": ("Customers", "客户数"),
    "month": ("Month", "月份"), "segment": ("Segment", "分群"), "segment_name": ("Segment", "分群"),
    "segment_zh": ("Segment (Chinese)", "分群"), "share_of_customers": ("Share of customers", "客户占比"),
    "share_of_revenue": ("Share of revenue", "收入占比"), "avg_recency_days": ("Average recency (days)", "平均最近购买（天）"),
    "avg_orders": ("Average orders", "平均订单数"), "meaning": ("Meaning", "含义"), "action": ("Action", "行动"),
    "description": ("Description", "说明"), "clv": ("12-month CLV", "12 个月 CLV"), "p_alive": ("Chance still active", "仍活跃概率"),
    "expected_purchases": ("Expected purchases", "预期购买次数"), "frequency": ("Repeat purchases", "复购次数"),
    "churn_risk": ("Churn risk", "流失风险"), "reasons": ("Why", "原因"), "rule": ("Rule", "规则"),
    "rule_zh": ("Rule (Chinese)", "规则"), "support": ("Support", "支持度"), "confidence": ("Confidence", "置信度"),
    "lift": ("Lift", "提升度"), "lift_mining": ("Lift (mining)", "提升度（挖掘期）"), "lift_later": ("Lift (later)", "提升度（验证期）"),
    "validated": ("Validated", "已验证"), "explanation": ("Explanation", "解释"), "antecedent": ("If bought", "已购买"),
    "consequent": ("Then buys", "随后购买"), "antecedent_name": ("If bought", "已购买"), "consequent_name": ("Then buys", "随后购买"),
    "table": ("Table", "表"), "rows": ("Rows", "行数"), "reason": ("Reason", "原因"), "column": ("Column", "列"),
    "feature": ("Feature", "特征"), "kind": ("Kind", "类型"), "psi": ("PSI", "PSI"), "status": ("Status", "状态"),
    "reference_n": ("Reference rows", "参考行数"), "current_n": ("Current rows", "当前行数"),
    "score": ("Score", "得分"), "rank": ("Rank", "排名"), "reviews": ("Reviews", "评论数"), "sentiment": ("Sentiment", "情感"),
    "aspect": ("Aspect", "方面"), "mentions": ("Mentions", "提及次数"), "negative": ("Negative", "负面"),
    "policy": ("Policy", "策略"), "arm": ("Arm", "臂"), "decisions": ("Decisions", "决策数"), "rewards": ("Rewards", "奖励数"),
    "mean_reward": ("Mean reward", "平均奖励"), "computed_at": ("Computed", "计算时间"), "version": ("Version", "版本"),
    "model": ("Model", "模型"), "first_order": ("First order", "首单"), "last_order": ("Last order", "末单"),
    "first_order_at": ("First order", "首单"), "last_order_at": ("Last order", "末单"),
    "net_revenue": ("Net revenue", "净收入"), "gross_revenue": ("Gross revenue", "总收入"), "returned_value": ("Returned", "退货金额"),
    "average_order_value": ("Average order value", "平均订单金额"), "recency_days": ("Days since last order", "距上次购买（天）"),
    "monetary": ("Net revenue", "净收入"), "forecast": ("Forecast units", "预测件数"), "reorder_qty": ("Reorder units", "补货件数"),
    "topic": ("Topic", "主题"), "label": ("Label", "标签"), "count": ("Count", "数量"), "share": ("Share", "占比"),
    "change": ("Change", "变化"), "contribution": ("Contribution", "贡献"), "previous": ("Previous period", "上一周期"),
    "current": ("Last period", "最近周期"), "metric": ("Metric", "指标"), "value": ("Value", "数值"),
    "created_at": ("Created", "创建时间"), "data_start": ("Data from", "数据起始"), "data_end": ("Data to", "数据截止"),
    "started_at": ("Started", "开始时间"), "finished_at": ("Finished", "结束时间"), "files": ("Files", "文件"),
    "read": ("Rows read", "读取行数"), "loaded": ("Loaded", "已导入"), "updated": ("Updated", "已更新"),
    "quarantined": ("Quarantined", "已隔离"), "duplicates": ("Duplicates", "重复"), "seconds": ("Seconds", "秒"),
    "run_id": ("Run", "运行编号"), "mode": ("Mode", "模式"), "error": ("Error", "错误"), "pulls": ("Pulls", "次数"),
    "mean": ("Mean", "均值"), "n": ("Count", "数量"), "alpha": ("Alpha", "α"), "beta": ("Beta", "β"),
    "experiment": ("Experiment", "实验"), "variant": ("Variant", "版本"), "conversion": ("Conversion", "转化率"),
    "lift_pct": ("Lift (%)", "提升（%）"), "p_value": ("p-value", "p 值"), "verdict": ("Verdict", "结论"),
    "line": ("Line", "行号"), "file": ("File", "文件"), "traits": ("Traits", "特征"), "avg_net_revenue": ("Average net revenue", "平均净收入"),
    "avg_aov": ("Average order value", "平均订单金额"), "avg_items_per_order": ("Products per order", "每单商品种数"),
    "avg_distinct_products": ("Different products", "不同商品数"), "avg_reviews": ("Reviews per customer", "人均评论数"),
    "avg_support_contacts": ("Support contacts", "客服联系次数"), "avg_negative_message_share": ("Negative messages", "负面消息占比"),
    "segment_id": ("Segment id", "分群编号"), "risk_band": ("Risk", "风险等级"), "intent": ("Intent", "意图"),
    "quote": ("Quote", "引文"), "quotes": ("Quotes", "引文"), "positive_share": ("Positive", "正面占比"),
    "negative_share": ("Negative", "负面占比"), "mean_score": ("Mean score", "平均得分"), "key": ("Key", "键"),
    "min_time": ("From", "起始时间"), "max_time": ("To", "截止时间"), "last_ingest": ("Last loaded", "最近导入"),
    "revenue_last_3m": ("Revenue, last 3 months", "近 3 个月收入"), "revenue_prev_3m": ("Revenue, 3 months before", "此前 3 个月收入"),
    "growth": ("Growth", "增长"), "revenue_total": ("Revenue, total", "总收入"), "week": ("Week", "周"),
    "revenue_median": ("Usual revenue (median)", "常见收入（中位数）"), "orders_median": ("Usual orders (median)", "常见订单数（中位数）"),
    "revenue_z": ("Revenue z-score", "收入 z 值"), "orders_z": ("Orders z-score", "订单 z 值"),
    "revenue_anomaly": ("Unusual revenue", "收入异常"), "orders_anomaly": ("Unusual orders", "订单异常"),
    "cohort": ("Cohort", "同期群"), "period_index": ("Months since first order", "首单后月数"), "retention": ("Retention", "留存率"),
    "trend": ("Trend", "趋势"), "units_change_pct": ("Change in units (%)", "件数变化（%）"), "order_quantity": ("Order units", "订购件数"),
    "reorder_point": ("Reorder point", "再订货点"), "safety_stock": ("Safety stock", "安全库存"), "service_level": ("Service level", "服务水平"),
    "fill_rate": ("Fill rate", "满足率"), "stock_value_at_risk": ("Stock value at risk", "风险库存价值"),
    "lead_time_demand": ("Demand over lead time", "提前期需求"), "demand_per_period": ("Demand per period", "每期需求"),
    "yhat": ("Forecast", "预测"), "yhat_lower": ("Forecast, low", "预测下限"), "yhat_upper": ("Forecast, high", "预测上限"),
    "ds": ("Date", "日期"), "terms": ("Terms", "关键词"), "size": ("Size", "规模"),
    "avg_clv": ("Average 12-month CLV", "平均 12 个月 CLV"), "avg_negative_review_share": ("Negative reviews", "负面评论占比"),
    "avg_churn_risk": ("Average churn risk", "平均流失风险"),
    "avg_tenure_days": ("Days since first order", "首单至今天数"),
    "avg_avg_days_between_orders": ("Days between orders", "购买间隔天数"),
    "avg_price_index": ("Price index", "价格指数"), "avg_return_rate": ("Return rate", "退货率"),
    "avg_top_category_share": ("Share in main category", "主品类占比"),
    "avg_discount_share": ("Discounted share", "折扣占比"), "avg_weekend_share": ("Weekend share", "周末购买占比"),
    "avg_evening_share": ("Evening share", "晚间购买占比"),
    "avg_review_sentiment_score": ("Review sentiment", "评论情感得分"), "avg_monetary": ("Average net revenue", "平均净收入"),
    "policy_version": ("Policy version", "策略版本"), "started": ("Started", "开始"), "last_decision": ("Last decision", "最近决策"),
    "first_decision": ("First decision", "首次决策"), "reward_rate": ("Reward rate", "奖励率"), "actions": ("Actions", "动作"),
    "rule_id": ("Rule", "规则编号"), "condition": ("Condition", "条件"), "baskets": ("Baskets", "购物篮数"),
    "goal": ("Goal", "目标"), "audience": ("Audience", "受众"), "arms": ("Arms", "分组"), "effect": ("Effect", "效果"),
    "ci_low": ("95% interval, low", "95% 区间下限"), "ci_high": ("95% interval, high", "95% 区间上限"),
    "chance_to_win": ("Chance to beat control", "胜过对照组的概率"), "field": ("Field", "字段"),
    # demand, calibration, drift and text tables of the report
    "average_stock": ("Average stock", "平均库存"), "bin": ("Bin", "分箱"), "checked_at": ("Checked", "检查时间"),
    "complaints_rising_while_falling": ("Complaints rising while sales fall", "销量下降时投诉上升"),
    "cover_demand": ("Demand to cover", "需覆盖需求"), "current_start": ("Current from", "当前起始"),
    "current_end": ("Current to", "当前截止"), "current_mean": ("Current mean", "当前均值"),
    "reference_start": ("Reference from", "参考起始"), "reference_end": ("Reference to", "参考截止"),
    "reference_mean": ("Reference mean", "参考均值"), "direction": ("Direction", "方向"),
    "direction_p_value": ("Direction p-value", "方向 p 值"), "example_review_ids": ("Example reviews", "示例评论"),
    "expected_excess_at_arrival": ("Expected excess at arrival", "到货时预期过剩"),
    "expected_short_per_cycle": ("Expected shortfall per cycle", "每周期预期缺货"), "first_sale": ("First sale", "首次销售"),
    "first_sale_in_window": ("First sale in window", "窗口内首次销售"), "freq": ("Frequency", "频率"),
    "interval_coverage_backtest": ("Interval coverage (backtest)", "区间覆盖率（回测）"), "language": ("Language", "语言"),
    "lead_time_periods": ("Lead time (periods)", "提前期（期数）"), "lead_time_sd": ("Lead time spread", "提前期标准差"),
    "level": ("Level", "层级"), "mean_share": ("Mean share", "平均占比"),
    "negative_share_earlier": ("Negative, earlier", "此前负面占比"), "negative_share_recent": ("Negative, recent", "近期负面占比"),
    "observed": ("Observed", "实际"), "predicted": ("Predicted", "预测"), "order_rule": ("Order rule", "订货规则"),
    "period_start": ("Period from", "周期起始"), "ramp_up_ratio": ("Ramp-up ratio", "爬坡倍数"),
    "reviews_recent": ("Reviews, recent", "近期评论数"), "sentiment_source": ("Sentiment from", "情感来源"),
    "slope_pct_per_week": ("Slope (% per week)", "斜率（每周 %）"), "units_earlier": ("Units, earlier", "此前件数"),
    "units_recent": ("Units, recent", "近期件数"), "units_first_4_weeks": ("Units, first 4 weeks", "前 4 周件数"),
    "units_last_4_weeks": ("Units, last 4 weeks", "最近 4 周件数"), "until": ("Until", "截至"),
    "value_change_pct": ("Change in value (%)", "金额变化（%）"), "value_earlier": ("Value, earlier", "此前金额"),
    "value_recent": ("Value, recent", "近期金额"), "weeks_since_launch": ("Weeks since launch", "上市周数"),
    "window_start": ("Window from", "窗口起始"), "window_end": ("Window to", "窗口截止"),
}

_ID_LIKE = ("_id", "year", "version", "code")
_SHARE_LIKE = ("share", "rate", "risk", "p_alive", "confidence", "support")
_MONEY_LIKE = ("revenue", "clv", "monetary", "value", "amount", "aov", "spend", "price")


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["en"])


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def count(n: Any, lang: str = "en") -> str:
    """A count as an integer with separators: ``2,839`` (never ``2,839.00``).

    >>> count(1234567, "zh")
    '1,234,567'
    """
    return "" if _missing(n) else format_decimal(round(float(n)), format="#,##0", locale=_locale(lang))


def number(v: Any, lang: str = "en", digits: int = 2) -> str:
    """A measured quantity with at most ``digits`` decimals: ``1,178.15``, ``3.2``.

    >>> number(1178.146), number(3.0)
    ('1,178.15', '3')
    """
    if _missing(v):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "-∞"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(float(v), format=pattern, locale=_locale(lang))


def money(v: Any, currency: str | None, lang: str = "en", digits: int = 2) -> str:
    """An amount with its currency (the symbol the locale uses), or the bare number when none is stated.

    >>> money(-12.5, "GBP"), money(12.5, "EUR", "zh"), money(3, None)
    ('-£12.50', '€12.50', '3.00')
    """
    if _missing(v):
        return ""
    if not currency or "/" in currency:  # no or several currencies: a number, labelled elsewhere
        return format_decimal(float(v), format="#,##0." + "0" * digits, locale=_locale(lang))
    return format_currency(float(v), currency, locale=_locale(lang),
                           format=None if digits == 2 else "¤#,##0" + ("." + "0" * digits if digits else ""),
                           currency_digits=digits == 2)


def percent(share: Any, lang: str = "en", digits: int = 1) -> str:
    """A share (0-1) as a percentage: ``12.3%``.

    >>> percent(0.5, "zh"), percent(-0.031)
    ('50%', '-3.1%')
    """
    if _missing(share):
        return ""
    return format_percent(float(share), format="#,##0" + ("." + "#" * digits if digits else "") + "%",
                          locale=_locale(lang))


def signed_percent(change: Any, lang: str = "en") -> str:
    """A relative change with its sign: ``+12.3%``, ``-4%``; blank when unknown.

    >>> signed_percent(0.123), signed_percent(-0.04)
    ('+12.3%', '-4%')
    """
    if _missing(change):
        return ""
    return ("+" if float(change) > 0 else "") + percent(change, lang)


def when(v: Any, lang: str = "en") -> str:
    """A date (``2011-12-09``) or a time to the minute (``2011-12-09 10:30``): never microseconds.

    >>> when(pd.Timestamp("2011-12-09")), when(None)
    ('2011-12-09', '')
    """
    if _missing(v):
        return ""
    if isinstance(v, str):
        try:
            v = pd.Timestamp(v)
        except ValueError:
            return v
    if isinstance(v, datetime | pd.Timestamp):
        ts = pd.Timestamp(v)
        return ts.strftime("%Y-%m-%d") if (ts.hour, ts.minute, ts.second) == (0, 0, 0) else ts.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def counted(n: Any, noun: str, lang: str = "en") -> str:
    """``n`` with its noun in the right form: ``1 product``, ``2 products``, ``2 个商品``.

    Nouns not in :data:`NOUNS` take an ``s`` in English and stay as given in Chinese.
    """
    en_one, en_many, zh = NOUNS.get(noun, (noun, noun + "s", noun))
    text = count(n, lang)
    if lang == "zh":
        return f"{text} {zh}"
    return f"{text} {en_one if _missing(n) or abs(float(n)) == 1 else en_many}"


def days_ago(n: Any, lang: str = "en") -> str:
    """``1 day ago``, ``3 days ago``, ``today``; ``3 天前`` in Chinese.

    >>> days_ago(0), days_ago(3, "zh")
    ('today', '3 天前')
    """
    if _missing(n):
        return ""
    if round(float(n)) == 0:
        return "今天" if lang == "zh" else "today"
    return f"{count(n, lang)} 天前" if lang == "zh" else f"{counted(round(float(n)), 'day')} ago"


def header(column: str, lang: str = "en") -> str:
    """A column header for people: ``share_of_revenue`` -> ``Share of revenue`` / ``收入占比``."""
    if column in HEADERS:
        return HEADERS[column][1 if lang == "zh" else 0]
    if column.startswith("avg_") and column[4:] in HEADERS:  # avg_X: "Average X" / "平均X"
        en, zh = HEADERS[column[4:]]
        return "平均" + zh if lang == "zh" else "Average " + en[:1].lower() + en[1:]
    words = str(column).replace("_", " ").strip()
    words = words.replace("avg ", "average ").replace(" n", " count") if words.startswith("avg ") else words
    return words[:1].upper() + words[1:]


def _kind(column: str) -> str:
    c = column.lower()
    if c.endswith(_ID_LIKE) or c in ("month", "period"):
        return "label"
    if any(s in c for s in _SHARE_LIKE) and "count" not in c:
        return "share"
    if any(s in c for s in _MONEY_LIKE):
        return "money"
    return "number"


def cell(v: Any, column: str = "", lang: str = "en", currency: str | None = None) -> str:
    """One table cell for people, by what its column holds: ids and months as they are, shares as
    percentages, money with its currency, counts as integers, times without microseconds.

    >>> cell(0.25, "share_of_revenue"), cell(1178.146, "revenue", currency="GBP"), cell(2839.0, "orders")
    ('25%', '£1,178.15', '2,839')
    >>> cell(536365, "order_id"), cell(True, "validated"), cell(True, "validated", "zh")
    ('536365', 'yes', '是')
    """
    if _missing(v):
        return ""
    if isinstance(v, bool):
        return ("是" if v else "否") if lang == "zh" else ("yes" if v else "no")
    if isinstance(v, datetime | date | pd.Timestamp):
        return when(v, lang)
    kind = _kind(column)
    if isinstance(v, int | float) and not isinstance(v, bool):
        if kind == "label":
            return str(int(v)) if float(v).is_integer() else str(v)
        if kind == "share" and -1.5 <= float(v) <= 1.5:
            return percent(v, lang)
        if kind == "money":
            return money(v, currency, lang)
        if float(v).is_integer():
            return count(v, lang)
        return number(v, lang, digits=2 if abs(float(v)) >= 1 else 3)
    if isinstance(v, list | tuple):
        return ", ".join(cell(x, column, lang, currency) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{header(k, lang)}: {cell(x, k, lang, currency)}" for k, x in v.items())
    return str(v)


def for_people(frame: pd.DataFrame, lang: str = "en", currency: str | None = None,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` (only ``columns`` when given) with human headers and formatted cells.

    >>> for_people(pd.DataFrame({"units": [3.0], "revenue": [12.346]}), currency="GBP").to_dict("records")
    [{'Units': '3', 'Net revenue': '£12.35'}]
    """
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    out = pd.DataFrame({header(str(c), lang): [cell(v, str(c), lang, currency) for v in frame[c]] for c in cols},
                       index=frame.index)
    return out.reset_index(drop=True)


def top_with_other(labels: Sequence[Any], values: Sequence[float], n: int = MAX_COLOURS,
                   other: str = "other") -> tuple[list[Any], list[float]]:
    """The ``n - 1`` largest (label, value) pairs and the rest summed as ``other``, so a chart needs
    at most ``n`` colours.

    >>> top_with_other(list("abcd"), [1, 5, 3, 2], n=3)
    (['b', 'c', 'other'], [5, 3, 3.0])
    """
    pairs = sorted(zip(labels, values, strict=True), key=lambda p: -float(p[1] or 0))
    if len(pairs) <= n:
        return [p[0] for p in pairs], [p[1] for p in pairs]
    head, rest = pairs[: n - 1], pairs[n - 1:]
    return [p[0] for p in head] + [other], [p[1] for p in head] + [sum(float(p[1] or 0) for p in rest)]


def dashboard_labels_js() -> str:
    """The column headers as a script for the dashboard (``/assets/labels.js``), so the dashboard and
    the report name a column the same way."""
    import json

    return "window.SHOPLENS_HEADERS = " + json.dumps(
        {lang: {c: h[i] for c, h in HEADERS.items()} for i, lang in enumerate(LANGS)}, ensure_ascii=False) + ";\n"

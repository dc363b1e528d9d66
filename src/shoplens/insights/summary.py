"""What changed, why, and what to do: the shop's last period against the one before, in a few lines.

The same summary opens the HTML report, the dashboard's home page (``/api/v1/summary``) and
``shoplens summary``. Figures use :mod:`shoplens.metrics` (net revenue, orders, customers,
complaints), so they match the API and the report. It only reads the warehouse.

>>> s = shop_summary(demo_warehouse(), days=30)  # the bundled demo shop, ingested (see conftest.py)
>>> [c["metric"] for c in s.changes]  # and complaints once texts are analysed
['revenue', 'customers', 'orders']
>>> s.period["end"]
'2011-12-10'
>>> 5 <= len(s.lines()) <= 40
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from shoplens import formatting as fmt
from shoplens.errors import UserInputError
from shoplens.metrics import category_sql, complaints_sql, period_kpis_sql, period_lines_sql
from shoplens.store.transform import sql_literal
from shoplens.store.warehouse import Warehouse

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Summary", "what": "What changed", "why": "Why", "todo": "What to do",
        "period": "Last {days} days ({start} to {last}) against the {days} days before",
        "revenue": "Net revenue", "customers": "Customers", "orders": "Orders", "complaints": "Complaints",
        "was": "(was {v})", "new": "new", "same": "no change", "colon": ": ",
        "product": "Product {name}", "category": "Category {name}", "segment": "Segment “{name}”",
        "aspect": "Complaints about {name}", "share": " ({share} of the change)",
        "aspect_text": "{n} in the last period (was {was})",
        "rule": "{action}: {customers} with {rule}", "churn": "{n} at high churn risk; most often because of {reason}",
        "reorder": "Reorder advice for {n}; most at risk: {name}, order {qty} units when stock falls to {point}",
        "no_orders": "No orders yet: load them with `shoplens ingest FILES`.",
        "no_why": "Nothing stands out: no product, category or segment moved revenue noticeably.",
        "no_todo": "No actions yet: run `shoplens customers rules`, `shoplens customers churn` and "
                   "`shoplens demand reorder` to get them.",
        "units": "units",
    },
    "zh": {
        "title": "摘要", "what": "变化", "why": "原因", "todo": "建议行动",
        "period": "最近 {days} 天（{start} 至 {last}）与之前 {days} 天相比",
        "revenue": "净收入", "customers": "客户数", "orders": "订单数", "complaints": "投诉",
        "was": "（此前 {v}）", "new": "新增", "same": "无变化", "colon": "：",
        "product": "商品 {name}", "category": "品类 {name}", "segment": "分群「{name}」",
        "aspect": "关于{name}的投诉", "share": "（占变化的 {share}）",
        "aspect_text": "最近周期 {n}（此前 {was}）",
        "rule": "{action}：{customers}（{rule}）", "churn": "{n}流失风险高；最常见原因：{reason}",
        "reorder": "{n}有补货建议；风险最高：{name}，库存降到 {point} 件时订购 {qty} 件",
        "no_orders": "尚无订单：用 `shoplens ingest FILES` 导入。",
        "no_why": "没有突出的变化：没有商品、品类或分群明显影响收入。",
        "no_todo": "暂无建议：运行 `shoplens customers rules`、`shoplens customers churn` 和 "
                   "`shoplens demand reorder` 生成。",
        "units": "件",
    },
}
# Chinese names of the review aspects and churn reasons the summary names
ASPECTS_ZH = {"fit": "合身", "size": "尺码", "quality": "质量", "appearance": "外观", "function": "功能",
              "price": "价格", "delivery": "配送", "material": "材质", "service": "服务", "comfort": "舒适度"}


@dataclass
class ShopSummary:
    """The summary: the periods compared, the changes, their causes and the actions, with sentences."""

    lang: str
    currency: str | None
    period: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)
    why: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``shoplens summary --json``, ``/api/v1/summary``)."""
        w = WORDS[self.lang]
        return {"lang": self.lang, "currency": self.currency, "period": self.period,
                "headings": {k: w[k] for k in ("title", "what", "why", "todo")},
                "period_text": self.period_text(), "changes": self.changes, "why": self.why,
                "actions": self.actions, "lines": self.lines()}

    def to_html(self) -> str:
        """The summary as an HTML block (the top of the report); every text escaped."""
        import html

        w = WORDS[self.lang]
        e = html.escape
        parts = [f'<div class="summary"><p><b>{e(self.period_text())}</b></p>']
        if self.changes:
            good = {c["metric"]: (-1 if c["metric"] == "complaints" else 1) * (c["change"] or 0) for c in self.changes}
            items = "".join(
                f'<li class="{"up" if good[c["metric"]] > 0 else "down" if good[c["metric"]] < 0 else ""}">'
                f'<b>{e(c["label"])}</b> {e(c["text"])}</li>' for c in self.changes)
            parts.append(f"<h3>{e(w['what'])}</h3><ul>{items}</ul>")
            why = "".join(f"<li>{e(x['text'])}</li>" for x in self.why) or f"<li>{e(w['no_why'])}</li>"
            parts.append(f"<h3>{e(w['why'])}</h3><ul>{why}</ul>")
        todo = "".join(f"<li>{e(a['text'])}" + (f" <code>{e(a['command'])}</code>" if a.get("command") else "") + "</li>"
                       for a in self.actions)
        parts.append(f"<h3>{e(w['todo'])}</h3>" + (f"<ol>{todo}</ol>" if todo else f"<p>{e(w['no_todo'])}</p>"))
        return "".join(parts) + "</div>"

    def period_text(self) -> str:
        p = self.period
        if not p.get("end"):
            return WORDS[self.lang]["no_orders"]
        return WORDS[self.lang]["period"].format(days=p["days"], start=p["start"], last=p["last"])

    def lines(self) -> list[str]:
        """The summary as 5-40 short lines for a terminal (no markup)."""
        w = WORDS[self.lang]
        out = [self.period_text()]
        if not self.period.get("end"):
            return out + ["", w["no_todo"], "", ""]
        out += ["", w["what"]]
        width = max(len(c["label"]) for c in self.changes)
        for c in self.changes:
            out.append(f"  {c['label']:<{width}}  {c['text']}")
        out += ["", w["why"]]
        out += [f"  - {x['text']}" for x in self.why] or [f"  {w['no_why']}"]
        out += ["", w["todo"]]
        out += [f"  {i}. {a['text']}" + (f"  → {a['command']}" if a.get("command") else "")
                for i, a in enumerate(self.actions, 1)] or [f"  {w['no_todo']}"]
        return out


def _reason(feature: str, lang: str) -> str:
    """A churn reason's feature in words (the rules' words: ``items_per_order`` -> "different products
    per order" / "每单商品种数"), else its header."""
    from shoplens.customers.rules import WORDS

    if feature in WORDS:
        return WORDS[feature][1 if lang == "zh" else 0]
    return fmt.header(feature, lang).lower() if lang == "en" else fmt.header(feature, lang)


def _condition(rule: str) -> str:
    """The condition of a rule (``IF orders <= 1 THEN ...`` -> ``orders <= 1``; ``如果订单数≤1，则...`` -> ``订单数≤1``)."""
    m = re.match(r"\s*(?:IF|如果)\s*(.*?)\s*(?:THEN|，则|,\s*then)", rule)
    return m.group(1) if m else rule


def _value(metric: str, v: float, currency: str | None, lang: str) -> str:
    return fmt.money(v, currency, lang, digits=0) if metric == "revenue" else fmt.count(v, lang)


def _change_text(metric: str, cur: float, prev: float, currency: str | None, lang: str) -> tuple[float | None, str]:
    w = WORDS[lang]
    change = (cur - prev) / abs(prev) if prev else None
    rel = w["same"] if cur == prev else fmt.signed_percent(change, lang) if change is not None else w["new"]
    return change, f"{_value(metric, cur, currency, lang)}  {rel} {w['was'].format(v=_value(metric, prev, currency, lang))}"


def _revenue_by(wh: Warehouse, key_sql: str, join: str, start: str, mid: str, end: str) -> pd.DataFrame:
    """Net revenue per key in the previous and the last period, and the change (largest moves first)."""
    return wh.query(f"""
        SELECT {key_sql} AS key, coalesce(sum(l.amount) FILTER (WHERE l.ordered_at >= {mid}), 0) AS current,
               coalesce(sum(l.amount) FILTER (WHERE l.ordered_at < {mid}), 0) AS previous
        FROM ({period_lines_sql(start, end)}) l {join}
        GROUP BY 1 HAVING key IS NOT NULL ORDER BY abs(current - previous) DESC, key LIMIT 5""")


def shop_summary(wh: Warehouse, *, days: int = 30, lang: str = "en") -> ShopSummary:
    """Compare the last ``days`` days of orders (ending with the last order's day) with the ``days`` before.

    ``lang``: ``en`` or ``zh`` for the sentences. Reads only.
    """
    if lang not in fmt.LANGS:
        raise UserInputError(f"lang must be one of {', '.join(fmt.LANGS)}, not {lang!r}")
    if days < 1:
        raise UserInputError(f"days must be at least 1, not {days}")
    from shoplens.insights.shop_report import shop_currency

    w = WORDS[lang]
    currency = shop_currency(wh)
    last = (wh.query("SELECT max(ordered_at) AS last FROM orders")["last"].iloc[0]
            if wh.has_table("orders") else None)
    if last is None or pd.isna(last):
        return ShopSummary(lang, currency, {"days": days, "start": None, "end": None, "last": None})
    end_day = pd.Timestamp(last).normalize() + timedelta(days=1)
    mid_day, start_day = end_day - timedelta(days=days), end_day - timedelta(days=2 * days)
    start, mid, end = (sql_literal(d.to_pydatetime()) for d in (start_day, mid_day, end_day))
    period = {"days": days, "start": fmt.when(mid_day), "end": fmt.when(end_day),
              "last": fmt.when(end_day - timedelta(days=1)), "previous_start": fmt.when(start_day)}
    summary = ShopSummary(lang, currency, period)

    # What changed
    current = wh.query(period_kpis_sql(mid, end)).iloc[0]
    previous = wh.query(period_kpis_sql(start, mid)).iloc[0]
    has_reviews, has_messages = wh.has_table("text_reviews"), wh.has_table("text_messages")
    values = {m: (float(current[m]), float(previous[m])) for m in ("revenue", "customers", "orders")}
    if has_reviews or has_messages:
        values["complaints"] = tuple(float(wh.query(f"SELECT count(*) AS n FROM ({complaints_sql(a, b, has_reviews, has_messages)}) c")["n"].iloc[0])
                                     for a, b in ((mid, end), (start, mid)))
    for metric, (cur, prev) in values.items():
        change, text = _change_text(metric, cur, prev, currency, lang)
        summary.changes.append({"metric": metric, "label": w[metric], "current": cur, "previous": prev,
                                "change": change, "text": text})

    # Why: what moved revenue, ranked by its share of the change
    total = values["revenue"][0] - values["revenue"][1]
    candidates = []
    products = _revenue_by(wh, "l.product_id", "", start, mid, end)
    names = dict(wh.query("SELECT product_id, min(name) AS name FROM products GROUP BY 1").itertuples(index=False)) \
        if wh.has_table("products") and len(products) else {}
    for r in products.head(3).itertuples():
        candidates.append(("product", str(r.key), names.get(r.key) or str(r.key), r.current - r.previous))
    if wh.has_table("products"):
        cats = _revenue_by(wh, category_sql("p"), "LEFT JOIN products p USING (product_id)", start, mid, end)
        candidates += [("category", str(r.key), str(r.key), r.current - r.previous) for r in cats.head(2).itertuples()]
    if wh.has_table("customer_segments"):
        segs = _revenue_by(wh, "s.segment_name", "JOIN customer_segments s USING (customer_id)", start, mid, end)
        from shoplens.customers.segments import segment_name_zh

        candidates += [("segment", str(r.key), segment_name_zh(str(r.key)) if lang == "zh" else str(r.key),
                        r.current - r.previous) for r in segs.head(2).itertuples()]
    candidates.sort(key=lambda c: -abs(c[3]))
    for kind, key, name, delta in candidates[:5]:
        share = delta / total if total else None
        if abs(delta) < 0.01:
            continue
        text = f"{w[kind].format(name=name)}{w['colon']}{'+' if delta > 0 else ''}{fmt.money(delta, currency, lang, digits=0)}"
        if share is not None and 0 < share <= 1:  # a share of the change only when it moved the same way
            text += w["share"].format(share=fmt.percent(share, lang, digits=0))
        summary.why.append({"kind": kind, "key": key, "name": name, "change": delta, "share_of_change": share,
                            "text": text})
    if wh.has_table("text_review_aspects"):
        aspects = wh.query(f"""SELECT aspect AS key, count(*) FILTER (WHERE created_at >= {mid}) AS current,
                                      count(*) FILTER (WHERE created_at < {mid}) AS previous
                               FROM text_review_aspects WHERE polarity = 'negative' AND created_at >= {start}
                                 AND created_at < {end} GROUP BY 1 ORDER BY current - previous DESC, key LIMIT 1""")
        for r in aspects.itertuples():
            if r.current > r.previous:
                name = ASPECTS_ZH.get(r.key, r.key) if lang == "zh" else r.key
                summary.why.append({"kind": "aspect", "key": r.key, "name": name, "change": float(r.current - r.previous),
                                    "share_of_change": None,
                                    "text": f"{w['aspect'].format(name=name)}{w['colon']}" + w["aspect_text"].format(
                                        n=fmt.count(r.current, lang), was=fmt.count(r.previous, lang))})

    # What to do
    if wh.has_table("customer_rules") and "validated" in wh.columns("customer_rules"):
        zh = lang == "zh" and "action_zh" in wh.columns("customer_rules")
        rules = wh.query(f"""SELECT rule_id, {'rule_zh' if zh else 'rule'} AS rule, {'action_zh' if zh else 'action'} AS action,
                                    support FROM customer_rules WHERE validated ORDER BY lift_later * support DESC, rule_id LIMIT 2""")
        for r in rules.itertuples():
            summary.actions.append({"kind": "rule", "key": r.rule_id, "command": "shoplens customers rules",
                                    "text": w["rule"].format(action=r.action, customers=fmt.counted(r.support, "customer", lang),
                                                             rule=_condition(r.rule))})
    if wh.has_table("customer_churn") and "risk_band" in wh.columns("customer_churn"):
        high = wh.query("""SELECT count(*) AS n, mode(top_reason_feature) AS reason FROM customer_churn
                           WHERE risk_band = 'high'""").iloc[0]
        if high["n"]:
            summary.actions.append({"kind": "churn", "key": "high", "command": "shoplens customers churn",
                                    "text": w["churn"].format(n=fmt.counted(high["n"], "customer", lang),
                                                              reason=_reason(str(high["reason"]), lang))})
    if wh.has_table("demand_reorder") and wh.row_count("demand_reorder"):
        top = wh.query("""SELECT count(*) OVER () AS n, name, product_id, order_quantity, reorder_point
                          FROM demand_reorder ORDER BY stock_value_at_risk DESC NULLS LAST, product_id LIMIT 1""").iloc[0]
        summary.actions.append({"kind": "reorder", "key": str(top["product_id"]), "command": "shoplens demand reorder",
                                "text": w["reorder"].format(n=fmt.counted(top["n"], "product", lang),
                                                            name=top["name"] or top["product_id"],
                                                            qty=fmt.count(top["order_quantity"], lang),
                                                            point=fmt.count(top["reorder_point"], lang))})
    return summary

"""The report on any warehouse (``shoplens report``): what the shop's warehouse already holds.

It reads the results that the analyses stored (RFM, segments, CLV, churn, cohorts, rules,
recommendations, demand, text, decisions, drift) and never computes or changes anything:
call it on a warehouse opened read-only. A section whose results are missing says which
command would fill it. Money is labelled in the currency the orders state; customers appear
only under the shop's own ids, and only when they allow personalisation
(:func:`~shoplens.customers.output.exposable`); text is HTML-escaped by :class:`Report`.

>>> wh = demo_warehouse()  # the bundled demo shop, ingested only (see conftest.py)
>>> r = build_shop_report(wh)
>>> [s.key for s in r.sections][:3]
['summary', 'overview', 'data']
>>> r.section("rfm").fill
'shoplens customers rfm'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from shoplens import formatting as fmt
from shoplens.errors import ConfigError, UserInputError
from shoplens.insights.report import Report, kpi_html
from shoplens.store.files import write_export
from shoplens.store.shop import read_shop
from shoplens.store.warehouse import Warehouse

Lang = Literal["en", "zh"]
LANGS = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "shoplens report", "subtitle": "What the warehouse {path} holds",
        "missing": "Not computed yet: run `{cmd}` to fill this section.",
        "summary": "Summary: what changed, why, what to do", "overview": "Overview", "data": "Data", "rfm": "RFM segments", "segments": "Behavioural segments",
        "clv": "Customer lifetime value", "churn": "Churn risk", "cohorts": "Cohorts and trends",
        "rules": "Customer rules", "recs": "Recommendations", "demand": "Demand", "text": "Reviews and messages",
        "decisions": "Decisions", "drift": "Drift", "campaigns": "Campaigns",
        "customers": "customers", "orders": "orders", "revenue": "net revenue", "aov": "average order value",
        "repeat": "repeat-purchase rate", "cancellations": "cancellations / returns", "period": "period",
        "by_month": "Net revenue by month", "top_categories": "Top categories", "top_products": "Top products",
        "tables": "Tables", "quarantine": "Quarantine reasons", "clv_hist": "12-month CLV per customer",
        "top_clv": "Highest CLV (customers who allow personalisation)", "top_churn": "Highest churn risk and why",
        "calibration": "Churn calibration", "category_trends": "Category trends", "anomalies": "Weekly anomalies",
        "assoc": "Bought together (association rules)", "recommended": "Most recommended products",
        "forecast": "Forecast", "reorder": "Reorder advice", "trends": "Trends",
        "topics": "Topics", "sentiment": "Review sentiment", "by_policy": "Decisions by policy and action",
        "no_currency": "currency not stated",
    },
    "zh": {
        "title": "shoplens 报告", "subtitle": "仓库 {path} 中的数据",
        "missing": "尚未计算：运行 `{cmd}` 以生成本节。",
        "summary": "摘要：变化、原因与建议行动", "overview": "概览", "data": "数据", "rfm": "RFM 分群", "segments": "行为分群",
        "clv": "客户终身价值", "churn": "流失风险", "cohorts": "同期群与趋势",
        "rules": "客户规则", "recs": "推荐", "demand": "需求", "text": "评论与消息",
        "decisions": "决策", "drift": "数据漂移", "campaigns": "营销活动",
        "customers": "客户数", "orders": "订单数", "revenue": "净收入", "aov": "平均订单金额",
        "repeat": "复购率", "cancellations": "取消 / 退货", "period": "时间范围",
        "by_month": "每月净收入", "top_categories": "热门品类", "top_products": "热门商品",
        "tables": "数据表", "quarantine": "隔离原因", "clv_hist": "每位客户 12 个月 CLV",
        "top_clv": "CLV 最高的客户（允许个性化者）", "top_churn": "流失风险最高的客户及原因",
        "calibration": "流失模型校准", "category_trends": "品类趋势", "anomalies": "每周异常",
        "assoc": "常一起购买（关联规则）", "recommended": "最常被推荐的商品",
        "forecast": "预测", "reorder": "补货建议", "trends": "趋势",
        "topics": "主题", "sentiment": "评论情感", "by_policy": "按策略和动作统计的决策",
        "no_currency": "未注明货币",
    },
}

# The command that fills each section (shown when the warehouse lacks its results).
FILL: dict[str, str] = {
    "summary": "shoplens ingest FILES", "overview": "shoplens ingest FILES", "rfm": "shoplens customers rfm", "segments": "shoplens customers segments",
    "clv": "shoplens customers clv", "churn": "shoplens customers churn", "cohorts": "shoplens customers cohorts",
    "rules": "shoplens customers rules", "recs": "shoplens recs rules", "demand": "shoplens demand forecast",
    "text": "shoplens text analyze", "decisions": "shoplens decide choose", "drift": "shoplens monitor drift",
    "campaigns": "shoplens campaign create",
}


@dataclass
class SectionStatus:
    """One section of the report: whether the warehouse had its data, else the command that fills it."""

    key: str
    title: str
    present: bool
    fill: str | None = None
    sources: list[str] = field(default_factory=list)


@dataclass
class ShopReport:
    """The built report (``report``) and what each section found (``sections``)."""

    report: Report
    sections: list[SectionStatus]
    currency: str | None
    lang: str

    def section(self, key: str) -> SectionStatus:
        return next(s for s in self.sections if s.key == key)

    def to_html(self) -> str:
        return self.report.to_html()

    def summary(self) -> dict[str, Any]:
        """JSON-ready: language, currency and every section's status (``shoplens report --json``)."""
        return {"lang": self.lang, "currency": self.currency,
                "sections": [{"key": s.key, "title": s.title, "present": s.present, "fill": s.fill,
                              "sources": s.sources} for s in self.sections]}


def _result(wh: Warehouse, name: str) -> pd.DataFrame | None:
    """A stored result table, or None when it is missing or empty."""
    if not wh.has_table(name) or wh.row_count(name) == 0:
        return None
    return wh.table(name)


def _cols(frame: pd.DataFrame, wanted: list[str]) -> pd.DataFrame:
    return frame[[c for c in wanted if c in frame.columns]]


def _shop_ids(wh: Warehouse, frame: pd.DataFrame) -> pd.DataFrame:
    """Customer rows as they may leave shoplens: consenting customers under the shop's own ids."""
    from shoplens.customers.output import exposable

    return exposable(wh, frame) if "customer_id" in frame.columns else frame


def _with_names(wh: Warehouse, frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Product id columns shown as "NAME (id)", so a reader sees products, not codes."""
    if not wh.has_table("products") or frame.empty:
        return frame
    names = dict(wh.con.execute("SELECT product_id, min(name) FROM products GROUP BY 1").fetchall())
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = [f"{names[v]} ({v})" if names.get(v) else v for v in out[c]]
    return out


def shop_currency(wh: Warehouse) -> str | None:
    """The shop's currency: its own setting (``shoplens shop set``), else the currency the orders
    state (several: joined with '/'; none stated: None).

    >>> shop_currency(demo_warehouse())
    'GBP'
    """
    own = read_shop(wh).currency
    if own:
        return own
    if not wh.has_table("orders"):
        return None
    rows = wh.con.execute("SELECT DISTINCT currency FROM orders WHERE currency IS NOT NULL ORDER BY 1").fetchall()
    return "/".join(r[0] for r in rows) or None


def _in_lang(frame: pd.DataFrame, column: str, lang: str) -> pd.DataFrame:
    """``frame`` with ``column`` in ``lang``: its ``column_zh`` in Chinese where computed (tables computed
    before the Chinese texts existed keep their English)."""
    if lang != "zh" or f"{column}_zh" not in frame.columns:
        return frame
    return frame.assign(**{column: frame[f"{column}_zh"].fillna(frame[column])})


def build_shop_report(wh: Warehouse, *, lang: Lang = "en") -> ShopReport:
    """Build the report from what ``wh`` holds; reads only (open ``wh`` read-only).

    ``lang``: ``en`` or ``zh`` for titles, labels and the hints on missing sections.
    """
    if lang not in LANGS:
        raise UserInputError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    t = LABELS[lang]
    shop = read_shop(wh)  # the shop's own settings (shoplens shop set) come first
    currency = shop.currency or shop_currency(wh)
    cur_label = currency or t["no_currency"]
    report = Report(f"{t['title']}: {shop.name}" if shop.name else t["title"], t["subtitle"].format(path=wh.path.name),
                    lang=lang, currency=currency)
    statuses: list[SectionStatus] = []

    def add(key: str, sources: list[str], tables: list[tuple[str, pd.DataFrame]], *, blocks: list[str] | None = None,
            figures: list[Any] | None = None, text: str = "") -> None:
        present = bool(tables or blocks or figures)
        fill = None if present else FILL.get(key)
        title = t[key]
        section = report.add_section(title, key=key, text=text if present else t["missing"].format(cmd=fill))
        section.blocks.extend(blocks or [])
        for fig in figures or []:
            report.add_figure(section, fig)
        for caption, frame in tables:
            report.add_table(section, caption, frame)
        statuses.append(SectionStatus(key, title, present, fill, sources))

    # Summary first: what changed, why, what to do (the same as `shoplens summary` and the dashboard's home)
    has_orders = wh.has_table("orders") and wh.row_count("orders") > 0
    if has_orders:
        from shoplens.insights.summary import shop_summary

        add("summary", ["orders", "order_items"], [], blocks=[shop_summary(wh, lang=lang).to_html()])
    else:
        add("summary", ["orders"], [])

    # Overview: the shop's KPIs, one definition (shoplens.metrics) shared with CLI, API and dashboard
    if has_orders:
        import plotly.express as px

        from shoplens.insights.overview import overview

        ov = overview(wh)
        k = ov["kpis"]
        items = [
            (t["customers"], fmt.count(k["customers"] or 0, lang)), (t["orders"], fmt.count(k["orders"] or 0, lang)),
            (t["revenue"], fmt.money(k["revenue"], currency, lang)),
            (t["aov"], fmt.money(k["average_order_value"], currency, lang)),
            (t["repeat"], fmt.percent(k["repeat_purchase_rate"] or 0, lang)),
            (t["cancellations"], fmt.count(k["cancellations"] or 0, lang)),
            (t["period"], f"{fmt.when(k['first_order'])[:10]} … {fmt.when(k['last_order'])[:10]}"),
        ]
        rbm = ov["revenue_by_month"]
        fig = px.bar(rbm, x="month", y="revenue", title=f"{t['by_month']} ({cur_label})",
                     hover_data=[c for c in ("orders", "customers") if c in rbm.columns],
                     labels={c: fmt.header(c, lang) for c in ("month", "revenue", "orders", "customers")})
        add("overview", ["orders", "order_items"],
            [(f"{t['top_categories']} ({cur_label})", ov["top_categories"]),
             (f"{t['top_products']} ({cur_label})", ov["top_products"])],
            blocks=[kpi_html(items)], figures=[fig])
    else:
        add("overview", ["orders"], [])

    # Data: canonical tables and quarantine reasons (always there)
    from shoplens.insights.quality import quarantine_reasons
    from shoplens.store.warehouse import table_status

    status = pd.DataFrame([{"table": n, **v} for n, v in table_status(wh).items()])
    data_tables = [(t["tables"], status)]
    if wh.has_table("_quarantine"):
        q = quarantine_reasons(wh, limit=20)
        if len(q):
            data_tables.append((t["quarantine"], q))
    add("data", ["_ingest_runs", "_quarantine"], data_tables)

    # RFM
    rfm = _result(wh, "customer_rfm")
    if rfm is not None:
        from shoplens.customers.rfm import segment_summary

        summary = segment_summary(rfm)
        add("rfm", ["customer_rfm"], [(t["rfm"], _cols(summary, ["segment", "segment_zh", "customers", "share_of_customers",
                                                                  "share_of_revenue", "avg_recency_days", "avg_orders",
                                                                  "meaning", "action"]))])
    else:
        add("rfm", ["customer_rfm"], [])

    # Behavioural segments
    prof = _result(wh, "customer_segment_profiles")
    if prof is not None and lang == "zh" and "segment_name" in prof.columns:
        from shoplens.customers.segments import segment_name_zh

        prof = _in_lang(prof.assign(segment_name=prof["segment_name"].map(segment_name_zh)), "description", lang)
    add("segments", ["customer_segment_profiles"],
        [] if prof is None else [(t["segments"], _cols(prof, ["segment_name", "customers", "share_of_customers",
                                                                 "share_of_revenue", "description"]))])

    # CLV
    clv = _result(wh, "customer_clv")
    if clv is not None and "clv" in clv.columns:
        import plotly.express as px

        positive = clv[clv["clv"] > 0]
        fig = px.histogram(positive, x="clv", nbins=60, log_y=True, title=f"{t['clv_hist']} ({cur_label})")
        top = _shop_ids(wh, clv.sort_values("clv", ascending=False).head(50)).head(10)
        add("clv", ["customer_clv"], [(f"{t['top_clv']} ({cur_label})", _cols(top, ["customer_id", "clv", "p_alive",
                                                                                 "expected_purchases", "frequency"]))],
            figures=[fig])
    else:
        add("clv", ["customer_clv"], [])

    # Churn
    churn = _result(wh, "customer_churn")
    if churn is not None and "churn_risk" in churn.columns:
        top = _in_lang(_shop_ids(wh, churn.sort_values("churn_risk", ascending=False).head(50)).head(10), "reasons", lang)
        tables = [(t["top_churn"], _cols(top, ["customer_id", "churn_risk", "reasons"]))]
        cal = _result(wh, "customer_churn_calibration")
        if cal is not None:
            tables.append((t["calibration"], cal))
        add("churn", ["customer_churn", "customer_churn_calibration"], tables)
    else:
        add("churn", ["customer_churn"], [])

    # Cohorts, category trends and anomalies
    tables = []
    trends = _result(wh, "customer_category_trends")
    if trends is not None:
        tables.append((t["category_trends"], trends))
    anomalies = _result(wh, "customer_anomalies")
    if anomalies is not None and "revenue_anomaly" in anomalies.columns:
        flagged = anomalies[anomalies["revenue_anomaly"].fillna(False).astype(bool)]
        if len(flagged):
            tables.append((f"{t['anomalies']} ({cur_label})", flagged))
    add("cohorts", ["cohort_retention", "customer_category_trends", "customer_anomalies"], tables)

    # Customer rules
    rules = _result(wh, "customer_rules")
    add("rules", ["customer_rules"],
        [] if rules is None else [(t["rules"], _cols(rules, ["rule_id", "rule", "rule_zh", "support", "lift_mining",
                                                              "lift_later", "validated", "explanation"]))])

    # Recommendations: product-level only (no customer ids)
    tables = []
    assoc = _result(wh, "association_rules")
    if assoc is not None:
        tables.append((t["assoc"], _with_names(wh, assoc, ("antecedent", "consequent"))))
    recs = _result(wh, "recommendations")
    if recs is not None and "product_id" in recs.columns:
        counts = recs.groupby("product_id").size().rename("customers").reset_index()
        counts = counts.sort_values(["customers", "product_id"], ascending=[False, True])
        tables.append((t["recommended"], counts))
    add("recs", ["association_rules", "recommendations"], tables)

    # Demand
    tables = []
    for name, label in (("demand_trends", "trends"), ("demand_reorder", "reorder"), ("demand_forecast", "forecast")):
        frame = _result(wh, name)
        if frame is not None:
            tables.append((t[label], frame))
    add("demand", ["demand_trends", "demand_reorder", "demand_forecast"], tables)

    # Text
    tables = []
    topics = _result(wh, "text_topics")
    if topics is not None:
        tables.append((t["topics"], topics))
    reviews = _result(wh, "text_reviews")
    if reviews is not None and "sentiment" in reviews.columns:
        tables.append((t["sentiment"], reviews.groupby("sentiment").size().rename("reviews").reset_index()))
    add("text", ["text_reviews", "text_topics"], tables)

    # Decisions logged (canonical table `decisions`)
    tables = []
    if wh.has_table("decisions") and wh.row_count("decisions") > 0:
        cols = [c for c in ("policy", "action") if c in wh.columns("decisions")]
        if cols:
            by = wh.query(f"SELECT {', '.join(cols)}, count(*) AS decisions FROM decisions GROUP BY ALL "
                          "ORDER BY decisions DESC LIMIT 50")
            tables.append((t["by_policy"], by))
    add("decisions", ["decisions"], tables)

    # Campaigns: each campaign's lift as `shoplens campaign report` computes it (nothing posted: read-only)
    tables = []
    if wh.has_table("campaigns") and wh.has_table("campaign_assignments"):
        from shoplens.campaigns.report import campaign_report
        from shoplens.errors import InsufficientDataError

        for name in [r[0] for r in wh.con.execute("SELECT DISTINCT name FROM campaigns ORDER BY name").fetchall()]:
            try:
                result = campaign_report(wh, name)
            except InsufficientDataError:  # created, nobody assigned yet
                continue
            goal = result["campaign"]["goal"]
            rows = pd.DataFrame([{k: a.get(k) for k in ("arm", "metric", "n", "mean", "effect", "ci_low", "ci_high",
                                                         "p_value")} for a in result["arms"] if a["metric"] == goal])
            tables.append((f"{name}: {result['conclusion']['zh' if lang == 'zh' else 'en']}", rows))
    add("campaigns", ["campaigns", "campaign_assignments", "orders"], tables)

    # Drift
    from shoplens.monitor.drift import DRIFT_TABLE

    drift = _result(wh, DRIFT_TABLE)
    add("drift", [DRIFT_TABLE], [] if drift is None else [(t["drift"], drift)])

    return ShopReport(report=report, sections=statuses, currency=currency, lang=lang)


def write_shop_report(wh: Warehouse, path: str | Path, built: ShopReport) -> Path:
    """Write the report owner-only and record it (``wh`` opened for writing), so erasure can
    find and clean it: it names customers.

    An existing file at ``path`` is replaced only when shoplens wrote it and it is unchanged
    since (shoplens never modifies a file it did not create); otherwise :class:`ConfigError`.
    """
    from shoplens.store.files import written_files

    path = Path(path)
    if path.exists() or path.is_symlink():
        ours = {os.path.abspath(f.path) for f in written_files(wh) if f.unchanged()}
        if path.is_symlink() or os.path.abspath(path) not in ours:
            raise ConfigError(f"{path}: a file shoplens did not write (or one changed since) is already there; "
                              "choose another --output or move that file away")
    return write_export(wh, path, built.to_html(), kind="report")

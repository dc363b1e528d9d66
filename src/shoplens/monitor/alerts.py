"""Alert rules: what a shop should hear about without opening the dashboard, each with its evidence.

Four rules, each reading results the capabilities already compute (never a second definition):

- ``emerging_complaint``: an aspect whose negative share rose significantly in the latest period
  (:func:`shoplens.text.insights.emerging_complaints`, one-sided two-proportion z-test).
- ``drift``: the latest stored drift check found a significant shift (PSI > 0.25,
  :func:`shoplens.monitor.drift.latest_drift`).
- ``kpi_drop``: a KPI (net revenue, orders, customers, average order value; the definitions of
  :mod:`shoplens.metrics`) fell, in the latest *complete* period, by more than its usual range: the
  ``low_percentile`` of its period-over-period changes over the last ``history_periods`` periods
  (see :class:`shoplens.config.AlertSettings`). The period holding the newest order is still open and
  is never judged; with fewer than ``min_history`` past changes the rule stays quiet.
- ``campaign_verdict``: a campaign report concludes (roll out, or do not roll out) — only when the
  report itself says so (:func:`shoplens.campaigns.report.campaign_report`); a small adapter.

Alerts are stored in ``monitor_alerts`` (shown by ``shoplens alerts list``, ``GET /api/v1/alerts``
and the dashboard). Each alert has a ``key`` naming what it is about (rule, subject, period): an alert
already stored is not raised again, so a nightly check tells of each finding once. Delivery (the
webhook) is :mod:`shoplens.monitor.webhook`; :func:`shoplens.services.check_alerts` joins the two.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (conftest.py)
>>> from shoplens.config import AlertSettings
>>> alerts, quiet = evaluate(wh, AlertSettings())
>>> sorted(quiet)  # no texts analysed, no drift check, no campaign in the bare demo warehouse
['campaign_verdict', 'drift', 'emerging_complaint']
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shoplens.config import AlertSettings
from shoplens.errors import InsufficientDataError, NotFoundError, UserInputError
from shoplens.jsonsafe import dumps, json_safe
from shoplens.metrics import revenue_orders_sql
from shoplens.store.warehouse import Warehouse, utcnow

log = logging.getLogger("shoplens.alerts")

ALERTS_TABLE = "monitor_alerts"
ALERTS_SQL = f"""CREATE TABLE IF NOT EXISTS {ALERTS_TABLE} (
    alert_id VARCHAR, kind VARCHAR, key VARCHAR, severity VARCHAR, title VARCHAR, message VARCHAR,
    evidence VARCHAR, computed_at TIMESTAMP, delivery VARCHAR, attempts INTEGER, delivered_at TIMESTAMP,
    error VARCHAR)"""
KINDS = ("emerging_complaint", "drift", "kpi_drop", "campaign_verdict")
KPIS = {"revenue": "net revenue", "orders": "orders", "customers": "customers",
        "average_order_value": "average order value"}


@dataclass(frozen=True)
class Alert:
    """One finding: which rule (``kind``), what about (``key``), in words, with its evidence."""

    kind: str
    key: str
    title: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str = "warning"
    computed_at: datetime = field(default_factory=utcnow)

    @property
    def alert_id(self) -> str:
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the webhook receives it.

        >>> Alert("drift", "drift:x", "t", "m", computed_at=datetime(2026, 1, 1)).to_dict()["computed_at"]
        '2026-01-01T00:00:00'
        """
        return json_safe({"alert_id": self.alert_id, **asdict(self)})


# ---------------------------------------------------------------- the rules


def emerging_complaint_alerts(wh: Warehouse, settings: AlertSettings) -> list[Alert]:
    """One alert per aspect whose complaints rose significantly in the latest period."""
    from shoplens.text.insights import emerging_complaints

    frame = emerging_complaints(wh)
    out = []
    for row in frame[frame["significant"]].to_dict("records"):
        period, aspect = str(row["period"]), str(row["aspect"])
        out.append(Alert(
            "emerging_complaint", f"emerging_complaint:{aspect}:{period}",
            f"Complaints about {aspect} are rising",
            f"{row['negative_share']:.0%} of {int(row['mentions'])} mentions of {aspect} were negative in the month "
            f"starting {period}, against {row['negative_share_previous']:.0%} of {int(row['mentions_previous'])} in "
            f"the month before (p = {row['p_value']:.2g}).",
            evidence={k: row[k] for k in ("aspect", "period", "previous_period", "mentions", "negative", "negative_share",
                                          "mentions_previous", "negative_previous", "negative_share_previous", "p_value")}
            | {"test": "one-sided two-proportion z-test, alpha 0.05, at least 5 mentions in each period"}))
    return out


def drift_alerts(wh: Warehouse, settings: AlertSettings) -> list[Alert]:
    """One alert when the latest stored drift check found a significant shift."""
    from shoplens.monitor.drift import latest_drift

    drift = latest_drift(wh)
    if not drift:
        raise InsufficientDataError("no drift check yet (`shoplens drift`, or the scheduled refresh)")
    checks = [c for c in drift["checks"] if c["status"] == "significant"]
    if not checks:
        return []
    features = sorted(c["feature"] for c in checks)
    window = f"{checks[0]['current_start'][:10]}..{checks[0]['current_end'][:10]}"
    return [Alert(
        "drift", f"drift:{','.join(features)}:{checks[0]['current_end'][:10]}",
        "The data has shifted since the models were trained",
        f"{len(features)} input(s) moved beyond PSI {drift['thresholds']['significant']} in {window}: "
        + ", ".join(f"{c['feature']} (PSI {c['psi']:.2f})" for c in sorted(checks, key=lambda c: c["feature"]))
        + ". The models trained before it are retrained by `shoplens retrain --if-stale`.",
        evidence={"checked_at": drift["computed_at"], "thresholds": drift["thresholds"],
                  "checks": [{k: c.get(k) for k in ("feature", "kind", "psi", "reference_start", "reference_end",
                                                    "current_start", "current_end", "reference_n", "current_n")}
                             for c in checks]},
        severity="critical")]


def kpi_series(wh: Warehouse, period: str = "month") -> pd.DataFrame:
    """Net revenue, orders, customers and average order value per complete ``period`` (week or month).

    The definitions are :mod:`shoplens.metrics`' (those of ``net_revenue_by_month`` and the shop KPIs);
    periods without a purchase count as zero; the period holding the newest order is left out (open).

    >>> kpi_series(demo_warehouse()).tail(1)[["period", "orders"]].to_dict("records")
    [{'period': Timestamp('2011-11-01 00:00:00'), 'orders': 678}]
    """
    frame = wh.query(f"""
        SELECT date_trunc('{period}', ordered_at)::TIMESTAMP AS period, sum(amount) AS revenue,
               count(*) FILTER (WHERE kind = 'purchase') AS orders,
               count(DISTINCT customer_id) FILTER (WHERE kind = 'purchase') AS customers
        FROM ({revenue_orders_sql()}) m WHERE ordered_at IS NOT NULL GROUP BY 1 ORDER BY 1""")
    if frame.empty:
        return frame.assign(average_order_value=pd.Series(dtype=float))
    freq = "MS" if period == "month" else "W-MON"
    index = pd.date_range(frame["period"].min(), frame["period"].max(), freq=freq, name="period")
    frame = frame.set_index("period").reindex(index, fill_value=0).reset_index().iloc[:-1]  # the last one is open
    frame["revenue"] = frame["revenue"].astype(float)
    frame["average_order_value"] = frame["revenue"] / frame["orders"].where(frame["orders"] > 0)
    return frame


def _number(value: float, kpi: str) -> str:
    """A KPI value as people read it: counts whole, money with two decimals."""
    return f"{value:,.0f}" if kpi in ("orders", "customers") else f"{value:,.2f}"


def kpi_drop_alerts(wh: Warehouse, settings: AlertSettings) -> list[Alert]:
    """One alert per KPI whose latest complete period fell below its usual range of changes."""
    series = kpi_series(wh, settings.kpi_period)
    if len(series) < 2:
        raise InsufficientDataError("fewer than two complete periods of orders")
    unit = settings.kpi_period
    out = []
    for kpi, name in KPIS.items():
        values = series[kpi].astype(float)
        changes = values / values.shift(1) - 1
        latest = changes.iloc[-1]
        history = changes.iloc[:-1].tail(settings.history_periods)
        history = history[np.isfinite(history)]
        if len(history) < settings.min_history or not math.isfinite(latest):
            continue
        low, high = np.percentile(history, [settings.low_percentile, settings.high_percentile])
        if not (latest < low and latest < 0):
            continue
        at, before = series["period"].iloc[-1], series["period"].iloc[-2]
        label = f"{at:%Y-%m}" if unit == "month" else f"week of {at:%Y-%m-%d}"
        out.append(Alert(
            "kpi_drop", f"kpi_drop:{kpi}:{unit}:{at:%Y-%m-%d}",
            f"{name.capitalize()} fell beyond its usual range",
            f"{name.capitalize()} fell {-latest:.1%} in {label} ({_number(values.iloc[-2], kpi)} -> "
            f"{_number(values.iloc[-1], kpi)}); "
            f"its usual {unit}-on-{unit} change is {low:+.1%} to {high:+.1%} "
            f"({settings.low_percentile:g}th-{settings.high_percentile:g}th percentile of the last {len(history)} {unit}s).",
            evidence={"kpi": kpi, "period": at, "value": values.iloc[-1], "previous_period": before,
                      "previous_value": values.iloc[-2], "change": latest, "usual_range": [low, high],
                      "percentiles": [settings.low_percentile, settings.high_percentile],
                      "history": {f"{series['period'][i]:%Y-%m-%d}": history[i] for i in history.index},
                      "definition": "shoplens.metrics (net revenue = purchases minus returns)"},
            severity="critical" if kpi == "revenue" else "warning"))
    return out


def campaign_verdict(report: dict[str, Any]) -> str | None:
    """``"roll out"`` or ``"do not roll out"`` when the campaign report concludes, else None (no
    clear winner yet, not enough data, or a sample-ratio mismatch). Reads the report's own conclusion.

    >>> campaign_verdict({"conclusion": {"en": "Roll out 10off to at_risk: +2.0 pp ..."}})
    'roll out'
    >>> campaign_verdict({"conclusion": {"en": "No clear winner yet: ..."}}) is None
    True
    """
    text = str(report.get("conclusion", {}).get("en", ""))
    if text.startswith("Roll out"):
        return "roll out"
    if text.startswith("Do not roll out"):
        return "do not roll out"
    return None


def campaign_verdict_alerts(wh: Warehouse, settings: AlertSettings) -> list[Alert]:
    """One alert per campaign whose report now concludes."""
    from shoplens.campaigns.campaign import list_campaigns
    from shoplens.campaigns.report import campaign_report

    campaigns = list_campaigns(wh)
    if campaigns.empty:
        raise InsufficientDataError("no campaigns")
    out = []
    for row in campaigns[campaigns["assigned"] > 0].to_dict("records"):
        try:
            report = campaign_report(wh, row["name"])
        except (InsufficientDataError, UserInputError, NotFoundError):
            continue
        verdict = campaign_verdict(report)
        if verdict is None:
            continue
        goal = report["campaign"]["goal"]
        out.append(Alert(
            "campaign_verdict", f"campaign_verdict:{row['name']}:v{row['version']}:{verdict}",
            f"Campaign {row['name']}: {verdict}", report["conclusion"]["en"],
            evidence={"campaign": report["campaign"]["name"], "version": report["campaign"]["version"],
                      "goal": goal, "verdict": verdict, "window": report["window"], "srm": report["srm"],
                      "arms": [r for r in report["arms"] if r["metric"] == goal], "conclusion_zh": report["conclusion"]["zh"]},
            severity="info"))
    return out


Rule = Callable[[Warehouse, AlertSettings], list[Alert]]
RULES: dict[str, Rule] = {
    "emerging_complaint": emerging_complaint_alerts,
    "drift": drift_alerts,
    "kpi_drop": kpi_drop_alerts,
    "campaign_verdict": campaign_verdict_alerts,
}


def evaluate(wh: Warehouse, settings: AlertSettings, rules: dict[str, Rule] | None = None
             ) -> tuple[list[Alert], dict[str, str]]:
    """Run every rule: (the alerts found, rule -> why it could not look). A rule without its data says
    so; a rule that breaks is logged and named, and the other rules still run (one broken rule must not
    silence the rest at night)."""
    alerts: list[Alert] = []
    quiet: dict[str, str] = {}
    for name, rule in (RULES if rules is None else rules).items():
        try:
            alerts.extend(rule(wh, settings))
        except (InsufficientDataError, NotFoundError) as exc:  # the rule's data is not there yet
            quiet[name] = str(exc)
        except Exception as exc:
            log.exception("alert rule %s failed", name)
            quiet[name] = f"failed: {type(exc).__name__}: {exc}"
    return alerts, quiet


# ---------------------------------------------------------------- storage


def record(wh: Warehouse, alerts: list[Alert]) -> list[Alert]:
    """Store the alerts not stored before (by ``key``); returns those new ones."""
    wh.con.execute(ALERTS_SQL)
    known = {k for (k,) in wh.con.execute(f"SELECT key FROM {ALERTS_TABLE}").fetchall()}
    new = []
    for alert in alerts:
        if alert.key in known:
            continue
        known.add(alert.key)
        new.append(alert)
        wh.con.execute(f"INSERT INTO {ALERTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, NULL, NULL)",
                       [alert.alert_id, alert.kind, alert.key, alert.severity, alert.title, alert.message,
                        dumps(alert.evidence), alert.computed_at])
    return new


def undelivered(wh: Warehouse) -> list[dict[str, Any]]:
    """Stored alerts not yet delivered (new, or failed before), oldest first, as the webhook gets them."""
    if not wh.has_table(ALERTS_TABLE):
        return []
    frame = wh.query(f"""SELECT alert_id, kind, key, severity, title, message, evidence, computed_at
                         FROM {ALERTS_TABLE} WHERE delivery IN ('pending', 'failed') ORDER BY computed_at, key""")
    rows = json_safe(frame.to_dict("records"))
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
    return rows


def mark_delivery(wh: Warehouse, alert_id: str, delivery: str, *, attempts: int = 0, error: str | None = None) -> None:
    """Record what delivery did: ``delivered``, ``failed`` (tried again next check) or ``no webhook``."""
    wh.con.execute(f"""UPDATE {ALERTS_TABLE} SET delivery = ?, attempts = attempts + ?, error = ?,
                       delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE alert_id = ?""",
                   [delivery, attempts, error, delivery, utcnow(), alert_id])


# ---------------------------------------------------------------- Chinese

KINDS_ZH = {"emerging_complaint": "新兴投诉", "drift": "数据漂移", "kpi_drop": "指标下降", "campaign_verdict": "营销活动结论"}
SEVERITIES_ZH = {"info": "信息", "warning": "警告", "critical": "严重"}
DELIVERIES_ZH = {"pending": "待发送", "delivered": "已送达", "failed": "发送失败（下次检查时重试）", "no webhook": "未配置 webhook"}
KPIS_ZH = {"revenue": "净收入", "orders": "订单数", "customers": "客户数", "average_order_value": "平均订单金额"}
# the aspects of shoplens.text.aspects
ASPECTS_ZH = {"appearance": "外观", "function": "功能", "logistics": "物流", "packaging": "包装", "price": "价格",
              "quality": "质量", "service": "服务", "size_fit": "尺码与合身"}
VERDICTS_ZH = {"roll out": "全面推广", "do not roll out": "不推广"}


def _pct(x: Any, digits: int = 0, sign: bool = False) -> str:
    return f"{float(x) * 100:{'+' if sign else ''}.{digits}f}%"


def text_zh(kind: str, key: str, evidence: dict[str, Any]) -> tuple[str, str] | None:
    """An alert's title and message in Chinese, written from its stored evidence (the rule wrote the
    English ones); None when the evidence lacks what the sentence needs (the English text is shown).

    >>> text_zh("kpi_drop", "kpi_drop:orders:month:2011-11-01", {"kpi": "orders", "period": "2011-11-01T00:00:00",
    ...         "value": 500, "previous_value": 700, "change": -0.2857, "usual_range": [-0.1, 0.3],
    ...         "percentiles": [5, 95], "history": {"a": 0.1, "b": 0.2}})[0]
    '订单数下降超出正常范围'
    """
    try:
        if kind == "emerging_complaint":
            aspect = ASPECTS_ZH.get(evidence["aspect"], evidence["aspect"])
            return (f"关于{aspect}的投诉正在增加",
                    f"{str(evidence['period'])[:7]} 起的一个月中，{int(evidence['mentions'])} 次提及{aspect}中有 "
                    f"{_pct(evidence['negative_share'])} 为负面，前一个月为 {int(evidence['mentions_previous'])} 次中的 "
                    f"{_pct(evidence['negative_share_previous'])}（p = {float(evidence['p_value']):.2g}）。")
        if kind == "drift":
            checks = sorted(evidence["checks"], key=lambda c: c["feature"])
            window = f"{str(checks[0]['current_start'])[:10]} 至 {str(checks[0]['current_end'])[:10]}"
            return ("自模型训练以来数据已发生漂移",
                    f"{window}期间有 {len(checks)} 个输入的 PSI 超过 {evidence['thresholds']['significant']}："
                    + "、".join(f"{c['feature']}（PSI {float(c['psi']):.2f}）" for c in checks)
                    + "。此前训练的模型将由 `shoplens retrain --if-stale` 重新训练。")
        if kind == "kpi_drop":
            kpi, unit = evidence["kpi"], key.split(":")[2]
            name = KPIS_ZH.get(kpi, kpi)
            number = (lambda v: f"{float(v):,.0f}") if kpi in ("orders", "customers") else (lambda v: f"{float(v):,.2f}")
            period = str(evidence["period"])
            label = period[:7] if unit == "month" else f"{period[:10]} 当周"
            low, high = evidence["usual_range"]
            p_low, p_high = evidence["percentiles"]
            unit_zh = "月" if unit == "month" else "周"
            return (f"{name}下降超出正常范围",
                    f"{name}在 {label} 下降 {_pct(-float(evidence['change']), 1)}（{number(evidence['previous_value'])} → "
                    f"{number(evidence['value'])}）；其通常的环比变化为 {_pct(low, 1, True)} 至 {_pct(high, 1, True)}"
                    f"（最近 {len(evidence['history'])} 个{unit_zh}的第 {p_low:g} 至第 {p_high:g} 百分位）。")
        if kind == "campaign_verdict":
            return (f"营销活动 {evidence['campaign']}：{VERDICTS_ZH.get(evidence['verdict'], evidence['verdict'])}",
                    str(evidence.get("conclusion_zh") or ""))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return None


def list_alerts(wh: Warehouse, *, kind: str | None = None, lang: str = "en") -> pd.DataFrame:
    """Stored alerts, newest first (evidence as a dict); empty when none were ever raised. ``lang="zh"``:
    titles and messages in Chinese (:func:`text_zh`), with ``kind_zh``, ``severity_zh`` and ``delivery_zh``."""
    if kind is not None and kind not in KINDS:
        raise UserInputError(f"unknown alert kind {kind!r}; choose one of: {', '.join(KINDS)}")
    columns = ["alert_id", "kind", "key", "severity", "title", "message", "evidence", "computed_at", "delivery",
               "attempts", "delivered_at", "error"]
    if not wh.has_table(ALERTS_TABLE):
        return pd.DataFrame(columns=columns)
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    frame = wh.query(f"SELECT {', '.join(columns)} FROM {ALERTS_TABLE} {where} ORDER BY computed_at DESC, key",
                     params)
    frame["evidence"] = [json.loads(e) for e in frame["evidence"]]
    if lang == "zh" and not frame.empty:
        zh = [text_zh(k, key, e) for k, key, e in zip(frame["kind"], frame["key"], frame["evidence"])]
        frame["title"] = [z[0] if z else t for z, t in zip(zh, frame["title"])]
        frame["message"] = [z[1] if z else m for z, m in zip(zh, frame["message"])]
        frame["kind_zh"] = frame["kind"].map(KINDS_ZH)
        frame["severity_zh"] = frame["severity"].map(SEVERITIES_ZH)
        frame["delivery_zh"] = frame["delivery"].map(lambda d: DELIVERIES_ZH.get(d, d))
    return frame

"""Generated business rules: readable IF/THEN rules mined from the insight
features, each with its support and the lift measured on a later time window,
explained in English and Chinese; exported as YAML/JSON and applied as tags.

How the rules are made (so their lift can be trusted):

1. *Mining window*: features (behaviour, RFM segment, review and support
   signals) as of ``end - 2*horizon``; outcome: no purchase in the next horizon
   (churn). Conditions are single facts ("RFM segment is At risk", "last review
   negative", "days since the last order >= 120") and pairs of them; candidate
   thresholds come from quantiles, with the churn model's strongest features first.
2. A rule is kept when it covers at least ``min_support`` customers and its churn
   rate differs from the average by ``min_lift`` (higher: a retention rule;
   lower: a growth rule whose lift is on buying again).
3. *Later window*: the same conditions on features as of ``end - horizon`` and
   outcomes up to ``end``, never seen while mining: the reported lift. A rule whose
   later lift does not keep its direction is marked ``validated = false`` and is
   not applied.

>>> Atom("recency_days", ">=", 120.0).sql
'recency_days >= 120.0'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoplens.customers.churn import churn_labels
from shoplens.customers.data import last_order_date, parse_date
from shoplens.customers.features import FeatureCache, customer_features
from shoplens.customers.rfm import SEGMENTS, compute_rfm
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.files import write_private
from shoplens.store.warehouse import EVALUATION_PREFIX, Warehouse, serves

# feature -> (English words, Chinese words, unit)
WORDS: dict[str, tuple[str, str]] = {
    "recency_days": ("days since the last order", "距上次下单天数"),
    "orders": ("orders", "订单数"),
    "net_revenue": ("net spend", "净消费额"),
    "aov": ("average order value", "平均订单金额"),
    "tenure_days": ("days since the first order", "首单至今天数"),
    "avg_days_between_orders": ("days between orders", "平均下单间隔天数"),
    "distinct_products": ("different products bought", "购买商品种类数"),
    "items_per_order": ("different products per order", "每单商品种数"),
    "return_rate": ("share of spend returned", "退货金额占比"),
    "cancelled_orders": ("cancelled orders", "取消订单数"),
    "price_index": ("price level paid", "支付价格水平"),
    "orders_last_90d": ("orders in the last 90 days", "近90天订单数"),
    "support_contacts": ("support conversations", "客服会话数"),
    "reviews": ("reviews written", "评价数"),
    "negative_review_share": ("share of 1-2 star reviews", "差评占比"),
    "top_category_share": ("share of spend in the favourite category", "最爱品类消费占比"),
    "review_sentiment_score": ("review sentiment score", "评价情感得分"),
    "negative_message_share": ("share of negative support messages", "负面客服消息占比"),
}
NUMERIC_CANDIDATES = list(WORDS)
CATEGORICAL = {
    "segment": ("RFM segment is {v}", "RFM分群为{zh}"),
    "last_review_sentiment": ("last review was {v}", "最近一条评价为{zh}"),
    "last_text_sentiment": ("last review text was {v}", "最近评价文本情感为{zh}"),
    "last_negative_aspect": ("last negative review was about {v}", "最近差评涉及{zh}"),
    "top_support_intent": ("most frequent support request is {v}", "最常见的客服诉求为{zh}"),
    "top_category": ("buys mostly {v}", "主要购买{zh}"),
}
SENTIMENT_ZH = {"negative": "负面", "positive": "正面", "neutral": "中性"}


@dataclass(frozen=True)
class Atom:
    """One fact about a customer, as SQL over the feature table."""

    feature: str
    op: str
    value: Any

    @property
    def sql(self) -> str:
        if isinstance(self.value, str):
            escaped = self.value.replace("'", "''")
            return f"{self.feature} {self.op} '{escaped}'"
        return f"{self.feature} {self.op} {float(self.value)!r}"

    def words(self) -> tuple[str, str]:
        if self.feature in CATEGORICAL:
            en, zh = CATEGORICAL[self.feature]
            v = str(self.value)
            v_zh = SEGMENTS[v]["zh"] if self.feature == "segment" and v in SEGMENTS else SENTIMENT_ZH.get(v, v)
            return en.format(v=v), zh.format(zh=v_zh)
        en, zh = WORDS.get(self.feature, (self.feature, self.feature))
        share = "share" in self.feature or self.feature.endswith("_rate")
        v = f"{self.value:.0%}" if share else f"{self.value:g}"
        op_zh = {">=": "≥", "<=": "≤"}[self.op]
        return f"{en} {self.op} {v}", f"{zh}{op_zh}{v}"


def _nice(v: float) -> float:
    """Round a threshold to two significant digits (a marketer reads 120, not 117.4)."""
    if v == 0 or not np.isfinite(v):
        return float(v)
    digits = 1 - int(np.floor(np.log10(abs(v))))
    return float(round(v, digits))


def candidate_atoms(frame: pd.DataFrame, priority: list[str] | None = None) -> list[Atom]:
    """Facts worth testing: quartile thresholds of numeric features and frequent categorical values."""
    atoms: list[Atom] = []
    numeric = [c for c in (priority or []) if c in NUMERIC_CANDIDATES] + NUMERIC_CANDIDATES
    seen = set()
    for col in numeric:
        if col in seen or col not in frame or frame[col].nunique(dropna=True) < 3:
            continue
        seen.add(col)
        q25, q75 = frame[col].quantile([0.25, 0.75])
        hi, lo = _nice(q75), _nice(q25)
        if hi > frame[col].min():
            atoms.append(Atom(col, ">=", hi))
        if lo < frame[col].max() and lo != hi:
            atoms.append(Atom(col, "<=", lo))
    for col in CATEGORICAL:
        if col not in frame:
            continue
        counts = frame[col].value_counts()
        for v in counts.index[:8]:
            atoms.append(Atom(col, "=", str(v)))
    return atoms


def _truth(frame: pd.DataFrame, atoms: list[Atom]) -> np.ndarray:
    """Customer x atom boolean matrix, evaluated set-based by DuckDB (NULL counts as false)."""
    import duckdb

    con = duckdb.connect()
    con.register("f", frame)
    cols = ", ".join(f"coalesce({a.sql}, FALSE) AS a{i}" for i, a in enumerate(atoms))
    try:
        columns = con.execute(f"SELECT {cols} FROM f").fetchnumpy()
    finally:
        con.close()
    return np.column_stack([np.asarray(v, dtype=bool) for v in columns.values()])


def _window(wh: Warehouse, cutoff: date, horizon_days: int, cache: FeatureCache | None = None) -> pd.DataFrame:
    features = customer_features(wh, cutoff, cache=cache)
    rfm = compute_rfm(wh, as_of=cutoff, write=False)[["customer_id", "segment"]]
    labels = churn_labels(wh, cutoff, horizon_days)
    return features.merge(rfm, on="customer_id", how="left").merge(labels, on="customer_id")


# Rule actions that contact the customer with an offer or a campaign: tagging a customer
# for one of them builds a campaign audience, which needs marketing consent too.
MARKETING_ACTIONS = frozenset({"cross-sell and loyalty upsell", "personal win-back offer",
                               "reactivation email with bestsellers"})


def _action(atoms: tuple[Atom, ...], kind: str) -> tuple[str, str]:
    values = {str(a.value) for a in atoms}
    if kind == "growth":
        return "cross-sell and loyalty upsell", "交叉销售与会员升级"
    unhappy = any(
        (a.feature in ("last_review_sentiment", "last_text_sentiment") and a.value == "negative")
        or a.feature in ("last_negative_aspect", "top_support_intent")
        or (a.feature in ("negative_review_share", "negative_message_share", "support_contacts", "return_rate") and a.op == ">=")
        for a in atoms)
    if unhappy:
        return "service call-back", "客服回访"
    if values & {"At risk", "Can't lose", "Champions", "Loyal"} or any(a.feature in ("net_revenue", "orders") and a.op == ">=" for a in atoms):
        return "personal win-back offer", "专属召回优惠"
    return "reactivation email with bestsellers", "热销商品唤醒邮件"


@dataclass
class RuleSet:
    rules: pd.DataFrame
    mining_cutoff: date
    validation_cutoff: date
    horizon_days: int

    def to_records(self) -> list[dict[str, Any]]:
        return self.rules.astype(object).where(self.rules.notna(), None).to_dict("records")

    def export(self, path: str | Path) -> Path:
        """Write the rules as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        doc = {"mining_cutoff": self.mining_cutoff.isoformat(), "validation_cutoff": self.validation_cutoff.isoformat(),
               "horizon_days": self.horizon_days, "rules": self.to_records()}
        doc = json.loads(json.dumps(doc, default=str))
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        else:
            text = json.dumps(doc, ensure_ascii=False, indent=2)
        return write_private(path, text)  # owner-only, like every file shoplens writes


def generate_rules(wh: Warehouse, *, as_of: str | date | None = None, horizon_days: int = 90, min_support: float = 0.03,
                   min_lift: float = 1.3, max_rules: int = 12, write: bool = True,
                   cache: FeatureCache | None = None) -> RuleSet:
    """Mine rules on one window, measure them on the later one; writes ``customer_rules``
    (``eval_customer_rules`` when ``as_of`` is before the default: a look back is never served).

    ``cache`` (:class:`~shoplens.customers.features.FeatureCache`) shares the customer features with other steps of the run.
    """
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    mine_cut, valid_cut = end - timedelta(days=2 * horizon_days), end - timedelta(days=horizon_days)
    mine = _window(wh, mine_cut, horizon_days, cache)
    later = _window(wh, valid_cut, horizon_days, cache)
    if len(mine) < 50 or len(later) < 50:
        raise InsufficientDataError(f"rules need at least 50 customers per window (mining {len(mine)}, later {len(later)}); "
                                    "use a shorter --horizon-days")
    priority: list[str] = []
    if wh.has_table("customer_churn"):
        from shoplens.store.registry import ModelRegistry

        try:  # distil the churn model: its strongest features are tested first
            model = ModelRegistry(wh).load("churn")
            imp = model.contributions(later[model.features_].head(2000)).abs().mean().sort_values(ascending=False)
            priority = list(imp.index)
        except Exception:  # noqa: BLE001 - the rules stand without the model
            priority = []
    atoms = candidate_atoms(mine, priority)
    A = _truth(mine, atoms).astype(float)
    B = _truth(later, atoms).astype(float)
    y, yl = mine["churned"].to_numpy(float), later["churned"].to_numpy(float)
    base, base_later = y.mean(), yl.mean()
    n_min = max(20, int(min_support * len(mine)))
    # Support and churners of every single atom and every pair, by matrix products.
    support2 = A.T @ A
    churn2 = A.T @ (A * y[:, None])
    later_support2 = B.T @ B
    later_churn2 = B.T @ (B * yl[:, None])
    candidates = []
    k = len(atoms)
    for i in range(k):
        for j in range(i, k):
            if j != i and atoms[i].feature == atoms[j].feature:
                continue
            s = support2[i, j]
            if s < n_min:
                continue
            rate = churn2[i, j] / s
            lift_churn = rate / base if base else np.nan
            lift_buy = (1 - rate) / (1 - base) if base < 1 else np.nan
            kind = "retention" if lift_churn >= min_lift else ("growth" if lift_buy >= min_lift else None)
            if kind is None:
                continue
            if i != j:  # a pair must say more than either of its facts alone
                single = [churn2[m, m] / support2[m, m] for m in (i, j)]
                if kind == "retention" and rate < 1.05 * max(single):
                    continue
                if kind == "growth" and (1 - rate) < 1.05 * max(1 - r for r in single):
                    continue
            strength = (lift_churn if kind == "retention" else lift_buy) * np.sqrt(s)
            candidates.append((strength, kind, i, j, s, rate))
    candidates.sort(key=lambda c: -c[0])
    rows, used = [], set()
    per_kind = {"retention": 0, "growth": 0}
    for strength, kind, i, j, s, rate in candidates:
        key = (kind, frozenset({atoms[i].feature, atoms[j].feature}))
        if key in used or per_kind[kind] >= (max_rules + 1) // 2:
            continue
        used.add(key)
        per_kind[kind] += 1
        pair = (atoms[i],) if i == j else (atoms[i], atoms[j])
        ls = later_support2[i, j]
        later_rate = later_churn2[i, j] / ls if ls else np.nan
        if kind == "retention":
            lift, later_lift = rate / base, (later_rate / base_later if ls and base_later else np.nan)
            outcome_en, outcome_zh = "stopped buying", "流失"
            shown, shown_later, avg, avg_later = rate, later_rate, base, base_later
        else:
            lift = (1 - rate) / (1 - base)
            later_lift = (1 - later_rate) / (1 - base_later) if ls and base_later < 1 else np.nan
            outcome_en, outcome_zh = "bought again", "再次购买"
            shown, shown_later, avg, avg_later = 1 - rate, 1 - later_rate, 1 - base, 1 - base_later
        validated = bool(np.isfinite(later_lift) and later_lift > 1.05 and ls >= max(10, n_min // 2))
        action, action_zh = _action(pair, kind)
        cond_en = " AND ".join(a.words()[0] for a in pair)
        cond_zh = "且".join(a.words()[1] for a in pair)
        later_txt = (f"on the later window ({valid_cut} + {horizon_days} days) {shown_later:.0%} vs {avg_later:.0%}, lift {later_lift:.1f}x"
                     if np.isfinite(later_lift) else "not observed on the later window")
        later_zh = (f"在后续窗口验证中为{shown_later:.0%}对{avg_later:.0%}，提升{later_lift:.1f}倍"
                    if np.isfinite(later_lift) else "后续窗口中未出现")
        rows.append({
            "rule_id": f"R{len(rows) + 1:02d}",
            "kind": kind,
            "rule": f"IF {cond_en} THEN {action}",
            "rule_zh": f"如果{cond_zh}，则{action_zh}",
            "condition_sql": " AND ".join(f"({a.sql})" for a in pair),
            "action": action,
            "action_zh": action_zh,
            "support": int(s),
            "support_share": s / len(mine),
            "outcome_rate": shown,
            "average_rate": avg,
            "lift_mining": lift,
            "later_support": int(ls),
            "later_outcome_rate": shown_later,
            "later_average_rate": avg_later,
            "lift_later": later_lift,
            "validated": validated,
            "explanation": (f"{int(s):,} customers ({s / len(mine):.0%}) with {cond_en}: {shown:.0%} of them {outcome_en} "
                            f"in the {horizon_days} days after {mine_cut} vs {avg:.0%} of all customers ({lift:.1f}x). "
                            f"Checked {later_txt}. Suggested action: {action}."),
            "explanation_zh": (f"{int(s):,}位客户（{s / len(mine):.0%}）满足：{cond_zh}；其中{shown:.0%}在{mine_cut}之后{horizon_days}天内{outcome_zh}，"
                               f"而全体客户为{avg:.0%}（{lift:.1f}倍）。{later_zh}。建议行动：{action_zh}。"),
        })
        if len(rows) >= max_rules:
            break
    rules = pd.DataFrame(rows)
    if rules.empty:
        raise InsufficientDataError(f"no condition covering >= {n_min} customers changes churn by {min_lift}x; "
                                    "try a lower --min-lift or more history")
    result = RuleSet(rules, mine_cut, valid_cut, horizon_days)
    if write:
        info = {"mining_cutoff": mine_cut, "validation_cutoff": valid_cut, "horizon_days": horizon_days}
        if serves(end, latest):
            wh.write_table("customer_rules", rules, kind="insight", info=info)
        else:
            wh.write_evaluation("customer_rules", rules, info=info)
    return result


def apply_rules(wh: Warehouse, *, as_of: str | date | None = None, cache: FeatureCache | None = None) -> pd.DataFrame:
    """Tag today's customers matching each validated rule; writes ``customer_rule_tags``.

    Customers without consent to personalisation are never tagged; a rule whose action
    contacts the customer (:data:`MARKETING_ACTIONS`) tags only customers who also consent
    to marketing (the tags are campaign audiences). An ``as_of`` before the default tags the
    customers of that date with the rules mined as of it (``eval_customer_rules``, else the served
    ones) into ``eval_customer_rule_tags``: a look back, never a served audience.
    """
    from shoplens.privacy.consent import consent_filter_sql

    if not wh.has_table("customer_rules") and not wh.has_table(EVALUATION_PREFIX + "customer_rules"):
        raise UserInputError("no rules yet: run `shoplens customers rules` first (it mines and validates them)")
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    current_run = serves(end, latest)
    source = "customer_rules" if current_run or not wh.has_table(EVALUATION_PREFIX + "customer_rules") \
        else EVALUATION_PREFIX + "customer_rules"
    if not wh.has_table(source):
        raise UserInputError("no rules yet: run `shoplens customers rules` first (it mines and validates them)")
    rules = wh.table(source)
    rules = rules[rules["validated"]]
    current = customer_features(wh, end, cache=cache).merge(compute_rfm(wh, as_of=end, write=False)[["customer_id", "segment"]],
                                               on="customer_id", how="left")
    wh.con.register("_current", current)
    try:
        need = {False: ["profile"], True: ["profile", "campaign"]}
        parts = [f"SELECT customer_id, '{r.rule_id}' AS rule_id, '{r.action}' AS action FROM _current "
                 f"WHERE ({r.condition_sql}) AND {consent_filter_sql(need[r.action in MARKETING_ACTIONS])}"
                 for r in rules.itertuples()]
        tags = wh.query(" UNION ALL ".join(parts) + " ORDER BY customer_id, rule_id") if parts else \
            pd.DataFrame(columns=["customer_id", "rule_id", "action"])
    finally:
        wh.con.unregister("_current")
    tags["as_of"] = pd.Timestamp(end)
    if current_run:
        wh.write_table("customer_rule_tags", tags, kind="customer", info={"as_of": end, "rules": len(rules)})
    else:
        wh.write_evaluation("customer_rule_tags", tags, info={"as_of": end, "rules": len(rules)})
    return tags


def rule_condition(rule: str) -> str:
    """The condition of a rule's text: ``IF orders <= 1 THEN ...`` -> ``orders <= 1``,
    ``如果订单数≤1，则...`` -> ``订单数≤1``.

    >>> rule_condition("IF orders <= 1 THEN reactivation email"), rule_condition("如果订单数≤1，则热销商品唤醒邮件")
    ('orders <= 1', '订单数≤1')
    """
    import re

    m = re.match(r"\s*(?:IF|如果)\s*(.*?)\s*(?:THEN|，则|,\s*then)", rule)
    return m.group(1) if m else rule


def rules_for_people(wh: Warehouse, lang: str = "en") -> pd.DataFrame:
    """The stored rules for a screen, in ``lang`` (``en`` or ``zh``): rule_id, kind, condition, rule,
    action, explanation, support (customers when mined), lift_mining, lift_later, validated and
    ``customers`` (how many are tagged with it today; null before ``customers rules --apply``).
    Validated rules first, then the strongest (later lift x support), ties by rule id.
    NotComputedError before ``shoplens customers rules``."""
    from shoplens.customers.output import require_result

    require_result(wh, "customer_rules")
    rules = wh.table("customer_rules")
    zh = lang == "zh" and "rule_zh" in rules.columns
    out = pd.DataFrame({
        "rule_id": rules["rule_id"], "kind": rules["kind"],
        "rule": rules["rule_zh" if zh else "rule"], "action": rules["action_zh" if zh else "action"],
        "explanation": rules["explanation_zh" if zh else "explanation"],
        "support": rules["support"], "lift_mining": rules["lift_mining"], "lift_later": rules["lift_later"],
        "validated": rules["validated"].astype(bool),
    })
    out.insert(2, "condition", out["rule"].map(rule_condition))
    if wh.has_table("customer_rule_tags"):
        tagged = wh.table("customer_rule_tags").groupby("rule_id").size()
        out["customers"] = out["rule_id"].map(tagged).fillna(0).astype(int)
    else:
        out["customers"] = None
    strength = out["lift_later"].fillna(0) * out["support"]
    return (out.assign(_s=strength).sort_values(["validated", "_s", "rule_id"], ascending=[False, False, True])
            .drop(columns="_s").reset_index(drop=True))


def rule_members(wh: Warehouse, rule_id: str, *, limit: int, offset: int,
                 consent_default: Any = None) -> tuple[list[dict], int]:
    """One page of the customers a rule tags today who (still) consent to personalisation, as the
    shop's ids in warehouse-id order, with CLV and churn risk when computed, and how many there are.
    NotFoundError for a rule that does not exist; NotComputedError before the rules are applied."""
    from shoplens.customers.output import require_result
    from shoplens.errors import NotFoundError
    from shoplens.jsonsafe import records
    from shoplens.privacy.consent import consent_filter_sql
    from shoplens.privacy.ids import to_external

    require_result(wh, "customer_rules")
    if not wh.con.execute("SELECT 1 FROM customer_rules WHERE rule_id = ?", [rule_id]).fetchone():
        raise NotFoundError(f"no rule {rule_id!r} (see GET /api/v1/rules)")
    if not wh.has_table("customer_rule_tags"):
        from shoplens.errors import NotComputedError

        raise NotComputedError("the rules are not applied yet: run `shoplens customers rules --apply`")
    internal = [r[0] for r in wh.con.execute(
        f"SELECT customer_id FROM customer_rule_tags WHERE rule_id = ? AND "
        f"{consent_filter_sql('profile', default=consent_default)}", [rule_id]).fetchall()]
    # in the shop's id order (never the pseudonyms': that order would depend on the secret key);
    # a member whose shop id cannot be revealed (erased) never leaves
    members = sorted((e, i) for e, i in zip(to_external(wh, internal), internal) if e is not None)
    chunk = members[offset: offset + limit]
    rows: list[dict] = []
    clv, churn = wh.has_table("customer_clv"), wh.has_table("customer_churn")
    if chunk:
        frame = wh.query(
            f"""SELECT s.customer_id, s.n {', c.clv' if clv else ''} {', h.churn_risk, h.risk_band' if churn else ''}
                FROM (SELECT unnest(?::VARCHAR[]) AS customer_id, unnest(?::INTEGER[]) AS n) s
                {'LEFT JOIN customer_clv c USING (customer_id)' if clv else ''}
                {'LEFT JOIN customer_churn h USING (customer_id)' if churn else ''}
                ORDER BY s.n""", [[i for _, i in chunk], list(range(len(chunk)))])
        frame["customer_id"] = [e for e, _ in chunk]
        rows = records(frame.drop(columns="n"))
    return rows, len(members)

"""Attribution and the campaign report.

Outcomes come from the warehouse, never posted by hand. For every assigned customer
(intention to treat: whether or not the offer was seen or used), the orders in the window
``[assigned_at, assigned_at + window days)`` are attributed to the assignment, with the
shop's one definition of an order's kind and value (:mod:`shoplens.metrics`):

- ``conversion``: 1 when the customer made at least one purchase in the window;
- ``revenue``: net revenue in the window (purchases less returns dated in the window;
  a fully reversed order adds nothing);
- ``margin``: revenue less the arm's cost per use, charged once per converting customer
  (the control costs nothing).

An order before ``assigned_at`` or on/after the window's end is not attributed. A customer
in two campaigns at once has the order attributed to each (each campaign measures its own
intention-to-treat effect against its own control group). The pre-period net revenue (the
365 days before ``assigned_at``) is the CUPED covariate.

Exposure-based (``attribution="exposure"``, when the warehouse holds exposure events): an
exposure is an ``events`` row of the customer of type ``promotion_view`` or ``promotion_click``
in the window whose ``event_name`` is the campaign's name or starts with ``NAME:`` (e.g.
``winback:discount_10``). The orders are attributed as above (the comparison of the arms stays
randomised), and each offer arm also gets the effect on the customers who saw the offer: the
intention-to-treat effect divided by the arm's exposure rate (the Wald / Bloom estimator of
the complier effect; valid because the control group sees no offer), its interval scaled the
same way (the exposure rate taken as known). Comparing exposed customers with the control
directly would compare self-selected customers and is not reported.

The report only reads. The goal metric reaches the decision log as the reward of each
assignment whose window has closed through :func:`post_rewards`, which every assignment run
(:func:`shoplens.campaigns.assign.assign_campaign`), the scheduler's refresh job
(:func:`shoplens.services.refresh_results`), ``shoplens campaign rewards NAME`` and
``POST /api/v1/campaigns/{name}/rewards`` call, so bandits and off-policy evaluation learn
from it without manual reward posting. Posting is idempotent: a reward already logged with
the same value is not written again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shoplens.campaigns.analysis import analyze_arrays
from shoplens.campaigns.campaign import (
    CONTROL,
    Campaign,
    _date,
    ensure_tables,
    get_campaign,
)
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.metrics import revenue_orders_sql
from shoplens.store.warehouse import Warehouse

PRE_PERIOD_DAYS = 365


def attribute(wh: Warehouse, campaign: Campaign, *, as_of: datetime | None = None) -> pd.DataFrame:
    """One row per assigned customer (warehouse ids): arm, propensity, assigned_at, decision_id, orders, conversion,
    revenue, margin, pre_revenue, window_closed. Orders from ``as_of`` on are ignored."""
    ensure_tables(wh)
    end = None if as_of is None else f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'"
    window = f"INTERVAL {int(campaign.window_days)} DAY"
    in_window = f"o.ordered_at >= a.assigned_at AND o.ordered_at < a.assigned_at + {window}"
    frame = wh.query(f"""
        WITH a AS (SELECT customer_id, arm, propensity, assigned_at, decision_id FROM campaign_assignments
                   WHERE campaign = ?),
             o AS ({revenue_orders_sql(end)})
        SELECT a.customer_id, a.arm, a.propensity, a.assigned_at, a.decision_id,
               count(o.order_id) FILTER (WHERE o.kind = 'purchase' AND {in_window}) AS orders,
               coalesce(sum(o.amount) FILTER (WHERE {in_window}), 0) AS revenue,
               coalesce(sum(o.amount) FILTER (WHERE o.ordered_at >= a.assigned_at - INTERVAL {PRE_PERIOD_DAYS} DAY
                                              AND o.ordered_at < a.assigned_at), 0) AS pre_revenue
        FROM a LEFT JOIN o ON o.customer_id = a.customer_id
        GROUP BY a.customer_id, a.arm, a.propensity, a.assigned_at, a.decision_id
        ORDER BY a.assigned_at, a.customer_id""", [campaign.name])
    frame["conversion"] = (frame["orders"] > 0).astype(float)
    frame["revenue"] = frame["revenue"].astype(float)
    cost = frame["arm"].map({a.name: a.cost for a in campaign.arms}).fillna(0.0).astype(float)
    frame["margin"] = frame["revenue"] - cost * frame["conversion"]
    until = as_of if as_of is not None else data_until(wh)
    frame["window_closed"] = (frame["assigned_at"] + timedelta(days=campaign.window_days)) <= pd.Timestamp(until) \
        if until is not None else False
    return frame


ATTRIBUTIONS = ("itt", "exposure")
EXPOSURE_TYPES = ("promotion_view", "promotion_click")


def exposed(wh: Warehouse, campaign: Campaign, frame: pd.DataFrame, *, as_of: datetime | None = None) -> pd.Series:
    """Per row of :func:`attribute`'s ``frame``: True when the customer had an exposure event of the
    campaign in the window (see the module doc)."""
    if not wh.has_table("events") or frame.empty:
        return pd.Series(False, index=frame.index)
    end = "" if as_of is None else f"AND e.occurred_at < TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'"
    rows = wh.query(f"""
        SELECT DISTINCT a.customer_id FROM campaign_assignments a JOIN events e ON e.customer_id = a.customer_id
        WHERE a.campaign = ? AND e.event_type IN ('promotion_view', 'promotion_click')
          AND (e.event_name = ? OR starts_with(e.event_name, ? || ':'))
          AND e.occurred_at >= a.assigned_at
          AND e.occurred_at < a.assigned_at + INTERVAL {int(campaign.window_days)} DAY {end}""",
                    [campaign.name, campaign.name, campaign.name])
    return frame["customer_id"].isin(set(rows["customer_id"]))


def _exposure_effects(result: dict[str, Any], frame: pd.DataFrame, seen: pd.Series) -> dict[str, Any]:
    """Add the effect on the exposed to each offer row of ``result["arms"]``; the exposure counts."""
    rate = seen.groupby(frame["arm"]).mean()
    for row in result["arms"]:
        if row["arm"] == CONTROL:
            continue
        r = float(rate.get(row["arm"], 0.0))
        row["exposure_rate"] = r
        ok = r > 0 and row.get("effect") is not None
        row["effect_exposed"] = row["effect"] / r if ok else None
        row["ci_low_exposed"] = row["ci_low"] / r if ok and row.get("ci_low") is not None else None
        row["ci_high_exposed"] = row["ci_high"] / r if ok and row.get("ci_high") is not None else None
    return {str(a): int(n) for a, n in seen.groupby(frame["arm"]).sum().items()}


def data_until(wh: Warehouse) -> datetime | None:
    """The time of the latest order in the warehouse (what the report can know of)."""
    value = wh.con.execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def _currency(wh: Warehouse) -> str:
    from shoplens.store.shop import read_shop

    own = read_shop(wh).currency  # the shop's own setting first, else what the orders state
    if own:
        return own
    rows = wh.con.execute("SELECT mode(currency) FROM orders WHERE currency IS NOT NULL").fetchall()
    return str(rows[0][0]) if rows and rows[0][0] else ""


def post_rewards(wh: Warehouse, name: str, *, as_of: datetime | str | None = None) -> dict[str, Any]:
    """Log campaign ``name``'s goal metric as the reward of every assignment whose window has closed
    (by ``as_of``, else by the last order in the warehouse) in the decision log.

    Idempotent: only a reward not logged yet, or logged with another value (an order or return that
    arrived late), is written, so running it again writes nothing. Returns ``{"campaign", "closed",
    "posted"}``: the closed windows and the rewards written now."""
    from shoplens.decide.log import DecisionLog

    campaign = get_campaign(wh, name)
    if isinstance(as_of, str):
        as_of = datetime.combine(_date(as_of, "--as-of"), datetime.min.time())
    frame = attribute(wh, campaign, as_of=as_of)
    closed = frame[frame["window_closed"] & frame["decision_id"].notna()]
    out = {"campaign": name, "closed": len(closed), "posted": 0}
    if closed.empty or not wh.has_table("decisions"):
        return out
    logged = wh.query("SELECT decision_id, reward FROM decisions WHERE decision_id IN (SELECT unnest(?::VARCHAR[]))",
                      [closed["decision_id"].tolist()]).set_index("decision_id")["reward"]
    old = closed["decision_id"].map(logged).astype(float).to_numpy()
    new = closed[campaign.goal].to_numpy(float)
    changed = np.isnan(old) | ~np.isclose(old, new, rtol=0.0, atol=1e-9)
    if changed.any():
        out["posted"] = DecisionLog(wh).log_rewards(pd.DataFrame({"decision_id": closed["decision_id"][changed],
                                                                  "reward": new[changed]}))
    return out


def rewards_logged(wh: Warehouse, name: str) -> int:
    """How many of campaign ``name``'s assignments have a reward in the decision log (read only)."""
    if not wh.has_table("decisions") or not wh.has_table("campaign_assignments"):
        return 0
    return int(wh.con.execute(
        "SELECT count(*) FROM campaign_assignments a JOIN decisions d USING (decision_id) "
        "WHERE a.campaign = ? AND d.reward IS NOT NULL", [name]).fetchall()[0][0])


MIN_LEARN_ROWS = 5  # customers per arm in each training half before a learned policy is estimated


def learned_actions(wh: Warehouse, frame: pd.DataFrame, campaign: Campaign, goal: str) -> np.ndarray | None:
    """The arm a policy learned from the campaign itself would give each row of ``frame``, cross-fitted:
    the customers are split in two halves by a hash of their shop id (not of the pseudonym, so the
    halves do not depend on the secret key); on each half a ridge regression per arm of ``goal`` on the
    bandit's context features as of the day of assignment (:data:`shoplens.campaigns.bandit.FEATURES`) is fitted,
    and the other half gets the arm with the highest predicted ``goal`` (ties: the earlier arm, control
    first). So no customer's own outcome chose their arm, and the estimate is honest. None when an arm
    has fewer than ``MIN_LEARN_ROWS`` customers in a half."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shoplens.campaigns.bandit import FEATURES, contexts
    from shoplens.decide.abtest import bucket
    from shoplens.privacy.ids import to_external

    names = campaign.arm_names
    X = np.zeros((len(frame), len(FEATURES)))
    # one query per day of assignment (live offers each have their own time): the context as of that day's start
    for at, rows in frame.groupby(pd.to_datetime(frame["assigned_at"]).dt.floor("D")):
        pos = frame.index.get_indexer(rows.index)
        X[pos] = contexts(wh, rows["customer_id"].tolist(), pd.Timestamp(at).to_pydatetime())[list(FEATURES)] \
            .to_numpy(float)
    shop_ids = to_external(wh, frame["customer_id"].tolist())
    half = np.array([bucket(str(c if c is not None else i), f"campaign-ope:{campaign.name}") < 0.5
                     for i, c in zip(frame["customer_id"], shop_ids)])
    arms = frame["arm"].to_numpy().astype(str)
    y = frame[goal].to_numpy(float)
    out = np.zeros(len(frame), dtype=int)
    for train in (half, ~half):
        test = ~train
        if not test.any():
            continue
        predicted = np.full((int(test.sum()), len(names)), -np.inf)
        for k, arm in enumerate(names):
            rows = train & (arms == arm)
            if rows.sum() < MIN_LEARN_ROWS:
                return None
            model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[rows], y[rows])
            predicted[:, k] = model.predict(X[test])
        out[test] = predicted.argmax(axis=1)  # argmax takes the first of equal values
    return out


def policy_estimates(wh: Warehouse, frame: pd.DataFrame, campaign: Campaign, goal: str) -> list[dict[str, Any]]:
    """Off-policy estimates (self-normalised IPW with bootstrap intervals, from the logged
    propensities) of what other policies would have earned per customer: ``all-ARM`` (everyone gets
    one arm, ``all-control`` included), ``best-arm`` (the best of those single arms, named in ``arm``;
    chosen on the same data, so slightly optimistic) and ``learned`` (the cross-fitted policy of
    :func:`learned_actions`, when each arm has enough customers), next to ``as run`` (the mean).

    Under the bandit these, not the per-arm differences of means, are each offer's unbiased value:
    the bandit gives an offer to the customers it expects it to suit."""
    from shoplens.decide.ope import LoggedFeedback, estimate_all

    names = campaign.arm_names
    rows = frame[frame["arm"].isin(names)]
    if len(rows) < 2:
        return []
    codes = rows["arm"].map({n: i for i, n in enumerate(names)}).to_numpy()
    # the propensity logged with each assignment (the split's share, or the bandit's chance)
    logs = LoggedFeedback(codes, rows[goal].to_numpy(float), rows["propensity"].to_numpy(float), len(names),
                          action_names=names)

    def snipw(dist: np.ndarray) -> dict[str, Any]:
        return estimate_all(logs, dist, reward_model=False, n_bootstrap=200, seed=0)["snipw"]

    out = [{"policy": "as run", "estimator": "mean", "value": float(rows[goal].mean()), "ci_low": None, "ci_high": None}]
    singles = []
    for i, name in enumerate(names):
        dist = np.zeros((len(rows), len(names)))
        dist[:, i] = 1.0
        singles.append({"policy": f"all-{name}", "estimator": "snipw", **snipw(dist)})
    out += singles
    valued = [(e["value"], -i) for i, e in enumerate(singles) if np.isfinite(e["value"])]
    if valued:
        best = -max(valued)[1]
        out.append(singles[best] | {"policy": "best-arm", "arm": names[best]})
    learned = learned_actions(wh, rows, campaign, goal)
    if learned is not None:
        dist = np.zeros((len(rows), len(names)))
        dist[np.arange(len(rows)), learned] = 1.0
        share = {names[k]: float((learned == k).mean()) for k in range(len(names))}
        out.append({"policy": "learned", "estimator": "snipw", **snipw(dist), "arm_shares": share})
    return out


def _bandit_checks(frame: pd.DataFrame, campaign: Campaign, metrics: list[str]) -> tuple[dict[str, Any], list[dict]]:
    """Under the bandit only the control share is planned: the sample-ratio check compares control
    with all offers, and the randomised effect is that of getting any offer (the policy as run)."""
    offers = np.where(frame["arm"].to_numpy() == CONTROL, CONTROL, "offers")
    pooled = analyze_arrays(offers, {m: frame[m].to_numpy(float) for m in metrics}, control=CONTROL,
                            arms=[CONTROL, "offers"], pre_metric=frame["pre_revenue"].to_numpy(float),
                            weights={CONTROL: campaign.control, "offers": 1 - campaign.control})
    return pooled["srm"], pooled["arms"]


def _fmt(metric: str, value: float, currency: str) -> str:
    if metric == "conversion":
        return f"{value * 100:+.1f} pp"
    return f"{'-' if value < 0 else '+'}{currency + ' ' if currency else ''}{abs(value):,.2f}"


def conclusion(result: dict[str, Any], campaign: Campaign, currency: str) -> dict[str, str]:
    """The report in plain words, English and Chinese."""
    goal = campaign.goal
    by = {(r["arm"], r["metric"]): r for r in result["arms"]}
    candidates = [r for r in result["arms"] if r["metric"] == goal and r["arm"] != CONTROL and r.get("ci_low") is not None]
    audience = campaign.audience
    en: list[str] = []
    zh: list[str] = []
    srm = result["srm"]
    if srm["alarm"]:
        en.append(f"Warning: sample-ratio mismatch (p = {srm['p_value']:.2g}): the arms are not split as planned, "
                  "so the lift below cannot be trusted; check the assignment.")
        zh.append(f"警告：样本比例不符（p = {srm['p_value']:.2g}），实际分组与计划不一致，以下提升不可信，请检查分配。")
    if not candidates:
        en.append(f"Not enough data yet to compare the arms with control on {goal}.")
        zh.append(f"数据不足，暂时无法比较各组与对照组的{_GOAL_ZH[goal]}。")
        return {"en": " ".join(en), "zh": "".join(zh)}
    best = max(candidates, key=lambda r: r["effect"])
    arm = best["arm"]
    ci = f"95% CI {_fmt(goal, best['ci_low'], currency)} to {_fmt(goal, best['ci_high'], currency)}"
    ci_zh = f"95% 置信区间 {_fmt(goal, best['ci_low'], currency)} 至 {_fmt(goal, best['ci_high'], currency)}"
    margin = by.get((arm, "margin"))
    money = ""
    money_zh = ""
    if goal != "margin" and margin and margin.get("ci_low") is not None:
        money = (f", {_fmt('margin', margin['effect'], currency)} net margin per customer "
                 f"(95% CI {_fmt('margin', margin['ci_low'], currency)} to {_fmt('margin', margin['ci_high'], currency)}), "
                 f"{_fmt('margin', margin['incremental_total'], currency)} in total over {margin['n']:,} customers")
        money_zh = (f"，每位客户净利润 {_fmt('margin', margin['effect'], currency)}"
                    f"（95% 置信区间 {_fmt('margin', margin['ci_low'], currency)} 至 "
                    f"{_fmt('margin', margin['ci_high'], currency)}），{margin['n']:,} 位客户合计 "
                    f"{_fmt('margin', margin['incremental_total'], currency)}")
    effect = _fmt(goal, best["effect"], currency)
    if goal == "margin":
        money = f", {_fmt('margin', best['incremental_total'], currency)} in total over {best['n']:,} customers"
        money_zh = f"，{best['n']:,} 位客户合计 {_fmt('margin', best['incremental_total'], currency)}"
    if best["ci_low"] > 0:
        en.append(f"Roll out {arm} to {audience}: {effect} {goal} per customer against control ({ci}, "
                  f"p = {best['p_value']:.2g}){money}.")
        zh.append(f"建议向 {audience} 推广 {arm}：相对对照组每位客户{_GOAL_ZH[goal]} {effect}（{ci_zh}，"
                  f"p = {best['p_value']:.2g}）{money_zh}。")
    elif best["ci_high"] < 0:
        en.append(f"Do not roll out: even the best arm, {arm}, lowered {goal} ({effect} per customer, {ci}){money}.")
        zh.append(f"不建议推广：表现最好的 {arm} 也降低了{_GOAL_ZH[goal]}（每位客户 {effect}，{ci_zh}）{money_zh}。")
    else:
        en.append(f"No clear winner yet: the best arm, {arm}, shows {effect} {goal} per customer, but the {ci} "
                  f"includes zero{money}. Keep the control or wait for more customers.")
        zh.append(f"暂无明确结论：表现最好的 {arm} 每位客户{_GOAL_ZH[goal]} {effect}，但{ci_zh}包含 0{money_zh}。"
                  "请保留对照组或继续收集数据。")
    return {"en": " ".join(en), "zh": "".join(zh)}


_GOAL_ZH = {"conversion": "转化率", "revenue": "净收入", "margin": "净利润"}


def campaign_report(wh: Warehouse, name: str, *, as_of: str | None = None,
                    attribution: str = "itt") -> dict[str, Any]:
    """The report of campaign ``name`` (the ``campaign analyze`` shape, outcomes attributed from the
    warehouse) with the campaign, the window status, policy estimates and a conclusion in en and zh.
    It only reads (rewards are posted by :func:`post_rewards`).

    ``attribution``: ``itt`` (intention to treat, the default) or ``exposure`` (adds the effect on
    the customers who saw the offer; needs exposure events); ``result["attribution"]`` says which."""
    if attribution not in ATTRIBUTIONS:
        raise UserInputError(f"--attribution must be itt (intention to treat) or exposure, not {attribution!r}")
    campaign = get_campaign(wh, name)
    cut = None if as_of is None else datetime.combine(_date(as_of, "--as-of"), datetime.min.time())
    frame = attribute(wh, campaign, as_of=cut)
    if frame.empty:
        raise InsufficientDataError(f"campaign {name!r} has assigned no one yet: run `shoplens campaign assign {name}`")
    metrics = [campaign.goal, *[m for m in ("conversion", "revenue", "margin") if m != campaign.goal]]
    result = analyze_arrays(frame["arm"].to_numpy(), {m: frame[m].to_numpy(float) for m in metrics},
                            control=CONTROL, arms=campaign.arm_names, pre_metric=frame["pre_revenue"].to_numpy(float),
                            weights=campaign.weights())
    if campaign.policy == "bandit":
        result["srm"], result["offers_vs_control"] = _bandit_checks(frame, campaign, metrics)
    result["attribution"] = {"method": "intention_to_treat", "exposed": None}
    if attribution == "exposure":
        seen = exposed(wh, campaign, frame, as_of=cut)
        if not seen.any():
            raise InsufficientDataError(
                f"no exposure events of campaign {name!r}: exposure attribution needs events of type promotion_view "
                f"or promotion_click with event_name {name!r} (or '{name}:ARM') in the window; report without "
                "--attribution exposure (intention to treat)")
        result["attribution"] = {"method": "exposure", "exposed": _exposure_effects(result, frame, seen)}
    currency = _currency(wh)
    until = cut or data_until(wh)
    result["campaign"] = {"name": campaign.name, "version": campaign.version, "status": campaign.status,
                          "goal": campaign.goal, "audience": campaign.audience, "policy": campaign.policy, "window_days": campaign.window_days,
                          "arms": campaign.to_dict()["arms"], "control_share": campaign.control}
    result["window"] = {"assigned_from": frame["assigned_at"].min(), "assigned_to": frame["assigned_at"].max(),
                        "data_until": until, "share_closed": float(frame["window_closed"].mean())}
    result["currency"] = currency
    result["policies"] = policy_estimates(wh, frame, campaign, campaign.goal)
    result["rewards_logged"] = rewards_logged(wh, name)
    result["conclusion"] = conclusion(result, campaign, currency)
    result["simulated"] = False  # outcomes from the shop's orders (see shoplens.campaigns.simulate for the other kind)
    return result

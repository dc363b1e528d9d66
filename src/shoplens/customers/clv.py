"""Customer lifetime value from the orders table: BG/NBD, Pareto/NBD and Gamma-Gamma.

Transactions are a customer's purchases merged per calendar day; time is whole
days between purchase dates and the calibration end (divided by 7 for weeks),
as in the CDNOW reference. Calibration holds days up to and including
``calibration_end``; the holdout holds days after it up to ``holdout_end``.
Returns reduce monetary value: each customer's mean repeat-transaction value is
scaled by (1 - returned amount / purchased amount) over the calibration period.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> result = fit_clv(wh, calibration_end="2011-06-30")  # an evaluation: holdout up to the last order
>>> result.table, result.summary(digits=3)["gamma_gamma"]
('eval_customer_clv', {'p': 3.756, 'q': 2.965, 'v': 216.652})
>>> result.summary()["holdout"]["actual_total"], result.summary()["dropout"]["identified"]
(1677.0, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from shoplens.customers.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel, discounted_value
from shoplens.customers.data import last_order_date, parse_date, purchases_sql, returns_sql
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

TimeUnit = Literal["day", "week"]
UNIT_DAYS = {"day": 1.0, "week": 7.0}
# The window of ``p_purchase_90d``: the churn model's default horizon, so that the two answer
# the same question ("will this customer buy within 90 days?").
ACTIVITY_DAYS = 90
P_ALIVE_MODEL = "BG/NBD"
P_ALIVE_FALLBACK = f"purchase within {ACTIVITY_DAYS} days"


RFM_SUMMARY = Transform("clv_rfm_summary", f"""
    WITH tx AS (
        SELECT customer_id, CAST(ordered_at AS DATE) AS day, sum(amount) AS value
        FROM ({purchases_sql()}) GROUP BY customer_id, CAST(ordered_at AS DATE)
    ), cal AS (
        SELECT customer_id, day, value, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n
        FROM tx WHERE day <= {{cal}}
    ), returns AS (
        SELECT customer_id, sum(returned) AS returned
        FROM ({returns_sql()}) WHERE CAST(ordered_at AS DATE) <= {{cal}} GROUP BY customer_id
    ), summary AS (
        SELECT customer_id, count(*) - 1 AS frequency,
               date_diff('day', min(day), max(day)) / {{unit}} AS recency,
               date_diff('day', min(day), {{cal}}) / {{unit}} AS "T",
               sum(value) AS gross_value,
               CASE WHEN count(*) > 1 THEN sum(value) FILTER (WHERE n > 1) / (count(*) - 1) ELSE 0 END AS repeat_mean
        FROM cal GROUP BY customer_id
    ), holdout AS (
        SELECT customer_id, count(*) AS holdout_transactions, sum(value) AS holdout_value
        FROM tx WHERE day > {{cal}} AND day <= {{hold}} GROUP BY customer_id
    )
    SELECT s.customer_id, s.frequency::DOUBLE AS frequency, s.recency::DOUBLE AS recency, s."T"::DOUBLE AS "T",
           s.repeat_mean * greatest(0, 1 - coalesce(r.returned, 0) / nullif(s.gross_value, 0)) AS monetary_value,
           coalesce(r.returned, 0) AS returned_value,
           coalesce(h.holdout_transactions, 0)::DOUBLE AS holdout_transactions,
           coalesce(h.holdout_value, 0) AS holdout_value
    FROM summary s LEFT JOIN returns r USING (customer_id) LEFT JOIN holdout h USING (customer_id)
    """, inputs=("orders", "order_items"), description="per-customer frequency, recency, T, monetary value (BTYD summary)")

# The sufficient statistics of BG/NBD and Pareto/NBD: customers per distinct (frequency,
# recency, T). Time is whole days (divided by 7 for weeks, exactly the same division for
# every customer), so customers with the same purchase days relative to the calibration
# end collide without any rounding, and the likelihood sums over these rows with weights.
PURCHASE_STATS = Transform("clv_purchase_statistics", f"""
    SELECT frequency, recency, "T", count(*) AS customers
    FROM ({RFM_SUMMARY.sql}) GROUP BY frequency, recency, "T" ORDER BY frequency, recency, "T"
    """, inputs=RFM_SUMMARY.inputs)

# Gamma-Gamma's: customers per distinct (frequency, monetary value) among repeat buyers.
SPEND_STATS = Transform("clv_spend_statistics", f"""
    SELECT frequency, monetary_value, count(*) AS customers
    FROM ({RFM_SUMMARY.sql}) WHERE frequency > 0 AND monetary_value > 0
    GROUP BY frequency, monetary_value ORDER BY frequency, monetary_value
    """, inputs=RFM_SUMMARY.inputs)


def _summary_params(calibration_end: date, holdout_end: date | None, time_unit: str) -> dict[str, Any]:
    if time_unit not in UNIT_DAYS:
        raise UserInputError(f"--time-unit: {time_unit!r} is not one of day, week")
    return {"cal": calibration_end, "hold": holdout_end or calibration_end, "unit": UNIT_DAYS[time_unit]}


def rfm_summary(wh: Warehouse, calibration_end: date, holdout_end: date | None = None,
                time_unit: TimeUnit = "week") -> pd.DataFrame:
    """Per-customer frequency, recency, T, monetary_value (and holdout transactions) in one SQL pass
    (:data:`RFM_SUMMARY`, on the warehouse's engine).

    Only customers whose first purchase is on or before ``calibration_end`` appear.
    """
    frame = RFM_SUMMARY.run(wh, **_summary_params(calibration_end, holdout_end, time_unit))
    return frame.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def sufficient_statistics(wh: Warehouse, calibration_end: date, time_unit: TimeUnit = "week") -> pd.DataFrame:
    """Customers per distinct (frequency, recency, T), computed by a GROUP BY on the warehouse's engine.

    >>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
    >>> stats = sufficient_statistics(wh, date(2011, 6, 30))
    >>> stats.columns.tolist(), len(stats), int(stats["customers"].sum())  # 767 customers in 529 rows
    (['frequency', 'recency', 'T', 'customers'], 529, 767)
    """
    return PURCHASE_STATS.run(wh, **_summary_params(calibration_end, None, time_unit))


def spend_statistics(wh: Warehouse, calibration_end: date) -> pd.DataFrame:
    """Customers per distinct (frequency, monetary_value) of repeat buyers (Gamma-Gamma's sufficient statistics)."""
    return SPEND_STATS.run(wh, **_summary_params(calibration_end, None, "week"))


@dataclass
class CLVResult:
    """Fitted models, the per-customer table and the holdout evaluation."""

    bgnbd: BetaGeoModel
    pareto_nbd: ParetoNBDModel
    gamma_gamma: GammaGammaModel
    customers: pd.DataFrame
    calibration_end: date
    holdout_end: date | None
    time_unit: str
    holdout: dict[str, Any] = field(default_factory=dict)
    table: str | None = None  # where the per-customer rows were written (None: not written)
    past_dated: bool = False  # calibrated before the last purchase day, even without a holdout

    @property
    def evaluation(self) -> bool:
        """True for a calibration/holdout run or one calibrated before the last purchase day (a look
        back): an evaluation, which never replaces what is served."""
        return self.holdout_end is not None or self.past_dated

    def summary(self, digits: int | None = None) -> dict[str, Any]:
        """The CLI's JSON shape: parameters of each model, the holdout totals and the dropout test."""
        def r(v: float) -> float:
            return round(v, digits) if digits is not None else v

        return {
            "bgnbd": {k: r(v) for k, v in self.bgnbd.params_.items()},
            "pareto_nbd": {k: r(v) for k, v in self.pareto_nbd.params_.items()},
            "gamma_gamma": {k: r(v) for k, v in self.gamma_gamma.params_.items()},
            "holdout": self.holdout,
            "dropout": self.dropout(),
        }

    def dropout(self) -> dict[str, Any]:
        """Whether the history shows permanent dropout, and what ``p_alive`` therefore means.

        ``identified``: BG/NBD's likelihood-ratio test against the no-dropout NBD rejects
        "nobody leaves" (``lr`` > 2.71). When it does not, every P(alive) would be ~1: the
        history (e.g. one year of a growing, seasonal shop) gives no evidence of customers
        leaving for good, only of slow buyers. ``p_alive`` is then the model's probability of
        a purchase within 90 days (``p_alive_basis``), the question the churn model answers.
        """
        bg, pn = self.bgnbd, self.pareto_nbd
        out: dict[str, Any] = {
            "identified": bg.dropout_identified_, "lr_bgnbd": round(bg.dropout_lr_, 3),
            "identified_pareto_nbd": pn.dropout_identified_, "lr_pareto_nbd": round(pn.dropout_lr_, 3),
            "p_alive_basis": P_ALIVE_MODEL if bg.dropout_identified_ else P_ALIVE_FALLBACK,
        }
        notes = []
        if not bg.dropout_identified_:
            p = bg.params_["a"] / (bg.params_["a"] + bg.params_["b"])
            notes.append(
                f"This history shows no permanent drop-out (BG/NBD: a customer leaves after {p:.2%} of purchases; "
                f"likelihood ratio against no drop-out {bg.dropout_lr_:.2f}, where above 2.71 would show drop-out): inactive "
                f"customers are explained as slow buyers and P(alive) would be ~100% for everyone, so p_alive is the probability "
                f"of a purchase within {ACTIVITY_DAYS} days, the question the churn model answers.")
        if not pn.dropout_identified_:
            notes.append(f"Pareto/NBD finds no drop-out either (likelihood ratio {pn.dropout_lr_:.2f}): "
                         "its P(alive) is left empty.")
        out["note"] = " ".join(notes) or None
        return out


def fit_clv(
    wh: Warehouse,
    *,
    calibration_end: str | date | None = None,
    holdout_end: str | date | None = None,
    time_unit: TimeUnit = "week",
    horizon_months: int = 12,
    monthly_discount: float = 0.01,
    write: bool = True,
    register: bool = True,
    holdout: bool = True,
) -> CLVResult:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on every customer; score CLV; evaluate on the holdout.

    ``calibration_end`` defaults to the last purchase date (no holdout): the served run,
    which writes ``customer_clv`` and registers and promotes the three models. A calibration
    end before the last purchase date (the holdout then runs to the last purchase date
    unless ``holdout_end`` says otherwise) is an *evaluation run*: its rows go to
    ``eval_customer_clv`` and no model is registered, so the served table and models stay.
    ``holdout=False`` scores as of ``calibration_end`` without a holdout (``customers profile
    --as-of``): before the last purchase date that is a look back, written to ``eval_customer_clv`` too.
    """
    last = last_order_date(wh) - pd.Timedelta(days=1)
    cal = parse_date(calibration_end, "--calibration-end") or last
    hold = parse_date(holdout_end, "--holdout-end")
    if hold is not None and not holdout:
        raise UserInputError("a holdout end was given with holdout=False")
    if hold is None and cal < last and holdout:
        hold = last
    if hold is not None and hold <= cal:
        raise UserInputError(f"--holdout-end {hold} must be after --calibration-end {cal}")
    summary = rfm_summary(wh, cal, hold, time_unit)
    if len(summary) < 10:
        raise InsufficientDataError(
            f"only {len(summary)} customer(s) purchased on or before {cal}; CLV models need at least 10 "
            "(choose a later --calibration-end)"
        )
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    # fitted on the sufficient statistics (one row per distinct tuple, with its customer
    # count), aggregated by the engine: the cost depends on distinct tuples, not customers
    stats = sufficient_statistics(wh, cal, time_unit)
    sx, st, sT, sw = (stats[c].to_numpy(float) for c in ("frequency", "recency", "T", "customers"))
    bg = BetaGeoModel(time_unit=time_unit).fit(sx, st, sT, weights=sw)
    pnbd = ParetoNBDModel(time_unit=time_unit).fit(sx, st, sT, weights=sw)
    spend_stats = spend_statistics(wh, cal)
    gg = GammaGammaModel().fit(spend_stats["frequency"].to_numpy(float), spend_stats["monetary_value"].to_numpy(float),
                               weights=spend_stats["customers"].to_numpy(float))

    unit = UNIT_DAYS[time_unit]
    horizon = horizon_months * 30.0 / unit
    spend = gg.expected_spend(x, summary["monetary_value"].to_numpy(float))
    out = summary[["customer_id", "frequency", "recency", "T", "monetary_value"]].copy()
    # P(alive) means something only when the history shows dropout (the likelihood-ratio test
    # against the no-dropout NBD, in btyd). Otherwise it is ~1 for everyone (a -> 0: BG/NBD is
    # the NBD) and would contradict the churn risk: p_alive falls back to the model's
    # probability of a purchase within ACTIVITY_DAYS, which is the churn model's question.
    p_purchase = 1 - bg.probability_no_purchase(ACTIVITY_DAYS / unit, x, t_x, T)
    out["p_alive"] = bg.probability_alive(x, t_x, T) if bg.dropout_identified_ else p_purchase
    out["p_alive_basis"] = P_ALIVE_MODEL if bg.dropout_identified_ else P_ALIVE_FALLBACK
    out["p_alive_pareto_nbd"] = pnbd.probability_alive(x, t_x, T) if pnbd.dropout_identified_ else np.nan
    out[f"p_purchase_{ACTIVITY_DAYS}d"] = p_purchase
    out["expected_purchases"] = bg.expected_purchases(horizon, x, t_x, T)
    out["expected_purchases_pareto_nbd"] = pnbd.expected_purchases(horizon, x, t_x, T)
    out["expected_spend"] = spend
    out["clv"] = discounted_value(bg, spend, x, t_x, T, months=horizon_months, monthly_discount=monthly_discount,
                                  units_per_month=30.0 / unit)
    out["calibration_end"] = pd.Timestamp(cal)
    out["horizon_months"] = horizon_months

    holdout: dict[str, Any] = {"actual_total": None, "predicted_total_bgnbd": None,
                               "predicted_total_pareto_nbd": None, "mae_bgnbd": None}
    if hold is not None:
        t_hold = (pd.Timestamp(hold) - pd.Timestamp(cal)).days / unit
        pred_bg = bg.expected_purchases(t_hold, x, t_x, T)
        pred_p = pnbd.expected_purchases(t_hold, x, t_x, T)
        actual = summary["holdout_transactions"].to_numpy(float)
        holdout = {
            "actual_total": float(actual.sum()),
            "predicted_total_bgnbd": float(pred_bg.sum()),
            "predicted_total_pareto_nbd": float(pred_p.sum()),
            "mae_bgnbd": float(np.mean(np.abs(pred_bg - actual))),
            "mae_pareto_nbd": float(np.mean(np.abs(pred_p - actual))),
            "holdout_end": hold.isoformat(),
            "holdout_length": t_hold,
        }
        out["holdout_predicted"] = pred_bg
        out["holdout_actual"] = actual
    result = CLVResult(bg, pnbd, gg, out, cal, hold, time_unit, holdout, past_dated=cal < last)
    if write:
        info = {"calibration_end": cal, "holdout_end": hold, "time_unit": time_unit, **result.summary()}
        if result.evaluation:
            result.table = wh.write_evaluation("customer_clv", out, info=info)
        else:
            wh.write_table("customer_clv", out, kind="customer", info=info)
            result.table = "customer_clv"
    if register and not result.evaluation:
        from shoplens.store.registry import ModelRegistry

        registry = ModelRegistry(wh)
        start = wh.con.execute("SELECT min(ordered_at) FROM orders").fetchall()[0][0]
        window = (start, pd.Timestamp(cal))
        registry.register("clv_bgnbd", bg, kind="BG/NBD", metrics={**bg.params_, **_m(holdout, "bgnbd")}, data_window=window)
        registry.register("clv_pareto_nbd", pnbd, kind="Pareto/NBD", metrics={**pnbd.params_, **_m(holdout, "pareto_nbd")},
                          data_window=window)
        registry.register("clv_gamma_gamma", gg, kind="Gamma-Gamma", metrics=dict(gg.params_), data_window=window)
    return result


def _m(holdout: dict[str, Any], model: str) -> dict[str, Any]:
    keys = {f"predicted_total_{model}": "holdout_predicted_total", "actual_total": "holdout_actual_total",
            f"mae_{model}": "holdout_mae"}
    return {v: holdout.get(k) for k, v in keys.items() if holdout.get(k) is not None}


def holdout_by_frequency(result: CLVResult, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual vs predicted holdout transactions by calibration frequency (the classic BTYD check)."""
    c = result.customers
    if "holdout_actual" not in c:
        return pd.DataFrame(columns=["frequency", "customers", "actual", "predicted_bgnbd"])
    f = c["frequency"].clip(upper=max_frequency).astype(int)
    out = c.assign(bucket=f).groupby("bucket").agg(customers=("customer_id", "size"), actual=("holdout_actual", "mean"),
                                                   predicted_bgnbd=("holdout_predicted", "mean")).reset_index()
    return out.rename(columns={"bucket": "frequency"})

"""The campaign report: per arm and metric, the lift against the control group with honest
intervals, from one row per customer.

Every statistic comes from :mod:`shoplens.decide.abtest` (Welch t-test, Gaussian effect
posterior, always-valid confidence sequence, CUPED, sample-ratio check); this module only
arranges them into the campaign contract, the same for ``campaign report`` (outcomes
attributed from the warehouse) and ``campaign analyze`` (a campaign run elsewhere)::

    {"arms": [{"arm", "metric", "n", "mean", "effect", "relative_effect", "ci_low", "ci_high",
               "p_value", "chance_to_win", ...}], "srm": {"p_value", "alarm", ...}}

``total`` is the metric summed over the arm's customers (the conversions of a 0/1 metric, the
money of revenue or margin) and ``mean`` its rate or amount per customer.

``effect`` is the plain difference of means against control (intention to treat) and
``ci_low``/``ci_high`` its 95 % Welch interval; the control's own row has ``effect`` None.

>>> import pandas as pd
>>> f = pd.DataFrame({"arm": ["control", "mail"] * 50, "bought": [0, 1, 0, 0] * 25})
>>> r = analyze_frame(f, arm_column="arm", control="control", metrics=["bought"])
>>> [(a["arm"], a["mean"], a["effect"]) for a in r["arms"]]
[('control', 0.0, None), ('mail', 0.5, 0.5)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shoplens.decide.abtest import (
    VariantStats,
    bayesian_test,
    cuped_adjust,
    frequentist_test,
    sequential_test,
    srm_check,
)
from shoplens.errors import InsufficientDataError, UserInputError

ALPHA = 0.05


def _numeric(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame.columns:
        raise UserInputError(f"{what} column {column!r} not found; the data has {', '.join(map(str, frame.columns))}")
    raw = frame[column]
    values = pd.to_numeric(raw.astype(float) if pd.api.types.is_bool_dtype(raw) else raw, errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise UserInputError(f"{what} column {column!r} must be numeric with no blanks "
                             f"(data row {row + 1} is {frame[column].iloc[row]!r}); fill or drop those rows first")
    return values.to_numpy(float)


def _arms_in_order(groups: pd.Series, control: str) -> list[str]:
    seen = list(dict.fromkeys(groups))
    if control not in seen:
        raise UserInputError(f"control arm {control!r} is not in the data; the arms are {', '.join(seen)} "
                             "(give the control value exactly as written, e.g. --control 'No E-Mail')")
    if len(seen) < 2:
        raise InsufficientDataError("a campaign analysis needs the control and at least one other arm")
    return [control, *[a for a in seen if a != control]]


def _rel(effect: float | None, base_mean: float) -> float | None:
    if effect is None or base_mean == 0 or not math.isfinite(base_mean):
        return None
    return effect / base_mean


def _compare(base: VariantStats, arm: VariantStats, alpha: float, tuning: float | None) -> dict[str, Any]:
    """Welch test, Bayesian chance to win and the always-valid interval of ``arm`` - ``base``."""
    freq = frequentist_test(base, arm, difference="absolute", alpha=alpha)
    if freq.error is not None:
        return {"effect": arm.mean - base.mean, "relative_effect": _rel(arm.mean - base.mean, base.mean),
                "ci_low": None, "ci_high": None, "p_value": None, "chance_to_win": None,
                "ci_low_sequential": None, "ci_high_sequential": None, "error": freq.error}
    bayes = bayesian_test(base, arm, difference="absolute", alpha=alpha)
    seq = sequential_test(base, arm, difference="absolute", alpha=alpha,
                          tuning=tuning if tuning else float(base.n + arm.n))
    return {"effect": freq.effect, "relative_effect": _rel(freq.effect, base.mean),
            "ci_low": freq.ci[0], "ci_high": freq.ci[1], "p_value": freq.p_value,
            "chance_to_win": bayes.chance_to_win,
            "ci_low_sequential": seq.ci[0], "ci_high_sequential": seq.ci[1], "error": None}


def analyze_arrays(groups: np.ndarray, outcomes: dict[str, np.ndarray], *, control: str,
                   arms: Sequence[str] | None = None, pre_metric: np.ndarray | None = None,
                   weights: dict[str, float] | None = None, alpha: float = ALPHA,
                   sequential_tuning: float | None = None) -> dict[str, Any]:
    """The campaign report from per-customer arrays: ``groups`` (arm of each customer),
    ``outcomes`` (metric name -> values), optionally a pre-period metric for CUPED and the
    planned split ``weights`` (arm -> share) for the sample-ratio check (equal when None)."""
    groups = np.asarray(groups).astype(str)
    order = list(arms) if arms is not None else _arms_in_order(pd.Series(groups), control)
    if control not in order:
        raise UserInputError(f"control arm {control!r} is not one of the arms {', '.join(order)}")
    order = [control, *[a for a in order if a != control]]
    counts = [int((groups == a).sum()) for a in order]
    if counts[0] < 2:
        raise InsufficientDataError(f"the control arm {control!r} has {counts[0]} customer(s); at least 2 are needed")
    rows: list[dict[str, Any]] = []
    cuped_info: dict[str, Any] = {}
    for metric, values in outcomes.items():
        y = np.asarray(values, dtype=float)
        adjusted = None
        if pre_metric is not None:
            adjusted, info = cuped_adjust(y, np.asarray(pre_metric, dtype=float))
            cuped_info[metric] = {"theta": info["theta"][0], "variance_reduction": info["variance_reduction"]}
        base = VariantStats.from_values(control, y[groups == control])
        base_cuped = VariantStats.from_values(control, adjusted[groups == control]) if adjusted is not None else None
        for arm in order:
            mask = groups == arm
            stats = VariantStats.from_values(arm, y[mask])
            row: dict[str, Any] = {"arm": arm, "metric": metric, "n": stats.n, "mean": stats.mean if stats.n else None,
                                   "total": float(y[mask].sum())}  # conversions, or money, over the arm
            if arm == control:
                row |= {"effect": None, "relative_effect": None, "ci_low": None, "ci_high": None, "p_value": None,
                        "chance_to_win": None, "ci_low_sequential": None, "ci_high_sequential": None}
                if adjusted is not None:
                    row |= {"effect_cuped": None, "ci_low_cuped": None, "ci_high_cuped": None, "p_value_cuped": None}
            else:
                row |= _compare(base, stats, alpha, sequential_tuning)
                if stats.n == 0:
                    row["effect"] = row["relative_effect"] = None
                if adjusted is not None and base_cuped is not None:
                    c = frequentist_test(base_cuped, VariantStats.from_values(arm, adjusted[mask]),
                                         difference="absolute", alpha=alpha)
                    ok = c.error is None
                    row |= {"effect_cuped": c.effect if ok else None, "ci_low_cuped": c.ci[0] if ok else None,
                            "ci_high_cuped": c.ci[1] if ok else None, "p_value_cuped": c.p_value if ok else None}
                row["incremental_total"] = None if row["effect"] is None else row["effect"] * stats.n
            if row.get("error") is None:
                row.pop("error", None)
            rows.append(row)
    planned = [float(weights[a]) for a in order] if weights is not None else None
    srm = srm_check(counts, planned)
    expected_share = (np.asarray(planned) / sum(planned)).tolist() if planned else [1 / len(order)] * len(order)
    out: dict[str, Any] = {
        "arms": rows,
        "srm": {"p_value": srm["p_value"], "alarm": srm["alarm"], "counts": dict(zip(order, counts)),
                "expected_share": dict(zip(order, expected_share))},
        "control": control,
        "alpha": alpha,
    }
    if pre_metric is not None:
        out["cuped"] = cuped_info
    return out


def analyze_frame(frame: pd.DataFrame, *, arm_column: str, control: str, metrics: Sequence[str],
                  pre_metric: str | None = None, covariates: Sequence[str] | None = None,
                  uplift: str | None = None, weights: dict[str, float] | None = None,
                  test_fraction: float = 0.3, learner: str = "t", seed: int = 0,
                  alpha: float = ALPHA) -> dict[str, Any]:
    """The campaign report of a table with one row per customer: the arm in ``arm_column``,
    outcome ``metrics`` read as given, optionally a pre-period metric (CUPED) and an uplift model
    for ``uplift`` on ``covariates`` (all other columns when None), evaluated on a held-out split."""
    if not metrics:
        raise UserInputError("give at least one metric column (--metrics visit,conversion)")
    if arm_column not in frame.columns:
        raise UserInputError(f"arm column {arm_column!r} not found; the data has {', '.join(map(str, frame.columns))}")
    if frame[arm_column].isna().any():
        raise UserInputError(f"arm column {arm_column!r} has blank values; every customer needs an arm")
    groups = frame[arm_column].astype(str).str.strip()
    control = str(control).strip()
    order = _arms_in_order(groups, control)
    outcomes = {m: _numeric(frame, m, "metric") for m in metrics}
    pre = _numeric(frame, pre_metric, "pre-metric") if pre_metric else None
    if weights is not None:
        unknown = set(weights) - set(order)
        if unknown:
            raise UserInputError(f"--weights names arm(s) not in the data: {', '.join(sorted(unknown))}")
        weights = {a: float(weights.get(a, 0.0)) for a in order}
    out = analyze_arrays(groups.to_numpy(), outcomes, control=control, arms=order, pre_metric=pre,
                         weights=weights, alpha=alpha)
    if uplift is not None:
        from shoplens.campaigns.uplift import evaluate_uplift

        if uplift not in frame.columns:
            raise UserInputError(f"--uplift metric {uplift!r} is not a column of the data")
        features = list(covariates) if covariates else [
            c for c in frame.columns if c != arm_column and c not in metrics and c != uplift]
        out["uplift"] = evaluate_uplift(frame.assign(**{arm_column: groups}), arm_column=arm_column, control=control,
                                        metric=uplift, features=features, test_fraction=test_fraction,
                                        learner=learner, seed=seed)
    return out


def read_campaign_file(path: str) -> pd.DataFrame:
    """One row per customer from a CSV (optionally gzipped), with clear errors."""
    from shoplens.files import read_user_csv

    return read_user_csv(path, compression="infer")

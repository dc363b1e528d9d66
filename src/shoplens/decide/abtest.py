"""A/B testing: hashed assignment, frequentist / Bayesian / sequential analysis,
CUPED, sample-ratio mismatch and multiple-testing corrections.

The statistics follow GrowthBook's ``gbstats`` (Welch t-test with the delta method
for relative effects, Gaussian effect posterior with chance to win and risk,
Howard et al. / Waudby-Smith et al. always-valid confidence sequences) and
reproduce its published test vectors to 5 decimals (``tests/decide/test_abtest.py``).
They are written here rather than imported because gbstats pins old numpy/scipy and
pulls GrowthBook's whole runner; the formulas are a few lines each.

>>> a = VariantStats("A", n=3407, sum=1396.87, sum_squares=52377.9767)
>>> b = VariantStats("B", n=3461, sum=2422.7, sum_squares=134698.29)
>>> r = frequentist_test(a, b, difference="relative")
>>> round(r.effect, 5), [round(x, 5) for x in r.ci], round(r.p_value, 5)
(0.70732, [-0.03526, 1.44989], 0.06191)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from shoplens.errors import InputFileError, InsufficientDataError, UserInputError
from shoplens.files import read_user_csv

Difference = Literal["relative", "absolute"]
Method = Literal["frequentist", "bayesian", "sequential"]
DIFFERENCES = ("relative", "absolute")
METHODS = ("frequentist", "bayesian", "sequential")
SRM_ALARM_P = 0.001
DEFAULT_SEQUENTIAL_TUNING = 5000.0


# -- assignment ------------------------------------------------------------------------
def bucket(unit_id: str, salt: str) -> float:
    """Deterministic position of a unit in [0, 1) for an experiment salt.

    The same md5 prefix is available in SQL (:func:`assignment_sql`), so an
    assignment computed in DuckDB and one computed here always agree.

    >>> bucket("17850", "exp-1") == bucket("17850", "exp-1")
    True
    """
    h = int(hashlib.md5(f"{salt}:{unit_id}".encode()).hexdigest()[:8], 16)
    return h / 2**32


def _cutoffs(weights: Sequence[float]) -> list[float]:
    w = np.asarray(weights, dtype=float)
    if len(w) < 2 or (w < 0).any() or w.sum() <= 0:
        raise UserInputError("weights: give at least two non-negative weights with a positive sum")
    return list(np.cumsum(w / w.sum()))


def assign(unit_id: str, variants: Sequence[str], *, salt: str, weights: Sequence[float] | None = None) -> str:
    """The variant of ``unit_id``: stable for a salt, independent across salts.

    >>> assign("17850", ["control", "treatment"], salt="exp-1") in ("control", "treatment")
    True
    """
    cut = _cutoffs(weights or [1.0] * len(variants))
    x = bucket(str(unit_id), salt)
    for name, c in zip(variants, cut):
        if x < c:
            return name
    return variants[-1]


def assignment_sql(id_column: str, variants: Sequence[str], *, salt: str, weights: Sequence[float] | None = None) -> str:
    """A SQL expression giving the same variant as :func:`assign` (set-based assignment).

    >>> "md5" in assignment_sql("customer_id", ["a", "b"], salt="s")
    True
    """
    cut = _cutoffs(weights or [1.0] * len(variants))
    salt_sql = salt.replace("'", "''")
    x = f"(('0x' || left(md5('{salt_sql}:' || CAST({id_column} AS VARCHAR)), 8))::UBIGINT / 4294967296.0)"
    whens = " ".join(
        f"WHEN {x} < {float(c)!r} THEN '{v.replace(chr(39), chr(39) * 2)}'" for v, c in zip(variants[:-1], cut[:-1])
    )
    last = variants[-1].replace("'", "''")
    return f"CASE {whens} ELSE '{last}' END"


# -- sufficient statistics ---------------------------------------------------------------
@dataclass(frozen=True)
class VariantStats:
    """Sufficient statistics of one variant.

    ``sum_squares=None`` means a 0/1 (proportion) metric whose variance is p(1-p).
    """

    name: str
    n: int
    sum: float
    sum_squares: float | None = None

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.sum_squares is None:
            p = self.mean
            return p * (1 - p)
        if self.n < 2:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)

    @classmethod
    def from_values(cls, name: str, values: np.ndarray) -> VariantStats:
        v = np.asarray(values, dtype=float)
        return cls(name, int(len(v)), float(v.sum()), float((v * v).sum()))


@dataclass
class TestResult:
    """Effect of a variant against the baseline."""

    effect: float
    ci: tuple[float, float]
    stddev: float
    p_value: float | None = None
    chance_to_win: float | None = None
    risk: tuple[float, float] | None = None  # (risk of keeping the baseline, risk of shipping the variant)
    method: str = "frequentist"
    difference: str = "relative"
    error: str | None = None


def effect_moments(a: VariantStats, b: VariantStats, difference: Difference) -> tuple[float, float]:
    """Point estimate and variance of B vs A (delta method for the relative lift)."""
    va, vb = a.variance / a.n, b.variance / b.n
    if difference == "absolute":
        return b.mean - a.mean, va + vb
    ma, mb = a.mean, b.mean
    try:
        return (mb - ma) / ma, vb / ma**2 + va * mb**2 / ma**4
    except (ZeroDivisionError, OverflowError):  # a baseline mean too close to 0 for floats: no relative effect
        return math.nan, math.nan


def _welch_dof(a: VariantStats, b: VariantStats) -> float:
    va, vb = a.variance, b.variance
    num = (vb / b.n + va / a.n) ** 2
    den = vb**2 / (b.n**2 * (b.n - 1)) + va**2 / (a.n**2 * (a.n - 1))
    return num / den if den > 0 else float("inf")


def _check(a: VariantStats, b: VariantStats, difference: str) -> str | None:
    if difference not in DIFFERENCES:
        raise UserInputError(f"difference must be one of {', '.join(DIFFERENCES)}, not {difference!r}")
    if a.n < 2 or b.n < 2:
        return "each variant needs at least 2 units"
    if a.variance <= 0 and b.variance <= 0:
        return "the metric does not vary"
    if difference == "relative" and a.mean == 0:
        return "the baseline mean is 0, so a relative effect is undefined (use --difference absolute)"
    return None


def _degenerate(est: float, var: float) -> str | None:
    """Why moments that passed :func:`_check` still cannot be tested (found by fuzzing the API: a tiny
    variance over a huge n underflowed to 0 and the t statistic divided by it)."""
    if not (math.isfinite(est) and math.isfinite(var) and var > 0):
        return "the statistics are too extreme to compare (the effect's variance is 0 or not finite)"
    return None


def _empty(method: str, difference: str, error: str) -> TestResult:
    return TestResult(0.0, (0.0, 0.0), 0.0, 1.0 if method != "bayesian" else None,
                      0.5 if method == "bayesian" else None, (0.0, 0.0) if method == "bayesian" else None,
                      method, difference, error)


def frequentist_test(a: VariantStats, b: VariantStats, *, difference: Difference = "relative",
                     alpha: float = 0.05) -> TestResult:
    """Two-sided Welch t-test of B against A (gbstats ``TwoSidedTTest``)."""
    if (err := _check(a, b, difference)) is not None:
        return _empty("frequentist", difference, err)
    est, var = effect_moments(a, b, difference)
    if (err := _degenerate(est, var)) is not None:
        return _empty("frequentist", difference, err)
    sd = math.sqrt(var)
    dof = _welch_dof(a, b)
    half = stats.t.ppf(1 - alpha / 2, dof) * sd
    p = 2 * (1 - stats.t.cdf(abs(est / sd), dof))
    return TestResult(est, (float(est - half), float(est + half)), sd, float(p), method="frequentist", difference=difference)


def sequential_rho(alpha: float, tuning: float) -> float:
    return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)


def sequential_test(a: VariantStats, b: VariantStats, *, difference: Difference = "relative", alpha: float = 0.05,
                    tuning: float = DEFAULT_SEQUENTIAL_TUNING) -> TestResult:
    """Always-valid confidence sequence and p-value (gbstats ``SequentialTwoSidedTTest``).

    Valid however often the results are looked at; ``tuning`` is the total sample
    size at which the interval is tightest.
    """
    if tuning <= 0:
        raise UserInputError("the sequential tuning parameter must be positive")
    if (err := _check(a, b, difference)) is not None:
        return _empty("sequential", difference, err)
    est, var = effect_moments(a, b, difference)
    if (err := _degenerate(est, var)) is not None:
        return _empty("sequential", difference, err)
    n = a.n + b.n
    rho = sequential_rho(alpha, tuning)
    s2 = var * n
    nr2 = n * rho**2 + 1
    half = math.sqrt(s2) * math.sqrt(2 * nr2 * math.log(math.sqrt(nr2) / alpha) / (n * rho) ** 2)
    st2 = est**2 * n / var
    log_e = rho**2 * st2 / (2 * nr2) - 0.5 * math.log(nr2)
    p = 1.0 if log_e <= 0 else min(math.exp(-log_e), 1.0)
    return TestResult(est, (float(est - half), float(est + half)), math.sqrt(var), p, method="sequential", difference=difference)


def bayesian_test(a: VariantStats, b: VariantStats, *, difference: Difference = "relative", alpha: float = 0.05,
                  prior_mean: float = 0.0, prior_variance: float | None = None) -> TestResult:
    """Gaussian posterior of the effect, chance to win and risk (gbstats ``EffectBayesianABTest``).

    Without ``prior_variance`` the prior is flat (improper). ``risk`` is the expected
    loss of (keeping the baseline, shipping the variant) on the effect's scale.
    """
    if (err := _check(a, b, difference)) is not None:
        return _empty("bayesian", difference, err)
    est, var = effect_moments(a, b, difference)
    if (err := _degenerate(est, var)) is not None:
        return _empty("bayesian", difference, err)
    if prior_variance is not None:
        if prior_variance <= 0:
            raise UserInputError("prior_variance must be positive")
        prec = 1 / prior_variance + 1 / var
        est, var = (prior_mean / prior_variance + est / var) / prec, 1 / prec
    sd = math.sqrt(var)
    z = stats.norm.ppf(1 - alpha / 2)
    ctw = float(stats.norm.sf(0, est, sd))
    pdf = sd * stats.norm.pdf(est / sd)
    risk_keep = est * stats.norm.cdf(est / sd) + pdf
    risk_ship = -est * stats.norm.cdf(-est / sd) + pdf
    return TestResult(est, (float(est - z * sd), float(est + z * sd)), sd, None, ctw, (float(risk_keep), float(risk_ship)),
                      method="bayesian", difference=difference)


def run_test(a: VariantStats, b: VariantStats, method: Method = "frequentist", **kw: Any) -> TestResult:
    if method == "frequentist":
        return frequentist_test(a, b, **kw)
    if method == "sequential":
        return sequential_test(a, b, **kw)
    if method == "bayesian":
        return bayesian_test(a, b, **kw)
    raise UserInputError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


# -- checks and corrections ----------------------------------------------------------------
def srm_check(counts: Sequence[int], weights: Sequence[float] | None = None) -> dict[str, Any]:
    """Sample-ratio mismatch: chi-square of the observed split against the planned one.

    >>> srm_check([5000, 5000])["alarm"]
    False
    """
    obs = np.asarray(counts, dtype=float)
    w = np.asarray(weights if weights is not None else [1.0] * len(obs), dtype=float)
    if len(obs) < 2 or obs.sum() == 0:
        return {"p_value": None, "alarm": False, "chi2": None}
    exp = obs.sum() * w / w.sum()
    chi2, p = stats.chisquare(obs, exp)
    return {"p_value": float(p), "alarm": bool(p < SRM_ALARM_P), "chi2": float(chi2)}


def adjust_p_values(p_values: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Holm-Bonferroni (``holm``) or Benjamini-Hochberg (``bh``) adjusted p-values; None stays None."""
    from statsmodels.stats.multitest import multipletests

    names = {"holm": "holm", "bh": "fdr_bh", "benjamini-hochberg": "fdr_bh", "none": None}
    if method not in names:
        raise UserInputError(f"correction must be one of holm, bh, none, not {method!r}")
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = list(p_values)
    if names[method] is None or not idx:
        return out
    adjusted = multipletests([p_values[i] for i in idx], method=names[method])[1]
    for i, p in zip(idx, adjusted):
        out[i] = float(p)
    return out


# -- analyses --------------------------------------------------------------------------------
@dataclass
class Analysis:
    """The result of one experiment analysis (the CLI's JSON shape via :meth:`to_dict`)."""

    baseline: str
    variants: list[dict[str, Any]]
    srm: dict[str, Any]
    method: str
    difference: str
    cuped: dict[str, Any] | None = None
    segments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.segments:
            out.pop("segments")
        return out


def analyze_stats(stats_list: Sequence[VariantStats], *, baseline: str | None = None,
                  method: Method = "frequentist", difference: Difference = "relative", alpha: float = 0.05,
                  weights: Sequence[float] | None = None, correction: str = "none", **kw: Any) -> Analysis:
    """Compare every variant with the baseline (the first one unless named)."""
    if len(stats_list) < 2:
        raise InsufficientDataError("an A/B analysis needs at least two variants")
    names = [s.name for s in stats_list]
    if len(set(names)) != len(names):
        raise UserInputError(f"variant names must be unique, got {names}")
    base_name = baseline if baseline is not None else names[0]
    if base_name not in names:
        raise UserInputError(f"baseline {base_name!r} is not a variant; choose one of {', '.join(names)}")
    base = stats_list[names.index(base_name)]
    rows: list[dict[str, Any]] = [{
        "variant": base.name, "n": base.n, "mean": base.mean, "effect": None, "ci": None, "p_value": None,
        "chance_to_win": None, "risk": None, "baseline": True,
    }]
    for s in stats_list:
        if s.name == base_name:
            continue
        r = run_test(base, s, method, difference=difference, alpha=alpha, **kw)
        rows.append({
            "variant": s.name, "n": s.n, "mean": s.mean, "effect": r.effect, "ci": list(r.ci),
            "p_value": r.p_value, "chance_to_win": r.chance_to_win,
            "risk": None if r.risk is None else r.risk[1], "risk_baseline": None if r.risk is None else r.risk[0],
            "stddev": r.stddev, "error": r.error, "baseline": False,
        })
    if correction != "none" and method != "bayesian":
        adjusted = adjust_p_values([r["p_value"] for r in rows[1:]], correction)
        for r, p in zip(rows[1:], adjusted):
            r["p_value_adjusted"] = p
    if weights is not None and len(weights) != len(stats_list):
        raise UserInputError(f"weights has {len(weights)} values for {len(stats_list)} variants")
    srm = srm_check([s.n for s in stats_list], weights)
    return Analysis(base_name, rows, srm, method, difference)


def read_summary(path: str) -> list[VariantStats]:
    """Variant summaries from a CSV: ``variant, n, sum[, sum_squares]`` (one row per variant)."""
    frame = read_user_csv(path)
    missing = [c for c in ("variant", "n", "sum") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}",
                             hint="a summary needs variant, n, sum and, for non 0/1 metrics, sum_squares")
    out = []
    for i, row in enumerate(frame.to_dict("records"), start=2):
        try:
            n = int(row["n"])
            s = float(row["sum"])
            ss = row.get("sum_squares")
            ss = None if ss is None or (isinstance(ss, float) and math.isnan(ss)) else float(ss)
        except (TypeError, ValueError):
            raise InputFileError(path, "n, sum and sum_squares must be numbers", line=i) from None
        if n < 0:
            raise InputFileError(path, "n must not be negative", line=i, column="n")
        if ss is None and not 0 <= s <= n:
            raise InputFileError(path, "without sum_squares the metric is taken as 0/1, so sum must lie in [0, n]",
                                 line=i, column="sum", hint="add a sum_squares column for non 0/1 metrics")
        out.append(VariantStats(str(row["variant"]), n, s, ss))
    return out


def cuped_adjust(metric: np.ndarray, covariates: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """CUPED (one covariate) / CUPED++-style (several): remove the part of the metric
    the pre-period covariates predict, pooled over variants.

    ``metric - (X - mean(X)) @ theta`` keeps the metric's mean and scale, so effects read
    as before, with smaller variance when the covariates are predictive.
    """
    y = np.asarray(metric, dtype=float)
    x = np.asarray(covariates, dtype=float).reshape(len(y), -1)
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    theta, *_ = np.linalg.lstsq(xc, yc, rcond=None)
    adjusted = y - xc @ theta
    var_before = float(y.var(ddof=1)) if len(y) > 1 else 0.0
    var_after = float(adjusted.var(ddof=1)) if len(y) > 1 else 0.0
    reduction = 1 - var_after / var_before if var_before > 0 else 0.0
    return adjusted, {"theta": [float(t) for t in theta], "variance_reduction": reduction}


def analyze_units(frame: pd.DataFrame, *, variant: str = "variant", metric: str = "metric",
                  covariates: Sequence[str] | None = None, segment: str | None = None,
                  baseline: str | None = None, method: Method = "frequentist",
                  difference: Difference = "relative", alpha: float = 0.05,
                  weights: Sequence[float] | None = None, correction: str = "none", **kw: Any) -> Analysis:
    """Unit-level analysis (one row per unit); CUPED when ``covariates`` are given.

    Variants are ordered by first appearance, so the first row's variant is the
    baseline unless ``baseline`` says otherwise.
    """
    for c in [variant, metric, *(covariates or []), *([segment] if segment else [])]:
        if c not in frame.columns:
            raise UserInputError(f"column {c!r} not found; the data has {', '.join(map(str, frame.columns))}")
    data = frame.dropna(subset=[variant, metric]).copy()
    for c in [metric, *(covariates or [])]:
        data[c] = pd.to_numeric(data[c], errors="coerce")
        if data[c].isna().any():
            bad = int(data[c].isna().idxmax())
            raise UserInputError(f"column {c!r} must be numeric (row {bad + 2} is not)")
    data[variant] = data[variant].astype(str)
    order = list(dict.fromkeys(data[variant]))

    def one(part: pd.DataFrame, note: dict | None) -> Analysis:
        y = part[metric].to_numpy(float)
        info = None
        if covariates:
            y, info = cuped_adjust(y, part[list(covariates)].to_numpy(float))
        groups = part[variant].to_numpy()
        stats_list = [VariantStats.from_values(v, y[groups == v]) for v in order if (groups == v).any()]
        res = analyze_stats(stats_list, baseline=baseline, method=method, difference=difference, alpha=alpha,
                            weights=weights, correction=correction, **kw)
        res.cuped = info
        return res

    result = one(data, None)
    if segment:
        for name, part in data.groupby(segment, sort=True):
            if part[variant].nunique() >= 2:
                result.segments[str(name)] = one(part, None).to_dict()
        if correction != "none" and method != "bayesian":
            keys = [(k, i) for k, seg in result.segments.items() for i in range(1, len(seg["variants"]))]
            adjusted = adjust_p_values([result.segments[k]["variants"][i]["p_value"] for k, i in keys], correction)
            for (k, i), p in zip(keys, adjusted):
                result.segments[k]["variants"][i]["p_value_adjusted"] = p
    return result


def read_units(path: str) -> pd.DataFrame:
    """Unit-level CSV with ``variant``, ``metric`` and optionally ``pre_metric`` (and more pre_* covariates)."""
    frame = read_user_csv(path)
    missing = [c for c in ("variant", "metric") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}",
                             hint="unit-level data needs one row per unit with variant and metric "
                                  "(and pre_metric for CUPED); use --summary for per-variant sums")
    return frame

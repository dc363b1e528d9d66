"""Buy-till-you-die models: BG/NBD, Pareto/NBD and Gamma-Gamma, by maximum likelihood.

Written by hand in vectorised NumPy/SciPy because the reference library
(``lifetimes``) is unmaintained, breaks on recent pandas and often fails to
converge on real data; PyMC-Marketing is far too heavy for the default install.
Three choices make fitting fast and robust without a penalizer:

- customers with the same (frequency, recency, T) share one likelihood term, so
  the likelihood is evaluated over the distinct triplets with counts as weights
  (a million customers with daily data collapse to a few hundred thousand rows);
  ``fit(..., weights=)`` takes such rows already aggregated (``shoplens.customers.clv``
  computes them with a GROUP BY on the warehouse's engine) and gives the same
  parameters as the per-customer rows;
- parameters are optimised on the log scale by BFGS with analytic gradients (for
  Pareto/NBD, only the derivatives of 2F1 in its parameters are central differences,
  computed once per distinct (frequency, recency) and (frequency, T) pair), so they stay
  positive, with restarts from other points when a search fails;
- every likelihood is computed in log space (``logaddexp``, ``log1p``).

Inputs follow the usual summary: ``frequency`` = repeat transactions,
``recency`` = time between first and last transaction, ``T`` = time between
first transaction and the end of calibration, ``monetary_value`` = mean value
of the repeat transactions.

>>> import numpy as np
>>> m = BetaGeoModel().fit(np.array([0, 2, 5, 1]), np.array([0, 10., 30, 3]), np.array([20., 30, 35, 25]))
>>> sorted(m.params_)
['a', 'alpha', 'b', 'r']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize, special

from shoplens.base import Model
from shoplens.errors import InsufficientDataError, UserInputError

ArrayLike = Any
LOG_BOUNDS = (-12.0, 12.0)  # parameters between ~6e-6 and ~1.6e5


def _compress(*columns: np.ndarray, weights: ArrayLike | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given columns and how many customers each stands for.

    ``weights``: customers per given row (rows already aggregated, e.g. by a GROUP BY on
    the engine); the result is the same as for the expanded per-customer rows, in the
    same (sorted) order, so the fitted parameters do not depend on how rows arrived.
    """
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.ones(len(stacked)) if weights is None else _check_weights(weights, len(stacked))
    counts = np.bincount(inverse.ravel(), weights=w, minlength=len(unique))
    used = counts > 0
    return [unique[used, i] for i in range(unique.shape[1])], counts[used].astype(float)


def _check_weights(weights: ArrayLike, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise UserInputError("weights must be one non-negative count per row")
    return w


def _validate(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T_ = np.asarray(T, dtype=float)
    if not (x.shape == t_x.shape == T_.shape) or x.ndim != 1:
        raise UserInputError("frequency, recency and T must be 1-d arrays of the same length")
    if len(x) == 0:
        raise InsufficientDataError("no customers to fit: the calibration period holds no purchases")
    if np.any(~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T_)):
        raise UserInputError("frequency, recency and T must be finite numbers")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T_ + 1e-9):
        raise UserInputError("need frequency >= 0 and 0 <= recency <= T for every customer")
    if np.any((x == 0) & (t_x > 0)):
        raise UserInputError("a customer without repeat purchases must have recency 0")
    return x, t_x, T_


def _fit_log_params(
    neg_ll: Callable[[np.ndarray], Any], n_params: int, what: str, *, gradient: bool = False,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Minimise a mean negative log-likelihood over log-parameters; returns (params, -ll, converged).

    With ``gradient`` the function returns (value, gradient) and L-BFGS-B uses it;
    otherwise gradients are central differences (more accurate than forward ones,
    which is what lets the last digits match the published estimates).
    """
    bounds = [LOG_BOUNDS] * n_params
    best: optimize.OptimizeResult | None = None
    options = {"maxiter": 3000, "ftol": 1e-13, "gtol": 1e-8}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        starts = [np.zeros(n_params), np.full(n_params, -1.0), np.full(n_params, 1.0)]
        for x0 in ([] if start is None else [start]) + starts:
            if gradient:
                # Unbounded BFGS on log-parameters: positivity comes from the log scale,
                # and it avoids L-BFGS-B's per-iteration overhead (the bound check follows).
                res = optimize.minimize(neg_ll, x0, method="BFGS", jac=True, options={"gtol": 1e-8, "maxiter": 2000})
                res.success = res.success or res.status == 2  # precision loss at the optimum is fine
            else:
                res = optimize.minimize(neg_ll, x0, method="L-BFGS-B", jac="3-point", bounds=bounds, options=options)
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-12):
                best = res
            if res.success and np.isfinite(res.fun):
                break
        assert best is not None
    if not np.isfinite(best.fun):
        raise InsufficientDataError(f"{what}: the likelihood is not finite for any parameters; the data cannot support this model")
    at_bound = np.any(np.abs(best.x) > LOG_BOUNDS[1] - 1e-3)
    return np.exp(best.x), float(best.fun), bool(best.success and not at_bound)


# Dropout counts as identified when the likelihood-ratio test against the NBD (the same
# purchase process without dropout, nested at a -> 0 in BG/NBD and s -> 0 in Pareto/NBD)
# rejects "nobody leaves" at 5 %. The null sits on the boundary of the parameter space, so
# the statistic follows 0.5 chi2(0) + 0.5 chi2(1) (Self & Liang 1987): critical value 2.71.
DROPOUT_LR_CRITICAL = 2.71


def _nbd_neg_ll_and_grad(log_params: np.ndarray, x: np.ndarray, T: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of the NBD (gamma-Poisson purchases, nobody leaves) and its gradient."""
    r, alpha = np.exp(log_params)
    n = w.sum()
    ll = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)
    if not np.all(np.isfinite(ll)):
        return np.inf, np.zeros(2)
    d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - np.log(alpha + T)
    d_alpha = r / alpha - (r + x) / (alpha + T)
    return float(-(w @ ll) / n), -np.array([w @ d_r * r, w @ d_alpha * alpha]) / n


def nbd_log_likelihood(x: np.ndarray, T: np.ndarray, w: np.ndarray, start: tuple[float, float] | None = None) -> float:
    """Maximised log-likelihood of the NBD on (frequency, T) rows with weights: the no-dropout
    model that BG/NBD and Pareto/NBD reduce to, on the same scale as their likelihoods.

    >>> import numpy as np
    >>> round(nbd_log_likelihood(np.array([0., 2, 5]), np.array([10., 20, 30]), np.ones(3)), 3)
    -22.039
    """
    (x, T), w = _compress(x, T, weights=w)  # the NBD sees (frequency, T) only: fewer distinct rows
    _, neg_ll, _ = _fit_log_params(lambda lp: _nbd_neg_ll_and_grad(lp, x, T, w), 2, "NBD", gradient=True,
                                   start=None if start is None else np.log(start))
    return -neg_ll * float(w.sum())


class _BTYDModel(Model):
    """Shared bits: parameter dict, log-likelihood, convergence flag, dropout test."""

    param_names: tuple[str, ...] = ()

    def __init__(self, time_unit: str = "week") -> None:
        self.time_unit = time_unit

    @property
    def params(self) -> tuple[float, ...]:
        self.check_fitted()
        return tuple(self.params_[k] for k in self.param_names)

    def _finish(self, params: np.ndarray, neg_ll: float, n: float, converged: bool) -> None:
        self.params_ = {k: float(v) for k, v in zip(self.param_names, params)}
        self.log_likelihood_ = -neg_ll * n
        self.converged_ = converged
        self.n_customers_ = int(n)

    def _test_dropout(self, x: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        """``dropout_lr_``: 2 x (log-likelihood - the NBD's); ``dropout_identified_``: the fit
        converged and the data reject "nobody leaves" (``dropout_lr_`` > 2.71, 5 %).

        When dropout is not identified P(alive) is ~1 for everyone: not a finding about the
        customers but the absence of evidence of permanent dropout in the history given
        (e.g. one year of a growing, seasonal shop, where slow buyers come back).
        """
        # the purchase parameters (r, alpha) of the full fit start the NBD's search: the same at a -> 0
        start = (self.params_["r"], self.params_["alpha"])
        self.dropout_lr_ = max(0.0, 2.0 * (self.log_likelihood_ - nbd_log_likelihood(x, T, w, start)))
        self.dropout_identified_ = bool(self.converged_ and self.dropout_lr_ > DROPOUT_LR_CRITICAL)


class BetaGeoModel(_BTYDModel):
    """BG/NBD (Fader, Hardie & Lee 2005): Poisson purchases while alive, a coin flip after each purchase.

    >>> import numpy as np
    >>> m = BetaGeoModel().fit([1, 0, 3], [5., 0, 20], [30., 30, 30])
    >>> float(m.probability_alive([0], [0.], [30.])[0])
    1.0
    """

    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def log_likelihood(params: ArrayLike, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
        return a1 + a2 + np.logaddexp(a3, a4)

    @staticmethod
    def _neg_ll_and_grad(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                         w: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean negative log-likelihood and its analytic gradient in log-parameters."""
        r, alpha, a, b = np.exp(log_params)
        n = w.sum()
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        bx1 = np.maximum(b + x - 1, 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
        l34 = np.logaddexp(a3, a4)
        ll = a1 + a2 + l34
        if not np.all(np.isfinite(ll)):
            return np.inf, np.zeros(4)
        w3, w4 = np.exp(a3 - l34), np.exp(a4 - l34)
        dg_ab, dg_abx = special.digamma(a + b), special.digamma(a + b + x)
        d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
        d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
        d_a = dg_ab - dg_abx + w4 / a
        d_b = dg_ab + special.digamma(b + x) - special.digamma(b) - dg_abx - w4 / bx1
        grad = np.array([w @ d_r * r, w @ d_alpha * alpha, w @ d_a * a, w @ d_b * b])
        return float(-(w @ ll) / n), -grad / n

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> BetaGeoModel:
        """Fit on one row per customer, or on distinct (frequency, recency, T) rows with
        ``weights`` = customers per row (the sufficient statistics): same parameters."""
        x, t_x, T_ = _validate(frequency, recency, T)
        (ux, ut, uT), w = _compress(x, t_x, T_, weights=weights)
        if not np.any((ux > 0) & (w > 0)):
            raise InsufficientDataError("BG/NBD: no customer made a repeat purchase in the calibration period; "
                                        "use a later calibration end or more history")
        n = w.sum()

        params, nll, ok = _fit_log_params(lambda lp: self._neg_ll_and_grad(lp, ux, ut, uT, w), 4, "BG/NBD",
                                          gradient=True)
        self._finish(params, nll, n, ok)
        self._test_dropout(ux, uT, w)
        return self

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        r, alpha, a, b = self.params
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T_) - np.log(alpha + t_x))
            return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def probability_no_purchase(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(no purchase in the next ``t`` time units), the model's answer to the churn model's
        question: gone, or alive and not buying (a BG/NBD customer can only leave right after a purchase).

        >>> m = BetaGeoModel().fit([1, 0, 3, 2], [5., 0, 20, 12], [30., 30, 30, 25])
        >>> bool(0 < m.probability_no_purchase(13, [0], [0.], [30.])[0] < 1)
        True
        """
        r, alpha, _, _ = self.params
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        alive = self.probability_alive(x, t_x, T_)
        return 1 - alive + alive * np.exp((r + x) * np.log((alpha + T_) / (alpha + T_ + t)))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Expected transactions in the next ``t`` time units for each customer."""
        r, alpha, a, b = self.params
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(all="ignore"):
            hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T_ + t))
            numer = (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * np.log((alpha + T_) / (alpha + T_ + t))) * hyp)
        return numer * self.probability_alive(x, t_x, T_)


class ParetoNBDModel(_BTYDModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): Poisson purchases, exponential lifetimes.

    Likelihood as in Fader & Hardie (2005), "A note on deriving the Pareto/NBD model".

    >>> m = ParetoNBDModel().fit([1, 0, 3, 2], [5., 0, 20, 12], [30., 30, 30, 25])
    >>> sorted(m.params_)
    ['alpha', 'beta', 'r', 's']
    """

    param_names = ("r", "alpha", "s", "beta")

    @staticmethod
    def _log_hyp(params: ArrayLike, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """log[2F1(r+s+x, b2; r+s+x+1; |alpha-beta| / (max(alpha, beta) + t))] - (r+s+x) log(max(alpha, beta) + t):
        the part of Fader & Hardie's A0 at time ``t`` (the recency, then T)."""
        r, alpha, s, beta = params
        rsx = r + s + x
        if alpha >= beta:
            b2, base, diff = s + 1, alpha + t, alpha - beta
        else:
            b2, base, diff = r + x, beta + t, beta - alpha
        with np.errstate(all="ignore"):
            return np.log(special.hyp2f1(rsx, b2, rsx + 1, diff / base)) - rsx * np.log(base)

    @staticmethod
    def _log_hyp_and_grad(params: np.ndarray, x: np.ndarray, t: np.ndarray, step: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_log_hyp` and its derivatives in the log-parameters (r, alpha, s, beta) x rows.

        With g = log 2F1(A, B; A+1; z): dg/dz is exact (A B / (A+1) 2F1(A+1, B+1; A+2; z) / 2F1),
        which gives alpha and beta; dg/dA and dg/dB (r and s) are central differences, as SciPy has
        no derivative of 2F1 in its parameters. Six 2F1 calls per row instead of nine.
        """
        r, alpha, s, beta = params
        A = r + s + x
        if alpha >= beta:
            B, base, diff = s + 1 + 0 * x, alpha + t, alpha - beta
        else:
            B, base, diff = r + x, beta + t, beta - alpha
        z = diff / base
        with np.errstate(all="ignore"):
            f = special.hyp2f1(A, B, A + 1, z)
            g = np.log(f)
            hA, hB = step * A, step * B
            dg_dA = (np.log(special.hyp2f1(A + hA, B, A + 1 + hA, z)) - np.log(special.hyp2f1(A - hA, B, A + 1 - hA, z))) / (2 * hA)
            dg_dB = (np.log(special.hyp2f1(A, B + hB, A + 1, z)) - np.log(special.hyp2f1(A, B - hB, A + 1, z))) / (2 * hB)
            dg_dz = A * B / (A + 1) * special.hyp2f1(A + 1, B + 1, A + 2, z) / f
        log_base = np.log(base)
        if alpha >= beta:  # z = (alpha - beta) / (alpha + t), B = s + 1
            grad = np.vstack([r * (dg_dA - log_base), alpha * (dg_dz * (t + beta) / base**2 - A / base),
                              s * (dg_dA + dg_dB - log_base), -beta * dg_dz / base])
        else:  # z = (beta - alpha) / (beta + t), B = r + x
            grad = np.vstack([r * (dg_dA + dg_dB - log_base), -alpha * dg_dz / base,
                              s * (dg_dA - log_base), beta * (dg_dz * (t + alpha) / base**2 - A / base)])
        return g - A * log_base, grad

    @classmethod
    def _terms(cls, params: ArrayLike, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
               pairs: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log of the common factor, log of the alive term, log of the died-before-T term).

        ``pairs`` (from :meth:`_pairs`): the distinct (x, recency) and (x, T) rows with their
        inverse indices, so each 2F1 (the costly part) is computed once per distinct pair.
        """
        r, alpha, s, beta = params
        rsx = r + s + x
        common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        if pairs is None:
            l1, l2 = cls._log_hyp(params, x, t_x), cls._log_hyp(params, x, T)
        else:
            x1, t1, inv1, x2, t2, inv2 = pairs
            l1, l2 = cls._log_hyp(params, x1, t1)[inv1], cls._log_hyp(params, x2, t2)[inv2]
        with np.errstate(all="ignore"):
            log_a0 = l1 + np.log1p(-np.exp(l2 - l1))
            died = np.log(s) - np.log(rsx) + log_a0
        return common, alive, died

    @staticmethod
    def _pairs(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, ...]:
        """Distinct (x, recency) and (x, T) rows and the inverse indices back to the rows."""
        u1, inv1 = np.unique(np.column_stack([x, t_x]), axis=0, return_inverse=True)
        u2, inv2 = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        return u1[:, 0], u1[:, 1], inv1.ravel(), u2[:, 0], u2[:, 1], inv2.ravel()

    @classmethod
    def log_likelihood(cls, params: ArrayLike, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                       pairs: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        common, alive, died = cls._terms(params, x, t_x, T, pairs)
        return common + np.logaddexp(alive, died)

    @classmethod
    def _neg_ll_and_grad(cls, log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                         w: np.ndarray, pairs: tuple[np.ndarray, ...], step: float = 1e-6) -> tuple[float, np.ndarray]:
        """Mean negative log-likelihood and its gradient in log-parameters.

        Analytic except for the derivatives of 2F1 in its parameters (:meth:`_log_hyp_and_grad`),
        computed on the distinct (x, t) pairs only: a gradient costs six 2F1 evaluations per pair
        and one pass over the rest, where central differences of the whole likelihood cost nine
        full likelihoods.
        """
        params = np.exp(log_params)
        r, alpha, s, beta = params
        n = w.sum()
        x1, t1, inv1, x2, t2, inv2 = pairs
        h1, d1 = cls._log_hyp_and_grad(params, x1, t1, step)
        h2, d2 = cls._log_hyp_and_grad(params, x2, t2, step)
        l1, l2 = h1[inv1], h2[inv2]
        rsx = r + s + x
        log_at, log_bt = np.log(alpha + T), np.log(beta + T)
        common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * log_at - s * log_bt
        with np.errstate(all="ignore"):
            ratio = np.exp(l2 - l1)
            died = np.log(s) - np.log(rsx) + l1 + np.log1p(-ratio)
            tail = np.logaddexp(alive, died)
        ll = common + tail
        if not np.all(np.isfinite(ll)):
            return np.inf, np.zeros(4)
        w_alive, w_died = np.exp(alive - tail), np.exp(died - tail)
        with np.errstate(all="ignore"):
            # d log(e^l1 - e^l2) = (dl1 - e^(l2-l1) dl2) / (1 - e^(l2-l1)); no died term when recency = T
            d_a0 = np.where(w_died > 0, (d1[:, inv1] - ratio * d2[:, inv2]) / (1 - ratio), 0.0)
        ones = np.ones_like(x)
        d_common = np.vstack([r * (special.digamma(r + x) - special.digamma(r) + np.log(alpha)), r * ones,
                              s * np.log(beta) * ones, s * ones])
        d_alive = np.vstack([-r * log_at, -(r + x) * alpha / (alpha + T), -s * log_bt, -s * beta / (beta + T)])
        d_died = np.vstack([-r / rsx, 0 * ones, 1 - s / rsx, 0 * ones]) + d_a0
        grad = (d_common + w_alive * d_alive + w_died * d_died) @ w
        if not np.all(np.isfinite(grad)):
            return np.inf, np.zeros(4)
        return float(-(w @ ll) / n), -grad / n

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> ParetoNBDModel:
        """Per-customer rows, or distinct rows with ``weights`` (customers per row): same parameters."""
        x, t_x, T_ = _validate(frequency, recency, T)
        (ux, ut, uT), w = _compress(x, t_x, T_, weights=weights)
        if not np.any((ux > 0) & (w > 0)):
            raise InsufficientDataError("Pareto/NBD: no customer made a repeat purchase in the calibration period")
        n = w.sum()

        pairs = self._pairs(ux, ut, uT)  # each 2F1 once per distinct pair: about half the calls
        params, nll, ok = _fit_log_params(lambda lp: self._neg_ll_and_grad(lp, ux, ut, uT, w, pairs), 4,
                                          "Pareto/NBD", gradient=True)
        self._finish(params, nll, n, ok)
        self._test_dropout(ux, uT, w)
        return self

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        _, alive, died = self._terms(self.params, x, t_x, T_)
        with np.errstate(all="ignore"):
            return np.exp(alive - np.logaddexp(alive, died))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        r, alpha, s, beta = self.params
        x, t_x, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        log_ratio = np.log((beta + T_) / (beta + T_ + t))
        # [1 - ((beta+T)/(beta+T+t))^(s-1)] / (s-1), with its s -> 1 limit
        factor = -log_ratio if abs(s - 1) < 1e-9 else -np.expm1((s - 1) * log_ratio) / (s - 1)
        return self.probability_alive(x, t_x, T_) * (r + x) * (beta + T_) / (alpha + T_) * factor


class GammaGammaModel(_BTYDModel):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005b) for the mean transaction value.

    Fitted on customers with at least one repeat purchase and positive mean value.

    >>> m = GammaGammaModel().fit([1, 2, 4, 3], [20., 35, 18, 50])
    >>> bool(m.expected_spend([2], [35.])[0] > 0)
    True
    """

    param_names = ("p", "q", "v")

    def __init__(self) -> None:
        pass

    @staticmethod
    def log_likelihood(params: ArrayLike, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = params
        px = p * x
        return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
                + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v))

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None) -> GammaGammaModel:
        """Per-customer rows, or distinct (frequency, monetary_value) rows with ``weights``: same parameters."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        w_all = np.ones(len(x)) if weights is None else _check_weights(weights, len(x))
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        if w_all[keep].sum() < 3:
            raise InsufficientDataError("Gamma-Gamma: fewer than 3 customers with a repeat purchase of positive value")
        (ux, um), w = _compress(x[keep], m[keep], weights=w_all[keep])
        n = w.sum()

        def neg_ll(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, v = np.exp(log_params)
            ll = self.log_likelihood((p, q, v), ux, um)
            if not np.all(np.isfinite(ll)):
                return np.inf, np.zeros(3)
            px, xmv = p * ux, ux * um + v
            dg = special.digamma(px + q)
            d_p = ux * (dg - special.digamma(px) + np.log(um) + np.log(ux) - np.log(xmv))
            d_q = dg - special.digamma(q) + np.log(v) - np.log(xmv)
            d_v = q / v - (px + q) / xmv
            grad = np.array([w @ d_p * p, w @ d_q * q, w @ d_v * v])
            return float(-(w @ ll) / n), -grad / n

        params, nll, ok = _fit_log_params(neg_ll, 3, "Gamma-Gamma", gradient=True)
        self._finish(params, nll, n, ok)
        return self

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray:
        """Expected mean value of a customer's future transactions (the population mean when x = 0)."""
        p, q, v = self.params
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=float))
        x = np.where(m > 0, x, 0.0)
        return (p * (v + x * m)) / (p * x + q - 1)


def discounted_value(
    purchases_model: BetaGeoModel | ParetoNBDModel,
    spend: np.ndarray,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    units_per_month: float = 30.0 / 7.0,
) -> np.ndarray:
    """Discounted customer lifetime value over ``months``: sum of month-by-month expected purchases x spend / (1+d)^i."""
    total = np.zeros(len(np.asarray(frequency)))
    previous = np.zeros_like(total)
    for i in range(1, months + 1):
        cumulative = purchases_model.expected_purchases(i * units_per_month, frequency, recency, T)
        total += (cumulative - previous) * spend / (1 + monthly_discount) ** i
        previous = cumulative
    return total
